#pragma once
// The notification context's plain types and pure rules: kinds, per-account settings (muted
// channels and communities, muted kinds, DM previews, ADDM opt-out, quiet hours in a time zone),
// what a setting does to one notification, list cursors. No I/O.
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace gh::notify {

/// The kinds of notification (API.md "Notifications").
enum class Kind { dm, mention, reply, membership, reward, withdrawal, addm, system, thread, message };

/// "dm", "mention", ...
const char* to_string(Kind kind) noexcept;
/// The kind of a name; nullopt when unknown.
std::optional<Kind> parse_kind(std::string_view name);

/// Quiet hours: pushes are held back between start and end (minutes after local midnight; the
/// window may wrap midnight) in an IANA time zone. The center and open sockets still get them.
struct QuietHours {
  int start_min = 0;
  int end_min = 0;
  std::string time_zone = "UTC";
};

/// An account's notification settings.
struct Settings {
  std::vector<std::string> muted_channels;
  std::vector<std::string> muted_communities;
  std::vector<Kind> muted_kinds;
  /// Lowercase addresses whose mentions, replies and DMs (and any notification they caused) never
  /// reach this account.
  std::vector<std::string> muted_accounts;
  /// Communities whose `@&member` mentions (everyone) never notify this account.
  std::vector<std::string> suppress_everyone{};
  /// Communities whose role mentions never notify this account (a mention by address still does).
  std::vector<std::string> suppress_roles{};
  /// Channels whose every message by another notifies this account (Discord's per-channel "All
  /// Messages"; in a forum, every new post).
  std::vector<std::string> all_messages{};
  bool dm_previews = true;
  bool addm_opt_out = false;
  std::optional<QuietHours> quiet_hours;
};

/// Limits on settings lists.
inline constexpr std::size_t max_muted_ids = 1000;

/// Applies a PUT body to `current`: every field present replaces the stored one, the others stay.
/// 400 invalid_field naming the field on a wrong type, an unknown kind, an unknown time zone
/// (`zone_known` decides) or a time not in "HH:MM".
Result<Settings> apply_settings(const boost::json::object& body, Settings current,
                                bool (*zone_known)(std::string_view name));
/// The settings as the API renders them.
boost::json::object render_settings(const Settings& settings);

/// "HH:MM" to minutes after midnight; nullopt when malformed.
std::optional<int> parse_hhmm(std::string_view text);
std::string format_hhmm(int minutes);

/// True when local minute-of-day `minute` falls in the window [start, end) (wrapping midnight;
/// an empty window when start == end).
bool in_window(int start_min, int end_min, int minute) noexcept;

/// A notification to create for one account, before the settings apply.
struct Draft {
  Kind kind = Kind::system;
  std::string title;
  std::string body;
  std::string data_json = "{}";
  std::string community_id;
  std::string channel_id;
  /// Makes creation idempotent per account (the event id and what distinguishes this one).
  std::string dedup_key;
  /// What the notification is about when its source can take it back ("message:<id>"), or empty.
  std::string subject;
  /// The account whose action it tells of (lowercase hex: a mention's or reply's author, a DM's
  /// sender), or empty.
  std::string actor;
  /// Sent without a push (a silent message's mention or reply): the center and open sockets only.
  bool silent = false;
  /// How a mention named the account: "direct", "role" or "everyone" (empty: not a mention).
  std::string via{};
  /// The channel a thread belongs to (a channel mute holds for its threads); empty otherwise.
  std::string parent_channel_id{};
  /// The seq in channel_id of the message it tells of (a mention, reply or thread message): the
  /// account's read marker reaching it marks it read. Unset for every other notification.
  std::optional<std::int64_t> seq{};
};

/// What the settings make of a draft: dropped (muted, opted out), or kept with the preview
/// hidden when DM previews are off.
struct Decision {
  bool keep = true;
  std::string why;  ///< why it was dropped
};
Decision decide(const Settings& settings, Draft& draft);

/// The text shown instead of a DM's preview when previews are off.
inline constexpr std::string_view hidden_dm_preview = "New message";

/// A notification as stored and listed.
struct Notification {
  std::string id;
  std::string account;  ///< lowercase hex address
  Kind kind = Kind::system;
  std::string title;
  std::string body;
  std::string data_json;
  std::string community_id;
  std::string channel_id;
  std::string subject;                ///< see Draft::subject
  std::optional<std::int64_t> seq{};  ///< see Draft::seq
  SystemTime created_at;
  std::optional<SystemTime> read_at;
};

/// What a page of the center lists: every notification of the account, or only those of some
/// kinds, of one community, unread.
struct ListFilter {
  std::vector<Kind> kinds;   ///< empty: every kind
  std::string community_id;  ///< empty: every community
  bool unread_only = false;
};
/// The filter of a list's query parameters: `kind` (kinds separated by commas), `community_id`,
/// `unread` ("true" or "1"). 400 invalid_kind (an unknown or empty kind) or
/// invalid_community_id (empty, over 128 bytes, or not printable ASCII without spaces).
Result<ListFilter> parse_list_filter(std::optional<std::string_view> kinds,
                                     std::optional<std::string_view> community_id,
                                     std::optional<std::string_view> unread);

/// A list position: (created_ms, id) of the last item seen, as an opaque string.
struct Cursor {
  std::int64_t created_ms = 0;
  std::string id;
};
std::string encode_cursor(const Cursor& cursor);
std::optional<Cursor> decode_cursor(std::string_view text);

}  // namespace gh::notify
