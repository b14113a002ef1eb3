// Issue 16, point 7: 10,000 notifications routed through the real FCM and Web Push providers to
// loopback fakes that speak each protocol, with transient faults injected into 10% of them (503,
// 429 with Retry-After, a request that never gets an answer, a dropped connection; some twice in a
// row). Nothing transient may end as a failure (the failure rate stays below 0.01%, that is zero
// of 10,000), and the only failures are the non-retryable ones planted on purpose, each recorded
// per device with its outcome. Backoffs are short settings; nothing asserts wall-clock time.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "core/testing/run_task.hpp"
#include "net/testing/loopback_server.hpp"
#include "notify/fcm.hpp"
#include "notify/migrations.hpp"
#include "notify/router.hpp"
#include "notify/store.hpp"
#include "notify/testing/fakes.hpp"
#include "notify/testing/oracle.hpp"
#include "notify/webpush.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;
using net::testing::http_response;
using net::testing::LoopbackServer;
using net::testing::Reply;
using store::Dialect;
using store::Tx;

constexpr int recipients = 10'000;

std::string account_hex(int i) {
  char hex[41];
  std::snprintf(hex, sizeof hex, "%040x", i + 1);
  return std::string("0x") + hex;
}

// The fault plan of recipient i: which tries fail and how, or a permanent refusal.
enum class Plan { clean, transient_once, transient_twice, unregistered, invalid_argument, gone };

Plan plan_of(int i) {
  if (i == 1234 || i == 5678 || i == 9012) return Plan::unregistered;  // FCM devices (even i)
  if (i == 4444) return Plan::invalid_argument;
  if (i == 7777) return Plan::gone;                                                    // a Web Push device (odd i)
  if (i % 10 == 3) return i % 20 == 3 ? Plan::transient_twice : Plan::transient_once;  // 10%
  return Plan::clean;
}

// The kind of transient fault of recipient i: 503, 429 + Retry-After, hang (timeout), drop.
Reply transient_fault(int i, bool fcm) {
  switch ((i / 10) % 4) {
    case 0:
      return Reply{http_response(503, "application/json",
                                 fcm ? R"({"error":{"code":503,"message":"busy","status":"UNAVAILABLE"}})" : "busy")};
    case 1:
      return Reply{http_response(429, "application/json",
                                 fcm ? R"({"error":{"code":429,"message":"slow down","status":"RESOURCE_EXHAUSTED",)"
                                       R"("details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError",)"
                                       R"("errorCode":"QUOTA_EXCEEDED"}]}})"
                                     : "slow down",
                                 "Retry-After: 1\r\n")};
    case 2:
      return Reply{"", false, true};  // never answers: the client's deadline passes
    default:
      return Reply{"", true, false};  // closes the connection without a response
  }
}

/// FCM (OAuth + messages:send) and a Web Push service on one loopback server, faults per plan.
struct FaultyPushServices {
  std::mutex mutex;
  std::map<int, int> tries;  ///< by recipient
  int token_requests = 0;
  LoopbackServer server{[this](const LoopbackServer::Request& r) { return handle(r); }};

  Reply handle(const LoopbackServer::Request& r) {
    const std::string target(r.target());
    if (target == "/token") {
      std::lock_guard lock(mutex);
      ++token_requests;
      return Reply{http_response(200, "application/json", R"({"access_token":"ya29.t","expires_in":3600})")};
    }
    int i = -1;
    bool fcm = false;
    if (target == "/v1/projects/demo/messages:send") {
      fcm = true;
      const auto body = json::parse(r.body()).as_object();
      const std::string token(body.at("message").at("token").as_string());
      i = std::stoi(token.substr(4));  // "tok-<i>"
    } else if (target.rfind("/push/", 0) == 0) {
      i = std::stoi(target.substr(6));
    } else {
      return Reply{http_response(404, "text/plain", "no such route")};
    }
    int n = 0;
    {
      std::lock_guard lock(mutex);
      n = ++tries[i];
    }
    switch (plan_of(i)) {
      case Plan::unregistered:
        return Reply{http_response(
            404, "application/json",
            R"({"error":{"code":404,"message":"gone","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}})")};
      case Plan::invalid_argument:
        return Reply{http_response(400, "application/json",
                                   R"({"error":{"code":400,"message":"bad","status":"INVALID_ARGUMENT"}})")};
      case Plan::gone:
        return Reply{http_response(410, "text/plain", "unsubscribed")};
      case Plan::transient_once:
        if (n == 1) return transient_fault(i, fcm);
        break;
      case Plan::transient_twice:
        if (n <= 2) return transient_fault(i + 10 * n, fcm);  // two different kinds in a row
        break;
      case Plan::clean:
        break;
    }
    if (fcm) return Reply{http_response(200, "application/json", R"({"name":"projects/demo/messages/1"})")};
    return Reply{http_response(201, "text/plain", "")};
  }
};

class RouterFaultsTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations(), notify::migrations()});
    m_service = std::make_unique<NotifyService>(*m_db, m_pool, m_clock);
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "notifyfaults"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 10'000};
  SystemClock m_clock;
  metrics::Registry m_registry;
  boost::asio::io_context m_ioc;
  std::unique_ptr<NotifyService> m_service;
};

TEST_P(RouterFaultsTest, TenThousandNotificationsWithTenPercentTransientFaultsLoseNone) {
  FaultyPushServices services;
  const auto rsa = testing::oracle(json::object{{"op", "rsa_key"}});
  const auto browser = testing::oracle(json::object{{"op", "subscription"}});

  net::HttpClientSettings http_settings;
  http_settings.max_idle_per_host = 64;
  net::HttpClient http(m_ioc.get_executor(), http_settings);
  RetryPolicy retry;
  retry.max_retries = 3;
  retry.backoff_base = std::chrono::milliseconds(1);
  retry.retry_after_max = std::chrono::milliseconds(5);  // Retry-After: 1 honored, scaled down for the test
  ServiceAccount account;
  account.project_id = "demo";
  account.client_email = "push@demo.iam.gserviceaccount.com";
  account.private_key_pem = std::string(rsa.at("private").as_string());
  account.token_uri = services.server.url("/token");
  FcmSettings fcm_settings;
  fcm_settings.endpoint = services.server.url();
  fcm_settings.timeout = std::chrono::milliseconds(300);
  fcm_settings.retry = retry;
  auto fcm = make_fcm_provider(http, m_clock, account, fcm_settings);
  ASSERT_TRUE(fcm);
  WebPushSettings wp_settings;
  wp_settings.timeout = std::chrono::milliseconds(300);
  wp_settings.retry = retry;
  WebPushProvider webpush(http, m_clock,
                          VapidIdentity{std::make_shared<const P256Key>(P256Key::generate()), "mailto:ops@example.com"},
                          wp_settings);

  testing::FakeDirectory directory;
  testing::FakeAudience audience;
  auto& members = audience.members_of["c-all"];
  for (int i = 0; i < recipients; ++i) {
    const std::string a = account_hex(i);
    members.push_back(a);
    if (i % 2 == 0) {
      directory.devices_of[a] = {PushTarget{"d-" + std::to_string(i), "fcm", "tok-" + std::to_string(i)}};
    } else {
      json::object sub{{"endpoint", services.server.url("/push/" + std::to_string(i))},
                       {"keys", json::object{{"p256dh", browser.at("p256dh")}, {"auth", browser.at("auth")}}}};
      directory.devices_of[a] = {PushTarget{"d-" + std::to_string(i), "webpush", json::serialize(sub)}};
    }
  }
  std::sort(members.begin(), members.end());

  RouterSettings settings;
  settings.expand_batch = 2'000;
  settings.delivery_batch = 1'000;
  settings.concurrency = 64;
  Router router(m_ioc.get_executor(), *m_service, m_pool, m_clock, m_registry, settings);
  router.set_directory(&directory);
  router.set_audience(&audience);
  router.add_provider(**fcm);
  router.add_provider(webpush);

  m_db->transact([&](Tx& tx) {
    json::object payload{{"kind", "addm"},
                         {"title", "Season 2 starts now"},
                         {"body", "Claim your points"},
                         {"community_id", "c-all"},
                         {"audience", "community"}};
    ASSERT_TRUE(bus::publish(tx, bus::NewEvent{"notify.requested", "c-all", json::serialize(payload)}));
  });
  auto consumer = router.consumer();
  for (const auto& e : m_db->read([](Tx& tx) { return bus::read_outbox(tx, 0, 10); }))
    bus::apply_once(*m_db, consumer, e);
  for (int round = 0;; ++round) {
    ASSERT_LT(round, 500);
    auto report = gh::testing::run(m_ioc, router.run_once());
    if (report.expanded == 0 && report.delivered == 0) break;
  }

  // Every notification exists, and every device was attempted exactly once (retries inside).
  const auto outcomes = m_db->read([](Tx& tx) { return sql::attempt_outcomes(tx); });
  std::map<std::string, std::int64_t> by;
  std::int64_t total = 0;
  for (const auto& [key, n] : outcomes) {
    by[key] = n;
    total += n;
  }
  EXPECT_EQ(total, recipients);
  EXPECT_EQ(m_db->read([](Tx& tx) { return sql::pending_deliveries(tx); }), 0);
  // Nothing transient was lost: no attempt ended "failed" (retries exhausted). The failure rate
  // is therefore 0 of 10,000, below 0.01%.
  std::string summary;
  for (const auto& [key, n] : by) summary += key + "=" + std::to_string(n) + " ";
  EXPECT_EQ(by["fcm/failed"] + by["webpush/failed"], 0) << summary;
  // The only failures are the planted non-retryable ones, recorded with their outcome.
  EXPECT_EQ(by["fcm/token_invalid"], 3);
  EXPECT_EQ(by["fcm/rejected"], 1);
  EXPECT_EQ(by["webpush/token_invalid"], 1);
  EXPECT_EQ(by["fcm/delivered"] + by["webpush/delivered"], recipients - 5);
  EXPECT_EQ(directory.forgotten.size(), 4u);
  // Non-retryable refusals were tried once; every transient fault was retried.
  for (int i : {1234, 5678, 9012, 4444, 7777}) EXPECT_EQ(services.tries[i], 1) << i;
  for (int i = 3; i < recipients; i += 10) {
    const int expected = plan_of(i) == Plan::transient_twice ? 3 : 2;
    ASSERT_GE(services.tries[i], expected) << i;  // a dropped reused connection may add a try
  }
  // Retries are visible per device in the attempt records.
  const auto retried_rows = m_db->read(
      [](Tx& tx) { return tx.query_one("SELECT count(*) AS n FROM notify_attempts WHERE retries > 0")->get_int("n"); });
  // A connection dropped before any response byte may be resent by the HTTP client itself (it
  // cannot tell a server that closed an idle connection); every other fault is a provider retry.
  std::int64_t provider_visible = 0;
  for (int i = 3; i < recipients; i += 10) {
    const int first_kind = plan_of(i) == Plan::transient_twice ? ((i + 10) / 10) % 4 : (i / 10) % 4;
    if (plan_of(i) != Plan::clean && first_kind != 3) ++provider_visible;
  }
  EXPECT_GE(retried_rows, provider_visible);
  const std::string metrics = m_registry.render();
  EXPECT_NE(metrics.find("gatehouse_notify_failed_total{provider=\"fcm\",outcome=\"token_invalid\"} 3"),
            std::string::npos);
  EXPECT_EQ(metrics.find("outcome=\"failed\""), std::string::npos);
  EXPECT_EQ(services.token_requests, 1);  // the OAuth token was cached throughout
}

INSTANTIATE_TEST_SUITE_P(Backends, RouterFaultsTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::notify
