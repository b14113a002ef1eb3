#pragma once
// The notification router (DESIGN.md §1: socket first, push otherwise). A bus consumer turns
// `notify.requested` and the events that imply one into expansion jobs, in the bus transaction
// and without expanding anything there. A worker loop then (1) expands jobs in batches (a
// community of 100,000 is 200 transactions of 500, and the bus dispatcher never waits for it) into
// notifications and deliveries, applying each account's settings, and (2) works deliveries off
// with bounded concurrency: per device of the account, a `notification` frame when the device has
// an open socket, else (or when that socket turns out to be gone) its push provider. Every attempt
// is recorded per device with its outcome; /metrics counts sent, failed, retried and fallback per
// provider. Amendments (a deleted or edited message) change the notifications already made in the
// bus transaction; the round then tells the open sockets of each account whose notifications
// were withdrawn, one `notification_removed` frame per account and batch.
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "context/module.hpp"
#include "core/metrics.hpp"
#include "notify/provider.hpp"
#include "notify/service.hpp"

namespace gh::notify {

/// Live sockets on this node (realtime::Gateway behind an adapter; absent: every device is offline).
class OnlineDelivery {
 public:
  virtual ~OnlineDelivery() = default;
  virtual bool device_online(const std::string& device_id) = 0;
  /// How many sockets took the frame (0: the socket is gone).
  virtual std::size_t send_to_device(const std::string& device_id, const std::string& frame_json) = 0;
  /// Sends to every socket of the account (lowercase hex); how many took the frame.
  virtual std::size_t send_to_account(const std::string& account, const std::string& frame_json) = 0;
  /// Whether the account (lowercase hex) chose "do not disturb": its push is held.
  virtual Task<bool> do_not_disturb(const std::string& /*account*/) { co_return false; }
};

/// The devices of an account with their push tokens, and forgetting a token a provider declared
/// gone (auth owns devices).
class DeviceDirectory {
 public:
  virtual ~DeviceDirectory() = default;
  /// The devices of each account (an account without any may be absent): one lookup per batch of
  /// deliveries.
  virtual Task<Result<std::map<std::string, std::vector<PushTarget>>>> devices(
      const std::vector<std::string>& accounts) = 0;
  virtual Task<void> forget_push_token(const std::string& device_id) = 0;
};

/// Members of a community, in pages ordered by account (community owns membership).
class AudienceSource {
 public:
  virtual ~AudienceSource() = default;
  /// Up to `limit` member accounts (lowercase hex) after `after` ("" for the first page).
  virtual Task<Result<std::vector<std::string>>> members(const std::string& community_id, const std::string& after,
                                                         std::size_t limit) = 0;
};

/// How the router runs.
struct RouterSettings {
  /// Recipients expanded per round, over the oldest jobs waiting (expand_jobs at most), in one
  /// transaction: on SQLite, posts wait for the writer while it runs (bench/README.md, bench-post).
  std::size_t expand_batch = 200;
  std::size_t expand_jobs = 64;
  std::size_t delivery_batch = 200;
  /// Withdrawn notifications told to sockets per round.
  std::size_t removal_batch = 500;
  /// Deliveries worked at once.
  std::size_t concurrency = 32;
  /// After a round that failed, the next one runs this much later.
  std::chrono::milliseconds poll_interval{500};
  /// With nothing to do, the next round waits for a wake, or this. Every writer of the router's
  /// work wakes a router: the consumer (jobs, withdrawals, reads through a channel, reads marked in
  /// the center on any node) once committed, and marking read that of its own node at once
  /// (set_on_reads). The poll finds what no event announces: a lease run out.
  std::chrono::milliseconds idle_poll{5'000};
  /// A claimed delivery is taken again after this (its worker died).
  std::chrono::milliseconds lease{120'000};
};

/// What one round did (tests drive rounds themselves).
struct RoundReport {
  std::size_t expanded = 0;
  std::size_t delivered = 0;
  std::size_t removals = 0;  ///< withdrawn notifications told to sockets
  std::size_t reads = 0;     ///< reads told to sockets
};

/// The router. Start it on the worker role; stop() before the database goes away.
class Router {
 public:
  Router(Executor executor, NotifyService& service, BlockingPool& pool, const Clock& clock, metrics::Registry& registry,
         RouterSettings settings = {});
  ~Router();
  Router(const Router&) = delete;
  Router& operator=(const Router&) = delete;

  /// Wiring, before start(). Providers are keyed by PushProvider::name().
  void set_online(OnlineDelivery* online);
  void set_directory(DeviceDirectory* directory);
  void set_audience(AudienceSource* audience);
  void add_provider(PushProvider& provider);

  /// The bus consumer that records expansion jobs.
  bus::Consumer consumer();
  /// Runs rounds until stop(): back to back while there is work; otherwise on a wake, or after
  /// idle_poll (poll_interval after a failed round).
  void start();
  /// Runs the next round now.
  void wake();
  /// Stops after the current round (bounded wait). Blocks the calling thread.
  void stop();
  /// One round: read what waits at once, expand one batch of the oldest jobs, work one batch of
  /// deliveries (when some are due or the expansion made some), then tell one batch of removals
  /// and one of reads.
  Task<RoundReport> run_once();

 private:
  struct State;
  std::shared_ptr<State> m_state;
};

/// The `notification` WebSocket frame of a notification (API.md "Real time").
std::string notification_frame(const Notification& n);
/// The `notification_removed` frame: the ids withdrawn and the account's unread count after.
std::string removal_frame(const std::vector<std::string>& ids, std::int64_t unread_count);
/// The push message of a notification (urgency and topic from its kind and ids).
PushMessage push_message(const Notification& n);

}  // namespace gh::notify
