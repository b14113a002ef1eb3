#pragma once
// An HTTP/1.1 client for outgoing calls (JSON-RPC providers, push services, webhooks). Beast and
// OpenSSL stay in http_client.cpp: this header is cheap to include.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/task.hpp"
#include "net/outbound_policy.hpp"

namespace gh::net {

/// Limits and trust settings of an HttpClient.
struct HttpClientSettings {
  /// Bound on resolving and connecting (TCP, and the TLS handshake), within the request deadline.
  std::chrono::milliseconds connect_timeout{5'000};
  /// Default deadline of a whole request: connect + write + read of the full response.
  std::chrono::milliseconds request_timeout{30'000};
  /// Largest response body accepted; a larger one fails with HttpErrc::body_too_large.
  std::size_t max_response_body = std::size_t{16} * 1024 * 1024;
  /// Largest response header block accepted.
  std::uint32_t max_response_header = 64 * 1024;
  /// Idle keep-alive connections kept per (scheme, host, port).
  std::size_t max_idle_per_host = 4;
  /// An idle connection older than this is closed instead of reused (servers drop them anyway).
  std::chrono::milliseconds idle_timeout{30'000};
  /// A PEM file of extra trusted CAs (tests use a private CA); the system store is always trusted.
  std::string extra_ca_file;
  /// Sent as User-Agent unless the request sets one.
  std::string user_agent = "gatehouse";
  /// When set, every URL and every address its host resolves to must pass this policy (clients
  /// that call user-supplied URLs, such as webhook push targets); refused with
  /// HttpErrc::forbidden_destination. Unset for operator-configured upstreams (RPC providers).
  std::optional<OutboundPolicy> outbound_policy;
};

/// One header line.
struct HttpHeader {
  std::string name;
  std::string value;
};

/// An outgoing request. `url` is absolute: http://host[:port]/path?query or https://...
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<HttpHeader> headers;
  std::string body;
  /// Overrides HttpClientSettings::request_timeout for this request.
  std::optional<std::chrono::milliseconds> timeout;
};

/// A complete response (the body has been read in full).
struct HttpResponse {
  unsigned status = 0;
  std::vector<HttpHeader> headers;
  std::string body;
  /// True when the request went over a kept-alive connection used before.
  bool reused_connection = false;

  /// The first header of that name (case-insensitive), or nullptr.
  const std::string* header(std::string_view name) const noexcept;
};

/// Why a request produced no response. HTTP error statuses are not failures: they are responses.
enum class HttpErrc {
  invalid_url,            ///< not an absolute http(s) URL
  resolve_failed,         ///< the host name did not resolve
  connection_refused,     ///< nothing listens there
  connection_reset,       ///< the peer reset or closed the connection before a full response
  timeout,                ///< the request deadline (or the connect bound) passed
  tls_failed,             ///< TLS handshake or certificate verification failed
  truncated_body,         ///< the connection ended inside the body
  body_too_large,         ///< the body exceeds max_response_body
  protocol_error,         ///< the peer did not speak HTTP/1.1
  network,                ///< any other socket error
  forbidden_destination,  ///< the outbound policy refuses the URL or every address it resolves to
};

/// The snake_case name of an HttpErrc ("timeout", "body_too_large", ...).
const char* to_string(HttpErrc code) noexcept;

/// A failed request: the class of the failure and a human message (no secrets: URLs carry no
/// credentials in gatehouse; provider keys in paths are the caller's business to redact).
struct HttpFailure {
  HttpErrc code = HttpErrc::network;
  std::string message;

  /// The failure as a gh::Error (kind unavailable, or bad_input for an invalid URL).
  Error to_error() const;
};

/// A response or the failure that prevented one.
class [[nodiscard]] HttpResult {
 public:
  HttpResult(HttpResponse response) : m_data(std::move(response)) {}  // NOLINT(google-explicit-constructor)
  HttpResult(HttpFailure failure) : m_data(std::move(failure)) {}     // NOLINT(google-explicit-constructor)

  bool has_value() const noexcept { return m_data.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }
  HttpResponse& value() & { return std::get<0>(m_data); }
  const HttpResponse& value() const& { return std::get<0>(m_data); }
  HttpResponse&& value() && { return std::get<0>(std::move(m_data)); }
  HttpResponse* operator->() { return &value(); }
  const HttpResponse* operator->() const { return &value(); }
  const HttpFailure& failure() const& { return std::get<1>(m_data); }

 private:
  std::variant<HttpResponse, HttpFailure> m_data;
};

/// Counters for tests and metrics.
struct HttpClientStats {
  std::uint64_t connections_opened = 0;
  std::uint64_t connections_reused = 0;
};

/// HTTP/1.1 client with keep-alive reuse per host, TLS (SNI, peer verification against the system
/// store) and a deadline per request. Safe to use from several coroutines and threads at once; a
/// request in flight keeps the client's state alive even if the HttpClient is destroyed.
class HttpClient {
 public:
  /// A client whose sockets run on `executor`.
  HttpClient(Executor executor, HttpClientSettings settings = {});
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;

  /// Sends `request` and reads the whole response; never throws for network failures. A request
  /// that fails on a reused connection before any response byte arrived is sent once more on a
  /// fresh connection (the server may have closed the idle connection meanwhile).
  Task<HttpResult> request(HttpRequest request);

  /// Closes every idle connection.
  void close_idle();

  /// Connection counters since construction.
  HttpClientStats stats() const;

  /// The settings the client was built with.
  const HttpClientSettings& settings() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> m_impl;
};

}  // namespace gh::net
