#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include "net/dispatcher.hpp"
#include "net/json.hpp"
#include "net/rate_limit.hpp"
#include "net/router.hpp"

namespace gh::net {
namespace {

Handler respond(std::string body) {
  return [body](Request& req) -> Task<Result<Response>> {
    std::string out = body;
    for (const auto& [k, v] : req.params) out += "|" + k + "=" + v;
    co_return Response::text(200, out);
  };
}

TEST(Router, MatchesLiteralsParamsAndMethods) {
  Router r;
  r.add("GET", "/v1/communities/{id}", respond("get"));
  r.add("POST", "/v1/communities/{id}/join", respond("join"));
  r.add("GET", "/v1/communities/mine", respond("mine"));
  r.add("GET", "/v1/communities/{id}/channels/{channel}", respond("channel"));

  auto m = r.match("GET", "/v1/communities/abc");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route, "/v1/communities/{id}");
  ASSERT_EQ(m.params.size(), 1u);
  EXPECT_EQ(m.params[0].second, "abc");

  m = r.match("GET", "/v1/communities/mine");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route, "/v1/communities/mine");

  // A percent-encoded literal is the literal, not a parameter spelled like it.
  m = r.match("GET", "/v1/communities/mi%6Ee");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route, "/v1/communities/mine");
  EXPECT_TRUE(m.params.empty());

  m = r.match("GET", "/v1/communities/a%20b/channels/c%2Dd");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.params[0].second, "a b");
  EXPECT_EQ(m.params[1].second, "c-d");

  m = r.match("DELETE", "/v1/communities/abc");
  EXPECT_EQ(m.kind, RouteMatch::Kind::method_not_allowed);
  EXPECT_EQ(m.allow, "GET, HEAD");

  // HEAD is served by the GET handler wherever there is one.
  m = r.match("HEAD", "/v1/communities/abc");
  ASSERT_EQ(m.kind, RouteMatch::Kind::found);
  EXPECT_EQ(m.route, "/v1/communities/{id}");

  EXPECT_EQ(r.match("GET", "/v1/communities").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/communities/").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/communities/abc/").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/communities/%zz").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/communities/a%2Fb").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/communities/%FF").kind, RouteMatch::Kind::not_found);
  EXPECT_EQ(r.match("GET", "/v1/communities/%C3").kind, RouteMatch::Kind::not_found);
  ASSERT_EQ(r.match("GET", "/v1/communities/%C3%A9").kind, RouteMatch::Kind::found);
  EXPECT_EQ(r.match("GET", "/v1/communities/%C3%A9").params[0].second, "\xC3\xA9");
  EXPECT_EQ(r.match("GET", "").kind, RouteMatch::Kind::not_found);
}

TEST(Router, RejectsBadTemplates) {
  Router r;
  r.add("GET", "/a/{x}", respond("a"));
  EXPECT_THROW(r.add("GET", "/a/{x}", respond("dup")), std::logic_error);
  EXPECT_THROW(r.add("GET", "/a/{y}/b", respond("conflict")), std::logic_error);
  EXPECT_THROW(r.add("GET", "no-slash", respond("bad")), std::logic_error);
}

TEST(RateLimiter, RefillsAndReportsRetryAfter) {
  RateLimiter limiter(RateLimit{2.0, 3.0, 100});
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.take_at("ip", t0).allowed);
  auto d = limiter.take_at("ip", t0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after.count(), 1);
  EXPECT_TRUE(limiter.take_at("other", t0).allowed);  // keys are independent
  EXPECT_TRUE(limiter.take_at("ip", t0 + std::chrono::milliseconds(500)).allowed);
  EXPECT_FALSE(limiter.take_at("ip", t0 + std::chrono::milliseconds(500)).allowed);
}

TEST(RateLimiter, BoundsTrackedKeys) {
  RateLimiter limiter(RateLimit{1.0, 5.0, 10});
  const auto t0 = RateLimiter::Clock::now();
  for (int i = 0; i < 100; ++i) limiter.take_at("k" + std::to_string(i), t0);
  EXPECT_LE(limiter.tracked(), 10u);
}

struct DispatcherTest : ::testing::Test {
  Response run(Dispatcher& d, Request req) {
    boost::asio::io_context io;
    auto fut = boost::asio::co_spawn(
        io, [&]() -> Task<Response> { co_return co_await d.dispatch(req); }, boost::asio::use_future);
    io.run();
    return fut.get();
  }
  static Request make(std::string method, std::string target, std::string body = {}) {
    Request r;
    r.method = std::move(method);
    r.target = std::move(target);
    r.body = std::move(body);
    r.remote_ip = "10.0.0.1";
    return r;
  }
  static boost::json::object body_of(const Response& r) { return boost::json::parse(r.body).as_object(); }
  metrics::Registry registry;
};

TEST_F(DispatcherTest, MapsErrorsToApiShape) {
  Router r;
  r.add("POST", "/echo", [](Request& req) -> Task<Result<Response>> {
    auto body = parse_json_object(req);
    if (!body) co_return body.error();
    co_return json_response(201, *body);
  });
  r.add("GET", "/conflict", [](Request&) -> Task<Result<Response>> {
    Error e = make_error(ErrorKind::conflict, "stale_devices", "devices changed");
    e.details_json = R"({"missing":["d1"],"extra":[]})";
    co_return e;
  });
  r.add("GET", "/boom", [](Request&) -> Task<Result<Response>> {
    throw std::runtime_error("secret detail");
    co_return Response{};
  });
  r.add("GET", "/busy", [](Request&) -> Task<Result<Response>> {
    throw Overloaded("full");
    co_return Response{};
  });
  // A dependency's failure: out of reach for now (the database lost), or not (a bug's).
  struct DependencyFailed : ServiceFailure {
    DependencyFailed(const char* what, bool away) : ServiceFailure(what), m_away(away) {}
    bool unreachable() const noexcept override { return m_away; }
    bool m_away;
  };
  r.add("GET", "/away", [](Request&) -> Task<Result<Response>> {
    throw DependencyFailed("connection refused by 10.1.2.3", true);
    co_return Response{};
  });
  r.add("GET", "/broken", [](Request&) -> Task<Result<Response>> {
    throw DependencyFailed("syntax error at or near", false);
    co_return Response{};
  });
  Dispatcher d(std::move(r), registry, DispatcherSettings{});

  auto res = run(d, make("POST", "/echo", R"({"a":1})"));
  EXPECT_EQ(res.status, 201u);
  EXPECT_EQ(res.body, R"({"a":1})");

  res = run(d, make("POST", "/echo", "{not json"));
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "invalid_json");

  res = run(d, make("POST", "/echo", "[1,2]"));
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "expected_object");

  // U+0000 in any string, a key or a value at any depth, refuses the body: no field takes it, and
  // PostgreSQL's text cannot store it. Other control characters are each field's own rule.
  for (const char* body : {R"({"a":"x\u0000"})", R"({"a\u0000":1})", R"({"a":[{"b":["\u0000"]}]})", "[\"\\u0000\"]"}) {
    res = run(d, make("POST", "/echo", body));
    EXPECT_EQ(res.status, 400u) << body;
    EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "invalid_json") << body;
  }
  EXPECT_EQ(body_of(res).at("error").at("message").as_string(), "[0] holds U+0000, which no field takes");
  res = run(d, make("POST", "/echo", R"({"a":[{"b":["ok","\u0000"]}]})"));
  EXPECT_EQ(body_of(res).at("error").at("message").as_string(), "a[0].b[1] holds U+0000, which no field takes");
  res = run(d, make("POST", "/echo", R"({"a":{"k\u0000":1}})"));
  EXPECT_EQ(body_of(res).at("error").at("message").as_string(), "a key in a holds U+0000, which no field takes");
  EXPECT_EQ(run(d, make("POST", "/echo", R"({"a":"x\u0001\u00e9"})")).status, 201u);

  res = run(d, make("GET", "/conflict"));
  EXPECT_EQ(res.status, 409u);
  auto err = body_of(res).at("error").as_object();
  EXPECT_EQ(err.at("code").as_string(), "stale_devices");
  EXPECT_EQ(err.at("missing").as_array().size(), 1u);

  res = run(d, make("GET", "/boom"));
  EXPECT_EQ(res.status, 500u);
  EXPECT_EQ(res.body.find("secret detail"), std::string::npos);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "internal");

  res = run(d, make("GET", "/busy"));
  EXPECT_EQ(res.status, 503u);

  // Out of reach: 503 not_ready, with a Retry-After, and nothing of the failure's text.
  res = run(d, make("GET", "/away"));
  EXPECT_EQ(res.status, 503u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "not_ready");
  EXPECT_EQ(res.body.find("10.1.2.3"), std::string::npos);
  EXPECT_TRUE(std::any_of(res.headers.begin(), res.headers.end(),
                          [](const auto& h) { return h.first == "Retry-After" && h.second == "1"; }));
  res = run(d, make("GET", "/broken"));
  EXPECT_EQ(res.status, 500u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "internal");

  res = run(d, make("GET", "/nowhere?x=1"));
  EXPECT_EQ(res.status, 404u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "not_found");

  res = run(d, make("DELETE", "/echo"));
  EXPECT_EQ(res.status, 405u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "method_not_allowed");
  bool allow = false;
  for (const auto& [k, v] : res.headers) allow |= (k == "Allow" && v == "POST");
  EXPECT_TRUE(allow);

  const auto text = registry.render();
  EXPECT_NE(text.find(R"(gatehouse_http_requests_total{method="POST",route="/echo",status="201"} 2)"),
            std::string::npos);
  EXPECT_NE(text.find(R"(gatehouse_http_requests_total{method="GET",route="unmatched",status="404"} 1)"),
            std::string::npos);
}

TEST_F(DispatcherTest, RequestIdsAreEchoedOrMinted) {
  Router r;
  r.add("GET", "/x", [](Request& req) -> Task<Result<Response>> { co_return Response::text(200, req.request_id); });
  Dispatcher d(std::move(r), registry, DispatcherSettings{});
  auto req = make("GET", "/x");
  req.headers.emplace_back("x-request-id", "abc-123");
  auto res = run(d, req);
  EXPECT_EQ(res.body, "abc-123");
  req = make("GET", "/x");
  req.headers.emplace_back("x-request-id", "bad id\r\ninjected");
  res = run(d, req);
  EXPECT_EQ(res.body.size(), 32u);
  for (const auto& [k, v] : res.headers) {
    if (k == "X-Request-Id") {
      EXPECT_EQ(v, res.body);
    }
  }
}

TEST_F(DispatcherTest, RateLimitsPerIpButNotProbes) {
  Router r;
  r.add("GET", "/x", [](Request&) -> Task<Result<Response>> { co_return Response::text(200, "ok"); });
  r.add("GET", "/healthz", [](Request&) -> Task<Result<Response>> { co_return Response::text(200, "ok"); });
  DispatcherSettings s;
  s.per_ip = RateLimit{1.0, 2.0, 100};
  Dispatcher d(std::move(r), registry, s);
  EXPECT_EQ(run(d, make("GET", "/x")).status, 200u);
  EXPECT_EQ(run(d, make("GET", "/x")).status, 200u);
  auto limited = run(d, make("GET", "/x"));
  EXPECT_EQ(limited.status, 429u);
  EXPECT_EQ(body_of(limited).at("error").at("code").as_string(), "rate_limited");
  bool retry_after = false;
  for (const auto& [k, v] : limited.headers) retry_after |= (k == "Retry-After" && v == "1");
  EXPECT_TRUE(retry_after);
  auto other = make("GET", "/x");
  other.remote_ip = "10.0.0.2";
  EXPECT_EQ(run(d, other).status, 200u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(run(d, make("GET", "/healthz")).status, 200u);
}

TEST_F(DispatcherTest, ParsesQueryParameters) {
  Router r;
  r.add("GET", "/q", [](Request& req) -> Task<Result<Response>> {
    co_return Response::text(
        200, std::string(req.query_param("a").value_or("-")) + "," + std::string(req.query_param("b").value_or("-")));
  });
  Dispatcher d(std::move(r), registry, DispatcherSettings{});
  EXPECT_EQ(run(d, make("GET", "/q?a=1%202&b=x&a=3")).body, "3,x");
  EXPECT_EQ(run(d, make("GET", "/q")).body, "-,-");
  // Names are text: bytes that are not UTF-8 once decoded, or U+0000, are refused before any handler.
  EXPECT_EQ(run(d, make("GET", "/q?a=%C3%A9")).status, 200u);
  for (const char* target : {"/q?a=%FF", "/q?%FF=1", "/q?a=%ED%A0%80", "/%FF/q", "/q?a=x%00", "/q?%00=1", "/q%00"}) {
    const auto response = run(d, make("GET", target));
    EXPECT_EQ(response.status, 400u) << target;
    EXPECT_NE(response.body.find("invalid_target"), std::string::npos) << target;
  }
}

}  // namespace
}  // namespace gh::net

namespace gh::net {
namespace {

TEST_F(DispatcherTest, RoutesCanBeReplacedOnceTheAppIsReady) {
  Router ops;
  ops.add("GET", "/healthz", [](Request&) -> Task<Result<Response>> { co_return Response::text(200, "ok"); });
  Dispatcher d(std::move(ops), registry, DispatcherSettings{});
  d.set_unmatched_error(make_error(ErrorKind::unavailable, "not_ready", "starting"));
  auto r = run(d, make("GET", "/v1/x"));
  EXPECT_EQ(r.status, 503u);
  EXPECT_EQ(body_of(r).at("error").at("code").as_string(), "not_ready");
  Router full;
  full.add("GET", "/v1/x", [](Request&) -> Task<Result<Response>> { co_return Response::text(200, "x"); });
  d.set_router(std::move(full));
  d.set_unmatched_error(std::nullopt);
  EXPECT_EQ(run(d, make("GET", "/v1/x")).body, "x");
  EXPECT_EQ(run(d, make("GET", "/v1/y")).status, 404u);
}

TEST(Router, ListsRoutesAndTheOnesDeclaredPublic) {
  Router r;
  r.add("GET", "/healthz", respond("h"));
  r.add("POST", "/v1/auth/nonce", respond("n"));
  r.add("GET", "/v1/me", respond("m"));
  r.add("DELETE", "/v1/devices/{id}", respond("d"));
  EXPECT_TRUE(r.declare_public("GET", "/healthz"));
  EXPECT_TRUE(r.declare_public("POST", "/v1/auth/nonce"));
  EXPECT_FALSE(r.declare_public("GET", "/v1/auth/nonce"));  // no such method there
  EXPECT_FALSE(r.declare_public("GET", "/v1/nowhere"));
  EXPECT_FALSE(r.declare_public("DELETE", "/v1/devices"));
  const auto routes = r.routes();
  ASSERT_EQ(routes.size(), 4u);
  EXPECT_EQ(routes[0].path, "/healthz");
  EXPECT_TRUE(routes[0].is_public);
  EXPECT_EQ(routes[1].path, "/v1/auth/nonce");
  EXPECT_TRUE(routes[1].is_public);
  EXPECT_EQ(routes[2].method, "DELETE");
  EXPECT_EQ(routes[2].path, "/v1/devices/{id}");
  EXPECT_FALSE(routes[2].is_public);
  EXPECT_FALSE(routes[3].is_public);
  EXPECT_TRUE(r.match("GET", "/healthz").is_public);
  EXPECT_TRUE(r.match("HEAD", "/healthz").is_public);
  EXPECT_FALSE(r.match("GET", "/v1/me").is_public);
}

TEST_F(DispatcherTest, RoutesNotDeclaredPublicNeedCredentials) {
  Router r;
  bool ran = false;
  r.add("GET", "/open", [](Request&) -> Task<Result<Response>> { co_return Response::text(200, "open"); });
  r.add("POST", "/forgetful", [&ran](Request&) -> Task<Result<Response>> {
    ran = true;  // a handler that forgot to authenticate
    co_return Response::text(200, "leak");
  });
  r.declare_public("GET", "/open");
  DispatcherSettings settings;
  settings.require_credentials = true;
  Dispatcher d(std::move(r), registry, settings);
  EXPECT_EQ(run(d, make("GET", "/open")).status, 200u);
  auto res = run(d, make("POST", "/forgetful"));
  EXPECT_EQ(res.status, 401u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "unauthenticated");
  EXPECT_FALSE(ran);
  auto with_token = make("POST", "/forgetful");
  with_token.headers.emplace_back("authorization", "Bearer x");
  EXPECT_EQ(run(d, with_token).status, 200u);
  auto with_key = make("POST", "/forgetful");
  with_key.headers.emplace_back("x-api-key", "k");
  EXPECT_EQ(run(d, with_key).status, 200u);
  EXPECT_EQ(run(d, make("POST", "/forgetful?token=t")).status, 200u);
  // Unknown paths stay 404 rather than hinting at authentication.
  EXPECT_EQ(run(d, make("GET", "/nowhere")).status, 404u);
}

TEST_F(DispatcherTest, ClientAddressComesFromTrustedProxiesOnly) {
  Router r;
  r.add("GET", "/ip", [](Request& req) -> Task<Result<Response>> { co_return Response::text(200, req.remote_ip); });
  DispatcherSettings settings;
  settings.trusted_proxies = {*IpNetwork::parse("10.0.0.0/8")};
  Dispatcher d(std::move(r), registry, settings);
  auto req = make("GET", "/ip");  // from 10.0.0.1, a trusted proxy
  req.headers.emplace_back("x-forwarded-for", "1.1.1.1, 203.0.113.9");
  EXPECT_EQ(run(d, req).body, "203.0.113.9");
  req = make("GET", "/ip");
  req.headers.emplace_back("x-forwarded-for", "evil");
  auto res = run(d, req);
  EXPECT_EQ(res.status, 400u);
  EXPECT_EQ(body_of(res).at("error").at("code").as_string(), "invalid_forwarded_for");
  req = make("GET", "/ip");
  req.remote_ip = "192.0.2.7";  // not a proxy: its header is ignored
  req.headers.emplace_back("x-forwarded-for", "203.0.113.9");
  EXPECT_EQ(run(d, req).body, "192.0.2.7");
}

// A WebSocket endpoint: credentials first (a refused accept is the response, upgrade or not),
// then 400 upgrade_required for a plain GET, and 101 with the session for an upgrade.
TEST_F(DispatcherTest, WebSocketEndpointsAuthenticateBeforeTheUpgrade) {
  struct NullSession final : WebSocketSession {
    void on_open(std::shared_ptr<WebSocket>) override {}
    Task<void> on_message(std::string) override { co_return; }
    void on_close() override {}
  };
  Router r;
  r.add_websocket("/ws", [](Request& req) -> Task<Result<std::shared_ptr<WebSocketSession>>> {
    if (req.header("authorization") != std::optional<std::string_view>("Bearer good")) {
      co_return make_error(ErrorKind::unauthorized, "invalid_session", "no");
    }
    co_return std::make_shared<NullSession>();
  });
  DispatcherSettings settings;
  settings.access_log = false;
  Dispatcher d(std::move(r), registry, settings);
  auto upgrade = [](std::string token) {
    auto req = make("GET", "/ws");
    req.headers = {
        {"authorization", "Bearer " + token}, {"connection", "keep-alive, Upgrade"}, {"upgrade", "websocket"}};
    return req;
  };
  auto refused = run(d, upgrade("bad"));
  EXPECT_EQ(refused.status, 401u);
  EXPECT_FALSE(refused.upgrade);
  auto plain = make("GET", "/ws");
  plain.headers = {{"authorization", "Bearer good"}};
  EXPECT_FALSE(is_websocket_upgrade(plain));
  auto answer = run(d, plain);
  EXPECT_EQ(answer.status, 400u);
  EXPECT_EQ(body_of(answer).at("error").at("code").as_string(), "upgrade_required");
  EXPECT_FALSE(answer.upgrade);
  auto req = upgrade("good");
  EXPECT_TRUE(is_websocket_upgrade(req));
  auto accepted = run(d, req);
  EXPECT_EQ(accepted.status, 101u);
  EXPECT_TRUE(accepted.upgrade);
  // Upgrade must name websocket; POST never upgrades.
  req.headers[2].second = "h2c";
  EXPECT_FALSE(is_websocket_upgrade(req));
  auto post = upgrade("good");
  post.method = "POST";
  EXPECT_FALSE(is_websocket_upgrade(post));
}

}  // namespace
}  // namespace gh::net
