#pragma once
// The notify context's use cases: the notification center (list, mark read, exact unread count,
// settings) and the creation of notifications for a batch of accounts, applying each account's
// settings, in one transaction with the deliveries the router works off. Other contexts do not
// call this: they publish `notify.requested` (or the events that imply it).
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "notify/events.hpp"
#include "notify/model.hpp"
#include "store/database.hpp"

namespace gh::notify {

/// One page of the center.
struct Page {
  std::vector<Notification> items;
  std::optional<std::string> next_cursor;  ///< set when more may follow
  std::int64_t unread = 0;
};

/// List limits (API.md: max 100).
inline constexpr std::size_t default_page = 50;
inline constexpr std::size_t max_page = 100;
/// Largest `ids` list of one mark-read call.
inline constexpr std::size_t max_mark_read = 500;

/// What create_batch did.
struct Created {
  std::vector<std::string> ids;  ///< notifications created (duplicates and muted ones excluded)
  std::size_t muted = 0;         ///< dropped by settings
};

/// The notify context's use cases. Thread-safe; database work runs on the blocking pool.
class NotifyService {
 public:
  NotifyService(store::Database& db, BlockingPool& pool, const Clock& clock);

  /// The caller's notifications that pass the filter, newest first, after `cursor` (from a previous
  /// page). The page's unread count is the account's, whatever the filter.
  Task<Result<Page>> list(const eth::Address& who, std::optional<std::string> cursor, std::size_t limit,
                          ListFilter filter);
  Task<Result<Page>> list(const eth::Address& who, std::optional<std::string> cursor, std::size_t limit,
                          bool unread_only) {
    ListFilter filter;
    filter.unread_only = unread_only;
    return list(who, std::move(cursor), limit, std::move(filter));
  }
  /// Marks the listed notifications (or all of them) read; returns the unread count after. What
  /// was read is not delivered any more, and the account's open sockets are queued a
  /// `notifications_read` (the callback of set_on_reads tells whoever sends it).
  Task<Result<std::int64_t>> mark_read(const eth::Address& who, std::vector<std::string> ids, bool all);
  /// The exact unread count.
  Task<Result<std::int64_t>> unread_count(const eth::Address& who);
  /// The caller's settings (defaults when never set).
  Task<Result<Settings>> settings(const eth::Address& who);
  /// Applies a settings body (see apply_settings) and returns the result.
  Task<Result<Settings>> update_settings(const eth::Address& who, boost::json::object body);
  /// The first `limit` accounts (lowercase hex) whose `all_messages` holds the channel, in the
  /// order they chose it, then those whose `all_messages` holds its community (`community_id`;
  /// empty: none), each once. Asked on every post: the answer is kept on this node for
  /// followers_ttl, and dropped at once when a setting changes here (a change made on another
  /// node shows within followers_ttl).
  Task<std::vector<std::string>> channel_followers(std::string channel_id, std::string community_id, std::size_t limit);

  /// Creates `draft` for each account (lowercase hex) in one transaction, applying settings, and
  /// queues a delivery for each (push held back inside quiet hours). Blocking: call on the pool.
  /// `also` runs in the same transaction (the router advances its job cursor there).
  Created create_batch(const std::vector<std::string>& accounts, const Draft& draft,
                       const std::function<void(store::Tx&)>& also = {});
  /// One draft and the accounts it goes to.
  struct Batch {
    std::vector<std::string> accounts;
    Draft draft;
  };
  /// create_batch for several drafts in one transaction, one Created each, in order: the router
  /// expands every small job waiting in one commit, so a busy channel's followers, whose
  /// notifications share index pages, are written once per round rather than once per message.
  std::vector<Created> create_batches(const std::vector<Batch>& batches,
                                      const std::function<void(store::Tx&)>& also = {});

  /// Applies an amendment inside the caller's transaction (the bus consumer's). Withdraw: the
  /// notifications about the subject leave the center and the delivery queue, their accounts'
  /// open sockets are queued a `notification_removed`, and a job expanded later creates none.
  /// Refresh: their preview becomes the amendment's body. Returns the notifications changed.
  std::size_t amend(store::Tx& tx, const Amendment& amendment);

  /// Applies a read inside the caller's transaction (the bus consumer's): records how far the
  /// account read the channel, so that a notification expanded later about a message up to there
  /// is made read, and marks its unread notifications about messages up to there read, as
  /// mark_read does. Returns the notifications marked read.
  std::size_t read_through(store::Tx& tx, const ReadThrough& read);

  /// Called after mark_read queued a `notifications_read` (the router wakes to send it).
  void set_on_reads(std::function<void()> on_reads) { m_on_reads = std::move(on_reads); }

  /// Retention: attempts, finished jobs, withdrawn subjects and untold reads are kept 30 days, read
  /// notifications 30 days after they were read, any notification 180 days, how far accounts read
  /// channels a day. Returns the rows deleted.
  Task<std::int64_t> purge();

  store::Database& database() noexcept { return m_db; }

  /// How long a node keeps a channel's followers, and how many channels' it keeps at most.
  static constexpr std::chrono::seconds followers_ttl{5};
  static constexpr std::size_t max_cached_followers = 10'000;

 private:
  store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  std::function<void()> m_on_reads;
  struct Followers {
    std::vector<std::string> accounts;
    std::size_t limit = 0;
    std::chrono::steady_clock::time_point expires{};
  };
  std::mutex m_followers_mutex;
  std::map<std::string, Followers> m_followers;  ///< by "<channel_id> <community_id>"
};

/// A random notification id.
std::string new_notification_id();

}  // namespace gh::notify
