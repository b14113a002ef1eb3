#pragma once
// Paces presence announcements: at most one per account per interval. A change inside the interval
// is announced once, at the interval's end, with the status read then; so an account that flaps
// its connection costs its audience one frame per interval, and the last word is always the
// account's state when it went out. Not thread-safe: the gateway holds a lock around it.
#include <chrono>
#include <cstddef>
#include <string>
#include <unordered_map>

namespace gh::realtime {

class PresenceThrottle {
 public:
  using Clock = std::chrono::steady_clock;

  /// What to do with a change of presence.
  struct Decision {
    enum class Kind {
      now,      ///< announce at once
      later,    ///< announce at `at`, then call fired()
      pending,  ///< an announcement is already due: it will carry this change
    };
    Kind kind = Kind::now;
    Clock::time_point at{};
  };

  /// `max_tracked`: accounts remembered at most; past it, changes are announced at once.
  explicit PresenceThrottle(Clock::duration interval, std::size_t max_tracked = 65'536)
      : m_interval(interval), m_max_tracked(max_tracked) {}

  /// The account came online or went offline at `now`.
  Decision change(const std::string& account, Clock::time_point now);
  /// The deferred announcement of `account` went out at `now`.
  void fired(const std::string& account, Clock::time_point now);
  /// Accounts remembered (for tests and metrics).
  std::size_t tracked() const noexcept { return m_slots.size(); }

 private:
  struct Slot {
    Clock::time_point last{};
    bool pending = false;
  };
  void forget_quiet(Clock::time_point now);

  Clock::duration m_interval;
  std::size_t m_max_tracked;
  std::unordered_map<std::string, Slot> m_slots;
};

}  // namespace gh::realtime
