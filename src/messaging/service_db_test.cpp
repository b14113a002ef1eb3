// The messaging service on both backends, with a manual clock. Reports: a closed report stays for
// the report retention and the purge job deletes it then; an open one stays whatever its age; a
// report keeps the message's text as it was when filed. Time order: a channel's messages never go
// back in time, even when the clock does.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <map>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "bus/migrations.hpp"
#include "core/io_runtime.hpp"
#include "core/testing/run_task.hpp"
#include "messaging/migrations.hpp"
#include "messaging/service.hpp"
#include "messaging/store.hpp"
#include "net/websocket.hpp"
#include "realtime/gateway.hpp"
#include "realtime/testing/recording_socket.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::messaging {
namespace {

namespace json = boost::json;
using store::Dialect;
using store::Tx;

const SystemTime start_time = SystemTime(std::chrono::seconds(1'767'225'600));

eth::Address account(std::uint8_t n) {
  eth::Address a;
  a.bytes[0] = 0xbb;
  a.bytes[19] = n;
  return a;
}

const eth::Address author = account(1);
const eth::Address reporter = account(2);
const eth::Address moderator = account(3);

class MessagingDbTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations(), messaging::migrations()});
    for (const auto& a : {author, reporter}) m_access.grant(a, "general", true, true);
    m_access.grant(moderator, "general", true, true, true);
    m_service = std::make_unique<MessagingService>(*m_db, m_pool, m_clock, m_access, nullptr, [] {});
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  std::int64_t post(const std::string& body) {
    NewMessage m;
    m.body = body;
    m.client_id = "c" + std::to_string(++m_posted);
    auto posted = run(m_service->post(author, "general", std::move(m)));
    EXPECT_TRUE(posted) << posted.error().message;
    return posted ? posted->message.seq : 0;
  }

  bool stored(std::int64_t id) {
    return m_db->read([&](Tx& tx) { return sql::find_report(tx, id).has_value(); });
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "messaging"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 256};
  boost::asio::io_context m_ioc;
  ManualClock m_clock{start_time};
  GrantedChannelAccess m_access;
  std::unique_ptr<MessagingService> m_service;
  int m_posted = 0;
};

TEST_P(MessagingDbTest, ClosedReportsGoAfterTheRetentionOpenOnesStay) {
  const auto first = post("buy my token");
  const auto second = post("free mint at evil.example");
  auto a = run(m_service->report(reporter, "general", first, "scam", "a rug"));
  ASSERT_TRUE(a) << a.error().message;
  EXPECT_TRUE(a->created);
  auto b = run(m_service->report(reporter, "general", second, "spam", ""));
  ASSERT_TRUE(b) << b.error().message;

  // The report keeps the text it was filed on.
  ASSERT_TRUE(run(m_service->edit(author, "general", first, "nothing to see")));
  auto again = run(m_service->report(reporter, "general", first, "spam", "other words"));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->report.id, a->report.id);
  EXPECT_EQ(again->report.body, "buy my token");
  EXPECT_EQ(again->report.reason, "scam");

  // Only a moderator of the channel closes a report; to others it does not exist.
  EXPECT_EQ(run(m_service->update_report(reporter, a->report.id, "resolved", "")).error().code, "report_not_found");
  auto closed = run(m_service->update_report(moderator, a->report.id, "resolved", "author warned"));
  ASSERT_TRUE(closed) << closed.error().message;
  EXPECT_EQ(closed->status, "resolved");
  EXPECT_EQ(closed->resolved_by, moderator);

  // 89 days on nothing goes; after 91 the closed report goes, the open one stays.
  m_clock.advance(std::chrono::hours(24 * 89));
  EXPECT_EQ(*run(m_service->purge_reports()), 0U);
  m_clock.advance(std::chrono::hours(24 * 2));
  auto purged = run(m_service->purge_reports());
  ASSERT_TRUE(purged) << purged.error().message;
  EXPECT_EQ(*purged, 1U);
  EXPECT_FALSE(stored(a->report.id));
  EXPECT_TRUE(stored(b->report.id));
  m_clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(*run(m_service->purge_reports()), 0U);
  EXPECT_TRUE(stored(b->report.id));

  // Reopened, a report is open again and never purged while it is.
  auto dismissed = run(m_service->update_report(moderator, b->report.id, "dismissed", ""));
  ASSERT_TRUE(dismissed);
  auto reopened = run(m_service->update_report(moderator, b->report.id, "open", ""));
  ASSERT_TRUE(reopened);
  EXPECT_EQ(reopened->status, "open");
  EXPECT_FALSE(reopened->resolved_by);
  m_clock.advance(std::chrono::hours(24 * 365));
  EXPECT_EQ(*run(m_service->purge_reports()), 0U);
}

TEST_P(MessagingDbTest, AChannelsMessagesNeverGoBackInTimeWhenTheClockDoes) {
  const auto first = post("before the clock stepped back");
  m_clock.advance(-std::chrono::seconds(5));
  const auto second = post("after it");
  m_clock.advance(std::chrono::seconds(10));
  const auto third = post("once it caught up");
  const auto at = [&](std::int64_t seq) {
    return m_db->read([&](Tx& tx) { return *sql::created_ms_of(tx, "general", seq); });
  };
  EXPECT_EQ(at(first), unix_millis(start_time));
  EXPECT_EQ(at(second), unix_millis(start_time));  // not 5 s earlier
  EXPECT_EQ(at(third), unix_millis(start_time + std::chrono::seconds(5)));
  // So the messages below a point in time are the seqs below one seq, at each kind of tie.
  const auto below = [&](std::optional<SearchKey> key) {
    return m_db->read([&](Tx& tx) {
      auto heads = sql::search_heads(tx, {"general", "nothing here"}, key);
      EXPECT_EQ(heads.size(), 1U);  // a channel with no message has no head
      return heads.at("general").below_seq;
    });
  };
  const auto t = unix_millis(start_time);
  EXPECT_EQ(below(std::nullopt), third + 1);
  EXPECT_EQ(below(SearchKey{t, "general", second}), first + 1);
  EXPECT_EQ(below(SearchKey{t, "general", first}), 1);
  EXPECT_EQ(below(SearchKey{t, "zzz", 1}), second + 1);
  EXPECT_EQ(below(SearchKey{t, "a", 99}), 1);
  EXPECT_EQ(below(SearchKey{t + 1, "a", 1}), second + 1);
  EXPECT_EQ(below(SearchKey{t + 5000, "general", third}), second + 1);
  EXPECT_EQ(below(SearchKey{t + 5001, "a", 1}), third + 1);
}

// A post reads whether it was stored before, takes its seq, the author's marker and its parent
// together: a retry gets the stored message and takes no seq; a reply to no message is refused and
// gives its seq back; the author's marker passes the post.
TEST_P(MessagingDbTest, APostsRetryAndARefusedReplyTakeNoSeq) {
  const auto send = [&](const std::string& client_id, std::optional<std::int64_t> reply_to = std::nullopt) {
    NewMessage m;
    m.body = "message " + client_id;
    m.client_id = client_id;
    m.reply_to = reply_to;
    return run(m_service->post(author, "general", std::move(m)));
  };
  const auto head = [&] { return m_db->read([](Tx& tx) { return sql::head(tx, "general"); }); };
  auto first = send("a");
  ASSERT_TRUE(first);
  EXPECT_TRUE(first->created);
  EXPECT_EQ(first->message.seq, 1);
  auto again = send("a");
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->message.id, first->message.id);
  EXPECT_EQ(head(), 1);
  auto orphan = send("b", 7);
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().code, "unknown_parent");
  EXPECT_EQ(head(), 1);
  auto reply = send("c", 1);
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->message.seq, 2);
  ASSERT_TRUE(reply->message.reply_to);
  EXPECT_EQ(*reply->message.reply_to, 1);
  ASSERT_TRUE(reply->message.reply_preview);
  EXPECT_EQ(reply->message.reply_preview->body, "message a");
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::read_marker(tx, eth::to_lower_hex(author), "general"); }), 2);
  // The store's answer for a stored client id: the message, nothing numbered.
  const auto start = m_db->transact([](Tx& tx) {
    return sql::start_post(tx, "general", eth::to_lower_hex(author), "c", 1'800'000'000'000, std::int64_t{1});
  });
  ASSERT_TRUE(start.stored);
  EXPECT_EQ(start.stored->seq, 2);
  EXPECT_EQ(start.seq, 0);
  EXPECT_EQ(head(), 2);
}

// The loop posts a poll's result as the poll ends: it sleeps until the earliest end, with no poll
// of its own (an hour's idle poll here). The service's clock is moved to just before the end, then
// past it, with no wake: only the sleep to the end posts the result, once.
TEST_P(MessagingDbTest, TheResultsLoopPostsAPollsResultWhenItEnds) {
  NewMessage ask;
  ask.client_id = "poll-loop";
  ask.poll = PollSpec{"Ship on Friday?", {"yes", "no"}, false, 1};
  auto asked = run(m_service->post(author, "general", std::move(ask)));
  ASSERT_TRUE(asked) << asked.error().message;
  const auto poll_seq = asked->message.seq;
  ASSERT_TRUE(run(m_service->vote(reporter, "general", poll_seq, 2, true)));
  const auto results = [&] {
    return m_db->read([&](Tx& tx) {
      return tx
          .query_one("SELECT count(*) FROM msg_messages WHERE channel_id = 'general' AND system_kind = $1",
                     {std::string(poll_result_kind)})
          ->get_int(0);
    });
  };
  // Its end is 50 ms away on the service's clock: the loop sleeps that long, finds it not ended
  // (the clock has not moved), and sleeps again until the clock passes the end.
  m_clock.advance(std::chrono::hours(1) - std::chrono::milliseconds(50));
  IoRuntime io(2);
  auto loop = poll_results_loop(io.executor(), *m_service, std::chrono::hours(1));
  io.start();
  loop->start();
  EXPECT_EQ(*run(m_service->next_poll_result_in()), std::chrono::milliseconds(50));
  m_clock.advance(std::chrono::milliseconds(50));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (results() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(results(), 1);
  EXPECT_EQ(*run(m_service->next_poll_result_in()), std::nullopt);
  loop.reset();
  EXPECT_EQ(results(), 1);
}

TEST_P(MessagingDbTest, APollThatEndsGetsOneResultMessageWhoeverEndsIt) {
  const auto ask = [&](std::int64_t hours) {
    NewMessage m;
    m.client_id = "poll" + std::to_string(++m_posted);
    m.poll = PollSpec{"Ship on Friday?", {"yes", "no", "later"}, false, hours};
    auto posted = run(m_service->post(author, "general", std::move(m)));
    EXPECT_TRUE(posted) << posted.error().message;
    return posted ? posted->message.seq : 0;
  };
  const auto timed = ask(1);
  const auto gone = ask(1);
  const auto ended = ask(2);
  for (const auto& [who, answer] : {std::pair{author, 1}, std::pair{reporter, 2}, std::pair{moderator, 2}}) {
    ASSERT_TRUE(run(m_service->vote(who, "general", timed, answer, true)));
  }
  ASSERT_TRUE(run(m_service->remove(author, "general", gone)));
  const auto results = [&] {
    auto page = run(m_service->history(reporter, "general", HistoryQuery{std::nullopt, 0, std::nullopt, 100}));
    EXPECT_TRUE(page);
    std::vector<Message> out;
    for (auto& m : *page) {
      if (m.system) out.push_back(std::move(m));
    }
    return out;
  };

  // Ended by its author: the result follows at once, replying to it; the job adds nothing.
  ASSERT_TRUE(run(m_service->end_poll(author, "general", ended)));
  EXPECT_EQ(*run(m_service->post_poll_results()), 0U);
  auto found = results();
  ASSERT_EQ(found.size(), 1U);
  EXPECT_EQ(found[0].author, system_author);
  EXPECT_EQ(found[0].reply_to, ended);
  EXPECT_EQ(found[0].system->kind, poll_result_kind);
  EXPECT_EQ(found[0].system->data.at("poll_seq").as_int64(), ended);
  EXPECT_EQ(found[0].system->data.at("total_votes").as_int64(), 0);
  EXPECT_TRUE(found[0].system->data.at("winners").as_array().empty());
  ASSERT_TRUE(run(m_service->end_poll(author, "general", ended)));  // ending again posts nothing
  const auto told = [&] {
    return m_db->read([&](Tx& tx) {
      std::vector<std::string> out;
      for (const auto& r : tx.query("SELECT payload FROM bus_outbox WHERE topic = 'notify.requested' ORDER BY id")) {
        out.push_back(r.get_text(0));
      }
      return out;
    });
  };
  EXPECT_TRUE(told().empty());  // an author who ends a poll is not told it ended

  // Before its end the timed poll has none; after it the job posts one, once.
  m_clock.advance(std::chrono::minutes(59));
  EXPECT_EQ(*run(m_service->post_poll_results()), 0U);
  m_clock.advance(std::chrono::minutes(2));
  EXPECT_EQ(*run(m_service->post_poll_results()), 1U);
  EXPECT_EQ(*run(m_service->post_poll_results()), 0U);
  found = results();
  ASSERT_EQ(found.size(), 2U);
  const auto& result = found[1];
  EXPECT_EQ(result.reply_to, timed);
  EXPECT_EQ(result.system->data.at("total_votes").as_int64(), 3);
  EXPECT_EQ(boost::json::serialize(result.system->data.at("winners")), "[2]");
  EXPECT_EQ(boost::json::serialize(result.system->data.at("answers")),
            R"([{"id":1,"text":"yes","votes":1},{"id":2,"text":"no","votes":2},{"id":3,"text":"later","votes":0}])");
  EXPECT_EQ(message_json(result).at("system").at("kind").as_string(), "poll_result");
  // The author of a poll that ran out of time is told, once.
  const auto requests = told();
  ASSERT_EQ(requests.size(), 1U);
  const auto request = boost::json::parse(requests[0]).as_object();
  EXPECT_EQ(request.at("title").as_string(), "Your poll has ended");
  EXPECT_EQ(request.at("body").as_string(), "Ship on Friday?: no (2 votes)");
  EXPECT_EQ(boost::json::serialize(request.at("accounts")), "[\"" + eth::to_checksum(author) + "\"]");
  EXPECT_EQ(request.at("data").at("result_seq").as_int64(), result.seq);

  // No account edits it; a moderator deletes it, and the tombstone keeps only its kind.
  EXPECT_EQ(run(m_service->edit(author, "general", result.seq, "rigged")).error().code, "not_author");
  EXPECT_EQ(run(m_service->remove(author, "general", result.seq)).error().code, "not_author");
  ASSERT_TRUE(run(m_service->remove(moderator, "general", result.seq)));
  auto tombstone = run(m_service->get(reporter, "general", result.seq));
  ASSERT_TRUE(tombstone);
  ASSERT_TRUE(tombstone->system);
  EXPECT_TRUE(tombstone->system->data.empty());
  EXPECT_EQ(boost::json::serialize(message_json(*tombstone).at("system")), R"({"kind":"poll_result"})");
}

TEST_P(MessagingDbTest, TheBackfillGivesMessagesIndexedBeforeTheFiltersTheirTerms) {
  const auto linked = post("docs at https://example.org/start for @0xbb00000000000000000000000000000000000002");
  const auto plain = post("nothing to see");
  SearchQuery has_link;
  has_link.has = {"link"};
  SearchQuery mentioning;
  mentioning.mentions = reporter;
  const auto found = [&](const SearchQuery& q) {
    auto page = run(m_service->search(author, "general", q));
    EXPECT_TRUE(page) << page.error().message;
    std::vector<std::int64_t> seqs;
    for (const auto& m : page->messages) seqs.push_back(m.seq);
    return std::pair{seqs, page->partial};
  };
  EXPECT_EQ(found(has_link), (std::pair{std::vector<std::int64_t>{linked}, false}));
  EXPECT_EQ(found(mentioning), (std::pair{std::vector<std::int64_t>{linked}, false}));

  // As an index written before the filters: their rows are missing, and migration 0011 queued the
  // channel again.
  m_db->transact([&](Tx& tx) {
    tx.exec("DELETE FROM msg_search_terms WHERE term LIKE '%:%'");
    tx.exec("INSERT INTO msg_search_backlog (channel_id, below_seq) VALUES ('general', $1)", {plain + 1});
  });
  EXPECT_EQ(found(has_link), (std::pair{std::vector<std::int64_t>{}, true}));
  // The words are still found meanwhile.
  SearchQuery words;
  words.text = "docs";
  EXPECT_EQ(found(words).first, std::vector<std::int64_t>{linked});
  auto indexed = run(m_service->index_backlog());
  ASSERT_TRUE(indexed) << indexed.error().message;
  EXPECT_EQ(*indexed, 2U);
  EXPECT_EQ(found(has_link), (std::pair{std::vector<std::int64_t>{linked}, false}));
  EXPECT_EQ(found(mentioning), (std::pair{std::vector<std::int64_t>{linked}, false}));
  // Nothing asked: 400.
  EXPECT_EQ(run(m_service->search(author, "general", SearchQuery{})).error().code, "invalid_query");
}

// The archive job takes the threads whose inactivity ran out, the first to run out first (not the
// longest quiet: a thread's auto-archive time is its own), and none that is pinned, deleted,
// archived by hand or still active.
TEST_P(MessagingDbTest, TheArchiveJobTakesTheThreadsWhoseInactivityRanOutFirstFirst) {
  constexpr std::int64_t now = 1'800'000'000'000;
  constexpr std::int64_t hour = 3'600'000;
  m_db->transact([&](Tx& tx) {
    const auto thread = [&](const char* id, std::int64_t minutes, std::int64_t last_ms, store::Value archived_ms,
                            store::Value deleted_ms, std::int64_t pinned) {
      tx.exec(
          "INSERT INTO msg_threads (id, channel_id, seq, name, creator, created_ms, auto_archive_minutes, "
          "archived_ms, locked, last_ms, deleted_ms, pinned) VALUES ($1, 'general', NULL, $1, $2, 0, $3, $4, 0, $5, "
          "$6, $7)",
          {std::string(id), eth::to_lower_hex(author), minutes, std::move(archived_ms), last_ms, std::move(deleted_ms),
           pinned});
    };
    thread("th_day", 1440, now - 25 * hour, nullptr, nullptr, 0);  // ran out an hour ago
    thread("th_hour", 60, now - 3 * hour, nullptr, nullptr, 0);    // two hours ago
    thread("th_now", 60, now - hour, nullptr, nullptr, 0);         // just now
    thread("th_soon", 60, now - hour + 1, nullptr, nullptr, 0);    // in a millisecond
    thread("th_week", 10080, now - 48 * hour, nullptr, nullptr, 0);
    thread("th_pinned", 60, 0, nullptr, nullptr, 1);
    thread("th_deleted", 60, 0, nullptr, now - 5 * hour, 0);
    thread("th_by_hand", 60, 0, std::int64_t{1000}, nullptr, 0);
  });
  const auto due = [&](std::size_t limit) {
    std::vector<std::string> ids;
    for (const auto& t : m_db->read([&](Tx& tx) { return sql::inactive_threads(tx, now, limit); })) ids.push_back(t.id);
    return ids;
  };
  EXPECT_EQ(due(10), (std::vector<std::string>{"th_hour", "th_day", "th_now"}));
  EXPECT_EQ(due(1), std::vector<std::string>{"th_hour"});
  // Recorded archived when its inactivity ran out, and only once.
  EXPECT_TRUE(m_db->transact([&](Tx& tx) { return sql::record_archive(tx, "th_day", now); }));
  EXPECT_FALSE(m_db->transact([&](Tx& tx) { return sql::record_archive(tx, "th_day", now); }));
  EXPECT_FALSE(m_db->transact([&](Tx& tx) { return sql::record_archive(tx, "th_soon", now); }));
  EXPECT_EQ(unix_millis(*m_db->read([&](Tx& tx) { return sql::find_thread(tx, "th_day"); })->archived_at), now - hour);
  EXPECT_EQ(due(10), (std::vector<std::string>{"th_hour", "th_now"}));
}

// A channel holds at most max_active_threads active threads: pinned ones count, as do those within
// their auto-archive time; archived, deleted, and those whose inactivity ran out but that the job
// has not recorded yet do not.
TEST_P(MessagingDbTest, AChannelHoldsAtMostItsActiveThreadsArchivedOnesAside) {
  const std::int64_t now = unix_millis(start_time);
  constexpr std::int64_t hour = 3'600'000;
  std::int64_t n = 0;
  const auto seed = [&](std::size_t count, std::int64_t last_ms, store::Value archived_ms, store::Value deleted_ms,
                        std::int64_t pinned) {
    m_db->transact([&](Tx& tx) {
      for (std::size_t i = 0; i < count; ++i) {
        tx.exec(
            "INSERT INTO msg_threads (id, channel_id, seq, name, creator, created_ms, auto_archive_minutes, "
            "archived_ms, locked, last_ms, deleted_ms, pinned) VALUES ($1, 'general', NULL, 'seeded', $2, 0, 1440, "
            "$3, 0, $4, $5, $6)",
            {std::string(thread_id_prefix) + "seeded" + std::to_string(++n), eth::to_lower_hex(author), archived_ms,
             last_ms, deleted_ms, pinned});
      }
    });
  };
  seed(max_active_threads - 2, now - hour, nullptr, nullptr, 0);  // active
  seed(1, now - 100 * hour, nullptr, nullptr, 1);                 // pinned: active however quiet
  seed(300, now - 100 * hour, now - 76 * hour, nullptr, 0);       // archived
  seed(1, now - hour, nullptr, now, 0);                           // deleted
  seed(1, now - 25 * hour, nullptr, nullptr, 0);                  // ran out, not recorded yet
  const auto start = [&] {
    NewThread spec;
    spec.name = "one more";
    return run(m_service->create_thread(author, "general", std::move(spec)));
  };
  ASSERT_TRUE(start()) << "the last free place";
  auto refused = start();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "too_many_threads");
  // One archived: a place again.
  m_db->transact([&](Tx& tx) {
    tx.exec("UPDATE msg_threads SET archived_ms = $1 WHERE id = $2", {now, std::string(thread_id_prefix) + "seeded1"});
  });
  EXPECT_TRUE(start());
  EXPECT_FALSE(start());

  // Concurrent starts cannot pass the limit together: three places, sixteen starts, three threads.
  m_db->transact([&](Tx& tx) {
    for (int i = 2; i <= 4; ++i) {
      tx.exec("UPDATE msg_threads SET archived_ms = $1 WHERE id = $2",
              {now, std::string(thread_id_prefix) + "seeded" + std::to_string(i)});
    }
  });
  // Eight pool threads: the starts' transactions run at once.
  BlockingPool wide{8, 256};
  MessagingService service(*m_db, wide, m_clock, m_access, nullptr, [] {});
  std::vector<Result<StartedThread>> racing;
  for (int i = 0; i < 16; ++i) {
    boost::asio::co_spawn(
        m_ioc,
        [&]() -> Task<void> {
          NewThread spec;
          spec.name = "racing";
          racing.push_back(co_await service.create_thread(author, "general", std::move(spec)));
        },
        boost::asio::detached);
  }
  m_ioc.run();
  m_ioc.restart();
  ASSERT_EQ(racing.size(), 16U);
  EXPECT_EQ(std::count_if(racing.begin(), racing.end(), [](const auto& r) { return r.has_value(); }), 3);
  for (const auto& r : racing) {
    if (!r) {
      EXPECT_EQ(r.error().code, "too_many_threads");
    }
  }
}

// A stored account that is not an address (a row written by hand, or corrupted) fails the read as
// the database's failure: no reader goes on with an address that is not the row's.
TEST_P(MessagingDbTest, ARowWhoseAccountIsNotAnAddressFailsItsReadAsTheDatabases) {
  const auto seq = post("hello");
  NewThread spec;
  spec.name = "talk";
  auto thread = run(m_service->create_thread(author, "general", std::move(spec)));
  ASSERT_TRUE(thread) << thread.error().message;
  ASSERT_TRUE(run(m_service->history(author, "general", HistoryQuery{})));
  const auto find_thread = [&] { return m_db->read([&](Tx& tx) { return sql::find_thread(tx, thread->thread.id); }); };
  ASSERT_TRUE(find_thread());
  m_db->transact([&](Tx& tx) {
    tx.exec("UPDATE msg_messages SET author = 'not an address' WHERE channel_id = 'general' AND seq = $1", {seq});
    tx.exec("UPDATE msg_threads SET creator = '0x12' WHERE id = $1", {thread->thread.id});
  });
  const auto fails_as_the_database = [](auto read) {
    try {
      read();
      ADD_FAILURE() << "the read succeeded";
    } catch (const store::DbError& e) {
      EXPECT_EQ(e.kind(), store::DbErrorKind::other);
    }
  };
  fails_as_the_database([&] { (void)run(m_service->history(author, "general", HistoryQuery{})); });
  fails_as_the_database([&] { (void)find_thread(); });
}

// Thread members came after threads: a database that had threads finds its readers of a thread
// among its members, as they were its joined threads before, and nobody else; the counts that came
// after them count what was there.
class ThreadMembersMigrationTest : public ::testing::TestWithParam<Dialect> {
 protected:
  store::testing::FreshDatabase m_fresh{GetParam(), "messaging"};
};

TEST_P(ThreadMembersMigrationTest, ReadersOfAThreadBecomeItsMembers) {
  GH_REQUIRE_DATABASE(m_fresh);
  auto db = m_fresh.open();
  auto before = messaging::migrations();
  const auto members_at = std::find_if(before.migrations.begin(), before.migrations.end(),
                                       [](const store::Migration& m) { return m.name == "thread_members"; });
  ASSERT_NE(members_at, before.migrations.end());
  before.migrations.erase(members_at, before.migrations.end());
  db->migrate(std::vector<store::MigrationSet>{bus::migrations(), before});
  db->transact([](Tx& tx) {
    tx.exec(
        "INSERT INTO msg_threads (id, channel_id, seq, name, creator, created_ms, auto_archive_minutes, archived_ms, "
        "locked, last_ms) VALUES ('th_a', 'general', NULL, 'a', $1, 1000, 1440, NULL, 0, 1000)",
        {eth::to_lower_hex(author)});
    const auto mark = [&](const eth::Address& who, const char* channel, std::int64_t at) {
      tx.exec("INSERT INTO msg_read_markers (account, channel_id, last_read_seq, updated_ms) VALUES ($1, $2, 0, $3)",
              {eth::to_lower_hex(who), std::string(channel), at});
    };
    mark(author, "th_a", 2000);
    mark(reporter, "th_a", 3000);
    mark(moderator, "general", 4000);  // a channel's reader is no thread's member
    const auto message = [&](std::int64_t seq, bool deleted) {
      tx.exec(
          "INSERT INTO msg_messages (id, channel_id, seq, author, client_id, body, mentions, mention_roles, "
          "created_ms, "
          "deleted_ms) VALUES ($1, 'th_a', $2, $3, $1, 'hi', '', '', 1000, $4)",
          {"m" + std::to_string(seq), seq, eth::to_lower_hex(author),
           deleted ? store::Value(std::int64_t{2000}) : store::Value(nullptr)});
    };
    message(1, false);
    message(2, true);
    message(3, false);
    return 0;
  });
  db->migrate(std::vector<store::MigrationSet>{bus::migrations(), messaging::migrations()});
  const auto members = db->read([](Tx& tx) { return sql::thread_members(tx, "th_a", std::nullopt, 10); });
  ASSERT_EQ(members.size(), 2U);
  EXPECT_EQ(members[0].account, author);
  EXPECT_EQ(members[1].account, reporter);
  EXPECT_EQ(unix_millis(members[1].joined_at), 3000);
  EXPECT_TRUE(db->read([](Tx& tx) { return sql::joined_among(tx, eth::to_lower_hex(moderator), {"th_a"}).empty(); }));
  const auto counted = db->read([](Tx& tx) { return sql::find_thread(tx, "th_a"); });
  ASSERT_TRUE(counted);
  EXPECT_EQ(counted->message_count, 2);  // the deleted one is not counted
  EXPECT_EQ(counted->member_count, 2);
  // Inactive since long before the archive job existed: recorded as archived when its inactivity
  // ran out, so the job tells no one of it; nothing is left for the job.
  ASSERT_TRUE(counted->archived_at);
  EXPECT_EQ(unix_millis(*counted->archived_at), 1000 + 1440 * 60000);
  EXPECT_TRUE(db->read([](Tx& tx) { return sql::inactive_threads(tx, 1'800'000'000'000, 10); }).empty());
  // Joining and leaving: each says whether it changed anything.
  db->transact([](Tx& tx) {
    EXPECT_FALSE(sql::join_thread(tx, "th_a", eth::to_lower_hex(author), 5000));
    EXPECT_TRUE(sql::join_thread(tx, "th_a", eth::to_lower_hex(moderator), 5000));
    EXPECT_TRUE(sql::leave_thread(tx, "th_a", eth::to_lower_hex(author)));
    EXPECT_FALSE(sql::leave_thread(tx, "th_a", eth::to_lower_hex(author)));
    // The counts follow what changed, and only that.
    EXPECT_EQ(sql::find_thread(tx, "th_a")->member_count, 2);
    sql::tombstone(tx, "th_a", 1, 6000);
    sql::tombstone(tx, "th_a", 1, 6000);
    sql::tombstone(tx, "th_a", 2, 6000);
    EXPECT_EQ(sql::find_thread(tx, "th_a")->message_count, 1);
    return 0;
  });
  const auto after = db->read([](Tx& tx) {
    return sql::thread_members(tx, "th_a", sql::MemberCursor{3000, eth::to_lower_hex(reporter)}, 10);
  });
  ASSERT_EQ(after.size(), 1U);
  EXPECT_EQ(after[0].account, moderator);
  // Members follow all of a thread, those from before the setting included, until they say
  // otherwise; a setting change says whether it changed anything.
  const auto hex = [](const eth::Address& a) { return eth::to_lower_hex(a); };
  db->transact([&](Tx& tx) {
    EXPECT_EQ(sql::thread_followers(tx, "th_a", 10), (std::vector<std::string>{hex(reporter), hex(moderator)}));
    EXPECT_EQ(sql::thread_followers(tx, "th_a", 1), std::vector<std::string>{hex(reporter)});
    EXPECT_TRUE(sql::set_thread_notify(tx, "th_a", hex(reporter), ThreadNotify::none));
    EXPECT_FALSE(sql::set_thread_notify(tx, "th_a", hex(reporter), ThreadNotify::none));
    EXPECT_FALSE(sql::set_thread_notify(tx, "th_a", hex(author), ThreadNotify::mentions));  // not a member
    EXPECT_TRUE(sql::join_thread(tx, "th_a", hex(author), 9000, ThreadNotify::mentions));
    EXPECT_FALSE(sql::join_thread(tx, "th_a", hex(author), 9500, ThreadNotify::all));  // a member keeps its own
    EXPECT_EQ(sql::thread_followers(tx, "th_a", 10), std::vector<std::string>{hex(moderator)});
    // A post there: those it joins who were not members join, following all of it, counted; the
    // settings asked are read after the joins.
    const std::string newcomer = "0x00000000000000000000000000000000000000aa";
    const auto members_before = sql::find_thread(tx, "th_a")->member_count;
    const auto posted = sql::post_in_thread(tx, "th_a", 9800, {hex(author), newcomer, newcomer},
                                            {hex(author), hex(reporter), hex(moderator), "0xnobody", newcomer});
    EXPECT_TRUE(posted.thread);
    if (!posted.thread) return 0;
    EXPECT_EQ(posted.joined, std::vector<std::string>{newcomer});
    EXPECT_EQ(posted.thread->member_count, members_before + 1);
    EXPECT_EQ(unix_millis(posted.thread->last_activity), 9800);
    EXPECT_EQ(posted.settings, (std::map<std::string, ThreadNotify>{{hex(author), ThreadNotify::mentions},
                                                                    {hex(reporter), ThreadNotify::none},
                                                                    {hex(moderator), ThreadNotify::all},
                                                                    {newcomer, ThreadNotify::all}}));
    EXPECT_EQ(sql::find_thread(tx, "th_a")->member_count, members_before + 1);
    EXPECT_EQ(sql::thread_followers(tx, "th_a", 10), (std::vector<std::string>{hex(moderator), newcomer}));
    // An earlier time leaves its last activity.
    EXPECT_EQ(unix_millis(sql::post_in_thread(tx, "th_a", 9700, {}, {}).thread->last_activity), 9800);
    EXPECT_EQ(sql::joined_among(tx, hex(reporter), {"th_a", "th_b"}),
              (std::map<std::string, ThreadNotify>{{"th_a", ThreadNotify::none}}));
    return 0;
  });
  // A deleted thread takes no member, and no post.
  db->transact([](Tx& tx) {
    EXPECT_TRUE(sql::delete_thread(tx, "th_a", 7000));
    EXPECT_FALSE(sql::join_thread(tx, "th_a", eth::to_lower_hex(author), 8000));
    const auto posted = sql::post_in_thread(tx, "th_a", 8000, {eth::to_lower_hex(author)}, {});
    EXPECT_FALSE(posted.thread);
    EXPECT_TRUE(posted.joined.empty());
    return 0;
  });
  EXPECT_TRUE(db->read([](Tx& tx) { return sql::thread_members(tx, "th_a", std::nullopt, 10); }).empty());
}

// Grants as the test's access does, or throws as a database-backed access does while the database
// is out of reach, or (the checks a recheck makes) answers an error.
class FailingAccess final : public ChannelAccess {
 public:
  explicit FailingAccess(ChannelAccess& inner) : m_inner(inner) {}
  std::atomic<bool> failing{false};
  std::atomic<bool> erring{false};

  Task<Result<bool>> can_read(const eth::Address& account, std::string channel_id) override {
    fail();
    if (erring) co_return internal_error("access unanswered");
    co_return co_await m_inner.can_read(account, std::move(channel_id));
  }
  Task<Result<bool>> can_post(const eth::Address& account, std::string channel_id) override {
    fail();
    co_return co_await m_inner.can_post(account, std::move(channel_id));
  }
  Task<Result<bool>> can_moderate(const eth::Address& account, std::string channel_id) override {
    fail();
    if (erring) co_return internal_error("access unanswered");
    co_return co_await m_inner.can_moderate(account, std::move(channel_id));
  }
  Task<Result<std::vector<std::string>>> mentionable_roles(const eth::Address& account, std::string channel_id,
                                                           std::vector<std::string> roles) override {
    fail();
    co_return co_await m_inner.mentionable_roles(account, std::move(channel_id), std::move(roles));
  }
  Task<Result<std::vector<std::string>>> readable_channels(const eth::Address& account) override {
    fail();
    co_return co_await m_inner.readable_channels(account);
  }
  Task<Result<std::vector<eth::Address>>> members_with_role(std::string channel_id, std::string role,
                                                            std::size_t limit) override {
    fail();
    co_return co_await m_inner.members_with_role(std::move(channel_id), std::move(role), limit);
  }
  Task<Result<std::vector<eth::Address>>> readers(std::string channel_id, std::vector<eth::Address> accounts) override {
    fail();
    co_return co_await m_inner.readers(std::move(channel_id), std::move(accounts));
  }
  Task<Result<ChannelRoles>> roles_in_channels(const eth::Address& account,
                                               std::vector<std::string> channel_ids) override {
    fail();
    co_return co_await m_inner.roles_in_channels(account, std::move(channel_ids));
  }

 private:
  void fail() const {
    if (failing) throw std::runtime_error("server closed the connection unexpectedly");
  }
  ChannelAccess& m_inner;
};

// A membership change rechecks the sockets' subscriptions here: a member who lost a channel is
// unsubscribed from it; when the check cannot be made (access throws, or answers an error), the
// member's sockets are closed 4008, so that their resume authorizes each channel anew, never left
// receiving.
TEST_P(MessagingDbTest, AMembershipRecheckThatCannotCheckAccessClosesTheSocketsToResume) {
  FailingAccess access(m_access);
  realtime::GatewaySettings settings;
  settings.reauth_interval_ms = 0;
  realtime::Gateway gateway(
      m_ioc.get_executor(), settings,
      [](std::string) -> Task<Result<realtime::Gateway::Identity>> { co_return internal_error("not used"); });
  MessagingService service(*m_db, m_pool, m_clock, access, &gateway, [] {});
  service.set_executor(m_ioc.get_executor());
  gateway.add_topic_kind(std::string(channel_topic), service.topic_source());
  const auto run_until = [&](const std::function<bool()>& done) {
    // The work comes back from the pool's threads: the loop may run out of it meanwhile.
    for (int turn = 0; turn < 2000 && !done(); ++turn) {
      m_ioc.restart();
      if (m_ioc.run_for(std::chrono::milliseconds(5)) == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return done();
  };
  std::vector<std::shared_ptr<net::WebSocketSession>> sessions;
  const auto open = [&](const eth::Address& who) {
    auto socket = std::make_shared<realtime::testing::RecordingSocket>(m_ioc.get_executor());
    sessions.push_back(gateway.open_session({who, "session-" + eth::to_lower_hex(who)}, "", "token"));
    sessions.back()->on_open(socket);
    boost::asio::co_spawn(m_ioc, sessions.back()->on_message(R"({"type":"subscribe","channel_ids":["general"]})"),
                          boost::asio::detached);
    EXPECT_TRUE(run_until([&] { return socket->sent_with(R"("type":"subscribed")") == 1; }));
    return socket;
  };
  const auto membership_changed = [&](const eth::Address& who) {
    bus::Event event;
    event.topic = "community.member_removed";
    event.payload =
        json::serialize(json::object{{"account", eth::to_checksum(who)}, {"channel_ids", json::array{"general"}}});
    service.on_membership_event(event);
  };
  auto author_socket = open(author);
  auto reporter_socket = open(reporter);
  auto moderator_socket = open(moderator);

  // Checked: the reporter lost the channel, and is unsubscribed from it.
  m_access.grant(reporter, "general", false, false);
  membership_changed(reporter);
  EXPECT_TRUE(run_until([&] { return reporter_socket->sent_with(R"("status":"removed")") == 1; }));
  EXPECT_FALSE(reporter_socket->close_code().has_value());
  EXPECT_EQ(gateway.subscribers(channel_topic, "general"), (std::vector<eth::Address>{author, moderator}));

  // Not checkable: the account's socket is closed to resume; it is not told of a removal.
  const auto closed_to_resume = [&](const eth::Address& who,
                                    const std::shared_ptr<realtime::testing::RecordingSocket>& socket) {
    membership_changed(who);
    ASSERT_TRUE(run_until([&] { return socket->close_code().has_value(); }));
    EXPECT_EQ(*socket->close_code(), net::close_code::resume);
    EXPECT_EQ(socket->sent_with(R"("status":"removed")"), 0U);
  };
  access.failing = true;
  closed_to_resume(author, author_socket);
  EXPECT_FALSE(moderator_socket->close_code().has_value());

  // A check that answers an error is no check either.
  access.failing = false;
  access.erring = true;
  closed_to_resume(moderator, moderator_socket);
  EXPECT_FALSE(reporter_socket->close_code().has_value());
  for (auto& s : sessions) s->on_close();
}

INSTANTIATE_TEST_SUITE_P(Backends, ThreadMembersMigrationTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

INSTANTIATE_TEST_SUITE_P(Backends, MessagingDbTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::messaging
