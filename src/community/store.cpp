#include "community/store.hpp"

#include <algorithm>
#include <limits>

#include <boost/json/serialize.hpp>

#include "store/in_list.hpp"
#include "store/text_list.hpp"

namespace gh::community::sql {
namespace {

using gh::store::Row;
using gh::store::Value;

Value opt(const std::optional<std::string>& v) {
  if (v) return *v;
  return nullptr;
}
Value opt(const std::optional<std::int64_t>& v) {
  if (v) return *v;
  return nullptr;
}

constexpr const char* community_columns = "id, slug, name, owner, gate, created_ms, updated_ms, system_channel";

CommunityRow community_of(const Row& r) {
  return CommunityRow{r.get_text(0), r.get_text(1), r.get_text(2), r.get_text(3),
                      r.opt_text(4), r.get_int(5),  r.get_int(6),  r.get_text(7)};
}

constexpr const char* channel_columns =
    "id, community_id, name, gate, roles, archived_ms, created_ms, slow_mode_seconds, topic, position, post_roles, "
    "type, available_tags, require_tag, default_auto_archive_minutes, default_sort_order, default_reaction_emoji, "
    "parent_id";

ChannelRow channel_of(const Row& r) {
  ChannelRow c;
  c.id = r.get_text(0);
  c.community_id = r.get_text(1);
  c.name = r.get_text(2);
  c.gate = r.opt_text(3);
  c.roles = gh::store::split_text_list(r.get_text(4));
  if (!r.is_null(5)) c.archived_ms = r.get_int(5);
  c.created_ms = r.get_int(6);
  c.slow_mode_seconds = r.get_int(7);
  c.topic = r.get_text(8);
  c.position = r.get_int(9);
  c.post_roles = gh::store::split_text_list(r.get_text(10));
  const auto type = parse_channel_type(r.get_text(11));
  c.type = type ? *type : ChannelType::text;
  c.tags = tags_from_text(r.get_text(12));
  c.require_tag = r.get_int(13) != 0;
  c.defaults = ChannelDefaults{r.get_int(14), r.get_text(15), r.get_text(16)};
  c.parent_id = r.get_text(17);
  return c;
}

// A member row with its timeout's end: every read of members, up to its conditions on `m`.
constexpr const char* member_select =
    "SELECT m.account, m.joined_ms, coalesce(t.until_ms, 0), m.nickname FROM community_members m LEFT JOIN "
    "community_timeouts t ON t.community_id = m.community_id AND t.account = m.account WHERE ";

MemberRow member_of(const Row& r) {
  return MemberRow{r.get_text(0), r.get_int(1), r.get_int(2), r.get_text(3)};
}

constexpr const char* role_columns = "name, permissions, gate, created_ms, rank, mentionable, color, hoist";

RoleRow role_of(const Row& r) {
  return RoleRow{r.get_text(0), r.get_int(1),      r.opt_text(2), r.get_int(3),
                 r.get_int(4),  r.get_int(5) != 0, r.get_int(6),  r.get_int(7) != 0};
}

// Accounts per statement of the batched lookups: $1 is the scope (community or channel), then one
// placeholder each.
constexpr std::size_t accounts_per_statement = 500;

std::int64_t as_limit(std::size_t n) {
  return static_cast<std::int64_t>(n);
}

}  // namespace

bool insert_community(Tx& tx, const CommunityRow& row) {
  return tx.exec(
             "INSERT INTO community_communities (id, slug, name, owner, gate, created_ms, updated_ms) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
             {row.id, row.slug, row.name, row.owner, opt(row.gate), row.created_ms, row.updated_ms}) == 1;
}

std::optional<CommunityRow> find_community(Tx& tx, const std::string& id) {
  auto r = tx.query_one(std::string("SELECT ") + community_columns + " FROM community_communities WHERE id = $1", {id});
  if (!r) return std::nullopt;
  return community_of(*r);
}

void update_community(Tx& tx, const std::string& id, const std::string& name, const std::optional<std::string>& gate,
                      const std::string& system_channel, std::int64_t now_ms) {
  tx.exec("UPDATE community_communities SET name = $2, gate = $3, system_channel = $4, updated_ms = $5 WHERE id = $1",
          {id, name, opt(gate), system_channel, now_ms});
}

std::vector<CommunityRow> communities_of(Tx& tx, const std::string& account) {
  std::vector<CommunityRow> out;
  for (const auto& r : tx.query(std::string("SELECT c.id, c.slug, c.name, c.owner, c.gate, c.created_ms, c.updated_ms, "
                                            "c.system_channel "
                                            "FROM community_communities c JOIN community_members m ON m.community_id = "
                                            "c.id WHERE m.account = $1 ORDER BY c.name, c.id"),
                                {account})) {
    out.push_back(community_of(r));
  }
  return out;
}

bool is_member(Tx& tx, const std::string& community_id, const std::string& account) {
  return tx
      .query_one("SELECT 1 FROM community_members WHERE community_id = $1 AND account = $2", {community_id, account})
      .has_value();
}

std::optional<MemberRow> find_member(Tx& tx, const std::string& community_id, const std::string& account) {
  auto r = tx.query_one(std::string(member_select) + "m.community_id = $1 AND m.account = $2", {community_id, account});
  if (!r) return std::nullopt;
  return member_of(*r);
}

void set_nickname(Tx& tx, const std::string& community_id, const std::string& account, const std::string& nickname) {
  tx.exec("UPDATE community_members SET nickname = $3 WHERE community_id = $1 AND account = $2",
          {community_id, account, nickname});
}

void set_timeout(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t until_ms) {
  if (until_ms <= 0) {
    tx.exec("DELETE FROM community_timeouts WHERE community_id = $1 AND account = $2", {community_id, account});
    return;
  }
  tx.exec(
      "INSERT INTO community_timeouts (community_id, account, until_ms) VALUES ($1, $2, $3) "
      "ON CONFLICT (community_id, account) DO UPDATE SET until_ms = excluded.until_ms",
      {community_id, account, until_ms});
}

bool insert_member(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t now_ms) {
  return tx.exec(
             "INSERT INTO community_members (community_id, account, joined_ms) VALUES ($1, $2, $3) ON CONFLICT DO "
             "NOTHING",
             {community_id, account, now_ms}) == 1;
}

bool delete_member(Tx& tx, const std::string& community_id, const std::string& account) {
  const auto n =
      tx.exec("DELETE FROM community_members WHERE community_id = $1 AND account = $2", {community_id, account});
  tx.exec("DELETE FROM community_member_roles WHERE community_id = $1 AND account = $2", {community_id, account});
  tx.exec("DELETE FROM community_channel_access WHERE community_id = $1 AND account = $2", {community_id, account});
  return n == 1;
}

std::int64_t member_count(Tx& tx, const std::string& community_id) {
  return tx.query_one("SELECT COUNT(*) FROM community_members WHERE community_id = $1", {community_id})->get_int(0);
}

std::vector<MemberRow> members_page(Tx& tx, const std::string& community_id, const std::string& after,
                                    std::size_t limit) {
  std::vector<MemberRow> out;
  for (const auto& r :
       tx.query(std::string(member_select) + "m.community_id = $1 AND m.account > $2 ORDER BY m.account LIMIT $3",
                {community_id, after, as_limit(limit)})) {
    out.push_back(member_of(r));
  }
  return out;
}

std::vector<BanRow> bans_page(Tx& tx, const std::string& community_id, const std::string& after, std::size_t limit) {
  std::vector<BanRow> out;
  for (const auto& r :
       tx.query("SELECT account, banned_by, reason, created_ms FROM community_bans WHERE community_id = "
                "$1 AND account > $2 ORDER BY account LIMIT $3",
                {community_id, after, as_limit(limit)})) {
    out.push_back(BanRow{r.get_text(0), r.get_text(1), r.get_text(2), r.get_int(3)});
  }
  return out;
}

bool is_banned(Tx& tx, const std::string& community_id, const std::string& account) {
  return tx.query_one("SELECT 1 FROM community_bans WHERE community_id = $1 AND account = $2", {community_id, account})
      .has_value();
}

void insert_ban(Tx& tx, const std::string& community_id, const std::string& account, const std::string& by,
                const std::string& reason, std::int64_t now_ms) {
  tx.exec(
      "INSERT INTO community_bans (community_id, account, banned_by, reason, created_ms) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT DO NOTHING",
      {community_id, account, by, reason, now_ms});
}

bool delete_ban(Tx& tx, const std::string& community_id, const std::string& account) {
  return tx.exec("DELETE FROM community_bans WHERE community_id = $1 AND account = $2", {community_id, account}) == 1;
}

bool is_lapsed(Tx& tx, const std::string& community_id, const std::string& account) {
  return tx
      .query_one("SELECT 1 FROM community_lapsed WHERE community_id = $1 AND account = $2", {community_id, account})
      .has_value();
}

void insert_lapsed(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t now_ms) {
  tx.exec("INSERT INTO community_lapsed (community_id, account, lapsed_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          {community_id, account, now_ms});
}

void delete_lapsed(Tx& tx, const std::string& community_id, const std::string& account) {
  tx.exec("DELETE FROM community_lapsed WHERE community_id = $1 AND account = $2", {community_id, account});
}

void insert_audit(Tx& tx, const AuditRow& row) {
  tx.exec(
      "INSERT INTO community_audit_log (community_id, action, actor, target, channel_id, reason, details, created_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {row.community_id, row.action, row.actor, opt(row.target), opt(row.channel_id), opt(row.reason), row.details,
       row.created_ms});
}

std::vector<AuditRow> audit_page(Tx& tx, const std::string& community_id, const AuditQuery& query) {
  std::string sql =
      "SELECT id, community_id, action, actor, target, channel_id, reason, details, created_ms FROM "
      "community_audit_log "
      "WHERE community_id = $1 AND id < $2";
  std::vector<Value> params{community_id,
                            query.before_id > 0 ? query.before_id : std::numeric_limits<std::int64_t>::max()};
  if (query.action) {
    params.emplace_back(*query.action);
    sql += " AND action = $" + std::to_string(params.size());
  }
  if (query.actor) {
    params.emplace_back(*query.actor);
    sql += " AND actor = $" + std::to_string(params.size());
  }
  params.emplace_back(as_limit(query.limit));
  sql += " ORDER BY id DESC LIMIT $" + std::to_string(params.size());
  std::vector<AuditRow> out;
  for (const auto& r : tx.query(sql, params)) {
    out.push_back(AuditRow{r.get_int(0), r.get_text(1), r.get_text(2), r.get_text(3), r.opt_text(4), r.opt_text(5),
                           r.opt_text(6), r.get_text(7), r.get_int(8)});
  }
  return out;
}

std::size_t prune_audit(Tx& tx, std::int64_t before_ms, std::size_t limit) {
  const auto n = tx.exec(
      "DELETE FROM community_audit_log WHERE id IN (SELECT id FROM community_audit_log WHERE created_ms < $1 ORDER BY "
      "created_ms LIMIT $2)",
      {before_ms, as_limit(limit)});
  return static_cast<std::size_t>(n);
}

namespace {
constexpr const char* automod_columns = "id, community_id, config, revision, created_by, created_ms, updated_ms";

AutomodRow automod_of(const Row& r) {
  return AutomodRow{r.get_text(0), r.get_text(1), r.get_text(2), r.get_int(3),
                    r.get_text(4), r.get_int(5),  r.get_int(6)};
}
}  // namespace

void lock_community(Tx& tx, const std::string& community_id) {
  tx.exec("UPDATE community_communities SET id = id WHERE id = $1", {community_id});
}

void insert_automod(Tx& tx, const AutomodRow& row) {
  tx.exec(
      "INSERT INTO community_automod_rules (id, community_id, config, revision, created_by, created_ms, updated_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7)",
      {row.id, row.community_id, row.config, row.revision, row.created_by, row.created_ms, row.updated_ms});
}

std::vector<AutomodRow> list_automod(Tx& tx, const std::string& community_id) {
  std::vector<AutomodRow> out;
  for (const auto& r : tx.query(std::string("SELECT ") + automod_columns +
                                    " FROM community_automod_rules WHERE community_id = $1 ORDER BY created_ms, id",
                                {community_id})) {
    out.push_back(automod_of(r));
  }
  return out;
}

std::optional<AutomodRow> find_automod(Tx& tx, const std::string& community_id, const std::string& id) {
  auto r = tx.query_one(
      std::string("SELECT ") + automod_columns + " FROM community_automod_rules WHERE community_id = $1 AND id = $2",
      {community_id, id});
  if (!r) return std::nullopt;
  return automod_of(*r);
}

std::vector<std::pair<std::string, std::int64_t>> automod_revisions(Tx& tx, const std::string& community_id) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& r :
       tx.query("SELECT id, revision FROM community_automod_rules WHERE community_id = $1 ORDER BY created_ms, id",
                {community_id})) {
    out.emplace_back(r.get_text(0), r.get_int(1));
  }
  return out;
}

bool update_automod(Tx& tx, const std::string& community_id, const std::string& id, const std::string& config,
                    std::int64_t now_ms) {
  return tx.exec(
             "UPDATE community_automod_rules SET config = $3, revision = revision + 1, updated_ms = $4 "
             "WHERE community_id = $1 AND id = $2",
             {community_id, id, config, now_ms}) > 0;
}

bool delete_automod(Tx& tx, const std::string& community_id, const std::string& id) {
  return tx.exec("DELETE FROM community_automod_rules WHERE community_id = $1 AND id = $2", {community_id, id}) > 0;
}

bool insert_role(Tx& tx, const std::string& community_id, const RoleRow& row) {
  return tx.exec(
             "INSERT INTO community_roles (community_id, name, permissions, gate, created_ms, rank, mentionable, "
             "color, hoist) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING",
             {community_id, row.name, row.permissions, opt(row.gate), row.created_ms, row.rank,
              std::int64_t{row.mentionable ? 1 : 0}, row.color, std::int64_t{row.hoist ? 1 : 0}}) == 1;
}

std::optional<RoleRow> find_role(Tx& tx, const std::string& community_id, const std::string& name) {
  auto r = tx.query_one(
      std::string("SELECT ") + role_columns + " FROM community_roles WHERE community_id = $1 AND name = $2",
      {community_id, name});
  if (!r) return std::nullopt;
  return role_of(*r);
}

void update_role(Tx& tx, const std::string& community_id, const RoleRow& row) {
  tx.exec(
      "UPDATE community_roles SET permissions = $3, gate = $4, rank = $5, mentionable = $6, color = $7, hoist = $8 "
      "WHERE community_id = $1 AND name = $2",
      {community_id, row.name, row.permissions, opt(row.gate), row.rank, std::int64_t{row.mentionable ? 1 : 0},
       row.color, std::int64_t{row.hoist ? 1 : 0}});
}

void rename_role(Tx& tx, const std::string& community_id, const std::string& from, const std::string& to) {
  tx.exec("UPDATE community_roles SET name = $3 WHERE community_id = $1 AND name = $2", {community_id, from, to});
  tx.exec("UPDATE community_member_roles SET role = $3 WHERE community_id = $1 AND role = $2",
          {community_id, from, to});
}

void delete_role(Tx& tx, const std::string& community_id, const std::string& name) {
  tx.exec("DELETE FROM community_member_roles WHERE community_id = $1 AND role = $2", {community_id, name});
  tx.exec("DELETE FROM community_roles WHERE community_id = $1 AND name = $2", {community_id, name});
}

std::vector<RoleRow> list_roles(Tx& tx, const std::string& community_id) {
  std::vector<RoleRow> out;
  for (const auto& r :
       tx.query(std::string("SELECT ") + role_columns + " FROM community_roles WHERE community_id = $1 ORDER BY name",
                {community_id})) {
    out.push_back(role_of(r));
  }
  return out;
}

std::map<std::string, RoleRow> builtin_role_displays(Tx& tx, const std::string& community_id) {
  std::map<std::string, RoleRow> out;
  for (const auto& r : tx.query(
           "SELECT name, mentionable, color, hoist FROM community_builtin_roles WHERE community_id = $1 ORDER BY name",
           {community_id})) {
    RoleRow row;
    row.name = r.get_text(0);
    row.mentionable = r.get_int(1) != 0;
    row.color = r.get_int(2);
    row.hoist = r.get_int(3) != 0;
    out.emplace(row.name, std::move(row));
  }
  return out;
}

void set_builtin_role_display(Tx& tx, const std::string& community_id, const RoleRow& row) {
  tx.exec(
      "INSERT INTO community_builtin_roles (community_id, name, mentionable, color, hoist) VALUES ($1, $2, $3, $4, $5) "
      "ON CONFLICT (community_id, name) DO UPDATE SET mentionable = excluded.mentionable, color = excluded.color, "
      "hoist = excluded.hoist",
      {community_id, row.name, std::int64_t{row.mentionable ? 1 : 0}, row.color, std::int64_t{row.hoist ? 1 : 0}});
}

std::vector<MemberRoleRow> member_roles(Tx& tx, const std::string& community_id, const std::string& account) {
  std::vector<MemberRoleRow> out;
  for (const auto& r : tx.query("SELECT role, source FROM community_member_roles WHERE community_id = $1 AND account = "
                                "$2 ORDER BY role, source",
                                {community_id, account})) {
    out.push_back(MemberRoleRow{r.get_text(0), r.get_text(1)});
  }
  return out;
}

bool add_member_role(Tx& tx, const std::string& community_id, const std::string& account, const std::string& role,
                     const std::string& source, std::int64_t now_ms) {
  return tx.exec(
             "INSERT INTO community_member_roles (community_id, account, role, source, created_ms) VALUES ($1, $2, "
             "$3, $4, $5) ON CONFLICT DO NOTHING",
             {community_id, account, role, source, now_ms}) == 1;
}

bool remove_member_role(Tx& tx, const std::string& community_id, const std::string& account, const std::string& role,
                        const std::string& source) {
  return tx.exec(
             "DELETE FROM community_member_roles WHERE community_id = $1 AND account = $2 AND role = $3 AND source = "
             "$4",
             {community_id, account, role, source}) == 1;
}

std::map<std::string, std::int64_t> role_holder_counts(Tx& tx, const std::string& community_id) {
  std::map<std::string, std::int64_t> out;
  for (const auto& r :
       tx.query("SELECT role, COUNT(DISTINCT account) FROM community_member_roles WHERE community_id = $1 "
                "GROUP BY role",
                {community_id})) {
    out.emplace(r.get_text(0), r.get_int(1));
  }
  return out;
}

std::int64_t role_holder_count(Tx& tx, const std::string& community_id, const std::string& role) {
  auto r =
      tx.query_one("SELECT COUNT(DISTINCT account) FROM community_member_roles WHERE community_id = $1 AND role = $2",
                   {community_id, role});
  return r ? r->get_int(0) : 0;
}

std::vector<std::string> members_with_role(Tx& tx, const std::string& community_id, const std::string& role,
                                           std::size_t limit) {
  std::vector<std::string> out;
  const auto bounded = static_cast<std::int64_t>(std::min<std::size_t>(limit, INT64_MAX));
  for (const auto& r :
       tx.query("SELECT DISTINCT account FROM community_member_roles WHERE community_id = $1 AND role = "
                "$2 ORDER BY account LIMIT $3",
                {community_id, role, bounded})) {
    out.push_back(r.get_text(0));
  }
  return out;
}

void insert_channel(Tx& tx, const ChannelRow& row) {
  tx.exec(
      "INSERT INTO community_channels (id, community_id, name, gate, roles, archived_ms, created_ms, "
      "slow_mode_seconds, topic, position, post_roles, type, available_tags, require_tag, "
      "default_auto_archive_minutes, "
      "default_sort_order, default_reaction_emoji, parent_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
      "$12, $13, $14, $15, $16, $17, $18)",
      {row.id, row.community_id, row.name, opt(row.gate), gh::store::join_text_list(row.roles), opt(row.archived_ms),
       row.created_ms, row.slow_mode_seconds, row.topic, row.position, gh::store::join_text_list(row.post_roles),
       std::string(to_string(row.type)), boost::json::serialize(tags_json(row.tags)),
       std::int64_t{row.require_tag ? 1 : 0}, row.defaults.auto_archive_minutes, row.defaults.sort_order,
       row.defaults.reaction_emoji, row.parent_id});
}

std::optional<ChannelRow> find_channel(Tx& tx, const std::string& id) {
  auto r = tx.query_one(std::string("SELECT ") + channel_columns + " FROM community_channels WHERE id = $1", {id});
  if (!r) return std::nullopt;
  return channel_of(*r);
}

std::vector<ChannelRow> list_channels(Tx& tx, const std::string& community_id) {
  std::vector<ChannelRow> out;
  for (const auto& r :
       tx.query(std::string("SELECT ") + channel_columns +
                    " FROM community_channels WHERE community_id = $1 ORDER BY position, created_ms, name, id",
                {community_id})) {
    out.push_back(channel_of(r));
  }
  return out;
}

void update_channel(Tx& tx, const ChannelRow& row) {
  tx.exec(
      "UPDATE community_channels SET name = $2, gate = $3, roles = $4, archived_ms = $5, slow_mode_seconds = $6, "
      "topic = $7, position = $8, post_roles = $9, available_tags = $10, require_tag = $11, "
      "default_auto_archive_minutes = $12, default_sort_order = $13, default_reaction_emoji = $14, parent_id = $15 "
      "WHERE id = $1",
      {row.id, row.name, opt(row.gate), gh::store::join_text_list(row.roles), opt(row.archived_ms),
       row.slow_mode_seconds, row.topic, row.position, gh::store::join_text_list(row.post_roles),
       boost::json::serialize(tags_json(row.tags)), std::int64_t{row.require_tag ? 1 : 0},
       row.defaults.auto_archive_minutes, row.defaults.sort_order, row.defaults.reaction_emoji, row.parent_id});
}

std::set<std::string> channel_access(Tx& tx, const std::string& community_id, const std::string& account) {
  std::set<std::string> out;
  for (const auto& r :
       tx.query("SELECT channel_id FROM community_channel_access WHERE community_id = $1 AND account = $2",
                {community_id, account})) {
    out.insert(r.get_text(0));
  }
  return out;
}

namespace {

// The channel $1, and its community's roles, for reads that find the community by the channel.
const std::string& channel_by_id() {
  static const std::string sql = std::string("SELECT ") + channel_columns + " FROM community_channels WHERE id = $1";
  return sql;
}

const std::string& roles_by_channel() {
  static const std::string sql = std::string("SELECT ") + role_columns +
                                 " FROM community_roles WHERE community_id = (SELECT community_id FROM "
                                 "community_channels WHERE id = $1) ORDER BY name";
  return sql;
}

}  // namespace

ChannelStandingRows channel_standing_rows(Tx& tx, const std::string& channel_id, const std::string& account,
                                          bool automod) {
  // Each statement finds the community from the channel, so that none waits for another's answer.
  const auto& channel = channel_by_id();
  static const std::string member = std::string(member_select) +
                                    "m.community_id = (SELECT community_id FROM community_channels WHERE id = $1) "
                                    "AND m.account = $2";
  const auto& roles = roles_by_channel();
  static const std::string member_roles =
      "SELECT role, source FROM community_member_roles WHERE community_id = (SELECT community_id FROM "
      "community_channels WHERE id = $1) AND account = $2 ORDER BY role, source";
  static const std::string access = "SELECT 1 FROM community_channel_access WHERE channel_id = $1 AND account = $2";
  static const std::string revisions =
      "SELECT id, revision FROM community_automod_rules WHERE community_id = (SELECT community_id FROM "
      "community_channels WHERE id = $1) ORDER BY created_ms, id";
  const Value by_channel[] = {channel_id};
  const Value by_account[] = {channel_id, account};
  std::vector<Tx::Statement> statements{{channel, by_channel},
                                        {member, by_account},
                                        {roles, by_channel},
                                        {member_roles, by_account},
                                        {access, by_account}};
  if (automod) statements.push_back({revisions, by_channel});
  const auto rows = tx.query_all(statements);
  ChannelStandingRows out;
  if (rows[0].empty()) return out;
  out.channel = channel_of(rows[0][0]);
  for (const auto& r : rows[2]) out.roles.push_back(role_of(r));
  if (automod) {
    for (const auto& r : rows[5]) out.automod.emplace_back(r.get_text(0), r.get_int(1));
  }
  if (rows[1].empty()) return out;
  const auto& m = rows[1][0];
  out.member = member_of(m);
  for (const auto& r : rows[3]) out.member_roles.push_back(MemberRoleRow{r.get_text(0), r.get_text(1)});
  out.access = !rows[4].empty();
  return out;
}

ChannelReaderRows channel_reader_rows(Tx& tx, const std::string& channel_id, const std::vector<std::string>& accounts) {
  const auto& channel = channel_by_id();
  const auto& roles = roles_by_channel();
  static const std::string community_of = "(SELECT community_id FROM community_channels WHERE id = $1)";
  const Value by_channel[] = {channel_id};
  // Per chunk of accounts: its members, their roles, their access. The texts and parameters live
  // until query_all returns.
  std::vector<std::string> texts;
  std::vector<std::vector<Value>> params;
  const std::size_t chunks = (accounts.size() + accounts_per_statement - 1) / accounts_per_statement;
  texts.reserve(3 * chunks);
  params.reserve(chunks);
  gh::store::for_each_in_list(
      accounts, accounts_per_statement, {channel_id}, [&](const std::string& in_list, const std::vector<Value>& chunk) {
        texts.push_back(std::string(member_select) + "m.community_id = " + community_of + " AND m.account IN (" +
                        in_list + ")");
        texts.push_back("SELECT account, role FROM community_member_roles WHERE community_id = " +
                        std::string(community_of) + " AND account IN (" + in_list + ") ORDER BY account, role");
        texts.push_back("SELECT account FROM community_channel_access WHERE channel_id = $1 AND account IN (" +
                        in_list + ")");
        params.push_back(chunk);
      });
  std::vector<Tx::Statement> statements{{channel, by_channel}, {roles, by_channel}};
  statements.reserve(2 + texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) statements.push_back({texts[i], params[i / 3]});
  const auto rows = tx.query_all(statements);
  ChannelReaderRows out;
  if (rows[0].empty()) return out;
  out.channel = channel_of(rows[0][0]);
  for (const auto& r : rows[1]) out.roles.push_back(role_of(r));
  for (std::size_t i = 2; i + 2 < rows.size(); i += 3) {
    for (const auto& r : rows[i]) {
      auto member = member_of(r);
      out.members.emplace(member.account, std::move(member));
    }
    for (const auto& r : rows[i + 1]) out.member_roles[r.get_text(0)].push_back(r.get_text(1));
    for (const auto& r : rows[i + 2]) out.access.insert(r.get_text(0));
  }
  return out;
}

void grant_access(Tx& tx, const std::string& community_id, const std::string& channel_id, const std::string& account) {
  tx.exec(
      "INSERT INTO community_channel_access (channel_id, account, community_id) VALUES ($1, $2, $3) ON CONFLICT DO "
      "NOTHING",
      {channel_id, account, community_id});
}

void revoke_access(Tx& tx, const std::string& channel_id, const std::string& account) {
  tx.exec("DELETE FROM community_channel_access WHERE channel_id = $1 AND account = $2", {channel_id, account});
}

void clear_access(Tx& tx, const std::string& channel_id) {
  tx.exec("DELETE FROM community_channel_access WHERE channel_id = $1", {channel_id});
}

std::vector<std::string> community_ids_of(Tx& tx, const std::string& account) {
  std::vector<std::string> out;
  for (const auto& r :
       tx.query("SELECT community_id FROM community_members WHERE account = $1 ORDER BY community_id", {account})) {
    out.push_back(r.get_text(0));
  }
  return out;
}

void replace_gate_contracts(Tx& tx, const std::string& community_id,
                            const std::set<std::pair<std::uint64_t, std::string>>& contracts) {
  tx.exec("DELETE FROM community_gate_contracts WHERE community_id = $1", {community_id});
  for (const auto& [chain_id, contract] : contracts) {
    tx.exec("INSERT INTO community_gate_contracts (community_id, chain_id, contract) VALUES ($1, $2, $3)",
            {community_id, static_cast<std::int64_t>(chain_id), contract});
  }
}

std::vector<std::string> communities_gated_on(Tx& tx, std::uint64_t chain_id, const std::string& contract) {
  std::vector<std::string> out;
  for (const auto& r :
       tx.query("SELECT community_id FROM community_gate_contracts WHERE chain_id = $1 AND contract = $2 ORDER BY "
                "community_id",
                {static_cast<std::int64_t>(chain_id), contract})) {
    out.push_back(r.get_text(0));
  }
  return out;
}

bool is_gated_contract(Tx& tx, std::uint64_t chain_id, const std::string& contract) {
  return tx
      .query_one("SELECT 1 FROM community_gate_contracts WHERE chain_id = $1 AND contract = $2 LIMIT 1",
                 {static_cast<std::int64_t>(chain_id), contract})
      .has_value();
}

namespace {
constexpr const char* requeue =
    " ON CONFLICT (community_id, account) DO UPDATE SET due_ms = CASE WHEN excluded.due_ms < "
    "community_reevaluations.due_ms THEN excluded.due_ms ELSE community_reevaluations.due_ms END, version = "
    "community_reevaluations.version + 1";
}

void queue_account(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t now_ms) {
  tx.exec(std::string("INSERT INTO community_reevaluations (community_id, account, due_ms, version) "
                      "SELECT $1, $2, $3, 1 WHERE EXISTS (SELECT 1 FROM community_members WHERE community_id = $1 "
                      "AND account = $2) OR EXISTS (SELECT 1 FROM community_lapsed WHERE community_id = $1 AND "
                      "account = $2)") +
              requeue,
          {community_id, account, now_ms});
}

std::int64_t queue_all(Tx& tx, const std::string& community_id, std::int64_t now_ms) {
  std::int64_t n = tx.exec(std::string("INSERT INTO community_reevaluations (community_id, account, due_ms, version) "
                                       "SELECT community_id, account, $2, 1 FROM community_members WHERE "
                                       "community_id = $1") +
                               requeue,
                           {community_id, now_ms});
  n += tx.exec(std::string("INSERT INTO community_reevaluations (community_id, account, due_ms, version) "
                           "SELECT community_id, account, $2, 1 FROM community_lapsed WHERE community_id = $1") +
                   requeue,
               {community_id, now_ms});
  return n;
}

std::vector<Reevaluation> next_reevaluations(Tx& tx, std::size_t limit, std::int64_t now_ms) {
  std::vector<Reevaluation> out;
  for (const auto& r : tx.query("SELECT community_id, account, due_ms, version FROM community_reevaluations WHERE "
                                "due_ms <= $2 ORDER BY due_ms, community_id, account LIMIT $1",
                                {as_limit(limit), now_ms})) {
    out.push_back(Reevaluation{r.get_text(0), r.get_text(1), r.get_int(2), r.get_int(3)});
  }
  return out;
}

void defer_reevaluation(Tx& tx, const Reevaluation& r, std::int64_t retry_ms) {
  tx.exec("UPDATE community_reevaluations SET due_ms = $4 WHERE community_id = $1 AND account = $2 AND version = $3",
          {r.community_id, r.account, r.version, retry_ms});
}

void finish_reevaluation(Tx& tx, const Reevaluation& r) {
  tx.exec("DELETE FROM community_reevaluations WHERE community_id = $1 AND account = $2 AND version = $3",
          {r.community_id, r.account, r.version});
}

std::optional<std::int64_t> next_reevaluation_due(Tx& tx) {
  auto row = tx.query_one("SELECT min(due_ms) FROM community_reevaluations");
  if (!row || row->is_null(0)) return std::nullopt;
  return row->get_int(0);
}

std::int64_t queued_reevaluations(Tx& tx) {
  return tx.query_one("SELECT COUNT(*) FROM community_reevaluations")->get_int(0);
}

}  // namespace gh::community::sql
