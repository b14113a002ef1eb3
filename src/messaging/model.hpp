#pragma once
// messaging's plain types and pure rules: what a message body, a client id, a channel id and a
// reaction may be, which accounts and roles a body mentions, and the JSON shape of a message
// (the same in HTTP responses, live frames and resumed history). No I/O.
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/utf8.hpp"
#include "eth/address.hpp"

namespace gh::messaging {

/// The largest message body, in bytes of UTF-8.
inline constexpr std::size_t max_body_bytes = 4096;
/// Mentions resolved per message at most (accounts and roles together).
inline constexpr std::size_t max_mentions = 50;
/// The role every member holds: `@&member` mentions everyone, and counts only from an author with
/// the community's mention_everyone permission.
inline constexpr std::string_view everyone_role = "member";
/// Accounts one message notifies of a mention at most (the first readers found).
inline constexpr std::size_t max_mentioned = 200;
/// A thread post notifies at most this many of the thread's members who follow all its messages
/// (the first to have joined).
inline constexpr std::size_t max_thread_followers = 1000;
/// Accounts per `messaging.thread_message` and `messaging.followed_message` event.
inline constexpr std::size_t max_thread_message_accounts = 250;
/// A post notifies at most this many of the accounts following every message of its channel (in
/// a forum, every new post): the first to have chosen it.
inline constexpr std::size_t max_channel_followers = 1000;
/// Accounts looked at for one message's mentions at most: the named ones, then role holders in
/// address order (a mention of a large role reaches the first readers among them).
inline constexpr std::size_t max_mention_candidates = 1000;

/// One reaction emoji of a message with how many accounts chose it.
struct ReactionCount {
  std::string emoji;
  std::int64_t count = 0;
  bool mine = false;  ///< the viewer is among them
};

/// Threads (Discord's): a sub-channel of a channel, started from one of its messages or on its own.
/// Its id names it wherever a channel id does (messages, history, resume, reactions, pins, reads);
/// who reads or posts there is decided by its parent channel.
inline constexpr std::string_view thread_id_prefix = "th_";
/// The longest thread name, in characters (as Discord).
inline constexpr std::size_t max_thread_name_chars = 100;
/// The active (not archived) threads a channel holds at most (Discord's per-server figure).
inline constexpr std::size_t max_active_threads = 1000;
/// The inactivity after which a thread archives itself, in minutes: Discord's four choices.
inline constexpr std::int64_t thread_archive_choices[] = {60, 1440, 4320, 10080};
inline constexpr std::int64_t default_thread_archive_minutes = 1440;
/// A thread's own slow mode, at most six hours (as a channel's, and Discord's).
inline constexpr std::int64_t max_thread_slow_mode_seconds = std::int64_t{6} * 3600;

/// A forum post carries at most this many of its channel's tags (Discord's figure).
inline constexpr std::size_t max_applied_tags = 5;

/// True for a thread's id (a channel id with the thread prefix).
inline bool is_thread_id(std::string_view id) noexcept {
  return id.starts_with(thread_id_prefix);
}

/// What of a thread notifies one of its members (Discord's thread notification settings): every
/// message ("all", the default), only its mentions and replies ("mentions"), or nothing ("none").
enum class ThreadNotify { all, mentions, none };

/// "all", "mentions" or "none".
const char* to_string(ThreadNotify notify) noexcept;
/// The setting of a name; 400 `invalid_field` for anything else.
Result<ThreadNotify> parse_thread_notify(std::string_view name);

/// A thread as stored.
struct Thread {
  std::string id;
  std::string channel_id;           ///< its parent channel
  std::optional<std::int64_t> seq;  ///< the message it was started from, in the parent
  std::string name;
  eth::Address creator{};
  SystemTime created_at{};
  std::int64_t auto_archive_minutes = default_thread_archive_minutes;
  /// Archived by hand, or by inactivity as the job messaging.thread_archive recorded it (unset:
  /// maybe by inactivity, not recorded yet).
  std::optional<SystemTime> archived_at;
  bool locked = false;  ///< only those who moderate the parent write or unarchive
  /// Its own slow mode (0: none), over its parent's: the longer of the two holds in it.
  std::int64_t slow_mode_seconds = 0;
  /// Private (Discord's): read by its members who read the parent, and by the parent's moderators.
  bool is_private = false;
  /// In a private thread: members who do not moderate the parent may add others.
  bool invitable = true;
  SystemTime last_activity{};      ///< its creation or its last message
  std::int64_t last_seq = 0;       ///< its last message's seq (0: none yet)
  std::int64_t message_count = 0;  ///< its messages not deleted (system ones included)
  /// Its members, those who lost its channel included (Discord's approximate member count).
  std::int64_t member_count = 0;
  /// Whether the account it is shown to joined it (unset: not shown; frames and events are for
  /// everyone).
  std::optional<bool> joined;
  /// What of it notifies that account, when it joined (shown with `joined`).
  std::optional<ThreadNotify> notify;
  /// A forum post's tags: ids of its channel's tags.
  std::vector<std::string> applied_tags{};
  /// A forum post: the client_id of the message it started with (not shown).
  std::optional<std::string> client_id{};
  /// A forum's post: its number among the forum's posts (the forum's seq; 0: not a post, or one
  /// started before posts were numbered). Written once, not read back with the thread.
  std::int64_t post_seq = 0;
  /// A forum's pinned post: shown first, and not archived by inactivity.
  bool pinned = false;
};

/// One member of a thread: an account that joined it (by starting it, posting in it, being
/// mentioned there by address, or by hand).
struct ThreadMember {
  eth::Address account{};
  SystemTime joined_at{};
};

/// Whether the thread is archived at `now`: by hand, or after auto_archive_minutes without a
/// message (unless pinned).
bool thread_archived(const Thread& t, SystemTime now);
/// When it archived (by hand, or when its inactivity ran out); unset while active.
std::optional<SystemTime> thread_archived_at(const Thread& t, SystemTime now);
/// {"id", "channel_id", "seq" (null: started on its own), "name", "creator", "created_at",
/// "auto_archive_minutes", "archived", "archived_at", "locked", "last_seq", "last_message_at",
/// "message_count", "member_count", "slow_mode_seconds", "private", "invitable", "applied_tags",
/// "pinned"}, and
/// "joined" where
/// it is set (with "notify": the setting while joined, null otherwise).
boost::json::object thread_json(const Thread& t, SystemTime now);
/// {"account", "joined_at"}.
boost::json::object thread_member_json(const ThreadMember& m);
/// 400 `invalid_field` unless 0 to max_thread_slow_mode_seconds.
Result<void> check_thread_slow_mode(std::int64_t seconds);
/// 400 `invalid_thread_name` unless 1 to max_thread_name_chars characters that display as
/// themselves.
Result<void> check_thread_name(std::string_view name);
/// 400 `invalid_auto_archive` unless one of thread_archive_choices.
Result<void> check_auto_archive(std::int64_t minutes);

/// What a message shows of the thread started from it.
struct ThreadRef {
  std::string id;
  std::string name;
};

/// A channel message as stored (a tombstone once deleted: empty body, deleted_at set).
/// Who pinned a message, and when.
struct PinInfo {
  eth::Address by{};
  SystemTime at{};
};

/// The most pinned messages a channel holds (as Discord).
inline constexpr std::size_t max_pins = 50;

/// The most messages one bulk delete names (as Discord).
inline constexpr std::size_t max_bulk_delete = 100;

/// The most different emoji a message carries as reactions (as Discord): what bounds the reactions
/// every copy of a message lists, whatever many accounts do.
inline constexpr std::size_t max_reaction_kinds = 20;

/// Limits of a poll (as Discord's): a question, 2 to 10 answers, open 1 hour to 32 days.
inline constexpr std::size_t max_poll_question_bytes = 300;
inline constexpr std::size_t max_poll_answer_bytes = 100;
inline constexpr std::size_t min_poll_answers = 2;
inline constexpr std::size_t max_poll_answers = 10;
inline constexpr std::int64_t min_poll_hours = 1;
inline constexpr std::int64_t max_poll_hours = std::int64_t{32} * 24;

/// A poll as its author asks it.
struct PollSpec {
  std::string question;
  std::vector<std::string> answers;
  bool multiple = false;  ///< an account may choose several answers
  std::int64_t duration_hours = 24;
};

/// A poll carried by a message, with its votes as the viewer sees them.
struct Poll {
  std::string question;
  std::vector<std::string> answers;  ///< answer ids are 1-based positions
  bool multiple = false;
  SystemTime ends_at{};
  std::vector<std::int64_t> votes;  ///< per answer
  std::vector<bool> mine;           ///< per answer: the viewer chose it
};

/// 400 invalid_poll unless the poll is within its limits (texts as message bodies, answers
/// distinct).
Result<void> check_poll(const PollSpec& poll);

/// What a reply shows of the message it answers (as Discord's referenced message): its author and
/// the start of its text, read when the reply is.
struct ReplyPreview {
  eth::Address author{};
  std::string body;  ///< the parent's body cut at reply_preview_bytes on a character; empty once deleted
  bool deleted = false;
};

/// The most bytes of its parent's body a reply shows.
inline constexpr std::size_t reply_preview_bytes = 100;

/// What a forwarded message shows of the message it forwards (Discord's message snapshot): taken
/// when it is forwarded, and kept as it was then, whatever becomes of the original.
struct ForwardSnapshot {
  std::string channel_id;
  std::int64_t seq = 0;
  eth::Address author{};
  std::string body;
  SystemTime created_at{};
};

/// The author of the messages the server writes: the zero address, which no wallet signs as, so no
/// account edits them; moderators delete them as any other.
inline constexpr eth::Address system_author{};

/// What a message the server writes reports (Discord's system messages), beside an empty body.
struct SystemInfo {
  std::string kind;          ///< "poll_result", "automod_alert" or "member_joined"
  boost::json::object data;  ///< the kind's fields; empty once the message is a tombstone
};

/// The kinds of system messages.
inline constexpr std::string_view poll_result_kind = "poll_result";
inline constexpr std::string_view automod_alert_kind = "automod_alert";
inline constexpr std::string_view member_joined_kind = "member_joined";

/// The most bytes of a refused text an AutoMod alert shows (cut on a character).
inline constexpr std::size_t max_alert_content_bytes = 4096;

struct Message {
  std::string id;
  std::string channel_id;
  std::int64_t seq = 0;
  eth::Address author{};
  std::string client_id;
  std::string body;
  std::optional<std::int64_t> reply_to;       ///< the parent's seq in the same channel (a thread reply)
  std::optional<ReplyPreview> reply_preview;  ///< the parent as it is, when loaded
  std::optional<Poll> poll;                   ///< when the message carries one (loaded with annotations)
  std::vector<eth::Address> mentions;
  std::vector<std::string> mention_roles;
  SystemTime created_at{};
  std::optional<SystemTime> edited_at;
  std::optional<SystemTime> deleted_at;
  std::int64_t change = 0;  ///< the channel's change counter at its last edit, delete or reaction; 0: none
  std::vector<ReactionCount> reactions;
  std::optional<PinInfo> pin;              ///< set while the message is pinned
  bool silent = false;                     ///< sent silent: its mentions and reply notified without a push
  std::optional<SystemInfo> system;        ///< set on a message the server wrote
  std::optional<ForwardSnapshot> forward;  ///< set on a forwarded message
  std::optional<ThreadRef> thread;         ///< the thread started from it (loaded with annotations)
};

/// A forward snapshot as clients see it: {"channel_id", "seq", "author", "body", "created_at"}.
boost::json::object forward_json(const ForwardSnapshot& f);

/// Mentions found in a body.
struct Mentions {
  std::vector<eth::Address> accounts;  ///< `@0x` + 40 hex digits, distinct, in order of appearance
  std::vector<std::string> roles;      ///< `@&name` lowercased, distinct, in order of appearance
};

/// An account a message notifies of a mention, and how the message named it: by its address
/// (`role` empty), by a role it holds, or as a member (`role` is everyone_role).
struct Mentioned {
  eth::Address account;
  std::string role{};
};

/// How a mention named the account, as its event says: "direct", "role" or "everyone".
inline std::string_view mention_via(const Mentioned& m) noexcept {
  if (m.role.empty()) return "direct";
  return m.role == everyone_role ? "everyone" : "role";
}

/// The communities where an account suppresses mentions (its notification settings, as Discord's
/// per-server "Suppress @everyone" and "Suppress all role @mentions").
struct MentionSuppression {
  std::vector<std::string> everyone{};  ///< `@&member` does not count
  std::vector<std::string> roles{};     ///< no other role counts
};

/// Leaves out of `roles` (those an account holds in a community) the ones whose mentions it
/// suppresses there: everyone_role where it suppresses `@&member`, every other role where it
/// suppresses role mentions. Mentions by address always count.
void drop_suppressed(std::vector<std::string>& roles, std::string_view community_id, const MentionSuppression& s);

/// 400 `invalid_body` (empty, not UTF-8, control characters other than tab and newlines) or 413
/// `body_too_large` (over max_body_bytes).
Result<void> check_body(std::string_view body);
/// 400 `invalid_client_id` unless 1-64 of [A-Za-z0-9._:-].
Result<void> check_client_id(std::string_view client_id);
/// A channel id as the paths carry it: 1-128 printable ASCII characters without ':' or '/'.
bool valid_channel_id(std::string_view id);
/// 400 `invalid_emoji` unless 1-32 bytes of UTF-8 without whitespace or control characters.
Result<void> check_emoji(std::string_view emoji);
/// The account and role mentions of a body (at most `limit` in all: max_mentions for those a
/// message resolves).
Mentions parse_mentions(std::string_view body, std::size_t limit = max_mentions);

// --- reports ---

/// The most bytes of a reporter's note and of a moderator's resolution.
inline constexpr std::size_t max_report_note_bytes = 500;
/// The most open reports one account has filed at once (409 too_many_reports past it).
inline constexpr std::int64_t max_open_reports = 100;

/// True for a reason a report may give: spam, scam, harassment, nsfw, other.
bool valid_report_reason(std::string_view reason);
/// True for a report's status: open, resolved, dismissed.
bool valid_report_status(std::string_view status);
/// 400 `field` (e.g. invalid_note) unless `text` is at most max_report_note_bytes of text as a
/// message body allows it; it may be empty.
Result<void> check_report_text(std::string_view text, std::string_view code);

/// A member's report of a message to the channel's moderators.
struct Report {
  std::int64_t id = 0;
  std::string channel_id;
  std::int64_t seq = 0;
  std::string message_id;
  eth::Address author{};
  std::string body;  ///< the message's text when it was reported
  eth::Address reporter{};
  std::string reason;
  std::string note;
  std::string status;  ///< open, resolved, dismissed
  std::string resolution;
  std::optional<eth::Address> resolved_by;
  std::optional<SystemTime> resolved_at;
  SystemTime created_at{};
  std::int64_t message_reports = 1;  ///< reports of this message in all (by any reporter)
};

/// The JSON of a report as moderators see it.
boost::json::object report_json(const Report& r);
/// As its reporter sees it: without what moderators wrote and who (resolution, resolved_by) and
/// without the count of others' reports.
boost::json::object reporter_report_json(const Report& r);

/// What a reply to `parent` shows of it.
ReplyPreview preview_of(const Message& parent);
/// The JSON of a message as clients see it.
boost::json::object message_json(const Message& m);
/// What a poll_result message reports of a poll that ended (its final counts as `poll` holds
/// them): {"poll_seq", "question", "answers": [{"id", "text", "votes"}], "total_votes",
/// "winners": [answer ids with the most votes; none without votes]}.
boost::json::object poll_result_data(std::int64_t poll_seq, const Poll& poll);
/// The live frame of a new message: message_json plus "type": "message".
std::string message_frame(const Message& m);

/// Where a message stands in a community search, whose results go newest first: by creation time
/// (ms), then channel id, then seq, each descending. A channel's messages never go back in time
/// as their seq grows (the time a message carries is at least its predecessor's), so those of a
/// channel below a key are the seqs below some seq.
struct SearchKey {
  std::int64_t created_ms = 0;
  std::string channel_id;
  std::int64_t seq = 0;
  auto operator<=>(const SearchKey&) const = default;
};
/// The key of a message.
SearchKey search_key(const Message& m);
/// "<created_ms>:<seq>:<channel_id>", the opaque cursor a client sends back.
std::string format_search_key(const SearchKey& key);
/// The reverse; 400 `invalid_cursor` for anything format_search_key does not write.
Result<SearchKey> parse_search_key(std::string_view text);

}  // namespace gh::messaging
