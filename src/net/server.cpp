#include "net/server.hpp"

#include <map>
#include <mutex>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include "core/log.hpp"
#include "net/server_session.hpp"

namespace gh::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  struct Session {
    std::atomic<bool> idle{false};
    boost::beast::tcp_stream* stream = nullptr;
    asio::any_io_executor executor;
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
                    .with({})) {}

  Executor executor;
  ServerSettings settings;
  Dispatcher& dispatcher;
  tcp::acceptor acceptor;
  std::atomic<bool> is_draining{false};
  std::uint16_t bound_port = 0;
  metrics::Gauge& open_gauge;
  metrics::Counter& accepted;
  metrics::Counter& refused;

  mutable std::mutex mutex;
  std::map<std::uint64_t, std::shared_ptr<Session>> sessions;
  std::uint64_t next_id = 0;

  Task<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::make_strand(executor),
                                                         asio::as_tuple(asio::use_awaitable));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor.is_open() || is_draining) break;
        log::warn("accept failed", {{"error", ec.message()}});
        // Out of descriptors or similar: back off briefly instead of spinning.
        asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      if (connections() >= settings.max_connections) {
        refused.inc();
        boost::system::error_code ignored;
        socket.close(ignored);
        continue;
      }
      accepted.inc();
      auto exec = socket.get_executor();
      asio::co_spawn(exec, serve(std::move(socket)), asio::detached);
    }
  }

  Task<void> serve(tcp::socket socket) {
    auto self = shared_from_this();
    boost::system::error_code ec;
    const auto endpoint = socket.remote_endpoint(ec);
    boost::beast::tcp_stream stream(std::move(socket));
    auto session = std::make_shared<Session>();
    session->stream = &stream;
    session->executor = stream.get_executor();
    std::uint64_t id = 0;
    {
      std::lock_guard lock(mutex);
      id = next_id++;
      sessions.emplace(id, session);
    }
    open_gauge.inc();

    detail::SessionContext ctx;
    ctx.settings = &settings;
    ctx.dispatcher = &dispatcher;
    ctx.remote_ip = ec ? std::string("unknown") : endpoint.address().to_string();
    ctx.idle = &session->idle;
    ctx.draining = [this] { return is_draining.load(); };
    try {
      co_await detail::run_session(stream, std::move(ctx));
    } catch (const std::exception& e) {
      log::error("session failed", {{"what", e.what()}});
    }
    stream.socket().shutdown(tcp::socket::shutdown_send, ec);
    stream.close();
    {
      std::lock_guard lock(mutex);
      session->stream = nullptr;
      sessions.erase(id);
    }
    open_gauge.dec();
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
      asio::post(s->executor, [s, only_idle] {
        if (s->stream && (!only_idle || s->idle.load())) s->stream->cancel();
      });
    }
  }
};

HttpServer::HttpServer(Executor executor, ServerSettings settings, Dispatcher& dispatcher, metrics::Registry& registry)
    : m_impl(std::make_shared<Impl>(std::move(executor), std::move(settings), dispatcher, registry)) {}

HttpServer::~HttpServer() {
  boost::system::error_code ignored;
  m_impl->acceptor.close(ignored);
}

Result<void> HttpServer::listen() {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(m_impl->settings.host, ec);
  if (ec) return bad_input("invalid_listen_address", "cannot listen on '" + m_impl->settings.host + "': not an IP address");
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

std::uint16_t HttpServer::port() const noexcept { return m_impl->bound_port; }

void HttpServer::start() {
  asio::co_spawn(m_impl->acceptor.get_executor(), m_impl->accept_loop(), asio::detached);
}

void HttpServer::drain(std::chrono::milliseconds timeout) {
  auto impl = m_impl;
  impl->is_draining = true;
  asio::post(impl->acceptor.get_executor(), [impl] {
    boost::system::error_code ignored;
    impl->acceptor.close(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  // Idle connections go at once; busy ones close after their response (keep-alive is off now).
  while (impl->connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    impl->close_sessions(true);
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (impl->connections() > 0) {
    log::warn("drain timed out; closing connections", {{"open", impl->connections()}});
    impl->close_sessions(false);
    const auto hard = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    while (impl->connections() > 0 && std::chrono::steady_clock::now() < hard) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
}

std::size_t HttpServer::connections() const noexcept { return m_impl->connections(); }

bool HttpServer::draining() const noexcept { return m_impl->is_draining.load(); }

}  // namespace gh::net
