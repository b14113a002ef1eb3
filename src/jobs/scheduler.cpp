#include "jobs/scheduler.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <random>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "jobs/cron.hpp"

namespace gh::jobs {
namespace {

namespace asio = boost::asio;
using std::chrono::milliseconds;

std::string random_token() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}", rng());
}

std::vector<double> duration_buckets() {
  return {0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600};
}

}  // namespace

const char* to_string(RunOutcome outcome) noexcept {
  switch (outcome) {
    case RunOutcome::success:
      return "success";
    case RunOutcome::failure:
      return "failure";
    case RunOutcome::busy:
      return "busy";
    case RunOutcome::unknown:
      return "unknown";
  }
  return "unknown";
}

std::string default_node_name() {
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return fmt::format("{}:{}", host[0] != '\0' ? host : "node", ::getpid());
}

struct Scheduler::Impl : std::enable_shared_from_this<Scheduler::Impl> {
  struct Entry {
    context::Job job;
    CronSchedule schedule;
    asio::strand<asio::any_io_executor> strand;
    asio::steady_timer timer;
    metrics::Counter* runs = nullptr;
    metrics::Counter* failures = nullptr;
    metrics::Counter* skipped = nullptr;
    metrics::Gauge* last_success = nullptr;
    metrics::Gauge* running = nullptr;
    metrics::Histogram* duration = nullptr;
    Entry(context::Job j, CronSchedule s, const asio::any_io_executor& ex)
        : job(std::move(j)), schedule(std::move(s)), strand(asio::make_strand(ex)), timer(strand) {}
  };

  // One run of a job, spawned on its entry's strand; its completion (on that strand too) records
  // the outcome and wakes the renewal loop in execute().
  struct JobRun {
    asio::steady_timer timer;
    bool finished = false;
    std::optional<Error> refused;
    std::string thrown;
    explicit JobRun(const asio::strand<asio::any_io_executor>& strand) : timer(strand) {}
  };

  Impl(Executor ex, store::Database& d, BlockingPool& p, const Clock& c, metrics::Registry& r, SchedulerSettings s)
      : executor(std::move(ex)), db(d), pool(p), clock(c), registry(r), settings(std::move(s)) {
    if (settings.node.empty()) settings.node = default_node_name();
  }

  Executor executor;
  store::Database& db;
  BlockingPool& pool;
  const Clock& clock;
  metrics::Registry& registry;
  SchedulerSettings settings;
  std::vector<std::unique_ptr<Entry>> entries;
  std::atomic<bool> stopping{false};
  std::atomic<int> active{0};
  std::mutex idle_mutex;
  std::condition_variable idle_cv;

  Entry* find(const std::string& name) {
    for (auto& e : entries) {
      if (e->job.name == name) return e.get();
    }
    return nullptr;
  }

  void leave() {
    std::lock_guard lock(idle_mutex);
    if (--active == 0) idle_cv.notify_all();
  }

  std::int64_t now_ms() const { return unix_millis(clock.now()); }

  // Extends the lease; false when it was lost. A database failure is logged and counts as kept:
  // the lease outlives a few failed renewals.
  Task<bool> renew(const std::string& job, const std::string& holder) {
    bool kept = true;
    std::string failure;
    try {
      const auto expires = now_ms() + settings.lease_ttl.count();
      kept = co_await pool.run(
          [&] { return db.transact([&](store::Tx& tx) { return sql::renew(tx, job, holder, expires); }); });
    } catch (const std::exception& e) {
      failure = e.what();
    }
    if (!failure.empty()) log::warn("job lease renewal failed", {{"job", job}, {"error", failure}});
    co_return kept;
  }

  Task<RunResult> execute(Entry& e, std::optional<SystemTime> fire_time) {
    auto self = shared_from_this();
    const std::string holder = settings.node + "/" + random_token();
    const auto& name = e.job.name;
    std::optional<std::int64_t> run_id;
    std::string failure;
    try {
      const auto now = now_ms();
      const auto expires = now + settings.lease_ttl.count();
      std::optional<std::int64_t> slot;
      if (fire_time) slot = unix_millis(*fire_time);
      run_id = co_await pool.run([&] {
        return db.transact(
            [&](store::Tx& tx) { return sql::acquire(tx, name, holder, settings.node, now, expires, slot); });
      });
    } catch (const std::exception& ex) {
      failure = ex.what();
    }
    if (!failure.empty()) {
      log::warn("job lease unavailable", {{"job", name}, {"error", failure}});
      co_return RunResult{RunOutcome::failure, "cannot take the lease: " + failure, clock.now()};
    }
    if (!run_id) {
      e.skipped->inc();
      co_return RunResult{
          RunOutcome::busy,
          fire_time ? "another node ran this fire time or a run is going on" : "a run of this job is going on",
          clock.now()};
    }

    e.running->set(1);
    log::info("job started", {{"job", name}, {"run_id", *run_id}, {"node", settings.node}});
    const auto started = std::chrono::steady_clock::now();
    // The job runs as its own coroutine on this strand while this one renews the lease every
    // third of its time to live, until the job's completion wakes it.
    auto run = std::make_shared<JobRun>(e.strand);
    auto on_done = [run](const std::exception_ptr& thrown, const Result<void>& result) {
      if (thrown) {
        try {
          std::rethrow_exception(thrown);
        } catch (const std::exception& ex) {
          run->thrown = ex.what();
        } catch (...) {
          run->thrown = "unknown exception";
        }
      } else if (!result) {
        run->refused = result.error();
      }
      run->finished = true;
      run->timer.cancel();
    };
    asio::co_spawn(e.strand, e.job.run(), asio::bind_executor(e.strand, std::move(on_done)));
    const auto every = std::max(settings.lease_ttl / 3, milliseconds(1));
    bool lease_lost = false;
    while (!run->finished) {
      run->timer.expires_after(every);
      co_await run->timer.async_wait(asio::as_tuple(asio::use_awaitable));
      if (run->finished || lease_lost) continue;
      if (!co_await renew(name, holder)) {
        lease_lost = true;
        log::warn("job lease lost: another node may run this job concurrently", {{"job", name}});
      }
    }
    bool succeeded = false;
    std::string error;
    if (!run->thrown.empty()) {
      error = run->thrown;
    } else if (run->refused) {
      error = run->refused->code + ": " + run->refused->message;
    } else {
      succeeded = true;
    }
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    e.running->set(0);
    e.runs->inc();
    e.duration->observe(took);
    if (succeeded) {
      e.last_success->set(static_cast<double>(now_ms()) / 1000.0);
    } else {
      e.failures->inc();
    }

    const auto finished_at = clock.now();
    std::string bookkeeping;
    try {
      const auto finished = unix_millis(finished_at);
      const std::string outcome = succeeded ? "success" : "failure";
      co_await pool.run([&] {
        db.transact([&](store::Tx& tx) { sql::finish(tx, *run_id, name, holder, finished, outcome, error); });
      });
    } catch (const std::exception& ex) {
      bookkeeping = ex.what();  // the lease then expires on its own
    }
    if (!bookkeeping.empty()) log::warn("job run not recorded", {{"job", name}, {"error", bookkeeping}});
    if (succeeded) {
      log::info("job finished", {{"job", name}, {"run_id", *run_id}, {"seconds", took}});
      co_return RunResult{RunOutcome::success, "", finished_at};
    }
    log::warn("job failed", {{"job", name}, {"run_id", *run_id}, {"seconds", took}, {"error", error}});
    co_return RunResult{RunOutcome::failure, error, finished_at};
  }

  // `after` is the clock at start(), read there so that a fire time cannot slip by before the
  // loop first runs.
  Task<void> loop(Entry& e, SystemTime after) {
    auto self = shared_from_this();
    while (!stopping) {
      const SystemTime fire = e.schedule.next_after(after);
      while (!stopping) {
        const auto now = clock.now();
        if (now >= fire) break;
        const auto left = std::chrono::ceil<milliseconds>(fire - now);
        e.timer.expires_after(std::min(left, settings.max_nap));
        co_await e.timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
      if (stopping) break;
      RunResult result;
      try {
        result = co_await execute(e, fire);
      } catch (const std::exception& ex) {
        // execute() records its own failures; this is a defect, and the loop must outlive it.
        log::error("job loop failure", {{"job", e.job.name}, {"error", ex.what()}});
        result.finished = clock.now();
      }
      // Fire times that passed while the job ran are skipped, not run back to back.
      after = std::max(fire, result.finished);
    }
    leave();
  }
};

Scheduler::Scheduler(Executor executor, store::Database& db, BlockingPool& pool, const Clock& clock,
                     metrics::Registry& registry, SchedulerSettings settings)
    : m_impl(std::make_shared<Impl>(std::move(executor), db, pool, clock, registry, std::move(settings))) {}

Scheduler::~Scheduler() {
  stop(milliseconds(2000));
}

Result<void> Scheduler::add(context::Job job) {
  auto schedule = CronSchedule::parse(job.schedule);
  if (!schedule) {
    return bad_input("invalid_schedule",
                     fmt::format("job {}: schedule '{}': {}", job.name, job.schedule, describe(schedule.error())));
  }
  if (job.name.empty() || !job.run) return bad_input("invalid_job", "a job needs a name and a run function");
  if (m_impl->find(job.name) != nullptr) return bad_input("duplicate_job", "two jobs are named " + job.name);
  auto& reg = m_impl->registry;
  auto entry = std::make_unique<Impl::Entry>(std::move(job), std::move(*schedule), m_impl->executor);
  const std::vector<std::string> label{entry->job.name};
  entry->runs = &reg.counter("gatehouse_job_runs_total", "Job runs that ended on this node.", {"job"}).with(label);
  entry->failures =
      &reg.counter("gatehouse_job_failures_total", "Job runs that failed on this node.", {"job"}).with(label);
  entry->skipped = &reg.counter("gatehouse_job_skipped_total",
                                "Fire times not run here because another run held the lease.", {"job"})
                        .with(label);
  entry->last_success = &reg.gauge("gatehouse_job_last_success_timestamp_seconds",
                                   "Unix time of the job's last successful run (any node, as of start-up).", {"job"})
                             .with(label);
  entry->running = &reg.gauge("gatehouse_job_running", "1 while this node runs the job.", {"job"}).with(label);
  entry->duration =
      &reg.histogram("gatehouse_job_duration_seconds", "How long job runs took.", {"job"}, duration_buckets())
           .with(label);
  m_impl->entries.push_back(std::move(entry));
  return ok();
}

void Scheduler::start() {
  // The last success of each job, from any node, so that an alert on its age survives restarts.
  try {
    m_impl->db.read([&](store::Tx& tx) {
      for (auto& e : m_impl->entries) {
        if (auto last = sql::last_success(tx, e->job.name); last && last->finished_ms)
          e->last_success->set(static_cast<double>(*last->finished_ms) / 1000.0);
      }
    });
  } catch (const std::exception& ex) {
    log::warn("job history unavailable", {{"error", ex.what()}});
  }
  const auto now = m_impl->clock.now();
  for (auto& e : m_impl->entries) {
    ++m_impl->active;
    asio::co_spawn(e->strand, m_impl->loop(*e, now), LoggedDetached("jobs.loop"));
  }
  log::info("job scheduler started",
            {{"node", m_impl->settings.node}, {"jobs", static_cast<std::int64_t>(m_impl->entries.size())}});
}

void Scheduler::stop(milliseconds timeout) {
  if (m_impl->stopping.exchange(true)) return;
  for (auto& e : m_impl->entries) {
    auto* entry = e.get();
    asio::post(entry->strand, [entry] { entry->timer.cancel(); });
  }
  std::unique_lock lock(m_impl->idle_mutex);
  m_impl->idle_cv.wait_for(lock, timeout, [this] { return m_impl->active.load() == 0; });
}

Task<RunResult> Scheduler::run_now(std::string name) {
  auto* entry = m_impl->find(name);
  if (entry == nullptr) co_return RunResult{RunOutcome::unknown, "no job is named " + name};
  // execute() runs on the job's strand, like the loop's runs.
  auto run = m_impl->execute(*entry, std::nullopt);
  co_return co_await asio::co_spawn(entry->strand, std::move(run), asio::use_awaitable);
}

Task<RunResult> Scheduler::run_at(std::string name, SystemTime fire_time) {
  auto* entry = m_impl->find(name);
  if (entry == nullptr) co_return RunResult{RunOutcome::unknown, "no job is named " + name};
  auto run = m_impl->execute(*entry, fire_time);
  co_return co_await asio::co_spawn(entry->strand, std::move(run), asio::use_awaitable);
}

std::vector<JobStatus> Scheduler::status() {
  const auto now = m_impl->clock.now();
  std::vector<JobStatus> out;
  m_impl->db.read([&](store::Tx& tx) {
    out.clear();  // a retried transaction starts over
    for (auto& e : m_impl->entries) {
      auto& s = out.emplace_back();
      s.name = e->job.name;
      s.schedule = e->schedule.text();
      s.description = e->job.description;
      s.last_run = sql::last_run(tx, e->job.name);
      s.next_run = e->schedule.next_after(now);
    }
  });
  return out;
}

std::vector<std::string> Scheduler::names() const {
  std::vector<std::string> out;
  for (const auto& e : m_impl->entries) out.push_back(e->job.name);
  return out;
}

const std::string& Scheduler::node() const noexcept {
  return m_impl->settings.node;
}

}  // namespace gh::jobs
