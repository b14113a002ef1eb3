#pragma once
// The presence accounts choose for themselves (docs/api/realtime.md, "Presence"): read, changed
// under a per-account rate, and asked by notify before a push (do not disturb). The gateway shows
// it on the sockets of this node; this service is where it lasts. Other contexts find it with
// env.services.find<realtime::PresenceService>().
#include <string>

#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "net/rate_limit.hpp"
#include "realtime/model.hpp"
#include "store/database.hpp"

namespace gh::realtime {

struct PresenceSettings {
  /// Changes an account may make to its presence (an unchanged one is free), per second and burst.
  net::RateLimit changes{0.5, 10.0, 100'000};
};

class PresenceService {
 public:
  PresenceService(store::Database& db, BlockingPool& pool, const Clock& clock, PresenceSettings settings);

  /// The presence the account chose, as it stands now (online without a custom status when it never
  /// chose one).
  Task<Result<Presence>> presence(const eth::Address& who);
  /// Applies a change and returns the presence after it. 429 `rate_limited` past the account's rate
  /// of changes; a change that leaves the presence as it was is answered from a read, not counted,
  /// and writes nothing.
  Task<Result<Presence>> change(const eth::Address& who, PresenceChange change);
  /// Whether the account (lowercase hex or checksummed) chose do not disturb.
  Task<Result<bool>> do_not_disturb(const std::string& account);

  const Clock& clock() const noexcept { return m_clock; }

 private:
  store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  net::RateLimiter m_changes;
};

}  // namespace gh::realtime
