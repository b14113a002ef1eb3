#pragma once
// Private to net: an upgraded connection on a TCP socket. Beast performs the handshake
// (accept_websocket); from then on the connection frames and parses itself (websocket_frame.hpp),
// so that every byte written to the socket goes through one path:
//   - send(), from any thread, writes a frame at once with one non-blocking send(2) when nothing is
//     queued before it (the fan-out loop of a publisher writes straight to every socket: no post,
//     no allocation), and queues only what the kernel did not take; the rest is written from the
//     socket's strand when it becomes writable, several frames per sendmsg(2). The queue is bounded
//     in messages and bytes: past either the socket is closed with close_code::resume.
//   - the reader is a completion handler waiting for readability, with no buffer while idle: it
//     reads into a per-thread buffer and keeps only an incomplete frame. Messages go to the
//     WebSocketSession one at a time (the next is parsed when the handler's task ends), under the
//     size and rate limits; pings are answered, a close is answered and ends the connection.
//     What a socket holds of incoming bytes (an incomplete frame, a fragmented message, the
//     message with its handler) past inbound_allowance counts against the server's BodyBudget,
//     with the HTTP bodies: when the budget has nothing left the socket is closed with 1013.
//   - a close drops what is queued (but finishes a frame half written), writes the close frame and
//     cuts the connection if the peer does not answer within ServerSettings::ws_close_timeout.
//   - heartbeat(), called by the server's one sweep for every socket, pings a socket silent for half
//     the idle timeout and cuts one silent for all of it: no timer per socket.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include "core/metrics.hpp"
#include "net/body_budget.hpp"
#include "net/server.hpp"
#include "net/websocket.hpp"
#include "net/websocket_frame.hpp"

namespace gh::net::detail {

/// Counters shared by every socket of a server; any may be null.
struct WebSocketMetrics {
  metrics::Gauge* open = nullptr;
  metrics::Counter* sent = nullptr;
  metrics::Counter* received = nullptr;
  metrics::Counter* resume_closes = nullptr;
  metrics::Counter* rate_closes = nullptr;
};

/// The per-connection token bucket of incoming messages (used on the socket's strand only).
class MessageRate {
 public:
  MessageRate(double per_second, double burst) : m_rate(per_second), m_burst(burst), m_tokens(burst) {}
  /// Takes one token; false when none is left.
  bool take(std::chrono::steady_clock::time_point now) {
    if (m_rate <= 0) return true;
    const std::chrono::duration<double> elapsed = now - m_updated;
    m_updated = now;
    m_tokens = std::min(m_burst, m_tokens + elapsed.count() * m_rate);
    if (m_tokens < 1.0) return false;
    m_tokens -= 1.0;
    return true;
  }

 private:
  double m_rate;
  double m_burst;
  double m_tokens;
  std::chrono::steady_clock::time_point m_updated = std::chrono::steady_clock::now();
};

/// Performs the WebSocket handshake on `stream` (Beast; its timeout is ws_close_timeout). True
/// when the socket is open and ready to be handed to a WebSocketConnection.
Task<bool> accept_websocket(boost::beast::tcp_stream& stream, const ServerSettings& settings,
                            boost::beast::http::request<boost::beast::http::string_body> request);

class WebSocketConnection final : public WebSocket, public std::enable_shared_from_this<WebSocketConnection> {
 public:
  /// What a socket may hold of incoming bytes without a share of the budget.
  static constexpr std::size_t inbound_allowance = std::size_t{16} * 1024;

  /// `socket`'s executor must be a strand. `on_end` runs once, on the strand, after the session's
  /// on_close, when the socket is closed. `budget`: the server's, or null for none.
  WebSocketConnection(boost::asio::ip::tcp::socket socket, const ServerSettings& settings, WebSocketMetrics metrics,
                      std::shared_ptr<WebSocketSession> session, std::function<void()> on_end,
                      BodyBudget* budget = nullptr);
  ~WebSocketConnection() override;

  /// Opens the session (on_open) and starts reading. Call once, on the strand.
  void start();

  using WebSocket::send;
  bool send(const SharedFrame& message) override;
  void close(std::uint16_t code, std::string reason) override;
  bool closing() const override;
  Executor executor() const override { return m_executor; }
  std::size_t queued_messages() const override;
  std::size_t queued_bytes() const override;
  std::size_t max_queued_messages() const override { return m_settings.ws_send_queue_messages; }
  std::size_t max_queued_bytes() const override { return m_settings.ws_send_queue_bytes; }

  /// The idle check (any thread): a ping after half the idle timeout of silence, a cut after all of it.
  void heartbeat(std::chrono::steady_clock::time_point now);
  /// Cuts the transport at once (any thread; the drain's last resort).
  void cut();

 private:
  struct Queued {
    SharedFrame frame;
    std::size_t written = 0;  ///< bytes of it already on the wire (only the front one)
  };

  // Writing; every function named *_locked runs under m_mutex.
  enum class Wrote : std::uint8_t { all, pending, close_sent, failed };
  Wrote write_now_locked();
  bool enqueue_locked(const SharedFrame& frame, bool control);
  void begin_close_locked(std::uint16_t code, std::string_view reason);
  void after_write(Wrote wrote);
  void wait_writable();
  void on_writable();
  // Reading, on the strand.
  void wait_readable();
  void on_readable();
  void process();
  bool account_inbound();
  void handle_message(std::string message);
  // Ending, on the strand.
  void arm_close_timer();
  void shutdown_transport();
  void end();

  boost::asio::ip::tcp::socket m_socket;
  Executor m_executor;
  const ServerSettings& m_settings;
  WebSocketMetrics m_metrics;
  std::shared_ptr<WebSocketSession> m_session;
  std::function<void()> m_on_end;
  // Strand-only state.
  FrameReader m_reader;
  MessageRate m_rate;
  std::string m_in;  ///< bytes read and not yet parsed (empty, unallocated, while idle)
  std::unique_ptr<boost::asio::steady_timer> m_close_timer;  ///< only once closing
  bool m_handling = false;                                   ///< a message is with the session
  std::size_t m_handling_bytes = 0;                          ///< its size
  BodyReservation m_inbound;                                 ///< the budget's share of m_in and the rest
  bool m_reading = false;                                    ///< a wait for readability is pending
  bool m_peer_closed = false;                                ///< the peer's close frame arrived
  bool m_ended = false;
  // Any thread.
  std::atomic<std::int64_t> m_last_heard_ms;
  std::atomic<bool> m_ping_out{false};
  // Under m_mutex: the send queue, the socket's descriptor as writers see it, and the close.
  mutable std::mutex m_mutex;
  std::vector<Queued> m_queue;  ///< m_queue[m_head...] waits to be written
  std::size_t m_head = 0;
  std::size_t m_queued_bytes = 0;
  int m_fd = -1;           ///< -1 once the socket is closed: no writer touches it any more
  bool m_writing = false;  ///< the strand owns the writing (a wait for writability is pending)
  bool m_closing = false;  ///< close() was called or the connection failed
  bool m_close_queued = false;
  bool m_close_sent = false;  ///< the close frame is on the wire
};

}  // namespace gh::net::detail
