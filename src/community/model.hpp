#pragma once
// Plain types and rules of the community context: the gate rule language (parse with the path of
// the bad node, render, evaluate against holdings), roles and their permissions, and the checks
// on names and slugs. Pure: no I/O, no Asio, no database.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "core/result.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/u256.hpp"

namespace gh::community {

/// The kinds of leaves of a gate.
enum class LeafKind { erc20, erc721, erc1155, staked };

/// "erc20", "erc721", "erc1155" or "staked".
const char* to_string(LeafKind kind) noexcept;

/// One holding requirement.
struct GateLeaf {
  LeafKind kind = LeafKind::erc20;
  std::uint64_t chain_id = 0;
  eth::Address contract;
  /// erc721: the accepted token ids (empty: any token of the contract).
  std::vector<eth::U256> token_ids;
  /// erc1155: the token id.
  eth::U256 token_id;
  /// Base units (erc20, staked), token count (erc721, erc1155).
  eth::U256 min;
};

/// A node of a gate: a combinator over children, or a leaf.
struct GateNode {
  enum class Op { all, any, at_least, leaf };
  Op op = Op::leaf;
  std::size_t at_least = 0;  ///< for Op::at_least: children that must pass
  std::vector<GateNode> children;
  GateLeaf leaf;
};

/// Bounds of a gate, so a stored rule stays cheap to evaluate.
struct GateLimits {
  std::size_t max_depth = 6;
  std::size_t max_nodes = 64;
  std::size_t max_children = 32;
  std::size_t max_token_ids = 100;
};

/// Parses a gate (API.md "Gate rule" plus `{"at_least": N, "of": [...]}`). A refusal is a 400
/// `invalid_gate` whose message starts with the JSON path of the bad node, e.g.
/// `gate.all[1].erc20.min: ...`; `root` names the top of that path.
/// A text that may be unset ("") as JSON: the text, or null.
inline boost::json::value text_or_null(const std::string& text) {
  if (text.empty()) return nullptr;
  return boost::json::value(text);
}

Result<GateNode> parse_gate(const boost::json::value& value, std::string_view root = "gate",
                            const GateLimits& limits = {});

/// The gate in its canonical JSON form (addresses checksummed, amounts as decimal strings);
/// parse_gate(render_gate(g)) gives g back.
boost::json::value render_gate(const GateNode& gate);

/// What one holding read asks of the chain: an ERC-20 balance, an ERC-721 balance (no token id),
/// whether an ERC-721 token is owned (token id; held is 1 or 0), an ERC-1155 balance, a staked
/// amount.
struct HoldingKey {
  LeafKind kind = LeafKind::erc20;
  std::uint64_t chain_id = 0;
  eth::Address contract;
  std::optional<eth::U256> token_id;
  auto operator<=>(const HoldingKey&) const = default;  // NOLINT(modernize-use-nullptr)
};

/// What an account holds, by key. A key that is missing counts as zero.
using Holdings = std::map<HoldingKey, eth::U256>;

/// Every key that evaluating `gate` reads, without duplicates, in key order.
std::set<HoldingKey> holding_keys(const GateNode& gate);
/// The same for several gates.
void add_holding_keys(const GateNode& gate, std::set<HoldingKey>& keys);

/// A leaf that is not met, with what it requires and what the account holds.
struct UnmetLeaf {
  std::string path;  ///< JSON path of the leaf, e.g. "gate.any[0]"
  LeafKind kind = LeafKind::erc20;
  std::uint64_t chain_id = 0;
  eth::Address contract;
  std::optional<eth::U256> token_id;  ///< erc1155
  std::vector<eth::U256> token_ids;   ///< erc721 with ids
  eth::U256 required;
  eth::U256 held;
};

/// The verdict of a gate for one account.
struct Evaluation {
  bool passed = false;
  /// The leaves that failed under a failing combinator (empty when passed).
  std::vector<UnmetLeaf> unmet;
};

/// Evaluates `gate` against `holdings`.
Evaluation evaluate(const GateNode& gate, const Holdings& holdings, std::string_view root = "gate");

/// The `unmet` array of a 403 gate_not_satisfied: [{path, kind, chain_id, contract, required,
/// held, token_id?, token_ids?}].
boost::json::array render_unmet(const std::vector<UnmetLeaf>& unmet);

// --- roles and permissions ---

/// What a role allows, beyond reading and posting in the channels it can see.
enum class Permission : std::uint32_t {
  manage_community = 1U << 0,  ///< rename, edit the community gate
  manage_channels = 1U << 1,   ///< create, rename, archive, restrict channels
  manage_roles = 1U << 2,      ///< create custom roles, assign and unassign roles below one's own
  kick_members = 1U << 3,
  ban_members = 1U << 4,
  manage_messages = 1U << 5,   ///< delete other members' channel messages
  mention_everyone = 1U << 6,  ///< mention `@&member` (every member) so that it notifies
  view_audit_log = 1U << 7,    ///< read the audit log
  pin_messages = 1U << 8,      ///< pin and unpin messages (manage_messages also may)
  manage_nicknames = 1U << 9,  ///< change other members' nicknames (below one's rank)
};

/// The longest nickname, in characters.
inline constexpr std::size_t max_nickname_chars = 32;

/// A set of permissions.
using Permissions = std::uint32_t;

/// The permission's API name ("manage_channels"...).
const char* to_string(Permission p) noexcept;
/// Parses a permission name.
std::optional<Permission> parse_permission(std::string_view name);
/// Names of the permissions in a set, in a fixed order.
std::vector<std::string> permission_names(Permissions set);
/// True when `set` holds `p`.
inline bool has(Permissions set, Permission p) noexcept {
  return (set & static_cast<Permissions>(p)) != 0;
}
/// Every permission.
Permissions all_permissions() noexcept;

/// The built-in roles, with their rank (who may act on whom) and permissions. Custom roles rank
/// below moderator and carry the permissions their creator gave them.
struct BuiltinRole {
  std::string_view name;
  int rank;
  Permissions permissions;
};
/// owner (100), admin (80), moderator (50), member (0).
const std::vector<BuiltinRole>& builtin_roles();
/// The built-in role of that name, or nullptr.
const BuiltinRole* find_builtin_role(std::string_view name);
/// Rank of custom roles.
inline constexpr int custom_role_rank = 20;

/// The powers an account has in a community: its highest rank and the union of its roles'
/// permissions.
struct Standing {
  bool member = false;
  int rank = -1;
  Permissions permissions = 0;
  std::set<std::string> roles;
  std::int64_t timed_out_until_ms = 0;  ///< a timeout's end (unix ms); 0: none was set
};

/// Whether a member is timed out at `now_ms`: reads, but does not post, edit, react or pin. Those
/// who manage the community are never held by a timeout (as Discord's administrators), also one
/// set before they got that right.
inline bool timed_out(const Standing& s, std::int64_t now_ms) noexcept {
  return s.member && s.timed_out_until_ms > now_ms && !has(s.permissions, Permission::manage_community);
}

/// The longest timeout: 28 days, as Discord.
inline constexpr std::int64_t max_timeout_seconds = std::int64_t{28} * 24 * 3600;

/// True when `actor` may act (kick, ban, change roles) on `target`: it ranks strictly higher.
inline bool outranks(const Standing& actor, const Standing& target) noexcept {
  return actor.rank > target.rank;
}

// --- names ---

/// 400 invalid_field unless `name` is a display name of 1..max characters (gh::is_display_name)
/// without leading or trailing spaces.
Result<std::string> check_name(std::string_view field, std::string_view name, std::size_t max_chars = 100);
/// 400 invalid_slug unless `slug` is 3..40 of [a-z0-9-], not starting or ending with '-'.
Result<std::string> check_slug(std::string_view slug);
/// 400 invalid_role unless `name` is 1..32 of [a-z0-9_-] and not a built-in role.
Result<std::string> check_custom_role_name(std::string_view name);

// --- forum channels ---

/// What a channel is: a text channel takes messages; a forum channel (Discord's) takes posts, each
/// a thread started with a message, labelled with the channel's tags; a category (Discord's) takes
/// neither, and groups the text channels and forums that name it their parent.
enum class ChannelType { text, forum, category };
const char* to_string(ChannelType type) noexcept;
/// 400 invalid_field unless "text", "forum" or "category".
Result<ChannelType> parse_channel_type(std::string_view name);

/// A tag of a forum channel, as Discord's: posts carry up to max_applied_tags of them.
struct ForumTag {
  std::string id;          ///< "tg_…", kept across changes of the channel's tags
  std::string name;        ///< 1 to max_tag_name_chars characters, unique in the channel (ASCII case aside)
  std::string emoji{};     ///< shown beside the name; empty: none
  bool moderated = false;  ///< applied and removed only by those who moderate the channel
};

/// A forum channel holds at most this many tags (Discord's figure).
inline constexpr std::size_t max_forum_tags = 20;
/// The longest tag name, in characters (Discord's figure).
inline constexpr std::size_t max_tag_name_chars = 20;
/// The longest tag emoji, in bytes of UTF-8 (a forum's default reaction too).
inline constexpr std::size_t max_tag_emoji_bytes = 64;

/// What a channel gives its new threads and a forum its readers (Discord's channel defaults).
struct ChannelDefaults {
  std::int64_t auto_archive_minutes = 1440;  ///< of a thread started without one: 60, 1440, 4320 or 10080
  std::string sort_order = "activity";       ///< a forum's posts, by "activity" or "created"
  std::string reaction_emoji{};              ///< the reaction a forum's posts offer; empty: none
};
/// 400 invalid_field unless the auto-archive time is one of the four, the order one of the two,
/// and the emoji (when set) at most max_tag_emoji_bytes of UTF-8 without spaces or controls.
Result<void> check_channel_defaults(const ChannelDefaults& d);

/// A tag as a request gives it: `id` names one the channel has (unset: a new tag).
struct TagSpec {
  std::optional<std::string> id;
  std::string name;
  std::string emoji{};
  bool moderated = false;
};

/// The channel's tags after a request sets them to `specs`: tags with an id keep it (400
/// invalid_tag unless the channel has it, or for one named twice), new ones take `fresh_id()`.
/// 400 invalid_tag past max_forum_tags, for a bad name or emoji, or two names alike.
Result<std::vector<ForumTag>> apply_tag_specs(const std::vector<TagSpec>& specs, const std::vector<ForumTag>& current,
                                              const std::function<std::string()>& fresh_id);
/// [{"id", "name", "emoji" (null: none), "moderated"}].
boost::json::array tags_json(const std::vector<ForumTag>& tags);
/// The tags as stored (tags_json's text); junk reads as none.
std::vector<ForumTag> tags_from_text(std::string_view text);

}  // namespace gh::community
