// WebSocketConnection over a loopback TCP pair, against Beast's client: messages both ways, the
// limits (size 1009, binary 1003, rate 1008, send queue 4008), the close handshake either way,
// the close timeout, pings and the idle timeout, the server's budget of incoming bytes (1013), and
// a handler that fails (1011, or 4008 when the database is out of reach).
#include "net/websocket_connection.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

namespace gh::net::detail {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::as_tuple;
using asio::use_awaitable;

struct Recorder final : WebSocketSession {
  std::shared_ptr<WebSocket> socket;
  std::vector<std::string> got;
  bool echo = true;
  bool closed = false;
  void on_open(std::shared_ptr<WebSocket> s) override { socket = std::move(s); }
  Task<void> on_message(std::string message) override {
    got.push_back(message);
    if (message == "bug") throw std::runtime_error("a bug's detail");
    if (message == "lost") throw DatabaseLost("server closed the connection unexpectedly");
    if (echo) socket->send(std::string_view(message));
    co_return;
  }
  // What the store throws when the database is out of reach.
  struct DatabaseLost : ServiceFailure {
    using ServiceFailure::ServiceFailure;
    bool unreachable() const noexcept override { return true; }
  };
  void on_close() override {
    closed = true;
    socket.reset();
  }
};

struct WebSocketConnectionTest : ::testing::Test {
  asio::io_context io;
  ServerSettings settings;
  std::shared_ptr<Recorder> session = std::make_shared<Recorder>();
  std::shared_ptr<WebSocketConnection> server;
  websocket::stream<beast::tcp_stream> client{io};
  bool ended = false;
  int server_sndbuf = 0;  // a small send buffer makes the queue fill quickly
  int client_rcvbuf = 0;
  BodyBudget* budget = nullptr;

  Task<void> open() {
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    asio::co_spawn(
        io,
        [this, &acceptor]() -> Task<void> {
          auto socket = co_await acceptor.async_accept(asio::make_strand(io), use_awaitable);
          if (server_sndbuf > 0) socket.set_option(asio::socket_base::send_buffer_size(server_sndbuf));
          beast::tcp_stream stream(std::move(socket));
          beast::flat_buffer buffer;
          beast::http::request<beast::http::string_body> request;
          co_await beast::http::async_read(stream, buffer, request, use_awaitable);
          EXPECT_TRUE(co_await accept_websocket(stream, settings, std::move(request)));
          server = std::make_shared<WebSocketConnection>(
              stream.release_socket(), settings, WebSocketMetrics{}, session, [this] { ended = true; }, budget);
          server->start();
        },
        asio::detached);
    auto& socket = client.next_layer().socket();
    socket.open(tcp::v4());
    if (client_rcvbuf > 0) socket.set_option(asio::socket_base::receive_buffer_size(client_rcvbuf));
    co_await client.next_layer().async_connect(acceptor.local_endpoint(), use_awaitable);
    co_await client.async_handshake("127.0.0.1", "/", use_awaitable);
    while (!server) co_await sleep(std::chrono::milliseconds(1));
  }

  Task<void> sleep(std::chrono::milliseconds d) {
    asio::steady_timer t(io, d);
    co_await t.async_wait(use_awaitable);
  }

  // Reads until the server closes; returns the messages read and the close code.
  Task<std::pair<std::vector<std::string>, std::uint16_t>> read_to_close() {
    std::vector<std::string> got;
    for (;;) {
      beast::flat_buffer buffer;
      auto [ec, n] = co_await client.async_read(buffer, as_tuple(use_awaitable));
      if (ec) break;
      got.push_back(beast::buffers_to_string(buffer.data()));
    }
    co_return std::pair{got, static_cast<std::uint16_t>(client.reason().code)};
  }

  // Sends `message`, which the handler fails on, and returns the code the server closed with once
  // the connection ended (only the client's answer to the close can end it within the test's run).
  std::uint16_t close_code_after(const std::string& message) {
    settings.ws_close_timeout = std::chrono::hours(1);
    std::uint16_t code = 0;
    run([&]() -> Task<void> {
      co_await client.async_write(asio::buffer(message), use_awaitable);
      code = (co_await read_to_close()).second;
      while (!ended) co_await sleep(std::chrono::milliseconds(1));
    });
    return code;
  }

  template <class F>
  void run(F body) {
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> Task<void> {
          co_await open();
          co_await body();
          // Nothing left pending: the io_context runs out of work.
          if (!ended) server->cut();
          while (!ended) co_await sleep(std::chrono::milliseconds(1));
          beast::get_lowest_layer(client).close();
          done = true;
        },
        [](const std::exception_ptr& e) {
          if (e) std::rethrow_exception(e);
        });
    io.run_for(std::chrono::seconds(20));
    EXPECT_TRUE(done);
  }
};

TEST_F(WebSocketConnectionTest, MessagesBothWaysThenACloseFromTheClient) {
  run([&]() -> Task<void> {
    co_await client.async_write(asio::buffer(std::string("hello")), use_awaitable);
    beast::flat_buffer buffer;
    co_await client.async_read(buffer, use_awaitable);
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), "hello");
    EXPECT_EQ(server->queued_messages(), 0U);
    co_await client.async_close(websocket::close_code::normal, use_awaitable);
    while (!ended) co_await sleep(std::chrono::milliseconds(1));
    EXPECT_TRUE(session->closed);
    EXPECT_EQ(session->got, std::vector<std::string>{"hello"});
  });
}

TEST_F(WebSocketConnectionTest, TheServerClosesWithItsCode) {
  // Only the client's answer can end the connection within the test's run.
  settings.ws_close_timeout = std::chrono::hours(1);
  run([&]() -> Task<void> {
    server->send(std::string_view("last"));
    server->close(close_code::restart, "server restarting");
    EXPECT_TRUE(server->closing());
    EXPECT_FALSE(server->send(std::string_view("dropped")));
    auto [got, code] = co_await read_to_close();
    EXPECT_EQ(got, std::vector<std::string>{"last"});
    EXPECT_EQ(code, close_code::restart);
    // The client's answer ends the connection, not the close timeout.
    while (!ended) co_await sleep(std::chrono::milliseconds(1));
  });
}

TEST_F(WebSocketConnectionTest, AHandlerThatFailsCloses1011) {
  EXPECT_EQ(close_code_after("bug"), close_code::internal);
  EXPECT_EQ(client.reason().reason.find("detail"), std::string::npos);
}

TEST_F(WebSocketConnectionTest, AHandlerThatFindsTheDatabaseOutOfReachCloses4008ToResumeLater) {
  EXPECT_EQ(close_code_after("lost"), close_code::resume);
}

TEST_F(WebSocketConnectionTest, MessagesOverTheLimitClose1009) {
  settings.ws_max_message_bytes = 100;
  // Only the close handshake can end the connection within the test's run.
  settings.ws_close_timeout = std::chrono::hours(1);
  run([&]() -> Task<void> {
    co_await client.async_write(asio::buffer(std::string(101, 'x')), use_awaitable);
    auto [got, code] = co_await read_to_close();
    EXPECT_EQ(code, close_code::too_big);
    EXPECT_TRUE(session->got.empty());
    while (!ended) co_await sleep(std::chrono::milliseconds(1));
  });
}

TEST_F(WebSocketConnectionTest, IncomingBytesPastTheAllowanceHoldTheBudgetAndASocketItCannotCoverCloses1013) {
  settings.ws_max_message_bytes = std::size_t{256} * 1024;
  constexpr std::size_t allowance = WebSocketConnection::inbound_allowance;
  settings.ws_close_timeout = std::chrono::milliseconds(100);
  BodyBudget shared(std::size_t{64} * 1024);
  budget = &shared;
  session->echo = false;
  run([&]() -> Task<void> {
    // The first part of a fragmented message: held by the socket, it holds its size past the
    // allowance of the budget until its handler ends.
    co_await client.async_write_some(false, asio::buffer(std::string(48 * 1024, 'a')), use_awaitable);
    while (shared.in_use() != 48 * 1024 - allowance) co_await sleep(std::chrono::milliseconds(1));
    co_await client.async_write_some(true, asio::buffer(std::string(8 * 1024, 'b')), use_awaitable);
    while (session->got.empty() || shared.in_use() != 0) co_await sleep(std::chrono::milliseconds(1));
    EXPECT_EQ(session->got[0].size(), std::size_t{56} * 1024);
    EXPECT_EQ(shared.refusals(), 0U);

    // A message the budget cannot cover: the socket is closed with 1013 and gives everything back.
    co_await client.async_write_some(false, asio::buffer(std::string(100 * 1024, 'c')), as_tuple(use_awaitable));
    auto [got, code] = co_await read_to_close();
    EXPECT_EQ(code, close_code::try_again);
    while (!ended) co_await sleep(std::chrono::milliseconds(1));
    EXPECT_EQ(shared.in_use(), 0U);
    EXPECT_GE(shared.refusals(), 1U);
    EXPECT_EQ(session->got.size(), 1U);
  });
}

TEST_F(WebSocketConnectionTest, BinaryMessagesClose1003) {
  run([&]() -> Task<void> {
    client.binary(true);
    co_await client.async_write(asio::buffer(std::string("bin")), use_awaitable);
    auto [got, code] = co_await read_to_close();
    EXPECT_EQ(code, close_code::unsupported);
  });
}

TEST_F(WebSocketConnectionTest, TooManyMessagesClose1008) {
  settings.ws_messages_per_second = 1;
  settings.ws_message_burst = 3;
  session->echo = false;
  run([&]() -> Task<void> {
    for (int i = 0; i < 6; ++i) co_await client.async_write(asio::buffer(std::string("m")), use_awaitable);
    auto [got, code] = co_await read_to_close();
    EXPECT_EQ(code, close_code::policy);
    EXPECT_EQ(session->got.size(), 3U);
  });
}

TEST_F(WebSocketConnectionTest, AConsumerThatFallsBehindIsClosedWith4008) {
  settings.ws_send_queue_messages = 8;
  server_sndbuf = 4096;
  client_rcvbuf = 4096;
  run([&]() -> Task<void> {
    const auto frame = EncodedFrame::text(std::string(4000, 'z'));
    int taken = 0;
    for (int i = 0; i < 1000 && server->send(frame); ++i) ++taken;
    EXPECT_LT(taken, 1000);
    EXPECT_TRUE(server->closing());
    EXPECT_LE(server->queued_messages(), settings.ws_send_queue_messages + 1);
    auto [got, code] = co_await read_to_close();
    EXPECT_EQ(code, close_code::resume);
    EXPECT_LE(got.size(), static_cast<std::size_t>(taken));
    for (const auto& m : got) EXPECT_EQ(m.size(), 4000U);
  });
}

TEST_F(WebSocketConnectionTest, APeerThatNeverAnswersTheCloseIsCut) {
  settings.ws_close_timeout = std::chrono::milliseconds(100);
  run([&]() -> Task<void> {
    server->close(close_code::normal, "bye");
    co_await sleep(std::chrono::milliseconds(300));
    EXPECT_TRUE(ended);
    EXPECT_TRUE(session->closed);
  });
}

TEST_F(WebSocketConnectionTest, HeartbeatsPingThenCutASilentPeer) {
  settings.ws_idle_timeout = std::chrono::milliseconds(1000);
  run([&]() -> Task<void> {
    bool pinged = false;
    client.control_callback([&](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) pinged = true;
    });
    server->heartbeat(std::chrono::steady_clock::now() + std::chrono::milliseconds(600));
    beast::flat_buffer buffer;
    // The read answers the ping (and waits for a message that never comes: cut below).
    asio::co_spawn(io, client.async_read(buffer, as_tuple(use_awaitable)), asio::detached);
    co_await sleep(std::chrono::milliseconds(50));
    EXPECT_TRUE(pinged);
    EXPECT_FALSE(ended);
    // The pong counts as hearing from the peer: not cut at the next heartbeat.
    server->heartbeat(std::chrono::steady_clock::now() + std::chrono::milliseconds(100));
    co_await sleep(std::chrono::milliseconds(20));
    EXPECT_FALSE(ended);
    server->heartbeat(std::chrono::steady_clock::now() + std::chrono::milliseconds(1100));
    co_await sleep(std::chrono::milliseconds(50));
    EXPECT_TRUE(ended);
    EXPECT_TRUE(session->closed);
  });
}

TEST_F(WebSocketConnectionTest, ClientPingsAreAnswered) {
  run([&]() -> Task<void> {
    bool ponged = false;
    client.control_callback([&](websocket::frame_type kind, beast::string_view payload) {
      if (kind == websocket::frame_type::pong && payload == "abc") ponged = true;
    });
    co_await client.async_ping("abc", use_awaitable);
    co_await sleep(std::chrono::milliseconds(20));  // the server reads the ping before "after" is sent
    server->send(std::string_view("after"));
    beast::flat_buffer buffer;
    co_await client.async_read(buffer, use_awaitable);
    EXPECT_TRUE(ponged);
    EXPECT_EQ(beast::buffers_to_string(buffer.data()), "after");
  });
}

}  // namespace
}  // namespace gh::net::detail
