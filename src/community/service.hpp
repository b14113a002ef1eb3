#pragma once
// The community context's use cases: communities with their gate, members (join against the
// chain, leave, kick, ban), built-in and custom roles (assigned, or granted by a gate), channels
// (create, rename, archive, restricted to roles or to a gate), and the re-evaluation of members
// when holdings change. Every read and write is authorized here. Other contexts use this header
// (can_read_channel, can_post_channel, readable_channels, members_with_role) and the
// community.* events, never the tables.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "community/automod.hpp"
#include "community/model.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/lru_cache.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "store/database.hpp"

namespace gh::bus {
struct Event;
}

namespace gh::community {

/// Where the holdings that gates read come from. An interface so tests can stand in for the
/// chain.
class HoldingsSource {
 public:
  virtual ~HoldingsSource() = default;
  /// The amount of each key held by `account` (missing keys count as zero); 503
  /// chain_unavailable when a chain cannot be asked.
  virtual Task<Result<Holdings>> read(const eth::Address& account, std::vector<HoldingKey> keys) = 0;
  /// Called after a gate that reads `keys` is stored, so the source can start following their
  /// contracts (the indexer then publishes their events). Best effort: never fails the write.
  /// False when gates on `chain_id` could never be evaluated here (the chain is not configured).
  virtual bool serves_chain(std::uint64_t chain_id) const {
    (void)chain_id;
    return true;
  }
  virtual Task<void> watch(std::vector<HoldingKey> keys) {
    (void)keys;
    co_return;
  }
};

/// A community as the API shows it.
struct CommunityInfo {
  std::string id;
  std::string slug;
  std::string name;
  eth::Address owner;
  std::optional<GateNode> gate;
  SystemTime created_at;
  std::int64_t member_count = 0;
  /// The caller's standing (member flag, roles, permissions).
  Standing caller;
  /// The channel where new members are welcomed (a `member_joined` system message); empty: none.
  std::string system_channel{};
};

/// A channel as the API shows it.
struct ChannelInfo {
  std::string id;
  std::string community_id;
  std::string name;
  std::optional<GateNode> gate;
  std::vector<std::string> roles;  ///< roles that may see it; empty: every member
  bool archived = false;
  SystemTime created_at;
  bool can_read = false;               ///< for the caller
  bool can_post = false;               ///< for the caller: may post messages (see post_roles)
  std::int64_t slow_mode_seconds = 0;  ///< a member posts at most once per this many seconds (0: off)
  std::string topic;                   ///< shown under its name
  std::int64_t position = 0;           ///< channels are listed by position, then by creation
  /// Roles whose holders post messages here (and managers of channels); empty: every reader. The
  /// others still react and vote.
  std::vector<std::string> post_roles;
  ChannelType type = ChannelType::text;  ///< fixed at creation
  std::vector<ForumTag> tags{};          ///< a forum's tags
  bool require_tag = false;              ///< a forum's posts carry at least one tag
  ChannelDefaults defaults{};
  std::string parent_id{};  ///< the category it is in; empty: none
};

/// An AutoMod rule ready to screen messages (shared by the posts that read it until it changes).
struct CompiledAutomodRule {
  CompiledAutomodRule(std::string rule_id, std::int64_t rule_revision, AutomodRuleSpec rule_spec)
      : id(std::move(rule_id)), revision(rule_revision), spec(std::move(rule_spec)), matcher(spec) {}
  std::string id;
  std::int64_t revision;
  AutomodRuleSpec spec;
  AutomodMatcher matcher;
};

/// An AutoMod rule as its managers see it.
struct AutomodRuleInfo {
  std::string id;
  AutomodRuleSpec spec;
  eth::Address created_by;
  SystemTime created_at;
  SystemTime updated_at;
};

/// A message an AutoMod rule refused.
struct AutomodHit {
  std::string rule_id;
  std::string trigger;      ///< "keyword", "mention_spam" or "links"
  std::string matched;      ///< what triggered it: the keyword, the link's host, the mention count
  std::string content{};    ///< the text refused (for the rule's alert channel)
  std::string thread_id{};  ///< the thread of the channel it was sent in, if any
};

/// What posting in a channel takes, for one account.
struct ChannelPostRules {
  bool can_post = false;  ///< the write right: react, vote, pin (with its permission)
  bool can_send = false;  ///< may post messages: can_post, and a post role when the channel names some
  std::int64_t slow_mode_seconds = 0;
  bool exempt = false;  ///< manage_messages: slow mode does not apply
  /// While the account is timed out in the channel's community: the timeout's end (unix ms); 0: not
  /// timed out.
  std::int64_t timed_out_until_ms = 0;
  /// The enabled AutoMod rules of the community that apply to the account in this channel (none
  /// for those with manage_community, or exempt by role or channel).
  std::vector<std::shared_ptr<const CompiledAutomodRule>> automod;
  std::string community_id{};  ///< the channel's community
  std::string channel_name{};  ///< the channel's name (for notifications)
  bool forum = false;          ///< a forum channel: messages are posted in its threads only
  bool category = false;       ///< a category: it takes no messages and no threads
  std::vector<ForumTag> tags{};
  bool require_tag = false;
  std::int64_t default_auto_archive_minutes = 1440;  ///< of a thread started here without one
};

/// The longest slow mode: 6 hours, as Discord.
inline constexpr std::int64_t max_slow_mode_seconds = std::int64_t{6} * 3600;
/// A channel's topic: at most 1,024 bytes (Discord's length), as text.
inline constexpr std::size_t max_channel_topic_bytes = 1024;
/// A ban's or a timeout's reason: at most 500 bytes, as text.
inline constexpr std::size_t max_reason_bytes = 500;
/// The highest channel position.
inline constexpr std::int64_t max_channel_position = 1'000'000;

/// The lowest and highest rank of a custom role: above the implicit member role, below admins.
inline constexpr int min_custom_role_rank = 1;
inline constexpr int max_custom_role_rank = 79;
/// The highest role colour, 0xRRGGBB (0: none).
inline constexpr std::int64_t max_role_color = 0xFFFFFF;

/// A role of a community.
struct RoleInfo {
  std::string name;
  bool builtin = false;
  int rank = 0;
  Permissions permissions = 0;
  std::optional<GateNode> gate;
  bool mentionable = true;        ///< any member's `@&role` notifies (else holders of mention_everyone only)
  std::int64_t color = 0;         ///< 0xRRGGBB; 0: none
  bool hoist = false;             ///< clients list its holders apart from other members
  std::int64_t member_count = 0;  ///< members holding it now (`member`: every member)
};

/// A custom role's rank (min_custom_role_rank to max_custom_role_rank), mentionability and colour
/// (0 to max_role_color) and hoist, as creating or changing it sets them: an unset field stays as
/// it is (creating: custom_role_rank, mentionable, no colour, not hoisted).
struct RoleDetails {
  std::optional<int> rank{};
  std::optional<bool> mentionable{};
  std::optional<std::int64_t> color{};
  std::optional<bool> hoist{};
};

/// What a change to a custom role sets; an unset field stays as it is.
struct RoleChange {
  std::optional<std::string> name{};              ///< a new name (a rename)
  std::optional<Permissions> permissions{};       ///< the whole new set
  std::optional<std::optional<GateNode>> gate{};  ///< a present empty one removes the gate
  RoleDetails details{};
};

/// The roles an account holds in a channel's community.
struct ChannelRoleSet {
  std::string community_id;
  std::vector<std::string> roles;  ///< "member" included
};

/// A member with its roles.
struct MemberInfo {
  eth::Address account;
  SystemTime joined_at;
  std::vector<std::string> roles;
  std::optional<SystemTime> timed_out_until;  ///< while timed out
  std::string nickname{};                     ///< empty: none
};

/// One page of members, in address order.
struct MemberPage {
  std::vector<MemberInfo> members;
  std::optional<std::string> next_cursor;
};

/// A ban, as moderators see it.
struct BanInfo {
  eth::Address account;
  eth::Address banned_by;
  std::string reason;
  SystemTime banned_at;
};

/// One page of bans, in address order.
struct BanPage {
  std::vector<BanInfo> bans;
  std::optional<std::string> next_cursor;
};

/// An entry of the audit log: a moderation or settings action and who took it.
struct AuditEntry {
  std::int64_t id = 0;  ///< grows with each entry
  std::string action;   ///< one of audit_actions()
  eth::Address actor;
  std::optional<eth::Address> target;
  std::optional<std::string> channel_id;
  std::optional<std::string> reason;
  std::string details;  ///< a JSON object, by action
  SystemTime at;
};

/// Which entries of the audit log, newest first.
struct AuditFilter {
  std::int64_t before_id = 0;  ///< only entries below this id (0: from the newest)
  std::optional<std::string> action;
  std::optional<eth::Address> actor;
  std::size_t limit = 50;
};

/// One page of the audit log.
struct AuditPage {
  std::vector<AuditEntry> entries;
  std::optional<std::int64_t> next_before;  ///< pass back as before_id while set
};

/// The actions the audit log records.
const std::vector<std::string_view>& audit_actions();

/// Parameters of a new community.
struct NewCommunity {
  std::string name;
  std::string slug;
  std::optional<GateNode> gate;
};

/// Parameters of a new channel.
struct NewChannel {
  std::string name;
  std::optional<GateNode> gate;
  std::vector<std::string> roles;
  std::string topic{};
  std::int64_t position = 0;
  std::vector<std::string> post_roles{};
  ChannelType type = ChannelType::text;
  std::vector<TagSpec> tags{};  ///< a forum's
  bool require_tag = false;     ///< a forum's
  ChannelDefaults defaults{};
  std::string parent_id{};  ///< the category it is in; empty: none
};

/// A change to a channel; unset fields stay.
struct ChannelUpdate {
  std::optional<std::string> name;
  std::optional<std::optional<GateNode>> gate;
  std::optional<std::vector<std::string>> roles;
  std::optional<bool> archived;
  std::optional<std::int64_t> slow_mode_seconds;
  std::optional<std::string> topic;
  std::optional<std::int64_t> position;
  std::optional<std::vector<std::string>> post_roles;
  std::optional<std::vector<TagSpec>> tags;  ///< a forum's, all of them (those left out are removed)
  std::optional<bool> require_tag;           ///< a forum's
  std::optional<std::int64_t> default_auto_archive_minutes;
  std::optional<std::string> default_sort_order;      ///< a forum's
  std::optional<std::string> default_reaction_emoji;  ///< a forum's ("": none)
  std::optional<std::string> parent_id;               ///< the category it is in ("": none)
};

/// Limits of the context.
struct CommunitySettings {
  std::size_t max_channels = 500;
  std::size_t max_roles = 100;
  std::size_t max_communities_created_per_account = 50;
  /// Accounts re-evaluated per transaction by the re-evaluator.
  std::size_t reevaluation_batch = 200;
  /// When the holdings of a queued account cannot be read, it is tried again this much later.
  std::chrono::milliseconds reevaluation_retry{30'000};
  /// How long the audit log keeps an entry (the job community.audit_prune deletes older ones).
  std::chrono::hours audit_retention{24 * 90};
  /// Entries the prune job deletes per transaction.
  std::size_t audit_prune_batch = 1000;
  /// What the compiled AutoMod rules of this node may hold in all (a full keyword rule is at most
  /// 2 MB); past it the least recently used rules go, and compile again when a post needs them.
  std::size_t automod_cache_bytes = std::size_t{64} << 20;
};

/// The most a ban may reach back to delete the banned member's messages: 7 days, as Discord.
inline constexpr std::chrono::seconds max_ban_message_purge{7 * 24 * 3600};

/// The event `{"community_id"}` published with re-evaluations that a gate edit or a join queued:
/// the re-evaluators of every node wake on it (Reevaluator::consumer), wherever it was queued.
inline constexpr std::string_view reevaluation_queued_topic = "community.reevaluation_queued";

/// Community's use cases. Thread-safe; database work runs on the blocking pool.
class CommunityService {
 public:
  /// `holdings` answers joins (fresh, from the chain); `reevaluation_holdings`, when given, the
  /// re-evaluations that chain events trigger (the indexer's projection, consistent with the
  /// events it published).
  CommunityService(store::Database& db, BlockingPool& pool, const Clock& clock, HoldingsSource& holdings,
                   std::function<void()> events_published, CommunitySettings settings = {},
                   HoldingsSource* reevaluation_holdings = nullptr);

  // --- communities ---
  /// Creates a community owned by `who` (who becomes its first member, role owner). 409
  /// slug_taken.
  Task<Result<CommunityInfo>> create_community(const eth::Address& who, NewCommunity spec);
  /// Any signed-in account sees a community's name, gate and size (to know what joining takes).
  Task<Result<CommunityInfo>> community(const eth::Address& who, std::string community_id);
  /// The communities `who` is a member of.
  Task<Result<std::vector<CommunityInfo>>> my_communities(const eth::Address& who);
  /// Renames, changes the gate and/or the system channel (manage_community; a channel of the
  /// community, else 400 invalid_field; "" for none). A new gate queues every member for
  /// re-evaluation; the call returns at once.
  Task<Result<CommunityInfo>> update_community(const eth::Address& who, std::string community_id,
                                               std::optional<std::string> name,
                                               std::optional<std::optional<GateNode>> gate,
                                               std::optional<std::string> system_channel = std::nullopt);

  // --- members ---
  /// Joins when the holdings pass the community gate: 403 gate_not_satisfied with the unmet
  /// leaves, 403 banned, 200 with nothing changed when already a member.
  Task<Result<CommunityInfo>> join(const eth::Address& who, std::string community_id);
  /// Leaves (the owner cannot: 409 owner_cannot_leave).
  Task<Result<void>> leave(const eth::Address& who, std::string community_id);
  /// Members (members only), after `cursor`, at most `limit`.
  Task<Result<MemberPage>> members(const eth::Address& who, std::string community_id, std::string cursor,
                                   std::size_t limit);
  /// The community's bans after `cursor` (ban_members; 403 otherwise).
  Task<Result<BanPage>> bans(const eth::Address& who, std::string community_id, std::string cursor, std::size_t limit);
  /// Removes `target` (kick_members, and outranking the target); they may join again.
  Task<Result<void>> kick(const eth::Address& who, std::string community_id, const eth::Address& target);
  /// Times `target` out for `duration` (1 s to max_timeout_seconds; kick_members, outranking the
  /// target, a member): until then they read but do not post, edit, react or pin in the community's
  /// channels. A new timeout replaces the running one. Returns its end. Event
  /// `community.member_timeout`.
  Task<Result<SystemTime>> timeout(const eth::Address& who, std::string community_id, const eth::Address& target,
                                   std::chrono::seconds duration, std::string reason);
  /// Ends `target`'s timeout now (same rights); nothing to end is no error.
  Task<Result<void>> lift_timeout(const eth::Address& who, std::string community_id, const eth::Address& target);
  /// Removes `target` and keeps them out (ban_members, outranking); works on non-members too.
  /// `delete_messages` (0 to max_ban_message_purge) asks messaging, through
  /// `community.member_banned`, to delete what the target wrote in the community's channels over
  /// that much time before now (400 invalid_field outside that range).
  Task<Result<void>> ban(const eth::Address& who, std::string community_id, const eth::Address& target,
                         std::string reason, std::chrono::seconds delete_messages = std::chrono::seconds(0));
  /// Lifts a ban (ban_members).
  Task<Result<void>> unban(const eth::Address& who, std::string community_id, const eth::Address& target);

  // --- roles ---
  /// Built-in and custom roles (members only).
  Task<Result<std::vector<RoleInfo>>> roles(const eth::Address& who, std::string community_id);
  /// A custom role (manage_roles; only permissions the creator holds, ranking below the creator:
  /// 403 missing_permission, outranked; 400 invalid_field for a rank or colour out of range).
  Task<Result<RoleInfo>> create_role(const eth::Address& who, std::string community_id, std::string name,
                                     Permissions permissions, std::optional<GateNode> gate, RoleDetails details = {});
  /// Sets or clears ("") a member's nickname in the community: one's own (not while timed out:
  /// 403 timed_out), or another's with manage_nicknames, outranking them (403 missing_permission,
  /// outranked; 404 for a non-member). 1 to max_nickname_chars display characters (400
  /// invalid_field). Event community.member_updated; audit entry member_nickname for another's.
  Task<Result<MemberInfo>> set_nickname(const eth::Address& who, std::string community_id, const eth::Address& target,
                                        std::string nickname);
  /// Changes a custom role: its name (the channels, AutoMod rules and holdings naming it follow;
  /// 409 role_exists, 400 invalid_role), permissions, gate ("gate": null removes it), rank,
  /// mentionability and colour (manage_roles, outranking the role before and after; permissions it
  /// gains must be the caller's, else 403 missing_permission; 400 invalid_role for a built-in role,
  /// 404 role_not_found). Sockets here and on other nodes that lose a channel or a report queue by
  /// it are told at once; a gate change re-evaluates every member. Audit entry role_update; event
  /// community.role_updated.
  Task<Result<RoleInfo>> update_role(const eth::Address& who, std::string community_id, std::string name,
                                     RoleChange change);
  /// Deletes a custom role with every holding of it (as update_role; 409 role_in_use while a
  /// channel's roles or post roles, or an AutoMod rule's exempt roles, name it). Audit entry
  /// role_delete.
  Task<Result<void>> delete_role(const eth::Address& who, std::string community_id, std::string name);
  /// Gives `role` to a member (manage_roles, outranking the target and the role). Owner cannot be
  /// assigned; member is implicit.
  Task<Result<void>> assign_role(const eth::Address& who, std::string community_id, const eth::Address& target,
                                 std::string role);
  /// Takes an assigned role back (same rules).
  Task<Result<void>> unassign_role(const eth::Address& who, std::string community_id, const eth::Address& target,
                                   std::string role);
  /// Accounts holding `role` ("member": every member), at most `limit`, in address order. No caller
  /// check: for contexts (mentions, notification audiences).
  Task<Result<std::vector<eth::Address>>> members_with_role(std::string community_id, std::string role,
                                                            std::size_t limit = SIZE_MAX);

  // --- channels ---
  /// Creates a channel (manage_channels); roles must exist.
  Task<Result<ChannelInfo>> create_channel(const eth::Address& who, std::string community_id, NewChannel spec);
  /// The channels `who` can see (managers see every one, archived included).
  Task<Result<std::vector<ChannelInfo>>> channels(const eth::Address& who, std::string community_id);
  /// One channel, if the caller can see it (404 otherwise).
  Task<Result<ChannelInfo>> channel(const eth::Address& who, std::string channel_id);
  /// Renames, re-gates, restricts, archives or unarchives (manage_channels).
  Task<Result<ChannelInfo>> update_channel(const eth::Address& who, std::string channel_id, ChannelUpdate update);

  /// True when `who` may read the channel: member, not restricted away by role or gate.
  /// Archived channels stay readable.
  Task<Result<bool>> can_read_channel(const eth::Address& who, std::string channel_id);
  /// can_read_channel and not archived.
  Task<Result<bool>> can_post_channel(const eth::Address& who, std::string channel_id);
  /// Those of `accounts` that can read the channel, in the order given (one transaction). No caller
  /// check: for contexts (who hears of a mention).
  Task<Result<std::vector<eth::Address>>> channel_readers(std::string channel_id, std::vector<eth::Address> accounts);
  /// can_read_channel and holding manage_messages: may delete other members' messages there.
  Task<Result<bool>> can_moderate_channel(const eth::Address& who, std::string channel_id);
  /// can_read_channel and holding pin_messages or manage_messages: may pin messages there.
  Task<Result<bool>> can_pin_channel(const eth::Address& who, std::string channel_id);
  /// Whether the account may post in the channel, its slow mode, and whether the account is exempt
  /// from it (manage_messages), in one read.
  /// `content`: with the AutoMod rules that apply (false for writes with no text: typing,
  /// reactions, pins, votes).
  Task<Result<ChannelPostRules>> post_rules(const eth::Address& who, std::string channel_id, bool content = true);
  /// Of `roles` (named by `@&role` mentions in a message `who` writes in the channel), those whose
  /// mention notifies: every one from a reader holding mention_everyone; else neither `member`
  /// (everyone) nor a custom role that is not mentionable. Names of no role are kept (they notify
  /// no one). Empty for a channel `who` cannot read.
  Task<Result<std::vector<std::string>>> mentionable_roles(const eth::Address& who, std::string channel_id,
                                                           std::vector<std::string> roles);
  /// Every channel, in every community, that `who` may read.
  Task<Result<std::vector<std::string>>> readable_channels(const eth::Address& who);
  /// The channels of the community whose messages `who` moderates: every channel it reads when it
  /// holds manage_messages (403 not_member, missing_permission; 404 no_community).
  Task<Result<std::vector<std::string>>> moderated_channels(const eth::Address& who, std::string community_id);
  /// The channels of the community `who` may read (403 not_member; 404 no_community).
  Task<Result<std::vector<std::string>>> readable_channels_in(const eth::Address& who, std::string community_id);
  /// The community a channel belongs to (404 when there is no such channel). No caller check: for
  /// contexts (e.g. resolving `@&role` mentions with members_with_role).
  Task<Result<std::string>> community_of_channel(std::string channel_id);
  /// The roles `who` holds ("member" included) in the community of each channel, by channel id;
  /// channels that do not exist or whose community `who` is not a member of are left out. No
  /// caller check: for contexts (e.g. counting `@&role` mentions).
  Task<Result<std::map<std::string, ChannelRoleSet>>> roles_in_channels(const eth::Address& who,
                                                                        std::vector<std::string> channel_ids);

  // --- AutoMod ---
  /// The community's rules (manage_community, else 403 missing_permission).
  Task<Result<std::vector<AutomodRuleInfo>>> automod_rules(const eth::Address& who, std::string community_id);
  /// Adds a rule (manage_community; at most max_automod_rules, else 409 too_many_rules; exempt
  /// roles and channels must exist, else 400 invalid_rule). Audit entry automod_rule_create.
  Task<Result<AutomodRuleInfo>> create_automod_rule(const eth::Address& who, std::string community_id,
                                                    AutomodRulePatch patch);
  /// Changes a rule (404 rule_not_found). Audit entry automod_rule_update.
  Task<Result<AutomodRuleInfo>> update_automod_rule(const eth::Address& who, std::string community_id,
                                                    std::string rule_id, AutomodRulePatch patch);
  /// Deletes a rule (404 rule_not_found). Audit entry automod_rule_delete.
  Task<Result<void>> delete_automod_rule(const eth::Address& who, std::string community_id, std::string rule_id);
  /// A message of `account` in the channel was refused by a rule (messaging calls this after
  /// refusing it): an audit entry automod_block, event community.automod_blocked, and the rule's
  /// timeout if it has one (extending, never shortening, a running one; event
  /// community.member_timeout). A rule deleted meanwhile still records the block, without timeout.
  Task<Result<void>> automod_blocked(const eth::Address& account, std::string channel_id, AutomodHit hit);

  // --- audit log ---
  /// The community's audit log (view_audit_log, else 403 missing_permission; 400 invalid_action).
  Task<Result<AuditPage>> audit_log(const eth::Address& who, std::string community_id, AuditFilter filter);
  /// Records a moderator's action on messages (the consumer of messaging.message_deleted and
  /// messaging.message_pinned calls this in its transaction): a member's message deleted by another
  /// (not by a ban's purge, which the ban's entry covers), a pin or unpin, a report resolved,
  /// dismissed or reopened (messaging.report_updated). Events of channels that
  /// belong to no community are ignored.
  static void audit_message_event(store::Tx& tx, const bus::Event& event);
  /// Deletes the entries older than audit_retention (the job community.audit_prune); returns how
  /// many.
  Task<Result<std::size_t>> prune_audit_log();

  // --- re-evaluation ---
  /// Queues the accounts a chain event affects (the consumer of chain.transfer, chain.stake,
  /// chain.reverted calls this in its transaction): the sender and receiver on a transfer, the
  /// staker on a stake, every member of every community gated on the contract on a revert.
  static void queue_for_chain_event(store::Tx& tx, const bus::Event& event, std::int64_t now_ms);
  /// That consumer's interest: keeps the events of contracts some community gates on, and those
  /// whose contract it cannot tell from the ordering key (queue_for_chain_event decides them), so
  /// the transfers of every other contract cost no write.
  static void keep_gated_chain_events(store::Tx& tx, std::vector<bus::Event>& events);
  /// Re-evaluates up to one batch of queued accounts; returns how many were done. Members who
  /// fail the community gate lapse (removed, and restored when they pass again); roles and gated
  /// channels follow their gates. Each change is an event.
  Task<Result<std::size_t>> reevaluate_batch();
  /// Accounts waiting for re-evaluation.
  Task<Result<std::int64_t>> pending_reevaluations();
  /// How long until the earliest queued re-evaluation is due (zero when one is); none when the
  /// queue is empty.
  Task<Result<std::optional<std::chrono::milliseconds>>> next_reevaluation_in();
  /// Called after a commit that queued re-evaluations (a gate edited, a join whose holdings could
  /// not be read): this node's re-evaluator's wake, at once. Other nodes' hear of it through the
  /// bus (reevaluation_queued_topic). Set before serving.
  void set_on_queued(std::function<void()> on_queued) { m_on_queued = std::move(on_queued); }

  store::Database& database() noexcept { return m_db; }

 private:
  struct Snapshot;
  Task<Result<Snapshot>> snapshot(const std::string& community_id);
  Task<Result<Holdings>> read_holdings(HoldingsSource& source, const eth::Address& who, const Snapshot& s);
  Task<void> watch_gate(const std::optional<GateNode>& gate);
  /// After a commit that queued every member against a changed gate (`gate`, or none when it
  /// was removed): the indexer follows its contracts, and the re-evaluator starts.
  Task<void> gate_changed(const std::optional<GateNode>& gate);
  void queued() const;
  Result<void> check_chains(const std::optional<GateNode>& gate) const;
  /// can_read_channel and holding `permission` in the channel's community.
  Task<Result<bool>> has_channel_permission(const eth::Address& who, std::string channel_id, Permission permission);
  /// Runs `change(tx, community)` on the pool in one transaction against the community loaded
  /// (404 `no_community` when there is none); wakes the bus after a commit.
  template <class T, class Change>
  Task<Result<T>> change_community(const std::string& community_id, Change change);
  /// Runs `read(tx, community)` on the pool against the community loaded (404 when none).
  template <class T, class Read>
  Task<Result<T>> read_community(const std::string& community_id, Read read);
  /// The community's rules that apply to a member with `standing` in `channel_id`, compiled once
  /// per revision and node.
  // The channels of the community `who` reads, when it is a member holding `needed` (if any).
  Task<Result<std::vector<std::string>>> member_channels(const eth::Address& who, std::string community_id,
                                                         std::optional<Permission> needed);
  /// Records a block by an AutoMod rule in `tx`: the audit entry automod_block, the event
  /// community.automod_blocked (with the alert channel and the refused text when the rule names
  /// one), and for a message (a channel) the rule's timeout. No channel: a nickname.
  void record_block(store::Tx& tx, const std::string& community_id, const std::optional<std::string>& channel_id,
                    const eth::Address& account, const AutomodHit& hit, std::int64_t now);
  /// The AutoMod rules' ids and revisions, as sql::automod_revisions reads them.
  using Revisions = std::vector<std::pair<std::string, std::int64_t>>;
  /// The enabled rules of `revisions` that apply to the channel and the account's standing,
  /// compiled (once per revision).
  std::vector<std::shared_ptr<const CompiledAutomodRule>> automod_for(store::Tx& tx, const std::string& community_id,
                                                                      const std::string& channel_id,
                                                                      const Standing& standing,
                                                                      const Revisions& revisions);

  store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  HoldingsSource& m_holdings;
  HoldingsSource& m_reevaluation_holdings;
  std::function<void()> m_events_published;
  std::function<void()> m_on_queued;
  CommunitySettings m_settings;
  /// Compiled AutoMod rules by id (ids are never reused; a rule's revision tells a stale copy).
  std::mutex m_automod_mutex;
  LruCache<CompiledAutomodRule> m_automod;
};

}  // namespace gh::community
