#include "net/server.hpp"

#include <malloc.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "net/server_session.hpp"
#include "net/websocket_connection.hpp"

namespace gh::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Large allocations (request bodies) get their own mappings, returned to the system when freed;
// glibc would otherwise raise this threshold after the first large free and serve every later
// body from heap arenas that never shrink. Process-wide, set once by the first server.
void keep_large_allocations_mapped() {
  static std::once_flag once;
  std::call_once(once, [] { ::mallopt(M_MMAP_THRESHOLD, 128 * 1024); });
}

void release_free_memory() {
  ::malloc_trim(0);
}

}  // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  struct Session {
    std::atomic<bool> idle{false};
    bool evicted = false;  // under `mutex`
    std::string ip;
    std::string cap_key;  // what the per-IP cap counts: the address, or its /64 for IPv6
    boost::beast::tcp_stream* stream = nullptr;
    asio::any_io_executor executor;
    std::weak_ptr<detail::WebSocketConnection> ws;  // set once the connection upgraded
    bool upgraded = false;                          // under `mutex`
  };

  Impl(Executor ex, ServerSettings s, Dispatcher& d, metrics::Registry& r)
      : executor(std::move(ex)),
        settings(std::move(s)),
        dispatcher(d),
        acceptor(asio::make_strand(executor)),
        open_gauge(r.gauge("gatehouse_http_connections", "Open HTTP connections.").with({})),
        accepted(r.counter("gatehouse_http_connections_accepted_total", "HTTP connections accepted.").with({})),
        refused(r.counter("gatehouse_http_connections_refused_total",
                          "HTTP connections closed at once because max_connections was reached.")
                    .with({})),
        refused_per_ip(r.counter("gatehouse_http_connections_refused_per_ip_total",
                                 "HTTP connections closed at once because their peer address had too many open.")
                           .with({})),
        evicted(r.counter("gatehouse_http_connections_evicted_total",
                          "Idle HTTP connections closed to make room for new ones under pressure.")
                    .with({})),
        body_budget(settings.body_budget_bytes) {
    ws_metrics.open = &r.gauge("gatehouse_ws_connections", "Open WebSocket connections.").with({});
    ws_metrics.sent = &r.counter("gatehouse_ws_messages_sent_total", "WebSocket messages written.").with({});
    ws_metrics.received =
        &r.counter("gatehouse_ws_messages_received_total", "WebSocket messages read and handled.").with({});
    ws_metrics.resume_closes = &r.counter("gatehouse_ws_slow_consumer_closes_total",
                                          "WebSockets closed with 4008 because their client fell behind (send queue "
                                          "full, or a resume it stopped reading).")
                                    .with({});
    ws_metrics.rate_closes =
        &r.counter("gatehouse_ws_rate_limit_closes_total", "WebSockets closed with 1008 for sending messages too fast.")
             .with({});
    body_budget.on_idle([this](std::size_t) { return_memory(); });
  }

  Executor executor;
  ServerSettings settings;
  Dispatcher& dispatcher;
  tcp::acceptor acceptor;
  std::atomic<bool> is_draining{false};
  std::uint16_t bound_port = 0;
  metrics::Gauge& open_gauge;
  metrics::Counter& accepted;
  metrics::Counter& refused;
  metrics::Counter& refused_per_ip;
  metrics::Counter& evicted;
  detail::BodyBudget body_budget;
  detail::WebSocketMetrics ws_metrics;
  std::atomic<std::int64_t> last_trim_ms{0};
  std::atomic<std::size_t> ws_open{0};
  // The one timer of the WebSocket heartbeats (pings and idle timeouts of every socket); the sweep's
  // coroutine owns it.
  std::weak_ptr<asio::steady_timer> sweep_timer;

  mutable std::mutex mutex;
  std::condition_variable all_closed;                          // notified when `sessions` empties
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions;  // by id: oldest first
  std::map<std::string, std::size_t, std::less<>> per_ip;
  std::size_t evicting = 0;  // evicted sessions not yet gone
  std::uint64_t next_id = 0;

  // After a flood of bodies, hand the freed pages back to the system (at most once a second):
  // glibc keeps freed heap memory mapped otherwise, and RSS would stay at the flood's peak.
  void return_memory() {
    const auto now =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
            .count();
    auto last = last_trim_ms.load();
    if (now - last < 1000 || !last_trim_ms.compare_exchange_strong(last, now)) return;
    release_free_memory();
  }

  static std::string peer_key(const tcp::endpoint& endpoint) {
    auto address = endpoint.address();
    if (address.is_v6() && address.to_v6().is_v4_mapped()) {
      address = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6());
    }
    return address.to_string();
  }

  static std::string cap_key_of(const std::string& ip) { return client_prefix(ip); }

  bool exempt(const std::string& ip) const {
    if (settings.cap_exempt.empty()) return false;
    auto address = IpAddress::parse(ip);
    if (!address) return false;
    for (const auto& n : settings.cap_exempt) {
      if (n.contains(*address)) return true;
    }
    return false;
  }

  enum class Admission { admit, refuse_total, refuse_ip };

  // Decides on a new connection and, when admitted, registers it. At the connection limit, the
  // idle connection of the peer holding the most connections (the oldest among equals) is closed
  // to make room; only when no connection is idle is the newcomer refused.
  Admission admit(const std::string& ip, const std::shared_ptr<Session>& session, std::uint64_t& id) {
    std::shared_ptr<Session> victim;
    {
      std::lock_guard lock(mutex);
      const auto key = cap_key_of(ip);
      auto& count = per_ip[key];
      if (count >= settings.max_connections_per_ip && !exempt(ip)) {
        if (count == 0) per_ip.erase(key);
        return Admission::refuse_ip;
      }
      if (sessions.size() - evicting >= settings.max_connections) {
        std::size_t best = 0;
        for (const auto& [sid, s] : sessions) {
          if (s->evicted || !s->idle.load()) continue;
          const auto held = per_ip[s->cap_key];
          if (!victim || held > best) {
            victim = s;
            best = held;
          }
        }
        if (!victim) {
          if (count == 0) per_ip.erase(key);
          return Admission::refuse_total;
        }
        victim->evicted = true;
        ++evicting;
      }
      ++count;
      id = next_id++;
      session->ip = ip;
      session->cap_key = key;
      sessions.emplace(id, session);
    }
    if (victim) {
      evicted.inc();
      asio::post(victim->executor, [victim] {
        if (victim->stream && victim->idle.load()) victim->stream->cancel();
      });
    }
    return Admission::admit;
  }

  void forget(std::uint64_t id, const std::shared_ptr<Session>& session) {
    std::lock_guard lock(mutex);
    session->stream = nullptr;
    if (session->evicted) --evicting;
    sessions.erase(id);
    if (auto it = per_ip.find(session->cap_key); it != per_ip.end() && --it->second == 0) per_ip.erase(it);
    if (sessions.empty()) all_closed.notify_all();
  }

  // Waits until every session is gone or `deadline` passes; true when they are all gone.
  bool wait_all_closed(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mutex);
    return all_closed.wait_until(lock, deadline, [this] { return sessions.empty(); });
  }

  Task<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] =
          co_await acceptor.async_accept(asio::make_strand(executor), asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open() || is_draining) break;
        log::warn("accept failed", {{"error", ec.message()}});
        // Out of descriptors or similar: back off briefly instead of spinning.
        asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      boost::system::error_code peer_ec;
      const auto peer = socket.remote_endpoint(peer_ec);
      const std::string ip = peer_ec ? std::string("unknown") : peer_key(peer);
      auto session = std::make_shared<Session>();
      std::uint64_t id = 0;
      const auto admission = admit(ip, session, id);
      if (admission != Admission::admit) {
        (admission == Admission::refuse_ip ? refused_per_ip : refused).inc();
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      accepted.inc();
      auto exec = socket.get_executor();
      asio::co_spawn(exec, serve(std::move(socket), std::move(session), id), LoggedDetached("http.connection"));
    }
  }

  Task<void> serve(tcp::socket socket, std::shared_ptr<Session> session, std::uint64_t id) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    boost::beast::tcp_stream stream(std::move(socket));
    {
      std::lock_guard lock(mutex);
      session->stream = &stream;
      session->executor = stream.get_executor();
    }
    open_gauge.inc();

    detail::SessionContext ctx;
    ctx.settings = &settings;
    ctx.dispatcher = &dispatcher;
    ctx.remote_ip = session->ip;
    ctx.idle = &session->idle;
    ctx.draining = [this] { return is_draining.load(); };
    ctx.body_budget = &body_budget;
    std::optional<detail::WebSocketUpgrade> upgrade;
    try {
      upgrade = co_await detail::run_session(stream, std::move(ctx));
    } catch (const std::exception& e) {
      log::error("session failed", {{"what", e.what()}});
    }
    // An upgraded socket lives on in its WebSocketConnection; this coroutine ends either way.
    if (upgrade && co_await open_websocket(stream, session, id, std::move(*upgrade))) co_return;
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    ended(id, session);
  }

  // The handshake, then the socket moves out of the HTTP stream into its connection.
  Task<bool> open_websocket(boost::beast::tcp_stream& stream, std::shared_ptr<Session> session, std::uint64_t id,
                            detail::WebSocketUpgrade upgrade) {
    if (!co_await detail::accept_websocket(stream, settings, std::move(upgrade.request))) co_return false;
    {
      std::lock_guard lock(mutex);
      session->stream = nullptr;
    }
    auto connection = std::make_shared<detail::WebSocketConnection>(
        stream.release_socket(), settings, ws_metrics, std::move(upgrade.session),
        [self = shared_from_this(), session, id] {
          {
            std::lock_guard lock(self->mutex);
            session->upgraded = false;
          }
          self->ws_open.fetch_sub(1);
          self->ended(id, session);
        },
        &body_budget);
    {
      std::lock_guard lock(mutex);
      session->ws = connection;
      session->upgraded = true;
    }
    ws_open.fetch_add(1);
    // A drain that began before the upgrade completed still reaches this socket.
    if (is_draining.load()) connection->close(close_code::restart, "server restarting");
    connection->start();
    co_return true;
  }

  void ended(std::uint64_t id, const std::shared_ptr<Session>& session) {
    forget(id, session);
    open_gauge.dec();
  }

  // Every socket's heartbeat, from one timer: a socket silent for half the idle timeout is pinged,
  // one silent for all of it is cut. The period bounds how late either comes.
  static Task<void> sweep_websockets(std::weak_ptr<Impl> weak, std::shared_ptr<asio::steady_timer> timer,
                                     std::chrono::milliseconds period) {
    for (;;) {
      timer->expires_after(period);
      auto [ec] = co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      auto impl = weak.lock();
      if (!impl) co_return;
      std::vector<std::shared_ptr<detail::WebSocketConnection>> open;
      {
        std::lock_guard lock(impl->mutex);
        open.reserve(impl->ws_open.load());
        for (const auto& [sid, s] : impl->sessions) {
          if (auto ws = s->ws.lock()) open.push_back(std::move(ws));
        }
      }
      const auto now = std::chrono::steady_clock::now();
      for (const auto& ws : open) ws->heartbeat(now);
    }
  }

  std::size_t connections() const {
    std::lock_guard lock(mutex);
    return sessions.size();
  }

  // Runs on each session's strand, so it never races the session's own use of the stream.
  void close_sessions(bool only_idle) {
    std::vector<std::shared_ptr<Session>> snapshot;
    {
      std::lock_guard lock(mutex);
      for (auto& [id, s] : sessions) snapshot.push_back(s);
    }
    for (auto& s : snapshot) {
      // A WebSocket is told to go with 1012 (reconnect later), then cut like the rest.
      std::shared_ptr<detail::WebSocketConnection> ws;
      {
        std::lock_guard lock(mutex);
        ws = s->ws.lock();
      }
      if (ws) {
        if (only_idle) {
          ws->close(close_code::restart, "server restarting");
        } else {
          ws->cut();
        }
        continue;
      }
      asio::post(s->executor, [s, only_idle] {
        if (s->stream && (!only_idle || s->idle.load())) s->stream->cancel();
      });
    }
  }
};

HttpServer::HttpServer(Executor executor, ServerSettings settings, Dispatcher& dispatcher, metrics::Registry& registry)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(settings), dispatcher, registry)) {
  keep_large_allocations_mapped();
  std::weak_ptr<Impl> weak = m_impl;
  registry.callback("gatehouse_http_body_bytes_in_flight", "Request-body bytes reserved by requests in flight.", false,
                    [weak] {
                      auto impl = weak.lock();
                      const double used = impl ? static_cast<double>(impl->body_budget.in_use()) : 0.0;
                      return std::vector<metrics::Sample>{{{}, used}};
                    });
  registry.callback("gatehouse_http_bodies_refused_total",
                    "Requests refused with 503 because the request-body budget was spent.", true, [weak] {
                      auto impl = weak.lock();
                      const double n = impl ? static_cast<double>(impl->body_budget.refusals()) : 0.0;
                      return std::vector<metrics::Sample>{{{}, n}};
                    });
}

HttpServer::~HttpServer() {
  if (auto timer = m_impl->sweep_timer.lock()) timer->cancel();
  boost::system::error_code ignored;
  m_impl->acceptor.close(ignored);
}

Result<void> HttpServer::listen() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(m_impl->settings.host, ec);
  if (ec)
    return bad_input("invalid_listen_address", "cannot listen on '" + m_impl->settings.host + "': not an IP address");
  const tcp::endpoint endpoint(address, m_impl->settings.port);
  auto& acc = m_impl->acceptor;
  acc.open(endpoint.protocol(), ec);
  if (!ec) acc.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acc.bind(endpoint, ec);
  if (!ec) acc.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return make_error(ErrorKind::unavailable, "listen_failed",
                      "cannot listen on " + m_impl->settings.host + ":" + std::to_string(m_impl->settings.port) + ": " +
                          ec.message());
  }
  m_impl->bound_port = acc.local_endpoint().port();
  return ok();
}

std::uint16_t HttpServer::port() const noexcept {
  return m_impl->bound_port;
}

void HttpServer::start() {
  asio::co_spawn(m_impl->acceptor.get_executor(), m_impl->accept_loop(), LoggedDetached("http.accept"));
  const auto idle = m_impl->settings.ws_idle_timeout;
  if (idle.count() > 0) {
    const auto period = std::clamp(idle / 4, std::chrono::milliseconds(50), std::chrono::milliseconds(5000));
    auto timer = std::make_shared<asio::steady_timer>(m_impl->executor);
    m_impl->sweep_timer = timer;
    asio::co_spawn(m_impl->executor, Impl::sweep_websockets(m_impl, std::move(timer), period),
                   LoggedDetached("http.websocket_sweep"));
  }
}

void HttpServer::drain(std::chrono::milliseconds timeout) {
  auto impl = m_impl;
  impl->is_draining = true;
  asio::post(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  // Idle connections go at once. A busy one closes after its response: a draining session keeps
  // no connection alive and takes no new request, so this one pass reaches every session (one
  // that was busy here sees the draining flag itself). The last session to go wakes the wait.
  impl->close_sessions(true);
  if (impl->wait_all_closed(std::chrono::steady_clock::now() + timeout)) return;
  log::warn("drain timed out; closing connections", {{"open", impl->connections()}});
  impl->close_sessions(false);
  impl->wait_all_closed(std::chrono::steady_clock::now() + std::chrono::seconds(1));
}

std::size_t HttpServer::connections() const noexcept {
  return m_impl->connections();
}

std::size_t HttpServer::body_bytes_in_flight() const noexcept {
  return m_impl->body_budget.in_use();
}

std::size_t HttpServer::websockets() const noexcept {
  return m_impl->ws_open.load();
}

bool HttpServer::draining() const noexcept {
  return m_impl->is_draining.load();
}

}  // namespace gh::net
