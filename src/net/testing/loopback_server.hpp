#pragma once
// A scriptable HTTP/1.1 server on 127.0.0.1 and an ephemeral port, for tests of HTTP clients (the
// net HttpClient, the rpc client's fake providers). Beast reads each request; the test's handler
// returns raw bytes to write, so a test can answer with malformed, truncated or hanging responses.
// Runs on its own thread; the destructor stops it. Test code only.
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "core/task.hpp"

namespace gh::net::testing {

/// What the server does with one request: write `raw`, then keep the connection, close it
/// (`close_after`), or never answer and hold the connection open (`hang`).
struct Reply {
  std::string raw;
  bool close_after = false;
  bool hang = false;
};

/// A complete response with a Content-Length body.
inline std::string http_response(unsigned status, std::string_view content_type, std::string_view body,
                                 std::string_view extra_headers = {}) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: " + std::string(content_type) +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + std::string(extra_headers) + "\r\n" +
         std::string(body);
}

class LoopbackServer {
 public:
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  /// Called on the server's thread for each request, with the number of requests before it.
  using Handler = std::function<Reply(const Request& request, int index)>;

  /// For handlers that do not need the index.
  explicit LoopbackServer(std::function<Reply(const Request& request)> handler)
      : LoopbackServer(Handler([h = std::move(handler)](const Request& request, int) { return h(request); })) {}
  explicit LoopbackServer(Handler handler)
      : m_handler(std::move(handler)), m_acceptor(m_ioc, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    boost::asio::co_spawn(m_ioc, accept_loop(), boost::asio::detached);
    m_thread = std::thread([this] { m_ioc.run(); });
  }
  ~LoopbackServer() {
    m_ioc.stop();
    m_thread.join();
  }
  LoopbackServer(const LoopbackServer&) = delete;
  LoopbackServer& operator=(const LoopbackServer&) = delete;

  unsigned short port() const { return m_acceptor.local_endpoint().port(); }
  /// "http://127.0.0.1:PORT" followed by `path`.
  std::string url(std::string_view path = {}) const {
    return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
  }
  /// Connections accepted so far.
  int connections() const { return m_connections.load(); }
  /// Requests read so far.
  int requests() const { return m_requests.load(); }

 private:
  Task<void> accept_loop() {
    for (;;) {
      auto [ec, socket] = co_await m_acceptor.async_accept(boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      ++m_connections;
      boost::asio::co_spawn(m_ioc, session(std::move(socket)), boost::asio::detached);
    }
  }

  Task<void> session(boost::asio::ip::tcp::socket socket) {
    boost::beast::flat_buffer buffer;
    for (;;) {
      Request req;
      auto [ec, n] = co_await boost::beast::http::async_read(socket, buffer, req,
                                                             boost::asio::as_tuple(boost::asio::use_awaitable));
      if (ec) co_return;
      const Reply reply = m_handler(req, m_requests++);
      if (reply.hang) {
        boost::asio::steady_timer forever(m_ioc, std::chrono::hours(1));
        co_await forever.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
        co_return;
      }
      auto [wec, w] = co_await boost::asio::async_write(socket, boost::asio::buffer(reply.raw),
                                                        boost::asio::as_tuple(boost::asio::use_awaitable));
      if (wec || reply.close_after) co_return;
    }
  }

  Handler m_handler;
  boost::asio::io_context m_ioc;
  boost::asio::ip::tcp::acceptor m_acceptor;
  std::atomic<int> m_connections{0};
  std::atomic<int> m_requests{0};
  std::thread m_thread;
};

}  // namespace gh::net::testing
