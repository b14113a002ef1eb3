#include "notify/service.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <set>

#include "bus/bus.hpp"
#include "notify/events.hpp"
#include "notify/store.hpp"
#include "notify/time_zone.hpp"
#include "store/batches.hpp"

namespace gh::notify {
namespace {

using store::Tx;

// Rows one retention transaction deletes: short transactions, so deliveries never wait long.
constexpr std::size_t purge_batch = 1000;

std::string lower(const eth::Address& a) {
  return eth::to_lower_hex(a);
}

}  // namespace

std::string new_notification_id() {
  // The creation time in milliseconds first, then 64 random bits: ids of one moment's notifications
  // sort together, so the primary key and the delivery queue take new rows at their end instead of
  // on a random page each (a channel's followers get theirs in one commit).
  unsigned char random[8];
  if (RAND_bytes(random, sizeof random) != 1) throw std::runtime_error("RAND_bytes failed");
  static constexpr char digits[] = "0123456789abcdef";
  const auto now =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count();
  std::string out = "ntf_";
  for (int shift = 44; shift >= 0; shift -= 4) out += digits[(static_cast<std::uint64_t>(now) >> shift) & 15];
  for (unsigned char b : random) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

NotifyService::NotifyService(store::Database& db, BlockingPool& pool, const Clock& clock)
    : m_db(db), m_pool(pool), m_clock(clock) {}

Task<Result<Page>> NotifyService::list(const eth::Address& who, std::optional<std::string> cursor, std::size_t limit,
                                       ListFilter filter) {
  std::optional<Cursor> before;
  if (cursor && !cursor->empty()) {
    before = decode_cursor(*cursor);
    if (!before) co_return bad_input("invalid_cursor", "the cursor is not one this server returned");
  }
  if (limit == 0 || limit > max_page) co_return bad_input("invalid_limit", "limit is between 1 and 100");
  const auto account = lower(who);
  co_return co_await m_pool.run([&]() -> Result<Page> {
    return m_db.read([&](Tx& tx) -> Result<Page> {
      Page page;
      // One more than asked tells whether a next page exists.
      page.items = sql::list_notifications(tx, account, before, filter, limit + 1);
      if (page.items.size() > limit) {
        page.items.resize(limit);
        const auto& last = page.items.back();
        page.next_cursor = encode_cursor(Cursor{unix_millis(last.created_at), last.id});
      }
      page.unread = sql::unread_count(tx, account);
      return page;
    });
  });
}

Task<Result<std::int64_t>> NotifyService::mark_read(const eth::Address& who, std::vector<std::string> ids, bool all) {
  if (!all && ids.empty()) co_return bad_input("invalid_field", "ids must list at least one notification, or send all");
  if (ids.size() > max_mark_read) co_return bad_input("invalid_field", "at most 500 ids per call");
  const auto account = lower(who);
  const auto now = m_clock.now();
  bool told = false;
  auto unread = co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::int64_t> {
      // What was read needs no delivery any more, and the account's other sockets hear of it.
      if (all) {
        if (sql::mark_all_read(tx, account, now) > 0) {
          sql::delete_deliveries_read_at(tx, account, now);
          sql::insert_reads(tx, account, {std::string(sql::all_read)}, now);
          told = true;
        }
      } else {
        const auto changed = sql::mark_read(tx, account, ids, now);
        if (!changed.empty()) {
          sql::delete_deliveries(tx, changed);
          sql::insert_reads(tx, account, changed, now);
          told = true;
        }
      }
      // The routers of other nodes (this one's is woken below, at once) hear of the reads.
      if (told) {
        boost::json::object event{{"account", account}};
        if (auto published =
                bus::publish(tx, {std::string(reads_marked_topic), account, boost::json::serialize(event)});
            !published) {
          return published.error();
        }
      }
      return sql::unread_count(tx, account);
    });
  });
  if (told && m_on_reads) m_on_reads();
  co_return unread;
}

Task<Result<std::int64_t>> NotifyService::unread_count(const eth::Address& who) {
  const auto account = lower(who);
  co_return co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.read([&](Tx& tx) -> Result<std::int64_t> { return sql::unread_count(tx, account); });
  });
}

Task<Result<Settings>> NotifyService::settings(const eth::Address& who) {
  const auto account = lower(who);
  co_return co_await m_pool.run([&]() -> Result<Settings> {
    return m_db.read([&](Tx& tx) -> Result<Settings> { return sql::find_settings(tx, account).value_or(Settings{}); });
  });
}

Task<Result<Settings>> NotifyService::update_settings(const eth::Address& who, boost::json::object body) {
  const auto account = lower(who);
  const auto now = m_clock.now();
  auto result = co_await m_pool.run([&]() -> Result<Settings> {
    return m_db.transact([&](Tx& tx) -> Result<Settings> {
      auto updated = apply_settings(body, sql::find_settings(tx, account).value_or(Settings{}), &time_zone_known);
      if (!updated) return updated;
      sql::upsert_settings(tx, account, *updated, now);
      if (body.contains("all_messages")) sql::set_followed_channels(tx, account, updated->all_messages, now);
      return updated;
    });
  });
  if (result && body.contains("all_messages")) {
    // What this node kept of the followers may hold this account, or lack it.
    const std::lock_guard lock(m_followers_mutex);
    m_followers.clear();
  }
  co_return result;
}

Task<std::vector<std::string>> NotifyService::channel_followers(std::string channel_id, std::string community_id,
                                                                std::size_t limit) {
  const auto key = channel_id + " " + community_id;
  {
    const std::lock_guard lock(m_followers_mutex);
    const auto it = m_followers.find(key);
    if (it != m_followers.end() && it->second.limit == limit && it->second.expires > std::chrono::steady_clock::now())
      co_return it->second.accounts;
  }
  auto found = co_await m_pool.run([&] {
    return m_db.read([&](Tx& tx) {
      auto out = sql::channel_followers(tx, channel_id, limit);
      if (community_id.empty() || out.size() >= limit) return out;
      // Then those following the whole community, each once: two bounded reads, not a merge of
      // every follower of both.
      const std::set<std::string> seen(out.begin(), out.end());
      for (auto& a : sql::channel_followers(tx, community_id, limit)) {
        if (out.size() >= limit) break;
        if (seen.count(a) == 0) out.push_back(std::move(a));
      }
      return out;
    });
  });
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(m_followers_mutex);
  if (m_followers.size() >= max_cached_followers) {
    std::erase_if(m_followers, [&](const auto& entry) { return entry.second.expires <= now; });
    if (m_followers.size() >= max_cached_followers) m_followers.clear();
  }
  m_followers.insert_or_assign(key, Followers{found, limit, now + followers_ttl});
  co_return found;
}

Task<std::int64_t> NotifyService::purge() {
  const auto now = m_clock.now();
  const auto days = [&](int n) { return now - std::chrono::hours(24 * n); };
  // What goes, and after how long: attempts, jobs and withdrawals after 30 days, notifications
  // 30 days after they were read and 180 days after they were made.
  const std::array<std::pair<sql::Retained, SystemTime>, 8> kinds{{
      {sql::Retained::attempts, days(30)},
      {sql::Retained::read_notifications, days(30)},
      {sql::Retained::notifications, days(180)},
      {sql::Retained::finished_jobs, days(30)},
      {sql::Retained::withdrawn, days(30)},
      {sql::Retained::removals, days(30)},
      {sql::Retained::reads, days(30)},
      // Only a job expanding after its account read the channel needs this, within seconds.
      {sql::Retained::read_through, days(1)},
  }};
  std::int64_t deleted = 0;
  for (const auto& kind : kinds) {
    const auto what = kind.first;
    const auto before = kind.second;
    deleted += static_cast<std::int64_t>(co_await store::delete_in_batches(
        m_db, m_pool, purge_batch, [&](Tx& tx, std::size_t limit) { return sql::purge(tx, what, before, limit); }));
  }
  co_return deleted;
}

std::size_t NotifyService::amend(Tx& tx, const Amendment& amendment) {
  if (amendment.subject.empty()) return 0;
  if (amendment.action == Amendment::Action::refresh) {
    return static_cast<std::size_t>(sql::update_body_about(tx, amendment.subject, amendment.body));
  }
  const auto now = m_clock.now();
  std::vector<sql::RemovalRow> gone;
  if (amendment.accounts.empty()) {
    // The source is gone for good: nothing about it may appear later either.
    sql::insert_withdrawn(tx, amendment.subject, now);
    gone = sql::notifications_about(tx, amendment.subject);
  } else {
    // Mentions of these accounts only; a reply to one of them is still a reply.
    for (auto& row : sql::notifications_about(tx, amendment.subject, to_string(Kind::mention))) {
      if (std::binary_search(amendment.accounts.begin(), amendment.accounts.end(), row.account)) {
        gone.push_back(std::move(row));
      }
    }
  }
  if (gone.empty()) return 0;
  std::vector<std::string> ids;
  ids.reserve(gone.size());
  for (const auto& g : gone) ids.push_back(g.notification_id);
  sql::delete_deliveries(tx, ids);
  sql::delete_notifications(tx, ids);
  sql::insert_removals(tx, gone, now);
  return gone.size();
}

std::size_t NotifyService::read_through(Tx& tx, const ReadThrough& read) {
  const auto now = m_clock.now();
  sql::upsert_read_through(tx, read.account, read.channel_id, read.seq, now);
  const auto changed = sql::mark_read_through(tx, read.account, read.channel_id, read.seq, now);
  if (changed.empty()) return 0;
  sql::delete_deliveries(tx, changed);
  sql::insert_reads(tx, read.account, changed, now);
  return changed.size();
}

namespace {

/// The notifications of one draft for its accounts, and their deliveries, inside the caller's
/// transaction.
Created create_in(Tx& tx, const std::vector<std::string>& accounts, const Draft& draft, SystemTime now) {
  Created out;
  // An account that already read past the message (its marker moved before this batch expanded)
  // gets the notification as read, and no delivery.
  const auto reads = sql::draft_reads(tx, draft.subject, draft.seq ? draft.channel_id : std::string(), accounts);
  // The source was taken back before this batch expanded: nothing to tell anyone.
  if (reads.withdrawn) return out;
  {
    const auto& stored = reads.settings;
    const auto& read = reads.read;
    const Settings defaults;
    std::vector<std::pair<Notification, std::string>> rows;
    std::map<std::string, bool> push_of;
    for (const auto& account : accounts) {
      auto it = stored.find(account);
      const Settings& settings = it == stored.end() ? defaults : it->second;
      Draft mine = draft;
      if (!decide(settings, mine).keep) {
        ++out.muted;
        continue;
      }
      Notification n;
      n.id = new_notification_id();
      n.account = account;
      n.kind = mine.kind;
      n.title = mine.title;
      n.body = mine.body;
      n.data_json = mine.data_json;
      n.community_id = mine.community_id;
      n.channel_id = mine.channel_id;
      n.subject = mine.subject;
      n.seq = mine.seq;
      n.created_at = now;
      if (auto r = read.find(account); r != read.end() && mine.seq && r->second >= *mine.seq) {
        n.read_at = now;
        rows.emplace_back(std::move(n), mine.dedup_key);
        continue;
      }
      bool push = !mine.silent;
      if (push && settings.quiet_hours) {
        const auto& q = *settings.quiet_hours;
        push = !in_window(q.start_min, q.end_min, local_minute_of_day(q.time_zone, now));
      }
      push_of[n.id] = push;
      rows.emplace_back(std::move(n), mine.dedup_key);
    }
    out.ids = sql::insert_notifications(tx, rows);
    std::vector<sql::DeliveryRow> deliveries;
    std::map<std::string, std::string> account_of;
    for (const auto& [n, key] : rows) {
      if (!n.read_at) account_of[n.id] = n.account;
    }
    for (const auto& id : out.ids) {
      if (auto a = account_of.find(id); a != account_of.end())
        deliveries.push_back(sql::DeliveryRow{id, a->second, push_of[id]});
    }
    sql::insert_deliveries(tx, deliveries, now);
  }
  return out;
}

}  // namespace

Created NotifyService::create_batch(const std::vector<std::string>& accounts, const Draft& draft,
                                    const std::function<void(store::Tx&)>& also) {
  const auto now = m_clock.now();
  return m_db.transact([&](Tx& tx) {
    Created out = create_in(tx, accounts, draft, now);
    if (also) also(tx);
    return out;
  });
}

std::vector<Created> NotifyService::create_batches(const std::vector<Batch>& batches,
                                                   const std::function<void(store::Tx&)>& also) {
  const auto now = m_clock.now();
  return m_db.transact([&](Tx& tx) {
    std::vector<Created> out;
    out.reserve(batches.size());
    for (const auto& b : batches) out.push_back(create_in(tx, b.accounts, b.draft, now));
    if (also) also(tx);
    return out;
  });
}

}  // namespace gh::notify
