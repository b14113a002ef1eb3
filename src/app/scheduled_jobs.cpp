#include "app/scheduled_jobs.hpp"

#include <chrono>

#include "bus/bus.hpp"
#include "jobs/store.hpp"

namespace gh::app {
namespace {

// Rows one retention transaction deletes: short transactions, so that publishers and consumers
// never wait long behind a purge.
constexpr std::size_t purge_batch = 1000;
constexpr std::chrono::hours job_history_retention{30 * 24};

// Runs `purge(tx, cutoff_ms, limit)` in batches of its own transactions until a batch comes
// back short.
template <class F>
Task<Result<void>> purge_in_batches(store::Database& db, BlockingPool& pool, std::int64_t cutoff_ms, F purge) {
  for (;;) {
    const auto deleted =
        co_await pool.run([&] { return db.transact([&](store::Tx& tx) { return purge(tx, cutoff_ms); }); });
    if (deleted < static_cast<std::int64_t>(purge_batch)) break;
  }
  co_return ok();
}

}  // namespace

jobs::SchedulerSettings scheduler_settings(const Settings& settings) {
  jobs::SchedulerSettings s;
  s.node = settings.jobs_node;
  return s;
}

std::vector<context::Job> platform_jobs(const Settings& settings, store::Database& db, BlockingPool& pool,
                                        const Clock& clock, std::vector<std::string> consumers) {
  const auto bus_retention = std::chrono::duration_cast<std::chrono::milliseconds>(settings.bus_retention);
  std::vector<context::Job> out;
  out.push_back({"bus.processed_purge", "7 * * * *", "deletes idempotency records older than the bus retention",
                 [&db, &pool, &clock, bus_retention]() -> Task<Result<void>> {
                   const auto cutoff = unix_millis(clock.now()) - bus_retention.count();
                   auto purge = [](store::Tx& tx, std::int64_t c) { return bus::purge_processed(tx, c, purge_batch); };
                   co_return co_await purge_in_batches(db, pool, cutoff, purge);
                 }});
  out.push_back({"bus.outbox_purge", "37 * * * *",
                 "deletes events older than the bus retention that every consumer has passed",
                 [&db, &pool, &clock, bus_retention, consumers = std::move(consumers)]() -> Task<Result<void>> {
                   const auto cutoff = unix_millis(clock.now()) - bus_retention.count();
                   auto purge = [&consumers](store::Tx& tx, std::int64_t c) {
                     return bus::purge_delivered_outbox(tx, c, consumers, purge_batch);
                   };
                   co_return co_await purge_in_batches(db, pool, cutoff, purge);
                 }});
  out.push_back({"jobs.history_purge", "47 4 * * *", "deletes job runs that ended more than 30 days ago",
                 [&db, &pool, &clock]() -> Task<Result<void>> {
                   const auto cutoff = unix_millis(clock.now() - job_history_retention);
                   auto purge = [](store::Tx& tx, std::int64_t c) { return jobs::sql::purge_runs(tx, c, purge_batch); };
                   co_return co_await purge_in_batches(db, pool, cutoff, purge);
                 }});
  return out;
}

Result<void> add_all_jobs(jobs::Scheduler& scheduler, const std::vector<context::ContextModule>& modules,
                          std::vector<context::Job> platform) {
  for (auto& job : platform) {
    if (auto added = scheduler.add(std::move(job)); !added) return added;
  }
  for (const auto& m : modules) {
    if (!m.jobs) continue;
    for (auto& job : m.jobs()) {
      if (auto added = scheduler.add(std::move(job)); !added) return added;
    }
  }
  return ok();
}

}  // namespace gh::app
