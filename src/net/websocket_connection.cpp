#include "net/websocket_connection.hpp"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/websocket.hpp>

#include "core/log.hpp"

namespace gh::net::detail {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::int64_t steady_ms(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

// What one sendmsg(2) takes at most.
constexpr std::size_t max_iov = 32;
// What one wake-up reads at most before the socket yields to the others on its thread.
constexpr int max_reads_per_wakeup = 4;

const SharedFrame& ping_frame() {
  static const SharedFrame frame = EncodedFrame::control(opcode::ping, {});
  return frame;
}

}  // namespace

Task<bool> accept_websocket(boost::beast::tcp_stream& stream, const ServerSettings& settings,
                            boost::beast::http::request<boost::beast::http::string_body> request) {
  namespace websocket = boost::beast::websocket;
  namespace http = boost::beast::http;
  stream.expires_never();
  websocket::stream<boost::beast::tcp_stream&> ws(stream);
  websocket::permessage_deflate deflate;
  deflate.server_enable = false;
  deflate.client_enable = false;
  ws.set_option(deflate);
  websocket::stream_base::timeout timeouts;
  timeouts.handshake_timeout = settings.ws_close_timeout;
  timeouts.idle_timeout = websocket::stream_base::none();
  timeouts.keep_alive_pings = false;
  ws.set_option(timeouts);
  ws.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& response) { response.set(http::field::server, "gatehouse"); }));
  auto [ec] = co_await ws.async_accept(request, asio::as_tuple(asio::use_awaitable));
  co_return !ec;
}

WebSocketConnection::WebSocketConnection(tcp::socket socket, const ServerSettings& settings, WebSocketMetrics metrics,
                                         std::shared_ptr<WebSocketSession> session, std::function<void()> on_end,
                                         BodyBudget* budget)
    : m_socket(std::move(socket)),
      m_executor(m_socket.get_executor()),
      m_settings(settings),
      m_metrics(metrics),
      m_session(std::move(session)),
      m_on_end(std::move(on_end)),
      m_reader(settings.ws_max_message_bytes),
      m_rate(settings.ws_messages_per_second, settings.ws_message_burst),
      m_inbound(budget),
      m_last_heard_ms(steady_ms(std::chrono::steady_clock::now())),
      m_fd(m_socket.native_handle()) {
  boost::system::error_code ignored;
  m_socket.non_blocking(true, ignored);
}

WebSocketConnection::~WebSocketConnection() = default;

void WebSocketConnection::start() {
  if (m_metrics.open) m_metrics.open->inc();
  m_session->on_open(shared_from_this());
  wait_readable();
}

// ---- writing

bool WebSocketConnection::enqueue_locked(const SharedFrame& frame, bool control) {
  const auto pending = m_queue.size() - m_head;
  if (!control && (pending + 1 > m_settings.ws_send_queue_messages ||
                   m_queued_bytes + frame->size() > m_settings.ws_send_queue_bytes)) {
    begin_close_locked(close_code::resume, "too far behind: reconnect and resume");
    return false;
  }
  m_queued_bytes += frame->size();
  m_queue.push_back(Queued{frame, 0});
  return true;
}

// Drops what is queued, except a frame already half on the wire (the stream would be corrupt
// without its end), and queues the close frame after it. Code 0: a close without a code.
void WebSocketConnection::begin_close_locked(std::uint16_t code, std::string_view reason) {
  if (code == close_code::resume && m_metrics.resume_closes) m_metrics.resume_closes->inc();
  m_closing = true;
  std::size_t keep = m_head;
  if (m_head < m_queue.size() && m_queue[m_head].written > 0) ++keep;
  for (std::size_t i = keep; i < m_queue.size(); ++i) m_queued_bytes -= m_queue[i].frame->size();
  m_queue.resize(keep);
  if (m_fd < 0) return;
  std::string payload;
  if (code != 0) {
    payload.push_back(static_cast<char>(code >> 8U));
    payload.push_back(static_cast<char>(code & 0xFFU));
    payload.append(utf8_prefix(reason, 123));
  }
  auto frame = EncodedFrame::control(opcode::close, payload);
  m_queued_bytes += frame->size();
  m_queue.push_back(Queued{std::move(frame), 0});
  m_close_queued = true;
}

// Writes as much of the queue as the kernel takes now, several frames per call.
WebSocketConnection::Wrote WebSocketConnection::write_now_locked() {
  bool close_done = false;
  while (m_head < m_queue.size()) {
    if (m_fd < 0) {
      m_writing = false;
      return Wrote::failed;
    }
    iovec iov[max_iov];
    std::size_t n = 0;
    for (std::size_t i = m_head; i < m_queue.size() && n < max_iov; ++i, ++n) {
      const auto bytes = m_queue[i].frame->bytes();
      const auto done = m_queue[i].written;
      iov[n].iov_base = const_cast<char*>(bytes.data() + done);
      iov[n].iov_len = bytes.size() - done;
    }
    ssize_t wrote = 0;
    if (n == 1) {
      wrote = ::send(m_fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT | MSG_NOSIGNAL);
    } else {
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = n;
      wrote = ::sendmsg(m_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    }
    if (wrote < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        m_writing = true;
        return Wrote::pending;
      }
      // The peer is gone: the reader sees it too and ends the connection.
      m_closing = true;
      m_queue.clear();
      m_head = 0;
      m_queued_bytes = 0;
      m_writing = false;
      return Wrote::failed;
    }
    auto left = static_cast<std::size_t>(wrote);
    bool partial = false;
    while (m_head < m_queue.size()) {
      auto& item = m_queue[m_head];
      const auto rest = item.frame->size() - item.written;
      if (left < rest) {
        item.written += left;
        m_queued_bytes -= left;
        partial = true;
        break;
      }
      left -= rest;
      m_queued_bytes -= rest;
      if (m_close_queued && m_head + 1 == m_queue.size() && m_closing) {
        close_done = true;
        m_close_sent = true;
      } else if (m_metrics.sent) {
        m_metrics.sent->inc();
      }
      m_queue[m_head].frame.reset();
      ++m_head;
    }
    if (partial) {
      // The kernel's buffer is full: the rest goes when the socket is writable again.
      m_writing = true;
      return Wrote::pending;
    }
  }
  m_queue.clear();
  m_head = 0;
  // A burst's queue does not stay allocated on an idle socket.
  if (m_queue.capacity() > 16) std::vector<Queued>().swap(m_queue);
  m_writing = false;
  return close_done ? Wrote::close_sent : Wrote::all;
}

bool WebSocketConnection::send(const SharedFrame& message) {
  Wrote wrote = Wrote::all;
  bool taken = true;
  {
    std::lock_guard lock(m_mutex);
    if (m_closing) return false;
    if (!m_writing && m_head == m_queue.size() && message->size() <= m_settings.ws_send_queue_bytes && m_fd >= 0) {
      // The fan-out's path: nothing is queued, so the frame goes to the kernel at once, from this
      // thread; only what the kernel does not take is queued.
      const auto bytes = message->bytes();
      const auto n = ::send(m_fd, bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0 && static_cast<std::size_t>(n) == bytes.size()) {
        if (m_metrics.sent) m_metrics.sent->inc();
        return true;
      }
      if (n >= 0 || errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        const auto done = n > 0 ? static_cast<std::size_t>(n) : std::size_t{0};
        m_queue.push_back(Queued{message, done});
        m_queued_bytes += bytes.size() - done;
        wrote = write_now_locked();  // EINTR: try again; otherwise it finds the buffer full
      } else {
        // The peer is gone: the reader sees it too and ends the connection.
        m_closing = true;
        wrote = Wrote::failed;
        taken = false;
      }
    } else {
      taken = enqueue_locked(message, false);
      if (!m_writing) wrote = write_now_locked();
    }
  }
  after_write(wrote);
  // An overflow began the close: the peer gets ws_close_timeout to take the close frame.
  if (!taken) asio::post(m_executor, [self = shared_from_this()] { self->arm_close_timer(); });
  return taken;
}

void WebSocketConnection::close(std::uint16_t code, std::string reason) {
  Wrote wrote = Wrote::all;
  {
    std::lock_guard lock(m_mutex);
    if (m_closing) return;
    begin_close_locked(code, reason);
    wrote = m_writing ? Wrote::all : write_now_locked();
  }
  after_write(wrote);
  asio::post(m_executor, [self = shared_from_this()] { self->arm_close_timer(); });
}

// After a write attempt outside the strand: the strand takes over what is left.
void WebSocketConnection::after_write(Wrote wrote) {
  switch (wrote) {
    case Wrote::all:
      return;
    case Wrote::pending:
      asio::post(m_executor, [self = shared_from_this()] { self->wait_writable(); });
      return;
    case Wrote::close_sent:
      asio::post(m_executor, [self = shared_from_this()] {
        if (self->m_peer_closed) self->shutdown_transport();
      });
      return;
    case Wrote::failed:
      asio::post(m_executor, [self = shared_from_this()] { self->shutdown_transport(); });
      return;
  }
}

void WebSocketConnection::wait_writable() {
  if (m_ended) return;
  m_socket.async_wait(tcp::socket::wait_write, [self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->on_writable();
  });
}

void WebSocketConnection::on_writable() {
  Wrote wrote = Wrote::all;
  {
    std::lock_guard lock(m_mutex);
    wrote = write_now_locked();
  }
  switch (wrote) {
    case Wrote::all:
      return;
    case Wrote::pending:
      wait_writable();
      return;
    case Wrote::close_sent:
      if (m_peer_closed) shutdown_transport();
      return;
    case Wrote::failed:
      shutdown_transport();
      return;
  }
}

std::size_t WebSocketConnection::queued_messages() const {
  std::lock_guard lock(m_mutex);
  return m_queue.size() - m_head;
}

std::size_t WebSocketConnection::queued_bytes() const {
  std::lock_guard lock(m_mutex);
  return m_queued_bytes;
}

bool WebSocketConnection::closing() const {
  std::lock_guard lock(m_mutex);
  return m_closing;
}

// ---- reading

void WebSocketConnection::wait_readable() {
  if (m_ended || m_handling || m_reading) return;
  if (!m_socket.is_open()) {
    end();
    return;
  }
  m_reading = true;
  m_socket.async_wait(tcp::socket::wait_read, [self = shared_from_this()](const boost::system::error_code& ec) {
    self->m_reading = false;
    if (ec) {
      self->end();
      return;
    }
    self->on_readable();
  });
}

void WebSocketConnection::on_readable() {
  // One buffer per thread: an idle socket holds none.
  thread_local char scratch[16384];
  for (int i = 0; i < max_reads_per_wakeup; ++i) {
    const auto n = ::recv(m_socket.native_handle(), scratch, sizeof scratch, MSG_DONTWAIT);
    if (n == 0) {
      end();
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      end();
      return;
    }
    m_in.append(scratch, static_cast<std::size_t>(n));
    m_last_heard_ms.store(steady_ms(std::chrono::steady_clock::now()), std::memory_order_relaxed);
    m_ping_out.store(false, std::memory_order_relaxed);
    if (static_cast<std::size_t>(n) < sizeof scratch) break;
  }
  if (!account_inbound()) {
    // Nothing more of this peer's stream is kept: the reader drops what follows, the peer's
    // answer to the close included, so the close timeout ends the connection. Until then the
    // socket is read, so that the close frame reaches a peer still sending (closing a socket with
    // unread bytes would reset the connection, and the peer could lose the frame).
    m_in = std::string();
    m_reader.discard();
    m_inbound.release();
    close(close_code::try_again, "server busy: try again later");
  }
  process();
}

// Keeps the budget's share equal to what the socket holds of incoming bytes past the allowance;
// false when the budget cannot give more.
bool WebSocketConnection::account_inbound() {
  const std::size_t held = m_in.size() + m_reader.held() + m_handling_bytes;
  const std::size_t share = held > inbound_allowance ? held - inbound_allowance : 0;
  if (share <= m_inbound.held()) {
    m_inbound.shrink_to(share);
    return true;
  }
  return m_inbound.grow_to(share);
}

// Parses what was read, one event at a time; a text message pauses parsing until its handler ends.
void WebSocketConnection::process() {
  while (!m_ended && !m_handling) {
    ClientEvent event;
    bool has_event = false;
    const auto taken = m_reader.parse(m_in, event, has_event);
    if (taken == 0) break;
    m_in.erase(0, taken);
    if (!has_event) continue;
    switch (event.kind) {
      case ClientEvent::Kind::text:
        if (closing()) break;  // read until the peer answers the close
        if (!m_rate.take(std::chrono::steady_clock::now())) {
          if (m_metrics.rate_closes) m_metrics.rate_closes->inc();
          close(close_code::policy, "message rate exceeded");
          break;
        }
        if (m_metrics.received) m_metrics.received->inc();
        handle_message(std::move(event.payload));
        break;
      case ClientEvent::Kind::binary:
        if (!closing()) close(close_code::unsupported, "text messages only");
        break;
      case ClientEvent::Kind::ping: {
        Wrote wrote = Wrote::all;
        {
          std::lock_guard lock(m_mutex);
          if (m_closing) break;
          enqueue_locked(EncodedFrame::control(opcode::pong, event.payload), true);
          if (!m_writing) wrote = write_now_locked();
        }
        after_write(wrote);
        break;
      }
      case ClientEvent::Kind::pong:
        break;
      case ClientEvent::Kind::close: {
        m_peer_closed = true;
        bool sent = false;
        {
          std::lock_guard lock(m_mutex);
          sent = m_close_sent;
        }
        if (sent) {
          shutdown_transport();
        } else {
          // The peer began the close: answer with its code (none when it gave none).
          close(event.code == 1005 ? 0 : event.code, "");
        }
        break;
      }
      case ClientEvent::Kind::error: {
        // The stream cannot be parsed past a protocol error: the close frame is the last word,
        // and the transport goes once it is written, without waiting for an answer.
        m_in.clear();
        m_peer_closed = true;
        bool sent = false;
        {
          std::lock_guard lock(m_mutex);
          sent = m_close_sent || (m_closing && !m_close_queued);
        }
        if (sent) {
          shutdown_transport();
        } else {
          close(event.code, event.payload);
        }
        break;
      }
    }
  }
  if (m_ended) return;
  // What was parsed left m_in; a message handed over is still held (m_handling_bytes).
  account_inbound();
  if (m_handling) return;
  if (m_in.empty() && m_in.capacity() > 15) std::string().swap(m_in);
  wait_readable();
}

void WebSocketConnection::handle_message(std::string message) {
  m_handling = true;
  m_handling_bytes = message.size();
  asio::co_spawn(m_executor, m_session->on_message(std::move(message)),
                 asio::bind_executor(m_executor, [self = shared_from_this()](std::exception_ptr e) {
                   if (e) {
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       if (out_of_reach(ex)) {
                         // The database lost: the client resumes once it is back.
                         log::warn("websocket handler failed", {{"what", ex.what()}});
                         self->close(close_code::resume, "the database cannot be reached: resume later");
                       } else {
                         log::error("websocket handler failed", {{"what", ex.what()}});
                         self->close(close_code::internal, "internal error");
                       }
                     } catch (...) {
                       log::error("websocket handler failed", {{"what", "unknown exception"}});
                       self->close(close_code::internal, "internal error");
                     }
                   }
                   self->m_handling = false;
                   self->m_handling_bytes = 0;
                   self->process();
                 }));
}

// ---- heartbeats and the end

void WebSocketConnection::heartbeat(std::chrono::steady_clock::time_point now) {
  const auto idle = m_settings.ws_idle_timeout.count();
  if (idle <= 0) return;
  const auto silent = steady_ms(now) - m_last_heard_ms.load(std::memory_order_relaxed);
  if (silent >= idle) {
    cut();
    return;
  }
  if (silent < idle / 2 || m_ping_out.exchange(true)) return;
  Wrote wrote = Wrote::all;
  {
    std::lock_guard lock(m_mutex);
    if (m_closing) return;
    enqueue_locked(ping_frame(), true);
    if (!m_writing) wrote = write_now_locked();
  }
  after_write(wrote);
}

void WebSocketConnection::cut() {
  asio::post(m_executor, [self = shared_from_this()] { self->shutdown_transport(); });
}

void WebSocketConnection::arm_close_timer() {
  if (m_ended || m_close_timer) return;
  m_close_timer = std::make_unique<asio::steady_timer>(m_executor);
  m_close_timer->expires_after(m_settings.ws_close_timeout);
  m_close_timer->async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (!ec) self->shutdown_transport();
  });
}

// Closes the socket (on the strand, under the lock, so that no writer uses its descriptor after).
void WebSocketConnection::shutdown_transport() {
  {
    std::lock_guard lock(m_mutex);
    if (m_fd < 0) return;
    m_fd = -1;
    m_closing = true;
    m_queue.clear();
    m_head = 0;
    m_queued_bytes = 0;
    m_writing = false;
    boost::system::error_code ignored;
    m_socket.shutdown(tcp::socket::shutdown_send, ignored);
    m_socket.close(ignored);
  }
  // A pending wait for readability ends with an error and ends the connection; without one (a
  // message is with the session), the reader ends it when it resumes.
  if (!m_reading && !m_handling) end();
}

void WebSocketConnection::end() {
  if (m_ended) return;
  m_ended = true;
  shutdown_transport();
  if (m_close_timer) m_close_timer->cancel();
  m_in = std::string();
  m_inbound.release();
  if (m_metrics.open) m_metrics.open->dec();
  auto session = std::move(m_session);
  session->on_close();
  if (auto on_end = std::move(m_on_end)) on_end();
}

}  // namespace gh::net::detail
