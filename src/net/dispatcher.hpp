#pragma once
// The application side of every HTTP request, independent of the transport: request id, per-IP
// rate limit, routing, the one mapping from Error (and unexpected exceptions) to API.md's error
// shape, metrics and one JSON access-log line. The session only moves bytes.
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/metrics.hpp"
#include "net/http.hpp"
#include "net/ip_address.hpp"
#include "net/rate_limit.hpp"
#include "net/router.hpp"

namespace gh::net {

/// Settings of the request pipeline.
struct DispatcherSettings {
  bool rate_limit_enabled = true;
  RateLimit per_ip{50.0, 100.0, 100'000};
  /// Take the client address from X-Forwarded-For: the right-most entry, the direct peer being
  /// the one trusted proxy (see `trusted_proxies` for chains of proxies).
  bool trust_forwarded_for = false;
  /// Write one access-log line per request.
  bool access_log = true;
  /// Reverse proxies whose X-Forwarded-For entries are believed (implies trust_forwarded_for):
  /// the client is the right-most entry not in this list, and only when the peer is in it.
  std::vector<IpNetwork> trusted_proxies;
  /// Answer 401 to a request for a route not declared public (Router::declare_public) when it
  /// carries neither Authorization nor X-Api-Key nor a `token` query parameter, before its
  /// handler runs.
  bool require_credentials = false;
};

/// Runs requests through the pipeline; safe to call from many I/O threads at once.
class Dispatcher {
 public:
  Dispatcher(Router router, metrics::Registry& registry, DispatcherSettings settings);
  ~Dispatcher();

  /// Replaces the route table (e.g. once the database is up and the contexts exist). Requests
  /// already routed finish on the old table.
  void set_router(Router router);
  /// While set, requests no route matches get this error instead of 404 (503 `not_ready` while
  /// the application is still coming up).
  void set_unmatched_error(std::optional<Error> error);
  /// Produces the response to a request. Never throws.
  Task<Response> dispatch(Request& request);
  /// The response to a request that could not be parsed (too large, malformed): counted and logged
  /// like the others, with a fresh request id. A non-zero `status` overrides the error's status.
  Response reject(const Error& error, const std::string& remote_ip, unsigned status = 0);
  /// The current route table.
  std::vector<RouteInfo> routes() const { return current_router()->routes(); }
  /// Requests currently being handled.
  std::int64_t in_flight() const noexcept { return m_in_flight.load(); }
  const DispatcherSettings& settings() const noexcept { return m_settings; }

 private:
  Task<Response> route(Request& request);

  struct Metrics;
  std::shared_ptr<const Router> current_router() const;

  mutable std::mutex m_router_mutex;
  std::shared_ptr<const Router> m_router;
  std::optional<Error> m_unmatched;
  DispatcherSettings m_settings;
  ForwardedForPolicy m_forwarded;
  RateLimiter m_ip_limiter;
  std::unique_ptr<Metrics> m_metrics;
  std::atomic<std::int64_t> m_in_flight{0};
};

/// A fresh random request id (32 hex characters).
std::string make_request_id();
/// True when a client-supplied request id is safe to echo and log (1-64 of [A-Za-z0-9._-]).
bool valid_request_id(std::string_view id) noexcept;

}  // namespace gh::net
