#include "net/rate_limit.hpp"

#include <algorithm>
#include <cmath>

namespace gh::net {

RateDecision RateLimiter::take_at(std::string_view key, Clock::time_point now, double cost) {
  std::lock_guard lock(m_mutex);
  auto it = m_buckets.find(std::string(key));
  if (it == m_buckets.end()) {
    if (m_buckets.size() >= m_limit.max_keys) evict(now);
    it = m_buckets.emplace(std::string(key), Bucket{m_limit.burst, now}).first;
  }
  auto& b = it->second;
  const double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(m_limit.burst, b.tokens + elapsed * m_limit.per_second);
    b.updated = now;
  }
  if (b.tokens >= cost) {
    b.tokens -= cost;
    return {true, std::chrono::seconds(0)};
  }
  const double wait = m_limit.per_second > 0 ? (cost - b.tokens) / m_limit.per_second : 3600.0;
  return {false, std::chrono::seconds(static_cast<long>(std::max(1.0, std::ceil(wait))))};
}

std::size_t RateLimiter::tracked() const {
  std::lock_guard lock(m_mutex);
  return m_buckets.size();
}

void RateLimiter::evict(Clock::time_point now) {
  // Buckets that have refilled completely carry no state worth keeping.
  for (auto it = m_buckets.begin(); it != m_buckets.end();) {
    const double elapsed = std::chrono::duration<double>(now - it->second.updated).count();
    if (it->second.tokens + elapsed * m_limit.per_second >= m_limit.burst) {
      it = m_buckets.erase(it);
    } else {
      ++it;
    }
  }
  // Still full of active keys: drop the stalest half rather than grow without bound.
  if (m_buckets.size() >= m_limit.max_keys) {
    std::vector<std::pair<Clock::time_point, std::string>> by_age;
    by_age.reserve(m_buckets.size());
    for (const auto& [k, b] : m_buckets) by_age.emplace_back(b.updated, k);
    std::sort(by_age.begin(), by_age.end());
    for (std::size_t i = 0; i < by_age.size() / 2; ++i) m_buckets.erase(by_age[i].second);
  }
}

}  // namespace gh::net
