#include "realtime/service.hpp"

#include "realtime/store.hpp"

namespace gh::realtime {

PresenceService::PresenceService(store::Database& db, BlockingPool& pool, const Clock& clock, PresenceSettings settings)
    : m_db(db), m_pool(pool), m_clock(clock), m_changes(settings.changes) {}

Task<Result<Presence>> PresenceService::presence(const eth::Address& who) {
  const auto account = eth::to_lower_hex(who);
  const auto now = m_clock.now();
  co_return co_await m_pool.run([&]() -> Result<Presence> {
    return m_db.read([&](store::Tx& tx) -> Result<Presence> {
      return effective(sql::find_presence(tx, account).value_or(Presence{}), now);
    });
  });
}

Task<Result<Presence>> PresenceService::change(const eth::Address& who, PresenceChange change) {
  const auto account = eth::to_lower_hex(who);
  const auto now = m_clock.now();
  // A change that changes nothing (a client sending its status on every connect) is answered from
  // a read: it takes no write transaction and no token.
  auto before = co_await m_pool.run([&]() -> Result<Presence> {
    return m_db.read([&](store::Tx& tx) -> Result<Presence> {
      return effective(sql::find_presence(tx, account).value_or(Presence{}), now);
    });
  });
  if (!before) co_return before;
  if (apply_change(*before, change) == *before) co_return before;
  if (auto allowed = m_changes.take(account); !allowed.allowed) {
    co_return rate_limited("presence changes too often; wait before changing it again", allowed.retry_after);
  }
  co_return co_await m_pool.run([&]() -> Result<Presence> {
    return m_db.transact([&](store::Tx& tx) -> Result<Presence> {
      const auto current = effective(sql::find_presence(tx, account).value_or(Presence{}), now);
      auto after = apply_change(current, change);
      if (after != current) sql::save_presence(tx, account, after, now);
      return after;
    });
  });
}

Task<Result<bool>> PresenceService::do_not_disturb(const std::string& account) {
  auto address = eth::parse_address(account);
  if (!address) co_return false;
  auto found = co_await presence(*address);
  if (!found) co_return std::move(found).error();
  co_return found->status == "dnd";
}

}  // namespace gh::realtime
