// The session over beast::test::stream: every error path runs without sockets. fail_count makes
// the n-th stream operation fail, for every n until the exchange succeeds.
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/beast/_experimental/test/stream.hpp>

#include "net/server_session.hpp"

namespace gh::net {
namespace {

namespace test = boost::beast::test;

struct SessionTest : ::testing::Test {
  SessionTest() : dispatcher(make_router(), registry, DispatcherSettings{false, {}, false, false}) {
    settings.max_body_bytes = 64;
    settings.max_header_bytes = 512;
  }

  static Router make_router() {
    Router r;
    r.add("GET", "/x", [](Request&) -> Task<Result<Response>> { co_return Response::text(200, "hello"); });
    r.add("POST", "/echo", [](Request& req) -> Task<Result<Response>> { co_return Response::text(200, req.body); });
    return r;
  }

  // Runs one session over `input`; returns what the server wrote.
  std::string exchange(std::string_view input, test::fail_count* fc = nullptr, bool* finished = nullptr) {
    boost::asio::io_context io;
    auto server = fc ? test::stream(io, *fc) : test::stream(io);
    test::stream client(io);
    server.connect(client);
    server.append(input);
    server.close_remote();
    bool done = false;
    detail::SessionContext ctx;
    ctx.settings = &settings;
    ctx.dispatcher = &dispatcher;
    ctx.remote_ip = "192.0.2.1";
    ctx.draining = [this] { return draining; };
    boost::asio::co_spawn(
        io,
        [&]() -> Task<void> {
          co_await detail::run_session(server, std::move(ctx));
          done = true;
        },
        boost::asio::detached);
    io.run();
    if (finished) *finished = done;
    return std::string(client.str());
  }

  metrics::Registry registry;
  ServerSettings settings;
  Dispatcher dispatcher;
  bool draining = false;
};

TEST_F(SessionTest, AnswersAndKeepsAlive) {
  const auto out = exchange("GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 200 OK"), 0u);
  EXPECT_NE(out.find("HTTP/1.1 200 OK", 10), std::string::npos) << out;
  EXPECT_NE(out.find("X-Request-Id: "), std::string::npos);
}

TEST_F(SessionTest, ConnectionCloseEndsTheSession) {
  const auto out = exchange("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 200 OK"), 0u);
  EXPECT_EQ(out.find("HTTP/1.1 200 OK", 10), std::string::npos);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
}

TEST_F(SessionTest, DrainingClosesAfterTheResponse) {
  draining = false;
  auto out = exchange("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.find("Connection: close"), std::string::npos);
  draining = true;
  out = exchange("GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_TRUE(out.empty()) << "a draining session takes no new request";
}

TEST_F(SessionTest, BodyOverLimitIs413) {
  const std::string body(100, 'x');
  const auto out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" + body);
  EXPECT_EQ(out.find("HTTP/1.1 413"), 0u) << out;
  EXPECT_NE(out.find("\"code\":\"body_too_large\""), std::string::npos);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
}

TEST_F(SessionTest, ChunkedBodyOverLimitIs413) {
  std::string chunked = "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 5; ++i) chunked += "20\r\n" + std::string(32, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  const auto out = exchange(chunked);
  EXPECT_EQ(out.find("HTTP/1.1 413"), 0u) << out;
}

TEST_F(SessionTest, HeadersOverLimitAre413) {
  const auto out = exchange("GET /x HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(1000, 'h') + "\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 413"), 0u) << out;
  EXPECT_NE(out.find("\"code\":\"headers_too_large\""), std::string::npos);
}

TEST_F(SessionTest, MalformedRequestIs400) {
  const auto out = exchange("GET /x HTTP/1.1\r\nHost a\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << out;
  EXPECT_NE(out.find("\"code\":\"bad_request\""), std::string::npos);
}

TEST_F(SessionTest, ExpectContinueGetsAnInterimResponse) {
  const auto out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
  EXPECT_EQ(out.find("HTTP/1.1 100 Continue"), 0u) << out;
  EXPECT_NE(out.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(out.find("\r\n\r\nhi"), std::string::npos);
}

TEST_F(SessionTest, EveryFailingOperationEndsTheSessionCleanly) {
  const std::string input =
      "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"
      "GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
  std::size_t n = 0;
  for (; n < 50; ++n) {
    test::fail_count fc(n);
    bool finished = false;
    const auto out = exchange(input, &fc, &finished);
    EXPECT_TRUE(finished) << "session did not end at failure " << n;
    if (out.find("hello") != std::string::npos && out.find("HTTP/1.1 200 OK", out.find("hello")) != std::string::npos) {
      break;  // no operation failed any more: the whole exchange went through
    }
  }
  EXPECT_GT(n, 2u);
  EXPECT_LT(n, 50u);
}

}  // namespace
}  // namespace gh::net
