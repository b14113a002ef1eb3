#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <future>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/detached.hpp"
#include "core/due_loop.hpp"
#include "core/io_runtime.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/wakeup.hpp"

namespace gh {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return bad_input("not_positive", "must be positive");
  return v;
}

TEST(Result, CarriesValueOrError) {
  auto good = parse_positive(3);
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 3);
  auto bad = parse_positive(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "not_positive");
  EXPECT_EQ(bad.error().kind, ErrorKind::bad_input);
  Result<void> v = ok();
  EXPECT_TRUE(v);
  Result<void> e = not_found("nope");
  EXPECT_FALSE(e);
  EXPECT_EQ(e.error().code, "not_found");
}

TEST(Clock, FormatsRfc3339Utc) {
  const SystemTime t{std::chrono::milliseconds(1'700'000'000'123)};
  EXPECT_EQ(format_rfc3339(t), "2023-11-14T22:13:20.123Z");
  ManualClock clock(t);
  clock.advance(std::chrono::seconds(1));
  EXPECT_EQ(format_rfc3339(clock.now()), "2023-11-14T22:13:21.123Z");
}

TEST(Log, LinesAreJsonWithEscapedValues) {
  const auto line = log::format_line(log::Level::warn, "a \"quoted\"\nmsg",
                                     {{"path", "/x"}, {"n", 42}, {"neg", -1}, {"ok", true}, {"ratio", 0.5}});
  const auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v.at("level").as_string(), "warn");
  EXPECT_EQ(v.at("msg").as_string(), "a \"quoted\"\nmsg");
  EXPECT_EQ(v.at("n").to_number<std::int64_t>(), 42);
  EXPECT_EQ(v.at("neg").as_int64(), -1);
  EXPECT_EQ(v.at("ok").as_bool(), true);
  EXPECT_DOUBLE_EQ(v.at("ratio").as_double(), 0.5);
  log::Level level{};
  EXPECT_TRUE(log::parse_level("debug", level));
  EXPECT_EQ(level, log::Level::debug);
  EXPECT_FALSE(log::parse_level("loud", level));
}

TEST(Metrics, RendersTextFormat) {
  metrics::Registry reg;
  reg.counter("http_requests_total", "Requests.", {"route", "status"}).with({"/v1/x", "200"}).inc();
  reg.gauge("in_flight", "In flight.").with({}).set(3);
  auto& h = reg.histogram("latency_seconds", "Latency.", {"route"}, {0.1, 1.0}).with({"/a\"b"});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  const auto text = reg.render();
  EXPECT_NE(text.find("# TYPE http_requests_total counter\nhttp_requests_total{route=\"/v1/x\",status=\"200\"} 1\n"),
            std::string::npos);
  EXPECT_NE(text.find("in_flight 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{route=\"/a\\\"b\",le=\"0.1\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{route=\"/a\\\"b\",le=\"1\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_bucket{route=\"/a\\\"b\",le=\"+Inf\"} 3\n"), std::string::npos);
  EXPECT_NE(text.find("latency_seconds_count{route=\"/a\\\"b\"} 3\n"), std::string::npos);
  EXPECT_THROW(reg.gauge("http_requests_total", "x"), std::logic_error);
  EXPECT_THROW(reg.counter("bad name", "x"), std::logic_error);
}

TEST(Metrics, ProcessFigures) {
  metrics::Registry reg;
  reg.add_process_metrics();
  const auto text = reg.render();
  for (const char* name : {"process_resident_memory_bytes ", "process_cpu_seconds_total ", "process_open_fds ",
                           "process_max_fds ", "process_start_time_seconds "}) {
    EXPECT_NE(text.find(std::string("\n") + name), std::string::npos) << name;
  }
}

TEST(BlockingPool, RunsOffTheCallerThreadAndReturnsValues) {
  BlockingPool pool(2, 4);
  boost::asio::io_context io;
  std::thread::id worker;
  int result = 0;
  bool threw = false;
  boost::asio::co_spawn(
      io,
      [&]() -> Task<void> {
        result = co_await pool.run([&] {
          worker = std::this_thread::get_id();
          return 41 + 1;
        });
        try {
          co_await pool.run([]() -> int { throw std::runtime_error("boom"); });
        } catch (const std::runtime_error&) {
          threw = true;
        }
      },
      boost::asio::detached);
  io.run();
  EXPECT_EQ(result, 42);
  EXPECT_TRUE(threw);
  EXPECT_NE(worker, std::this_thread::get_id());
  EXPECT_EQ(pool.pending(), 0u);
}

// Many coroutines on two I/O threads share three pool threads: every job runs once, off the I/O
// threads, and each coroutine resumes with its own value; stop() returns once all are done.
TEST(BlockingPool, EveryJobOfManyCallersRunsOnceAndAnswersItsOwnCaller) {
  BlockingPool pool(3, 1000);
  boost::asio::io_context io;
  constexpr int kCallers = 200;
  std::atomic<int> ran{0};
  std::atomic<int> answered{0};
  std::atomic<int> on_io_thread{0};
  std::set<std::thread::id> io_threads;
  std::mutex io_threads_mutex;
  for (int i = 0; i < kCallers; ++i) {
    boost::asio::co_spawn(
        io,
        [&, i]() -> Task<void> {
          for (int round = 0; round < 5; ++round) {
            const auto got = co_await pool.run([&] {
              ++ran;
              std::lock_guard lock(io_threads_mutex);
              if (io_threads.count(std::this_thread::get_id()) != 0) ++on_io_thread;
              return i * 10 + round;
            });
            if (got == i * 10 + round) ++answered;
          }
        },
        boost::asio::detached);
  }
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(io_threads_mutex);
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] { io.run(); });
      io_threads.insert(threads.back().get_id());
    }
  }
  for (auto& t : threads) t.join();
  pool.stop();
  EXPECT_EQ(ran.load(), kCallers * 5);
  EXPECT_EQ(answered.load(), kCallers * 5);
  EXPECT_EQ(on_io_thread.load(), 0);
  EXPECT_EQ(pool.pending(), 0u);
}

TEST(BlockingPool, ShedsLoadWhenQueueIsFull) {
  BlockingPool pool(1, 1);
  boost::asio::io_context io;
  std::atomic<bool> release{false};
  int overloaded = 0, done = 0;
  for (int i = 0; i < 4; ++i) {
    boost::asio::co_spawn(
        io,
        [&]() -> Task<void> {
          try {
            co_await pool.run([&] {
              while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
            });
            ++done;
          } catch (const Overloaded&) {
            ++overloaded;
            release = true;
          }
        },
        boost::asio::detached);
  }
  io.run();
  EXPECT_EQ(done, 2);
  EXPECT_EQ(overloaded, 2);
}

// A loop resting an hour between steps moves only by its wakes: one during a step ends the next
// rest before it begins, one from another thread ends the rest under way. A lost wake leaves the
// loop resting and the test waiting.
TEST(Wakeup, AWakeDuringAStepOrARestIsNeverLost) {
  IoRuntime io(2);
  auto strand = boost::asio::make_strand(io.executor());
  Wakeup wakeup(strand);
  std::atomic<int> steps{0};
  std::promise<void> done;
  auto loop = [&]() -> Task<void> {
    for (int i = 0; i < 200; ++i) {
      wakeup.begin();
      ++steps;
      if (i % 2 == 0) {
        // During the step, which then lets the strand run (its cancel, on no wait, with it).
        wakeup.wake();
        co_await boost::asio::post(strand, boost::asio::use_awaitable);
      }
      co_await wakeup.rest(std::chrono::hours(1));
    }
    done.set_value();
  };
  io.start();
  boost::asio::co_spawn(strand, loop, boost::asio::detached);
  // The odd steps (an even count) wait for a wake from here, sent once the step has begun:
  // before or during its rest, neither may be lost.
  auto finished = done.get_future();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  int woken_at = 0;
  while (finished.wait_for(std::chrono::milliseconds(1)) != std::future_status::ready &&
         std::chrono::steady_clock::now() < deadline) {
    const int now = steps.load();
    if (now % 2 == 0 && now != woken_at) {
      wakeup.wake();
      woken_at = now;
    }
  }
  ASSERT_EQ(finished.wait_for(std::chrono::milliseconds(0)), std::future_status::ready);
  EXPECT_EQ(steps.load(), 200);
}

// A due loop steps back to back while its step reports more; then it rests until the next item
// falls due (no wake needed), or, with nothing due, for its idle poll (an hour here) until a wake.
// A step that throws is logged and the loop goes on.
TEST(DueLoop, StepsWhileMoreThenRestsUntilDueOrWoken) {
  IoRuntime io(2);
  std::atomic<int> steps{0};
  std::atomic<int> dues{0};
  DueLoop loop(
      io.executor(), "test", std::chrono::hours(1),
      [&]() -> Task<Result<std::size_t>> {
        const int n = ++steps;
        if (n == 8) throw std::runtime_error("a failed step");
        co_return std::size_t{n <= 3 ? 1U : 0U};  // three full batches, then nothing
      },
      [&]() -> Task<Result<std::optional<std::chrono::milliseconds>>> {
        // Twice something falls due shortly; then nothing waits.
        if (++dues <= 2) co_return std::optional<std::chrono::milliseconds>(std::chrono::milliseconds(5));
        co_return std::optional<std::chrono::milliseconds>();
      });
  const auto reaches = [](const std::atomic<int>& count, int n) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (count.load() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return count.load() >= n;
  };
  io.start();
  loop.start();
  // 3 with more, 1 without; then 2 more as items fall due; then it rests for the hour.
  EXPECT_TRUE(reaches(dues, 3));
  EXPECT_EQ(steps.load(), 6);
  loop.wake();
  EXPECT_TRUE(reaches(steps, 7));
  loop.wake();  // the step that throws
  EXPECT_TRUE(reaches(steps, 8));
  loop.wake();
  EXPECT_TRUE(reaches(steps, 9));
}

TEST(LoggedDetached, LogsWhatEscapesASpawnedCoroutineAndNothingElse) {
  // asio::detached drops an exception that ends a spawned coroutine in silence; the log names it.
  boost::asio::io_context io;
  ::testing::internal::CaptureStdout();
  boost::asio::co_spawn(
      io,
      []() -> Task<void> {
        throw std::runtime_error("the database is out of reach");
        co_return;
      }(),
      LoggedDetached("test.loop"));
  boost::asio::co_spawn(
      io, []() -> Task<void> { co_return; }(), LoggedDetached("test.quiet"));
  io.run();
  const auto out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("a coroutine ended by an exception"), std::string::npos) << out;
  EXPECT_NE(out.find("test.loop"), std::string::npos) << out;
  EXPECT_NE(out.find("the database is out of reach"), std::string::npos) << out;
  EXPECT_EQ(out.find("test.quiet"), std::string::npos) << out;
}

}  // namespace
}  // namespace gh
