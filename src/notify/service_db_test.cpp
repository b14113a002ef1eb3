// The notification center and the router on both backends: pages with a cursor and an exact
// unread count, marking read, settings and what they do to new notifications, routing per device
// (socket, push, fallback when the socket is gone, quiet hours, tokens declared gone), every
// attempt recorded, and a community of 100,000 expanded in batches outside the bus transaction.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <set>
#include <thread>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "core/io_runtime.hpp"
#include "core/testing/run_task.hpp"
#include "notify/migrations.hpp"
#include "notify/router.hpp"
#include "notify/service.hpp"
#include "notify/store.hpp"
#include "notify/testing/fakes.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;
using store::Dialect;
using store::Tx;

// 2026-01-15T12:00:00Z
const SystemTime start_time = SystemTime(std::chrono::seconds(1'768'478'400));
const eth::Address alice = *eth::parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
const eth::Address bob = *eth::parse_address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359");
const std::string alice_hex = eth::to_lower_hex(alice);
const std::string bob_hex = eth::to_lower_hex(bob);

class NotifyDbTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations(), notify::migrations()});
    m_service = std::make_unique<NotifyService>(*m_db, m_pool, m_clock);
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  Draft draft(Kind kind, std::string key, std::string community = "c-1", std::string channel = "ch-1") {
    Draft d;
    d.kind = kind;
    d.title = "title " + key;
    d.body = "body " + key;
    d.community_id = std::move(community);
    d.channel_id = std::move(channel);
    d.dedup_key = std::move(key);
    return d;
  }

  Settings put(const eth::Address& who, std::string body) {
    auto s = run(m_service->update_settings(who, json::parse(body).as_object()));
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return s ? *s : Settings{};
  }

  std::unique_ptr<Router> make_router(RouterSettings settings = {}) {
    auto router = std::make_unique<Router>(m_ioc.get_executor(), *m_service, m_pool, m_clock, m_registry, settings);
    router->set_directory(&m_directory);
    router->set_online(&m_online);
    router->set_audience(&m_audience);
    router->add_provider(m_fcm);
    router->add_provider(m_webpush);
    return router;
  }

  /// Publishes an event and hands it to the router's consumer, as the bus dispatcher would.
  void publish_and_consume(Router& router, const std::string& topic, const std::string& key, json::object payload) {
    m_db->transact([&](Tx& tx) {
      auto id = bus::publish(tx, bus::NewEvent{topic, key, json::serialize(payload)});
      ASSERT_TRUE(id);
    });
    auto consumer = router.consumer();
    auto events = m_db->read([&](Tx& tx) { return bus::read_outbox(tx, 0, 10'000); });
    for (const auto& e : events) bus::apply_once(*m_db, consumer, e);
  }

  /// Waits (at most 20 s) until `done` holds in a fresh read, for loops that run on their own.
  bool eventually(const std::function<bool(Tx&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!m_db->read(done) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return m_db->read(done);
  }

  /// Runs router rounds until one does nothing.
  void settle(Router& router) {
    for (int i = 0; i < 10'000; ++i) {
      auto report = run(router.run_once());
      if (report.expanded == 0 && report.delivered == 0 && report.removals == 0 && report.reads == 0) return;
    }
    FAIL() << "the router never settled";
  }

  std::vector<sql::AttemptRow> attempts(const std::string& notification_id) {
    return m_db->read([&](Tx& tx) { return sql::attempts_for(tx, notification_id); });
  }

  // Alice has a phone (push) and a laptop with a socket; one system notification goes to her.
  // The outcome of each device's delivery attempt, by device id.
  std::map<std::string, std::string> deliver_to_phone_and_laptop(Router& router, const std::string& title) {
    m_directory.devices_of[alice_hex] = {PushTarget{"a-phone", "fcm", "t"}, PushTarget{"a-laptop", "webpush", "s"}};
    m_online.online = {"a-laptop"};
    publish_and_consume(router, "notify.requested", alice_hex,
                        json::object{{"kind", "system"}, {"title", title}, {"accounts", json::array{alice_hex}}});
    settle(router);
    std::map<std::string, std::string> outcome;
    auto page = run(m_service->list(alice, std::nullopt, 10, false));
    EXPECT_EQ(page->items.size(), 1u);
    if (page->items.empty()) return outcome;
    for (const auto& a : attempts(page->items[0].id)) outcome[a.device_id] = a.outcome;
    return outcome;
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "notify"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 10'000};
  ManualClock m_clock{start_time};
  metrics::Registry m_registry;
  boost::asio::io_context m_ioc;
  std::unique_ptr<NotifyService> m_service;
  testing::FakeDirectory m_directory;
  testing::FakeOnline m_online;
  testing::FakeAudience m_audience;
  testing::FakeProvider m_fcm{"fcm"};
  testing::FakeProvider m_webpush{"webpush"};
  const eth::Address m_carol = *eth::parse_address("0x00000000000000000000000000000000000c0a01");
};

// The router as a node runs it, with no polling (an hour between rounds): only its consumer's
// commits, through the bus, and marking read wake it. Twenty requests, each published and
// announced on its own while rounds run, all end delivered; then a read is told. A wake lost on
// the way (one that came during a round, or before its consumer's commit) leaves the test waiting.
TEST_P(NotifyDbTest, TheRouterRunsOnItsConsumersCommitsAndOnReadsWithoutPolling) {
  RouterSettings settings;
  settings.poll_interval = std::chrono::hours(1);
  settings.idle_poll = std::chrono::hours(1);
  IoRuntime io(2);
  m_directory.devices_of[alice_hex] = {PushTarget{"a-phone", "fcm", "t"}};
  Router router(io.executor(), *m_service, m_pool, m_clock, m_registry, settings);
  router.set_directory(&m_directory);
  router.set_online(&m_online);
  router.add_provider(m_fcm);
  m_service->set_on_reads([&router] { router.wake(); });
  bus::DispatcherSettings quiet{100, std::chrono::hours(1)};
  quiet.consumer_poll = std::chrono::hours(1);
  bus::Dispatcher dispatcher(io.executor(), *m_db, m_pool, m_registry, quiet);
  dispatcher.add(router.consumer());
  io.start();
  dispatcher.start();
  router.start();
  constexpr int n = 20;
  for (int i = 0; i < n; ++i) {
    json::object request{{"kind", "system"}, {"title", "t" + std::to_string(i)}, {"accounts", json::array{alice_hex}}};
    m_db->transact([&](Tx& tx) {
      ASSERT_TRUE(bus::publish(tx, bus::NewEvent{"notify.requested", alice_hex, json::serialize(request)}));
    });
    dispatcher.wake();
  }
  EXPECT_TRUE(
      eventually([&](Tx& tx) { return sql::unread_count(tx, alice_hex) == n && sql::pending_deliveries(tx) == 0; }));
  // Marking read leaves the read for the router to tell the account's sockets.
  ASSERT_TRUE(run(m_service->mark_read(alice, {}, true)));
  EXPECT_TRUE(eventually([](Tx& tx) { return tx.query_one("SELECT count(*) FROM notify_reads")->get_int(0) == 0; }));
  router.stop();
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_EQ(m_fcm.sent.size(), static_cast<std::size_t>(n));
}

// A node that serves the API without a router (roles api alone) marks notifications read in the
// center: the routers of the other nodes hear of it through the bus and tell the account's
// sockets, with no poll (an hour between rounds). The dispatcher finds the event as it finds
// another process's, by its probe. Five marks in turn, each waited for: the router rests between
// them, so a lost wake leaves the test waiting.
TEST_P(NotifyDbTest, ReadsMarkedOnANodeWithoutARouterReachTheRoutersThroughTheBus) {
  RouterSettings settings;
  settings.poll_interval = std::chrono::hours(1);
  settings.idle_poll = std::chrono::hours(1);
  IoRuntime io(2);
  // The worker node's service runs the router; m_service, which wakes nothing, takes the marks.
  NotifyService worker(*m_db, m_pool, m_clock);
  Router router(io.executor(), worker, m_pool, m_clock, m_registry, settings);
  router.set_directory(&m_directory);
  router.set_online(&m_online);
  router.add_provider(m_fcm);
  bus::DispatcherSettings probing{100, std::chrono::milliseconds(20)};
  probing.consumer_poll = std::chrono::hours(1);
  bus::Dispatcher dispatcher(io.executor(), *m_db, m_pool, m_registry, probing);
  dispatcher.add(router.consumer());
  constexpr int n = 5;
  for (int i = 0; i < n; ++i) m_service->create_batch({alice_hex}, draft(Kind::mention, "k" + std::to_string(i)));
  const auto page = run(m_service->list(alice, std::nullopt, 10, false));
  ASSERT_EQ(page->items.size(), static_cast<std::size_t>(n));
  io.start();
  dispatcher.start();
  router.start();
  const auto untold = [](Tx& tx) { return tx.query_one("SELECT count(*) FROM notify_reads")->get_int(0); };
  for (int i = 0; i < n; ++i) {
    auto unread = run(m_service->mark_read(alice, {page->items[static_cast<std::size_t>(i)].id}, false));
    ASSERT_TRUE(unread);
    EXPECT_EQ(*unread, n - i - 1);
    EXPECT_TRUE(eventually([&](Tx& tx) { return untold(tx) == 0; })) << "mark " << i;
  }
  router.stop();
  dispatcher.stop(std::chrono::seconds(5));
  std::size_t told = 0;
  for (const auto& [account, frame] : m_online.account_frames) {
    if (account == alice_hex && frame.find("\"notifications_read\"") != std::string::npos) ++told;
  }
  EXPECT_EQ(told, static_cast<std::size_t>(n));
}

TEST_P(NotifyDbTest, CenterPagesNewestFirstWithACursorAndAnExactUnreadCount) {
  for (int i = 0; i < 130; ++i) {
    m_service->create_batch({alice_hex}, draft(i % 2 == 0 ? Kind::mention : Kind::reward, "k" + std::to_string(i)));
    m_clock.advance(std::chrono::milliseconds(i % 3 == 0 ? 0 : 5));  // some share a timestamp
  }
  m_service->create_batch({bob_hex}, draft(Kind::system, "for-bob"));
  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  std::int64_t last_ms = std::numeric_limits<std::int64_t>::max();
  for (int page = 0; page < 10; ++page) {
    auto p = run(m_service->list(alice, cursor, 50, false));
    ASSERT_TRUE(p);
    EXPECT_EQ(p->unread, 130);  // exact, never capped at 99
    for (const auto& n : p->items) {
      EXPECT_EQ(n.account, alice_hex);
      EXPECT_LE(unix_millis(n.created_at), last_ms);
      last_ms = unix_millis(n.created_at);
      seen.push_back(n.id);
    }
    if (!p->next_cursor) break;
    cursor = p->next_cursor;
  }
  EXPECT_EQ(seen.size(), 130u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 130u);
  EXPECT_EQ(run(m_service->list(alice, std::string("junk"), 10, false)).error().code, "invalid_cursor");
  EXPECT_EQ(run(m_service->list(alice, std::nullopt, 101, false)).error().code, "invalid_limit");

  // The same draft for the same account is created once (redelivered events).
  EXPECT_TRUE(m_service->create_batch({alice_hex}, draft(Kind::mention, "k0")).ids.empty());
  EXPECT_EQ(*run(m_service->unread_count(alice)), 130);
}

TEST_P(NotifyDbTest, TheCenterListsByKindAndCommunityPageByPage) {
  const std::array<Kind, 4> kinds{Kind::mention, Kind::reply, Kind::thread, Kind::reward};
  for (int i = 0; i < 120; ++i) {
    m_service->create_batch({alice_hex}, draft(kinds[static_cast<std::size_t>(i % 4)], "k" + std::to_string(i),
                                               i % 3 == 0 ? "c-1" : "c-2"));
    m_clock.advance(std::chrono::milliseconds(i % 2 == 0 ? 0 : 3));  // some share a timestamp
  }
  m_service->create_batch({bob_hex}, draft(Kind::mention, "for-bob", "c-1"));
  const auto read_some = run(m_service->list(alice, std::nullopt, 7, false));
  std::vector<std::string> read_ids;
  for (const auto& n : read_some->items) read_ids.push_back(n.id);
  ASSERT_TRUE(run(m_service->mark_read(alice, read_ids, false)));
  // The reference: every notification of hers, filtered here.
  std::vector<Notification> all;
  std::optional<std::string> cursor;
  for (;;) {
    auto p = run(m_service->list(alice, cursor, 100, false));
    all.insert(all.end(), p->items.begin(), p->items.end());
    if (!p->next_cursor) break;
    cursor = p->next_cursor;
  }
  ASSERT_EQ(all.size(), 120u);
  const auto check = [&](ListFilter filter, std::size_t page_size) {
    std::vector<std::string> want;
    for (const auto& n : all) {
      const bool kind_ok =
          filter.kinds.empty() || std::find(filter.kinds.begin(), filter.kinds.end(), n.kind) != filter.kinds.end();
      const bool community_ok = filter.community_id.empty() || n.community_id == filter.community_id;
      if (kind_ok && community_ok && (!filter.unread_only || !n.read_at)) want.push_back(n.id);
    }
    std::vector<std::string> got;
    std::optional<std::string> at;
    for (int pages = 0; pages < 200; ++pages) {
      auto p = run(m_service->list(alice, at, page_size, filter));
      EXPECT_TRUE(p);
      if (!p) return;
      EXPECT_EQ(p->unread, 113);  // the account's, whatever the filter
      for (const auto& n : p->items) got.push_back(n.id);
      if (!p->next_cursor) break;
      at = p->next_cursor;
    }
    EXPECT_EQ(got, want);
    EXPECT_FALSE(want.empty());
  };
  check(ListFilter{{Kind::mention}, "", false}, 7);
  check(ListFilter{{Kind::mention, Kind::reply}, "", false}, 10);
  check(ListFilter{{Kind::thread}, "c-1", false}, 3);
  check(ListFilter{{}, "c-2", false}, 25);
  check(ListFilter{{Kind::mention, Kind::reply, Kind::thread}, "c-2", true}, 4);
  // Nothing of that kind, or of an unknown community: an empty page.
  auto none = run(m_service->list(alice, std::nullopt, 10, ListFilter{{Kind::dm}, "", false}));
  EXPECT_TRUE(none->items.empty());
  EXPECT_FALSE(none->next_cursor);
  none = run(m_service->list(alice, std::nullopt, 10, ListFilter{{}, "c-9", false}));
  EXPECT_TRUE(none->items.empty());
}

TEST_P(NotifyDbTest, MarkingReadTouchesOnlyTheCallersNotifications) {
  auto mine = m_service->create_batch({alice_hex}, draft(Kind::dm, "a"));
  m_service->create_batch({alice_hex}, draft(Kind::dm, "b"));
  m_service->create_batch({alice_hex}, draft(Kind::dm, "c"));
  auto theirs = m_service->create_batch({bob_hex}, draft(Kind::dm, "a"));
  ASSERT_EQ(mine.ids.size(), 1u);
  ASSERT_EQ(theirs.ids.size(), 1u);
  EXPECT_EQ(*run(m_service->mark_read(alice, {mine.ids[0], theirs.ids[0]}, false)), 2);
  EXPECT_EQ(*run(m_service->unread_count(bob)), 1);                       // bob's was not alice's to mark
  EXPECT_EQ(*run(m_service->mark_read(alice, {mine.ids[0]}, false)), 2);  // idempotent
  auto unread = run(m_service->list(alice, std::nullopt, 10, true));
  ASSERT_TRUE(unread);
  EXPECT_EQ(unread->items.size(), 2u);
  auto all = run(m_service->list(alice, std::nullopt, 10, false));
  for (const auto& n : all->items) EXPECT_EQ(n.read_at.has_value(), n.id == mine.ids[0]);
  EXPECT_EQ(*run(m_service->mark_read(alice, {}, true)), 0);
  EXPECT_EQ(run(m_service->mark_read(alice, {}, false)).error().code, "invalid_field");
}

TEST_P(NotifyDbTest, SettingsRoundTripAndRefuseJunk) {
  auto defaults = run(m_service->settings(alice));
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->dm_previews);
  EXPECT_FALSE(defaults->quiet_hours);
  put(alice, R"({"muted_channels":["ch-1","ch-1","ch-2"],"addm_opt_out":true,
                 "quiet_hours":{"start":"22:00","end":"07:30","time_zone":"Europe/Paris"}})");
  put(alice, R"({"dm_previews":false,"muted_kinds":["reward"]})");  // the others stay
  auto s = run(m_service->settings(alice));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->muted_channels, (std::vector<std::string>{"ch-1", "ch-2"}));
  EXPECT_TRUE(s->addm_opt_out);
  EXPECT_FALSE(s->dm_previews);
  ASSERT_TRUE(s->quiet_hours);
  EXPECT_EQ(s->quiet_hours->start_min, 22 * 60);
  EXPECT_EQ(s->quiet_hours->end_min, 7 * 60 + 30);
  EXPECT_EQ(s->quiet_hours->time_zone, "Europe/Paris");
  const auto rendered = render_settings(*s);
  EXPECT_EQ(rendered.at("quiet_hours").at("end").as_string(), "07:30");
  EXPECT_EQ(rendered.at("muted_kinds").as_array().size(), 1u);
  for (const char* bad : {R"({"quiet_hours":{"start":"22:00","end":"07:00","time_zone":"Mars/Olympus"}})",
                          R"({"quiet_hours":{"start":"25:00","end":"07:00"}})",
                          R"({"quiet_hours":{"start":"22:00","end":"07:00","time_zone":"../../etc/passwd"}})",
                          R"({"muted_kinds":["spam"]})", R"({"dm_previews":"no"})", R"({"volume":11})"}) {
    auto r = run(m_service->update_settings(alice, json::parse(bad).as_object()));
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_field") << bad;
  }
  // A refused update changed nothing.
  EXPECT_EQ(run(m_service->settings(alice))->quiet_hours->time_zone, "Europe/Paris");
  put(alice, R"({"quiet_hours":null})");
  EXPECT_FALSE(run(m_service->settings(alice))->quiet_hours);
  EXPECT_FALSE(run(m_service->settings(bob))->addm_opt_out);
}

TEST_P(NotifyDbTest, AChannelsFollowersAreThoseWhoseSettingsHoldItInTheOrderTheyChoseIt) {
  const auto hex = [](const eth::Address& a) { return eth::to_lower_hex(a); };
  put(bob, R"({"all_messages":["ch-1","ch-2"]})");
  m_clock.advance(std::chrono::seconds(1));
  put(alice, R"({"all_messages":["ch-2","ch-1"]})");
  m_clock.advance(std::chrono::seconds(1));
  put(m_carol, R"({"all_messages":["ch-1"]})");
  EXPECT_EQ(run(m_service->channel_followers("ch-1", "", 10)),
            (std::vector<std::string>{hex(bob), hex(alice), hex(m_carol)}));
  EXPECT_EQ(run(m_service->channel_followers("ch-1", "", 2)), (std::vector<std::string>{hex(bob), hex(alice)}));
  EXPECT_EQ(run(m_service->channel_followers("ch-2", "", 10)), (std::vector<std::string>{hex(bob), hex(alice)}));
  EXPECT_TRUE(run(m_service->channel_followers("ch-3", "", 10)).empty());
  // Another setting leaves them; a new list keeps the place of the channels it keeps.
  m_clock.advance(std::chrono::seconds(1));
  put(bob, R"({"muted_kinds":["reward"]})");
  put(bob, R"({"all_messages":["ch-3","ch-1"]})");
  EXPECT_EQ(run(m_service->channel_followers("ch-1", "", 10)),
            (std::vector<std::string>{hex(bob), hex(alice), hex(m_carol)}));
  EXPECT_EQ(run(m_service->channel_followers("ch-2", "", 10)), std::vector<std::string>{hex(alice)});
  EXPECT_EQ(run(m_service->channel_followers("ch-3", "", 10)), std::vector<std::string>{hex(bob)});
  EXPECT_EQ(run(m_service->settings(bob))->all_messages, (std::vector<std::string>{"ch-3", "ch-1"}));
  // A refused update changes no follower; an empty list follows nothing.
  EXPECT_FALSE(
      run(m_service->update_settings(alice, json::parse(R"({"all_messages":["ch-9"],"volume":1})").as_object())));
  EXPECT_TRUE(run(m_service->channel_followers("ch-9", "", 10)).empty());
  put(alice, R"({"all_messages":[]})");
  EXPECT_EQ(run(m_service->channel_followers("ch-1", "", 10)), (std::vector<std::string>{hex(bob), hex(m_carol)}));
  EXPECT_TRUE(run(m_service->channel_followers("ch-2", "", 10)).empty());
  // Following a community follows its channels: after the channel's own followers, each once.
  m_clock.advance(std::chrono::seconds(1));
  put(alice, R"({"all_messages":["c-1"]})");
  put(m_carol, R"({"all_messages":["ch-1","c-1"]})");
  EXPECT_EQ(run(m_service->channel_followers("ch-1", "c-1", 10)),
            (std::vector<std::string>{hex(bob), hex(m_carol), hex(alice)}));
  EXPECT_EQ(run(m_service->channel_followers("ch-1", "c-1", 2)), (std::vector<std::string>{hex(bob), hex(m_carol)}));
  EXPECT_EQ(run(m_service->channel_followers("ch-2", "c-1", 10)), (std::vector<std::string>{hex(m_carol), hex(alice)}));
  EXPECT_EQ(run(m_service->channel_followers("ch-2", "c-2", 10)), std::vector<std::string>{});
}

TEST_P(NotifyDbTest, SettingsDecideWhatIsCreatedAndWhatIsPushed) {
  put(alice, R"({"muted_channels":["ch-muted"],"muted_communities":["c-muted"],"addm_opt_out":true,
                 "dm_previews":false})");
  EXPECT_EQ(m_service->create_batch({alice_hex}, draft(Kind::mention, "1", "c-1", "ch-muted")).muted, 1u);
  EXPECT_EQ(m_service->create_batch({alice_hex}, draft(Kind::reply, "2", "c-muted", "ch-9")).muted, 1u);
  EXPECT_EQ(m_service->create_batch({alice_hex, bob_hex}, draft(Kind::addm, "3")).muted, 1u);  // bob gets it
  // Membership changes are about the account itself: a muted community does not hide them.
  EXPECT_EQ(m_service->create_batch({alice_hex}, draft(Kind::membership, "4", "c-muted", "")).ids.size(), 1u);
  auto dm = m_service->create_batch({alice_hex}, draft(Kind::dm, "5", "", "group-1"));
  ASSERT_EQ(dm.ids.size(), 1u);
  auto stored = m_db->read([&](Tx& tx) { return sql::find_notification(tx, dm.ids[0]); });
  EXPECT_EQ(stored->body, "New message");
  EXPECT_EQ(*run(m_service->unread_count(alice)), 2);
  EXPECT_EQ(*run(m_service->unread_count(bob)), 1);

  // Quiet hours 12:00-14:00 in Tokyo (UTC+9): 12:00Z is 21:00 there, outside; 04:00Z is 13:00, inside.
  put(bob, R"({"quiet_hours":{"start":"12:00","end":"14:00","time_zone":"Asia/Tokyo"}})");
  m_service->create_batch({bob_hex}, draft(Kind::mention, "loud"));
  m_clock.advance(std::chrono::hours(16));  // 2026-01-16T04:00Z
  m_service->create_batch({bob_hex}, draft(Kind::mention, "quiet"));
  auto rows = m_db->transact([&](Tx& tx) { return sql::claim_deliveries(tx, m_clock.now(), m_clock.now(), 100); });
  std::map<std::string, bool> push_by_body;
  for (const auto& r : rows) {
    auto n = m_db->read([&](Tx& tx) { return sql::find_notification(tx, r.notification_id); });
    push_by_body[n->body] = r.push;
  }
  EXPECT_TRUE(push_by_body.at("body loud"));
  EXPECT_FALSE(push_by_body.at("body quiet"));
}

TEST_P(NotifyDbTest, DeliveriesAreClaimedInTheOrderTheyFellDue) {
  using std::chrono::milliseconds;
  const auto t0 = m_clock.now();
  auto insert = [&](const std::string& id, SystemTime at) {
    m_db->transact([&](Tx& tx) { sql::insert_delivery(tx, sql::DeliveryRow{id, alice_hex, true}, at); });
  };
  auto claim = [&](SystemTime now, SystemTime until, std::size_t limit) {
    std::vector<std::string> ids;
    for (const auto& r : m_db->transact([&](Tx& tx) { return sql::claim_deliveries(tx, now, until, limit); }))
      ids.push_back(r.notification_id);
    return ids;
  };
  insert("a", t0);
  insert("b", t0 + milliseconds(1000));
  insert("c", t0 + milliseconds(2000));
  insert("later", t0 + milliseconds(9000));  // not due yet
  // The oldest goes first; its lease runs out at 2.5 s, after b and c fell due and before d does.
  EXPECT_EQ(claim(t0 + milliseconds(2000), t0 + milliseconds(2500), 1), std::vector<std::string>{"a"});
  insert("d", t0 + milliseconds(3000));
  EXPECT_EQ(claim(t0 + milliseconds(3000), t0 + milliseconds(60000), 10),
            (std::vector<std::string>{"b", "c", "a", "d"}));
  EXPECT_TRUE(claim(t0 + milliseconds(3000), t0 + milliseconds(60000), 10).empty());  // leased, or not due
  // A backlog is claimed a batch at a time, oldest first.
  std::vector<sql::DeliveryRow> many;
  for (int i = 0; i < 450; ++i) many.push_back({"n-" + std::to_string(1000 + i), alice_hex, true});
  m_db->transact([&](Tx& tx) { sql::insert_deliveries(tx, many, t0 + milliseconds(4000)); });
  insert("e", t0 + milliseconds(5000));
  auto first = claim(t0 + milliseconds(5000), t0 + milliseconds(60000), 200);
  ASSERT_EQ(first.size(), 200u);
  EXPECT_EQ(first.front(), "n-1000");
  EXPECT_EQ(first.back(), "n-1199");
  EXPECT_EQ(claim(t0 + milliseconds(5000), t0 + milliseconds(60000), 200).back(), "n-1399");
  std::vector<std::string> rest;
  for (int i = 1400; i < 1450; ++i) rest.push_back("n-" + std::to_string(i));
  rest.push_back("e");  // due after the backlog
  EXPECT_EQ(claim(t0 + milliseconds(5000), t0 + milliseconds(60000), 200), rest);
}

TEST_P(NotifyDbTest, RouterSendsFramesToOnlineDevicesPushesTheOthersAndFallsBackWhenASocketIsGone) {
  m_directory.devices_of[alice_hex] = {
      PushTarget{"a-phone", "fcm", "fcm-token-1"}, PushTarget{"a-laptop", "webpush", R"({"endpoint":"x"})"},
      PushTarget{"a-tablet", "fcm", "fcm-token-2"}, PushTarget{"a-old", "fcm", "fcm-token-dead"},
      PushTarget{"a-bot", "webhook", "https://bot.example/hook"}};
  m_online.online = {"a-laptop"};
  m_online.gone = {"a-tablet"};
  PushResult dead;
  dead.outcome = PushOutcome::token_invalid;
  dead.status = 404;
  dead.detail = "UNREGISTERED";
  m_fcm.script["a-old"] = dead;
  auto router = make_router();
  publish_and_consume(*router, "messaging.mention", "ch-7",
                      json::object{{"community_id", "c-1"},
                                   {"channel_id", "ch-7"},
                                   {"message_id", "m-1"},
                                   {"author", eth::to_checksum(bob)},
                                   {"mentioned", json::array{eth::to_checksum(alice), eth::to_checksum(bob)}},
                                   {"preview", "gm @alice"}});
  // The consumer only recorded a job: nothing exists before the router works.
  EXPECT_EQ(*run(m_service->unread_count(alice)), 0);
  settle(*router);
  auto page = run(m_service->list(alice, std::nullopt, 10, false));
  ASSERT_EQ(page->items.size(), 1u);
  const auto& n = page->items[0];
  EXPECT_EQ(n.kind, Kind::mention);
  EXPECT_EQ(n.body, "gm @alice");
  EXPECT_EQ(*run(m_service->unread_count(bob)), 0);  // the author is not notified of their own mention

  ASSERT_EQ(m_online.frames.size(), 1u);
  EXPECT_EQ(m_online.frames[0].first, "a-laptop");
  const auto frame = json::parse(m_online.frames[0].second).as_object();
  EXPECT_EQ(frame.at("type").as_string(), "notification");
  EXPECT_EQ(frame.at("notification").at("id").as_string(), n.id);

  std::map<std::string, std::string> outcome;
  for (const auto& a : attempts(n.id)) outcome[a.device_id + "/" + a.channel] = a.outcome;
  EXPECT_EQ(outcome.at("a-laptop/socket"), "delivered");
  EXPECT_EQ(outcome.count("a-laptop/webpush"), 0u);  // online: no push
  EXPECT_EQ(outcome.at("a-phone/fcm"), "delivered");
  EXPECT_EQ(outcome.at("a-tablet/socket"), "gone");
  EXPECT_EQ(outcome.at("a-tablet/fcm"), "delivered");  // the fallback
  EXPECT_EQ(outcome.at("a-old/fcm"), "token_invalid");
  EXPECT_EQ(outcome.at("a-bot/webhook"), "no_provider");
  EXPECT_EQ(m_directory.forgotten, std::vector<std::string>{"a-old"});
  EXPECT_EQ(m_fcm.sent.size(), 3u);
  EXPECT_EQ(m_fcm.sent[0].second.urgency, "high");
  EXPECT_EQ(m_fcm.sent[0].second.notification_id, n.id);

  const std::string metrics = m_registry.render();
  EXPECT_NE(metrics.find("gatehouse_notify_sent_total{provider=\"socket\"} 1"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("gatehouse_notify_sent_total{provider=\"fcm\"} 2"), std::string::npos);
  EXPECT_NE(metrics.find("gatehouse_notify_fallback_total{provider=\"fcm\"} 1"), std::string::npos);
  EXPECT_NE(metrics.find("gatehouse_notify_failed_total{provider=\"fcm\",outcome=\"token_invalid\"} 1"),
            std::string::npos);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 0);

  // Redelivered events change nothing.
  publish_and_consume(*router, "messaging.mention", "ch-7", json::object{{"x", 1}});
  settle(*router);
  EXPECT_EQ(*run(m_service->unread_count(alice)), 1);
}

TEST_P(NotifyDbTest, ADeletedMessageWithdrawsItsNotificationsAndAnEditRefreshesTheirPreview) {
  const std::string carol_hex = "0x00000000000000000000000000000000000c0a01";
  auto router = make_router();
  const auto mention = [&](const std::string& message_id, std::vector<std::string> accounts, std::string body) {
    json::array mentioned;
    for (const auto& a : accounts) mentioned.emplace_back(a);
    publish_and_consume(*router, "messaging.mention", "ch-7",
                        json::object{{"channel_id", "ch-7"},
                                     {"message_id", message_id},
                                     {"author", eth::to_checksum(bob)},
                                     {"mentioned", std::move(mentioned)},
                                     {"body", std::move(body)}});
  };
  const auto about = [&](const std::string& account, const std::string& message_id) {
    auto page = run(m_service->list(*eth::parse_address(account), std::nullopt, 100, false));
    std::vector<Notification> out;
    for (auto& n : page->items) {
      if (json::parse(n.data_json).as_object().at("message_id").as_string() == message_id) out.push_back(n);
    }
    return out;
  };
  mention("m-9", {alice_hex, carol_hex}, "gm @alice @carol, the key is hunter2");
  mention("m-10", {alice_hex}, "another one");
  settle(*router);
  ASSERT_EQ(about(alice_hex, "m-9").size(), 1u);
  ASSERT_EQ(about(carol_hex, "m-9").size(), 1u);

  // The author edits the secret out: the preview follows, for every account, and only there.
  publish_and_consume(*router, "messaging.message_edited", "ch-7",
                      json::object{{"channel_id", "ch-7"}, {"seq", 1}, {"id", "m-9"}, {"body", "gm @alice @carol"}});
  EXPECT_EQ(about(alice_hex, "m-9")[0].body, "gm @alice @carol");
  EXPECT_EQ(about(carol_hex, "m-9")[0].body, "gm @alice @carol");
  EXPECT_EQ(about(alice_hex, "m-10")[0].body, "another one");

  // Deleted: gone from both centers and counts; each account's sockets hear it once.
  const std::string alice_m9 = about(alice_hex, "m-9")[0].id;
  const std::string carol_m9 = about(carol_hex, "m-9")[0].id;
  m_online.account_frames.clear();
  publish_and_consume(
      *router, "messaging.message_deleted", "ch-7",
      json::object{{"channel_id", "ch-7"}, {"seq", 1}, {"id", "m-9"}, {"author", eth::to_checksum(bob)}});
  EXPECT_TRUE(about(alice_hex, "m-9").empty());
  EXPECT_TRUE(about(carol_hex, "m-9").empty());
  EXPECT_EQ(*run(m_service->unread_count(alice)), 1);
  EXPECT_EQ(about(alice_hex, "m-10").size(), 1u);
  settle(*router);
  std::map<std::string, json::object> told;
  for (const auto& [account, frame] : m_online.account_frames) told[account] = json::parse(frame).as_object();
  ASSERT_EQ(told.size(), 2u);
  EXPECT_EQ(told.at(alice_hex).at("type").as_string(), "notification_removed");
  EXPECT_EQ(told.at(alice_hex).at("ids"), json::array{json::string(alice_m9)});
  EXPECT_EQ(told.at(alice_hex).at("unread_count").as_int64(), 1);
  EXPECT_EQ(told.at(carol_hex).at("ids"), json::array{json::string(carol_m9)});
  EXPECT_EQ(told.at(carol_hex).at("unread_count").as_int64(), 0);
  EXPECT_EQ(m_db->read([&](Tx& tx) { return sql::next_queued(tx, 10, 10, m_clock.now()); }).removals.size(), 0u);

  // A redelivered deletion and a late mention of the deleted message (its job expanded after the
  // withdrawal) notify no one and tell no socket again.
  m_online.account_frames.clear();
  publish_and_consume(*router, "messaging.message_deleted", "ch-7", json::object{{"id", "m-9"}});
  mention("m-9", {alice_hex}, "late");
  settle(*router);
  EXPECT_TRUE(about(alice_hex, "m-9").empty());
  EXPECT_TRUE(m_online.account_frames.empty());

  // An edit that no longer names alice withdraws her mention alone: carol's stays, and so does
  // alice's reply notification about the same message.
  mention("m-20", {alice_hex, carol_hex}, "@alice @carol look");
  publish_and_consume(*router, "messaging.reply", "ch-7",
                      json::object{{"channel_id", "ch-7"},
                                   {"message_id", "m-20"},
                                   {"author", eth::to_checksum(bob)},
                                   {"account", eth::to_checksum(alice)},
                                   {"body", "@alice @carol look"}});
  settle(*router);
  ASSERT_EQ(about(alice_hex, "m-20").size(), 2u);
  m_online.account_frames.clear();
  publish_and_consume(*router, "messaging.mention_removed", "ch-7",
                      json::object{{"message_id", "m-20"}, {"accounts", json::array{eth::to_checksum(alice)}}});
  auto left = about(alice_hex, "m-20");
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].kind, Kind::reply);
  EXPECT_EQ(about(carol_hex, "m-20").size(), 1u);
  settle(*router);
  ASSERT_EQ(m_online.account_frames.size(), 1u);
  EXPECT_EQ(m_online.account_frames[0].first, alice_hex);

  // A notification still waiting for its delivery leaves the queue with it.
  Draft waiting = draft(Kind::mention, "m-11");
  waiting.subject = "message:m-11";
  waiting.data_json = R"({"message_id":"m-11"})";
  ASSERT_EQ(m_service->create_batch({alice_hex}, waiting).ids.size(), 1u);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 1);
  publish_and_consume(*router, "messaging.message_deleted", "ch-7", json::object{{"id", "m-11"}});
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 0);
  EXPECT_TRUE(about(alice_hex, "m-11").empty());
}

TEST_P(NotifyDbTest, ReadingAChannelReadsItsNotificationsUpToTheMarkerAndTellsTheSockets) {
  auto router = make_router();
  const auto mention = [&](const std::string& channel, std::int64_t seq, const std::string& account) {
    publish_and_consume(*router, "messaging.mention", channel,
                        json::object{{"channel_id", channel},
                                     {"seq", seq},
                                     {"message_id", channel + "-m" + std::to_string(seq)},
                                     {"author", eth::to_checksum(bob)},
                                     {"account", account},
                                     {"body", "gm"}});
  };
  // id of the account's notification about a message, and whether it is read.
  const auto state = [&](const eth::Address& who) {
    std::map<std::string, std::pair<std::string, bool>> out;
    const auto page = run(m_service->list(who, std::nullopt, 100, false));
    for (const auto& n : page->items) {
      out[json::parse(n.data_json).as_object().at("message_id").as_string().c_str()] = {n.id, n.read_at.has_value()};
    }
    return out;
  };
  const auto frames_to = [&](const std::string& account) {
    std::vector<json::object> out;
    for (const auto& [to, frame] : m_online.account_frames) {
      if (to == account) out.push_back(json::parse(frame).as_object());
    }
    return out;
  };
  mention("ch-7", 1, alice_hex);
  mention("ch-7", 2, alice_hex);
  mention("ch-7", 3, alice_hex);
  mention("ch-8", 1, alice_hex);
  mention("ch-7", 1, eth::to_checksum(m_carol));
  settle(*router);
  ASSERT_EQ(*run(m_service->unread_count(alice)), 4);

  // Alice's marker in ch-7 reaches seq 2: those two are read, seq 3 and ch-8 are not, nor carol's.
  m_online.account_frames.clear();
  publish_and_consume(*router, "messaging.read", alice_hex,
                      json::object{{"account", alice_hex}, {"channel_id", "ch-7"}, {"seq", 2}});
  auto seen = state(alice);
  EXPECT_TRUE(seen["ch-7-m1"].second);
  EXPECT_TRUE(seen["ch-7-m2"].second);
  EXPECT_FALSE(seen["ch-7-m3"].second);
  EXPECT_FALSE(seen["ch-8-m1"].second);
  EXPECT_EQ(*run(m_service->unread_count(alice)), 2);
  EXPECT_EQ(*run(m_service->unread_count(m_carol)), 1);
  settle(*router);
  auto told = frames_to(alice_hex);
  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].at("type").as_string(), "notifications_read");
  std::set<std::string> ids;
  for (const auto& id : told[0].at("ids").as_array()) ids.insert(id.as_string().c_str());
  EXPECT_EQ(ids, (std::set<std::string>{seen["ch-7-m1"].first, seen["ch-7-m2"].first}));
  EXPECT_EQ(told[0].at("unread_count").as_int64(), 2);
  EXPECT_FALSE(told[0].contains("all"));
  EXPECT_TRUE(frames_to(eth::to_lower_hex(m_carol)).empty());
  EXPECT_TRUE(m_db->read([&](Tx& tx) { return sql::next_queued(tx, 10, 10, m_clock.now()); }).reads.empty());

  // Reading again, or less far, changes nothing and tells no one.
  m_online.account_frames.clear();
  publish_and_consume(*router, "messaging.read", alice_hex,
                      json::object{{"account", alice_hex}, {"channel_id", "ch-7"}, {"seq", 1}});
  settle(*router);
  EXPECT_TRUE(m_online.account_frames.empty());
  EXPECT_EQ(*run(m_service->unread_count(alice)), 2);

  // A read of ch-8, given with a checksummed address.
  publish_and_consume(*router, "messaging.read", alice_hex,
                      json::object{{"account", eth::to_checksum(alice)}, {"channel_id", "ch-8"}, {"seq", 4}});
  EXPECT_TRUE(state(alice)["ch-8-m1"].second);
  EXPECT_EQ(*run(m_service->unread_count(alice)), 1);

  // A mention expanded after alice read past its message (her marker moved first): made read,
  // and neither sent to her sockets nor pushed.
  m_directory.devices_of[alice_hex] = {PushTarget{"a-phone", "fcm", "t"}, PushTarget{"a-laptop", "webpush", "s"}};
  m_online.online = {"a-laptop"};
  m_online.frames.clear();
  m_fcm.sent.clear();
  publish_and_consume(*router, "messaging.read", alice_hex,
                      json::object{{"account", alice_hex}, {"channel_id", "ch-9"}, {"seq", 5}});
  mention("ch-9", 5, alice_hex);
  mention("ch-9", 6, alice_hex);
  settle(*router);
  seen = state(alice);
  EXPECT_TRUE(seen["ch-9-m5"].second);
  EXPECT_FALSE(seen["ch-9-m6"].second);
  EXPECT_TRUE(attempts(seen["ch-9-m5"].first).empty());
  EXPECT_FALSE(attempts(seen["ch-9-m6"].first).empty());
  EXPECT_EQ(m_online.frames.size(), 1u);  // m6's, to the laptop
  EXPECT_EQ(m_fcm.sent.size(), 1u);       // m6's, to the phone
  EXPECT_EQ(*run(m_service->unread_count(alice)), 2);
}

TEST_P(NotifyDbTest, MarkingReadTellsTheOtherSocketsAndDropsDeliveriesNotYetMade) {
  auto router = make_router();
  m_directory.devices_of[alice_hex] = {PushTarget{"a-phone", "fcm", "t"}};
  auto a = m_service->create_batch({alice_hex}, draft(Kind::dm, "a"));
  auto b = m_service->create_batch({alice_hex}, draft(Kind::dm, "b"));
  m_service->create_batch({alice_hex}, draft(Kind::dm, "c"));
  ASSERT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 3);
  // Read on one device before the router came to them: no push for those.
  EXPECT_EQ(*run(m_service->mark_read(alice, {a.ids[0], b.ids[0], "ntf_unknown"}, false)), 1);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 1);
  settle(*router);
  EXPECT_EQ(m_fcm.sent.size(), 1u);
  ASSERT_EQ(m_online.account_frames.size(), 1u);
  auto frame = json::parse(m_online.account_frames[0].second).as_object();
  EXPECT_EQ(frame.at("type").as_string(), "notifications_read");
  std::set<std::string> ids;
  for (const auto& id : frame.at("ids").as_array()) ids.insert(id.as_string().c_str());
  EXPECT_EQ(ids, (std::set<std::string>{a.ids[0], b.ids[0]}));
  EXPECT_EQ(frame.at("unread_count").as_int64(), 1);
  // Marking them again tells no one.
  m_online.account_frames.clear();
  EXPECT_EQ(*run(m_service->mark_read(alice, {a.ids[0]}, false)), 1);
  settle(*router);
  EXPECT_TRUE(m_online.account_frames.empty());
  // All of them: one frame that says so.
  m_service->create_batch({alice_hex}, draft(Kind::dm, "d"));
  EXPECT_EQ(*run(m_service->mark_read(alice, {}, true)), 0);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 0);
  settle(*router);
  ASSERT_EQ(m_online.account_frames.size(), 1u);
  frame = json::parse(m_online.account_frames[0].second).as_object();
  EXPECT_TRUE(frame.at("all").as_bool());
  EXPECT_TRUE(frame.at("ids").as_array().empty());
  EXPECT_EQ(frame.at("unread_count").as_int64(), 0);
  // A push under way checks that its notification is still unread before it goes.
  auto e = m_service->create_batch({alice_hex}, draft(Kind::dm, "e"));
  ASSERT_EQ(e.ids.size(), 1u);
  EXPECT_EQ(*run(m_service->mark_read(alice, e.ids, false)), 0);
  m_db->transact([&](Tx& tx) { sql::insert_delivery(tx, sql::DeliveryRow{e.ids[0], alice_hex, true}, start_time); });
  m_fcm.sent.clear();
  settle(*router);
  EXPECT_TRUE(m_fcm.sent.empty());
  const auto tried = attempts(e.ids[0]);
  ASSERT_EQ(tried.size(), 1u);
  EXPECT_EQ(tried[0].outcome, "withdrawn");
}

TEST_P(NotifyDbTest, QuietHoursHoldPushesBackButNotFramesOrTheCenter) {
  put(alice, R"({"quiet_hours":{"start":"00:00","end":"23:59","time_zone":"UTC"}})");
  auto router = make_router();
  const auto outcome = deliver_to_phone_and_laptop(*router, "Maintenance");
  EXPECT_TRUE(m_fcm.sent.empty());
  EXPECT_EQ(m_online.frames.size(), 1u);
  ASSERT_EQ(outcome.size(), 2u);
  EXPECT_EQ(outcome.at("a-phone"), "quiet");
  EXPECT_EQ(outcome.at("a-laptop"), "delivered");
}

TEST_P(NotifyDbTest, DoNotDisturbHoldsPushesBackButNotFramesOrTheCenter) {
  m_online.dnd = {alice_hex};
  auto router = make_router();
  const auto outcome = deliver_to_phone_and_laptop(*router, "Quiet please");
  EXPECT_TRUE(m_fcm.sent.empty());
  EXPECT_EQ(m_online.frames.size(), 1u);
  ASSERT_EQ(outcome.size(), 2u);
  EXPECT_EQ(outcome.at("a-phone"), "dnd");
  EXPECT_EQ(outcome.at("a-laptop"), "delivered");

  // Back online: the next one is pushed.
  m_online.dnd.clear();
  publish_and_consume(*router, "notify.requested", alice_hex,
                      json::object{{"kind", "system"}, {"title", "Hello again"}, {"accounts", json::array{alice_hex}}});
  settle(*router);
  EXPECT_EQ(m_fcm.sent.size(), 1u);
}

TEST_P(NotifyDbTest, ACommunityOf100000IsExpandedInBatchesOutsideTheBusTransaction) {
  auto& members = m_audience.members_of["c-big"];
  members.reserve(100'000);
  for (int i = 0; i < 100'000; ++i) {
    char hex[41];
    std::snprintf(hex, sizeof hex, "%040x", i + 1);
    members.push_back(std::string("0x") + hex);
  }
  std::sort(members.begin(), members.end());
  RouterSettings settings;
  settings.expand_batch = 2'000;
  settings.delivery_batch = 2'000;
  auto router = make_router(settings);
  publish_and_consume(*router, "notify.requested", "c-big",
                      json::object{{"kind", "addm"},
                                   {"title", "Airdrop tomorrow"},
                                   {"community_id", "c-big"},
                                   {"audience", "community"},
                                   {"exclude", json::array{members[0]}}});
  // The consumer did not expand: one job, no notification, no page asked.
  EXPECT_EQ(m_audience.pages, 0);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_jobs(tx); }), 1);
  int rounds = 0;
  for (;; ++rounds) {
    auto report = run(router->run_once());
    if (report.expanded == 0 && report.delivered == 0) break;
    ASSERT_LT(rounds, 1000);
  }
  EXPECT_GE(m_audience.pages, 50);  // batches of 2,000
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_jobs(tx); }), 0);
  auto count =
      m_db->read([](Tx& tx) { return tx.query_one("SELECT count(*) AS n FROM notify_notifications")->get_int("n"); });
  EXPECT_EQ(count, 99'999);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 0);
}

TEST_P(NotifyDbTest, WaitingJobsAreExpandedTogetherAndEachBatchLooksItsDevicesUpOnce) {
  const std::string carol_hex = eth::to_lower_hex(m_carol);
  m_directory.devices_of[alice_hex] = {PushTarget{"a-phone", "fcm", "t-a"}};
  m_directory.devices_of[bob_hex] = {PushTarget{"b-phone", "fcm", "t-b"}, PushTarget{"b-laptop", "webpush", "s-b"}};
  m_audience.members_of["c-small"] = {alice_hex, carol_hex};
  RouterSettings settings;
  settings.expand_batch = 5;
  auto router = make_router(settings);
  const auto request = [&](const std::string& title, json::array accounts) {
    publish_and_consume(*router, "notify.requested", title,
                        json::object{{"kind", "system"}, {"title", title}, {"accounts", std::move(accounts)}});
  };
  // Waiting, oldest first: two lists (2 and 3 accounts), a job nobody can read, a community,
  // and a list of one. The events come in one at a time, so each is one job.
  request("first", json::array{alice_hex, bob_hex});
  request("second", json::array{alice_hex, bob_hex, carol_hex});
  m_clock.advance(std::chrono::milliseconds(1));
  m_db->transact([&](Tx& tx) { sql::insert_job(tx, "junk", "not a request", m_clock.now()); });
  m_clock.advance(std::chrono::milliseconds(1));
  publish_and_consume(
      *router, "notify.requested", "c-small",
      json::object{{"kind", "addm"}, {"title", "community"}, {"community_id", "c-small"}, {"audience", "community"}});
  m_clock.advance(std::chrono::milliseconds(1));
  request("last", json::array{bob_hex});
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_jobs(tx); }), 5);

  // One round: both lists, five recipients in one commit; the batch of their deliveries asks for
  // devices once, and each account's devices get its notifications.
  auto first = run(router->run_once());
  EXPECT_EQ(first.expanded, 5u);
  EXPECT_EQ(first.delivered, 5u);
  EXPECT_EQ(m_directory.lookups, 1);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_jobs(tx); }), 3);
  EXPECT_EQ(*run(m_service->unread_count(alice)), 2);
  EXPECT_EQ(*run(m_service->unread_count(bob)), 2);
  EXPECT_EQ(*run(m_service->unread_count(m_carol)), 1);
  std::multiset<std::string> pushed;
  for (const auto& [device, message] : m_fcm.sent) pushed.insert(device);
  for (const auto& [device, message] : m_webpush.sent) pushed.insert(device);
  EXPECT_EQ(pushed, (std::multiset<std::string>{"a-phone", "a-phone", "b-phone", "b-phone", "b-laptop", "b-laptop"}));

  // The next round drops the unreadable job and expands the community alone: the list after it
  // waits for a round of its own.
  auto second = run(router->run_once());
  EXPECT_EQ(second.expanded, 2u);
  EXPECT_EQ(m_audience.pages, 1);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_jobs(tx); }), 1);
  EXPECT_EQ(*run(m_service->unread_count(bob)), 2);
  settle(*router);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_jobs(tx); }), 0);
  EXPECT_EQ(*run(m_service->unread_count(alice)), 3);
  EXPECT_EQ(*run(m_service->unread_count(bob)), 3);
  EXPECT_EQ(*run(m_service->unread_count(m_carol)), 2);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 0);
}

TEST_P(NotifyDbTest, NotificationIdsBeginWithTheirCreationTime) {
  const auto millis = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const auto before = millis();
  const std::string id = new_notification_id();
  const auto after = millis();
  ASSERT_EQ(id.size(), 32u);
  EXPECT_EQ(id.substr(0, 4), "ntf_");
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  const auto stamp = static_cast<std::int64_t>(std::stoull(id.substr(4, 12), nullptr, 16));
  EXPECT_GE(stamp, before);
  EXPECT_LE(stamp, after);
  EXPECT_NE(new_notification_id(), id);
}

TEST_P(NotifyDbTest, RetentionDropsOldReadNotificationsAndAttemptsButKeepsUnreadOnes) {
  auto read_one = m_service->create_batch({alice_hex}, draft(Kind::mention, "old-read"));
  m_service->create_batch({alice_hex}, draft(Kind::mention, "old-unread"));
  ASSERT_EQ(*run(m_service->mark_read(alice, read_one.ids, false)), 1);
  m_db->transact([&](Tx& tx) {
    sql::insert_attempts(tx, {sql::AttemptRow{read_one.ids[0], "d", "fcm", "delivered", 0, 200, "", m_clock.now()}});
  });
  m_clock.advance(std::chrono::hours(24 * 31));
  auto fresh = m_service->create_batch({alice_hex}, draft(Kind::mention, "new"));
  // The old read notification, the attempt, and the read no router told (none ran).
  EXPECT_EQ(run(m_service->purge()), 3);
  EXPECT_FALSE(m_db->read([&](Tx& tx) { return sql::find_notification(tx, read_one.ids[0]); }));
  EXPECT_EQ(*run(m_service->unread_count(alice)), 2);
  m_clock.advance(std::chrono::hours(24 * 150));
  EXPECT_EQ(run(m_service->purge()), 1);  // the unread one, 181 days old
  EXPECT_EQ(*run(m_service->unread_count(alice)), 1);
  EXPECT_TRUE(m_db->read([&](Tx& tx) { return sql::find_notification(tx, fresh.ids[0]); }));
}

// A draft's notifications read the withdrawal of their subject, the accounts' settings and how far
// they read the channel together, 200 accounts a statement: each holds for accounts past the first
// chunks as for the first.
TEST_P(NotifyDbTest, ABatchReadsSettingsAndReadThroughOfEveryChunk) {
  std::vector<std::string> accounts;
  for (int i = 0; i < 450; ++i) {
    char hex[41];
    std::snprintf(hex, sizeof hex, "%040x", i + 1);
    accounts.push_back(std::string("0x") + hex);
  }
  Settings muted;
  muted.muted_channels = {"ch-1"};
  m_db->transact([&](Tx& tx) {
    for (const int i : {0, 250, 449})
      sql::upsert_settings(tx, accounts[static_cast<std::size_t>(i)], muted, m_clock.now());
    for (const int i : {201, 420})
      m_service->read_through(tx, ReadThrough{accounts[static_cast<std::size_t>(i)], "ch-1", 10});
  });
  auto d = draft(Kind::mention, "chunks");
  d.subject = "message:m-7";
  d.seq = 7;
  const auto made = m_service->create_batch(accounts, d);
  EXPECT_EQ(made.muted, 3u);
  ASSERT_EQ(made.ids.size(), 447u);
  std::set<std::string> read;
  m_db->read([&](Tx& tx) {
    for (const auto& n : sql::find_notifications(tx, made.ids)) {
      if (n.read_at) read.insert(n.account);
    }
    return 0;
  });
  EXPECT_EQ(read, (std::set<std::string>{accounts[201], accounts[420]}));
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 445);
  // A subject taken back: no one is told, whatever the settings.
  m_db->transact([&](Tx& tx) { sql::insert_withdrawn(tx, "message:m-8", m_clock.now()); });
  d.subject = "message:m-8";
  d.dedup_key = "withdrawn";
  const auto none = m_service->create_batch(accounts, d);
  EXPECT_TRUE(none.ids.empty());
  EXPECT_EQ(none.muted, 0u);
}

// A backlog larger than a batch goes in several short transactions, all of it, and nothing newer.
TEST_P(NotifyDbTest, RetentionDeletesABacklogInBatches) {
  const auto made = m_service->create_batch({alice_hex}, draft(Kind::mention, "backlog"));
  std::vector<sql::AttemptRow> old_rows;
  for (int i = 0; i < 2500; ++i) {
    old_rows.push_back(
        sql::AttemptRow{made.ids[0], "d" + std::to_string(i % 7), "fcm", "delivered", 0, 200, "", m_clock.now()});
  }
  m_db->transact([&](Tx& tx) { sql::insert_attempts(tx, old_rows); });
  m_clock.advance(std::chrono::hours(24 * 31));
  m_db->transact([&](Tx& tx) {
    sql::insert_attempts(tx, {sql::AttemptRow{made.ids[0], "d", "fcm", "delivered", 0, 200, "", m_clock.now()}});
  });
  const auto attempts = [&] {
    return m_db->read([](Tx& tx) { return tx.query_one("SELECT count(*) AS n FROM notify_attempts")->get_int("n"); });
  };
  EXPECT_EQ(run(m_service->purge()), 2500);  // the unread notification stays
  EXPECT_EQ(attempts(), 1);
  EXPECT_EQ(run(m_service->purge()), 0);
  EXPECT_EQ(attempts(), 1);
}

INSTANTIATE_TEST_SUITE_P(Backends, NotifyDbTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

// Reading a channel reads its notifications: those made before the migration that brought it find
// their message's seq in their data, if they are unread notifications about a message.
class ReadThroughMigrationTest : public ::testing::TestWithParam<Dialect> {
 protected:
  store::testing::FreshDatabase m_fresh{GetParam(), "notify"};
};

TEST_P(ReadThroughMigrationTest, UnreadMessageNotificationsFindTheirSeq) {
  GH_REQUIRE_DATABASE(m_fresh);
  auto db = m_fresh.open();
  auto before = notify::migrations();
  const auto from = std::find_if(before.migrations.begin(), before.migrations.end(),
                                 [](const store::Migration& m) { return m.name == "read_through"; });
  ASSERT_NE(from, before.migrations.end());
  before.migrations.erase(from, before.migrations.end());
  db->migrate(std::vector<store::MigrationSet>{bus::migrations(), before});
  db->transact([](Tx& tx) {
    const auto add = [&](const char* id, const char* kind, const char* data, const char* subject, bool read) {
      tx.exec(
          "INSERT INTO notify_notifications (id, account, kind, title, body, data, community_id, channel_id, "
          "dedup_key, subject, created_ms, read_ms) VALUES ($1, $2, $3, 't', 'b', $4, 'c1', 'ch1', $1, $5, 1000, $6)",
          {std::string(id), alice_hex, std::string(kind), std::string(data), std::string(subject),
           read ? store::Value(std::int64_t{2000}) : store::Value(nullptr)});
    };
    add("n1", "mention", R"({"channel_id":"ch1","message_id":"m1","seq":"7"})", "message:m1", false);
    add("n2", "thread", R"({"channel_id":"ch1","message_id":"m2","seq":"12"})", "message:m2", false);
    add("n3", "reply", R"({"channel_id":"ch1","message_id":"m3","seq":"3"})", "message:m3", true);      // read
    add("n4", "system", R"({"channel_id":"ch1","seq":"4"})", "", false);                                // no message
    add("n5", "mention", R"({"channel_id":"ch1","message_id":"m5","seq":"x1"})", "message:m5", false);  // junk
    add("n6", "mention", R"({"channel_id":"ch1","message_id":"m6"})", "message:m6", false);             // none
    return 0;
  });
  db->migrate(std::vector<store::MigrationSet>{bus::migrations(), notify::migrations()});
  const auto seq_of = [&](const std::string& id) {
    return db->read([&](Tx& tx) { return sql::find_notification(tx, id); })->seq;
  };
  EXPECT_EQ(seq_of("n1"), std::optional<std::int64_t>(7));
  EXPECT_EQ(seq_of("n2"), std::optional<std::int64_t>(12));
  EXPECT_FALSE(seq_of("n3"));
  EXPECT_FALSE(seq_of("n4"));
  EXPECT_FALSE(seq_of("n5"));
  EXPECT_FALSE(seq_of("n6"));
  // And a read through seq 10 then reads n1 alone.
  ManualClock clock{start_time};
  BlockingPool pool{1, 100};
  NotifyService service(*db, pool, clock);
  const auto changed = db->transact([&](Tx& tx) {
    return service.read_through(tx, ReadThrough{alice_hex, "ch1", 10});
  });
  EXPECT_EQ(changed, 1u);
  EXPECT_TRUE(db->read([](Tx& tx) { return sql::find_notification(tx, "n1"); })->read_at);
  EXPECT_FALSE(db->read([](Tx& tx) { return sql::find_notification(tx, "n2"); })->read_at);
}

INSTANTIATE_TEST_SUITE_P(Backends, ReadThroughMigrationTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::notify
