#include "core/blocking_pool.hpp"

namespace gh {

BlockingPool::BlockingPool(std::size_t threads, std::size_t max_queued)
    : m_pool(threads == 0 ? 1 : threads), m_threads(threads == 0 ? 1 : threads), m_max_queued(max_queued) {}

BlockingPool::~BlockingPool() {
  stop();
}

void BlockingPool::stop() {
  m_pool.join();
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
