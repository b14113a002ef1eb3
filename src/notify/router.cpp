#include "notify/router.hpp"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "core/wakeup.hpp"
#include "notify/events.hpp"
#include "notify/routes.hpp"
#include "notify/store.hpp"

namespace gh::notify {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using store::Tx;

}  // namespace

std::string notification_frame(const Notification& n) {
  json::object frame{{"type", "notification"}, {"notification", render_notification(n)}};
  return json::serialize(frame);
}

std::string removal_frame(const std::vector<std::string>& ids, std::int64_t unread_count) {
  json::object frame{
      {"type", "notification_removed"}, {"ids", json::array(ids.begin(), ids.end())}, {"unread_count", unread_count}};
  return json::serialize(frame);
}

// Tells an account's sockets (its other devices) that notifications were read: by their ids, or
// all of them.
std::string read_frame(const std::vector<std::string>& ids, bool all, std::int64_t unread_count) {
  json::object frame{
      {"type", "notifications_read"}, {"ids", json::array(ids.begin(), ids.end())}, {"unread_count", unread_count}};
  if (all) frame["all"] = true;
  return json::serialize(frame);
}

// The unread count of each account of `rows`, read once per account, for the frames that tell its
// sockets.
template <class Rows>
std::map<std::string, std::int64_t> unread_of(store::Tx& tx, const Rows& rows) {
  std::vector<std::string> accounts;
  accounts.reserve(rows.size());
  for (const auto& r : rows) accounts.push_back(r.account);
  std::sort(accounts.begin(), accounts.end());
  accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
  return sql::unread_counts(tx, accounts);
}

PushMessage push_message(const Notification& n) {
  PushMessage m;
  m.notification_id = n.id;
  m.kind = to_string(n.kind);
  m.title = n.title;
  m.body = n.body;
  json::object data;
  {
    boost::system::error_code ec;
    auto parsed = json::parse(n.data_json, ec);
    if (!ec && parsed.is_object()) data = parsed.as_object();
  }
  if (!n.community_id.empty()) data["community_id"] = n.community_id;
  if (!n.channel_id.empty()) data["channel_id"] = n.channel_id;
  m.data_json = json::serialize(data);
  const bool urgent =
      n.kind == Kind::dm || n.kind == Kind::mention || n.kind == Kind::reply || n.kind == Kind::withdrawal;
  m.urgency = urgent ? "high" : "normal";
  // Several pushes about one conversation collapse into the latest at the push service; others
  // stand alone.
  if (!n.channel_id.empty() && (n.kind == Kind::dm || n.kind == Kind::mention || n.kind == Kind::reply ||
                                n.kind == Kind::thread || n.kind == Kind::message)) {
    m.topic = std::string(to_string(n.kind)) + "-" + n.channel_id;
  }
  return m;
}

struct Router::State : std::enable_shared_from_this<Router::State> {
  State(Executor ex, NotifyService& s, BlockingPool& p, const Clock& c, metrics::Registry& r, RouterSettings rs)
      : strand(asio::make_strand(ex)),
        wakeup(strand),
        service(s),
        pool(p),
        clock(c),
        settings(rs),
        sent(r.counter("gatehouse_notify_sent_total", "Notifications delivered, by provider (socket for live frames).",
                       {"provider"})),
        failed(r.counter("gatehouse_notify_failed_total",
                         "Notification deliveries that failed, by provider and outcome (token_invalid, rejected, "
                         "failed after retries).",
                         {"provider", "outcome"})),
        retried(r.counter("gatehouse_notify_retried_total", "Push retries after a transient failure, by provider.",
                          {"provider"})),
        fallback(r.counter("gatehouse_notify_fallback_total",
                           "Deliveries that fell back to push because the device's socket was gone, by provider.",
                           {"provider"})),
        held(r.counter("gatehouse_notify_held_total",
                       "Push notifications held back, by reason: quiet (the account's quiet hours), dnd (the "
                       "account chose do not disturb) or silent (a silent message's), for which the center and open "
                       "sockets still get them; or withdrawn (its message was deleted before a try).",
                       {"reason"})),
        expanded(r.counter("gatehouse_notify_expanded_total", "Recipients expanded from notification requests.")) {
    held.with({"quiet"});
    held.with({"dnd"});
    held.with({"silent"});
    held.with({"withdrawn"});
  }

  asio::strand<Executor> strand;
  Wakeup wakeup;
  NotifyService& service;
  BlockingPool& pool;
  const Clock& clock;
  RouterSettings settings;
  OnlineDelivery* online = nullptr;
  DeviceDirectory* directory = nullptr;
  AudienceSource* audience = nullptr;
  std::map<std::string, PushProvider*, std::less<>> providers;
  metrics::Family<metrics::Counter>& sent;
  metrics::Family<metrics::Counter>& failed;
  metrics::Family<metrics::Counter>& retried;
  metrics::Family<metrics::Counter>& fallback;
  metrics::Family<metrics::Counter>& held;
  metrics::Family<metrics::Counter>& expanded;
  std::atomic<bool> running{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> in_round{false};
  /// The consumer's apply wrote work for the router; its commit wakes it.
  std::atomic<bool> left_work{false};

  /// One round: what waits, read at once; the jobs expanded; deliveries worked when some are due
  /// or the expansion made some; the removals and reads told.
  Task<RoundReport> round();
  Task<std::size_t> expand_once(std::vector<sql::JobRow> jobs);
  Task<std::size_t> deliver_batch();
  Task<std::size_t> tell_removals(std::vector<sql::RemovalRow> rows);
  Task<std::size_t> tell_reads(std::vector<sql::ReadRow> rows);
  /// Delivers to every device of the account; false when it must be tried again later.
  Task<bool> deliver_one(const sql::DeliveryRow& row, const Notification& notification,
                         const std::vector<PushTarget>& devices, std::vector<sql::AttemptRow>& attempts);
  /// Whether the notification still wants telling: neither withdrawn nor read since the batch
  /// was read.
  Task<bool> still_there(std::string notification_id);
  Task<void> run(std::shared_ptr<State> self);
};

Task<RoundReport> Router::State::round() {
  const auto now = clock.now();
  auto queued = co_await pool.run([this, &now] {
    return service.database().read(
        [&](Tx& tx) { return sql::next_queued(tx, settings.expand_jobs, settings.removal_batch, now); });
  });
  RoundReport report;
  report.expanded = co_await expand_once(std::move(queued.jobs));
  if (queued.deliveries_due || report.expanded > 0) report.delivered = co_await deliver_batch();
  report.removals = co_await tell_removals(std::move(queued.removals));
  report.reads = co_await tell_reads(std::move(queued.reads));
  co_return report;
}

Task<std::size_t> Router::State::expand_once(std::vector<sql::JobRow> jobs) {
  if (jobs.empty()) co_return 0;
  // The jobs of this round, oldest first: every account list that fits in one batch of
  // expand_batch recipients (the last one perhaps in part), or one community's next page alone (its
  // members come from the community context, page by page).
  struct Step {
    const sql::JobRow* job = nullptr;
    std::vector<std::string> batch;
    std::string cursor;
    std::int64_t total = 0;
    bool done = false;
  };
  std::vector<Step> steps;
  std::vector<NotifyService::Batch> batches;
  std::size_t room = settings.expand_batch;
  for (const auto& job : jobs) {
    if (room == 0) break;
    auto request = parse_request(job.payload);
    if (!request) {
      log::warn("notify: unreadable job dropped", {{"job", job.id}});
      steps.push_back(Step{&job, {}, "", 0, true});
      continue;
    }
    Step step{&job, {}, "", job.expanded, false};
    if (!request->community.empty()) {
      if (!batches.empty()) break;  // alone, in a round of its own
      if (audience == nullptr) {
        log::warn("notify: a community audience cannot be expanded (no community service)",
                  {{"community", request->community}});
        step.done = true;
      } else {
        auto page = co_await audience->members(request->community, job.cursor, settings.expand_batch);
        if (!page) {
          // Try again next round; the job stays where it was.
          log::warn("notify: audience expansion failed",
                    {{"community", request->community}, {"error", page.error().message}});
          break;
        }
        step.batch = std::move(*page);
        step.done = step.batch.size() < settings.expand_batch;
        if (!step.batch.empty()) step.cursor = step.batch.back();
      }
      room = 0;
    } else {
      std::size_t from = 0;
      if (!job.cursor.empty()) from = static_cast<std::size_t>(std::stoull(job.cursor));
      const std::size_t to = std::min(request->accounts.size(), from + room);
      if (from < to) {
        step.batch.assign(request->accounts.begin() + static_cast<std::ptrdiff_t>(from),
                          request->accounts.begin() + static_cast<std::ptrdiff_t>(to));
        room -= to - from;
      }
      step.cursor = std::to_string(to);
      step.done = to >= request->accounts.size();
    }
    std::erase_if(step.batch, [&](const std::string& a) {
      return std::find(request->exclude.begin(), request->exclude.end(), a) != request->exclude.end();
    });
    step.total += static_cast<std::int64_t>(step.batch.size());
    batches.push_back(NotifyService::Batch{step.batch, std::move(request->draft)});
    steps.push_back(std::move(step));
  }
  if (steps.empty()) co_return 0;
  std::size_t count = 0;
  for (const auto& step : steps) count += step.batch.size();
  co_await pool.run([this, &batches, &steps] {
    return service.create_batches(batches, [&](Tx& tx) {
      for (const auto& step : steps) sql::update_job(tx, step.job->id, step.cursor, step.total, step.done);
    });
  });
  expanded.with({}).inc(static_cast<double>(count));
  // A job always counts as work, so the loop comes straight back for the next.
  co_return std::max<std::size_t>(count, 1);
}

namespace {

bool silent_notification(const Notification& n) {
  boost::system::error_code ec;
  auto data = boost::json::parse(n.data_json, ec);
  if (ec || !data.is_object()) return false;
  const auto* silent = data.as_object().if_contains("silent");
  return silent != nullptr && silent->is_bool() && silent->as_bool();
}

}  // namespace

Task<bool> Router::State::deliver_one(const sql::DeliveryRow& row, const Notification& notification,
                                      const std::vector<PushTarget>& devices, std::vector<sql::AttemptRow>& attempts) {
  const std::string frame = notification_frame(notification);
  PushMessage message = push_message(notification);
  // A push is made only while the notification stands: its message deleted meanwhile withdraws it,
  // as reading it (or its channel) on another device does, and then neither the first try nor a
  // retry goes out (a socket frame is immediate).
  message.still_wanted = [this, id = notification.id] { return still_there(id); };
  bool withdrawn = false;
  // Do not disturb, as the account chose it: devices without a socket get no push. Read once, and
  // only when a device would get a push.
  std::optional<bool> dnd;
  bool held_back = false;
  // Why a push is held back, when it is: a delivery made without push is a silent message's (its
  // notification says so) or one of quiet hours.
  std::string hold = row.push ? "dnd" : silent_notification(notification) ? "silent" : "quiet";
  for (const auto& device : devices) {
    const auto record = [&](std::string channel, std::string outcome, std::int64_t retries, std::int64_t status,
                            std::string detail) {
      attempts.push_back(sql::AttemptRow{row.notification_id, device.device_id, std::move(channel), std::move(outcome),
                                         retries, status, std::move(detail), clock.now()});
    };
    bool fell_back = false;
    if (online != nullptr && online->device_online(device.device_id)) {
      if (online->send_to_device(device.device_id, frame) > 0) {
        record("socket", "delivered", 0, 0, "");
        sent.with({"socket"}).inc();
        continue;
      }
      // The socket went away between the presence check and the send: push instead.
      record("socket", "gone", 0, 0, "");
      fell_back = true;
    }
    if (device.provider.empty() || device.provider == "none" || device.token.empty()) continue;
    auto provider = providers.find(device.provider);
    if (provider == providers.end()) {
      record(device.provider, "no_provider", 0, 0, "provider not configured");
      continue;
    }
    if (row.push && !dnd) {
      // A plain statement: GCC 12 miscompiles co_await inside && and ?:.
      bool chose_dnd = false;
      if (online != nullptr) chose_dnd = co_await online->do_not_disturb(row.account);
      dnd = chose_dnd;
    }
    if (!row.push || *dnd) {
      record(device.provider, hold, 0, 0,
             hold == "dnd"      ? "do not disturb"
             : hold == "silent" ? "silent"
                                : "quiet hours");
      held_back = true;
      continue;
    }
    if (!withdrawn) {
      const bool there = co_await still_there(notification.id);
      withdrawn = !there;
    }
    if (withdrawn) {
      record(device.provider, to_string(PushOutcome::withdrawn), 0, 0, "withdrawn or read before the push");
      continue;
    }
    if (fell_back) fallback.with({device.provider}).inc();
    PushResult result = co_await provider->second->send(device, message);
    if (result.outcome == PushOutcome::withdrawn) withdrawn = true;
    if (result.retries > 0) retried.with({device.provider}).inc(result.retries);
    if (result.outcome == PushOutcome::delivered) {
      sent.with({device.provider}).inc();
    } else if (result.outcome != PushOutcome::withdrawn) {
      failed.with({device.provider, to_string(result.outcome)}).inc();
    }
    if (result.outcome == PushOutcome::token_invalid) co_await directory->forget_push_token(device.device_id);
    record(device.provider, to_string(result.outcome), result.retries, result.status, result.detail);
  }
  if (held_back) held.with({hold}).inc();
  if (withdrawn) held.with({"withdrawn"}).inc();
  co_return true;
}

Task<bool> Router::State::still_there(std::string notification_id) {
  co_return co_await pool.run([this, &notification_id] {
    return service.database().read([&](Tx& tx) {
      auto found = sql::find_notification(tx, notification_id);
      return found.has_value() && !found->read_at.has_value();
    });
  });
}

Task<std::size_t> Router::State::deliver_batch() {
  const auto now = clock.now();
  auto rows = co_await pool.run([this, &now] {
    return service.database().transact(
        [&](Tx& tx) { return sql::claim_deliveries(tx, now, now + settings.lease, settings.delivery_batch); });
  });
  if (rows.empty()) co_return 0;
  auto notifications = co_await pool.run([this, &rows] {
    return service.database().read([&](Tx& tx) {
      std::vector<std::string> ids;
      ids.reserve(rows.size());
      for (const auto& r : rows) ids.push_back(r.notification_id);
      std::map<std::string, Notification> out;
      for (auto& n : sql::find_notifications(tx, ids)) out.emplace(n.id, std::move(n));
      return out;
    });
  });
  // The devices of every account of the batch, in one lookup.
  std::map<std::string, std::vector<PushTarget>> devices;
  if (directory != nullptr) {
    std::vector<std::string> accounts;
    accounts.reserve(rows.size());
    for (const auto& r : rows) accounts.push_back(r.account);
    std::sort(accounts.begin(), accounts.end());
    accounts.erase(std::unique(accounts.begin(), accounts.end()), accounts.end());
    auto found = co_await directory->devices(accounts);
    if (!found) {
      // Left in the queue: the lease brings the batch back later.
      log::warn("notify: device lookup failed", {{"error", found.error().message}});
      co_return rows.size();
    }
    devices = std::move(*found);
  }
  const std::vector<PushTarget> none;
  // A fixed number of workers on this strand pull from the batch; the round waits for all, then
  // records every attempt and retires the finished deliveries in one transaction.
  struct Latch {
    explicit Latch(asio::strand<Executor>& s) : timer(s, asio::steady_timer::time_point::max()) {}
    asio::steady_timer timer;
    std::size_t remaining = 0;
    std::size_t next = 0;
  };
  std::vector<std::vector<sql::AttemptRow>> attempts(rows.size());
  std::vector<char> finished(rows.size(), 0);
  auto latch = std::make_shared<Latch>(strand);
  const std::size_t workers = std::min(settings.concurrency, rows.size());
  latch->remaining = workers;
  auto self = shared_from_this();
  for (std::size_t w = 0; w < workers; ++w) {
    asio::co_spawn(
        strand,
        [self, latch, &rows, &notifications, &devices, &none, &attempts, &finished]() -> Task<void> {
          while (latch->next < rows.size()) {
            const std::size_t i = latch->next++;
            auto n = notifications.find(rows[i].notification_id);
            if (n == notifications.end()) {
              finished[i] = 1;  // deleted meanwhile: nothing to deliver
              continue;
            }
            try {
              auto mine = devices.find(rows[i].account);
              const std::vector<PushTarget>& targets = mine == devices.end() ? none : mine->second;
              const bool done = co_await self->deliver_one(rows[i], n->second, targets, attempts[i]);
              finished[i] = done ? 1 : 0;
            } catch (const std::exception& e) {
              log::error("notify: delivery failed", {{"error", e.what()}});
            }
          }
        },
        [latch](std::exception_ptr) {
          if (--latch->remaining == 0) latch->timer.cancel();
        });
  }
  while (latch->remaining > 0) {
    co_await latch->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  co_await pool.run([this, &rows, &attempts, &finished] {
    service.database().transact([&](Tx& tx) {
      std::vector<sql::AttemptRow> all;
      std::vector<std::string> done;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        if (finished[i] == 0) continue;
        all.insert(all.end(), attempts[i].begin(), attempts[i].end());
        done.push_back(rows[i].notification_id);
      }
      sql::insert_attempts(tx, all);
      sql::delete_deliveries(tx, done);
    });
  });
  co_return rows.size();
}

Task<std::size_t> Router::State::tell_removals(std::vector<sql::RemovalRow> rows) {
  if (rows.empty()) co_return 0;
  if (online != nullptr) {
    auto unread = co_await pool.run(
        [this, &rows] { return service.database().read([&](Tx& tx) { return unread_of(tx, rows); }); });
    std::map<std::string, std::vector<std::string>> ids_of;
    for (const auto& r : rows) ids_of[r.account].push_back(r.notification_id);
    for (const auto& [account, ids] : ids_of) online->send_to_account(account, removal_frame(ids, unread[account]));
  }
  co_await pool.run([this, &rows] {
    service.database().transact([&](Tx& tx) {
      std::vector<std::string> ids;
      ids.reserve(rows.size());
      for (const auto& r : rows) ids.push_back(r.notification_id);
      sql::delete_removals(tx, ids);
    });
  });
  co_return rows.size();
}

Task<std::size_t> Router::State::tell_reads(std::vector<sql::ReadRow> rows) {
  if (rows.empty()) co_return 0;
  if (online != nullptr) {
    auto unread = co_await pool.run(
        [this, &rows] { return service.database().read([&](Tx& tx) { return unread_of(tx, rows); }); });
    std::map<std::string, std::pair<std::vector<std::string>, bool>> read_of;
    for (const auto& r : rows) {
      auto& [ids, all] = read_of[r.account];
      if (r.notification_id == sql::all_read) {
        all = true;
      } else {
        ids.push_back(r.notification_id);
      }
    }
    for (const auto& [account, read] : read_of)
      online->send_to_account(account, read_frame(read.first, read.second, unread[account]));
  }
  co_await pool.run([this, &rows] { service.database().transact([&](Tx& tx) { sql::delete_reads(tx, rows); }); });
  co_return rows.size();
}

Task<void> Router::State::run(std::shared_ptr<State> self) {
  while (!stopping.load()) {
    wakeup.begin();
    std::size_t work = 0;
    bool round_failed = false;
    in_round.store(true);
    try {
      const auto report = co_await round();
      work = report.expanded + report.delivered + report.removals + report.reads;
    } catch (const std::exception& e) {
      log::error("notify: router round failed", {{"error", e.what()}});
      round_failed = true;
    }
    in_round.store(false);
    if (stopping.load()) break;
    if (work > 0) continue;
    co_await wakeup.rest(round_failed ? settings.poll_interval : settings.idle_poll);
  }
  running.store(false);
  (void)self;
}

Router::Router(Executor executor, NotifyService& service, BlockingPool& pool, const Clock& clock,
               metrics::Registry& registry, RouterSettings settings)
    : m_state(std::make_shared<State>(executor, service, pool, clock, registry, settings)) {}

Router::~Router() {
  // Only a round in progress uses what the router borrows (service, pool); a loop parked on its
  // timer holds nothing but its own state. Bounded: the I/O threads may already be gone.
  m_state->stopping.store(true);
  wake();
  wait_while_busy(m_state->in_round);
}

void Router::set_online(OnlineDelivery* online) {
  m_state->online = online;
}
void Router::set_directory(DeviceDirectory* directory) {
  m_state->directory = directory;
}
void Router::set_audience(AudienceSource* audience) {
  m_state->audience = audience;
}
void Router::add_provider(PushProvider& provider) {
  const std::string name(provider.name());
  m_state->providers[name] = &provider;
  // Every provider's series exist from the start, at zero, so that rates and alerts see them.
  m_state->sent.with({name});
  m_state->retried.with({name});
  m_state->fallback.with({name});
  m_state->sent.with({"socket"});
}

bus::Consumer Router::consumer() {
  std::weak_ptr<State> weak = m_state;
  bus::Consumer c;
  c.name = "notify.router";
  c.topics = consumed_topics();
  // What apply leaves for the router (a job, a removal, a read to tell) it reads once committed.
  c.apply = [weak](store::Tx& tx, const bus::Event& event) {
    auto state = weak.lock();
    if (!state) throw std::runtime_error("notify router is gone");
    if (auto amendment = amendment_from_event(event.topic, event.payload)) {
      if (state->service.amend(tx, *amendment) > 0 && amendment->action == Amendment::Action::withdraw) {
        state->left_work.store(true);
      }
      return;
    }
    if (auto read = read_from_event(event.topic, event.payload)) {
      if (state->service.read_through(tx, *read) > 0) state->left_work.store(true);
      return;
    }
    // Reads marked in the center, maybe on a node without a router: they wait to be told.
    if (event.topic == reads_marked_topic) {
      state->left_work.store(true);
      return;
    }
    auto request = request_from_event(event.topic, event.event_id, event.payload);
    if (!request) return;
    sql::insert_job(tx, event.event_id, serialize_request(*request), state->clock.now());
    state->left_work.store(true);
  };
  c.committed = [weak] {
    auto state = weak.lock();
    if (!state || !state->left_work.exchange(false)) return;
    state->wakeup.wake();
  };
  return c;
}

void Router::start() {
  if (m_state->running.exchange(true)) return;
  asio::co_spawn(m_state->strand, m_state->run(m_state), LoggedDetached("notify.router"));
}

void Router::wake() {
  m_state->wakeup.wake();
}

void Router::stop() {
  if (m_state->stopping.exchange(true)) return;
  wake();
  wait_while_busy(m_state->running, std::chrono::seconds(10));
}

Task<RoundReport> Router::run_once() {
  auto state = m_state;
  // On the strand, like the loop: the round's workers share its state. The lambda is a named
  // local: GCC 12 mishandles temporaries with captures inside a co_await expression.
  auto one = [state]() -> Task<RoundReport> { co_return co_await state->round(); };
  auto report = co_await asio::co_spawn(state->strand, std::move(one), asio::use_awaitable);
  co_return report;
}

}  // namespace gh::notify
