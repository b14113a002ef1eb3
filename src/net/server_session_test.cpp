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
  SessionTest() : dispatcher(make_router(), registry, quiet()) {
    settings.max_body_bytes = 64;
    settings.max_header_bytes = 512;
  }

  static DispatcherSettings quiet() {
    DispatcherSettings s;
    s.rate_limit_enabled = false;
    s.access_log = false;
    return s;
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
    ctx.body_budget = budget;
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
  detail::BodyBudget* budget = nullptr;
};

TEST_F(SessionTest, AnswersAndKeepsAlive) {
  const auto out = exchange("GET /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 200 OK"), 0u);
  EXPECT_NE(out.find("HTTP/1.1 200 OK", 10), std::string::npos) << out;
  EXPECT_NE(out.find("X-Request-Id: "), std::string::npos);
}

TEST_F(SessionTest, ConnectionCloseEndsTheSession) {
  const auto out =
      exchange("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
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

// RFC 9112 6.3: a body whose length cannot be known must not be read as the next request.
TEST_F(SessionTest, TransferEncodingNotEndingInChunkedIs400AndCloses) {
  for (const char* te : {"chunked, identity", "gzip", "identity", "chunked, gzip", ""}) {
    const auto out = exchange(std::string("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + te +
                              "\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << te << ": " << out;
    EXPECT_NE(out.find("Connection: close"), std::string::npos) << te;
    EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << "the smuggled request was served for " << te;
  }
}

TEST_F(SessionTest, UnimplementedTransferCodingIs501AndCloses) {
  for (const char* te : {"gzip, chunked", "deflate,chunked", "x-custom ,  chunked"}) {
    const auto out = exchange(std::string("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ") + te +
                              "\r\n\r\n2\r\nhi\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(out.find("HTTP/1.1 501"), 0u) << te << ": " << out;
    EXPECT_NE(out.find("\"code\":\"not_implemented\""), std::string::npos) << out;
    EXPECT_EQ(out.find("HTTP/1.1 200"), std::string::npos) << te;
  }
  // The same coding split over two header lines is caught too.
  const auto out = exchange(
      "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 501"), 0u) << out;
}

TEST_F(SessionTest, ChunkedAloneStillWorks) {
  const auto out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 200"), 0u) << out;
  EXPECT_NE(out.find("\r\n\r\nhi"), std::string::npos);
}

TEST_F(SessionTest, TransferEncodingInHttp10Is400) {
  const auto out = exchange("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.0 400"), 0u) << out;
}

TEST_F(SessionTest, MissingOrDuplicateHostIs400) {
  auto out = exchange("GET /x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << out;
  EXPECT_NE(out.find("Host"), std::string::npos);
  out = exchange("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 400"), 0u) << out;
  out = exchange("GET /x HTTP/1.0\r\n\r\n");  // HTTP/1.0 needs none
  EXPECT_EQ(out.find("HTTP/1.0 200"), 0u) << out;
}

TEST_F(SessionTest, HeadSendsTheGetHeadWithoutBody) {
  const auto out = exchange("HEAD /x HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 200 OK"), 0u) << out;
  EXPECT_NE(out.find("Content-Length: 5"), std::string::npos) << out;
  const auto second = out.find("HTTP/1.1 200 OK", 10);
  ASSERT_NE(second, std::string::npos) << out;
  // The HEAD response ends with its blank line: the next bytes are the GET's status line.
  EXPECT_EQ(out.substr(second - 4, 4), "\r\n\r\n");
  EXPECT_EQ(out.find("hello"), out.rfind("hello"));
}

TEST(BodyBudget, ReservesUpToItsLimit) {
  detail::BodyBudget b(100);
  {
    detail::BodyReservation one(&b);
    EXPECT_TRUE(one.grow_to(60));
    detail::BodyReservation two(&b);
    EXPECT_FALSE(two.grow_to(41));
    EXPECT_TRUE(two.grow_to(40));
    EXPECT_EQ(b.in_use(), 100u);
    EXPECT_TRUE(one.grow_to(50));  // never shrinks
    EXPECT_EQ(b.in_use(), 100u);
  }
  EXPECT_EQ(b.in_use(), 0u);
  EXPECT_EQ(b.refusals(), 1u);
  std::size_t idle_calls = 0;
  b.on_idle([&](std::size_t) { ++idle_calls; });
  {
    detail::BodyReservation r(&b);
    EXPECT_TRUE(r.grow_to(10));
  }
  EXPECT_EQ(idle_calls, 1u);
}

TEST_F(SessionTest, BodyPastTheBudgetIs503AndCloses) {
  detail::BodyBudget b(40);
  budget = &b;
  auto out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\n" + std::string(50, 'x'));
  EXPECT_EQ(out.find("HTTP/1.1 503"), 0u) << out;
  EXPECT_NE(out.find("\"code\":\"overloaded\""), std::string::npos);
  EXPECT_NE(out.find("Retry-After: 1"), std::string::npos);
  EXPECT_NE(out.find("Connection: close"), std::string::npos);
  // Within the budget, served; the reservation is returned afterwards.
  out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\n" + std::string(30, 'y'));
  EXPECT_EQ(out.find("HTTP/1.1 200"), 0u) << out;
  EXPECT_EQ(b.in_use(), 0u);
  // A held reservation leaves less for the next body.
  detail::BodyReservation held(&b);
  ASSERT_TRUE(held.grow_to(20));
  out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 30\r\n\r\n" + std::string(30, 'y'));
  EXPECT_EQ(out.find("HTTP/1.1 503"), 0u) << out;
}

TEST_F(SessionTest, ChunkedBodyPastTheBudgetIs503) {
  detail::BodyBudget b(8);  // below one reservation step: a chunked body cannot start
  budget = &b;
  const auto out = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(out.find("HTTP/1.1 503"), 0u) << out;
  detail::BodyBudget roomy(1024 * 1024);
  budget = &roomy;
  const auto ok = exchange("POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n");
  EXPECT_EQ(ok.find("HTTP/1.1 200"), 0u) << ok;
  EXPECT_EQ(roomy.in_use(), 0u);
}

}  // namespace
}  // namespace gh::net
