#include "community/service.hpp"

#include <sodium.h>

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bus/bus.hpp"
#include "chain/model.hpp"
#include "community/store.hpp"
#include "core/due_loop.hpp"
#include "core/utf8.hpp"
#include "eth/hex.hpp"
#include "store/batches.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;
using store::Tx;

constexpr int staff_rank = 80;  // admins and the owner keep the community whatever they hold

Error forbidden(std::string code, std::string message) {
  return make_error(ErrorKind::forbidden, std::move(code), std::move(message));
}
Error conflict(std::string code, std::string message) {
  return make_error(ErrorKind::conflict, std::move(code), std::move(message));
}
Error no_community() {
  return not_found("no such community");
}
Error no_channel() {
  return not_found("no such channel");
}

std::string new_id(std::string_view prefix) {
  std::array<std::uint8_t, 12> buf{};
  randombytes_buf(buf.data(), buf.size());
  std::string out(prefix);
  static constexpr char digits[] = "0123456789abcdef";
  for (auto b : buf) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string lower(const eth::Address& a) {
  return eth::to_lower_hex(a);
}
// Free text a member writes for others to read (a channel's topic, a ban's or a timeout's reason):
// at most `max_bytes` of UTF-8, line breaks allowed, no other control characters (400
// invalid_field naming the field).
Result<void> check_text(std::string_view field, std::string_view text, std::size_t max_bytes) {
  const auto bad = [&] {
    return bad_input("invalid_field", fmt::format("{} is at most {} bytes of UTF-8 text (no control characters but "
                                                  "line breaks)",
                                                  field, max_bytes));
  };
  if (text.size() > max_bytes || !valid_utf8(text)) return bad();
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && c != '\n') || u == 0x7F) return bad();
  }
  return ok();
}

// An account the store holds (lowercase hex). A row holding anything else is corrupt, and fails as
// the database's failure (store::DbError, other), as a column of another type does.
eth::Address address_of(const std::string& lower_hex) {
  auto address = eth::parse_address(lower_hex);
  if (!address) throw store::DbError(store::DbErrorKind::other, "", "community: a stored account is not an address");
  return *address;
}

std::optional<std::string> gate_text(const std::optional<GateNode>& gate) {
  if (!gate) return std::nullopt;
  return json::serialize(render_gate(*gate));
}

// Stored gates were validated when written; one that no longer parses is a bug, not input.
std::optional<GateNode> stored_gate(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  auto parsed = parse_gate(json::parse(*text));
  if (!parsed) throw std::logic_error("a stored gate does not parse: " + parsed.error().message);
  return std::move(*parsed);
}

void publish_or_throw(Tx& tx, const std::string& topic, const std::string& key, const json::object& payload) {
  bus::NewEvent event{topic, key, json::serialize(payload)};
  auto id = bus::publish(tx, event);
  if (!id) throw std::logic_error("community event refused by the bus: " + id.error().message);
}

// One entry of the audit log, written in the transaction of the action it records.
struct Audit {
  std::string action;
  std::optional<eth::Address> target;
  std::optional<std::string> channel_id;
  std::string reason;
  json::object details;
};

void audit(Tx& tx, const std::string& community_id, const eth::Address& actor, Audit entry, std::int64_t now_ms) {
  sql::insert_audit(
      tx, sql::AuditRow{0, community_id, std::move(entry.action), lower(actor),
                        entry.target ? std::optional(lower(*entry.target)) : std::nullopt, std::move(entry.channel_id),
                        entry.reason.empty() ? std::nullopt : std::optional(std::move(entry.reason)),
                        json::serialize(entry.details), now_ms});
}

json::value gate_json(const std::optional<GateNode>& gate) {
  if (!gate) return nullptr;
  return render_gate(*gate);
}

// A set or list of strings as a JSON array, in its order.
template <class Strings>
json::array string_array(const Strings& items) {
  json::array out;
  for (const auto& s : items) out.push_back(json::string(s));
  return out;
}

// What a transaction knows of a community: its rows with parsed gates.
struct Loaded {
  sql::CommunityRow row;
  std::optional<GateNode> gate;
  std::vector<sql::RoleRow> roles;
  std::map<std::string, GateNode> role_gates;
  std::vector<sql::ChannelRow> channels;
  std::map<std::string, GateNode> channel_gates;
};

Loaded load(Tx& tx, sql::CommunityRow row) {
  Loaded l;
  l.gate = stored_gate(row.gate);
  l.row = std::move(row);
  l.roles = sql::list_roles(tx, l.row.id);
  for (const auto& r : l.roles) {
    if (auto g = stored_gate(r.gate)) l.role_gates.emplace(r.name, std::move(*g));
  }
  l.channels = sql::list_channels(tx, l.row.id);
  for (const auto& c : l.channels) {
    if (auto g = stored_gate(c.gate)) l.channel_gates.emplace(c.id, std::move(*g));
  }
  return l;
}

std::optional<Loaded> load(Tx& tx, const std::string& community_id) {
  auto row = sql::find_community(tx, community_id);
  if (!row) return std::nullopt;
  return load(tx, std::move(*row));
}

// The standing of the member in `row` (none: not a member).
// A member's standing from its row and the names of the roles it holds.
Standing standing_from(const Loaded& c, const sql::MemberRow& row, const std::vector<std::string>& held) {
  Standing s;
  s.member = true;
  s.timed_out_until_ms = row.timed_out_until_ms;
  s.rank = 0;
  s.roles.insert("member");
  s.roles.insert(held.begin(), held.end());
  for (const auto& name : s.roles) {
    if (const auto* b = find_builtin_role(name)) {
      s.rank = std::max(s.rank, b->rank);
      s.permissions |= b->permissions;
      continue;
    }
    auto it = std::find_if(c.roles.begin(), c.roles.end(), [&](const sql::RoleRow& r) { return r.name == name; });
    if (it != c.roles.end()) {
      s.rank = std::max(s.rank, static_cast<int>(it->rank));
      s.permissions |= static_cast<Permissions>(it->permissions);
    }
  }
  return s;
}

Standing member_standing(Tx& tx, const Loaded& c, const std::optional<sql::MemberRow>& row) {
  if (!row) return Standing{};
  std::vector<std::string> held;
  for (auto& r : sql::member_roles(tx, c.row.id, row->account)) held.push_back(std::move(r.role));
  return standing_from(c, *row, held);
}

Standing standing_of(Tx& tx, const Loaded& c, const std::string& account) {
  return member_standing(tx, c, sql::find_member(tx, c.row.id, account));
}

bool readable(const Standing& s, const sql::ChannelRow& ch, const std::set<std::string>& access) {
  if (!s.member) return false;
  if (has(s.permissions, Permission::manage_channels)) return true;
  if (!ch.roles.empty()) {
    const bool any = std::any_of(ch.roles.begin(), ch.roles.end(), [&](const auto& r) { return s.roles.count(r) > 0; });
    if (!any) return false;
  }
  if (ch.gate && access.count(ch.id) == 0) return false;
  return true;
}

// Every channel of the community, as events that reach all its followers name them.
json::array all_channel_ids(const Loaded& c) {
  std::set<std::string> ids;
  for (const auto& ch : c.channels) ids.insert(ch.id);
  return string_array(ids);
}

std::set<std::string> readable_ids(Tx& tx, const Loaded& c, const std::string& account, const Standing& s) {
  std::set<std::string> out;
  if (!s.member || c.channels.empty()) return out;
  const auto access = sql::channel_access(tx, c.row.id, account);
  for (const auto& ch : c.channels) {
    if (readable(s, ch, access)) out.insert(ch.id);
  }
  return out;
}

std::set<std::string> readable_ids(Tx& tx, const Loaded& c, const std::string& account) {
  return readable_ids(tx, c, account, standing_of(tx, c, account));
}

// A channel and an account's standing in it: the per-request check of other contexts, read in
// one round trip (sql::channel_standing_rows), no channel list and no gate parsing.
struct ChannelView {
  sql::ChannelRow channel;
  std::vector<sql::RoleRow> roles;  ///< the community's custom roles
  Standing standing;                ///< empty for a non-member
  std::set<std::string> access;     ///< the channel's id when the account's holdings pass its gate
  std::vector<std::pair<std::string, std::int64_t>> automod;  ///< AutoMod rules' revisions, when asked for
};

std::optional<ChannelView> view_channel(Tx& tx, const std::string& channel_id, const std::string& account,
                                        bool automod = false) {
  auto rows = sql::channel_standing_rows(tx, channel_id, account, automod);
  if (!rows.channel) return std::nullopt;
  ChannelView v;
  v.channel = std::move(*rows.channel);
  v.roles = std::move(rows.roles);
  if (rows.member) {
    Loaded c;
    c.row.id = v.channel.community_id;
    c.roles = v.roles;
    std::vector<std::string> held;
    for (auto& r : rows.member_roles) held.push_back(std::move(r.role));
    v.standing = standing_from(c, *rows.member, held);
  }
  if (rows.access) v.access.insert(v.channel.id);
  v.automod = std::move(rows.automod);
  return v;
}

bool readable(const ChannelView& v) {
  return readable(v.standing, v.channel, v.access);
}

void refresh_gate_contracts(Tx& tx, const std::string& community_id) {
  auto c = load(tx, community_id);
  if (!c) return;
  std::set<HoldingKey> keys;
  if (c->gate) add_holding_keys(*c->gate, keys);
  for (const auto& [name, g] : c->role_gates) add_holding_keys(g, keys);
  for (const auto& [id, g] : c->channel_gates) add_holding_keys(g, keys);
  std::set<std::pair<std::uint64_t, std::string>> contracts;
  for (const auto& k : keys) contracts.emplace(k.chain_id, lower(k.contract));
  sql::replace_gate_contracts(tx, community_id, contracts);
}

// Re-evaluations queued in this transaction: the re-evaluators of every node hear of them through
// the bus once it commits (the node that queued them also wakes its own at once, by queued()), so
// a node that serves the API without running a re-evaluator leaves none of them to a poll.
void publish_queued(Tx& tx, const std::string& community_id) {
  publish_or_throw(tx, std::string(reevaluation_queued_topic), community_id,
                   json::object{{"community_id", community_id}});
}

// A gate set, changed or removed: its contracts are recorded again, and every member and lapsed
// member is queued for the re-evaluator, which looks at them in batches.
void queue_gate_change(Tx& tx, const std::string& community_id, std::int64_t now_ms) {
  refresh_gate_contracts(tx, community_id);
  sql::queue_all(tx, community_id, now_ms);
  publish_queued(tx, community_id);
}

// Publishes community.channel_access_changed when the channels `account` can read differ from
// `before`.
void publish_channel_diff(Tx& tx, const Loaded& c, const std::string& account, const std::set<std::string>& before) {
  const auto after = readable_ids(tx, c, account);
  std::set<std::string> granted, revoked;
  for (const auto& id : after) {
    if (before.count(id) == 0) granted.insert(id);
  }
  for (const auto& id : before) {
    if (after.count(id) == 0) revoked.insert(id);
  }
  if (granted.empty() && revoked.empty()) return;
  std::set<std::string> changed = granted;
  changed.insert(revoked.begin(), revoked.end());
  publish_or_throw(tx, "community.channel_access_changed", c.row.id,
                   json::object{{"community_id", c.row.id},
                                {"account", eth::to_checksum(address_of(account))},
                                {"channel_ids", string_array(changed)},
                                {"granted", string_array(granted)},
                                {"revoked", string_array(revoked)}});
}

// Syncs gate-granted roles and gated-channel access of a member with `holdings`, publishing
// community.role_changed and community.channel_access_changed for what changed. `before` is the
// set of readable channels before the change started (the caller may have changed more).
void sync_member(Tx& tx, const Loaded& c, const std::string& account, const Holdings& holdings,
                 const std::set<std::string>& before, std::int64_t now_ms, bool announce_channels) {
  const auto held = sql::member_roles(tx, c.row.id, account);
  std::set<std::string> added, removed;
  // A role whose gate was taken away is held by gate no more (assignments stay).
  for (const auto& r : held) {
    if (r.source == "gate" && c.role_gates.count(r.role) == 0) {
      sql::remove_member_role(tx, c.row.id, account, r.role, "gate");
      removed.insert(r.role);
    }
  }
  for (const auto& role_gate : c.role_gates) {
    const auto& name = role_gate.first;
    const bool passes = evaluate(role_gate.second, holdings).passed;
    const bool had = std::any_of(held.begin(), held.end(),
                                 [&](const sql::MemberRoleRow& r) { return r.role == name && r.source == "gate"; });
    if (passes && !had) {
      sql::add_member_role(tx, c.row.id, account, name, "gate", now_ms);
      added.insert(name);
    } else if (!passes && had) {
      sql::remove_member_role(tx, c.row.id, account, name, "gate");
      removed.insert(name);
    }
  }
  const auto access = sql::channel_access(tx, c.row.id, account);
  for (const auto& [id, gate] : c.channel_gates) {
    const bool passes = evaluate(gate, holdings).passed;
    if (passes && access.count(id) == 0) sql::grant_access(tx, c.row.id, id, account);
    if (!passes && access.count(id) != 0) sql::revoke_access(tx, id, account);
  }
  const std::string checksummed = eth::to_checksum(address_of(account));
  if (!added.empty() || !removed.empty()) {
    publish_or_throw(tx, "community.role_changed", c.row.id,
                     json::object{{"community_id", c.row.id},
                                  {"account", checksummed},
                                  {"added", string_array(added)},
                                  {"removed", string_array(removed)},
                                  {"reason", "gate"}});
  }
  if (announce_channels) publish_channel_diff(tx, c, account, before);
}

// A member as the members list shows it at `now_ms` (a timeout while it holds).
MemberInfo member_info(Tx& tx, const Loaded& c, const sql::MemberRow& r, std::int64_t now_ms) {
  const auto s = member_standing(tx, c, r);
  MemberInfo m;
  m.account = address_of(r.account);
  m.joined_at = SystemTime(std::chrono::milliseconds(r.joined_ms));
  if (timed_out(s, now_ms)) m.timed_out_until = SystemTime(std::chrono::milliseconds(r.timed_out_until_ms));
  m.nickname = r.nickname;
  m.roles.assign(s.roles.begin(), s.roles.end());
  return m;
}

// Whether the member holds a role by its gate.
bool holds_gate_role(Tx& tx, const std::string& community_id, const std::string& account) {
  const auto held = sql::member_roles(tx, community_id, account);
  return std::any_of(held.begin(), held.end(), [](const sql::MemberRoleRow& r) { return r.source == "gate"; });
}

// `id` when it names a channel of the community that is not archived (where the server may still
// write), else "".
std::string open_channel(const Loaded& c, const std::string& id) {
  const bool open = !id.empty() && std::any_of(c.channels.begin(), c.channels.end(), [&](const sql::ChannelRow& ch) {
    return ch.id == id && !ch.archived_ms;
  });
  return open ? id : std::string();
}

// `welcome_channel`: for a member who joined, the community's system channel, where messaging
// welcomes them.
void publish_membership(Tx& tx, const std::string& topic, const std::string& community_id, const std::string& account,
                        const std::set<std::string>& channel_ids, const std::string& reason,
                        const std::string& welcome_channel = {}) {
  json::object event{{"community_id", community_id},
                     {"account", eth::to_checksum(address_of(account))},
                     {"channel_ids", string_array(channel_ids)},
                     {"reason", reason}};
  if (!welcome_channel.empty()) event["system_channel_id"] = welcome_channel;
  publish_or_throw(tx, topic, community_id, event);
}

// Whether a reader may post messages in the channel: every reader when it names no post roles,
// else holders of one of them and those who manage channels.
bool may_send(const Standing& s, const sql::ChannelRow& ch) {
  if (ch.post_roles.empty() || has(s.permissions, Permission::manage_channels)) return true;
  return std::any_of(ch.post_roles.begin(), ch.post_roles.end(),
                     [&](const std::string& r) { return s.roles.count(r) > 0; });
}

// Whether the community's channel `id` is a forum or a category (where no message is posted: a
// forum takes them in its posts only).
bool holds_no_messages(const Loaded& c, const std::string& id) {
  return std::any_of(c.channels.begin(), c.channels.end(),
                     [&](const sql::ChannelRow& ch) { return ch.id == id && ch.type != ChannelType::text; });
}

ChannelInfo channel_info(const Loaded& c, const sql::ChannelRow& ch, const Standing& s,
                         const std::set<std::string>& access, std::int64_t now_ms) {
  ChannelInfo info;
  info.id = ch.id;
  info.community_id = ch.community_id;
  info.name = ch.name;
  if (auto it = c.channel_gates.find(ch.id); it != c.channel_gates.end()) info.gate = it->second;
  info.roles = ch.roles;
  info.archived = ch.archived_ms.has_value();
  info.created_at = SystemTime(std::chrono::milliseconds(ch.created_ms));
  info.can_read = readable(s, ch, access);
  info.can_post =
      info.can_read && !info.archived && !timed_out(s, now_ms) && may_send(s, ch) && ch.type != ChannelType::category;
  info.slow_mode_seconds = ch.slow_mode_seconds;
  info.topic = ch.topic;
  info.position = ch.position;
  info.post_roles = ch.post_roles;
  info.type = ch.type;
  info.tags = ch.tags;
  info.require_tag = ch.require_tag;
  info.defaults = ch.defaults;
  info.parent_id = ch.parent_id;
  return info;
}

CommunityInfo community_info(Tx& tx, const Loaded& c, const std::string& caller) {
  CommunityInfo info;
  info.id = c.row.id;
  info.slug = c.row.slug;
  info.name = c.row.name;
  info.owner = address_of(c.row.owner);
  info.gate = c.gate;
  info.created_at = SystemTime(std::chrono::milliseconds(c.row.created_ms));
  info.member_count = sql::member_count(tx, c.row.id);
  info.caller = standing_of(tx, c, caller);
  info.system_channel = c.row.system_channel;
  return info;
}

std::set<HoldingKey> all_keys(const Loaded& c) {
  std::set<HoldingKey> keys;
  if (c.gate) add_holding_keys(*c.gate, keys);
  for (const auto& [name, g] : c.role_gates) add_holding_keys(g, keys);
  for (const auto& [id, g] : c.channel_gates) add_holding_keys(g, keys);
  return keys;
}

Error gate_not_satisfied(const Evaluation& e) {
  Error err = forbidden("gate_not_satisfied", "your holdings do not pass the community's gate");
  err.details_json = json::serialize(json::object{{"unmet", render_unmet(e.unmet)}});
  return err;
}

// Whether the actor may act on the target (and roles of `rank`): the owner acts on everyone
// else; others only on those they outrank.
Result<void> check_outranks(const Standing& actor, const Standing& target) {
  if (!outranks(actor, target)) return forbidden("outranked", "you can only act on members below your rank");
  return ok();
}

Result<void> need(const Standing& s, Permission p) {
  if (!s.member) return forbidden("not_member", "join the community first");
  if (!has(s.permissions, p)) {
    return forbidden("missing_permission", fmt::format("this needs the {} permission", to_string(p)));
  }
  return ok();
}

}  // namespace

struct CommunityService::Snapshot {
  Loaded community;
  std::set<HoldingKey> keys;
};

CommunityService::CommunityService(store::Database& db, BlockingPool& pool, const Clock& clock,
                                   HoldingsSource& holdings, std::function<void()> events_published,
                                   CommunitySettings settings, HoldingsSource* reevaluation_holdings)
    : m_db(db),
      m_pool(pool),
      m_clock(clock),
      m_holdings(holdings),
      m_reevaluation_holdings(reevaluation_holdings != nullptr ? *reevaluation_holdings : holdings),
      m_events_published(std::move(events_published)),
      m_settings(settings),
      m_automod(4096, settings.automod_cache_bytes) {}

template <class T, class Change>
Task<Result<T>> CommunityService::change_community(const std::string& community_id, Change change) {
  auto done = co_await m_pool.run([&]() -> Result<T> {
    return m_db.transact([&](Tx& tx) -> Result<T> {
      auto c = load(tx, community_id);
      if (!c) return no_community();
      return change(tx, *c);
    });
  });
  if (done && m_events_published) m_events_published();
  co_return done;
}

template <class T, class Read>
Task<Result<T>> CommunityService::read_community(const std::string& community_id, Read read) {
  co_return co_await m_pool.run([&]() -> Result<T> {
    return m_db.read([&](Tx& tx) -> Result<T> {
      auto c = load(tx, community_id);
      if (!c) return no_community();
      return read(tx, *c);
    });
  });
}

Task<Result<CommunityService::Snapshot>> CommunityService::snapshot(const std::string& community_id) {
  co_return co_await read_community<Snapshot>(community_id, [&](Tx&, Loaded& c) -> Result<Snapshot> {
    Snapshot s;
    s.keys = all_keys(c);
    s.community = std::move(c);
    return s;
  });
}

Task<Result<Holdings>> CommunityService::read_holdings(HoldingsSource& source, const eth::Address& who,
                                                       const Snapshot& s) {
  if (s.keys.empty()) co_return Holdings{};
  std::vector<HoldingKey> keys(s.keys.begin(), s.keys.end());
  co_return co_await source.read(who, std::move(keys));
}

Task<void> CommunityService::watch_gate(const std::optional<GateNode>& gate) {
  if (!gate) co_return;
  const auto keys = holding_keys(*gate);
  std::vector<HoldingKey> list(keys.begin(), keys.end());
  co_await m_reevaluation_holdings.watch(std::move(list));
}

Task<void> CommunityService::gate_changed(const std::optional<GateNode>& gate) {
  co_await watch_gate(gate);
  queued();
}

void CommunityService::queued() const {
  if (m_on_queued) m_on_queued();
}

Result<void> CommunityService::check_chains(const std::optional<GateNode>& gate) const {
  if (!gate) return ok();
  for (const auto& k : holding_keys(*gate)) {
    if (!m_holdings.serves_chain(k.chain_id)) {
      return bad_input("invalid_gate", fmt::format("gate: chain {} is not configured on this server", k.chain_id));
    }
  }
  return ok();
}

// --- communities ---

Task<Result<CommunityInfo>> CommunityService::create_community(const eth::Address& who, NewCommunity spec) {
  auto name = check_name("name", spec.name);
  if (!name) co_return std::move(name).error();
  auto slug = check_slug(spec.slug);
  if (!slug) co_return std::move(slug).error();
  if (auto chains = check_chains(spec.gate); !chains) co_return std::move(chains).error();
  const auto now = unix_millis(m_clock.now());
  const auto owner = lower(who);
  sql::CommunityRow row{new_id("c_"), *slug, *name, owner, gate_text(spec.gate), now, now};
  auto created = co_await m_pool.run([&]() -> Result<CommunityInfo> {
    return m_db.transact([&](Tx& tx) -> Result<CommunityInfo> {
      const auto owned = tx.query_one("SELECT COUNT(*) FROM community_communities WHERE owner = $1", {owner});
      if (static_cast<std::size_t>(owned->get_int(0)) >= m_settings.max_communities_created_per_account) {
        return conflict("too_many_communities", "you own as many communities as allowed");
      }
      if (!sql::insert_community(tx, row)) return conflict("slug_taken", "that slug is taken");
      sql::insert_member(tx, row.id, owner, now);
      sql::add_member_role(tx, row.id, owner, "owner", "manual", now);
      refresh_gate_contracts(tx, row.id);
      publish_membership(tx, "community.member_joined", row.id, owner, {}, "created");
      return community_info(tx, *load(tx, row.id), owner);
    });
  });
  if (created && m_events_published) m_events_published();
  if (created) co_await watch_gate(created->gate);
  co_return created;
}

Task<Result<CommunityInfo>> CommunityService::community(const eth::Address& who, std::string community_id) {
  co_return co_await read_community<CommunityInfo>(
      community_id, [&](Tx& tx, Loaded& c) -> Result<CommunityInfo> { return community_info(tx, c, lower(who)); });
}

Task<Result<std::vector<CommunityInfo>>> CommunityService::my_communities(const eth::Address& who) {
  co_return co_await m_pool.run([&]() -> Result<std::vector<CommunityInfo>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<CommunityInfo>> {
      std::vector<CommunityInfo> out;
      for (auto& row : sql::communities_of(tx, lower(who))) {
        out.push_back(community_info(tx, load(tx, std::move(row)), lower(who)));
      }
      return out;
    });
  });
}

Task<Result<CommunityInfo>> CommunityService::update_community(const eth::Address& who, std::string community_id,
                                                               std::optional<std::string> name,
                                                               std::optional<std::optional<GateNode>> gate,
                                                               std::optional<std::string> system_channel) {
  if (gate) {
    if (auto chains = check_chains(*gate); !chains) co_return std::move(chains).error();
  }
  if (name) {
    auto checked = check_name("name", *name);
    if (!checked) co_return std::move(checked).error();
  }
  const auto now = unix_millis(m_clock.now());
  auto updated =
      co_await change_community<CommunityInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<CommunityInfo> {
        const auto s = standing_of(tx, c, lower(who));
        if (auto allowed = need(s, Permission::manage_community); !allowed) return std::move(allowed).error();
        const std::string new_name = name ? *name : c.row.name;
        const auto new_gate = gate ? gate_text(*gate) : c.row.gate;
        if (system_channel && !system_channel->empty() &&
            std::none_of(c.channels.begin(), c.channels.end(),
                         [&](const sql::ChannelRow& ch) { return ch.id == *system_channel; })) {
          return bad_input("invalid_field", "system_channel names no channel of this community");
        }
        if (system_channel && holds_no_messages(c, *system_channel)) {
          return bad_input("invalid_field",
                           "system_channel must be a text channel: a forum takes posts, a category holds channels");
        }
        const auto new_system = system_channel ? *system_channel : c.row.system_channel;
        sql::update_community(tx, community_id, new_name, new_gate, new_system, now);
        json::object changed;
        if (name) changed["name"] = *name;
        if (gate) changed["gate"] = gate_json(*gate);
        if (system_channel) {
          changed["system_channel"] = text_or_null(*system_channel);
        }
        audit(tx, community_id, who, {"community_update", std::nullopt, std::nullopt, "", std::move(changed)}, now);
        if (gate) queue_gate_change(tx, community_id, now);
        return community_info(tx, *load(tx, community_id), lower(who));
      });
  if (updated && gate) co_await gate_changed(*gate);
  co_return updated;
}

// --- members ---

Task<Result<CommunityInfo>> CommunityService::join(const eth::Address& who, std::string community_id) {
  const auto account = lower(who);
  auto snap = co_await snapshot(community_id);
  if (!snap) co_return std::move(snap).error();
  auto pre = co_await m_pool.run([&]() -> Result<bool> {
    return m_db.read([&](Tx& tx) -> Result<bool> {
      if (sql::is_banned(tx, community_id, account)) return forbidden("banned", "you are banned from this community");
      return sql::is_member(tx, community_id, account);
    });
  });
  if (!pre) co_return std::move(pre).error();
  if (*pre) co_return co_await community(who, community_id);

  auto read = co_await read_holdings(m_holdings, who, *snap);
  // Only the community gate decides a join: when the chain cannot be asked about an ungated
  // community, the member joins and gated roles and channels follow through the re-evaluator.
  // (A plain Holdings, not a Result assigned in place: GCC 12's sanitizer build warns on that.)
  const bool holdings_later = !read;
  if (holdings_later && snap->community.gate) co_return std::move(read).error();
  Holdings holdings;
  if (read) holdings = std::move(*read);
  if (snap->community.gate) {
    auto verdict = evaluate(*snap->community.gate, holdings);
    if (!verdict.passed) co_return gate_not_satisfied(verdict);
  }
  const auto now = unix_millis(m_clock.now());
  auto joined = co_await change_community<CommunityInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<CommunityInfo> {
    if (sql::is_banned(tx, community_id, account)) return forbidden("banned", "you are banned from this community");
    if (sql::insert_member(tx, community_id, account, now)) {
      sql::delete_lapsed(tx, community_id, account);
      if (holdings_later) {
        sql::queue_account(tx, community_id, account, now);
        publish_queued(tx, community_id);
      } else {
        sync_member(tx, c, account, holdings, {}, now, false);
      }
      publish_membership(tx, "community.member_joined", community_id, account, readable_ids(tx, c, account), "joined",
                         open_channel(c, c.row.system_channel));
    }
    return community_info(tx, c, account);
  });
  // Roles and channels by gate follow once the holdings can be read.
  if (joined && holdings_later) queued();
  co_return joined;
}

Task<Result<void>> CommunityService::leave(const eth::Address& who, std::string community_id) {
  const auto account = lower(who);
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    sql::delete_lapsed(tx, community_id, account);
    if (!sql::is_member(tx, community_id, account)) return ok();
    if (c.row.owner == account) return conflict("owner_cannot_leave", "the owner cannot leave the community");
    const auto before = readable_ids(tx, c, account);
    sql::delete_member(tx, community_id, account);
    publish_membership(tx, "community.member_removed", community_id, account, before, "left");
    return ok();
  });
}

namespace {

// A page read with one row more than `limit`: drops the extra row and returns the cursor of the
// next page (the last account kept), or nullopt on the last page.
template <class Row>
std::optional<std::string> trim_page(std::vector<Row>& rows, std::size_t limit) {
  if (rows.size() <= limit) return std::nullopt;
  rows.resize(limit);
  return rows.back().account;
}

}  // namespace

Task<Result<MemberPage>> CommunityService::members(const eth::Address& who, std::string community_id,
                                                   std::string cursor, std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 100);
  const auto now = unix_millis(m_clock.now());
  co_return co_await read_community<MemberPage>(community_id, [&](Tx& tx, Loaded& c) -> Result<MemberPage> {
    if (!sql::is_member(tx, community_id, lower(who))) return forbidden("not_member", "join the community first");
    MemberPage page;
    auto rows = sql::members_page(tx, community_id, cursor, limit + 1);
    page.next_cursor = trim_page(rows, limit);
    for (const auto& r : rows) page.members.push_back(member_info(tx, c, r, now));
    return page;
  });
}

Task<Result<BanPage>> CommunityService::bans(const eth::Address& who, std::string community_id, std::string cursor,
                                             std::size_t limit) {
  limit = std::clamp<std::size_t>(limit, 1, 100);
  co_return co_await read_community<BanPage>(community_id, [&](Tx& tx, Loaded& c) -> Result<BanPage> {
    const auto actor = standing_of(tx, c, lower(who));
    if (auto allowed = need(actor, Permission::ban_members); !allowed) return std::move(allowed).error();
    BanPage page;
    auto rows = sql::bans_page(tx, community_id, cursor, limit + 1);
    page.next_cursor = trim_page(rows, limit);
    for (const auto& r : rows) {
      page.bans.push_back(BanInfo{address_of(r.account), address_of(r.banned_by), r.reason,
                                  SystemTime(std::chrono::milliseconds(r.created_ms))});
    }
    return page;
  });
}

Task<Result<MemberInfo>> CommunityService::set_nickname(const eth::Address& who, std::string community_id,
                                                        const eth::Address& target, std::string nickname) {
  if (!nickname.empty()) {
    auto checked = check_name("nickname", nickname, max_nickname_chars);
    if (!checked) co_return std::move(checked).error();
  }
  const auto now = unix_millis(m_clock.now());
  std::optional<AutomodHit> blocked;
  auto set = co_await change_community<MemberInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<MemberInfo> {
    const auto actor = standing_of(tx, c, lower(who));
    if (!actor.member) return forbidden("not_member", "join the community first");
    if (target == who) {
      if (timed_out(actor, now)) {
        auto e = forbidden("timed_out", "you are timed out in this community");
        e.details_json = json::serialize(
            json::object{{"until", format_rfc3339(SystemTime(std::chrono::milliseconds(actor.timed_out_until_ms)))}});
        return e;
      }
    } else {
      if (auto allowed = need(actor, Permission::manage_nicknames); !allowed) return std::move(allowed).error();
    }
    const auto t = standing_of(tx, c, lower(target));
    if (!t.member) return not_found("no such member");
    if (target != who) {
      if (auto r = check_outranks(actor, t); !r) return std::move(r).error();
    }
    // The community's keyword rules read a name as they read a message (Discord's member profile
    // rule): a scammer's "Support | claim airdrop" is refused as its message would be.
    if (!nickname.empty()) {
      const auto seen = automod_text(nickname);
      for (const auto& rule : automod_for(tx, community_id, "", actor, sql::automod_revisions(tx, community_id))) {
        if (rule->spec.trigger.type != AutomodTrigger::keyword) continue;
        auto matched = rule->matcher.match(seen, 0);
        if (!matched) continue;
        blocked = AutomodHit{rule->id, "keyword", std::move(*matched), nickname};
        const auto& spec = rule->spec;
        auto e = forbidden("automod_blocked", spec.block_message.empty()
                                                  ? "this community's rule \"" + spec.name + "\" blocked the name"
                                                  : spec.block_message);
        e.details_json = json::serialize(json::object{{"rule_id", rule->id}, {"rule_name", spec.name}});
        return e;
      }
    }
    auto row = sql::find_member(tx, community_id, lower(target));
    if (row->nickname != nickname) {
      sql::set_nickname(tx, community_id, lower(target), nickname);
      const auto shown = text_or_null(nickname);
      publish_or_throw(tx, "community.member_updated", community_id,
                       json::object{{"community_id", community_id},
                                    {"account", eth::to_checksum(target)},
                                    {"nickname", shown},
                                    {"channel_ids", all_channel_ids(c)}});
      if (target != who) {
        const auto previous = text_or_null(row->nickname);
        audit(tx, community_id, who,
              {"member_nickname", target, std::nullopt, "", json::object{{"nickname", shown}, {"previous", previous}}},
              now);
      }
      row->nickname = nickname;
    }
    return member_info(tx, c, *row, now);
  });
  if (!set && blocked) {
    // The refused name is recorded as a message's block is, in a transaction of its own (the
    // change's rolled back).
    auto recorded = co_await m_pool.run([&]() -> Result<void> {
      return m_db.transact([&](Tx& tx) -> Result<void> {
        record_block(tx, community_id, std::nullopt, who, *blocked, now);
        return ok();
      });
    });
    if (recorded && m_events_published) m_events_published();
  }
  co_return set;
}

Task<Result<void>> CommunityService::kick(const eth::Address& who, std::string community_id,
                                          const eth::Address& target) {
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    const auto actor = standing_of(tx, c, lower(who));
    if (auto allowed = need(actor, Permission::kick_members); !allowed) return std::move(allowed).error();
    const auto t = standing_of(tx, c, lower(target));
    if (!t.member) return not_found("no such member");
    if (auto r = check_outranks(actor, t); !r) return r;
    const auto before = readable_ids(tx, c, lower(target));
    sql::delete_member(tx, community_id, lower(target));
    sql::delete_lapsed(tx, community_id, lower(target));
    publish_membership(tx, "community.member_removed", community_id, lower(target), before, "kicked");
    audit(tx, community_id, who, {"member_kick", target, std::nullopt, "", {}}, unix_millis(m_clock.now()));
    return ok();
  });
}

namespace {

// Sets (until_ms > 0) or lifts (0) a member's timeout, with the rights that takes.
Result<void> set_member_timeout(Tx& tx, const Loaded& c, const eth::Address& who, const eth::Address& target,
                                std::int64_t until_ms, const std::string& reason, std::int64_t now) {
  const auto actor = standing_of(tx, c, lower(who));
  if (auto allowed = need(actor, Permission::kick_members); !allowed) return std::move(allowed).error();
  const auto t = standing_of(tx, c, lower(target));
  if (!t.member) return not_found("no such member");
  if (auto r = check_outranks(actor, t); !r) return r;
  // Those who manage the community are not timed out (as Discord's administrators); lifting stays
  // possible, for a timeout set before they got that right.
  if (until_ms > 0 && has(t.permissions, Permission::manage_community)) {
    return forbidden("cannot_timeout", "those who manage the community cannot be timed out");
  }
  // Lifting a timeout that is not running changes nothing and says nothing.
  if (until_ms == 0 && t.timed_out_until_ms <= now) return ok();
  sql::set_timeout(tx, c.row.id, lower(target), until_ms);
  json::object event{
      {"community_id", c.row.id},
      {"account", eth::to_checksum(target)},
      {"by", eth::to_checksum(who)},
      {"until", until_ms > 0 ? json::value(format_rfc3339(SystemTime(std::chrono::milliseconds(until_ms))))
                             : json::value(nullptr)}};
  if (!reason.empty()) event["reason"] = reason;
  publish_or_throw(tx, "community.member_timeout", c.row.id, event);
  if (until_ms > 0) {
    audit(tx, c.row.id, who,
          {"member_timeout", target, std::nullopt, reason,
           json::object{{"until", format_rfc3339(SystemTime(std::chrono::milliseconds(until_ms)))}}},
          now);
  } else {
    audit(tx, c.row.id, who, {"member_timeout_remove", target, std::nullopt, "", {}}, now);
  }
  return ok();
}

}  // namespace

Task<Result<SystemTime>> CommunityService::timeout(const eth::Address& who, std::string community_id,
                                                   const eth::Address& target, std::chrono::seconds duration,
                                                   std::string reason) {
  if (auto r = check_text("reason", reason, max_reason_bytes); !r) co_return std::move(r).error();
  if (duration.count() < 1 || duration.count() > max_timeout_seconds) {
    co_return bad_input("invalid_field", "seconds is 1 to " + std::to_string(max_timeout_seconds));
  }
  const auto until = unix_millis(m_clock.now()) + duration.count() * 1000;
  co_return co_await change_community<SystemTime>(community_id, [&](Tx& tx, Loaded& c) -> Result<SystemTime> {
    if (auto r = set_member_timeout(tx, c, who, target, until, reason, unix_millis(m_clock.now())); !r)
      return std::move(r).error();
    return SystemTime(std::chrono::milliseconds(until));
  });
}

Task<Result<void>> CommunityService::lift_timeout(const eth::Address& who, std::string community_id,
                                                  const eth::Address& target) {
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    return set_member_timeout(tx, c, who, target, 0, "", unix_millis(m_clock.now()));
  });
}

Task<Result<void>> CommunityService::ban(const eth::Address& who, std::string community_id, const eth::Address& target,
                                         std::string reason, std::chrono::seconds delete_messages) {
  if (auto r = check_text("reason", reason, max_reason_bytes); !r) co_return std::move(r).error();
  if (delete_messages.count() < 0 || delete_messages > max_ban_message_purge) {
    co_return bad_input("invalid_field",
                        "delete_messages_seconds is 0 to " + std::to_string(max_ban_message_purge.count()));
  }
  const auto now = unix_millis(m_clock.now());
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    const auto actor = standing_of(tx, c, lower(who));
    if (auto allowed = need(actor, Permission::ban_members); !allowed) return std::move(allowed).error();
    if (lower(target) == lower(who)) return bad_input("invalid_target", "you cannot ban yourself");
    const auto t = standing_of(tx, c, lower(target));
    if (t.member) {
      if (auto r = check_outranks(actor, t); !r) return r;
      const auto before = readable_ids(tx, c, lower(target));
      sql::delete_member(tx, community_id, lower(target));
      publish_membership(tx, "community.member_removed", community_id, lower(target), before, "banned");
    }
    sql::delete_lapsed(tx, community_id, lower(target));
    sql::insert_ban(tx, community_id, lower(target), lower(who), reason, now);
    // Every channel of the community, readable or not: what the target wrote anywhere in it.
    std::set<std::string> channels;
    for (const auto& ch : c.channels) channels.insert(ch.id);
    json::object banned{{"community_id", community_id},
                        {"account", eth::to_checksum(target)},
                        {"banned_by", eth::to_checksum(who)},
                        {"channel_ids", string_array(channels)},
                        {"delete_messages_since_ms",
                         delete_messages.count() > 0
                             ? now - std::chrono::duration_cast<std::chrono::milliseconds>(delete_messages).count()
                             : std::int64_t{0}}};
    publish_or_throw(tx, "community.member_banned", community_id, banned);
    audit(tx, community_id, who,
          {"member_ban_add", target, std::nullopt, reason,
           json::object{{"delete_messages_seconds", delete_messages.count()}}},
          now);
    return ok();
  });
}

Task<Result<void>> CommunityService::unban(const eth::Address& who, std::string community_id,
                                           const eth::Address& target) {
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    const auto actor = standing_of(tx, c, lower(who));
    if (auto allowed = need(actor, Permission::ban_members); !allowed) return std::move(allowed).error();
    if (!sql::delete_ban(tx, community_id, lower(target))) return not_found("that account is not banned");
    audit(tx, community_id, who, {"member_ban_remove", target, std::nullopt, "", {}}, unix_millis(m_clock.now()));
    return ok();
  });
}

// --- AutoMod ---

namespace {

Error rule_not_found() {
  return make_error(ErrorKind::not_found, "rule_not_found", "no such rule");
}

AutomodRuleInfo automod_info(const sql::AutomodRow& row) {
  auto spec = stored_automod_rule(row.config);
  if (!spec) throw std::logic_error("a stored automod rule does not parse: " + row.id);
  return AutomodRuleInfo{row.id, std::move(*spec), address_of(row.created_by),
                         SystemTime(std::chrono::milliseconds(row.created_ms)),
                         SystemTime(std::chrono::milliseconds(row.updated_ms))};
}

// 400 unless the rule's exempt roles and channels are the community's.
Result<void> check_exemptions(const Loaded& c, const AutomodRuleSpec& spec) {
  for (const auto& role : spec.exempt_roles) {
    const bool known =
        find_builtin_role(role) != nullptr ||
        std::any_of(c.roles.begin(), c.roles.end(), [&](const sql::RoleRow& r) { return r.name == role; });
    if (!known) return bad_input("invalid_rule", "exempt_roles names no role of this community: " + role);
  }
  for (const auto& id : spec.exempt_channels) {
    const bool known =
        std::any_of(c.channels.begin(), c.channels.end(), [&](const sql::ChannelRow& ch) { return ch.id == id; });
    if (!known) return bad_input("invalid_rule", "exempt_channels names no channel of this community: " + id);
  }
  if (!spec.alert_channel.empty() && std::none_of(c.channels.begin(), c.channels.end(), [&](const sql::ChannelRow& ch) {
        return ch.id == spec.alert_channel;
      })) {
    return bad_input("invalid_rule", "alert_channel names no channel of this community: " + spec.alert_channel);
  }
  if (holds_no_messages(c, spec.alert_channel)) {
    return bad_input("invalid_rule",
                     "alert_channel must be a text channel: a forum takes posts, a category holds channels");
  }
  return ok();
}

}  // namespace

Task<Result<std::vector<AutomodRuleInfo>>> CommunityService::automod_rules(const eth::Address& who,
                                                                           std::string community_id) {
  co_return co_await read_community<std::vector<AutomodRuleInfo>>(
      community_id, [&](Tx& tx, Loaded& c) -> Result<std::vector<AutomodRuleInfo>> {
        const auto s = standing_of(tx, c, lower(who));
        if (auto allowed = need(s, Permission::manage_community); !allowed) return std::move(allowed).error();
        std::vector<AutomodRuleInfo> out;
        for (const auto& row : sql::list_automod(tx, community_id)) out.push_back(automod_info(row));
        return out;
      });
}

Task<Result<AutomodRuleInfo>> CommunityService::create_automod_rule(const eth::Address& who, std::string community_id,
                                                                    AutomodRulePatch patch) {
  auto spec = new_automod_rule(patch);
  if (!spec) co_return spec.error();
  const auto now = unix_millis(m_clock.now());
  co_return co_await change_community<AutomodRuleInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<AutomodRuleInfo> {
    const auto s = standing_of(tx, c, lower(who));
    if (auto allowed = need(s, Permission::manage_community); !allowed) return std::move(allowed).error();
    if (auto r = check_exemptions(c, *spec); !r) return std::move(r).error();
    // Counted under the community's row lock: two creations at once cannot both take the last place.
    sql::lock_community(tx, community_id);
    if (sql::automod_revisions(tx, community_id).size() >= max_automod_rules) {
      return make_error(ErrorKind::conflict, "too_many_rules",
                        "a community has at most " + std::to_string(max_automod_rules) + " AutoMod rules");
    }
    sql::AutomodRow row{new_id("am_"), community_id, json::serialize(render_automod_rule(*spec)), 1, lower(who),
                        now,           now};
    sql::insert_automod(tx, row);
    audit(tx, community_id, who,
          {"automod_rule_create", std::nullopt, std::nullopt, "",
           json::object{{"rule_id", row.id}, {"rule", render_automod_rule(*spec)}}},
          now);
    return automod_info(row);
  });
}

Task<Result<AutomodRuleInfo>> CommunityService::update_automod_rule(const eth::Address& who, std::string community_id,
                                                                    std::string rule_id, AutomodRulePatch patch) {
  const auto now = unix_millis(m_clock.now());
  co_return co_await change_community<AutomodRuleInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<AutomodRuleInfo> {
    const auto s = standing_of(tx, c, lower(who));
    if (auto allowed = need(s, Permission::manage_community); !allowed) return std::move(allowed).error();
    auto row = sql::find_automod(tx, community_id, rule_id);
    if (!row) return rule_not_found();
    const auto current = automod_info(*row);
    auto spec = apply_automod_patch(current.spec, patch);
    if (!spec) return std::move(spec).error();
    if (auto r = check_exemptions(c, *spec); !r) return std::move(r).error();
    row->config = json::serialize(render_automod_rule(*spec));
    if (!sql::update_automod(tx, community_id, rule_id, row->config, now)) return rule_not_found();
    row->revision += 1;
    row->updated_ms = now;
    audit(tx, community_id, who,
          {"automod_rule_update", std::nullopt, std::nullopt, "",
           json::object{{"rule_id", rule_id}, {"rule", render_automod_rule(*spec)}}},
          now);
    return automod_info(*row);
  });
}

Task<Result<void>> CommunityService::delete_automod_rule(const eth::Address& who, std::string community_id,
                                                         std::string rule_id) {
  const auto now = unix_millis(m_clock.now());
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    const auto s = standing_of(tx, c, lower(who));
    if (auto allowed = need(s, Permission::manage_community); !allowed) return std::move(allowed).error();
    auto row = sql::find_automod(tx, community_id, rule_id);
    if (!row) return rule_not_found();
    sql::delete_automod(tx, community_id, rule_id);
    const auto spec = stored_automod_rule(row->config);
    audit(tx, community_id, who,
          {"automod_rule_delete", std::nullopt, std::nullopt, "",
           json::object{{"rule_id", rule_id}, {"name", spec ? spec->name : std::string()}}},
          now);
    return ok();
  });
}

std::vector<std::shared_ptr<const CompiledAutomodRule>> CommunityService::automod_for(Tx& tx,
                                                                                      const std::string& community_id,
                                                                                      const std::string& channel_id,
                                                                                      const Standing& standing,
                                                                                      const Revisions& revisions) {
  std::vector<std::shared_ptr<const CompiledAutomodRule>> out;
  if (has(standing.permissions, Permission::manage_community)) return out;
  for (const auto& [id, revision] : revisions) {
    std::shared_ptr<const CompiledAutomodRule> rule;
    {
      std::lock_guard lock(m_automod_mutex);
      rule = m_automod.find(id);
      if (rule && rule->revision != revision) rule.reset();
    }
    if (!rule) {
      auto row = sql::find_automod(tx, community_id, id);
      if (!row) continue;
      auto spec = stored_automod_rule(row->config);
      if (!spec) continue;
      rule = std::make_shared<const CompiledAutomodRule>(id, row->revision, std::move(*spec));
      // Bounded in rules and in bytes; the least recently used rules go first, and compile again
      // once a post needs them. A newer revision another post compiled meanwhile is kept.
      std::lock_guard lock(m_automod_mutex);
      auto held = m_automod.find(id);
      if (!held || held->revision < rule->revision) m_automod.put(id, rule, rule->matcher.footprint());
    }
    const auto& spec = rule->spec;
    if (!spec.enabled) continue;
    if (std::find(spec.exempt_channels.begin(), spec.exempt_channels.end(), channel_id) != spec.exempt_channels.end())
      continue;
    if (std::any_of(spec.exempt_roles.begin(), spec.exempt_roles.end(),
                    [&](const std::string& r) { return standing.roles.count(r) > 0; }))
      continue;
    out.push_back(std::move(rule));
  }
  return out;
}

Task<Result<void>> CommunityService::automod_blocked(const eth::Address& account, std::string channel_id,
                                                     AutomodHit hit) {
  const auto now = unix_millis(m_clock.now());
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto ch = sql::find_channel(tx, channel_id);
      if (!ch) return ok();
      record_block(tx, ch->community_id, channel_id, account, hit, now);
      return ok();
    });
  });
  if (done && m_events_published) m_events_published();
  co_return done;
}

void CommunityService::record_block(Tx& tx, const std::string& community_id,
                                    const std::optional<std::string>& channel_id, const eth::Address& account,
                                    const AutomodHit& hit, std::int64_t now) {
  const auto row = sql::find_automod(tx, community_id, hit.rule_id);
  const auto spec = row ? stored_automod_rule(row->config) : std::nullopt;
  json::object details{{"rule_id", hit.rule_id},
                       {"rule_name", spec ? spec->name : std::string()},
                       {"trigger", hit.trigger},
                       {"matched", hit.matched}};
  json::object event{{"community_id", community_id},
                     {"channel_id", channel_id ? json::value(*channel_id) : json::value(nullptr)},
                     {"account", eth::to_checksum(account)},
                     {"rule_id", hit.rule_id},
                     {"trigger", hit.trigger},
                     {"matched", hit.matched}};
  if (channel_id && !hit.thread_id.empty()) {
    details["thread_id"] = hit.thread_id;
    event["thread_id"] = hit.thread_id;
  }
  if (!channel_id) {
    // A nickname: the name is refused; no timeout follows (as Discord's member profile rule).
    details["nickname"] = true;
    event["nickname"] = true;
  }
  const auto member = sql::find_member(tx, community_id, lower(account));
  if (channel_id && spec && spec->timeout_seconds > 0 && member) {
    const auto until = std::max(now + spec->timeout_seconds * 1000, member->timed_out_until_ms);
    if (until > member->timed_out_until_ms) {
      sql::set_timeout(tx, community_id, lower(account), until);
      const auto until_text = format_rfc3339(SystemTime(std::chrono::milliseconds(until)));
      publish_or_throw(tx, "community.member_timeout", community_id,
                       json::object{{"community_id", community_id},
                                    {"account", eth::to_checksum(account)},
                                    {"by", nullptr},
                                    {"until", until_text},
                                    {"reason", "AutoMod: " + spec->name},
                                    {"rule_id", hit.rule_id}});
    }
    details["timed_out_until"] = format_rfc3339(SystemTime(std::chrono::milliseconds(until)));
    event["timed_out_until"] = details["timed_out_until"];
  }
  // The rule's alert channel, while it is still one of the community's, gets the block with what
  // was refused (messaging posts it there for the moderators).
  if (spec && !spec->alert_channel.empty()) {
    if (auto alert = sql::find_channel(tx, spec->alert_channel);
        alert && alert->community_id == community_id && !alert->archived_ms) {
      event["alert_channel_id"] = spec->alert_channel;
      event["rule_name"] = spec->name;
      event["content"] = hit.content;
    }
  }
  publish_or_throw(tx, "community.automod_blocked", community_id, event);
  audit(tx, community_id, account, {"automod_block", std::nullopt, channel_id, "", std::move(details)}, now);
}

// --- audit log ---

const std::vector<std::string_view>& audit_actions() {
  static const std::vector<std::string_view> actions{
      "community_update",    "channel_create",      "channel_update",        "role_create",
      "member_role_add",     "member_role_remove",  "member_kick",           "member_ban_add",
      "member_ban_remove",   "member_timeout",      "member_timeout_remove", "message_delete",
      "message_bulk_delete", "message_pin",         "message_unpin",         "automod_rule_create",
      "automod_rule_update", "automod_rule_delete", "automod_block",         "message_report_update",
      "role_update",         "role_delete",         "member_nickname",       "thread_delete",
      "thread_update"};
  return actions;
}

Task<Result<AuditPage>> CommunityService::audit_log(const eth::Address& who, std::string community_id,
                                                    AuditFilter filter) {
  if (filter.action &&
      std::find(audit_actions().begin(), audit_actions().end(), *filter.action) == audit_actions().end()) {
    co_return bad_input("invalid_action", "action is not one the audit log records");
  }
  if (filter.before_id < 0) co_return bad_input("invalid_before", "before is a positive entry id");
  const auto limit = std::clamp<std::size_t>(filter.limit, 1, 100);
  co_return co_await read_community<AuditPage>(community_id, [&](Tx& tx, Loaded& c) -> Result<AuditPage> {
    const auto s = standing_of(tx, c, lower(who));
    if (auto allowed = need(s, Permission::view_audit_log); !allowed) return std::move(allowed).error();
    sql::AuditQuery query{filter.before_id, filter.action,
                          filter.actor ? std::optional(lower(*filter.actor)) : std::nullopt, limit + 1};
    auto rows = sql::audit_page(tx, community_id, query);
    AuditPage page;
    if (rows.size() > limit) {
      rows.pop_back();
      page.next_before = rows.back().id;
    }
    for (auto& r : rows) {
      page.entries.push_back(AuditEntry{r.id, std::move(r.action), address_of(r.actor),
                                        r.target ? std::optional(address_of(*r.target)) : std::nullopt,
                                        std::move(r.channel_id), std::move(r.reason), std::move(r.details),
                                        SystemTime(std::chrono::milliseconds(r.created_ms))});
    }
    return page;
  });
}

void CommunityService::audit_message_event(Tx& tx, const bus::Event& event) {
  boost::system::error_code ec;
  const auto parsed = json::parse(event.payload, ec);
  if (ec || !parsed.is_object()) return;
  const auto& payload = parsed.as_object();
  const auto* channel = payload.if_contains("channel_id");
  if (channel == nullptr || !channel->is_string()) return;
  // A thread's message: the entry is its channel's, naming the thread in its details.
  const auto* parent = payload.if_contains("parent_channel_id");
  const bool in_thread = parent != nullptr && parent->is_string();
  auto ch = sql::find_channel(tx, std::string((in_thread ? parent : channel)->as_string()));
  if (!ch) return;
  const auto with_thread = [&](json::object details) {
    if (in_thread) details["thread_id"] = *channel;
    return details;
  };
  auto address = [&](const char* key) -> std::optional<eth::Address> {
    const auto* v = payload.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    auto found = eth::parse_address(v->as_string());
    if (!found) return std::nullopt;
    return *found;
  };
  if (event.topic == "messaging.thread_deleted") {
    // Its channel is `channel_id`; the entry names the thread and its creator.
    const auto by = address("by");
    const auto* id = payload.if_contains("id");
    const auto* name = payload.if_contains("name");
    if (!by || id == nullptr || !id->is_string() || name == nullptr || !name->is_string()) return;
    // A forum post withdrawn because its first message was refused: no one deleted it.
    if (const auto* withdrawn = payload.if_contains("withdrawn");
        withdrawn != nullptr && withdrawn->is_bool() && withdrawn->as_bool()) {
      return;
    }
    audit(tx, ch->community_id, *by,
          {"thread_delete", address("creator"), ch->id, "", json::object{{"thread_id", *id}, {"name", *name}}},
          event.created_ms);
    return;
  }
  if (event.topic == "messaging.thread_updated") {
    // Only what was done with moderation rights; a creator's changes to its own thread are not.
    const auto* moderation = payload.if_contains("moderation");
    const auto by = address("by");
    const auto* id = payload.if_contains("id");
    const auto* changes = payload.if_contains("changes");
    if (moderation == nullptr || !moderation->is_bool() || !moderation->as_bool() || !by || id == nullptr ||
        !id->is_string() || changes == nullptr || !changes->is_object())
      return;
    json::object details{{"thread_id", *id}};
    if (const auto* name = payload.if_contains("name")) details["name"] = *name;
    for (const auto& [key, value] : changes->as_object()) details[key] = value;
    audit(tx, ch->community_id, *by, {"thread_update", address("creator"), ch->id, "", std::move(details)},
          event.created_ms);
    return;
  }
  if (event.topic == "messaging.messages_bulk_deleted") {
    const auto by = address("deleted_by");
    const auto* seqs = payload.if_contains("seqs");
    if (!by || seqs == nullptr || !seqs->is_array()) return;
    audit(tx, ch->community_id, *by,
          {"message_bulk_delete", std::nullopt, ch->id, "",
           with_thread(json::object{{"count", static_cast<std::int64_t>(seqs->as_array().size())}, {"seqs", *seqs}})},
          event.created_ms);
    return;
  }
  if (event.topic == "messaging.report_updated") {
    const auto by = address("by");
    const auto author = address("author");
    const auto* id = payload.if_contains("report_id");
    const auto* report_seq = payload.if_contains("seq");
    const auto* status = payload.if_contains("status");
    const auto* previous = payload.if_contains("previous");
    if (!by || !author || id == nullptr || report_seq == nullptr || status == nullptr || previous == nullptr) return;
    audit(tx, ch->community_id, *by,
          {"message_report_update", author, ch->id, "",
           with_thread(
               json::object{{"report_id", *id}, {"seq", *report_seq}, {"previous", *previous}, {"status", *status}})},
          event.created_ms);
    return;
  }
  const auto* seq = payload.if_contains("seq");
  const auto* message_id = payload.if_contains("id");
  if (seq == nullptr || message_id == nullptr) return;
  auto details = with_thread(json::object{{"seq", *seq}, {"message_id", *message_id}});
  if (event.topic == "messaging.message_deleted") {
    // A ban's purge is covered by the ban's entry, a bulk delete by its own.
    for (const char* covered : {"purged", "bulk"}) {
      if (const auto* flag = payload.if_contains(covered); flag != nullptr && flag->is_bool() && flag->as_bool())
        return;
    }
    const auto author = address("author");
    const auto by = address("deleted_by");
    if (!author || !by || *author == *by) return;
    audit(tx, ch->community_id, *by, {"message_delete", author, ch->id, "", std::move(details)}, event.created_ms);
  } else if (event.topic == "messaging.message_pinned") {
    const auto by = address("by");
    if (!by) return;
    const auto* pinned_value = payload.if_contains("pinned");
    if (pinned_value == nullptr || !pinned_value->is_bool()) return;
    const bool pinned = pinned_value->as_bool();
    audit(tx, ch->community_id, *by,
          {pinned ? "message_pin" : "message_unpin", std::nullopt, ch->id, "", std::move(details)}, event.created_ms);
  }
}

Task<Result<std::size_t>> CommunityService::prune_audit_log() {
  const auto cutoff = unix_millis(m_clock.now()) -
                      std::chrono::duration_cast<std::chrono::milliseconds>(m_settings.audit_retention).count();
  co_return co_await store::delete_in_batches(
      m_db, m_pool, m_settings.audit_prune_batch,
      [&](Tx& tx, std::size_t limit) { return sql::prune_audit(tx, cutoff, limit); });
}

// --- roles ---

namespace {

// A built-in role as the community shows it: the model's name, rank and permissions, and the display
// the community chose (`displays`, by name).
sql::RoleRow builtin_row(const BuiltinRole& b, const std::map<std::string, sql::RoleRow>& displays) {
  sql::RoleRow row;
  row.name = std::string(b.name);
  row.permissions = static_cast<std::int64_t>(b.permissions);
  row.rank = b.rank;
  if (const auto it = displays.find(row.name); it != displays.end()) {
    row.mentionable = it->second.mentionable;
    row.color = it->second.color;
    row.hoist = it->second.hoist;
  }
  return row;
}

RoleInfo builtin_info(const sql::RoleRow& r) {
  return RoleInfo{r.name,  true,   static_cast<int>(r.rank), static_cast<Permissions>(r.permissions), {}, r.mentionable,
                  r.color, r.hoist};
}

RoleInfo role_info(const Loaded& c, const sql::RoleRow& r) {
  RoleInfo info{r.name,  false,  static_cast<int>(r.rank), static_cast<Permissions>(r.permissions), {}, r.mentionable,
                r.color, r.hoist};
  if (auto it = c.role_gates.find(r.name); it != c.role_gates.end()) info.gate = it->second;
  return info;
}

// A custom role's rank and colour in range (400 invalid_field), and a rank below the actor's (403
// outranked): no one places a role at or above their own.
Result<void> check_role_details(const RoleDetails& d, const Standing& actor) {
  if (d.rank && (*d.rank < min_custom_role_rank || *d.rank > max_custom_role_rank)) {
    return bad_input("invalid_field",
                     fmt::format("rank is an integer from {} to {}", min_custom_role_rank, max_custom_role_rank));
  }
  if (d.color && (*d.color < 0 || *d.color > max_role_color)) {
    return bad_input("invalid_field", "color is an integer from 0 to 16777215 (0xRRGGBB)");
  }
  if (d.rank && *d.rank >= actor.rank) return forbidden("outranked", "a role must rank below your own");
  return ok();
}

void apply_details(sql::RoleRow& row, const RoleDetails& d, json::object& audited) {
  if (d.rank) {
    row.rank = *d.rank;
    audited["rank"] = *d.rank;
  }
  if (d.mentionable) {
    row.mentionable = *d.mentionable;
    audited["mentionable"] = *d.mentionable;
  }
  if (d.color) {
    row.color = *d.color;
    audited["color"] = *d.color;
  }
  if (d.hoist) {
    row.hoist = *d.hoist;
    audited["hoist"] = *d.hoist;
  }
}

// Tells the accounts following the community's channels, on every node, that a role was created,
// changed or deleted (the role_updated frame): its name (and the name it had, after a rename), rank,
// permissions, mentionability and colour.
void publish_role_updated(Tx& tx, const Loaded& c, std::string_view change, const sql::RoleRow& role,
                          const std::string& previous) {
  json::object payload{
      {"community_id", c.row.id}, {"change", change}, {"role", role.name}, {"channel_ids", all_channel_ids(c)}};
  if (!previous.empty() && previous != role.name) payload["previous"] = previous;
  if (change != "deleted") {
    payload["rank"] = role.rank;
    payload["permissions"] = string_array(permission_names(static_cast<Permissions>(role.permissions)));
    payload["mentionable"] = role.mentionable;
    payload["color"] = role.color;
    payload["hoist"] = role.hoist;
  }
  publish_or_throw(tx, "community.role_updated", c.row.id, payload);
}

}  // namespace

Task<Result<std::vector<RoleInfo>>> CommunityService::roles(const eth::Address& who, std::string community_id) {
  co_return co_await read_community<std::vector<RoleInfo>>(
      community_id, [&](Tx& tx, Loaded& c) -> Result<std::vector<RoleInfo>> {
        if (!sql::is_member(tx, community_id, lower(who))) return forbidden("not_member", "join the community first");
        std::vector<RoleInfo> out;
        const auto displays = sql::builtin_role_displays(tx, community_id);
        for (const auto& b : builtin_roles()) out.push_back(builtin_info(builtin_row(b, displays)));
        for (const auto& r : c.roles) out.push_back(role_info(c, r));
        // How many hold each: a row per holding (assigned, gated, the owner's); `member` is everyone.
        const auto counts = sql::role_holder_counts(tx, community_id);
        for (auto& role : out) {
          if (role.name == "member") {
            role.member_count = sql::member_count(tx, community_id);
          } else if (const auto it = counts.find(role.name); it != counts.end()) {
            role.member_count = it->second;
          }
        }
        // The hierarchy, highest first; built-in roles before custom ones of their rank, then by name.
        std::stable_sort(out.begin(), out.end(), [](const RoleInfo& a, const RoleInfo& b) { return a.rank > b.rank; });
        return out;
      });
}

Task<Result<RoleInfo>> CommunityService::create_role(const eth::Address& who, std::string community_id,
                                                     std::string name, Permissions permissions,
                                                     std::optional<GateNode> gate, RoleDetails details) {
  auto checked = check_custom_role_name(name);
  if (!checked) co_return std::move(checked).error();
  if (auto chains = check_chains(gate); !chains) co_return std::move(chains).error();
  const auto now = unix_millis(m_clock.now());
  auto created = co_await change_community<RoleInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<RoleInfo> {
    const auto s = standing_of(tx, c, lower(who));
    if (auto allowed = need(s, Permission::manage_roles); !allowed) return std::move(allowed).error();
    if ((permissions & ~s.permissions) != 0) {
      return forbidden("missing_permission", "a role cannot carry permissions you do not hold");
    }
    // Unless placed, a new role ranks custom_role_rank, or just below a creator ranking lower.
    if (!details.rank) {
      details.rank = std::min(custom_role_rank, s.rank - 1);
      if (*details.rank < min_custom_role_rank) return forbidden("outranked", "a role must rank below your own");
    }
    if (auto r = check_role_details(details, s); !r) return std::move(r).error();
    if (c.roles.size() >= m_settings.max_roles) return conflict("too_many_roles", "the community has enough roles");
    sql::RoleRow row{name, static_cast<std::int64_t>(permissions), gate_text(gate), now};
    json::object audited{
        {"role", name}, {"permissions", string_array(permission_names(permissions))}, {"gate", gate_json(gate)}};
    apply_details(row, details, audited);
    if (!sql::insert_role(tx, community_id, row)) return conflict("role_exists", "a role of that name exists");
    audit(tx, community_id, who, {"role_create", std::nullopt, std::nullopt, "", std::move(audited)}, now);
    if (gate) queue_gate_change(tx, community_id, now);
    publish_role_updated(tx, c, "created", row, "");
    RoleInfo info = role_info(c, row);
    info.gate = gate;
    return info;
  });
  if (created && created->gate) co_await gate_changed(created->gate);
  co_return created;
}

namespace {

// A role to change, and who changes it.
struct RoleEdit {
  sql::RoleRow role;
  Standing actor;
};

// The checks of changing or deleting a role: manage_roles, a custom role that exists, ranking below
// the actor.
Result<RoleEdit> check_role_edit(Tx& tx, const Loaded& c, const std::string& actor_account, const std::string& role) {
  auto actor = standing_of(tx, c, actor_account);
  if (auto allowed = need(actor, Permission::manage_roles); !allowed) return std::move(allowed).error();
  if (find_builtin_role(role) != nullptr) return bad_input("invalid_role", "built-in roles cannot be changed");
  const auto row = std::find_if(c.roles.begin(), c.roles.end(), [&](const sql::RoleRow& r) { return r.name == role; });
  if (row == c.roles.end()) return make_error(ErrorKind::not_found, "role_not_found", "no such role");
  if (row->rank >= actor.rank) return forbidden("outranked", "you can only change roles below your own");
  return RoleEdit{*row, std::move(actor)};
}

// Tells the sockets on every node of what a change to a role may have cost its holders: a
// channel-access event naming no account and every channel of the community, so that each
// subscriber here of those channels is checked again (read access; moderation of report queues).
void publish_role_recheck(Tx& tx, const Loaded& c, const std::string& role) {
  if (c.channels.empty()) return;
  publish_or_throw(tx, "community.channel_access_changed", c.row.id,
                   json::object{{"community_id", c.row.id},
                                {"channel_ids", all_channel_ids(c)},
                                {"granted", json::array{}},
                                {"revoked", json::array{}},
                                {"role", role}});
}

// Every name in `names` that is `from` becomes `to`; true when one did.
bool rename_in(std::vector<std::string>& names, const std::string& from, const std::string& to) {
  bool renamed = false;
  for (auto& n : names) {
    if (n == from) {
      n = to;
      renamed = true;
    }
  }
  return renamed;
}

// Renames a role wherever the community names it: its row and holdings, the channels' roles and
// post roles, and the AutoMod rules' exempt roles (each such rule's revision moves on, so that
// posts read it again). 409 role_exists when the new name is taken.
Result<void> rename_role(Tx& tx, const Loaded& c, const std::string& from, const std::string& to, std::int64_t now_ms) {
  if (std::any_of(c.roles.begin(), c.roles.end(), [&](const sql::RoleRow& r) { return r.name == to; })) {
    return conflict("role_exists", "a role of that name exists");
  }
  sql::rename_role(tx, c.row.id, from, to);
  for (auto ch : c.channels) {
    const bool read = rename_in(ch.roles, from, to);
    const bool post = rename_in(ch.post_roles, from, to);
    if (read || post) sql::update_channel(tx, ch);
  }
  for (const auto& rule : sql::list_automod(tx, c.row.id)) {
    auto spec = stored_automod_rule(rule.config);
    if (spec && rename_in(spec->exempt_roles, from, to)) {
      sql::update_automod(tx, c.row.id, rule.id, json::serialize(render_automod_rule(*spec)), now_ms);
    }
  }
  return ok();
}

}  // namespace

namespace {

// A change to a built-in role (owner, admin, moderator): its display alone (mentionable, color,
// hoist; 400 invalid_role for anything else, and for `member`), by one with manage_roles ranking
// above it, or the owner (403 outranked).
Result<RoleInfo> update_builtin_role(Tx& tx, const Loaded& c, const eth::Address& who, const BuiltinRole& b,
                                     const RoleChange& change, std::int64_t now) {
  const auto actor = standing_of(tx, c, lower(who));
  if (auto allowed = need(actor, Permission::manage_roles); !allowed) return std::move(allowed).error();
  if (b.name == "member") return bad_input("invalid_role", "the member role cannot be changed");
  if (change.name || change.permissions || change.gate || change.details.rank) {
    return bad_input("invalid_role", "a built-in role changes only whether it is mentionable, its color and hoist");
  }
  const auto* owner = find_builtin_role("owner");
  if (b.rank >= actor.rank && actor.rank < owner->rank) {
    return forbidden("outranked", "you can only change roles below your own");
  }
  if (auto r = check_role_details(change.details, actor); !r) return std::move(r).error();
  auto row = builtin_row(b, sql::builtin_role_displays(tx, c.row.id));
  json::object changed{{"role", row.name}};
  apply_details(row, change.details, changed);
  sql::set_builtin_role_display(tx, c.row.id, row);
  audit(tx, c.row.id, who, {"role_update", std::nullopt, std::nullopt, "", std::move(changed)}, now);
  publish_role_updated(tx, c, "updated", row, row.name);
  auto info = builtin_info(row);
  info.member_count = sql::role_holder_count(tx, c.row.id, row.name);
  return info;
}

}  // namespace

Task<Result<RoleInfo>> CommunityService::update_role(const eth::Address& who, std::string community_id,
                                                     std::string name, RoleChange change) {
  if (change.gate) {
    if (auto chains = check_chains(*change.gate); !chains) co_return std::move(chains).error();
  }
  if (change.name) {
    if (auto checked = check_custom_role_name(*change.name); !checked) co_return std::move(checked).error();
  }
  const auto now = unix_millis(m_clock.now());
  auto updated = co_await change_community<RoleInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<RoleInfo> {
    if (const auto* b = find_builtin_role(name)) return update_builtin_role(tx, c, who, *b, change, now);
    auto edit = check_role_edit(tx, c, lower(who), name);
    if (!edit) return std::move(edit).error();
    if (auto r = check_role_details(change.details, edit->actor); !r) return std::move(r).error();
    auto row = edit->role;
    const auto old = static_cast<Permissions>(row.permissions);
    const auto next = change.permissions.value_or(old);
    if ((next & ~old & ~edit->actor.permissions) != 0) {
      return forbidden("missing_permission", "a role cannot gain permissions you do not hold");
    }
    json::object changed{{"role", name}};
    row.permissions = static_cast<std::int64_t>(next);
    if (change.permissions) changed["permissions"] = string_array(permission_names(next));
    if (change.gate) {
      row.gate = gate_text(*change.gate);
      changed["gate"] = gate_json(*change.gate);
    }
    apply_details(row, change.details, changed);
    sql::update_role(tx, community_id, row);
    if (change.name && *change.name != name) {
      if (auto r = rename_role(tx, c, name, *change.name, now); !r) return std::move(r).error();
      row.name = *change.name;
      changed["name"] = row.name;
    }
    audit(tx, community_id, who, {"role_update", std::nullopt, std::nullopt, "", std::move(changed)}, now);
    if (change.gate) {
      // Every member is evaluated again against the new gate, or loses what the old one gave.
      queue_gate_change(tx, community_id, now);
    }
    if (next != old) publish_role_recheck(tx, c, row.name);
    publish_role_updated(tx, c, "updated", row, name);
    RoleInfo info = role_info(c, row);
    info.member_count = sql::role_holder_count(tx, community_id, row.name);
    if (change.gate) {
      info.gate = *change.gate;
    } else if (auto it = c.role_gates.find(name); it != c.role_gates.end()) {
      info.gate = it->second;
    }
    return info;
  });
  if (updated && change.gate) co_await gate_changed(*change.gate);
  co_return updated;
}

Task<Result<void>> CommunityService::delete_role(const eth::Address& who, std::string community_id, std::string name) {
  const auto now = unix_millis(m_clock.now());
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    auto edit = check_role_edit(tx, c, lower(who), name);
    if (!edit) return std::move(edit).error();
    // A channel kept to the role would open to every member without it: the channel changes first.
    std::vector<std::string> users;
    for (const auto& ch : c.channels) {
      const auto names = [&](const std::vector<std::string>& roles) {
        return std::find(roles.begin(), roles.end(), name) != roles.end();
      };
      if (names(ch.roles) || names(ch.post_roles)) users.push_back("channel " + ch.id);
    }
    for (const auto& rule : sql::list_automod(tx, community_id)) {
      const auto spec = stored_automod_rule(rule.config);
      if (spec && std::find(spec->exempt_roles.begin(), spec->exempt_roles.end(), name) != spec->exempt_roles.end()) {
        users.push_back("AutoMod rule " + rule.id);
      }
    }
    if (!users.empty()) {
      std::string list;
      for (const auto& u : users) list += (list.empty() ? "" : ", ") + u;
      return conflict("role_in_use", "the role is named by " + list + "; change those first");
    }
    const bool gated = edit->role.gate.has_value();
    sql::delete_role(tx, community_id, name);
    audit(tx, community_id, who, {"role_delete", std::nullopt, std::nullopt, "", json::object{{"role", name}}}, now);
    if (gated) refresh_gate_contracts(tx, community_id);
    publish_role_recheck(tx, c, name);
    publish_role_updated(tx, c, "deleted", edit->role, "");
    return ok();
  });
}

namespace {

// The checks of assign and unassign: manage_roles, a role that exists and is below the actor,
// a target that is a member and below the actor (or the actor itself for a lower role).
Result<Standing> check_role_change(Tx& tx, const Loaded& c, const std::string& actor_account,
                                   const std::string& target_account, const std::string& role) {
  const auto actor = standing_of(tx, c, actor_account);
  if (auto allowed = need(actor, Permission::manage_roles); !allowed) return std::move(allowed).error();
  int role_rank = 0;
  if (const auto* b = find_builtin_role(role)) {
    if (b->name == "owner" || b->name == "member") {
      return bad_input("invalid_role", fmt::format("the {} role cannot be assigned", role));
    }
    role_rank = b->rank;
  } else {
    const auto row =
        std::find_if(c.roles.begin(), c.roles.end(), [&](const sql::RoleRow& r) { return r.name == role; });
    if (row == c.roles.end()) return not_found("no such role");
    role_rank = static_cast<int>(row->rank);
  }
  if (role_rank >= actor.rank) return forbidden("outranked", "you can only give roles below your own");
  const auto target = standing_of(tx, c, target_account);
  if (!target.member) return not_found("no such member");
  if (target_account != actor_account) {
    if (auto r = check_outranks(actor, target); !r) return std::move(r).error();
  }
  return target;
}

}  // namespace

Task<Result<void>> CommunityService::assign_role(const eth::Address& who, std::string community_id,
                                                 const eth::Address& target, std::string role) {
  const auto now = unix_millis(m_clock.now());
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    auto t = check_role_change(tx, c, lower(who), lower(target), role);
    if (!t) return std::move(t).error();
    const auto before = readable_ids(tx, c, lower(target));
    if (!sql::add_member_role(tx, community_id, lower(target), role, "manual", now)) return ok();
    publish_or_throw(tx, "community.role_changed", community_id,
                     json::object{{"community_id", community_id},
                                  {"account", eth::to_checksum(target)},
                                  {"added", json::array{json::string(role)}},
                                  {"removed", json::array{}},
                                  {"reason", "assigned"}});
    publish_channel_diff(tx, c, lower(target), before);
    audit(tx, community_id, who, {"member_role_add", target, std::nullopt, "", json::object{{"role", role}}}, now);
    return ok();
  });
}

Task<Result<void>> CommunityService::unassign_role(const eth::Address& who, std::string community_id,
                                                   const eth::Address& target, std::string role) {
  co_return co_await change_community<void>(community_id, [&](Tx& tx, Loaded& c) -> Result<void> {
    auto t = check_role_change(tx, c, lower(who), lower(target), role);
    if (!t) return std::move(t).error();
    const auto before = readable_ids(tx, c, lower(target));
    if (!sql::remove_member_role(tx, community_id, lower(target), role, "manual")) {
      return not_found("the member does not hold that role by assignment");
    }
    publish_or_throw(tx, "community.role_changed", community_id,
                     json::object{{"community_id", community_id},
                                  {"account", eth::to_checksum(target)},
                                  {"added", json::array{}},
                                  {"removed", json::array{json::string(role)}},
                                  {"reason", "unassigned"}});
    publish_channel_diff(tx, c, lower(target), before);
    audit(tx, community_id, who, {"member_role_remove", target, std::nullopt, "", json::object{{"role", role}}},
          unix_millis(m_clock.now()));
    return ok();
  });
}

Task<Result<std::vector<eth::Address>>> CommunityService::members_with_role(std::string community_id, std::string role,
                                                                            std::size_t limit) {
  co_return co_await m_pool.run([&]() -> Result<std::vector<eth::Address>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<eth::Address>> {
      std::vector<eth::Address> out;
      if (role == "member") {
        std::string after;
        while (out.size() < limit) {
          const auto page = std::min<std::size_t>(1000, limit - out.size());
          auto rows = sql::members_page(tx, community_id, after, page);
          for (const auto& r : rows) out.push_back(address_of(r.account));
          if (rows.size() < page) break;
          after = rows.back().account;
        }
        return out;
      }
      for (const auto& a : sql::members_with_role(tx, community_id, role, limit)) out.push_back(address_of(a));
      return out;
    });
  });
}

Task<Result<std::vector<eth::Address>>> CommunityService::channel_readers(std::string channel_id,
                                                                          std::vector<eth::Address> accounts) {
  co_return co_await m_pool.run([&]() -> Result<std::vector<eth::Address>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<eth::Address>> {
      std::vector<eth::Address> out;
      std::vector<std::string> lowered;
      lowered.reserve(accounts.size());
      for (const auto& a : accounts) lowered.push_back(lower(a));
      // One read of the channel, the community's roles and, per 500 accounts, who is a member,
      // their roles and their access to a gated channel; never a statement per account.
      auto rows = sql::channel_reader_rows(tx, channel_id, lowered);
      if (!rows.channel) return out;
      const auto& ch = *rows.channel;
      Loaded c;  // the community's roles, read once for every account
      c.row.id = ch.community_id;
      c.roles = std::move(rows.roles);
      const std::set<std::string> access_here{ch.id};
      const std::set<std::string> no_access;
      const std::vector<std::string> no_roles;
      for (std::size_t i = 0; i < accounts.size(); ++i) {
        const auto member = rows.members.find(lowered[i]);
        if (member == rows.members.end()) continue;
        const auto held = rows.member_roles.find(lowered[i]);
        const auto s = standing_from(c, member->second, held == rows.member_roles.end() ? no_roles : held->second);
        const bool granted = ch.gate && rows.access.count(lowered[i]) > 0;
        if (readable(s, ch, granted ? access_here : no_access)) out.push_back(accounts[i]);
      }
      return out;
    });
  });
}

// --- channels ---

namespace {

// A channel's topic: text of at most max_channel_topic_bytes.
Result<void> check_topic(std::string_view topic) {
  return check_text("topic", topic, max_channel_topic_bytes);
}

// A forum's tags and require_tag go with a forum only, and a required tag needs a tag to choose.
Result<void> check_forum(const sql::ChannelRow& row) {
  if (row.type != ChannelType::forum && (!row.tags.empty() || row.require_tag)) {
    return bad_input("invalid_field", "available_tags and require_tag are a forum channel's");
  }
  if (row.require_tag && row.tags.empty()) return bad_input("invalid_field", "require_tag needs a tag to choose");
  if (row.type != ChannelType::forum &&
      (row.defaults.sort_order != ChannelDefaults{}.sort_order || !row.defaults.reaction_emoji.empty())) {
    return bad_input("invalid_field", "default_sort_order and default_reaction_emoji are a forum channel's");
  }
  return check_channel_defaults(row.defaults);
}

// A category holds channels, not messages: it has no topic, slow mode, posting roles or thread
// defaults, and sits in no category. A text channel or a forum sits in a category of its
// community, or in none.
Result<void> check_category(const Loaded& c, const sql::ChannelRow& row) {
  if (row.type == ChannelType::category) {
    if (!row.topic.empty() || row.slow_mode_seconds != 0 || !row.post_roles.empty() ||
        row.defaults.auto_archive_minutes != ChannelDefaults{}.auto_archive_minutes) {
      return bad_input("invalid_field",
                       "a category holds channels: it has no topic, slow mode, post_roles or thread defaults");
    }
    if (!row.parent_id.empty()) return bad_input("invalid_parent", "a category is in no category");
    return ok();
  }
  if (row.parent_id.empty()) return ok();
  const bool found = std::any_of(c.channels.begin(), c.channels.end(), [&](const sql::ChannelRow& ch) {
    return ch.id == row.parent_id && ch.type == ChannelType::category;
  });
  if (!found) return bad_input("invalid_parent", "parent_id names no category of this community");
  return ok();
}

Result<void> check_position(std::int64_t position) {
  if (position < 0 || position > max_channel_position) {
    return bad_input("invalid_field", "position is 0 to " + std::to_string(max_channel_position));
  }
  return ok();
}

Result<void> check_channel_roles(const Loaded& c, const std::vector<std::string>& roles) {
  if (roles.size() > 20) return bad_input("invalid_field", "a channel lists at most 20 roles");
  for (const auto& r : roles) {
    const bool known = find_builtin_role(r) != nullptr ||
                       std::any_of(c.roles.begin(), c.roles.end(), [&](const sql::RoleRow& x) { return x.name == r; });
    if (!known) return bad_input("invalid_role", fmt::format("no role named '{}'", r));
  }
  return ok();
}

}  // namespace

Task<Result<ChannelInfo>> CommunityService::create_channel(const eth::Address& who, std::string community_id,
                                                           NewChannel spec) {
  auto name = check_name("name", spec.name);
  if (!name) co_return std::move(name).error();
  if (auto chains = check_chains(spec.gate); !chains) co_return std::move(chains).error();
  if (auto t = check_topic(spec.topic); !t) co_return std::move(t).error();
  if (auto p = check_position(spec.position); !p) co_return std::move(p).error();
  const auto now = unix_millis(m_clock.now());
  auto created = co_await change_community<ChannelInfo>(community_id, [&](Tx& tx, Loaded& c) -> Result<ChannelInfo> {
    const auto s = standing_of(tx, c, lower(who));
    if (auto allowed = need(s, Permission::manage_channels); !allowed) return std::move(allowed).error();
    if (auto r = check_channel_roles(c, spec.roles); !r) return std::move(r).error();
    if (auto r = check_channel_roles(c, spec.post_roles); !r) return std::move(r).error();
    if (c.channels.size() >= m_settings.max_channels) {
      return conflict("too_many_channels", "the community has enough channels");
    }
    sql::ChannelRow row;
    row.id = new_id("ch_");
    row.community_id = community_id;
    row.name = *name;
    row.gate = gate_text(spec.gate);
    row.roles = spec.roles;
    row.created_ms = now;
    row.topic = spec.topic;
    row.position = spec.position;
    row.post_roles = spec.post_roles;
    row.type = spec.type;
    auto tags = apply_tag_specs(spec.tags, {}, [] { return new_id("tg_"); });
    if (!tags) return std::move(tags).error();
    row.tags = std::move(*tags);
    row.require_tag = spec.require_tag;
    row.defaults = spec.defaults;
    row.parent_id = spec.parent_id;
    if (auto r = check_forum(row); !r) return std::move(r).error();
    if (auto r = check_category(c, row); !r) return std::move(r).error();
    sql::insert_channel(tx, row);
    json::object details{{"name", row.name}, {"roles", string_array(spec.roles)}, {"gate", gate_json(spec.gate)}};
    if (!row.topic.empty()) details["topic"] = row.topic;
    if (row.position != 0) details["position"] = row.position;
    if (!row.post_roles.empty()) details["post_roles"] = string_array(row.post_roles);
    if (row.type == ChannelType::category) details["type"] = to_string(row.type);
    if (!row.parent_id.empty()) details["parent_id"] = row.parent_id;
    if (row.type == ChannelType::forum) {
      details["type"] = to_string(row.type);
      details["available_tags"] = tags_json(row.tags);
      details["require_tag"] = row.require_tag;
      details["default_sort_order"] = row.defaults.sort_order;
      details["default_reaction_emoji"] = text_or_null(row.defaults.reaction_emoji);
    }
    if (row.defaults.auto_archive_minutes != ChannelDefaults{}.auto_archive_minutes) {
      details["default_auto_archive_minutes"] = row.defaults.auto_archive_minutes;
    }
    audit(tx, community_id, who, {"channel_create", std::nullopt, row.id, "", std::move(details)}, now);
    if (spec.gate) queue_gate_change(tx, community_id, now);
    auto reloaded = load(tx, community_id);
    return channel_info(*reloaded, row, s, sql::channel_access(tx, community_id, lower(who)),
                        unix_millis(m_clock.now()));
  });
  if (created && created->gate) co_await gate_changed(created->gate);
  co_return created;
}

Task<Result<std::vector<ChannelInfo>>> CommunityService::channels(const eth::Address& who, std::string community_id) {
  co_return co_await read_community<std::vector<ChannelInfo>>(
      community_id, [&](Tx& tx, Loaded& c) -> Result<std::vector<ChannelInfo>> {
        const auto s = standing_of(tx, c, lower(who));
        if (!s.member) return forbidden("not_member", "join the community first");
        const auto access = sql::channel_access(tx, community_id, lower(who));
        const bool manager = has(s.permissions, Permission::manage_channels);
        std::vector<ChannelInfo> out;
        for (const auto& ch : c.channels) {
          auto info = channel_info(c, ch, s, access, unix_millis(m_clock.now()));
          if (info.can_read || manager) out.push_back(std::move(info));
        }
        return out;
      });
}

Task<Result<ChannelInfo>> CommunityService::channel(const eth::Address& who, std::string channel_id) {
  co_return co_await m_pool.run([&]() -> Result<ChannelInfo> {
    return m_db.read([&](Tx& tx) -> Result<ChannelInfo> {
      auto ch = sql::find_channel(tx, channel_id);
      if (!ch) return no_channel();
      auto c = load(tx, ch->community_id);
      if (!c) return no_channel();
      const auto s = standing_of(tx, *c, lower(who));
      auto info = channel_info(*c, *ch, s, sql::channel_access(tx, c->row.id, lower(who)), unix_millis(m_clock.now()));
      if (!info.can_read) return no_channel();
      return info;
    });
  });
}

Task<Result<ChannelInfo>> CommunityService::update_channel(const eth::Address& who, std::string channel_id,
                                                           ChannelUpdate update) {
  if (update.gate) {
    if (auto chains = check_chains(*update.gate); !chains) co_return std::move(chains).error();
  }
  if (update.name) {
    auto checked = check_name("name", *update.name);
    if (!checked) co_return std::move(checked).error();
  }
  if (update.slow_mode_seconds &&
      (*update.slow_mode_seconds < 0 || *update.slow_mode_seconds > max_slow_mode_seconds)) {
    co_return bad_input("invalid_field", "slow_mode_seconds is 0 to " + std::to_string(max_slow_mode_seconds));
  }
  if (update.topic) {
    if (auto t = check_topic(*update.topic); !t) co_return std::move(t).error();
  }
  if (update.position) {
    if (auto p = check_position(*update.position); !p) co_return std::move(p).error();
  }
  const auto now = unix_millis(m_clock.now());
  auto updated = co_await m_pool.run([&]() -> Result<ChannelInfo> {
    return m_db.transact([&](Tx& tx) -> Result<ChannelInfo> {
      auto ch = sql::find_channel(tx, channel_id);
      if (!ch) return no_channel();
      auto c = load(tx, ch->community_id);
      if (!c) return no_channel();
      const auto s = standing_of(tx, *c, lower(who));
      if (!s.member) return no_channel();
      if (auto allowed = need(s, Permission::manage_channels); !allowed) return std::move(allowed).error();
      if (update.name) ch->name = *update.name;
      if (update.slow_mode_seconds) ch->slow_mode_seconds = *update.slow_mode_seconds;
      if (update.roles) {
        if (auto r = check_channel_roles(*c, *update.roles); !r) return std::move(r).error();
        ch->roles = *update.roles;
      }
      if (update.post_roles) {
        if (auto r = check_channel_roles(*c, *update.post_roles); !r) return std::move(r).error();
        ch->post_roles = *update.post_roles;
      }
      if (update.topic) ch->topic = *update.topic;
      if (update.position) ch->position = *update.position;
      if ((update.tags || update.require_tag) && ch->type != ChannelType::forum) {
        return bad_input("invalid_field", "available_tags and require_tag are a forum channel's");
      }
      if (update.tags) {
        auto tags = apply_tag_specs(*update.tags, ch->tags, [] { return new_id("tg_"); });
        if (!tags) return std::move(tags).error();
        ch->tags = std::move(*tags);
      }
      if (update.require_tag) ch->require_tag = *update.require_tag;
      if (update.default_auto_archive_minutes) ch->defaults.auto_archive_minutes = *update.default_auto_archive_minutes;
      if (update.default_sort_order) ch->defaults.sort_order = *update.default_sort_order;
      if (update.default_reaction_emoji) ch->defaults.reaction_emoji = *update.default_reaction_emoji;
      if (update.parent_id) ch->parent_id = *update.parent_id;
      if (auto r = check_forum(*ch); !r) return std::move(r).error();
      if (auto r = check_category(*c, *ch); !r) return std::move(r).error();
      if (update.archived) {
        if (*update.archived && !ch->archived_ms) ch->archived_ms = now;
        if (!*update.archived) ch->archived_ms.reset();
      }
      if (update.gate) {
        ch->gate = gate_text(*update.gate);
        sql::clear_access(tx, channel_id);
      }
      sql::update_channel(tx, *ch);
      json::object changed;
      if (update.name) changed["name"] = *update.name;
      if (update.slow_mode_seconds) changed["slow_mode_seconds"] = *update.slow_mode_seconds;
      if (update.roles) {
        json::array roles;
        for (const auto& r : *update.roles) roles.emplace_back(r);
        changed["roles"] = std::move(roles);
      }
      if (update.archived) changed["archived"] = *update.archived;
      if (update.gate) changed["gate"] = gate_json(*update.gate);
      if (update.topic) changed["topic"] = *update.topic;
      if (update.position) changed["position"] = *update.position;
      if (update.post_roles) changed["post_roles"] = string_array(*update.post_roles);
      if (update.tags) changed["available_tags"] = tags_json(ch->tags);
      if (update.require_tag) changed["require_tag"] = *update.require_tag;
      if (update.default_auto_archive_minutes) {
        changed["default_auto_archive_minutes"] = *update.default_auto_archive_minutes;
      }
      if (update.default_sort_order) changed["default_sort_order"] = *update.default_sort_order;
      if (update.default_reaction_emoji) {
        changed["default_reaction_emoji"] = text_or_null(*update.default_reaction_emoji);
      }
      if (update.parent_id) changed["parent_id"] = text_or_null(*update.parent_id);
      // Readers' sockets learn what they see of the change (not the gate: membership events follow
      // a gate's change).
      json::object shown = changed;
      shown.erase("gate");
      if (!shown.empty()) {
        publish_or_throw(tx, "community.channel_updated", c->row.id,
                         json::object{{"community_id", c->row.id}, {"channel_id", channel_id}, {"changes", shown}});
      }
      audit(tx, c->row.id, who, {"channel_update", std::nullopt, channel_id, "", std::move(changed)}, now);
      if (update.gate) queue_gate_change(tx, c->row.id, now);
      auto reloaded = load(tx, c->row.id);
      return channel_info(*reloaded, *ch, s, sql::channel_access(tx, c->row.id, lower(who)),
                          unix_millis(m_clock.now()));
    });
  });
  if (updated && m_events_published) m_events_published();
  if (updated && update.gate) co_await gate_changed(*update.gate);
  co_return updated;
}

Task<Result<bool>> CommunityService::can_read_channel(const eth::Address& who, std::string channel_id) {
  co_return co_await m_pool.run([&]() -> Result<bool> {
    return m_db.read([&](Tx& tx) -> Result<bool> {
      const auto v = view_channel(tx, channel_id, lower(who));
      return v && readable(*v);
    });
  });
}

Task<Result<bool>> CommunityService::can_post_channel(const eth::Address& who, std::string channel_id) {
  co_return co_await m_pool.run([&]() -> Result<bool> {
    return m_db.read([&](Tx& tx) -> Result<bool> {
      const auto v = view_channel(tx, channel_id, lower(who));
      if (!v || v->channel.archived_ms) return false;
      return readable(*v) && !timed_out(v->standing, unix_millis(m_clock.now())) && may_send(v->standing, v->channel);
    });
  });
}

Task<Result<bool>> CommunityService::can_pin_channel(const eth::Address& who, std::string channel_id) {
  auto pins = co_await has_channel_permission(who, channel_id, Permission::pin_messages);
  if (!pins || *pins) co_return pins;
  co_return co_await has_channel_permission(who, std::move(channel_id), Permission::manage_messages);
}

Task<Result<bool>> CommunityService::can_moderate_channel(const eth::Address& who, std::string channel_id) {
  co_return co_await has_channel_permission(who, std::move(channel_id), Permission::manage_messages);
}

Task<Result<ChannelPostRules>> CommunityService::post_rules(const eth::Address& who, std::string channel_id,
                                                            bool content) {
  co_return co_await m_pool.run([&]() -> Result<ChannelPostRules> {
    return m_db.read([&](Tx& tx) -> Result<ChannelPostRules> {
      ChannelPostRules rules;
      const auto v = view_channel(tx, channel_id, lower(who), content);
      if (!v || v->channel.archived_ms) return rules;
      const auto* ch = &v->channel;
      rules.community_id = ch->community_id;
      rules.channel_name = ch->name;
      rules.forum = ch->type == ChannelType::forum;
      rules.category = ch->type == ChannelType::category;
      rules.tags = ch->tags;
      rules.require_tag = ch->require_tag;
      rules.default_auto_archive_minutes = ch->defaults.auto_archive_minutes;
      const auto& s = v->standing;
      if (!s.member) return rules;
      rules.can_post = readable(*v);
      rules.can_send = rules.can_post && may_send(s, *ch);
      rules.slow_mode_seconds = ch->slow_mode_seconds;
      rules.exempt = has(s.permissions, Permission::manage_messages);
      if (timed_out(s, unix_millis(m_clock.now()))) rules.timed_out_until_ms = s.timed_out_until_ms;
      if (rules.can_send && content) rules.automod = automod_for(tx, ch->community_id, channel_id, s, v->automod);
      return rules;
    });
  });
}

Task<Result<std::vector<std::string>>> CommunityService::mentionable_roles(const eth::Address& who,
                                                                           std::string channel_id,
                                                                           std::vector<std::string> roles) {
  co_return co_await m_pool.run([&]() -> Result<std::vector<std::string>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      // The community's roles come with it: their permissions and whether they are mentionable.
      const auto v = view_channel(tx, channel_id, lower(who));
      if (!v || !readable(*v)) return out;
      const auto& s = v->standing;
      const bool everyone = has(s.permissions, Permission::mention_everyone);
      std::optional<std::map<std::string, sql::RoleRow>> displays;  // of built-in roles, read once if needed
      for (auto& role : roles) {
        if (!everyone) {
          if (role == "member") continue;
          if (find_builtin_role(role) != nullptr) {
            if (!displays) displays = sql::builtin_role_displays(tx, v->channel.community_id);
            const auto it = displays->find(role);
            if (it != displays->end() && !it->second.mentionable) continue;
          } else {
            const auto it =
                std::find_if(v->roles.begin(), v->roles.end(), [&](const sql::RoleRow& r) { return r.name == role; });
            if (it != v->roles.end() && !it->mentionable) continue;
          }
        }
        out.push_back(std::move(role));
      }
      return out;
    });
  });
}

Task<Result<bool>> CommunityService::has_channel_permission(const eth::Address& who, std::string channel_id,
                                                            Permission permission) {
  co_return co_await m_pool.run([&]() -> Result<bool> {
    return m_db.read([&](Tx& tx) -> Result<bool> {
      const auto v = view_channel(tx, channel_id, lower(who));
      return v && has(v->standing.permissions, permission) && readable(*v);
    });
  });
}

Task<Result<std::vector<std::string>>> CommunityService::readable_channels(const eth::Address& who) {
  co_return co_await m_pool.run([&]() -> Result<std::vector<std::string>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<std::string>> {
      std::vector<std::string> out;
      for (const auto& id : sql::community_ids_of(tx, lower(who))) {
        auto c = load(tx, id);
        if (!c) continue;
        for (const auto& ch : readable_ids(tx, *c, lower(who))) out.push_back(ch);
      }
      return out;
    });
  });
}

Task<Result<std::vector<std::string>>> CommunityService::moderated_channels(const eth::Address& who,
                                                                            std::string community_id) {
  co_return co_await member_channels(who, std::move(community_id), Permission::manage_messages);
}

Task<Result<std::vector<std::string>>> CommunityService::member_channels(const eth::Address& who,
                                                                         std::string community_id,
                                                                         std::optional<Permission> needed) {
  co_return co_await read_community<std::vector<std::string>>(
      community_id, [&](Tx& tx, Loaded& c) -> Result<std::vector<std::string>> {
        const auto s = standing_of(tx, c, lower(who));
        if (!s.member) return forbidden("not_member", "join the community first");
        if (needed) {
          if (auto allowed = need(s, *needed); !allowed) return std::move(allowed).error();
        }
        const auto ids = readable_ids(tx, c, lower(who), s);
        return std::vector<std::string>(ids.begin(), ids.end());
      });
}

Task<Result<std::vector<std::string>>> CommunityService::readable_channels_in(const eth::Address& who,
                                                                              std::string community_id) {
  co_return co_await member_channels(who, std::move(community_id), std::nullopt);
}

Task<Result<std::string>> CommunityService::community_of_channel(std::string channel_id) {
  co_return co_await m_pool.run([&]() -> Result<std::string> {
    return m_db.read([&](Tx& tx) -> Result<std::string> {
      auto ch = sql::find_channel(tx, channel_id);
      if (!ch) return no_channel();
      return ch->community_id;
    });
  });
}

Task<Result<std::map<std::string, ChannelRoleSet>>> CommunityService::roles_in_channels(
    const eth::Address& who, std::vector<std::string> channel_ids) {
  co_return co_await m_pool.run([&]() -> Result<std::map<std::string, ChannelRoleSet>> {
    return m_db.read([&](Tx& tx) -> Result<std::map<std::string, ChannelRoleSet>> {
      const auto account = lower(who);
      std::map<std::string, ChannelRoleSet> out;
      std::map<std::string, ChannelRoleSet> by_community;  // one lookup per community
      for (const auto& id : channel_ids) {
        auto ch = sql::find_channel(tx, id);
        if (!ch) continue;
        auto it = by_community.find(ch->community_id);
        if (it == by_community.end()) {
          ChannelRoleSet held{ch->community_id, {}};
          if (sql::is_member(tx, ch->community_id, account)) {
            held.roles.emplace_back("member");
            for (auto& role : sql::member_roles(tx, ch->community_id, account)) {
              if (std::find(held.roles.begin(), held.roles.end(), role.role) == held.roles.end())
                held.roles.push_back(std::move(role.role));
            }
          }
          it = by_community.emplace(ch->community_id, std::move(held)).first;
        }
        if (!it->second.roles.empty()) out[id] = it->second;
      }
      return out;
    });
  });
}

// --- re-evaluation ---

void CommunityService::keep_gated_chain_events(store::Tx& tx, std::vector<bus::Event>& events) {
  // A batch names few contracts: one lookup each.
  std::map<std::string, bool, std::less<>> keep;  // owns its keys: erase_if moves the events
  for (const auto& event : events) {
    auto [it, fresh] = keep.emplace(event.ordering_key, true);
    if (!fresh) continue;
    if (auto subject = chain::parse_event_ordering_key(event.ordering_key)) {
      it->second = sql::is_gated_contract(tx, subject->chain_id, subject->contract);
    }
  }
  std::erase_if(events, [&](const bus::Event& event) { return !keep.at(event.ordering_key); });
}

void CommunityService::queue_for_chain_event(store::Tx& tx, const bus::Event& event, std::int64_t now_ms) {
  json::value v;
  try {
    v = json::parse(event.payload);
  } catch (const std::exception&) {
    return;  // not ours to judge; the chain context writes these
  }
  const auto* o = v.if_object();
  if (o == nullptr) return;
  const auto* chain = o->if_contains("chain_id");
  const auto* contract = o->if_contains("contract");
  if (chain == nullptr || contract == nullptr || !contract->is_string()) return;
  std::uint64_t chain_id = 0;
  if (chain->is_uint64()) {
    chain_id = chain->as_uint64();
  } else if (chain->is_int64() && chain->as_int64() > 0) {
    chain_id = static_cast<std::uint64_t>(chain->as_int64());
  } else {
    return;
  }
  auto address = eth::parse_address(contract->as_string());
  if (!address) return;
  const auto communities = sql::communities_gated_on(tx, chain_id, lower(*address));
  if (communities.empty()) return;
  if (event.topic == "chain.reverted") {
    // The revert names no accounts: everyone the contract gates is looked at again.
    for (const auto& id : communities) sql::queue_all(tx, id, now_ms);
    return;
  }
  std::vector<std::string> accounts;
  for (const char* field : {"from", "to", "account"}) {
    const auto* a = o->if_contains(field);
    if (a == nullptr || !a->is_string()) continue;
    if (auto parsed = eth::parse_address(a->as_string()); parsed && *parsed != eth::Address{}) {
      accounts.push_back(lower(*parsed));
    }
  }
  for (const auto& id : communities) {
    for (const auto& account : accounts) sql::queue_account(tx, id, account, now_ms);
  }
}

Task<Result<std::size_t>> CommunityService::reevaluate_batch() {
  auto batch = co_await m_pool.run([&]() -> std::vector<sql::Reevaluation> {
    const auto due = unix_millis(m_clock.now());
    return m_db.read([&](Tx& tx) { return sql::next_reevaluations(tx, m_settings.reevaluation_batch, due); });
  });
  if (batch.empty()) co_return std::size_t{0};

  // Holdings are read outside any transaction, one account at a time, per community snapshot.
  std::map<std::string, Snapshot> snapshots;
  std::vector<std::optional<Holdings>> holdings(batch.size());
  std::vector<bool> deferred(batch.size(), false);
  std::size_t unavailable = 0;
  std::optional<Error> last_failure;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const auto& r = batch[i];
    if (snapshots.count(r.community_id) == 0) {
      auto s = co_await snapshot(r.community_id);
      if (!s) {
        if (s.error().kind != ErrorKind::not_found) co_return std::move(s).error();
        continue;  // the community is gone: the entry is dropped below
      }
      snapshots.emplace(r.community_id, std::move(*s));
    }
    auto read = co_await read_holdings(m_reevaluation_holdings, address_of(r.account), snapshots.at(r.community_id));
    // A chain that cannot be asked leaves the account as it is, queued again for later, so one
    // unreachable chain never holds up the rest of the queue.
    if (!read) {
      deferred[i] = true;
      ++unavailable;
      last_failure = std::move(read).error();
      continue;
    }
    holdings[i] = std::move(*read);
  }

  const auto now = unix_millis(m_clock.now());
  auto applied = co_await m_pool.run([&]() -> Result<std::size_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::size_t> {
      std::map<std::string, std::optional<Loaded>> loaded;
      for (std::size_t i = 0; i < batch.size(); ++i) {
        const auto& r = batch[i];
        if (deferred[i]) {
          sql::defer_reevaluation(tx, r, now + static_cast<std::int64_t>(m_settings.reevaluation_retry.count()));
          continue;
        }
        sql::finish_reevaluation(tx, r);
        if (!holdings[i]) continue;
        auto it = loaded.find(r.community_id);
        if (it == loaded.end()) it = loaded.emplace(r.community_id, load(tx, r.community_id)).first;
        if (!it->second) continue;
        const Loaded& c = *it->second;
        const Holdings& h = *holdings[i];
        const bool passes = !c.gate || evaluate(*c.gate, h).passed;
        if (sql::is_member(tx, c.row.id, r.account)) {
          const auto s = standing_of(tx, c, r.account);
          if (!passes && s.rank < staff_rank) {
            const auto before = readable_ids(tx, c, r.account, s);
            sql::delete_member(tx, c.row.id, r.account);
            sql::insert_lapsed(tx, c.row.id, r.account, now);
            publish_membership(tx, "community.member_removed", c.row.id, r.account, before, "gate");
            continue;
          }
          // Without gated roles or channels, nothing else depends on holdings, unless the member
          // still holds a role by a gate since taken away from it.
          if (c.role_gates.empty() && c.channel_gates.empty() && !holds_gate_role(tx, c.row.id, r.account)) continue;
          sync_member(tx, c, r.account, h, readable_ids(tx, c, r.account, s), now, true);
        } else if (sql::is_lapsed(tx, c.row.id, r.account) && passes) {
          sql::delete_lapsed(tx, c.row.id, r.account);
          if (sql::is_banned(tx, c.row.id, r.account)) continue;
          sql::insert_member(tx, c.row.id, r.account, now);
          sync_member(tx, c, r.account, h, {}, now, false);
          publish_membership(tx, "community.member_joined", c.row.id, r.account, readable_ids(tx, c, r.account),
                             "gate_regained");
        }
      }
      return batch.size();
    });
  });
  if (applied && m_events_published) m_events_published();
  if (applied && unavailable == batch.size() && last_failure) co_return std::move(*last_failure);
  co_return applied;
}

Task<Result<std::optional<std::chrono::milliseconds>>> CommunityService::next_reevaluation_in() {
  const auto now = unix_millis(m_clock.now());
  co_return co_await m_pool.run([&]() -> Result<std::optional<std::chrono::milliseconds>> {
    return m_db.read([&](Tx& tx) -> Result<std::optional<std::chrono::milliseconds>> {
      return DueLoop::due_in(sql::next_reevaluation_due(tx), now);
    });
  });
}

Task<Result<std::int64_t>> CommunityService::pending_reevaluations() {
  co_return co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.read([&](Tx& tx) -> Result<std::int64_t> { return sql::queued_reevaluations(tx); });
  });
}

}  // namespace gh::community
