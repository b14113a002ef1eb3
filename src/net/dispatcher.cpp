#include "net/dispatcher.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <boost/url/parse.hpp>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"

namespace gh::net {

struct Dispatcher::Metrics {
  explicit Metrics(metrics::Registry& r)
      : requests(r.counter("gatehouse_http_requests_total", "HTTP requests by method, route template and status.",
                           {"method", "route", "status"})),
        latency(r.histogram("gatehouse_http_request_duration_seconds",
                            "Time from a parsed request to its response, by method and route template.",
                            {"method", "route"}, metrics::latency_buckets())),
        in_flight(r.gauge("gatehouse_http_requests_in_flight", "HTTP requests being handled.").with({})),
        rate_limited(
            r.counter("gatehouse_http_rate_limited_total", "Requests refused by the per-IP rate limit.").with({})) {}
  metrics::Family<metrics::Counter>& requests;
  metrics::Family<metrics::Histogram>& latency;
  metrics::Gauge& in_flight;
  metrics::Counter& rate_limited;
};

namespace {

std::string_view method_label(std::string_view method) {
  static constexpr std::array<std::string_view, 7> known{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  for (auto m : known) {
    if (m == method) return m;
  }
  return "other";
}

// Operations endpoints stay reachable for probes and scrapers whatever the client's rate.
bool exempt_from_rate_limit(std::string_view path) {
  return path == "/healthz" || path == "/readyz" || path == "/metrics";
}

}  // namespace

std::string make_request_id() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return fmt::format("{:016x}{:016x}", rng(), rng());
}

bool valid_request_id(std::string_view id) noexcept {
  if (id.empty() || id.size() > 64) return false;
  for (char c : id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

Dispatcher::Dispatcher(Router router, metrics::Registry& registry, DispatcherSettings settings)
    : m_router(std::make_shared<const Router>(std::move(router))),
      m_settings(settings),
      m_forwarded{settings.trust_forwarded_for || !settings.trusted_proxies.empty(), settings.trusted_proxies},
      m_ip_limiter(settings.per_ip),
      m_metrics(std::make_unique<Metrics>(registry)) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::set_router(Router router) {
  auto fresh = std::make_shared<const Router>(std::move(router));
  std::lock_guard lock(m_router_mutex);
  m_router = std::move(fresh);
}

void Dispatcher::set_unmatched_error(std::optional<Error> error) {
  std::lock_guard lock(m_router_mutex);
  m_unmatched = std::move(error);
}

std::shared_ptr<const Router> Dispatcher::current_router() const {
  std::lock_guard lock(m_router_mutex);
  return m_router;
}

Task<Response> Dispatcher::dispatch(Request& request) {
  const auto started = std::chrono::steady_clock::now();
  ++m_in_flight;
  m_metrics->in_flight.inc();

  if (auto id = request.header("x-request-id"); id && valid_request_id(*id)) {
    request.request_id = std::string(*id);
  } else {
    request.request_id = make_request_id();
  }
  std::optional<Error> forwarded_error;
  if (m_forwarded.enabled) {
    std::vector<std::string_view> forwarded;
    for (const auto& [name, value] : request.headers) {
      if (name == "x-forwarded-for") forwarded.emplace_back(value);
    }
    auto client = client_address(request.remote_ip, forwarded, m_forwarded);
    if (client) {
      request.remote_ip = std::move(*client);
    } else {
      forwarded_error = client.error();
    }
  }

  Response response;
  try {
    if (forwarded_error) {
      response = error_response(*forwarded_error);
    } else {
      response = co_await route(request);
    }
  } catch (const Overloaded&) {
    Error busy = make_error(ErrorKind::unavailable, "overloaded", "the server is busy; retry shortly");
    busy.retry_after = std::chrono::seconds(1);
    response = error_response(busy);
  } catch (const std::exception& e) {
    if (out_of_reach(e)) {
      log::warn("a service the request needs is out of reach",
                {{"request_id", request.request_id}, {"route", request.route}, {"what", e.what()}});
      Error away = make_error(ErrorKind::unavailable, "not_ready", "the database cannot be reached; retry shortly");
      away.retry_after = std::chrono::seconds(1);
      response = error_response(away);
    } else {
      log::error("unhandled exception",
                 {{"request_id", request.request_id}, {"route", request.route}, {"what", e.what()}});
      response = error_response(internal_error("internal error; quote request id " + request.request_id));
    }
  }
  response.with_header("X-Request-Id", request.request_id);

  const auto elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string route_label = request.route.empty() ? "unmatched" : request.route;
  const auto method = method_label(request.method);
  m_metrics->requests.with({std::string(method), route_label, std::to_string(response.status)}).inc();
  m_metrics->latency.with({std::string(method), route_label}).observe(elapsed);
  m_metrics->in_flight.dec();
  --m_in_flight;

  if (m_settings.access_log && log::enabled(log::Level::info)) {
    // The path only: query strings may carry tokens (e.g. the WebSocket's ?token=).
    log::info("request", {{"request_id", request.request_id},
                          {"method", request.method},
                          {"path", request.path},
                          {"route", route_label},
                          {"status", response.status},
                          {"bytes", response.body.size()},
                          {"duration_ms", elapsed * 1000.0},
                          {"ip", request.remote_ip}});
  }
  co_return response;
}

Response Dispatcher::reject(const Error& error, const std::string& remote_ip, unsigned status) {
  auto response = error_response(error);
  if (status != 0) response.status = status;
  const auto id = make_request_id();
  response.with_header("X-Request-Id", id);
  m_metrics->requests.with({"other", "unparsed", std::to_string(response.status)}).inc();
  if (m_settings.access_log) {
    log::info("request rejected",
              {{"request_id", id}, {"status", response.status}, {"code", error.code}, {"ip", remote_ip}});
  }
  return response;
}

Task<Response> Dispatcher::route(Request& request) {
  auto parsed = boost::urls::parse_origin_form(request.target);
  if (!parsed) co_return error_response(bad_input("invalid_target", "the request target is not a valid path"));
  request.path = std::string(parsed->encoded_path());
  for (const auto& p : parsed->params()) {
    request.query.emplace_back(p.key, p.has_value ? p.value : std::string());
  }
  // Every name in a path or a query is text: bytes that are not UTF-8 once percent-decoded, or
  // U+0000, name nothing, and PostgreSQL would refuse them as a parameter.
  const bool text = valid_text(std::string(parsed->path())) &&
                    std::all_of(request.query.begin(), request.query.end(),
                                [](const auto& q) { return valid_text(q.first) && valid_text(q.second); });
  if (!text) {
    co_return error_response(
        bad_input("invalid_target", "the request target must be UTF-8 without U+0000 once percent-decoded"));
  }

  if (m_settings.rate_limit_enabled && !exempt_from_rate_limit(request.path)) {
    const auto decision = m_ip_limiter.take(request.remote_ip);
    if (!decision.allowed) {
      m_metrics->rate_limited.inc();
      co_return error_response(rate_limited("too many requests; slow down", decision.retry_after));
    }
  }

  // The routes and the answer for a path they lack, read together: bring-up replaces the first and
  // clears the second, and a request that matched the routes before must not get the answer after.
  std::shared_ptr<const Router> router;
  std::optional<Error> unmatched;
  {
    std::lock_guard lock(m_router_mutex);
    router = m_router;
    unmatched = m_unmatched;
  }
  auto match = router->match(request.method, request.path);
  request.route = match.route;
  switch (match.kind) {
    case RouteMatch::Kind::not_found: {
      if (unmatched) co_return error_response(*unmatched);
      co_return error_response(not_found("no such path: " + request.path));
    }
    case RouteMatch::Kind::method_not_allowed: {
      Error e = make_error(ErrorKind::method_not_allowed, "method_not_allowed",
                           request.method + " is not allowed here; allowed: " + match.allow);
      e.allow = match.allow;
      co_return error_response(e);
    }
    case RouteMatch::Kind::found:
      break;
  }
  // A route not declared public never runs for a request without credentials, whatever its
  // handler forgets; the handler still validates the credentials it gets.
  // (?token= is how browsers present a session to the WebSocket endpoint, which cannot set headers.)
  if (m_settings.require_credentials && !match.is_public && !request.header("authorization") &&
      !request.header("x-api-key") && !request.query_param("token")) {
    co_return error_response(
        make_error(ErrorKind::unauthorized, "unauthenticated", "sign in first: Authorization: Bearer <token>"));
  }
  request.params = std::move(match.params);
  auto result = co_await (*match.handler)(request);
  if (!result) co_return error_response(result.error());
  co_return std::move(*result);
}

}  // namespace gh::net
