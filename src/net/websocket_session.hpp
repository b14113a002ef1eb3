#pragma once
// Private to net: an upgraded connection, written once for any Beast stream (tcp_stream in the
// server, beast::test::stream in the tests). The reader loop hands text messages to the endpoint's
// WebSocketSession one at a time and enforces the size and rate limits; a writer (a chain of
// completion handlers on the socket's strand, started by a send when idle) drains a send queue
// bounded in messages and bytes and performs the close handshake. A consumer
// whose queue would overflow is closed with close_code::resume; a peer that does not complete a
// close in ServerSettings::ws_close_timeout is cut. Beast's own timeouts send pings and end a
// connection that stays silent for the idle timeout.
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/stream_traits.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include "core/log.hpp"
#include "core/metrics.hpp"
#include "net/server.hpp"
#include "net/websocket.hpp"

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

template <class Stream>
class WebSocketConnection final : public WebSocket, public std::enable_shared_from_this<WebSocketConnection<Stream>> {
 public:
  using Ws = boost::beast::websocket::stream<Stream&>;

  WebSocketConnection(Ws& ws, const ServerSettings& settings, WebSocketMetrics metrics)
      : m_ws(ws),
        m_settings(settings),
        m_metrics(metrics),
        m_executor(ws.get_executor()),
        m_force(m_executor),
        m_writer_done(m_executor) {}

  // The fan-out path: one lock, one queue push, and a post to the strand only when the writer is
  // idle (a writer that is busy picks the frame up when its current write completes).
  bool send(std::shared_ptr<const std::string> message) override {
    bool start = false;
    bool overflow = false;
    {
      std::lock_guard lock(m_mutex);
      if (m_closing) return false;
      if (m_queue.size() + 1 > m_settings.ws_send_queue_messages ||
          m_queued_bytes + message->size() > m_settings.ws_send_queue_bytes) {
        begin_close_locked(close_code::resume, "too far behind: reconnect and resume");
        overflow = true;
        start = !m_writing;
        m_writing = true;
      } else {
        m_queued_bytes += message->size();
        m_queue.push_back(std::move(message));
        start = !m_writing;
        m_writing = true;
      }
    }
    if (start)
      post_drain(overflow);
    else if (overflow)
      arm_cut();
    return !overflow;
  }

  void close(std::uint16_t code, std::string reason) override {
    bool start = false;
    {
      std::lock_guard lock(m_mutex);
      if (m_closing) return;
      begin_close_locked(code, std::move(reason));
      start = !m_writing;
      m_writing = true;
    }
    if (start)
      post_drain(true);
    else
      arm_cut();
  }

  bool closing() const override {
    std::lock_guard lock(m_mutex);
    return m_closing;
  }
  Executor executor() const override { return m_executor; }
  std::size_t queued_messages() const override {
    std::lock_guard lock(m_mutex);
    return m_queue.size();
  }
  std::size_t queued_bytes() const override {
    std::lock_guard lock(m_mutex);
    return m_queued_bytes;
  }

  std::size_t max_queued_messages() const override { return m_settings.ws_send_queue_messages; }
  std::size_t max_queued_bytes() const override { return m_settings.ws_send_queue_bytes; }

  /// The reader is done: wait for the write or close under way, so the stream can go away.
  Task<void> finish() {
    using boost::asio::as_tuple;
    using boost::asio::use_awaitable;
    mark_closing();
    while (m_busy) {
      m_writer_done.expires_at(std::chrono::steady_clock::time_point::max());
      co_await m_writer_done.async_wait(as_tuple(use_awaitable));
    }
    m_ended = true;
    m_force.cancel();
  }

  /// Cuts the transport (on the strand), for a peer that will not let the close complete.
  void cut() {
    if (m_ended) return;
    boost::beast::get_lowest_layer(m_ws).close();
  }

 private:
  // The writer, on the strand: one frame at a time in queue order, then the close frame once
  // closing. It runs while m_writing holds and stops (clearing it) when the queue is empty; a
  // completion handler per write, no coroutine, no timer: a delivered frame costs a post (only
  // when the writer was idle) and a write.
  void drain() {
    if (m_ended) return;
    std::shared_ptr<const std::string> next;
    bool closing = false;
    {
      std::lock_guard lock(m_mutex);
      if (m_closing) {
        closing = true;
      } else if (!m_queue.empty()) {
        next = std::move(m_queue.front());
        m_queue.pop_front();
        m_queued_bytes -= next->size();
      } else {
        m_writing = false;
        return;
      }
    }
    if (closing) {
      write_close();
      return;
    }
    m_busy = true;
    const auto* frame = next.get();
    m_ws.async_write(boost::asio::buffer(*frame), [self = this->shared_from_this(), next = std::move(next)](
                                                      const boost::system::error_code& ec, std::size_t) {
      self->m_busy = false;
      if (ec) {
        self->mark_closing();
        self->m_writer_done.cancel();
        return;
      }
      if (self->m_metrics.sent) self->m_metrics.sent->inc();
      self->drain();
    });
  }

  // The close handshake, once, when the endpoint (or an overflow) asked for one.
  void write_close() {
    if (m_close_started || m_close_code == 0 || !m_ws.is_open()) {
      m_writer_done.cancel();
      return;
    }
    m_close_started = true;
    boost::beast::websocket::close_reason reason;
    reason.code = m_close_code;
    const auto text = std::string_view(m_close_reason).substr(0, reason.reason.max_size());
    reason.reason.assign(text.data(), text.size());
    m_busy = true;
    m_ws.async_close(reason, [self = this->shared_from_this()](const boost::system::error_code&) {
      // The reader sees the end of the connection either way.
      self->m_busy = false;
      self->m_close_done = true;
      self->m_writer_done.cancel();
    });
  }

  void begin_close_locked(std::uint16_t code, std::string reason) {
    if (code == close_code::resume && m_metrics.resume_closes) m_metrics.resume_closes->inc();
    m_closing = true;
    m_close_code = code;
    m_close_reason = std::move(reason);
    m_queue.clear();
    m_queued_bytes = 0;
  }

  void mark_closing() {
    std::lock_guard lock(m_mutex);
    m_closing = true;
    m_queue.clear();
    m_queued_bytes = 0;
  }

  // Starts the writer on the strand; on a close, also arms the cut of a peer that stalls it.
  void post_drain(bool closing) {
    boost::asio::post(m_executor, [self = this->shared_from_this(), closing] {
      self->drain();
      if (closing) self->arm_cut_here();
    });
  }

  void arm_cut() {
    boost::asio::post(m_executor, [self = this->shared_from_this()] { self->arm_cut_here(); });
  }

  // On the strand: a peer that has not let the close complete within ws_close_timeout is cut.
  void arm_cut_here() {
    if (m_ended || m_cut_armed) return;
    m_cut_armed = true;
    m_force.expires_after(m_settings.ws_close_timeout);
    m_force.async_wait([self = this->shared_from_this()](const boost::system::error_code& ec) {
      if (!ec && !self->m_close_done) self->cut();
    });
  }

  Ws& m_ws;
  const ServerSettings& m_settings;
  WebSocketMetrics m_metrics;
  Executor m_executor;
  boost::asio::steady_timer m_force;
  boost::asio::steady_timer m_writer_done;
  // Strand-only state.
  bool m_busy = false;  ///< a write or the close is under way on the stream
  bool m_ended = false;
  bool m_cut_armed = false;
  bool m_close_started = false;
  bool m_close_done = false;
  // Shared state, under m_mutex (the close code and reason are written once, before m_closing).
  mutable std::mutex m_mutex;
  std::deque<std::shared_ptr<const std::string>> m_queue;
  std::size_t m_queued_bytes = 0;
  bool m_writing = false;  ///< the writer runs or is posted
  bool m_closing = false;
  std::uint16_t m_close_code = 0;
  std::string m_close_reason;
};

/// Performs the handshake on `stream` for `request` and runs the connection until it ends.
/// `on_open` (may be empty) learns the socket before the session does (the server's drain list).
template <class Stream>
Task<void> run_websocket(Stream& stream, const ServerSettings& settings,
                         boost::beast::http::request<boost::beast::http::string_body> request,
                         std::shared_ptr<WebSocketSession> session, WebSocketMetrics metrics,
                         const std::function<void(std::shared_ptr<WebSocket>)>& on_open) {
  namespace websocket = boost::beast::websocket;
  namespace http = boost::beast::http;
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;

  if constexpr (requires { stream.expires_never(); }) stream.expires_never();
  typename WebSocketConnection<Stream>::Ws ws(stream);
  websocket::permessage_deflate deflate;
  deflate.server_enable = false;
  deflate.client_enable = false;
  ws.set_option(deflate);
  ws.read_message_max(settings.ws_max_message_bytes);
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = settings.ws_close_timeout;
  timeouts.idle_timeout = settings.ws_idle_timeout;
  timeouts.keep_alive_pings = true;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, "gatehouse"); }));

  auto [aec] = co_await ws.async_accept(request, as_tuple(use_awaitable));
  if (aec) co_return;
  request = {};  // the upgrade request is not needed past the handshake: an open socket keeps no headers

  auto connection = std::make_shared<WebSocketConnection<Stream>>(ws, settings, metrics);
  if (metrics.open) metrics.open->inc();
  if (on_open) on_open(connection);
  session->on_open(connection);

  MessageRate rate(settings.ws_messages_per_second, settings.ws_message_burst);
  boost::beast::flat_buffer buffer;
  for (;;) {
    auto [ec, n] = co_await ws.async_read(buffer, as_tuple(use_awaitable));
    if (ec) break;
    if (connection->closing()) {
      buffer.consume(buffer.size());
      continue;  // keep reading until the peer answers the close
    }
    if (!ws.got_text()) {
      buffer.consume(buffer.size());
      connection->close(close_code::unsupported, "text messages only");
      continue;
    }
    if (!rate.take(std::chrono::steady_clock::now())) {
      buffer.consume(buffer.size());
      if (metrics.rate_closes) metrics.rate_closes->inc();
      connection->close(close_code::policy, "message rate exceeded");
      continue;
    }
    if (metrics.received) metrics.received->inc();
    auto message = boost::beast::buffers_to_string(buffer.data());
    buffer.consume(buffer.size());
    // An idle socket keeps no large buffer from one big message.
    if (buffer.capacity() > 4096) buffer.shrink_to_fit();
    bool failed = false;
    try {
      co_await session->on_message(std::move(message));
    } catch (const std::exception& e) {
      log::error("websocket handler failed", {{"what", e.what()}});
      failed = true;
    }
    if (failed) connection->close(close_code::internal, "internal error");
  }
  co_await connection->finish();
  if (metrics.open) metrics.open->dec();
  session->on_close();
}

}  // namespace gh::net::detail
