#include "e2e/service.hpp"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/secrets.hpp"
#include "auth/service.hpp"
#include "e2e/store.hpp"
#include "eth/address.hpp"
#include "store/batches.hpp"

namespace gh::e2e {
namespace {

namespace json = boost::json;
using store::Tx;

Error forbidden(std::string code, std::string message) {
  return make_error(ErrorKind::forbidden, std::move(code), std::move(message));
}

Error with_details(Error e, const json::object& details) {
  e.details_json = json::serialize(details);
  return e;
}

void publish_or_throw(Tx& tx, const bus::NewEvent& event) {
  auto id = bus::publish(tx, event);
  if (!id) throw std::logic_error("e2e event rejected by the bus: " + id.error().message);
}

std::string lower(const eth::Address& a) {
  return eth::to_lower_hex(a);
}

eth::Address address_of(const std::string& stored) {
  auto a = eth::parse_address(stored);
  return a ? *a : eth::Address{};
}

// The DM key of a pair of accounts: both lowercase addresses, sorted, so either side finds it.
std::string dm_pair(const std::string& a, const std::string& b) {
  return a < b ? a + "|" + b : b + "|" + a;
}

json::array checksummed(const std::vector<std::string>& accounts) {
  json::array out;
  for (const auto& a : accounts) out.push_back(json::string(eth::to_checksum(address_of(a))));
  return out;
}

GroupInfo info_of(Tx& tx, const sql::GroupRow& g, const std::string& viewer) {
  GroupInfo info;
  info.id = g.id;
  info.kind = g.kind;
  info.creator = address_of(g.creator);
  for (const auto& m : sql::members(tx, g.id)) info.members.push_back(address_of(m));
  info.epoch = g.epoch;
  info.last_seq = g.last_seq;
  info.created_at = g.created_at;
  if (g.kind == GroupKind::dm) {
    for (const auto& m : info.members) {
      if (lower(m) != viewer) info.consent = sql::consent(tx, viewer, lower(m));
    }
  }
  return info;
}

// The caller's group: 404 when there is none, 403 not_member when the caller's account is not in it.
Result<sql::GroupRow> member_group(Tx& tx, const std::string& group_id, const std::string& account, bool for_update) {
  auto g = sql::find_group(tx, group_id, for_update);
  if (!g) return not_found("no such group");
  if (!sql::is_member(tx, group_id, account))
    return forbidden("not_member", "the account is not a member of the group");
  return std::move(*g);
}

// The other account of a DM.
std::optional<std::string> dm_peer(Tx& tx, const std::string& group_id, const std::string& account) {
  for (auto& m : sql::members(tx, group_id)) {
    if (m != account) return m;
  }
  return std::nullopt;
}

}  // namespace

std::string message_frame(const std::string& group_id, const StoredMessage& m) {
  json::object frame{{"type", "group_message"},
                     {"group_id", group_id},
                     {"seq", m.seq},
                     {"sender", eth::to_checksum(m.sender)},
                     {"sender_device", m.sender_device},
                     {"epoch", m.epoch},
                     {"content_type", static_cast<int>(m.content_type)},
                     {"created_at", format_rfc3339(m.created_at)}};
  if (m.withheld) {
    frame["withheld"] = true;
  } else {
    frame["message"] = m.message;
  }
  return json::serialize(frame);
}

E2eService::E2eService(store::Database& db, BlockingPool& pool, const Clock& clock, E2eSettings settings,
                       auth::AuthService& auth, std::function<void()> events_published, realtime::Gateway* gateway)
    : m_db(db),
      m_pool(pool),
      m_clock(clock),
      m_settings(settings),
      m_auth(auth),
      m_events_published(std::move(events_published)),
      m_gateway(gateway) {}

realtime::TopicSource E2eService::topic_source() {
  realtime::TopicSource source;
  source.id_field = "group_id";
  source.resume_field = "groups";
  source.authorize = [this](eth::Address account, std::string id) -> Task<Result<bool>> {
    const auto who = lower(account);
    co_return co_await m_pool.run(
        [&]() -> Result<bool> { return m_db.read([&](Tx& tx) { return sql::is_member(tx, id, who); }); });
  };
  source.head = [this](std::string id) -> Task<Result<realtime::TopicHead>> {
    co_return co_await m_pool.run([&]() -> Result<realtime::TopicHead> {
      return m_db.read([&](Tx& tx) {
        auto g = sql::find_group(tx, id, false);
        return realtime::TopicHead{g ? g->last_seq : 0, {}};
      });
    });
  };
  source.history = [this](eth::Address account, std::string id, std::int64_t after_seq,
                          std::size_t limit) -> Task<Result<std::vector<realtime::SequencedFrame>>> {
    const auto reader = lower(account);
    const auto oldest = m_clock.now() - m_settings.retention;
    co_return co_await m_pool.run([&]() -> Result<std::vector<realtime::SequencedFrame>> {
      return m_db.read([&](Tx& tx) -> Result<std::vector<realtime::SequencedFrame>> {
        if (!sql::is_member(tx, id, reader)) return forbidden("not_member", "the account is not a member of the group");
        std::vector<realtime::SequencedFrame> frames;
        for (const auto& m : sql::log_after(tx, id, reader, after_seq, limit, oldest)) {
          frames.push_back({m.seq, message_frame(id, m)});
        }
        return frames;
      });
    });
  };
  source.readable = [this](eth::Address account) -> Task<Result<std::vector<std::string>>> {
    const auto who = lower(account);
    co_return co_await m_pool.run([&]() -> Result<std::vector<std::string>> {
      return m_db.read([&](Tx& tx) {
        std::vector<std::string> ids;
        for (auto& g : sql::groups_of(tx, who)) ids.push_back(std::move(g.id));
        return ids;
      });
    });
  };
  return source;
}

Task<Result<Caller>> E2eService::caller(const auth::Principal& who, std::string device_id) {
  if (device_id.empty() || device_id.size() > 64) {
    co_return bad_input("device_required", "name the calling device in the X-Device-Id header");
  }
  auto owner = co_await m_auth.device_owner(device_id);
  if (!owner) co_return std::move(owner).error();
  if (!*owner || **owner != who.address) {
    co_return forbidden("unknown_device", "the device is not one of the account's (it may have been deleted)");
  }
  co_return Caller{who, std::move(device_id)};
}

Task<Result<GroupInfo>> E2eService::create_group(const auth::Principal& who, NewGroup group) {
  const auto creator = lower(who.address);
  const auto now = m_clock.now();
  bool created = false;
  auto made = co_await m_pool.run([&]() -> Result<GroupInfo> {
    return m_db.transact([&](Tx& tx) -> Result<GroupInfo> {
      created = false;
      std::optional<std::string> pair;
      if (group.kind == GroupKind::dm) {
        pair = dm_pair(creator, lower(group.members.at(0)));
        if (auto existing = sql::find_dm(tx, *pair)) {
          return with_details(make_error(ErrorKind::conflict, "dm_exists", "a dm between these accounts exists"),
                              json::object{{"group_id", *existing}});
        }
      }
      sql::GroupRow row{group.group_id.id, group.kind, creator, 0, 0, now};
      if (!sql::insert_group(tx, row, pair)) {
        // The id is taken, or a concurrent create of the same DM won the race.
        if (pair) {
          if (auto existing = sql::find_dm(tx, *pair)) {
            return with_details(make_error(ErrorKind::conflict, "dm_exists", "a dm between these accounts exists"),
                                json::object{{"group_id", *existing}});
          }
        }
        return make_error(ErrorKind::conflict, "group_exists", "a group with this MLS group id exists");
      }
      sql::add_member(tx, row.id, creator, 0);
      for (const auto& m : group.members) sql::add_member(tx, row.id, lower(m), 0);
      // The creator of a DM wants it: its consent towards the peer is implied.
      if (pair && sql::consent(tx, creator, lower(group.members.at(0))) == Consent::unknown) {
        sql::set_consent(tx, creator, lower(group.members.at(0)), Consent::allowed, now);
      }
      auto info = info_of(tx, row, creator);
      json::object payload{{"group_id", row.id},
                           {"kind", to_string(row.kind)},
                           {"creator", eth::to_checksum(who.address)},
                           {"members", checksummed(sql::members(tx, row.id))}};
      publish_or_throw(tx, {"e2e.group_created", row.id, json::serialize(payload)});
      created = true;
      return info;
    });
  });
  if (created && m_events_published) m_events_published();
  co_return made;
}

Task<Result<std::int64_t>> E2eService::post(const Caller& caller, std::string group_id, Post post) {
  const auto sender = lower(caller.principal.address);
  const auto now = m_clock.now();
  // The accounts of the devices that welcomes go to, known before the transaction.
  std::vector<std::string> welcome_accounts;
  for (const auto& w : post.welcomes) {
    auto owner = co_await m_auth.device_owner(w.device_id);
    if (!owner) co_return std::move(owner).error();
    if (!*owner) co_return bad_input("unknown_device", fmt::format("welcome for unknown device {}", w.device_id));
    welcome_accounts.push_back(lower(**owner));
  }
  if (post.client_id.empty()) post.client_id = "gen-" + auth::random_hex(12);
  bool published = false;
  bool withheld = false;
  auto accepted = co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::int64_t> {
      published = false;
      withheld = false;
      auto g = member_group(tx, group_id, sender, true);
      if (!g) return std::move(g).error();
      if (auto first = sql::seq_of_client_id(tx, group_id, sender, post.client_id)) return *first;
      const auto epoch = static_cast<std::int64_t>(post.header.epoch);
      const bool commit = post.header.content_type == mls::ContentType::commit;
      if (post.header.epoch > static_cast<std::uint64_t>(INT64_MAX) || epoch != g->epoch) {
        const char* what = commit ? "a commit for this epoch was already accepted" : "the group has moved on";
        if (commit && epoch > g->epoch) what = "the commit is for an epoch the group has not reached";
        return with_details(
            make_error(ErrorKind::conflict, "stale_epoch",
                       fmt::format("{}: the group is at epoch {}; process its messages and retry", what, g->epoch)),
            json::object{{"epoch", g->epoch}});
      }
      std::set<std::string> next;
      for (auto& m : sql::members(tx, group_id)) next.insert(std::move(m));
      const auto before = next;
      for (const auto& a : post.add_members) next.insert(lower(a));
      for (const auto& a : post.remove_members) next.erase(lower(a));
      if (g->kind == GroupKind::dm && next != before) {
        return bad_input("dm_members_fixed", "the accounts of a dm do not change");
      }
      if (next.size() > m_settings.max_group_members) {
        return make_error(ErrorKind::too_large, "too_many_members",
                          fmt::format("a group has at most {} member accounts", m_settings.max_group_members));
      }
      for (std::size_t i = 0; i < welcome_accounts.size(); ++i) {
        if (!next.count(welcome_accounts[i])) {
          return bad_input("welcome_not_member", fmt::format("device {} belongs to an account that is not a member",
                                                             post.welcomes[i].device_id));
        }
      }
      const auto seq = g->last_seq + 1;
      sql::NewMessage m;
      m.group_id = group_id;
      m.seq = seq;
      m.sender = sender;
      m.sender_device = caller.device_id;
      m.client_id = post.client_id;
      m.epoch = epoch;
      m.content_type = post.header.content_type;
      m.message = post.message;
      m.created_at = now;
      if (g->kind == GroupKind::dm && post.header.content_type == mls::ContentType::application) {
        if (auto peer = dm_peer(tx, group_id, sender)) {
          const auto theirs = sql::consent(tx, *peer, sender);
          // Denied or blocked: kept for the sender's own devices, never shown to the peer, and the
          // sender is not told.
          if (theirs == Consent::denied || theirs == Consent::blocked) m.hidden_for = *peer;
          // Writing in a DM is consenting to it.
          if (sql::consent(tx, sender, *peer) == Consent::unknown) {
            sql::set_consent(tx, sender, *peer, Consent::allowed, now);
          }
        }
      }
      withheld = m.hidden_for.has_value();
      sql::insert_message(tx, m);
      sql::set_group_position(tx, group_id, commit ? g->epoch + 1 : g->epoch, seq);
      for (const auto& a : post.add_members) sql::add_member(tx, group_id, lower(a), seq);
      for (const auto& a : post.remove_members) sql::remove_member(tx, group_id, lower(a));
      for (std::size_t i = 0; i < post.welcomes.size(); ++i) {
        const auto id = auth::random_hex(16);
        sql::insert_welcome(tx, id, post.welcomes[i].device_id, group_id, seq, post.welcomes[i].welcome, now);
        json::object payload{
            {"device_id", post.welcomes[i].device_id}, {"group_id", group_id}, {"welcome_id", id}, {"seq", seq}};
        publish_or_throw(tx, {"e2e.welcome_queued", post.welcomes[i].device_id, json::serialize(payload)});
      }
      json::array recipients;
      for (const auto& a : next) {
        if (!m.hidden_for || *m.hidden_for != a) recipients.push_back(json::string(eth::to_checksum(address_of(a))));
      }
      json::object payload{{"group_id", group_id},
                           {"seq", seq},
                           {"epoch", epoch},
                           {"content_type", static_cast<int>(post.header.content_type)},
                           {"sender", eth::to_checksum(caller.principal.address)},
                           {"sender_device", caller.device_id},
                           {"kind", to_string(g->kind)},
                           {"members", recipients}};
      publish_or_throw(tx, {"e2e.message_posted", group_id, json::serialize(payload)});
      published = true;
      return seq;
    });
  });
  if (published && m_events_published) m_events_published();
  if (accepted && published && m_gateway) {
    StoredMessage live;
    live.seq = *accepted;
    live.sender = caller.principal.address;
    live.sender_device = caller.device_id;
    live.epoch = static_cast<std::int64_t>(post.header.epoch);
    live.content_type = post.header.content_type;
    live.message = post.message;
    live.created_at = now;
    // A message withheld from a DM peer reaches the topic without its ciphertext: the sequence
    // stays whole for every socket, the recipient never gets the content.
    live.withheld = withheld;
    if (live.withheld) live.message.clear();
    m_gateway->publish(group_topic, group_id, live.seq, message_frame(group_id, live));
    for (const auto& w : post.welcomes) {
      json::object frame{{"type", "welcome"}, {"group_id", group_id}, {"seq", *accepted}, {"welcome", w.welcome}};
      m_gateway->send_to_device(w.device_id, json::serialize(frame));
    }
    for (const auto& a : post.remove_members) {
      json::object frame{{"type", "membership"}, {"group_id", group_id}, {"removed", true}};
      const std::vector<std::string> ids{group_id};
      m_gateway->unsubscribe(a, group_topic, ids, json::serialize(frame));
    }
  }
  co_return accepted;
}

Task<Result<std::vector<StoredMessage>>> E2eService::messages(const Caller& caller, std::string group_id,
                                                              std::int64_t after_seq, std::size_t limit) {
  const auto reader = lower(caller.principal.address);
  const auto oldest = m_clock.now() - m_settings.retention;
  limit = std::clamp<std::size_t>(limit, 1, m_settings.max_page);
  co_return co_await m_pool.run([&]() -> Result<std::vector<StoredMessage>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<StoredMessage>> {
      auto g = member_group(tx, group_id, reader, false);
      if (!g) return std::move(g).error();
      return sql::messages_after(tx, group_id, reader, after_seq, limit, oldest);
    });
  });
}

Task<Result<std::vector<GroupInfo>>> E2eService::groups(const auth::Principal& who) {
  const auto account = lower(who.address);
  co_return co_await m_pool.run([&]() -> Result<std::vector<GroupInfo>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<GroupInfo>> {
      std::vector<GroupInfo> out;
      for (const auto& g : sql::groups_of(tx, account)) {
        auto info = info_of(tx, g, account);
        if (info.consent != Consent::blocked) out.push_back(std::move(info));
      }
      return out;
    });
  });
}

Task<Result<GroupInfo>> E2eService::group(const auth::Principal& who, std::string group_id) {
  const auto account = lower(who.address);
  co_return co_await m_pool.run([&]() -> Result<GroupInfo> {
    return m_db.read([&](Tx& tx) -> Result<GroupInfo> {
      auto g = member_group(tx, group_id, account, false);
      if (!g) return std::move(g).error();
      return info_of(tx, *g, account);
    });
  });
}

Task<Result<std::vector<MemberDevice>>> E2eService::group_devices(const auth::Principal& who, std::string group_id) {
  auto info = co_await group(who, group_id);
  if (!info) co_return std::move(info).error();
  std::vector<MemberDevice> out;
  for (const auto& account : info->members) {
    auto devices = co_await m_auth.devices(account);
    if (!devices) co_return std::move(devices).error();
    for (auto& d : *devices) out.push_back({account, std::move(d.device_id), std::move(d.identity_key)});
  }
  co_return out;
}

Task<Result<std::vector<QueuedWelcome>>> E2eService::welcomes(const Caller& caller) {
  const auto oldest = m_clock.now() - m_settings.retention;
  co_return co_await m_pool.run([&]() -> Result<std::vector<QueuedWelcome>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<QueuedWelcome>> {
      return sql::welcomes_of(tx, caller.device_id, m_settings.max_page, oldest);
    });
  });
}

Task<Result<void>> E2eService::delete_welcome(const Caller& caller, std::string welcome_id) {
  co_return co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      if (!sql::delete_welcome(tx, caller.device_id, welcome_id)) return not_found("no such welcome for this device");
      return ok();
    });
  });
}

Task<Result<void>> E2eService::ack(const Caller& caller, std::string group_id, std::int64_t seq) {
  const auto account = lower(caller.principal.address);
  co_return co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto g = member_group(tx, group_id, account, false);
      if (!g) return std::move(g).error();
      if (seq < 0 || seq > g->last_seq) {
        return bad_input("invalid_seq", fmt::format("seq must be 0 to {}", g->last_seq));
      }
      sql::set_cursor(tx, group_id, caller.device_id, seq);
      return ok();
    });
  });
}

Task<Result<std::vector<GroupInfo>>> E2eService::dm_requests(const auth::Principal& who) {
  const auto account = lower(who.address);
  co_return co_await m_pool.run([&]() -> Result<std::vector<GroupInfo>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<GroupInfo>> {
      std::vector<GroupInfo> out;
      for (const auto& g : sql::groups_of(tx, account)) {
        if (g.kind != GroupKind::dm || g.creator == account) continue;
        auto info = info_of(tx, g, account);
        if (info.consent == Consent::unknown) out.push_back(std::move(info));
      }
      return out;
    });
  });
}

Task<Result<void>> E2eService::set_consent(const auth::Principal& who, std::string group_id, Consent state) {
  const auto account = lower(who.address);
  const auto now = m_clock.now();
  co_return co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto g = member_group(tx, group_id, account, false);
      if (!g) return std::move(g).error();
      if (g->kind != GroupKind::dm) return bad_input("not_a_dm", "consent is given to the peer of a dm");
      auto peer = dm_peer(tx, group_id, account);
      if (!peer) return bad_input("not_a_dm", "the dm has no other member");
      sql::set_consent(tx, account, *peer, state, now);
      return ok();
    });
  });
}

Task<Result<std::int64_t>> E2eService::purge() {
  const auto before = m_clock.now() - m_settings.retention;
  // Each step deletes at most the batch from each table: a step below the batch left both done.
  const auto gone = co_await store::delete_in_batches(
      m_db, m_pool, 1000, [&](Tx& tx, std::size_t limit) { return sql::purge(tx, before, limit); });
  co_return static_cast<std::int64_t>(gone);
}

bus::Consumer E2eService::device_consumer() {
  return bus::Consumer{
      "e2e.devices", {"auth.device_added", "auth.device_removed"}, [](Tx& tx, const bus::Event& e) {
        json::error_code ec;
        auto payload = json::parse(e.payload, ec);
        if (ec || !payload.is_object()) return;  // not ours to fix; nothing to do
        const auto* address = payload.as_object().if_contains("address");
        const auto* device = payload.as_object().if_contains("device_id");
        if (address == nullptr || !address->is_string() || device == nullptr || !device->is_string()) return;
        auto account = eth::parse_address(std::string_view(address->as_string()));
        if (!account) return;
        const std::string device_id(device->as_string());
        const bool added = e.topic == "auth.device_added";
        if (!added) sql::drop_device(tx, device_id);
        for (const auto& g : sql::groups_of(tx, lower(*account))) {
          json::object out{{"group_id", g.id},
                           {"account", eth::to_checksum(*account)},
                           {"device_id", device_id},
                           {"members", checksummed(sql::members(tx, g.id))}};
          publish_or_throw(tx, {added ? "e2e.device_added" : "e2e.device_removed", g.id, json::serialize(out)});
        }
      }};
}

}  // namespace gh::e2e
