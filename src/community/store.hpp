#pragma once
// Every SQL statement of the community context (tables community_*), on a caller's transaction.
// Addresses are lowercase hex here; gates their canonical JSON text.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "community/model.hpp"
#include "store/database.hpp"

namespace gh::community::sql {

using gh::store::Tx;

struct CommunityRow {
  std::string id;
  std::string slug;
  std::string name;
  std::string owner;
  std::optional<std::string> gate;
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
  std::string system_channel{};  ///< where new members are welcomed; empty: nowhere
};

struct ChannelRow {
  std::string id;
  std::string community_id;
  std::string name;
  std::optional<std::string> gate;
  std::vector<std::string> roles;  ///< empty: every member
  std::optional<std::int64_t> archived_ms;
  std::int64_t created_ms = 0;
  std::int64_t slow_mode_seconds = 0;
  std::string topic{};
  std::int64_t position = 0;
  std::vector<std::string> post_roles{};  ///< roles that may post messages; empty: every reader
  ChannelType type = ChannelType::text;   ///< fixed at creation
  std::vector<ForumTag> tags{};           ///< a forum's tags
  bool require_tag = false;               ///< a forum's posts carry at least one tag
  ChannelDefaults defaults{};
  std::string parent_id{};  ///< the category it is in; empty: none
};

struct RoleRow {
  std::string name;
  std::int64_t permissions = 0;
  std::optional<std::string> gate;
  std::int64_t created_ms = 0;
  std::int64_t rank = 20;  ///< custom_role_rank unless set
  bool mentionable = true;
  std::int64_t color = 0;
  bool hoist = false;
};

struct MemberRoleRow {
  std::string role;
  std::string source;  ///< "manual" or "gate"
};

struct MemberRow {
  std::string account;
  std::int64_t joined_ms = 0;
  std::int64_t timed_out_until_ms = 0;  ///< a timeout's end (unix ms); 0: none set (or lifted)
  std::string nickname{};               ///< empty: none
};

struct BanRow {
  std::string account;
  std::string banned_by;
  std::string reason;
  std::int64_t created_ms = 0;
};

/// An entry of the audit log.
struct AuditRow {
  std::int64_t id = 0;
  std::string community_id;
  std::string action;
  std::string actor;  ///< lowercase hex
  std::optional<std::string> target;
  std::optional<std::string> channel_id;
  std::optional<std::string> reason;
  std::string details;  ///< a JSON object
  std::int64_t created_ms = 0;
};

/// An AutoMod rule as stored.
struct AutomodRow {
  std::string id;
  std::string community_id;
  std::string config;  ///< render_automod_rule's JSON
  std::int64_t revision = 0;
  std::string created_by;  ///< lowercase hex
  std::int64_t created_ms = 0;
  std::int64_t updated_ms = 0;
};

/// Which entries of a community's audit log: below `before_id` (0: from the newest), of one action
/// and one actor when given.
struct AuditQuery {
  std::int64_t before_id = 0;
  std::optional<std::string> action;
  std::optional<std::string> actor;
  std::size_t limit = 50;
};

/// A queued re-evaluation.
struct Reevaluation {
  std::string community_id;
  std::string account;
  std::int64_t due_ms = 0;
  std::int64_t version = 0;
};

// communities
/// False when the slug is taken.
bool insert_community(Tx& tx, const CommunityRow& row);
std::optional<CommunityRow> find_community(Tx& tx, const std::string& id);
void update_community(Tx& tx, const std::string& id, const std::string& name, const std::optional<std::string>& gate,
                      const std::string& system_channel, std::int64_t now_ms);
/// Communities `account` is a member of, by name.
std::vector<CommunityRow> communities_of(Tx& tx, const std::string& account);

// members
bool is_member(Tx& tx, const std::string& community_id, const std::string& account);
/// The member's row, if a member.
std::optional<MemberRow> find_member(Tx& tx, const std::string& community_id, const std::string& account);
/// Sets (a unix ms) or clears (0) an account's timeout in the community.
void set_timeout(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t until_ms);
/// False when already a member.
bool insert_member(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t now_ms);
/// Sets a member's nickname ("" for none).
void set_nickname(Tx& tx, const std::string& community_id, const std::string& account, const std::string& nickname);
/// Removes the member with its roles and channel access; false when not a member.
bool delete_member(Tx& tx, const std::string& community_id, const std::string& account);
std::int64_t member_count(Tx& tx, const std::string& community_id);
/// Members in account order after `after` (exclusive).
std::vector<MemberRow> members_page(Tx& tx, const std::string& community_id, const std::string& after,
                                    std::size_t limit);

// bans and lapses
bool is_banned(Tx& tx, const std::string& community_id, const std::string& account);
void insert_ban(Tx& tx, const std::string& community_id, const std::string& account, const std::string& by,
                const std::string& reason, std::int64_t now_ms);
bool delete_ban(Tx& tx, const std::string& community_id, const std::string& account);
/// Up to `limit` bans of the community after account `after`, in account order.
std::vector<BanRow> bans_page(Tx& tx, const std::string& community_id, const std::string& after, std::size_t limit);
bool is_lapsed(Tx& tx, const std::string& community_id, const std::string& account);
void insert_lapsed(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t now_ms);
void delete_lapsed(Tx& tx, const std::string& community_id, const std::string& account);

// roles
void insert_audit(Tx& tx, const AuditRow& row);
/// Newest first.
std::vector<AuditRow> audit_page(Tx& tx, const std::string& community_id, const AuditQuery& query);
/// Deletes up to `limit` entries older than `before_ms`; returns how many.
std::size_t prune_audit(Tx& tx, std::int64_t before_ms, std::size_t limit);

// AutoMod rules
/// Locks the community's row until the transaction ends (serialises changes that count rows).
void lock_community(Tx& tx, const std::string& community_id);
void insert_automod(Tx& tx, const AutomodRow& row);
/// The community's rules, oldest first.
std::vector<AutomodRow> list_automod(Tx& tx, const std::string& community_id);
std::optional<AutomodRow> find_automod(Tx& tx, const std::string& community_id, const std::string& id);
/// Each rule of the community with its revision (what post rules read per message).
std::vector<std::pair<std::string, std::int64_t>> automod_revisions(Tx& tx, const std::string& community_id);
/// Replaces the rule's config and moves its revision on; false when there is no such rule.
bool update_automod(Tx& tx, const std::string& community_id, const std::string& id, const std::string& config,
                    std::int64_t now_ms);
bool delete_automod(Tx& tx, const std::string& community_id, const std::string& id);

bool insert_role(Tx& tx, const std::string& community_id, const RoleRow& row);
std::optional<RoleRow> find_role(Tx& tx, const std::string& community_id, const std::string& name);
/// Stores a role's permissions, gate, rank, mentionable and colour (by its name).
void update_role(Tx& tx, const std::string& community_id, const RoleRow& row);
/// Renames a role with its holdings (channels and rules naming it are the caller's).
void rename_role(Tx& tx, const std::string& community_id, const std::string& from, const std::string& to);
/// Deletes a role and every holding of it.
void delete_role(Tx& tx, const std::string& community_id, const std::string& name);
std::vector<RoleRow> list_roles(Tx& tx, const std::string& community_id);
/// The display the community chose for built-in roles (name, mentionable, color, hoist), by name;
/// a role it never changed is not there.
std::map<std::string, RoleRow> builtin_role_displays(Tx& tx, const std::string& community_id);
/// Stores a built-in role's mentionable, color and hoist.
void set_builtin_role_display(Tx& tx, const std::string& community_id, const RoleRow& row);
std::vector<MemberRoleRow> member_roles(Tx& tx, const std::string& community_id, const std::string& account);
/// False when already held from that source.
bool add_member_role(Tx& tx, const std::string& community_id, const std::string& account, const std::string& role,
                     const std::string& source, std::int64_t now_ms);
bool remove_member_role(Tx& tx, const std::string& community_id, const std::string& account, const std::string& role,
                        const std::string& source);
/// How many accounts hold each role by a row (by assignment or by gate), by role name.
std::map<std::string, std::int64_t> role_holder_counts(Tx& tx, const std::string& community_id);
/// How many accounts hold `role` by a row (by assignment or by gate).
std::int64_t role_holder_count(Tx& tx, const std::string& community_id, const std::string& role);
/// Accounts holding `role` (from any source), in account order.
std::vector<std::string> members_with_role(Tx& tx, const std::string& community_id, const std::string& role,
                                           std::size_t limit);

// channels
void insert_channel(Tx& tx, const ChannelRow& row);
std::optional<ChannelRow> find_channel(Tx& tx, const std::string& id);
/// Every channel of the community (archived included), in creation order.
std::vector<ChannelRow> list_channels(Tx& tx, const std::string& community_id);
void update_channel(Tx& tx, const ChannelRow& row);
/// The gated channels of `community_id` that `account` passes.
std::set<std::string> channel_access(Tx& tx, const std::string& community_id, const std::string& account);

/// A channel with what decides an account's standing in it. The rest is empty when the channel
/// is unknown, and all but `roles` and `automod` when the account is not a member.
struct ChannelStandingRows {
  std::optional<ChannelRow> channel;
  std::optional<MemberRow> member;
  std::vector<RoleRow> roles;                                 ///< the community's custom roles
  std::vector<MemberRoleRow> member_roles;                    ///< the account's roles there
  bool access = false;                                        ///< its holdings pass the channel's gate
  std::vector<std::pair<std::string, std::int64_t>> automod;  ///< as automod_revisions, when asked for
};
/// The per-request read of a channel's access check: the rows of find_channel, find_member,
/// list_roles, member_roles, the channel's row of channel_access and (with `automod`)
/// automod_revisions, in one round trip on PostgreSQL (each statement finds the community by the
/// channel's id).
ChannelStandingRows channel_standing_rows(Tx& tx, const std::string& channel_id, const std::string& account,
                                          bool automod);
/// A channel with what decides whether each of some accounts reads it. The rest is empty when
/// the channel is unknown.
struct ChannelReaderRows {
  std::optional<ChannelRow> channel;
  std::vector<RoleRow> roles;                                    ///< the community's custom roles
  std::map<std::string, MemberRow> members;                      ///< those of the accounts who are members
  std::map<std::string, std::vector<std::string>> member_roles;  ///< their roles, by account
  std::set<std::string> access;                                  ///< those whose holdings pass the channel's gate
};
/// The read of a channel's readers among `accounts` (lowercase hex) in one round trip on
/// PostgreSQL: the channel, the community's roles, and per 500 accounts those who are members,
/// their roles (by name, each once per source) and those with a row of the channel's access. Each
/// statement finds the community by the channel's id.
ChannelReaderRows channel_reader_rows(Tx& tx, const std::string& channel_id, const std::vector<std::string>& accounts);
void grant_access(Tx& tx, const std::string& community_id, const std::string& channel_id, const std::string& account);
void revoke_access(Tx& tx, const std::string& channel_id, const std::string& account);
/// Drops every access row of a channel (its gate changed or went away).
void clear_access(Tx& tx, const std::string& channel_id);
/// Every community `account` is a member of, by id.
std::vector<std::string> community_ids_of(Tx& tx, const std::string& account);

// gate contracts and re-evaluation
void replace_gate_contracts(Tx& tx, const std::string& community_id,
                            const std::set<std::pair<std::uint64_t, std::string>>& contracts);
std::vector<std::string> communities_gated_on(Tx& tx, std::uint64_t chain_id, const std::string& contract);
/// True when some community's gate names the contract.
bool is_gated_contract(Tx& tx, std::uint64_t chain_id, const std::string& contract);
/// Queues `account` of the community if it is a member or has lapsed.
void queue_account(Tx& tx, const std::string& community_id, const std::string& account, std::int64_t now_ms);
/// Queues every member and lapsed member; returns how many were queued.
std::int64_t queue_all(Tx& tx, const std::string& community_id, std::int64_t now_ms);
/// Up to `limit` queued re-evaluations due at `now_ms`, oldest first.
std::vector<Reevaluation> next_reevaluations(Tx& tx, std::size_t limit, std::int64_t now_ms);
/// Moves a queued re-evaluation to `retry_ms` (unless it was queued again meanwhile).
void defer_reevaluation(Tx& tx, const Reevaluation& r, std::int64_t retry_ms);
/// Removes a queued re-evaluation unless it was queued again since it was read.
void finish_reevaluation(Tx& tx, const Reevaluation& r);
std::int64_t queued_reevaluations(Tx& tx);
/// When the earliest queued re-evaluation is due; none when the queue is empty.
std::optional<std::int64_t> next_reevaluation_due(Tx& tx);

}  // namespace gh::community::sql
