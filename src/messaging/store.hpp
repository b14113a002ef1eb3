#pragma once
// Every SQL statement of messaging (tables msg_*), for both dialects.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "messaging/model.hpp"
#include "store/database.hpp"

namespace gh::messaging::sql {

using store::Tx;

/// An account this context stored (lowercase hex). A row holding anything else is corrupt, and
/// fails as the database's failure (store::DbError, other), as a column of another type does.
eth::Address stored_address(const std::string& text);

/// Raises the channel's sequence by one and returns the new seq (the row stays locked until the
/// transaction ends, so concurrent senders take consecutive seqs).
/// With `now_ms`: also the time the new message carries, `now_ms` or its predecessor's when that
/// is later, so that a channel's messages never go back in time as their seq grows.
std::pair<std::int64_t, std::int64_t> next_seq(Tx& tx, const std::string& channel_id, std::int64_t now_ms);
/// What a post reads as it takes its seq.
struct PostStart {
  std::optional<Message> stored;  ///< the author's message with that client id, stored before: the rest is unset
  std::int64_t seq = 0;           ///< of next_seq
  std::int64_t created_ms = 0;    ///< of next_seq
  std::int64_t read_before = 0;   ///< the author's read marker in the channel before the post
  std::optional<Message> parent;  ///< the message it replies to, when it replies to one there
};
/// find_by_client_id; unless that finds a message, next_seq, the author's read_marker and the
/// message `reply_to` names (find). In one round trip on PostgreSQL.
PostStart start_post(Tx& tx, const std::string& channel_id, const std::string& author, const std::string& client_id,
                     std::int64_t now_ms, std::optional<std::int64_t> reply_to);
/// The channel's latest seq (0 when it has no message).
std::int64_t head(Tx& tx, const std::string& channel_id);
/// Inserts a message (its seq taken by next_seq); a thread's message_count counts it.
void insert_message(Tx& tx, const Message& m);
/// The author's message with that client id in the channel.
std::optional<Message> find_by_client_id(Tx& tx, const std::string& channel_id, const std::string& author,
                                         const std::string& client_id);
/// One message by seq; `for_update` locks it on PostgreSQL.
std::optional<Message> find(Tx& tx, const std::string& channel_id, std::int64_t seq, bool for_update = false);
/// Messages with seq > after_seq, oldest first.
std::vector<Message> after(Tx& tx, const std::string& channel_id, std::int64_t after_seq, std::size_t limit);
/// When the author last posted in the channel (Unix ms), deleted messages included.
std::optional<std::int64_t> last_post_ms(Tx& tx, const std::string& channel_id, const std::string& author);
/// An author's messages in a channel that are not deleted, written at or after `since_ms`, with a
/// seq above `after_seq`, oldest first.
std::vector<Message> authored_since(Tx& tx, const std::string& channel_id, const std::string& author,
                                    std::int64_t since_ms, std::int64_t after_seq, std::size_t limit);
/// Messages with seq < before_seq (all when nullopt), newest first.
std::vector<Message> before(Tx& tx, const std::string& channel_id, std::optional<std::int64_t> before_seq,
                            std::size_t limit);
/// Replies to `parent`, oldest first, with seq > after_seq.
std::vector<Message> replies(Tx& tx, const std::string& channel_id, std::int64_t parent, std::int64_t after_seq,
                             std::size_t limit);
/// Replaces a message's body (and its mentions); stamps edited_ms.
void update_body(Tx& tx, const Message& m);
/// Raises the channel's change counter and stamps the message with it; the new value.
std::int64_t mark_changed(Tx& tx, const std::string& channel_id, std::int64_t seq);
/// The channel's change counter (0 when nothing ever changed).
std::int64_t last_change(Tx& tx, const std::string& channel_id);
/// The channel's last seq and change counter, in one read.
std::pair<std::int64_t, std::int64_t> head_and_change(Tx& tx, const std::string& channel_id);
/// The messages whose last change is above `after_change`, in change order.
std::vector<Message> changed_after(Tx& tx, const std::string& channel_id, std::int64_t after_change, std::size_t limit);
/// Turns a message into a tombstone (body and mentions emptied; reactions and pin removed; its
/// search terms are the caller's to remove, with unindex); a thread's message_count no longer
/// counts it. A message deleted already stays as it is.
void tombstone(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t now_ms);
/// Adds a message's search terms (messaging/search_text.hpp); terms it has already are kept.
void index_terms(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::vector<std::string>& terms);
/// Removes a message's search terms: those given, the terms of the body it had.
void unindex(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::vector<std::string>& terms);

/// One page of a search in a channel: messages with seq in [from_seq, below_seq) that hold every
/// term (none: every message of `author`), by `author` when given (lowercase hex), newest first.
struct SearchScan {
  std::string channel_id;
  std::vector<std::string> terms;
  std::optional<std::string> author;
  std::int64_t below_seq = 0;
  std::int64_t from_seq = 1;
  std::size_t limit = 50;
};
std::vector<Message> search(Tx& tx, const SearchScan& scan);
/// The time (ms) a message carries; nothing when the channel has no such seq.
std::optional<std::int64_t> created_ms_of(Tx& tx, const std::string& channel_id, std::int64_t seq);
/// The times of several messages (channel id, seq) in one statement, by (channel id, seq); those
/// that do not exist are left out.
std::map<std::pair<std::string, std::int64_t>, std::int64_t> created_ms_of(
    Tx& tx, const std::vector<std::pair<std::string, std::int64_t>>& messages);
/// Where a channel stands for a search: its latest seq, the seq below which its messages are not
/// indexed yet (search backlog), if any, and the seq below which its messages come after a key in
/// a community search's order (messaging/model.hpp SearchKey: 1 + the last seq whose key is below
/// it, 1 when none is; last_seq + 1 without a key).
struct SearchHead {
  std::int64_t last_seq = 0;
  std::optional<std::int64_t> unindexed_below;
  std::int64_t below_seq = 1;
  /// The time of its newest message below the key (seq below_seq - 1), when it has one.
  std::optional<std::int64_t> head_ms{};
};
/// The search heads of those channels that have messages, below `key` when given, in one
/// statement (a channel's times never decrease with its seq, so the newest message below the key
/// by the time index is the one with the highest seq).
std::map<std::string, SearchHead> search_heads(Tx& tx, const std::vector<std::string>& channel_ids,
                                               const std::optional<SearchKey>& key);

/// A channel with messages older than the search index still to index, and the seq they are
/// below (on PostgreSQL the row is locked, one a concurrent run holds is skipped).
std::optional<std::pair<std::string, std::int64_t>> next_backlog(Tx& tx);
/// The seq below which the channel's messages are still to index, if any are.
std::optional<std::int64_t> backlog_of(Tx& tx, const std::string& channel_id);
/// The channel's messages below `below_seq`, newest first (locked on PostgreSQL), to index.
std::vector<Message> unindexed(Tx& tx, const std::string& channel_id, std::int64_t below_seq, std::size_t limit);
/// Records that the channel's messages from `below_seq` up are indexed; at 1 the channel is done.
void set_backlog(Tx& tx, const std::string& channel_id, std::int64_t below_seq);

/// Stores the poll a message carries.
void insert_poll(Tx& tx, const std::string& channel_id, std::int64_t seq, const PollSpec& poll, std::int64_t ends_ms);
/// The poll of a message, without votes.
std::optional<Poll> find_poll(Tx& tx, const std::string& channel_id, std::int64_t seq);
/// Records the account's vote for `answer` (1-based); false when it was there already.
bool add_vote(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t answer, const std::string& account,
              std::int64_t now_ms);
/// Withdraws the account's vote for `answer`, or (answer 0) every vote of the account except for
/// `keep`; returns how many were withdrawn.
std::int64_t remove_votes(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& account,
                          std::int64_t answer, std::int64_t keep = 0);
/// The votes of each answer of a poll of `answers` answers.
std::vector<std::int64_t> poll_counts(Tx& tx, const std::string& channel_id, std::int64_t seq, std::size_t answers);
/// The accounts (lowercase hex) that chose `answer`, in address order above `after`, at most `limit`.
std::vector<std::string> voters(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t answer,
                                const std::string& after, std::size_t limit);
/// Polls that ended by `now_ms` and have no result message yet (the oldest first).
std::vector<std::pair<std::string, std::int64_t>> unresulted_polls(Tx& tx, std::int64_t now_ms, std::size_t limit);
/// When the earliest poll without a result ends (or ended); none when every poll has its result.
std::optional<std::int64_t> next_poll_end(Tx& tx);
/// Takes the right to post a poll's result: true once per poll, whoever asks first.
bool claim_poll_result(Tx& tx, const std::string& channel_id, std::int64_t seq);
/// Records the seq of a poll's result message.
void set_poll_result(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t result_seq);
/// Ends an open poll now; false when it had ended already.
bool end_poll(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t now_ms);

/// Adds a reaction; false when it was there already.
bool add_reaction(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji,
                  const std::string& account, std::int64_t now_ms);
/// Removes a reaction; false when it was not there.
bool remove_reaction(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji,
                     const std::string& account);
/// Whether the message carries a reaction with that emoji and, when it does not, how many different
/// emoji it carries (0 when it does: not counted).
struct ReactionKinds {
  bool has = false;
  std::int64_t count = 0;
};
ReactionKinds reaction_kinds(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji);
/// The accounts (lowercase hex) that reacted to a message with an emoji, in address order, above
/// `after` (empty: from the first), at most `limit`.
std::vector<std::string> reactors(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji,
                                  const std::string& after, std::size_t limit);
/// Fills in the reactions and poll votes (as `viewer` sees them), the pin, the poll and the reply
/// previews of messages, one statement set per channel they belong to.
void load_annotations(Tx& tx, std::vector<Message>& messages, const std::string& viewer);
/// The first message (seq 1) of each of these channels (threads) that has one not deleted.
std::vector<Message> first_messages(Tx& tx, const std::vector<std::string>& channel_ids);
/// Takes the channel's row lock (creating the row), as a seq or change does.
void lock_channel(Tx& tx, const std::string& channel_id);
/// Pins a message; false when it already was.
bool insert_pin(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& by, std::int64_t now_ms);
/// Unpins a message; false when it was not pinned.
bool delete_pin(Tx& tx, const std::string& channel_id, std::int64_t seq);
std::int64_t count_pins(Tx& tx, const std::string& channel_id);
/// The pinned messages of a channel, the latest pinned first.
std::vector<Message> pinned(Tx& tx, const std::string& channel_id);
/// Moves the read marker forward to `seq` (never back); returns the marker after the call.
std::int64_t mark_read(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                       std::int64_t now_ms);
/// Sets the read marker to `seq`, back as well as forward ("mark unread").
void set_read_marker(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                     std::int64_t now_ms);
/// The account's read marker in the channel (0 when none).
std::int64_t read_marker(Tx& tx, const std::string& account, const std::string& channel_id);
/// The heads of several channels and the account's read markers in them, in two statements:
/// channel id → (last seq, last read seq); a channel without messages or marker reads 0.
std::map<std::string, std::pair<std::int64_t, std::int64_t>> heads_and_markers(
    Tx& tx, const std::string& account, const std::vector<std::string>& channel_ids);
/// Messages after `after_seq` by others and not deleted, counted up to `cap`.
std::int64_t count_unread(Tx& tx, const std::string& channel_id, const std::string& account, std::int64_t after_seq,
                          std::int64_t cap);
/// A forum's posts numbered after `after_seq`, started by others and not deleted, counted up to
/// `cap` (0 in a channel that is not a forum).
std::int64_t count_unread_posts(Tx& tx, const std::string& forum_id, const std::string& account, std::int64_t after_seq,
                                std::int64_t cap);
/// Renames role `from` to `to` in the `mention_roles` of the channel's messages created at or before
/// `until_ms` (removes it when `to` is empty), in one statement; returns how many messages changed.
std::int64_t rename_role_mentions(Tx& tx, const std::string& channel_id, const std::string& from, const std::string& to,
                                  std::int64_t until_ms);
/// Of those, the ones that mention the account or one of `roles` (the roles it holds in the
/// channel's community; at most 64 are looked at).
std::int64_t count_unread_mentions(Tx& tx, const std::string& channel_id, const std::string& account,
                                   std::int64_t after_seq, const std::vector<std::string>& roles, std::int64_t cap);

// reports
/// Files a report (status open); none when the reporter reported that message already.
std::optional<std::int64_t> insert_report(Tx& tx, const Report& r, std::int64_t now_ms);
/// The reporter's report of the message, if any.
std::optional<Report> find_report_by(Tx& tx, const std::string& channel_id, std::int64_t seq,
                                     const std::string& reporter);
std::optional<Report> find_report(Tx& tx, std::int64_t id, bool for_update = false);
/// The account's open reports.
std::int64_t count_open_reports(Tx& tx, const std::string& reporter);
/// Which reports: of these channels and their threads, of one status (none: any), below
/// `before_id` (0: from the newest), newest first, at most `limit`.
struct ReportQuery {
  std::vector<std::string> channel_ids;
  std::optional<std::string> reporter;  ///< set: the reports this account filed, in any channel
  std::optional<std::string> status;
  std::int64_t before_id = 0;
  std::size_t limit = 50;
};
std::vector<Report> reports(Tx& tx, const ReportQuery& query);
/// Sets a report's status; resolved_by and resolved_ms are cleared when it is open again.
void update_report(Tx& tx, std::int64_t id, const std::string& status, const std::string& resolution,
                   const std::optional<std::string>& by, std::optional<std::int64_t> at_ms);
/// Deletes up to `limit` reports closed before `before_ms`; returns how many.
std::size_t purge_reports(Tx& tx, std::int64_t before_ms, std::size_t limit);

// --- threads ---

/// Where a page of threads starts: below this last activity, then id.
struct ThreadCursor {
  std::int64_t last_ms = 0;
  std::string id;
};

void insert_thread(Tx& tx, const Thread& t);
/// The thread; `for_update` locks its row until the transaction ends (PostgreSQL; SQLite
/// serializes writers).
std::optional<Thread> find_thread(Tx& tx, const std::string& id, bool for_update = false);
/// A thread's name, deleted or not (the search finds its first message by it); nullopt when none.
std::optional<std::string> thread_name(Tx& tx, const std::string& id);
/// The forum post `creator` (lowercase hex) made with that message client_id, if any, and whether
/// it was deleted since.
std::optional<std::pair<Thread, bool>> thread_of_client(Tx& tx, const std::string& channel_id,
                                                        const std::string& creator, const std::string& client_id);
/// The forum post's client_id is free again (its message was refused, and it withdrawn).
void release_client_id(Tx& tx, const std::string& thread_id);
/// The thread started from the message, if any.
std::optional<Thread> thread_of_message(Tx& tx, const std::string& channel_id, std::int64_t seq);
/// Which private threads a list shows: those `viewer` joined, and every one of the channels in
/// `all_in` (those it moderates).
struct PrivateView {
  std::string viewer;
  std::vector<std::string> all_in;
};
/// The active (or archived) threads of these channels at now_ms that `view` shows, by last
/// activity (`by_creation`: creation), latest first, below `before`; with `member`, only those it
/// joined; with `tag`, only forum posts carrying it; with `pinned`, only pinned ones or only others.
std::vector<Thread> list_threads(Tx& tx, const std::vector<std::string>& channel_ids, bool archived,
                                 std::int64_t now_ms, const std::optional<ThreadCursor>& before, std::size_t limit,
                                 const PrivateView& view, const std::optional<std::string>& member = std::nullopt,
                                 const std::optional<std::string>& tag = std::nullopt, bool by_creation = false,
                                 std::optional<bool> pinned = std::nullopt);
/// When `creator` (lowercase hex) last started a forum post in the channel (deleted ones
/// included), if ever.
std::optional<std::int64_t> last_post_started_ms(Tx& tx, const std::string& channel_id, const std::string& creator);
std::int64_t count_active_threads(Tx& tx, const std::string& channel_id, std::int64_t now_ms);
/// Up to `limit` threads (not deleted, not pinned, not archived by hand or recorded) whose
/// inactivity ran out by now_ms, the one whose ran out first first.
std::vector<Thread> inactive_threads(Tx& tx, std::int64_t now_ms, std::size_t limit);
/// Records that the thread archived by inactivity, at its last activity plus its auto-archive
/// time; false when it is archived already, active again at now_ms, or deleted.
bool record_archive(Tx& tx, const std::string& id, std::int64_t now_ms);
/// What a post in a thread did there.
struct ThreadPost {
  std::optional<Thread> thread;                  ///< after the post; none when it was deleted
  std::vector<std::string> joined;               ///< those of `joining` who joined with it
  std::map<std::string, ThreadNotify> settings;  ///< of those of `asked` who are members after it
};
/// A post at `at_ms` in the thread, in one round trip on PostgreSQL: the thread is active again
/// from then (an archived one comes back; its row stays locked), each of `joining` (lowercase hex)
/// who is not a member joins it (as join_thread; the member count follows with the next round
/// trip), then the thread as find_thread reads it and the notification settings of those of
/// `asked` who are members. A deleted thread changes nothing and has no `thread`.
ThreadPost post_in_thread(Tx& tx, const std::string& id, std::int64_t at_ms, const std::vector<std::string>& joining,
                          const std::vector<std::string>& asked);
/// Deletes the thread: it is found no more (its row stays, for the reports of its messages), its
/// start message is freed, its members and read markers go. False when it was not there.
bool delete_thread(Tx& tx, const std::string& id, std::int64_t at_ms);
/// The channel's messages not deleted after `after_seq`, in seq order, at most `limit`.
std::vector<Message> live_after(Tx& tx, const std::string& channel_id, std::int64_t after_seq, std::size_t limit);
/// Writes the name, auto-archive time, archive, lock, last activity, slow mode, invitable, tags and
/// pin.
void update_thread(Tx& tx, const Thread& t);
/// The forum's pinned post, if any.
std::optional<Thread> pinned_post(Tx& tx, const std::string& channel_id);
/// The threads of the channel (deleted ones included) that carry tags: (id, their tags).
std::vector<std::pair<std::string, std::vector<std::string>>> tagged_threads(Tx& tx, const std::string& channel_id);
/// Sets the thread's tags.
void set_thread_tags(Tx& tx, const std::string& id, const std::vector<std::string>& tags);
/// The active threads of those channels that the account joined, latest activity first, at most
/// `limit`.
std::vector<std::string> joined_threads(Tx& tx, const std::string& account, const std::vector<std::string>& channel_ids,
                                        std::int64_t now_ms, std::size_t limit);
/// Up to `limit` threads of these channels with messages (archived ones included, not deleted)
/// that `view` shows, latest activity first: those a community search looks into.
std::vector<std::string> searchable_threads(Tx& tx, const std::vector<std::string>& channel_ids,
                                            const PrivateView& view, std::size_t limit);
/// Every thread of those channels, archived ones included.
std::vector<std::string> thread_ids_in(Tx& tx, const std::vector<std::string>& channel_ids);

/// Where a page of a thread's members starts: after this joining time, then account.
struct MemberCursor {
  std::int64_t joined_ms = 0;
  std::string account;
};

/// The account joins the thread, counted in its member_count, with that notification setting;
/// false when it was a member already (its setting stays) or the thread was deleted.
bool join_thread(Tx& tx, const std::string& thread_id, const std::string& account, std::int64_t at_ms,
                 ThreadNotify notify = ThreadNotify::all);
/// A member's notification setting becomes `notify`; false when it is not a member or had it.
bool set_thread_notify(Tx& tx, const std::string& thread_id, const std::string& account, ThreadNotify notify);
/// Up to `limit` members (lowercase hex) of the thread set to be notified of all its messages, in
/// the order they joined.
std::vector<std::string> thread_followers(Tx& tx, const std::string& thread_id, std::size_t limit);
/// The account leaves the thread; false when it was not a member (or the thread was deleted).
bool leave_thread(Tx& tx, const std::string& thread_id, const std::string& account);
/// Up to `limit` threads of those channels (not deleted, archived ones included) the account
/// joined: (thread id, its channel).
std::vector<std::pair<std::string, std::string>> joined_in(Tx& tx, const std::string& account,
                                                           const std::vector<std::string>& channel_ids,
                                                           std::size_t limit);
/// Which of these accounts (lowercase hex) joined the thread.
std::set<std::string> members_among(Tx& tx, const std::string& thread_id, const std::vector<std::string>& accounts);
/// Which of these threads the account joined, with its notification setting in each.
std::map<std::string, ThreadNotify> joined_among(Tx& tx, const std::string& account,
                                                 const std::vector<std::string>& thread_ids);
/// The thread's members in the order they joined, after `after`.
std::vector<ThreadMember> thread_members(Tx& tx, const std::string& thread_id, const std::optional<MemberCursor>& after,
                                         std::size_t limit);

}  // namespace gh::messaging::sql
