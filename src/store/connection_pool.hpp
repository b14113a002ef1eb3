#pragma once
// The connection pool both backends share: a bounded set of connections, idle ones reused
// last-in first-out, callers waiting up to the acquire timeout when all are in use, new ones
// opened outside the lock, broken ones dropped on release. The SQLite backend holds two (its one
// writer, its readers), the PostgreSQL backend one. Internal to src/store.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "store/database.hpp"

namespace gh::store {

template <class Connection>
class ConnectionPool {
 public:
  using Open = std::function<std::unique_ptr<Connection>()>;

  /// A connection on loan, and whether it came from the idle list (a new one cannot be stale).
  struct Lease {
    std::unique_ptr<Connection> connection;
    bool reused = false;
  };

  /// `what` names the connections in the timeout error ("sqlite: timed out after 5000 ms waiting
  /// for <what>"); `open` makes a new connection (may throw DbError).
  ConnectionPool(std::string backend, std::string what, std::size_t capacity, std::chrono::milliseconds acquire_timeout,
                 Open open)
      : m_backend(std::move(backend)),
        m_what(std::move(what)),
        m_capacity(capacity),
        m_acquire_timeout(acquire_timeout),
        m_open_connection(std::move(open)) {}
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  /// Puts an already opened connection in the idle list (counts against the capacity).
  void adopt(std::unique_ptr<Connection> connection) {
    std::lock_guard lock(m_mutex);
    m_idle.push_back(std::move(connection));
    ++m_open;
  }

  /// An idle connection, else a new one while fewer than the capacity are open, else waits for
  /// a release; throws DbError (connection, 08000) after the acquire timeout.
  Lease acquire() {
    std::unique_lock lock(m_mutex);
    const auto ready = [&] { return !m_idle.empty() || m_open < m_capacity; };
    if (!ready()) {
      ++m_waits;
      if (!m_cv.wait_until(lock, std::chrono::steady_clock::now() + m_acquire_timeout, ready)) {
        ++m_timeouts;
        throw DbError(
            DbErrorKind::connection, "08000",
            fmt::format("{}: timed out after {} ms waiting for {}", m_backend, m_acquire_timeout.count(), m_what));
      }
    }
    ++m_acquired;
    ++m_in_use;
    if (!m_idle.empty()) {
      auto connection = std::move(m_idle.back());
      m_idle.pop_back();
      return {std::move(connection), true};
    }
    ++m_open;
    lock.unlock();  // opening may take a round trip or more; others may use the pool meanwhile
    try {
      return {m_open_connection(), false};
    } catch (...) {
      lock.lock();
      --m_open;
      --m_in_use;
      m_cv.notify_one();
      throw;
    }
  }

  /// Returns a connection; it is kept for reuse when `reusable`, else closed (and its slot freed).
  void release(std::unique_ptr<Connection> connection, bool reusable) {
    std::unique_ptr<Connection> dropped;
    {
      std::lock_guard lock(m_mutex);
      --m_in_use;
      if (connection && reusable) {
        m_idle.push_back(std::move(connection));
      } else {
        --m_open;
        dropped = std::move(connection);
      }
    }
    m_cv.notify_one();
    // `dropped` closes here, outside the lock.
  }

  PoolStats stats() const {
    std::lock_guard lock(m_mutex);
    PoolStats s;
    s.size = m_open;
    s.in_use = m_in_use;
    s.idle = m_idle.size();
    s.waits_total = m_waits;
    s.acquired_total = m_acquired;
    s.timeouts_total = m_timeouts;
    return s;
  }

 private:
  std::string m_backend;
  std::string m_what;
  std::size_t m_capacity;
  std::chrono::milliseconds m_acquire_timeout;
  Open m_open_connection;
  mutable std::mutex m_mutex;
  std::condition_variable m_cv;
  std::vector<std::unique_ptr<Connection>> m_idle;
  std::size_t m_open = 0;
  std::size_t m_in_use = 0;
  std::uint64_t m_waits = 0;
  std::uint64_t m_acquired = 0;
  std::uint64_t m_timeouts = 0;
};

}  // namespace gh::store
