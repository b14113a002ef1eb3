#pragma once
// messaging's use cases (API.md "Messages"): channel messages with a gapless per-channel seq,
// idempotent sends by client_id, history, edits, tombstone deletes, thread replies, reactions,
// mentions (`@0x…` accounts and `@&role`), read markers and unread counts. Every state change
// commits with its events (messaging.channel_message, messaging.mention, messaging.reply,
// messaging.message_edited, messaging.message_deleted); live frames then go to this node's
// sockets through realtime::Gateway, which also reads history through topic_source() to resume.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/due_loop.hpp"
#include "messaging/access.hpp"
#include "messaging/model.hpp"
#include "messaging/notify_settings.hpp"
#include "realtime/gateway.hpp"
#include "store/database.hpp"

namespace gh::messaging {

namespace sql {
struct ReportQuery;
}

/// The message a post forwards.
struct ForwardOf {
  std::string channel_id;
  std::int64_t seq = 0;
};

/// A message to post.
struct NewMessage {
  std::string body;
  std::string client_id;
  std::optional<std::int64_t> reply_to;
  std::optional<PollSpec> poll;  ///< with a poll the body may be empty
  /// Forwards that message (the read right there; not a reply, no poll): the post carries its
  /// snapshot, and the body, which may be empty, is a comment.
  std::optional<ForwardOf> forward;
  /// Its mentions and reply notify without a push (Discord's @silent): they reach the center and
  /// open sockets marked `silent`.
  bool silent = false;
  /// false: the author of the message replied to is not notified (Discord's reply with the ping off).
  bool ping_reply = true;
};

/// A thread to start in a channel.
struct NewThread {
  std::string name;
  std::optional<std::int64_t> seq;  ///< started from this message of the channel; unset: on its own
  /// Unset: its channel's default (default_thread_archive_minutes outside a community).
  std::optional<std::int64_t> auto_archive_minutes{};
  bool is_private = false;        ///< read by its members and the channel's moderators alone
  std::optional<bool> invitable;  ///< a private thread's (default true)
  /// A forum post starts with this message (required there, refused elsewhere).
  std::optional<NewMessage> message{};
  /// A forum post's tags: ids of its channel's tags.
  std::vector<std::string> applied_tags{};
};

/// A thread started, and a forum post's first message.
struct StartedThread {
  Thread thread;
  std::optional<Message> message{};
};

/// What a change to a thread sets; an unset field stays as it is.
struct ThreadChange {
  std::optional<std::string> name;
  std::optional<bool> archived;
  std::optional<bool> locked;
  std::optional<std::int64_t> auto_archive_minutes;
  std::optional<std::int64_t> slow_mode_seconds;         ///< those who moderate its channel alone
  std::optional<bool> invitable;                         ///< a private thread's; those who moderate alone
  std::optional<std::vector<std::string>> applied_tags;  ///< a forum post's, all of them
  std::optional<bool> pinned;                            ///< a forum post's; those who moderate alone
};

/// One page of a channel's threads.
struct ThreadPage {
  std::vector<Thread> threads;
  std::optional<std::string> next_cursor;  ///< pass back as `cursor` for the next page
  /// A channel's list of active threads: its pinned post is apart, in `pinned` on the first page.
  bool lists_pinned = false;
  std::optional<Thread> pinned{};
  /// The first message of each listed thread (pinned included) that has one not deleted: a forum's
  /// posts show theirs.
  std::vector<Message> first_messages{};
};

/// Which threads of a channel a page lists.
struct ThreadQuery {
  bool archived = false;             ///< the archived ones, else the active ones
  bool joined = false;               ///< only those the caller joined
  std::optional<std::string> tag{};  ///< only the forum posts carrying this tag
  bool by_creation = false;          ///< newest first, else latest activity first
  bool pinned_apart = false;         ///< a channel's pinned post is listed apart (ThreadPage::pinned)
  std::optional<std::string> cursor;
  std::size_t limit = 50;
};

/// One page of a thread's members.
struct ThreadMemberPage {
  std::vector<ThreadMember> members;
  std::optional<std::string> next_cursor;  ///< pass back as `cursor` for the next page
};

/// The outcome of a post: the message, and whether this call created it (false: a retry).
struct Posted {
  Message message;
  bool created = true;
};

/// Which page of history.
struct HistoryQuery {
  std::optional<std::int64_t> before_seq;  ///< newest first, below this seq
  std::optional<std::int64_t> after_seq;   ///< oldest first, above this seq
  /// Newest first, the messages around this seq: it and up to limit - limit / 2 - 1 below it,
  /// up to limit / 2 above it (what a client shows when it jumps to a search result).
  std::optional<std::int64_t> around_seq;
  std::size_t limit = 50;
};

/// Unread figures of one channel for one account.
struct Unread {
  std::string channel_id;
  std::int64_t last_seq = 0;
  std::int64_t last_read_seq = 0;
  std::int64_t unread = 0;    ///< messages by others, not deleted, after the marker (capped)
  std::int64_t mentions = 0;  ///< of those, the ones mentioning the account or a role it holds
};

/// One page of accounts (who reacted with an emoji, who chose a poll's answer).
struct AccountPage {
  std::vector<eth::Address> accounts;  ///< in address order
  bool more = false;                   ///< a next page exists (ask after the last account)
};

/// What changed in a channel after a point (edits, deletes, reactions).
struct Changes {
  std::vector<Message> messages;  ///< as they are now, in the order of their last change
  std::int64_t last_change = 0;   ///< the channel's change counter when read
};

/// A search of one channel's messages: every message holding all the words of `text`
/// (search_text.hpp), by `author` when given; at least one of the two.
struct SearchQuery {
  std::string text;
  std::optional<eth::Address> author;
  std::vector<std::string> has;            ///< "link", "poll": the message holds each
  std::optional<eth::Address> mentions;    ///< the body mentions this account
  std::optional<std::int64_t> before_seq;  ///< only messages below this seq
  std::size_t limit = 25;
  /// A community search: only this channel and its threads (a forum: its posts).
  std::optional<std::string> channel_id{};
};

/// One page of search results.
struct SearchPage {
  std::vector<Message> messages;  ///< newest first
  /// The before_seq of the next page; none once the channel's first message was looked at. A page
  /// looks at most search_window seqs, so it may hold fewer than `limit` messages (even none) and
  /// still have a next one.
  std::optional<std::int64_t> next_before_seq;
  /// The window looked at holds messages written before the search index that the backfill has
  /// not indexed yet: some matches may be missing.
  bool partial = false;
};

/// One page of a community-wide search: the messages of every channel of the community the caller
/// reads, and of their threads it reads, newest first (SearchKey's order).
struct CommunitySearchPage {
  std::vector<Message> messages;
  /// The parent channel of each thread a message of the page was found in, by thread id.
  std::map<std::string, std::string> thread_parents{};
  /// Where the next page starts (its `before`); none once every channel's first message was looked
  /// at. A page looks at most search_window seqs in all, shared among the search_channels channels
  /// and threads with the newest messages below `before`, so it may hold fewer than `limit`
  /// messages (even none) and still have a next one.
  std::optional<SearchKey> next_before;
  bool partial = false;  ///< as SearchPage's, in any of the channels
};

/// Limits of messaging.
struct MessagingSettings {
  std::size_t max_page = 100;
  std::int64_t unread_cap = 1000;
  std::size_t max_unread_channels = 500;
  /// Messages one purge transaction deletes (a banned member's history goes in such batches).
  std::size_t purge_batch = 200;
  /// The seqs one search request looks at most: what bounds its work in a channel of any size.
  std::int64_t search_window = 10000;
  /// The channels and threads one community search request looks into at most (those with the
  /// newest messages below where it starts; the others wait for a later page).
  std::size_t search_channels = 50;
  /// The threads a community search looks into at most: the latest active ones.
  std::size_t search_threads = 2000;
  /// Messages written before the search index, indexed per transaction and per job run at most.
  std::size_t backfill_batch = 500;
  std::size_t backfill_per_run = 100000;
  /// How long a resolved or dismissed report is kept (the job messaging.reports_purge).
  std::chrono::hours report_retention{24 * 90};
  /// Reports that job deletes per transaction.
  std::size_t report_purge_batch = 1000;
  /// Results of ended polls the job messaging.poll_results posts per transaction, and per run at most.
  std::size_t poll_result_batch = 100;
  std::size_t poll_results_per_run = 10000;
};

/// A report filed: the report, and whether this call filed it (false: the reporter's earlier one).
struct Filed {
  Report report;
  bool created = true;
};

/// Which reports of a community's queue, newest first.
struct ReportFilter {
  std::optional<std::string> status;  ///< none: every status
  std::int64_t before_id = 0;         ///< only reports below this id (0: from the newest)
  std::size_t limit = 50;
};

/// One page of reports.
struct ReportPage {
  std::vector<Report> reports;
  std::optional<std::int64_t> next_before;  ///< pass back as before_id while set
};

/// The kind of gateway topic of a channel ("channel").
inline constexpr std::string_view channel_topic = "channel";
/// The kind of gateway topic of a channel's reports, for its moderators ("report_channel_id").
inline constexpr std::string_view report_topic = "report_channel";

/// messaging's use cases. Thread-safe; database work runs on the blocking pool.
class MessagingService {
 public:
  MessagingService(store::Database& db, BlockingPool& pool, const Clock& clock, ChannelAccess& access,
                   realtime::Gateway* gateway, std::function<void()> events_published, MessagingSettings settings = {});

  /// Posts a message (403 without post access; 400/413 for a bad body; 400 unknown_parent). The
  /// same client_id from the same author in the same channel returns the first message. A forward
  /// needs the read right in its source channel (403 forbidden), a message there (404
  /// message_not_found; 409 message_deleted) that is not a system message nor a poll (400
  /// cannot_forward); forwarding a forward with no comment forwards what it carries.
  Task<Result<Posted>> post(eth::Address who, std::string channel_id, NewMessage message);
  /// The caller's message with that client id in the channel, if any (403 without read access):
  /// what a retry of a post gets, also when the retry itself is over the rate limit.
  Task<Result<std::optional<Message>>> find_posted(eth::Address who, std::string channel_id, std::string client_id);
  /// A page of history (403 without read access).
  Task<Result<std::vector<Message>>> history(eth::Address who, std::string channel_id, HistoryQuery query);
  /// One message (404 when absent).
  Task<Result<Message>> get(eth::Address who, std::string channel_id, std::int64_t seq);
  /// The replies to a message, oldest first, after `after_seq`.
  Task<Result<std::vector<Message>>> replies(eth::Address who, std::string channel_id, std::int64_t seq,
                                             std::int64_t after_seq, std::size_t limit);
  /// Edits the caller's own message (403 without post access or not_author, 409 message_deleted).
  Task<Result<Message>> edit(eth::Address who, std::string channel_id, std::int64_t seq, std::string body);
  /// Deletes a message, leaving a tombstone; deleting again changes nothing. The author needs only
  /// the read right (an author can take back what they wrote in an archived channel); anyone else
  /// needs the moderation right (community manage_messages), else 403 not_author.
  Task<Result<void>> remove(eth::Address who, std::string channel_id, std::int64_t seq);
  /// Deletes up to max_bulk_delete messages at once, in one transaction (the moderation right,
  /// community manage_messages, else 403 missing_permission; 400 invalid_seqs). Unknown seqs and
  /// tombstones are skipped; returns the seqs this call deleted, ascending.
  Task<Result<std::vector<std::int64_t>>> remove_many(eth::Address who, std::string channel_id,
                                                      std::vector<std::int64_t> seqs);
  // --- threads ---
  /// Starts a thread in a channel (the right to send messages there; 400 invalid_channel in a
  /// thread, invalid_thread_name, invalid_auto_archive, invalid_seq; from a message: 404
  /// message_not_found, 409 message_deleted, 409 thread_exists with its `thread_id`; 409
  /// too_many_threads past max_active_threads active ones). Event messaging.thread_created; the
  /// parent's subscribers get `thread_created`, and the message `message_updated` with its thread.
  /// In a forum channel, a post: a public thread started with `spec.message`, posted as a message
  /// would be, carrying `spec.applied_tags` (400 invalid_field without a message or with a seq or
  /// private; 400 invalid_tag, tag_required; 403 missing_permission for a moderated tag). The
  /// retry of a post (its message's client_id) answers the post it made. A message the post
  /// cannot take withdraws the thread it started.
  Task<Result<StartedThread>> create_thread(eth::Address who, std::string channel_id, NewThread spec);
  /// A channel's active (or archived) threads, latest activity first, each with whether the
  /// caller joined it (the read right; 400 invalid_cursor).
  Task<Result<ThreadPage>> threads(eth::Address who, std::string channel_id, ThreadQuery query);
  /// The active threads of every channel of a community the caller reads, latest activity first
  /// (as Discord's active threads of a server), each with whether the caller joined it (403
  /// not_member, 404 for no such community; 400 invalid_cursor; `archived` is not asked).
  Task<Result<ThreadPage>> community_threads(eth::Address who, std::string community_id, ThreadQuery query);
  /// One thread, with whether the caller joined it (404 thread_not_found also where the caller
  /// cannot read its channel).
  Task<Result<Thread>> thread(eth::Address who, std::string thread_id);
  /// `member` joins the thread (`joined`) or leaves it. For oneself: the read right. Adding
  /// another takes the right to post in the thread (403 forbidden, timed_out, thread_locked), and
  /// one who reads it (400 invalid_member); removing another takes moderating its channel (403
  /// missing_permission). Idempotent. A change reaches the thread's subscribers as
  /// `thread_members_updated` and the member's sockets as `thread_member_updated`. `notify`, one's
  /// own only (403 forbidden for another's), joins with that notification setting, or changes it
  /// for a member (its sockets learn it as `thread_member_updated`).
  Task<Result<void>> set_thread_member(eth::Address who, std::string thread_id, eth::Address member, bool joined,
                                       std::optional<ThreadNotify> notify = std::nullopt);
  /// A thread's members who read it, in the order they joined (the read right; 404
  /// thread_not_found; 400 invalid_cursor). A page may hold fewer than `limit` where members lost
  /// the thread's channel.
  Task<Result<ThreadMemberPage>> thread_members(eth::Address who, std::string thread_id,
                                                std::optional<std::string> cursor, std::size_t limit);
  /// Renames, archives or brings back a thread, or changes its auto-archive time: its creator, or
  /// a moderator of its channel; locking takes a moderator (403 missing_permission; 403
  /// thread_locked for the creator of a locked thread). Event messaging.thread_updated; the
  /// subscribers of the channel and of the thread get `thread_updated`.
  Task<Result<Thread>> update_thread(eth::Address who, std::string thread_id, ThreadChange change);
  /// Deletes a thread (those who moderate its channel; 403 missing_permission; 404
  /// thread_not_found): it is found no more at once, its start message shows no thread, its
  /// members and read markers go, and its messages are tombstoned in batches after (event
  /// messaging.thread_deleted, whose consumer runs purge_thread_batch). The channel's subscribers
  /// get `thread_deleted`; the thread's are unsubscribed with a `membership` frame.
  Task<Result<void>> delete_thread(eth::Address who, std::string thread_id);

  /// Pins or unpins a message (the post right and the moderation right, community
  /// manage_messages, else 403 missing_permission; 409 message_deleted; 409 too_many_pins past
  /// max_pins). Idempotent. Subscribers get the message as `message_updated` with `pinned`.
  Task<Result<void>> pin(eth::Address who, std::string channel_id, std::int64_t seq, bool pinned);
  /// Shows `who` typing in the channel over HTTP (as a socket's typing frame does): the post right,
  /// then a `typing` frame to the channel's subscribers other than `who`'s sockets. The caller
  /// paces it.
  Task<Result<void>> typing(eth::Address who, std::string channel_id);
  /// Whether `who` may show itself typing there (the post right), without showing it.
  Task<Result<void>> may_type(eth::Address who, std::string channel_id);
  /// The channel's pinned messages, the latest pinned first (403 without read access).
  Task<Result<std::vector<Message>>> pins(eth::Address who, std::string channel_id);
  /// Adds or removes the caller's reaction (403 without post access, 409 message_deleted; 409
  /// too_many_reactions for a new emoji past max_reaction_kinds).
  Task<Result<void>> react(eth::Address who, std::string channel_id, std::int64_t seq, std::string emoji, bool add);
  /// Casts (add) or withdraws the caller's vote for `answer` (1-based) of a message's poll (the post
  /// right; 404 poll_not_found, 400 invalid_answer, 409 poll_closed once it ended, 409
  /// message_deleted). In a single-answer poll a vote replaces the caller's other one.
  /// Subscribers get the poll's counts in a `poll_votes` frame.
  Task<Result<void>> vote(eth::Address who, std::string channel_id, std::int64_t seq, std::int64_t answer, bool add);
  /// Ends the caller's own poll now (403 not_author), posting its result (a `poll_result` system
  /// message); ending an ended poll changes nothing.
  Task<Result<void>> end_poll(eth::Address who, std::string channel_id, std::int64_t seq);
  /// Who reacted to a message with an emoji (403 without read access, 404 message_not_found), in
  /// address order after `after`.
  /// Who chose answer `answer` of a message's poll (403 without read access, 404
  /// message_not_found or poll_not_found, 400 invalid_answer), in address order after `after`.
  Task<Result<AccountPage>> voters(eth::Address who, std::string channel_id, std::int64_t seq, std::int64_t answer,
                                   std::optional<eth::Address> after, std::size_t limit);
  Task<Result<AccountPage>> reactors(eth::Address who, std::string channel_id, std::int64_t seq, std::string emoji,
                                     std::optional<eth::Address> after, std::size_t limit);
  /// The messages edited, deleted or reacted to after change `after_change` (403 without read
  /// access): what a client that was away reads to bring the messages it holds up to date.
  Task<Result<Changes>> changes(eth::Address who, std::string channel_id, std::int64_t after_change, std::size_t limit);
  /// Searches a channel (403 without read access, 400 invalid_query), newest first, one window of
  /// seqs per call.
  Task<Result<SearchPage>> search(eth::Address who, std::string channel_id, SearchQuery query);
  /// Searches every channel of the community the caller reads (403 not_member, 404), below
  /// `before` when given (query.before_seq is not used).
  Task<Result<CommunitySearchPage>> search_community(eth::Address who, std::string community_id, SearchQuery query,
                                                     std::optional<SearchKey> before);
  /// Indexes, for search, messages written before the index existed (the job
  /// messaging.search_backfill): channel by channel, newest first, backfill_batch per transaction,
  /// until none is left or backfill_per_run were indexed. Returns how many were looked at.
  Task<Result<std::size_t>> index_backlog();
  /// Moves the caller's read marker forward to `seq` (clamped to the channel's head); the marker.
  /// With `force`, sets it to `seq` back as well ("mark unread": the messages above it count as
  /// unread again).
  Task<Result<std::int64_t>> mark_read(eth::Address who, std::string channel_id, std::int64_t seq, bool force = false);
  /// Moves the caller's read markers of several channels at once (each as mark_read), in one
  /// transaction: 403 for any channel it may not read, and then none moves. Channel id → marker.
  Task<Result<std::map<std::string, std::int64_t>>> mark_read_many(eth::Address who,
                                                                   std::map<std::string, std::int64_t> seqs);
  /// Marks a community read (Discord's "Mark As Read" on a server): every channel of it the caller
  /// reads, and the active threads of those it joined (at most max_unread_channels), read up to
  /// their heads, in one transaction. 403 when it is not a member. Place id → marker.
  Task<Result<std::map<std::string, std::int64_t>>> mark_community_read(eth::Address who, std::string community_id);
  /// Reports a message to the channel's moderators (read access, else 403; 404 message_not_found;
  /// 409 message_deleted; 400 own_message; 409 too_many_reports past max_open_reports open ones).
  /// Its text is kept as it is now. A second report of the same message by the same account returns
  /// the first. Event messaging.message_reported.
  Task<Result<Filed>> report(eth::Address who, std::string channel_id, std::int64_t seq, std::string reason,
                             std::string note);
  /// The reports of the community's channels that `who` moderates (403 when none).
  Task<Result<ReportPage>> community_reports(eth::Address who, std::string community_id, ReportFilter filter);
  /// The reports `who` filed, in any channel, newest first.
  Task<Result<ReportPage>> my_reports(eth::Address who, ReportFilter filter);
  /// Resolves, dismisses or reopens a report (manage_messages in its channel; else, as for a report
  /// that does not exist, 404 report_not_found). Event messaging.report_updated when it changes.
  Task<Result<Report>> update_report(eth::Address who, std::int64_t report_id, std::string status,
                                     std::string resolution);
  /// Deletes the reports closed longer than report_retention ago (the job messaging.reports_purge);
  /// returns how many.
  Task<Result<std::size_t>> purge_reports();

  /// Records every thread whose inactivity ran out as archived then (the job
  /// messaging.thread_archive), in batches of purge_batch per transaction, each with the event
  /// messaging.thread_archived. Returns how many.
  Task<Result<std::size_t>> archive_inactive_threads();
  /// A thread archived by inactivity (messaging.thread_archived): its channel's and its own
  /// subscribers here get `thread_updated`, while it stays archived.
  void on_thread_archived(store::Tx& tx, const bus::Event& event);
  /// Posts the result of every poll that ended without one (the loop messaging.poll_results,
  /// poll_results_loop()): a `poll_result` system message replying to the poll, with its final
  /// counts. Returns how many.
  Task<Result<std::size_t>> post_poll_results();
  /// How long until the earliest poll without a result ends (zero when one has); none when every
  /// poll has its result.
  Task<Result<std::optional<std::chrono::milliseconds>>> next_poll_result_in();
  /// Posts, inside the caller's transaction (the bus consumer's), the `automod_alert` system
  /// message of a block whose rule names an alert channel (community.automod_blocked with
  /// alert_channel_id).
  void on_automod_blocked(store::Tx& tx, const bus::Event& event);
  /// Welcomes, inside the caller's transaction (the bus consumer's), a member who joined a community
  /// with a system channel (community.member_joined, reason joined, with system_channel_id): a
  /// `member_joined` system message there, once per account and channel (one who leaves and joins
  /// again is not welcomed again).
  void on_member_joined(store::Tx& tx, const bus::Event& event);
  /// Sends the live `message` frame of a committed system message (messaging.system_message).
  void on_system_message(store::Tx& tx, const bus::Event& event);

  /// A role renamed or deleted (community.role_updated): in the messages of the community's
  /// channels written before, its mentions take the new name (or leave with the role), so unread
  /// mention counts follow the role and a new role taking the old name inherits none. In the
  /// consumer's transaction, one statement per channel.
  void on_role_renamed(store::Tx& tx, const bus::Event& event);

  /// Unread figures for the given channels, or for every readable channel when empty. Mentions
  /// through `@&member` or a role do not count in a community where the account suppresses them.
  Task<Result<std::vector<Unread>>> unread(eth::Address who, std::vector<std::string> channel_ids);

  /// Deletes, inside the caller's transaction (the bus consumer's), the next batch of what a
  /// banned member wrote (`community.member_banned` with delete_messages_since_ms, then
  /// `messaging.purge_continued`): at most purge_batch tombstones, each with its
  /// `messaging.message_deleted` (purged: true, deleted_by the moderator), and a
  /// `messaging.purge_continued` with the position when more may remain. Returns the messages
  /// deleted.
  std::size_t purge_batch(store::Tx& tx, const bus::Event& event);
  /// Tombstones, inside the caller's transaction, the next batch of a deleted thread's messages
  /// (`messaging.thread_deleted`, then `messaging.thread_purge_continued` with the position while
  /// more may remain): at most purge_batch, each with its `messaging.message_deleted` (purged:
  /// true, deleted_by the moderator). Returns the messages deleted.
  std::size_t purge_thread_batch(store::Tx& tx, const bus::Event& event);
  /// One who left a community (community.member_removed: left, kicked, banned, its gate lost)
  /// leaves the threads it joined in the channels it had there, inside the caller's transaction:
  /// at most purge_batch per transaction, each counted out of its member_count, with
  /// `messaging.thread_members_removed` for the batch, and the same request again as
  /// `messaging.thread_leaves_continued` while more may remain. Returns the threads left.
  std::size_t leave_community_threads(store::Tx& tx, const bus::Event& event);
  /// Sends the threads' subscribers (`thread_members_updated`) and the account's sockets
  /// (`thread_member_updated`) that it left them (messaging.thread_members_removed, committed).
  void on_thread_members_removed(store::Tx& tx, const bus::Event& event);
  /// Sends the live `message_updated` of a message a purge deleted (from its committed
  /// `messaging.message_deleted`; other deletes sent theirs when they committed).
  void on_message_deleted(store::Tx& tx, const bus::Event& event);

  /// What the gateway needs to serve channel topics.
  realtime::TopicSource topic_source();
  /// What the gateway needs to serve the report topics: a channel's moderators (manage_messages
  /// there) subscribe to its reports and get a `report` frame when one is filed or changes. No
  /// history: a client reads the queue, then follows it live.
  realtime::TopicSource report_topic_source();
  /// Re-checks the access of the sockets a community event may concern and drops at once the
  /// subscriptions the accounts lost, telling their sockets with a `membership` frame.
  void on_membership_event(const bus::Event& event);
  /// Tells the sockets here of an account timed out or let speak again (community.member_timeout)
  /// with a `timeout` frame.
  void on_timeout_event(const bus::Event& event);
  /// A member's nickname changed (community.member_updated): every account here following one of
  /// the community's channels gets `{"type": "member_updated", "community_id", "account",
  /// "nickname"}` once.
  void on_member_updated(const bus::Event& event);
  /// A role of a community was created, changed or deleted (community.role_updated): every account
  /// here following one of the community's channels gets `{"type": "role_updated", ...}`, the
  /// event without its channel ids.
  void on_role_updated(const bus::Event& event);
  /// A channel changed what its readers see (community.channel_updated): its subscribers here get
  /// `{"type": "channel_updated", "channel_id", "community_id", "changes": {...}}`.
  void on_channel_updated(const bus::Event& event);
  /// A forum's tags changed (community.channel_updated with `available_tags`): its posts lose the
  /// tags it no longer has.
  void on_forum_tags_changed(store::Tx& tx, const bus::Event& event);

 private:
  /// post(), with the channel's rules already read when `known` holds them (a forum post's first
  /// message, in the thread its request just made).
  Task<Result<Posted>> post_with(eth::Address who, std::string channel_id, NewMessage message,
                                 std::optional<PostRules> known);
  /// Deletes the thread `current` (no rights checked) as delete_thread does, `who` deleting it.
  /// `withdrawn`: a forum post whose message was refused; its message's client_id is free again.
  Task<Result<void>> remove_thread(const eth::Address& who, const Thread& current, bool withdrawn = false);
  /// One page of the reports `query` names, as `filter` pages them.
  Task<Result<ReportPage>> report_page(sql::ReportQuery query, ReportFilter filter);
  Task<Result<void>> require_read(const eth::Address& who, const std::string& channel_id);
  /// What a post forwarding `source` carries, as `who` may read it.
  Task<Result<ForwardSnapshot>> forward_snapshot(const eth::Address& who, const ForwardOf& source);
  Task<Result<void>> require_post(const eth::Address& who, const std::string& channel_id);
  /// 403 missing_permission (saying `what`, e.g. "deleting a thread") unless `who` moderates the
  /// channel (manage_messages in its community).
  Task<Result<void>> require_moderator(const eth::Address& who, const std::string& channel_id, std::string what);
  /// require_post, and the right to post messages (typing): a channel may keep it to some roles.
  Task<Result<void>> require_send(const eth::Address& who, const std::string& channel_id);
  Task<Result<void>> require(const eth::Address& who, const std::string& channel_id, bool post);
  Task<Mentions> effective_mentions(const eth::Address& who, const std::string& channel_id, std::string_view body);
  /// The 403 automod_blocked for a text a community rule refused, once the community has recorded
  /// the block (and applied the rule's timeout). The live `automod_block` frame goes to the report
  /// subscribers of the channel whose rules (`rules`) refused it: a thread's go to its parent's.
  Task<Error> refuse_content(eth::Address who, std::string channel_id, ContentBlock block, const PostRules& rules);
  Task<std::vector<Mentioned>> resolve_mentions(const eth::Address& who, const std::string& channel_id,
                                                const Mentions& mentions);
  /// Sends the `report` frame of a report filed or changed to the report topic of its channel here
  /// (`topic_id`: the parent of a thread).
  void announce_report(const Report& r, const std::string& topic_id);
  /// Sends a thread's frame (`thread_created`, `thread_updated`) to the subscribers of its channel,
  /// and of the thread itself.
  void announce_thread(std::string_view type, const Thread& t, bool to_thread);
  /// The channels of a community whose private threads the account sees though it did not join
  /// them: those it moderates (none when it moderates nothing there).
  Task<Result<std::vector<std::string>>> private_threads_seen(eth::Address who, std::string community_id);
  /// One page of the threads of these channels (read by the caller), with whether it joined each:
  /// private ones it joined, and all those of the channels it moderates (`moderated`).
  Task<Result<ThreadPage>> thread_page(const eth::Address& who, std::vector<std::string> channel_ids,
                                       std::vector<std::string> moderated, const ThreadQuery& query);
  /// Sends that these accounts joined (or left) a thread, with its member count as it left it, to
  /// its subscribers (`thread_members_updated`) and to those accounts' sockets
  /// (`thread_member_updated`, with `notify`, their setting there while joined).
  void announce_members(const Thread& t, const std::vector<eth::Address>& accounts, bool joined,
                        ThreadNotify notify = ThreadNotify::all);
  /// Sends a member's own sockets its new notification setting in a thread
  /// (`thread_member_updated`).
  void announce_setting(const Thread& t, const eth::Address& member, ThreadNotify notify);
  /// Sends a thread's activity (a message written or deleted there: its counts, its last message,
  /// whether it is active) to its parent's subscribers, who do not get its messages
  /// (`thread_activity`).
  void announce_activity(const Thread& t);
  /// A thread's name (its start, or a rename) passes the channel's AutoMod rules (`rules`, the
  /// account's there) as a message's text would: refused, it is 403 automod_blocked, recorded and
  /// alerted as a blocked message of the channel, naming the thread (`thread_id`, empty for a
  /// start).
  Task<Result<void>> screen_thread_name(const eth::Address& who, const std::string& channel_id, const std::string& name,
                                        const PostRules& rules, const std::string& thread_id);
  /// After a committed change of a message: wakes the bus and sends `message_updated` here.
  void announce_update(const std::string& channel_id, const Message& m);
  Task<void> recheck(std::vector<eth::Address> accounts, std::vector<std::string> channel_ids,
                     std::string community_id);

  store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  ChannelAccess& m_access;
  realtime::Gateway* m_gateway;
  std::function<void()> m_events_published;
  MessagingSettings m_settings;
  Executor m_executor;

 public:
  /// The clock use cases read (a thread's archive depends on the time it is shown at).
  const Clock& clock() const noexcept { return m_clock; }
  /// The executor membership re-checks run on (set by the module).
  void set_executor(Executor executor) { m_executor = std::move(executor); }
  /// Where unread mention counts learn what the account suppresses, and posts who follows their
  /// channel (set once at start, before any request; null: every mention counts, no one follows).
  void set_notify_settings(NotifySettings* settings) { m_notify_settings = settings; }

 private:
  NotifySettings* m_notify_settings = nullptr;
};

/// The loop that posts each poll's result as it ends (MessagingService::post_poll_results): it
/// sleeps until the earliest end (next_poll_result_in), at most `idle_poll`, then looks again. Run
/// it on the worker role; the service must outlive it.
std::unique_ptr<DueLoop> poll_results_loop(Executor executor, MessagingService& service,
                                           std::chrono::milliseconds idle_poll);

}  // namespace gh::messaging
