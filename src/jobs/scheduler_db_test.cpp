// The scheduler on both backends: one run per fire time across nodes, one run at a time, a
// crashed node's lease expiring, manual runs, outcomes in history and metrics, and the loop
// firing on its schedule without stacking missed fire times.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include <boost/asio/co_spawn.hpp>

#include "core/io_runtime.hpp"
#include "jobs/migrations.hpp"
#include "jobs/scheduler.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::jobs {
namespace {

namespace chr = std::chrono;
using store::Dialect;

template <class T>
std::future<T> spawn(const Executor& ex, Task<T> task) {
  auto promise = std::make_shared<std::promise<T>>();
  auto future = promise->get_future();
  boost::asio::co_spawn(ex, std::move(task), [promise](std::exception_ptr e, T value) {
    if (e) {
      promise->set_exception(e);
    } else {
      promise->set_value(std::move(value));
    }
  });
  return future;
}

// Polls `done` until it holds or 20 s pass: waits on observable state, never a fixed sleep.
template <class F>
bool eventually(F done) {
  const auto deadline = chr::steady_clock::now() + chr::seconds(20);
  while (chr::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(chr::milliseconds(5));
  }
  return done();
}

SystemTime minute(int n) {
  // 2026-11-25 12:00 UTC plus n minutes.
  return SystemTime(chr::sys_days{chr::year{2026} / 11 / 25} + chr::hours{12} + chr::minutes{n});
}

context::Job counting_job(std::string name, std::atomic<int>& count) {
  return context::Job{std::move(name), "* * * * *", "counts its runs", [&count]() -> Task<Result<void>> {
                        ++count;
                        co_return ok();
                      }};
}

class SchedulerTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db_a = m_fresh.open();
    m_db_a->migrate(std::vector<store::MigrationSet>{jobs::migrations()});
    m_db_b = m_fresh.open();
    m_io.start();
  }
  void TearDown() override {
    m_io.release_work_guard();
    m_io.stop();
    m_io.join();
  }

  std::unique_ptr<Scheduler> make(store::Database& db, std::string node, metrics::Registry& registry,
                                  SchedulerSettings settings = {}) {
    settings.node = std::move(node);
    return std::make_unique<Scheduler>(m_io.executor(), db, m_pool, m_clock, registry, settings);
  }

  std::vector<sql::RunRow> history(const std::string& job) {
    return m_db_a->read([&](store::Tx& tx) { return sql::runs(tx, job, 100); });
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "jobs"};
  std::unique_ptr<store::Database> m_db_a;  // node a's connections
  std::unique_ptr<store::Database> m_db_b;  // node b's
  BlockingPool m_pool{4, 100};
  IoRuntime m_io{2};
  ManualClock m_clock{minute(0) + chr::seconds(30)};
  metrics::Registry m_registry_a;
  metrics::Registry m_registry_b;
};

TEST_P(SchedulerTest, EachFireTimeRunsOnceAcrossNodes) {
  std::atomic<int> count{0};
  auto a = make(*m_db_a, "a", m_registry_a);
  auto b = make(*m_db_b, "b", m_registry_b);
  ASSERT_TRUE(a->add(counting_job("t.count", count)));
  ASSERT_TRUE(b->add(counting_job("t.count", count)));
  constexpr int fire_times = 15;
  for (int i = 1; i <= fire_times; ++i) {
    // Both nodes reach the same fire time at once.
    auto from_a = spawn(m_io.executor(), a->run_at("t.count", minute(i)));
    auto from_b = spawn(m_io.executor(), b->run_at("t.count", minute(i)));
    const auto ra = from_a.get();
    const auto rb = from_b.get();
    const int succeeded = (ra.outcome == RunOutcome::success) + (rb.outcome == RunOutcome::success);
    EXPECT_EQ(succeeded, 1) << "fire time " << i << ": " << to_string(ra.outcome) << " / " << to_string(rb.outcome);
    EXPECT_TRUE(ra.outcome == RunOutcome::busy || rb.outcome == RunOutcome::busy);
  }
  EXPECT_EQ(count.load(), fire_times);
  // A fire time already run is not run again by a late node, nor an earlier one.
  EXPECT_EQ(spawn(m_io.executor(), a->run_at("t.count", minute(fire_times))).get().outcome, RunOutcome::busy);
  EXPECT_EQ(spawn(m_io.executor(), b->run_at("t.count", minute(3))).get().outcome, RunOutcome::busy);
  EXPECT_EQ(count.load(), fire_times);
  const auto runs = history("t.count");
  ASSERT_EQ(runs.size(), static_cast<std::size_t>(fire_times));
  std::set<std::int64_t> slots;
  for (const auto& r : runs) {
    EXPECT_EQ(r.outcome, "success");
    EXPECT_EQ(r.cause, "schedule");
    EXPECT_TRUE(r.node == "a" || r.node == "b") << r.node;
    ASSERT_TRUE(r.slot_ms && r.finished_ms);
    slots.insert(*r.slot_ms);
  }
  EXPECT_EQ(slots.size(), static_cast<std::size_t>(fire_times));
}

TEST_P(SchedulerTest, OneRunAtATimeEvenForOtherFireTimesAndManualRuns) {
  std::atomic<int> started{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  context::Job slow{"t.slow", "* * * * *", "waits for the test", [&]() -> Task<Result<void>> {
                      ++started;
                      // By reference: the function is a temporary coroutine argument inside a
                      // co_await, which GCC 12 may destroy twice (docs/coroutines.md).
                      co_await m_pool.run([&released] { released.wait(); });
                      co_return ok();
                    }};
  auto a = make(*m_db_a, "a", m_registry_a);
  auto b = make(*m_db_b, "b", m_registry_b);
  ASSERT_TRUE(a->add(slow));
  ASSERT_TRUE(b->add(slow));
  auto first = spawn(m_io.executor(), a->run_at("t.slow", minute(1)));
  ASSERT_TRUE(eventually([&] { return started.load() == 1; }));
  EXPECT_EQ(spawn(m_io.executor(), b->run_at("t.slow", minute(2))).get().outcome, RunOutcome::busy);
  EXPECT_EQ(spawn(m_io.executor(), b->run_now("t.slow")).get().outcome, RunOutcome::busy);
  EXPECT_EQ(spawn(m_io.executor(), a->run_now("t.slow")).get().outcome, RunOutcome::busy);
  EXPECT_EQ(history("t.slow").at(0).outcome, "running");
  release.set_value();
  EXPECT_EQ(first.get().outcome, RunOutcome::success);
  EXPECT_EQ(started.load(), 1);
  // Free again: a manual run goes, and does not use up the next fire time.
  EXPECT_EQ(spawn(m_io.executor(), b->run_now("t.slow")).get().outcome, RunOutcome::success);
  EXPECT_EQ(spawn(m_io.executor(), b->run_at("t.slow", minute(2))).get().outcome, RunOutcome::success);
  EXPECT_EQ(started.load(), 3);
  EXPECT_NE(m_registry_b.render().find("gatehouse_job_skipped_total{job=\"t.slow\"} 2"), std::string::npos);
}

TEST_P(SchedulerTest, ARunningJobRenewsItsLease) {
  std::atomic<int> started{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  context::Job slow{"t.slow", "* * * * *", "", [&]() -> Task<Result<void>> {
                      ++started;
                      co_await m_pool.run([&released] { released.wait(); });
                      co_return ok();
                    }};
  SchedulerSettings settings;
  settings.lease_ttl = chr::milliseconds(300);
  auto a = make(*m_db_a, "a", m_registry_a, settings);
  auto b = make(*m_db_b, "b", m_registry_b, settings);
  ASSERT_TRUE(a->add(slow));
  ASSERT_TRUE(b->add(slow));
  const auto lease_expiry = [&] {
    return m_db_a->read([](store::Tx& tx) {
      return tx.query_one("SELECT expires_ms FROM jobs_leases WHERE job = 't.slow'")->get_int(0);
    });
  };
  auto first = spawn(m_io.executor(), a->run_now("t.slow"));
  ASSERT_TRUE(eventually([&] { return started.load() == 1; }));
  const auto taken_until = lease_expiry();
  EXPECT_EQ(taken_until, unix_millis(m_clock.now()) + 300);
  m_clock.advance(chr::milliseconds(250));
  // Renewed (every 100 ms of real time) from the clock's new reading.
  ASSERT_TRUE(eventually([&] { return lease_expiry() == taken_until + 250; }));
  m_clock.advance(chr::milliseconds(100));  // past the first expiry, within the renewed one
  EXPECT_EQ(spawn(m_io.executor(), b->run_now("t.slow")).get().outcome, RunOutcome::busy);
  release.set_value();
  EXPECT_EQ(first.get().outcome, RunOutcome::success);
  EXPECT_EQ(lease_expiry(), 0);  // released
  EXPECT_EQ(started.load(), 1);
}

TEST_P(SchedulerTest, ACrashedNodesLeaseExpiresAndItsRunIsAbandoned) {
  std::atomic<int> count{0};
  SchedulerSettings settings;
  settings.lease_ttl = chr::milliseconds(60'000);
  auto b = make(*m_db_b, "b", m_registry_b, settings);
  ASSERT_TRUE(b->add(counting_job("t.count", count)));
  // Node "dead" took the lease and stopped (no renewal, no finish).
  const auto now = unix_millis(m_clock.now());
  const auto taken = m_db_a->transact(
      [&](store::Tx& tx) { return sql::acquire(tx, "t.count", "dead/1", "dead", now, now + 60'000, std::nullopt); });
  ASSERT_TRUE(taken);
  EXPECT_EQ(spawn(m_io.executor(), b->run_now("t.count")).get().outcome, RunOutcome::busy);
  m_clock.advance(chr::seconds(59));
  EXPECT_EQ(spawn(m_io.executor(), b->run_now("t.count")).get().outcome, RunOutcome::busy);
  m_clock.advance(chr::seconds(1));
  EXPECT_EQ(spawn(m_io.executor(), b->run_now("t.count")).get().outcome, RunOutcome::success);
  EXPECT_EQ(count.load(), 1);
  const auto runs = history("t.count");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].node, "b");
  EXPECT_EQ(runs[0].outcome, "success");
  EXPECT_EQ(runs[0].cause, "manual");
  EXPECT_EQ(runs[1].node, "dead");
  EXPECT_EQ(runs[1].outcome, "abandoned");
  EXPECT_TRUE(runs[1].finished_ms);
}

TEST_P(SchedulerTest, FailuresAreRecordedWithTheirReason) {
  auto a = make(*m_db_a, "a", m_registry_a);
  ASSERT_TRUE(a->add(context::Job{"t.refuses", "@daily", "", []() -> Task<Result<void>> {
                                    co_return make_error(ErrorKind::unavailable, "chain_unavailable", "no chain");
                                  }}));
  ASSERT_TRUE(a->add(context::Job{"t.throws", "@daily", "", []() -> Task<Result<void>> {
                                    throw std::runtime_error("disk on fire");
                                    co_return ok();
                                  }}));
  const auto refused = spawn(m_io.executor(), a->run_now("t.refuses")).get();
  EXPECT_EQ(refused.outcome, RunOutcome::failure);
  EXPECT_EQ(refused.error, "chain_unavailable: no chain");
  const auto thrown = spawn(m_io.executor(), a->run_now("t.throws")).get();
  EXPECT_EQ(thrown.outcome, RunOutcome::failure);
  EXPECT_EQ(thrown.error, "disk on fire");
  EXPECT_EQ(spawn(m_io.executor(), a->run_now("t.nothing")).get().outcome, RunOutcome::unknown);

  EXPECT_EQ(history("t.refuses").at(0).outcome, "failure");
  EXPECT_EQ(history("t.refuses").at(0).error, "chain_unavailable: no chain");
  EXPECT_EQ(history("t.throws").at(0).error, "disk on fire");
  // A failed run releases the lease like a successful one.
  EXPECT_EQ(spawn(m_io.executor(), a->run_now("t.refuses")).get().outcome, RunOutcome::failure);
  const auto text = m_registry_a.render();
  EXPECT_NE(text.find("gatehouse_job_failures_total{job=\"t.refuses\"} 2"), std::string::npos) << text;
  EXPECT_NE(text.find("gatehouse_job_runs_total{job=\"t.refuses\"} 2"), std::string::npos);
  EXPECT_NE(text.find("gatehouse_job_duration_seconds_count{job=\"t.throws\"} 1"), std::string::npos);
  EXPECT_NE(text.find("gatehouse_job_last_success_timestamp_seconds{job=\"t.refuses\"} 0"), std::string::npos);

  // The list: last run and next fire time (daily: midnight after 12:00:30).
  const auto status = a->status();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_EQ(status[0].name, "t.refuses");
  ASSERT_TRUE(status[0].last_run);
  EXPECT_EQ(status[0].last_run->outcome, "failure");
  EXPECT_EQ(format_rfc3339(status[0].next_run), "2026-11-26T00:00:00.000Z");
}

TEST_P(SchedulerTest, RefusesBadSchedulesAndDuplicateNames) {
  std::atomic<int> count{0};
  auto a = make(*m_db_a, "a", m_registry_a);
  auto bad = counting_job("t.bad", count);
  bad.schedule = "61 * * * *";
  const auto refused = a->add(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "invalid_schedule");
  ASSERT_TRUE(a->add(counting_job("t.count", count)));
  const auto duplicate = a->add(counting_job("t.count", count));
  ASSERT_FALSE(duplicate);
  EXPECT_EQ(duplicate.error().code, "duplicate_job");
}

TEST_P(SchedulerTest, TheLoopFiresOnScheduleAndSkipsMissedFireTimes) {
  std::atomic<int> count{0};
  SchedulerSettings settings;
  settings.max_nap = chr::milliseconds(2);  // re-reads the manual clock often
  auto a = make(*m_db_a, "a", m_registry_a, settings);
  // The first run takes "ten minutes and a half" on the manual clock: the fire times 12:02 to
  // 12:11 pass meanwhile and must not be run afterwards.
  ASSERT_TRUE(a->add(context::Job{"t.loop", "* * * * *", "", [&]() -> Task<Result<void>> {
                                    if (++count == 1) m_clock.advance(chr::seconds(630));
                                    co_return ok();
                                  }}));
  a->start();
  EXPECT_EQ(count.load(), 0);
  m_clock.advance(chr::seconds(30));  // 12:01:00
  ASSERT_TRUE(eventually([&] {
    const auto runs = history("t.loop");
    return !runs.empty() && runs[0].outcome == "success";
  }));
  m_clock.advance(chr::seconds(30));  // 12:12:00
  ASSERT_TRUE(eventually([&] { return history("t.loop").size() == 2 && history("t.loop")[0].outcome == "success"; }));
  a->stop(chr::seconds(5));
  const auto runs = history("t.loop");
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(*runs[1].slot_ms, unix_millis(minute(1)));
  EXPECT_EQ(*runs[0].slot_ms, unix_millis(minute(12)));
  EXPECT_EQ(count.load(), 2);
}

INSTANTIATE_TEST_SUITE_P(Backends, SchedulerTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::jobs
