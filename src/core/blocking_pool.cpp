#include "core/blocking_pool.hpp"

namespace gh {

BlockingPool::BlockingPool(std::size_t threads, std::size_t max_queued)
    : m_threads(threads == 0 ? 1 : threads), m_max_queued(max_queued) {
  m_workers.reserve(m_threads);
  for (std::size_t i = 0; i < m_threads; ++i) m_workers.emplace_back([this] { work(); });
}

BlockingPool::~BlockingPool() {
  stop();
}

void BlockingPool::stop() {
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_ready.notify_all();
  for (auto& t : m_workers) {
    if (t.joinable()) t.join();
  }
}

void BlockingPool::enqueue(std::unique_ptr<Job> job) {
  bool wake = false;
  {
    std::lock_guard lock(m_mutex);
    m_queue.push_back(std::move(job));
    // A busy thread takes the job when it is done; only an idle one needs waking.
    wake = m_idle > 0;
  }
  if (wake) m_ready.notify_one();
}

void BlockingPool::work() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    if (m_queue.empty()) {
      if (m_stopping) return;
      ++m_idle;
      m_ready.wait(lock, [this] { return !m_queue.empty() || m_stopping; });
      --m_idle;
      continue;
    }
    auto job = std::move(m_queue.front());
    m_queue.pop_front();
    lock.unlock();
    job->run();
    job.reset();
    lock.lock();
  }
}

BlockingPool::Admission::Admission(BlockingPool& pool) : m_pool(pool) {
  const auto before = m_pool.m_pending.fetch_add(1, std::memory_order_relaxed);
  if (before >= m_pool.m_threads + m_pool.m_max_queued) {
    m_pool.m_pending.fetch_sub(1, std::memory_order_relaxed);
    throw Overloaded("blocking pool queue is full");
  }
}

BlockingPool::Admission::~Admission() {
  m_pool.m_pending.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace gh
