#pragma once
// Token-bucket rate limiting by key (an IP, an address). Memory is bounded: at most `max_keys`
// buckets are tracked; full buckets of idle keys are the first to go.
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gh::net {

/// Rate and burst of one limiter.
struct RateLimit {
  double per_second = 20.0;  ///< sustained rate
  double burst = 40.0;       ///< bucket capacity
  std::size_t max_keys = 100'000;
};

/// Outcome of one take().
struct RateDecision {
  bool allowed = true;
  std::chrono::seconds retry_after{0};  ///< when not allowed: whole seconds until a token is back
};

/// Thread-safe token buckets keyed by string.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit RateLimiter(RateLimit limit) : m_limit(limit) {}

  /// Takes `cost` tokens for `key` if available.
  RateDecision take(std::string_view key, double cost = 1.0) { return take_at(key, Clock::now(), cost); }
  /// take() at a given time (tests drive time by hand).
  RateDecision take_at(std::string_view key, Clock::time_point now, double cost = 1.0);
  /// Buckets currently tracked.
  std::size_t tracked() const;
  const RateLimit& limit() const noexcept { return m_limit; }

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void evict(Clock::time_point now);

  RateLimit m_limit;
  mutable std::mutex m_mutex;
  std::unordered_map<std::string, Bucket> m_buckets;
};

}  // namespace gh::net
