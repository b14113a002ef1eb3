#pragma once
// A bounded pool for blocking work (SQLite and libpq calls, CPU-heavy crypto), so that I/O threads
// never block. run() suspends the calling coroutine until the work is done on a pool thread and
// resumes it on its own executor. When more than `max_queued` jobs wait, run() throws Overloaded:
// shedding load early beats queueing without bound.
#include <atomic>
#include <cstddef>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/thread_pool.hpp>
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
    if constexpr (std::is_void_v<R>) {
      co_await boost::asio::co_spawn(
          m_pool,
          [fn = std::move(f)]() mutable -> Task<void> {
            fn();
            co_return;
          },
          boost::asio::use_awaitable);
    } else {
      // co_spawn needs a default-constructible result; Result<T> and friends are not.
      auto out = co_await boost::asio::co_spawn(
          m_pool, [fn = std::move(f)]() mutable -> Task<std::optional<R>> { co_return std::optional<R>(fn()); },
          boost::asio::use_awaitable);
      co_return std::move(*out);
    }
  }

  /// Jobs admitted and not finished (running or queued).
  std::size_t pending() const noexcept { return m_pending.load(std::memory_order_relaxed); }
  std::size_t threads() const noexcept { return m_threads; }
  std::size_t max_queued() const noexcept { return m_max_queued; }
  /// Waits for running jobs and stops the threads.
  void stop();

 private:
  struct Admission {
    explicit Admission(BlockingPool& pool);
    ~Admission();
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    BlockingPool& m_pool;
  };

  boost::asio::thread_pool m_pool;
  std::size_t m_threads;
  std::size_t m_max_queued;
  std::atomic<std::size_t> m_pending{0};
};

}  // namespace gh
