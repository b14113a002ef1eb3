#pragma once
// Every SQL statement of the notify context, as functions on an open transaction. No rules here.
// Accounts are lowercase hex addresses; times are Unix milliseconds.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "notify/model.hpp"
#include "store/database.hpp"

namespace gh::notify::sql {

using store::Tx;

/// Inserts a notification unless one with the same (account, dedup_key) exists; true if inserted.
bool insert_notification(Tx& tx, const Notification& n, const std::string& dedup_key);
/// Inserts many (notification, dedup key) pairs in a few statements; returns the ids inserted
/// (those whose (account, dedup_key) was new).
std::vector<std::string> insert_notifications(Tx& tx, const std::vector<std::pair<Notification, std::string>>& rows);
std::optional<Notification> find_notification(Tx& tx, const std::string& id);
/// An account's notifications that pass the filter, older than `before` (all when unset), newest
/// first.
std::vector<Notification> list_notifications(Tx& tx, const std::string& account, const std::optional<Cursor>& before,
                                             const ListFilter& filter, std::size_t limit);
/// Marks the account's listed notifications read; returns the ids that changed.
std::vector<std::string> mark_read(Tx& tx, const std::string& account, const std::vector<std::string>& ids,
                                   SystemTime now);
/// Marks the account's unread notifications about messages of `channel_id` up to `seq` read;
/// returns their ids.
std::vector<std::string> mark_read_through(Tx& tx, const std::string& account, const std::string& channel_id,
                                           std::int64_t seq, SystemTime now);
/// Records how far the account read the channel (only ever forward).
void upsert_read_through(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                         SystemTime now);
/// Marks every unread notification of the account read; returns how many changed.
std::int64_t mark_all_read(Tx& tx, const std::string& account, SystemTime now);
/// The exact number of unread notifications.
std::int64_t unread_count(Tx& tx, const std::string& account);

std::optional<Settings> find_settings(Tx& tx, const std::string& account);
/// What creating a draft's notifications for some accounts reads.
struct DraftReads {
  bool withdrawn = false;                    ///< the draft's subject was taken back
  std::map<std::string, Settings> settings;  ///< of those accounts that have stored settings
  std::map<std::string, std::int64_t> read;  ///< how far those with a record read the draft's channel
};
/// Whether `subject` was withdrawn (never, when empty), the stored settings of `accounts` and, with
/// a `channel_id`, how far they read it: in one round trip on PostgreSQL.
DraftReads draft_reads(Tx& tx, const std::string& subject, const std::string& channel_id,
                       const std::vector<std::string>& accounts);
void upsert_settings(Tx& tx, const std::string& account, const Settings& settings, SystemTime now);
/// Makes `channels` the channels the account follows (its `all_messages`): rows for the new ones,
/// none for those left out; the others keep their place.
void set_followed_channels(Tx& tx, const std::string& account, const std::vector<std::string>& channels,
                           SystemTime now);
/// The first `limit` accounts (lowercase hex) following every message of the channel, in the order
/// they chose it.
std::vector<std::string> channel_followers(Tx& tx, const std::string& channel_id, std::size_t limit);

/// An audience expansion job.
struct JobRow {
  std::string id;
  std::string payload;
  std::string cursor;
  std::int64_t expanded = 0;
};
/// Queues a job unless it exists (the event id makes redelivery harmless), sent with the
/// transaction's next statement or its commit.
void insert_job(Tx& tx, const std::string& id, const std::string& payload, SystemTime now);
void update_job(Tx& tx, const std::string& id, const std::string& cursor, std::int64_t expanded, bool done);
/// Jobs not finished yet.
std::int64_t pending_jobs(Tx& tx);

/// A delivery waiting for the router.
struct DeliveryRow {
  std::string notification_id;
  std::string account;
  bool push = true;  ///< false inside the account's quiet hours
};
void insert_delivery(Tx& tx, const DeliveryRow& row, SystemTime now);
void insert_deliveries(Tx& tx, const std::vector<DeliveryRow>& rows, SystemTime now);
/// Claims up to `limit` deliveries due by `now`, in the order they fell due, leasing them until
/// `lease_until`. A delivery is due from its creation, and again when a claim's lease runs out.
std::vector<DeliveryRow> claim_deliveries(Tx& tx, SystemTime now, SystemTime lease_until, std::size_t limit);
void delete_delivery(Tx& tx, const std::string& notification_id);
void delete_deliveries(Tx& tx, const std::vector<std::string>& notification_ids);
/// Drops the deliveries queued for the account's notifications read at `read_at` (those a
/// mark_all_read at that time changed; not one made since, unread).
void delete_deliveries_read_at(Tx& tx, const std::string& account, SystemTime read_at);
/// The notifications of those ids that exist, in no particular order.
std::vector<Notification> find_notifications(Tx& tx, const std::vector<std::string>& ids);
std::int64_t pending_deliveries(Tx& tx);

/// One recorded attempt to reach a device.
struct AttemptRow {
  std::string notification_id;
  std::string device_id;
  std::string channel;  ///< socket | fcm | webpush | webhook
  std::string outcome;  ///< delivered | token_invalid | rejected | failed | gone | quiet | no_provider
  std::int64_t retries = 0;
  std::int64_t status = 0;
  std::string detail;
  SystemTime at;
};
void insert_attempt(Tx& tx, const AttemptRow& row);
void insert_attempts(Tx& tx, const std::vector<AttemptRow>& rows);
std::vector<AttemptRow> attempts_for(Tx& tx, const std::string& notification_id);
/// Attempt counts by (channel, outcome), for tests and the operator.
std::vector<std::pair<std::string, std::int64_t>> attempt_outcomes(Tx& tx);

/// A notification as a withdrawal sees it, and a removal its account's sockets are to hear of.
struct RemovalRow {
  std::string notification_id;
  std::string account;
};
void insert_withdrawn(Tx& tx, const std::string& subject, SystemTime now);
/// The notifications about a subject (of one kind when `kind` is given).
std::vector<RemovalRow> notifications_about(Tx& tx, const std::string& subject, std::string_view kind = {});
void delete_notifications(Tx& tx, const std::vector<std::string>& ids);
/// Replaces the body of every notification about a subject; returns how many changed.
std::int64_t update_body_about(Tx& tx, const std::string& subject, const std::string& body);
void insert_removals(Tx& tx, const std::vector<RemovalRow>& rows, SystemTime now);
void delete_removals(Tx& tx, const std::vector<std::string>& notification_ids);

/// Notifications marked read, for their account's open sockets to hear of. notification_id "*"
/// stands for all of the account's notifications.
struct ReadRow {
  std::string account;
  std::string notification_id;
};
inline constexpr std::string_view all_read = "*";
void insert_reads(Tx& tx, const std::string& account, const std::vector<std::string>& ids, SystemTime now);
void delete_reads(Tx& tx, const std::vector<ReadRow>& rows);

/// What a router round finds waiting.
struct Queued {
  std::vector<JobRow> jobs;          ///< the oldest unfinished jobs, oldest first
  bool deliveries_due = false;       ///< some delivery's lease ran out by `now`: there is one to claim
  std::vector<RemovalRow> removals;  ///< the oldest removals not yet told
  std::vector<ReadRow> reads;        ///< the oldest reads not yet told
};
/// At most `jobs` jobs, whether a delivery is due, and at most `told` removals and `told` reads,
/// in one round trip on PostgreSQL.
Queued next_queued(Tx& tx, std::size_t jobs, std::size_t told, SystemTime now);
/// The exact number of unread notifications of each of these accounts, in one statement per 200.
std::map<std::string, std::int64_t> unread_counts(Tx& tx, const std::vector<std::string>& accounts);

/// What retention deletes, each kind once it is older than its cutoff.
enum class Retained {
  attempts,            ///< delivery attempts, by when they were made
  read_notifications,  ///< notifications, by when they were read
  notifications,       ///< any notification, by when it was made
  finished_jobs,       ///< expansion jobs that are done, by when they were made
  withdrawn,           ///< withdrawn subjects
  removals,            ///< removals not yet told to sockets
  reads,               ///< reads not yet told to sockets
  read_through,        ///< how far accounts read channels, by when it last moved
};

/// Retention, one batch: deletes at most `limit` rows of `what` older than `before` (each kind
/// found through an index on its age, migration 0004). Returns the rows deleted.
std::int64_t purge(Tx& tx, Retained what, SystemTime before, std::size_t limit);

}  // namespace gh::notify::sql
