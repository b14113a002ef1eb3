#pragma once
// Time, injectable: services read time through a Clock so tests can move it.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

namespace gh {

using SystemTime = std::chrono::system_clock::time_point;

/// Source of wall-clock time (UTC).
class Clock {
 public:
  virtual ~Clock() = default;
  /// Current UTC time.
  virtual SystemTime now() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
 public:
  SystemTime now() const override { return std::chrono::system_clock::now(); }
};

/// A clock that tests set and advance by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(SystemTime start) : m_now(start.time_since_epoch().count()) {}
  SystemTime now() const override { return SystemTime(SystemTime::duration(m_now.load())); }
  void advance(std::chrono::nanoseconds d) { m_now += std::chrono::duration_cast<SystemTime::duration>(d).count(); }

 private:
  std::atomic<SystemTime::duration::rep> m_now;
};

/// RFC 3339 UTC with milliseconds, e.g. 2026-11-23T04:28:00.123Z.
std::string format_rfc3339(SystemTime t);

/// Milliseconds since the Unix epoch.
std::int64_t unix_millis(SystemTime t);

}  // namespace gh
