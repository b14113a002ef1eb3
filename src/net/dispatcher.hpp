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
#include "net/rate_limit.hpp"
#include "net/router.hpp"

namespace gh::net {

/// Settings of the request pipeline.
struct DispatcherSettings {
  bool rate_limit_enabled = true;
  RateLimit per_ip{50.0, 100.0, 100'000};
  /// Take the client address from the first X-Forwarded-For entry (only behind a trusted proxy).
  bool trust_forwarded_for = false;
  /// Write one access-log line per request.
  bool access_log = true;
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
  /// like the others, with a fresh request id.
  Response reject(const Error& error, const std::string& remote_ip);
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
  RateLimiter m_ip_limiter;
  std::unique_ptr<Metrics> m_metrics;
  std::atomic<std::int64_t> m_in_flight{0};
};

/// A fresh random request id (32 hex characters).
std::string make_request_id();
/// True when a client-supplied request id is safe to echo and log (1-64 of [A-Za-z0-9._-]).
bool valid_request_id(std::string_view id) noexcept;

}  // namespace gh::net
