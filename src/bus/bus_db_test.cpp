// The bus on both backends: outbox writes share the caller's transaction, delivery is in order,
// effects happen once even when an event is delivered again, failures retry then dead-letter, and
// concurrent publishers never make a consumer skip an event.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "core/io_runtime.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::bus {
namespace {

using store::Dialect;
using store::Tx;

class BusTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations()});
    m_db->transact([](Tx& tx) {
      tx.execute_script(
          "CREATE TABLE applied (event_id TEXT PRIMARY KEY, ordering_key TEXT NOT NULL, payload TEXT NOT NULL, "
          "seq INTEGER NOT NULL)");
    });
  }

  std::string publish_one(const std::string& key, int n) {
    return m_db->transact([&](Tx& tx) {
      auto id = publish(tx, {"test.happened", key, "{\"n\":" + std::to_string(n) + "}"});
      if (!id) throw std::runtime_error(id.error().message);
      return *id;
    });
  }

  Consumer recorder(std::string name = "recorder") {
    return Consumer{std::move(name), {"test.*"}, [](Tx& tx, const Event& e) {
                      const auto seq = tx.query_one("SELECT count(*) FROM applied")->get_int(0);
                      tx.exec("INSERT INTO applied (event_id, ordering_key, payload, seq) VALUES ($1, $2, $3, $4)",
                              {e.event_id, e.ordering_key, e.payload, seq});
                    }};
  }

  std::int64_t applied() {
    return m_db->transact([](Tx& tx) { return tx.query_one("SELECT count(*) FROM applied")->get_int(0); });
  }

  bool wait_for(std::int64_t n, std::chrono::seconds timeout = std::chrono::seconds(20)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (applied() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  // A consumer of one topic pattern that records each event with its topic (as ordering_key).
  static Consumer follower(std::string name, std::string topic) {
    return Consumer{std::move(name), {std::move(topic)}, [](Tx& tx, const Event& e) {
                      tx.exec("INSERT INTO applied (event_id, ordering_key, payload, seq) VALUES ($1, $2, $3, 0)",
                              {e.event_id, e.topic, e.payload});
                    }};
  }

  // Neither the probe nor a consumer polls (an hour): only wake-ups move the consumers.
  static DispatcherSettings no_polling() {
    DispatcherSettings s{10, std::chrono::hours(1)};
    s.consumer_poll = std::chrono::hours(1);
    return s;
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "bus"};
  std::unique_ptr<store::Database> m_db;
  metrics::Registry m_registry;
};

TEST_P(BusTest, EventsExistExactlyWhenTheirTransactionCommits) {
  publish_one("k", 1);
  EXPECT_THROW(m_db->transact([](Tx& tx) {
    ASSERT_TRUE(publish(tx, {"test.happened", "k", "{\"n\":2}"}));
    throw std::runtime_error("the change failed");
  }),
               std::runtime_error);
  const auto events = m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 10); });
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].payload, "{\"n\":1}");
  EXPECT_EQ(events[0].topic, "test.happened");
}

TEST_P(BusTest, RejectsMalformedEventsAndWritesNothing) {
  m_db->transact([](Tx& tx) {
    EXPECT_EQ(publish(tx, {"nodot", "k", "{}"}).error().code, "invalid_topic");
    EXPECT_EQ(publish(tx, {"Bad.Topic", "k", "{}"}).error().code, "invalid_topic");
    EXPECT_EQ(publish(tx, {"a.b", "k", "[1]"}).error().code, "invalid_payload");
    EXPECT_EQ(publish(tx, {"a.b", "k", "{bad"}).error().code, "invalid_payload");
    EXPECT_EQ(publish(tx, {"a.b", std::string(300, 'k'), "{}"}).error().code, "invalid_ordering_key");
    EXPECT_EQ(publish(tx, {"a.b", "k", "{\"x\":\"" + std::string(max_payload_bytes, 'x') + "\"}"}).error().code,
              "event_too_large");
  });
  EXPECT_TRUE(m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 10); }).empty());
}

TEST_P(BusTest, PublishManyWritesEveryEventInOrderOrNoneAtAll) {
  // 250 events: three multi-row inserts (100, 100, 50), with one publish() between two batches.
  std::vector<NewEvent> events;
  for (int i = 0; i < 250; ++i) {
    events.push_back({"test.happened", "k" + std::to_string(i % 7), "{\"n\":" + std::to_string(i) + "}"});
  }
  const auto ids = m_db->transact([&](Tx& tx) {
    auto first = publish_many(tx, std::vector<NewEvent>(events.begin(), events.begin() + 120));
    EXPECT_TRUE(first);
    auto single = publish(tx, {"test.single", "s", "{\"n\":-1}"});
    EXPECT_TRUE(single);
    auto rest = publish_many(tx, std::vector<NewEvent>(events.begin() + 120, events.end()));
    EXPECT_TRUE(rest);
    std::vector<std::string> all = *first;
    all.push_back(*single);
    all.insert(all.end(), rest->begin(), rest->end());
    EXPECT_TRUE(publish_many(tx, {}));  // nothing to write
    return all;
  });
  const auto stored = m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 1000); });
  ASSERT_EQ(stored.size(), 251u);
  std::set<std::string> distinct;
  for (std::size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].event_id, ids[i]) << i;
    distinct.insert(stored[i].event_id);
    if (i > 0) {
      EXPECT_GT(stored[i].id, stored[i - 1].id);
    }
    const auto& want = i < 120 ? events[i] : i == 120 ? NewEvent{"test.single", "s", "{\"n\":-1}"} : events[i - 1];
    EXPECT_EQ(stored[i].topic, want.topic) << i;
    EXPECT_EQ(stored[i].ordering_key, want.ordering_key) << i;
    EXPECT_EQ(stored[i].payload, want.payload) << i;
  }
  EXPECT_EQ(distinct.size(), 251u);

  // One malformed event anywhere: an error, and nothing of the call is written.
  auto bad = events;
  bad[180].payload = "[1]";
  m_db->transact([&](Tx& tx) { EXPECT_EQ(publish_many(tx, bad).error().code, "invalid_payload"); });
  EXPECT_EQ(m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 1000); }).size(), 251u);
}

TEST_P(BusTest, ApplyOnceIsIdempotentByEventId) {
  publish_one("k", 1);
  const auto events = m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 10); });
  auto consumer = recorder();
  EXPECT_TRUE(apply_once(*m_db, consumer, events[0]));
  EXPECT_FALSE(apply_once(*m_db, consumer, events[0]));
  // Even with the offset moved back (a redelivery), the processed record stops a second effect.
  m_db->transact([](Tx& tx) { tx.exec("UPDATE bus_consumer_offsets SET last_id = 0"); });
  EXPECT_FALSE(apply_once(*m_db, consumer, events[0]));
  EXPECT_EQ(applied(), 1);
}

// The database filters a consumer's events as topic_matches does: exact topics, "context.*" by
// its prefix (a '_' is no wildcard), after the offset, in order, at most `limit`; the same read
// tells the outbox head, also when none of the events are the consumer's.
TEST_P(BusTest, AConsumerReadsOnlyItsOwnTopicsAndTheHead) {
  const auto empty = m_db->transact([](Tx& tx) { return read_outbox_matching(tx, 0, {"test.*"}, 100); });
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.head, 0);
  const std::vector<std::string> topics{"test.a", "test_x.b", "testy.c", "other.d", "test.b_c", "tes.e", "test.f"};
  m_db->transact([&](Tx& tx) {
    for (const auto& t : topics) ASSERT_TRUE(publish(tx, {t, "k", "{\"t\":\"" + t + "\"}"}));
  });
  const auto all = m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 100); });
  ASSERT_EQ(all.size(), topics.size());
  const auto head = m_db->transact([](Tx& tx) { return outbox_head(tx); });
  EXPECT_EQ(head, all.back().id);
  auto read = [&](std::vector<std::string> patterns, std::int64_t after, std::size_t limit, bool whole) {
    const auto found = m_db->transact([&](Tx& tx) {
      return whole ? read_outbox_matching(tx, after, patterns, limit)
                   : read_outbox_heads_matching(tx, after, patterns, limit);
    });
    EXPECT_EQ(found.head, head);
    std::vector<std::string> out;
    std::int64_t last = after;
    for (const auto& e : found.events) {
      EXPECT_TRUE(topic_matches(patterns, e.topic)) << e.topic;
      EXPECT_GT(e.id, last);
      last = e.id;
      const auto& stored = *std::find_if(all.begin(), all.end(), [&](const Event& a) { return a.id == e.id; });
      EXPECT_EQ(e.topic, stored.topic);
      EXPECT_EQ(e.ordering_key, "k");
      EXPECT_EQ(e.created_ms, stored.created_ms);
      EXPECT_EQ(e.event_id, whole ? stored.event_id : "");
      EXPECT_EQ(e.payload, whole ? stored.payload : "");
      out.push_back(e.topic);
    }
    return out;
  };
  using V = std::vector<std::string>;
  for (const bool whole : {true, false}) {
    EXPECT_EQ(read({"test.*"}, 0, 100, whole), (V{"test.a", "test.b_c", "test.f"}));
    EXPECT_EQ(read({"other.d", "test_x.*"}, 0, 100, whole), (V{"test_x.b", "other.d"}));
    EXPECT_EQ(read({"test.*"}, all[0].id, 100, whole), (V{"test.b_c", "test.f"}));
    EXPECT_EQ(read({"test.*"}, 0, 2, whole), (V{"test.a", "test.b_c"}));
    EXPECT_EQ(read({"test.*"}, head, 100, whole), V{});
    EXPECT_EQ(read({}, 0, 100, whole), V{});
  }
  // Every topic read as it is by topic_matches, pattern by pattern.
  for (const auto& pattern : std::vector<std::string>{"test.*", "test_x.*", "tes.*", "other.d", "nothing.*"}) {
    V want;
    for (const auto& t : topics) {
      if (topic_matches({pattern}, t)) want.push_back(t);
    }
    EXPECT_EQ(read({pattern}, 0, 100, true), want) << pattern;
  }
  // The payloads of heads read later are those stored.
  auto heads = m_db->transact([](Tx& tx) { return read_outbox_heads_matching(tx, 0, {"test.*"}, 100); });
  m_db->transact([&](Tx& tx) { read_payloads(tx, heads.events); });
  ASSERT_EQ(heads.events.size(), 3u);
  EXPECT_EQ(heads.events[2].payload, "{\"t\":\"test.f\"}");
}

TEST_P(BusTest, ABatchAppliesInOneTransactionOrNotAtAll) {
  for (int i = 0; i < 6; ++i) {
    if (i == 2) m_db->transact([](Tx& tx) { ASSERT_TRUE(publish(tx, {"other.thing", "k", "{}"})); });
    publish_one("k", i);
  }
  const auto events = m_db->transact([](Tx& tx) { return read_outbox(tx, 0, 100); });
  ASSERT_EQ(events.size(), 7u);
  auto offset = [&](const std::string& name) {
    return m_db->transact([&](Tx& tx) { return consumer_offset(tx, name); });
  };

  // One event throws: nothing of the batch stays, the offset does not move.
  auto inner = recorder();
  const Consumer failing{"recorder", {"test.*"}, [&](Tx& tx, const Event& e) {
                           if (e.payload == "{\"n\":3}") throw std::runtime_error("poison");
                           inner.apply(tx, e);
                         }};
  EXPECT_THROW(apply_batch(*m_db, failing, events), std::runtime_error);
  EXPECT_EQ(applied(), 0);
  EXPECT_EQ(offset("recorder"), 0);

  // One event applied alone first: the batch applies the five others, in order, skips the other
  // topic, and moves the offset to the batch's last event.
  EXPECT_TRUE(apply_once(*m_db, inner, events[0]));
  EXPECT_EQ(apply_batch(*m_db, inner, events), 5u);
  EXPECT_EQ(applied(), 6);
  EXPECT_EQ(offset("recorder"), events.back().id);
  const auto rows = m_db->transact([](Tx& tx) { return tx.query("SELECT payload FROM applied ORDER BY seq"); });
  ASSERT_EQ(rows.size(), 6u);
  for (std::size_t i = 0; i < rows.size(); ++i) EXPECT_EQ(rows[i].get_text(0), "{\"n\":" + std::to_string(i) + "}");
  // Delivered again (a redelivery): nothing more.
  EXPECT_EQ(apply_batch(*m_db, inner, events), 0u);
  m_db->transact([](Tx& tx) { tx.exec("UPDATE bus_consumer_offsets SET last_id = 0"); });
  EXPECT_EQ(apply_batch(*m_db, inner, events), 0u);
  EXPECT_EQ(applied(), 6);
  // With two of the records gone (and their effects), a redelivered batch applies exactly those
  // two: the records of a batch are written together, and each is told fresh or not on its own.
  m_db->transact([&](Tx& tx) {
    tx.exec("UPDATE bus_consumer_offsets SET last_id = 0");
    for (const auto* e : {&events[1], &events[4]}) {
      tx.exec("DELETE FROM bus_processed WHERE event_id = $1", {e->event_id});
      tx.exec("DELETE FROM applied WHERE event_id = $1", {e->event_id});
    }
  });
  EXPECT_EQ(apply_batch(*m_db, inner, events), 2u);
  EXPECT_EQ(offset("recorder"), events.back().id);
  const auto again = m_db->transact(
      [](Tx& tx) { return tx.query("SELECT event_id, count(*) FROM applied GROUP BY event_id ORDER BY event_id"); });
  EXPECT_EQ(again.size(), 6u);
  for (const auto& row : again) EXPECT_EQ(row.get_int(1), 1) << row.get_text(0);
  for (const auto* e : {&events[1], &events[4]}) {
    EXPECT_TRUE(
        m_db->read([&](Tx& tx) { return tx.query_one("SELECT 1 FROM applied WHERE event_id = $1", {e->event_id}); }));
  }
}

// A consumer's apply may publish: a continuation for itself (a purge done in steps) or an event for
// another consumer. Both are heard at once, without waiting for a poll (an hour here): a consumer
// that applied its batch and is caught up sleeps until woken, so a publish that woke nobody would
// leave the test waiting.
TEST_P(BusTest, EventsPublishedByAConsumerWakeTheirFollowersWithoutPolling) {
  BlockingPool pool(2, 1024);
  IoRuntime io(2);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, no_polling());
  constexpr int kSteps = 30;
  dispatcher.add(Consumer{"stepper", {"chain.step"}, [](Tx& tx, const Event& e) {
                            const auto n = std::stoi(e.payload.substr(5));
                            if (n < kSteps) {
                              ASSERT_TRUE(publish(tx, {"chain.step", "k", "{\"n\":" + std::to_string(n + 1) + "}"}));
                            }
                            ASSERT_TRUE(publish(tx, {"relay.done", "k", e.payload}));
                          }});
  dispatcher.add(Consumer{"relay", {"relay.done"}, [](Tx& tx, const Event& e) {
                            tx.exec("INSERT INTO applied (event_id, ordering_key, payload, seq) VALUES ($1, $2, $3, 0)",
                                    {e.event_id, e.topic, e.payload});
                          }});
  io.start();
  dispatcher.start();
  m_db->transact([](Tx& tx) { ASSERT_TRUE(publish(tx, {"chain.step", "k", "{\"n\":0}"})); });
  dispatcher.wake();
  ASSERT_TRUE(wait_for(kSteps + 1));
  dispatcher.stop(std::chrono::seconds(5));
  const auto rows = m_db->read([](Tx& tx) { return tx.query("SELECT payload FROM applied ORDER BY payload"); });
  std::set<std::string> payloads;
  for (const auto& row : rows) payloads.insert(row.get_text(0));
  EXPECT_EQ(payloads.size(), static_cast<std::size_t>(kSteps + 1));
  EXPECT_TRUE(payloads.contains("{\"n\":" + std::to_string(kSteps) + "}"));
}

TEST_P(BusTest, DeliversInOrderAndSkipsOtherTopics) {
  BlockingPool pool(2, 64);
  IoRuntime io(1);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, DispatcherSettings{10, std::chrono::milliseconds(20)});
  dispatcher.add(recorder());
  for (int i = 0; i < 25; ++i) {
    if (i % 5 == 0) {
      m_db->transact([](Tx& tx) { ASSERT_TRUE(publish(tx, {"other.thing", "k", "{}"})); });
    }
    publish_one("k", i);
  }
  io.start();
  dispatcher.start();
  ASSERT_TRUE(wait_for(25));
  const auto rows = m_db->transact([](Tx& tx) { return tx.query("SELECT payload FROM applied ORDER BY seq"); });
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].get_text(0), "{\"n\":" + std::to_string(i) + "}");
  }
  dispatcher.stop(std::chrono::seconds(5));
  const auto offset = m_db->transact([](Tx& tx) { return consumer_offset(tx, "recorder"); });
  const auto last = m_db->transact([](Tx& tx) { return tx.query_one("SELECT max(id) FROM bus_outbox")->get_int(0); });
  EXPECT_EQ(offset, last);
  EXPECT_NE(m_registry.render().find("gatehouse_bus_events_delivered_total{consumer=\"recorder\"} 25"),
            std::string::npos);
}

// Events that no wake() announced (another process's) are found by the poll: one read for all
// consumers every poll_interval, which wakes those who follow them. The consumers themselves never
// poll here (an hour), so without the poll the test waits in vain.
TEST_P(BusTest, ThePollFindsUnannouncedEventsForEveryConsumer) {
  BlockingPool pool(2, 64);
  IoRuntime io(1);
  DispatcherSettings settings{10, std::chrono::milliseconds(20)};
  settings.consumer_poll = std::chrono::hours(1);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, settings);
  dispatcher.add(follower("alpha", "alpha.done"));
  dispatcher.add(follower("beta", "beta.*"));
  io.start();
  dispatcher.start();
  // One event each, announced: once applied, each consumer is caught up and sleeps until woken.
  m_db->transact([](Tx& tx) {
    ASSERT_TRUE(publish(tx, {"alpha.done", "k", "{\"first\":1}"}));
    ASSERT_TRUE(publish(tx, {"beta.done", "k", "{\"first\":2}"}));
  });
  dispatcher.wake();
  ASSERT_TRUE(wait_for(2));
  for (int i = 0; i < 12; ++i) {
    m_db->transact([&](Tx& tx) {
      ASSERT_TRUE(publish(tx, {i % 3 == 0 ? "alpha.done" : "beta.done", "k", "{\"n\":" + std::to_string(i) + "}"}));
    });
  }
  ASSERT_TRUE(wait_for(14));
  // A consumer that applied all it read says so, without reading again (which it would not for
  // an hour): its lag is 0.
  for (const std::string name : {"alpha", "beta"}) {
    const auto gauge = "gatehouse_bus_consumer_lag_events{consumer=\"" + name + "\"} 0";
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (m_registry.render().find(gauge) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_NE(m_registry.render().find(gauge), std::string::npos) << m_registry.render();
  }
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_EQ(m_db->read([](Tx& tx) { return consumer_offset(tx, "alpha"); }) > 0, true);
  EXPECT_EQ(m_db->read([](Tx& tx) { return consumer_offset(tx, "beta"); }) > 0, true);
}

// A consumer at rest reads again every consumer_poll only when something was committed after its
// last read (the probe saw past it), or its offset is not stored yet: an idle server's consumers
// cost no statement. Reads and probe reads are counted; nothing here asserts time.
TEST_P(BusTest, AnIdleConsumerReadsOnlyOnceSomethingWasCommittedAfterItsRead) {
  BlockingPool pool(2, 64);
  IoRuntime io(1);
  DispatcherSettings settings{10, std::chrono::milliseconds(5)};
  settings.consumer_poll = std::chrono::milliseconds(5);
  settings.idle_offset_store = std::chrono::milliseconds(0);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, settings);
  dispatcher.add(follower("alpha", "alpha.*"));
  const auto& reads =
      m_registry.counter("gatehouse_bus_reads_total", "", {"consumer"}).with(std::vector<std::string>{"alpha"});
  const auto& probes = m_registry.counter("gatehouse_bus_probe_reads_total", "").with({});
  // Waits until the probe has read `n` more times: with 5 ms between its reads and between a
  // resting consumer's polls, the consumer would have polled about as often.
  const auto probe_reads = [&](int n) {
    const auto until = probes.value() + n;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (probes.value() < until && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return probes.value() >= until;
  };
  // The reads once they stop changing over 5 probe reads (a wake from the start, say, may still be
  // on its way on a loaded machine).
  const auto settle = [&] {
    for (int i = 0; i < 20; ++i) {
      const auto before = reads.value();
      if (!probe_reads(5)) break;
      if (reads.value() == before) return before;
    }
    return -1.0;
  };
  io.start();
  dispatcher.start();
  m_db->transact([](Tx& tx) { ASSERT_TRUE(publish(tx, {"alpha.done", "k", "{\"n\":1}"})); });
  dispatcher.wake();
  ASSERT_TRUE(wait_for(1));
  const auto settled = settle();
  ASSERT_GE(settled, 1.0) << "a consumer with nothing new kept reading the outbox";
  ASSERT_TRUE(probe_reads(40));
  EXPECT_EQ(reads.value(), settled) << "a consumer with nothing new read the outbox";

  // An event of another topic, announced to no one: the probe finds it and wakes no follower, but
  // the resting consumer, seeing the probe past its read, reads once and stores its offset past it.
  const auto other = m_db->transact([](Tx& tx) {
    EXPECT_TRUE(publish(tx, {"beta.done", "k", "{\"n\":2}"}));
    return outbox_head(tx);
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (m_db->read([](Tx& tx) { return consumer_offset(tx, "alpha"); }) < other &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(m_db->read([](Tx& tx) { return consumer_offset(tx, "alpha"); }), other);
  EXPECT_GT(reads.value(), settled);
  // And then it rests again.
  const auto passed = settle();
  ASSERT_GT(passed, settled);
  ASSERT_TRUE(probe_reads(40));
  EXPECT_EQ(reads.value(), passed);
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_EQ(applied(), 1);
}

// A wake-up reads the new events' topics once and wakes the consumers that follow one of them.
// With an hour between polls, a wake-up lost on the way (one that came while the probe was
// reading, say) leaves its consumer asleep and the test waiting.
TEST_P(BusTest, WakeUpsReachTheConsumersOfThePublishedTopicsWithoutPolling) {
  BlockingPool pool(2, 1024);
  IoRuntime io(2);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, no_polling());
  dispatcher.add(follower("alpha", "alpha.*"));
  dispatcher.add(follower("beta", "beta.done"));
  io.start();
  dispatcher.start();
  constexpr int kThreads = 4, kEach = 40;
  std::vector<std::thread> publishers;
  for (int t = 0; t < kThreads; ++t) {
    publishers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const std::string topic = (i + t) % 3 == 0 ? "beta.done" : "alpha.done";
        m_db->transact([&](Tx& tx) {
          ASSERT_TRUE(publish(tx, {topic, "k", "{\"n\":" + std::to_string(t * 1000 + i) + "}"}));
        });
        dispatcher.wake();
      }
    });
  }
  for (auto& p : publishers) p.join();
  ASSERT_TRUE(wait_for(kThreads * kEach));
  dispatcher.stop(std::chrono::seconds(5));
  const auto per_topic = m_db->transact([](Tx& tx) {
    return tx.query("SELECT ordering_key, count(*) FROM applied GROUP BY ordering_key ORDER BY ordering_key");
  });
  ASSERT_EQ(per_topic.size(), 2u);
  EXPECT_EQ(per_topic[0].get_text(0), "alpha.done");
  EXPECT_EQ(per_topic[1].get_text(0), "beta.done");
  EXPECT_EQ(per_topic[0].get_int(1) + per_topic[1].get_int(1), kThreads * kEach);
}

// A consumer's `committed` runs once what it applied is visible to everyone else: after a batch,
// and after each event applied alone (a batch that failed). Each call counts the applied rows
// from another transaction; a call from inside the apply's transaction would count too few.
TEST_P(BusTest, CommittedRunsOnceTheAppliedEventsAreVisible) {
  BlockingPool pool(2, 64);
  IoRuntime io(1);
  DispatcherSettings settings = no_polling();
  settings.max_attempts = 1;
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, settings);
  auto consumer = recorder();
  const auto record = consumer.apply;
  consumer.apply = [record](Tx& tx, const Event& e) {
    if (e.payload.find("poison") != std::string::npos) throw std::runtime_error("poison");
    record(tx, e);
  };
  std::mutex mutex;
  std::vector<std::int64_t> seen;
  consumer.committed = [&] {
    const auto n = applied();
    std::lock_guard lock(mutex);
    seen.push_back(n);
  };
  dispatcher.add(consumer);
  io.start();
  dispatcher.start();
  m_db->transact([](Tx& tx) {
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(publish(tx, {"test.happened", "k", "{\"n\":" + std::to_string(i) + "}"}));
  });
  dispatcher.wake();
  ASSERT_TRUE(wait_for(5));
  // Then a batch that fails on its poisoned event: the other two apply one by one.
  m_db->transact([](Tx& tx) {
    ASSERT_TRUE(publish(tx, {"test.happened", "k", "{\"n\":5}"}));
    ASSERT_TRUE(publish(tx, {"test.happened", "k", "{\"poison\":true}"}));
    ASSERT_TRUE(publish(tx, {"test.happened", "k", "{\"n\":6}"}));
  });
  dispatcher.wake();
  ASSERT_TRUE(wait_for(7));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    {
      std::lock_guard lock(mutex);
      if (seen.size() >= 3 || std::chrono::steady_clock::now() >= deadline) break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  dispatcher.stop(std::chrono::seconds(5));
  std::lock_guard lock(mutex);
  EXPECT_EQ(seen, (std::vector<std::int64_t>{5, 6, 7}));
}

TEST_P(BusTest, AnInterestDropsEventsBeforeAnyWriteAndTheOffsetPassesThem) {
  // The interest reads the database in the read's transaction: it keeps the keys listed there.
  m_db->transact([](Tx& tx) {
    tx.execute_script("CREATE TABLE wanted (ordering_key TEXT PRIMARY KEY); INSERT INTO wanted VALUES ('keep')");
  });
  BlockingPool pool(2, 64);
  IoRuntime io(1);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, DispatcherSettings{10, std::chrono::milliseconds(20)});
  auto consumer = recorder();
  std::atomic<int> interest_calls{0};
  consumer.interest = [&](Tx& tx, std::vector<Event>& events) {
    ++interest_calls;
    std::erase_if(events, [&](const Event& e) {
      return !tx.query_one("SELECT 1 FROM wanted WHERE ordering_key = $1", {e.ordering_key});
    });
  };
  dispatcher.add(consumer);
  // 130 events of which every 13th is kept: most batches of ten keep nothing at all. Then 35
  // kept in a row among 5 others: more than a batch from one read.
  std::vector<int> kept;
  for (int i = 0; i < 170; ++i) {
    const bool keep = i < 130 ? i % 13 == 0 : i % 8 != 0;
    if (keep) kept.push_back(i);
    publish_one(keep ? "keep" : "skip", i);
  }
  const auto head = m_db->transact([](Tx& tx) { return outbox_head(tx); });
  io.start();
  dispatcher.start();
  ASSERT_TRUE(wait_for(static_cast<std::int64_t>(kept.size())));
  auto offset = [&] { return m_db->transact([](Tx& tx) { return consumer_offset(tx, "recorder"); }); };
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (offset() < head && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(offset(), head);  // stored once caught up, though the last batches applied nothing
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_GE(interest_calls.load(), 2);
  const auto rows = m_db->transact([](Tx& tx) { return tx.query("SELECT payload FROM applied ORDER BY seq"); });
  ASSERT_EQ(rows.size(), kept.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].get_text(0), "{\"n\":" + std::to_string(kept[i]) + "}");
  }
  // The dropped events left no idempotency record either.
  const auto records = m_db->transact([](Tx& tx) {
    return tx.query_one("SELECT count(*) FROM bus_processed WHERE consumer = 'recorder'")->get_int(0);
  });
  EXPECT_EQ(records, static_cast<std::int64_t>(kept.size()));
}

TEST_P(BusTest, RetriesThenDeadLettersAPoisonEvent) {
  BlockingPool pool(2, 64);
  IoRuntime io(1);
  DispatcherSettings settings{10, std::chrono::milliseconds(20), 3, std::chrono::milliseconds(1),
                              std::chrono::milliseconds(5)};
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, settings);
  std::atomic<int> flaky_failures{0};
  auto inner = recorder();
  dispatcher.add(Consumer{"picky", {"test.happened"}, [&](Tx& tx, const Event& e) {
                            if (e.payload == "{\"n\":1}" && flaky_failures++ < 2) throw std::runtime_error("transient");
                            if (e.payload == "{\"n\":2}") throw std::runtime_error("poison");
                            inner.apply(tx, e);
                          }});
  for (int i = 0; i < 4; ++i) publish_one("k", i);
  io.start();
  dispatcher.start();
  ASSERT_TRUE(wait_for(3));
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_EQ(applied(), 3);
  const auto dead =
      m_db->transact([](Tx& tx) { return tx.query("SELECT consumer, attempts, error FROM bus_dead_letters"); });
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].get_text("consumer"), "picky");
  EXPECT_EQ(dead[0].get_int("attempts"), 3);
  EXPECT_EQ(dead[0].get_text("error"), "poison");
}

TEST_P(BusTest, ConcurrentPublishersNeverMakeAConsumerSkipAnEvent) {
  BlockingPool pool(2, 256);
  IoRuntime io(2);
  Dispatcher dispatcher(io.executor(), *m_db, pool, m_registry, DispatcherSettings{7, std::chrono::milliseconds(5)});
  dispatcher.add(recorder());
  io.start();
  dispatcher.start();
  constexpr int threads = 6, per_thread = 25;
  std::vector<std::thread> publishers;
  for (int t = 0; t < threads; ++t) {
    publishers.emplace_back([&, t] {
      auto db = m_fresh.open();  // each publisher its own pool, like separate API nodes
      for (int i = 0; i < per_thread; ++i) {
        db->transact([&](Tx& tx) {
          ASSERT_TRUE(publish(tx, {"test.happened", "k" + std::to_string(t), "{\"n\":" + std::to_string(i) + "}"}));
          // Hold the transaction open a little so commits interleave with id assignment.
          std::this_thread::sleep_for(std::chrono::microseconds(500 * ((i + t) % 4)));
        });
        dispatcher.wake();
      }
    });
  }
  for (auto& p : publishers) p.join();
  ASSERT_TRUE(wait_for(threads * per_thread));
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_EQ(applied(), threads * per_thread);
  // Per ordering key, the consumer saw the events in publish order.
  for (int t = 0; t < threads; ++t) {
    const auto rows = m_db->transact([&](Tx& tx) {
      return tx.query("SELECT payload FROM applied WHERE ordering_key = $1 ORDER BY seq", {"k" + std::to_string(t)});
    });
    ASSERT_EQ(rows.size(), static_cast<std::size_t>(per_thread));
    for (int i = 0; i < per_thread; ++i) {
      EXPECT_EQ(rows[static_cast<std::size_t>(i)].get_text(0), "{\"n\":" + std::to_string(i) + "}");
    }
  }
}

TEST_P(BusTest, TwoWorkersApplyEachEventOnce) {
  // `deliveries` has no unique key: a double apply shows up as a second row instead of turning
  // into a constraint violation (a retry) that would leave the count right.
  m_db->transact(
      [](Tx& tx) { tx.execute_script("CREATE TABLE deliveries (event_id TEXT NOT NULL, worker TEXT NOT NULL)"); });
  constexpr int events = 60;
  for (int i = 0; i < events; ++i) publish_one("k" + std::to_string(i % 4), i);
  const auto head = m_db->transact([](Tx& tx) { return tx.query_one("SELECT max(id) FROM bus_outbox")->get_int(0); });
  auto counting = [](std::string worker) {
    return Consumer{"counter", {"test.*"}, [worker = std::move(worker)](Tx& tx, const Event& e) {
                      tx.exec("INSERT INTO deliveries (event_id, worker) VALUES ($1, $2)", {e.event_id, worker});
                    }};
  };
  BlockingPool pool(4, 256);
  IoRuntime io(2);
  auto db2 = m_fresh.open();
  Dispatcher a(io.executor(), *m_db, pool, m_registry, DispatcherSettings{5, std::chrono::milliseconds(5)});
  metrics::Registry other_registry;
  Dispatcher b(io.executor(), *db2, pool, other_registry, DispatcherSettings{5, std::chrono::milliseconds(5)});
  a.add(counting("a"));
  b.add(counting("b"));
  io.start();
  a.start();
  b.start();
  // Wait until the shared offset reaches the head of the outbox: every event has been handled.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  std::int64_t offset = 0;
  while (offset < head && std::chrono::steady_clock::now() < deadline) {
    offset = m_db->transact([](Tx& tx) { return consumer_offset(tx, "counter"); });
    if (offset < head) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(offset, head);
  a.stop(std::chrono::seconds(5));
  b.stop(std::chrono::seconds(5));

  const auto counts = m_db->transact([](Tx& tx) {
    auto row = tx.query_one("SELECT count(*), count(DISTINCT event_id) FROM deliveries");
    return std::pair(row->get_int(0), row->get_int(1));
  });
  EXPECT_EQ(counts.first, events) << "some event was applied twice (or not at all)";
  EXPECT_EQ(counts.second, events);
  auto failures = [](metrics::Registry& registry) {
    return registry.counter("gatehouse_bus_event_failures_total", "Failed attempts to apply an event.", {"consumer"})
        .with({"counter"})
        .value();
  };
  EXPECT_EQ(failures(m_registry), 0.0) << "worker a retried";
  EXPECT_EQ(failures(other_registry), 0.0) << "worker b retried";
  const auto dead =
      m_db->transact([](Tx& tx) { return tx.query_one("SELECT count(*) FROM bus_dead_letters")->get_int(0); });
  EXPECT_EQ(dead, 0);
}

// Retention: outbox events go only once every consumer (known here or with an offset row) has
// passed them and they are old enough, dead-lettered ones stay, and offsets stay valid after.
TEST_P(BusTest, RetentionDeletesOnlyOldEventsEveryConsumerHasPassed) {
  for (int i = 1; i <= 5; ++i) publish_one("k", i);
  const auto events = m_db->read([](Tx& tx) { return read_outbox(tx, 0, 10); });
  ASSERT_EQ(events.size(), 5u);
  auto slow = recorder("slow");
  Consumer fast{"fast", {"test.*"}, [](Tx&, const Event&) {}};
  for (int i = 0; i < 3; ++i) apply_once(*m_db, slow, events[static_cast<std::size_t>(i)]);
  for (const auto& e : events) apply_once(*m_db, fast, e);
  m_db->transact([&](Tx& tx) {
    // Event 2 was dead-lettered by some consumer: kept for its replay.
    tx.exec(
        "INSERT INTO bus_dead_letters (consumer, event_id, outbox_id, topic, attempts, error, failed_ms) "
        "VALUES ('other', $1, $2, 'test.happened', 8, 'x', 0)",
        {events[1].event_id, events[1].id});
    // Events 1-4 are an hour old, event 5 is new.
    tx.exec("UPDATE bus_outbox SET created_ms = 1000 WHERE id <= $1", {events[3].id});
  });
  const std::int64_t cutoff = 2000;
  const auto ids_left = [&] {
    return m_db->read([](Tx& tx) {
      std::vector<std::int64_t> ids;
      for (const auto& row : tx.query("SELECT id FROM bus_outbox ORDER BY id")) ids.push_back(row.get_int(0));
      return ids;
    });
  };
  // A consumer this binary registers that has no offset yet holds everything back.
  EXPECT_EQ(m_db->transact([&](Tx& tx) {
    return purge_delivered_outbox(tx, cutoff, {"slow", "fast", "new"}, 100);
  }),
            0);
  // Nothing older than the cutoff: nothing goes.
  EXPECT_EQ(m_db->transact([&](Tx& tx) { return purge_delivered_outbox(tx, 0, {"slow", "fast"}, 100); }), 0);
  // "slow" is at event 3: events 1 and 3 go (2 is dead-lettered; 4 and 5 are not passed by all).
  EXPECT_EQ(m_db->transact([&](Tx& tx) { return purge_delivered_outbox(tx, cutoff, {"fast"}, 100); }), 2);
  EXPECT_EQ(ids_left(), (std::vector<std::int64_t>{events[1].id, events[3].id, events[4].id}));

  // The slow consumer carries on from its offset and sees exactly what it had not seen.
  const auto rest = m_db->read([](Tx& tx) { return read_outbox(tx, consumer_offset(tx, "slow"), 10); });
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].id, events[3].id);
  for (const auto& e : rest) EXPECT_TRUE(apply_once(*m_db, slow, e));
  EXPECT_EQ(applied(), 5);  // each event applied once by the slow consumer

  // Once everything is passed and old, the outbox empties (save the dead letter's event), and a
  // new event still gets a fresh id after the deleted ones: offsets stay meaningful.
  m_db->transact([&](Tx& tx) { tx.exec("UPDATE bus_outbox SET created_ms = 1000"); });
  EXPECT_EQ(m_db->transact([&](Tx& tx) { return purge_delivered_outbox(tx, cutoff, {"slow", "fast"}, 1); }), 1);
  EXPECT_EQ(m_db->transact([&](Tx& tx) { return purge_delivered_outbox(tx, cutoff, {"slow", "fast"}, 100); }), 1);
  EXPECT_EQ(ids_left(), (std::vector<std::int64_t>{events[1].id}));
  m_db->transact([&](Tx& tx) { tx.exec("DELETE FROM bus_dead_letters"); });
  EXPECT_EQ(m_db->transact([&](Tx& tx) { return purge_delivered_outbox(tx, cutoff, {"slow", "fast"}, 100); }), 1);
  EXPECT_TRUE(ids_left().empty());
  publish_one("k", 6);
  const auto fresh = m_db->read([](Tx& tx) { return read_outbox(tx, consumer_offset(tx, "slow"), 10); });
  ASSERT_EQ(fresh.size(), 1u);
  EXPECT_GT(fresh[0].id, events[4].id);
  EXPECT_EQ(fresh[0].payload, "{\"n\":6}");
}

TEST_P(BusTest, RetentionOfIdempotencyRecordsKeepsEffectsOnce) {
  for (int i = 1; i <= 4; ++i) publish_one("k", i);
  const auto events = m_db->read([](Tx& tx) { return read_outbox(tx, 0, 10); });
  auto c = recorder("c");
  for (const auto& e : events) ASSERT_TRUE(apply_once(*m_db, c, e));
  m_db->transact([&](Tx& tx) {
    tx.exec("UPDATE bus_processed SET processed_ms = 1000 WHERE event_id IN ($1, $2, $3)",
            {events[0].event_id, events[1].event_id, events[2].event_id});
  });
  EXPECT_EQ(m_db->transact([](Tx& tx) { return purge_processed(tx, 2000, 2); }), 2);
  EXPECT_EQ(m_db->transact([](Tx& tx) { return purge_processed(tx, 2000, 100); }), 1);
  const auto left = m_db->read([](Tx& tx) { return tx.query("SELECT event_id FROM bus_processed"); });
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].get_text(0), events[3].event_id);
  // Delivered again (a second worker, a restart): still applied once.
  for (const auto& e : events) EXPECT_FALSE(apply_once(*m_db, c, e));
  EXPECT_EQ(applied(), 4);
}

INSTANTIATE_TEST_SUITE_P(Backends, BusTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::bus
