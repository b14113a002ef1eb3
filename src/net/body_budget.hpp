#pragma once
// Private to net: the server's budget of request bytes in flight, shared by the HTTP sessions
// (bodies) and the WebSockets (incoming frames).
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace gh::net::detail {

/// The global budget of request bytes in flight: every HTTP body being received or handled holds a
/// reservation of its size (its declared length, or what a chunked body has grown to), and every
/// WebSocket what it holds of incoming frames past a small allowance, so that many slow uploads
/// cannot together hold more memory than this. Thread-safe.
class BodyBudget {
 public:
  explicit BodyBudget(std::size_t limit) : m_limit(limit) {}
  /// Takes `n` more bytes; false (and nothing taken) when that would pass the limit.
  bool try_take(std::size_t n) noexcept {
    auto used = m_used.load();
    do {
      if (n > m_limit || used > m_limit - n) {
        m_refusals.fetch_add(1);
        return false;
      }
    } while (!m_used.compare_exchange_weak(used, used + n));
    return true;
  }
  /// Returns `n` bytes; calls `on_idle` when nothing is reserved any more.
  void give_back(std::size_t n) noexcept {
    if (n == 0) return;
    if (m_used.fetch_sub(n) == n && m_on_idle) m_on_idle(n);
  }
  std::size_t in_use() const noexcept { return m_used.load(); }
  std::size_t limit() const noexcept { return m_limit; }
  /// Reservations refused so far.
  std::uint64_t refusals() const noexcept { return m_refusals.load(); }
  /// Called (on the thread that returned the last bytes) when the budget falls back to zero.
  void on_idle(std::function<void(std::size_t)> f) { m_on_idle = std::move(f); }

 private:
  std::size_t m_limit;
  std::atomic<std::size_t> m_used{0};
  std::atomic<std::uint64_t> m_refusals{0};
  std::function<void(std::size_t)> m_on_idle;
};

/// One request's share of the BodyBudget, returned when it goes out of scope.
class BodyReservation {
 public:
  explicit BodyReservation(BodyBudget* budget) : m_budget(budget) {}
  ~BodyReservation() { release(); }
  BodyReservation(const BodyReservation&) = delete;
  BodyReservation& operator=(const BodyReservation&) = delete;
  /// Holds at least `n` bytes; false when the budget cannot give them (no budget: always true).
  bool grow_to(std::size_t n) noexcept {
    if (!m_budget || n <= m_held) return true;
    if (!m_budget->try_take(n - m_held)) return false;
    m_held = n;
    return true;
  }
  /// Returns what it holds above `n` bytes.
  void shrink_to(std::size_t n) noexcept {
    if (n >= m_held) return;
    if (m_budget) m_budget->give_back(m_held - n);
    m_held = n;
  }
  std::size_t held() const noexcept { return m_held; }
  void release() noexcept {
    if (m_budget && m_held > 0) m_budget->give_back(m_held);
    m_held = 0;
  }

 private:
  BodyBudget* m_budget;
  std::size_t m_held = 0;
};

}  // namespace gh::net::detail
