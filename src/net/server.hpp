#pragma once
// The HTTP/1.1 server: accepts on a TCP port, runs one session per connection on its own strand
// (server_session.hpp), hands parsed requests to the Dispatcher, and drains on shutdown: stop
// accepting, let in-flight requests finish, close idle keep-alive connections, force the rest
// after a bound.
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "net/dispatcher.hpp"
#include "net/ip_address.hpp"

namespace gh::net {

/// Transport settings of the server. Every limit is explicit.
struct ServerSettings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;                                      ///< 0 picks a free port (tests)
  std::size_t max_header_bytes = std::size_t{16} * 1024;          ///< request line and headers
  std::size_t max_body_bytes = std::size_t{1024} * 1024;          ///< request body
  std::chrono::milliseconds idle_timeout{60'000};                 ///< keep-alive wait for the next request
  std::chrono::milliseconds read_timeout{30'000};                 ///< to receive a whole request once it started
  std::chrono::milliseconds write_timeout{30'000};                ///< to send a response
  std::size_t max_connections = 10'000;                           ///< past it, idle connections are closed first
  std::size_t max_connections_per_ip = 256;                       ///< open connections from one peer address
  std::size_t body_budget_bytes = std::size_t{64} * 1024 * 1024;  ///< request-body bytes in flight, all connections
  /// Peers exempt from the per-IP cap (the reverse proxies every client arrives through).
  std::vector<IpNetwork> cap_exempt;
  // WebSocket connections (net/websocket.hpp).
  std::size_t ws_max_message_bytes = std::size_t{64} * 1024;       ///< larger messages close the socket (1009)
  std::size_t ws_send_queue_messages = 4096;                       ///< queued and not yet written, per socket
  std::size_t ws_send_queue_bytes = std::size_t{4} * 1024 * 1024;  ///< idem, in bytes; past either: close 4008
  std::chrono::milliseconds ws_idle_timeout{60'000};               ///< silence that ends a socket; pings at half of it
  std::chrono::milliseconds ws_close_timeout{5'000};               ///< for a handshake or a close to complete
  double ws_messages_per_second = 20.0;                            ///< incoming messages per socket, sustained
  double ws_message_burst = 60.0;                                  ///< and in a burst; past it: close 1008
};

/// A listening HTTP server.
class HttpServer {
 public:
  HttpServer(Executor executor, ServerSettings settings, Dispatcher& dispatcher, metrics::Registry& registry);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and listens; fails with a reason (address in use, bad address).
  Result<void> listen();
  /// The bound port (after listen()).
  std::uint16_t port() const noexcept;
  /// Starts accepting connections.
  void start();
  /// Stops accepting, waits up to `timeout` for sessions to finish, then closes what is left.
  /// Blocks the calling thread, which must not be an I/O thread of this server.
  void drain(std::chrono::milliseconds timeout);
  /// Open connections.
  std::size_t connections() const noexcept;
  /// Request-body bytes currently reserved against ServerSettings::body_budget_bytes.
  std::size_t body_bytes_in_flight() const noexcept;
  /// Open WebSocket connections.
  std::size_t websockets() const noexcept;
  /// True once drain() began.
  bool draining() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> m_impl;
};

}  // namespace gh::net
