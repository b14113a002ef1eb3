#pragma once
// A bounded pool for blocking work (SQLite and libpq calls, CPU-heavy crypto), so that I/O threads
// never block. run() suspends the calling coroutine until the work is done on a pool thread and
// resumes it on its own executor. When more than `max_queued` jobs wait, run() throws Overloaded:
// shedding load early beats queueing without bound.
//
// A job costs one wake-up of an idle pool thread (none when a thread is still busy and takes the
// next job from the queue itself) and one post back to the caller's executor. The pool keeps its
// own queue rather than running a coroutine on an asio::thread_pool: there, a job is several
// handlers, and each handler taken while others wait wakes one more thread, so that every thread of
// the pool woke several times per request.
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "core/error.hpp"
#include "core/task.hpp"

namespace gh {

/// Fixed threads with a bounded queue of jobs.
class BlockingPool {
 public:
  BlockingPool(std::size_t threads, std::size_t max_queued);
  ~BlockingPool();
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  /// Runs f() on a pool thread; its value or exception comes back to the caller.
  template <class F>
  Task<std::invoke_result_t<F&>> run(F f) {
    using R = std::invoke_result_t<F&>;
    Admission admission(*this);
    // The coroutine is suspended until the job's completion runs, so the job may refer to its
    // frame: the value and the exception land here, the handler only resumes the coroutine.
    std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> out;
    std::exception_ptr error;
    co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void()>(
        [pool = this, &f, &out, &error](auto handler) {
          pool->submit([&f, &out, &error, handler = std::move(handler)]() mutable {
            try {
              if constexpr (std::is_void_v<R>) {
                f();
                out.emplace(true);
              } else {
                out.emplace(f());
              }
            } catch (...) {
              error = std::current_exception();
            }
            auto ex = boost::asio::get_associated_executor(handler);
            boost::asio::post(ex, std::move(handler));
          });
        },
        boost::asio::use_awaitable);
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<R>) co_return std::move(*out);
  }

  /// Jobs admitted and not finished (running or queued).
  std::size_t pending() const noexcept { return m_pending.load(std::memory_order_relaxed); }
  std::size_t threads() const noexcept { return m_threads; }
  std::size_t max_queued() const noexcept { return m_max_queued; }
  /// Runs every job already queued, then stops the threads. Idempotent.
  void stop();

 private:
  struct Job {
    virtual ~Job() = default;
    virtual void run() = 0;
  };
  template <class Fn>
  struct JobOf final : Job {
    explicit JobOf(Fn f) : fn(std::move(f)) {}
    void run() override { fn(); }
    Fn fn;
  };

  struct Admission {
    explicit Admission(BlockingPool& pool);
    ~Admission();
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    BlockingPool& m_pool;
  };

  template <class Fn>
  void submit(Fn fn) {
    enqueue(std::make_unique<JobOf<Fn>>(std::move(fn)));
  }
  void enqueue(std::unique_ptr<Job> job);
  void work();

  std::size_t m_threads;
  std::size_t m_max_queued;
  std::atomic<std::size_t> m_pending{0};
  std::mutex m_mutex;
  std::condition_variable m_ready;
  std::deque<std::unique_ptr<Job>> m_queue;
  std::size_t m_idle = 0;  // threads waiting on m_ready
  bool m_stopping = false;
  std::vector<std::thread> m_workers;
};

}  // namespace gh
