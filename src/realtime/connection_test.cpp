// A gateway socket whose topic's history read fails while it catches up: the socket is told to
// resume (close code 4008), whether the read answered an error or threw (the database lost). The
// periodic session check outlives a check that throws, and a presence announcement whose audience
// could not be read is made again. A frame holding U+0000 is refused before any topic is asked.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include "net/websocket.hpp"
#include "realtime/gateway.hpp"
#include "realtime/testing/recording_socket.hpp"

namespace gh::realtime {
namespace {

namespace asio = boost::asio;
using testing::RecordingSocket;

class CatchUpTest : public ::testing::Test {
 protected:
  enum class Failure { none, error, exception };

  void SetUp() override {
    TopicSource source;
    source.id_field = "channel_id";
    source.resume_field = "channels";
    source.authorize = [this](eth::Address, std::string) -> Task<Result<bool>> {
      ++m_authorized;
      co_return true;
    };
    source.head = [this](std::string) -> Task<Result<TopicHead>> {
      TopicHead head;
      head.seq = m_committed.load();
      co_return head;
    };
    source.history = [this](eth::Address, std::string, std::int64_t after,
                            std::size_t) -> Task<Result<std::vector<SequencedFrame>>> {
      if (m_failure == Failure::exception) throw std::runtime_error("server closed the connection unexpectedly");
      if (m_failure == Failure::error) co_return internal_error("history unavailable");
      std::vector<SequencedFrame> page;
      for (std::int64_t seq = after + 1; seq <= m_committed.load(); ++seq) page.push_back({seq, frame(seq)});
      co_return page;
    };
    m_source = std::move(source);
    make_gateway(GatewaySettings{},
                 [](std::string) -> Task<Result<Gateway::Identity>> { co_return internal_error("not used"); });
  }

  void make_gateway(GatewaySettings settings, Gateway::Authenticate authenticate) {
    m_gateway = std::make_unique<Gateway>(m_io.get_executor(), settings, std::move(authenticate));
    m_gateway->add_topic_kind("channel", m_source);
  }

  void TearDown() override {
    if (m_session) m_session->on_close();
    m_session.reset();
    m_gateway.reset();
    m_io.run_for(std::chrono::milliseconds(50));
  }

  static std::string frame(std::int64_t seq) {
    return R"({"type":"message","seq":)" + std::to_string(seq) + R"(,"channel_id":"ch-1"})";
  }

  // Runs the loop until `done` holds, a bounded number of turns; false if it never did.
  bool run_until(const std::function<bool()>& done) {
    for (int turn = 0; turn < 2000 && !done(); ++turn) m_io.run_for(std::chrono::milliseconds(5));
    return done();
  }

  // How many times the socket got message `seq`.
  static std::size_t got(const RecordingSocket& socket, std::int64_t seq) {
    return socket.sent_with(R"({"type":"message","seq":)" + std::to_string(seq) + ",");
  }

  // Commits message `seq` and publishes it.
  void publish(std::int64_t seq) {
    m_committed = std::max(m_committed.load(), seq);
    m_gateway->publish("channel", "ch-1", seq, frame(seq));
  }

  // A socket subscribed to ch-1 at seq 1.
  std::shared_ptr<RecordingSocket> subscribed() {
    auto socket = std::make_shared<RecordingSocket>(m_io.get_executor());
    m_session = m_gateway->open_session(Gateway::Identity{eth::Address{}, "session-1"}, "", "token");
    m_session->on_open(socket);
    asio::co_spawn(m_io, m_session->on_message(R"({"type":"subscribe","channel_ids":["ch-1"]})"), asio::detached);
    EXPECT_TRUE(run_until([&] { return socket->sent_with(R"("type":"subscribed")") == 1; }));
    return socket;
  }

  asio::io_context m_io;
  TopicSource m_source;
  std::unique_ptr<Gateway> m_gateway;
  std::shared_ptr<net::WebSocketSession> m_session;
  std::atomic<Failure> m_failure{Failure::none};
  std::atomic<std::int64_t> m_committed{1};  // the topic's messages stored: 1 to this
  std::atomic<int> m_authorized{0};          // authorize calls
};

TEST_F(CatchUpTest, AFrameHoldingU0000IsRefusedBeforeAnyTopicIsAsked) {
  auto socket = subscribed();
  ASSERT_EQ(m_authorized.load(), 1);
  for (const char* frame : {R"({"type":"subscribe","channel_ids":["ch\u0000"]})",
                            R"({"type":"subscribe","channel_ids":["ch-2"],"x\u0000":1})"}) {
    const auto errors = socket->sent_with(R"("code":"bad_frame")");
    asio::co_spawn(m_io, m_session->on_message(frame), asio::detached);
    ASSERT_TRUE(run_until([&] { return socket->sent_with(R"("code":"bad_frame")") == errors + 1; })) << frame;
  }
  EXPECT_EQ(m_authorized.load(), 1);
  EXPECT_FALSE(socket->close_code().has_value());
  // The socket goes on: a frame without U+0000 is served.
  asio::co_spawn(m_io, m_session->on_message(R"({"type":"subscribe","channel_ids":["ch-2"]})"), asio::detached);
  ASSERT_TRUE(run_until([&] { return socket->sent_with(R"("type":"subscribed")") == 2; }));
  EXPECT_EQ(m_authorized.load(), 2);
}

TEST_F(CatchUpTest, AGapIsReadFromHistoryInOrder) {
  auto socket = subscribed();
  // 3 arrives before 2 (published by another node, or overtaken): the socket reads 2 and 3 from
  // history, once each, and 2 arriving late is not sent again.
  m_committed = 2;
  publish(3);
  ASSERT_TRUE(run_until([&] { return got(*socket, 3) == 1; }));
  EXPECT_EQ(got(*socket, 2), 1U);
  m_gateway->publish("channel", "ch-1", 2, frame(2));
  publish(4);
  ASSERT_TRUE(run_until([&] { return got(*socket, 4) == 1; }));
  EXPECT_EQ(got(*socket, 2), 1U);
  EXPECT_EQ(got(*socket, 3), 1U);
  EXPECT_FALSE(socket->close_code().has_value());
}

TEST_F(CatchUpTest, AHistoryReadThatFailsOrThrowsTellsTheSocketToResume) {
  // A catch-up started by a gap runs on its own: an exception escaping it would leave the
  // subscription catching up for good, taking no frame, and the client never told.
  for (const auto failure : {Failure::error, Failure::exception}) {
    auto socket = subscribed();
    m_failure = failure;
    m_committed = 2;
    publish(3);
    ASSERT_TRUE(run_until([&] { return socket->close_code().has_value(); }));
    EXPECT_EQ(*socket->close_code(), net::close_code::resume);
    EXPECT_EQ(got(*socket, 3), 0U);
    m_session->on_close();
    m_session.reset();
    m_failure = Failure::none;
    m_committed = 1;
  }
}

TEST_F(CatchUpTest, SessionChecksGoOnAfterOneThrows) {
  // The periodic check of the sockets' sessions runs for the gateway's lifetime: a check that
  // throws (the database lost) keeps the socket, and a later one that finds the session ended
  // closes it.
  std::atomic<int> checks{0};
  GatewaySettings settings;
  settings.reauth_interval_ms = 5;
  make_gateway(settings, [&checks](std::string) -> Task<Result<Gateway::Identity>> {
    if (++checks <= 2) throw std::runtime_error("server closed the connection unexpectedly");
    co_return make_error(ErrorKind::unauthorized, "invalid_session", "session ended");
  });
  auto socket = subscribed();
  ASSERT_TRUE(run_until([&] { return socket->close_code().has_value(); }));
  EXPECT_EQ(*socket->close_code(), net::close_code::unauthorized);
  EXPECT_GE(checks.load(), 3);
}

eth::Address account(std::uint8_t n) {
  eth::Address a;
  a.bytes[19] = n;
  return a;
}

// An account's presence goes out to the sockets that share a topic with it. When the topics it
// reads cannot be read (the database lost: the read answers an error or throws), the announcement
// is made again, so that others are not left with its presence from before; at most
// presence_retries times.
TEST(PresenceTest, AnAnnouncementWhoseAudienceCouldNotBeReadIsMadeAgain) {
  asio::io_context io;
  std::atomic<int> reads{0};
  std::atomic<int> failing{0};  // the next reads that fail, alternately throwing and answering an error
  TopicSource source;
  source.id_field = "channel_id";
  source.resume_field = "channels";
  source.authorize = [](eth::Address, std::string) -> Task<Result<bool>> { co_return true; };
  source.head = [](std::string) -> Task<Result<TopicHead>> { co_return TopicHead{}; };
  source.history = [](eth::Address, std::string, std::int64_t,
                      std::size_t) -> Task<Result<std::vector<SequencedFrame>>> {
    co_return std::vector<SequencedFrame>{};
  };
  source.readable = [&](eth::Address) -> Task<Result<std::vector<std::string>>> {
    ++reads;
    if (failing > 0) {
      if (failing-- % 2 == 0) throw std::runtime_error("server closed the connection unexpectedly");
      co_return internal_error("topics unread");
    }
    co_return std::vector<std::string>{"ch-1"};
  };
  GatewaySettings settings;
  settings.presence_interval_ms = 0;
  settings.presence_retry_ms = 1;
  settings.presence_retries = 3;
  Gateway gateway(io.get_executor(), settings,
                  [](std::string) -> Task<Result<Gateway::Identity>> { co_return internal_error("not used"); });
  gateway.add_topic_kind("channel", source);
  const auto run_until = [&](const std::function<bool()>& done) {
    for (int turn = 0; turn < 2000 && !done(); ++turn) io.run_for(std::chrono::milliseconds(5));
    return done();
  };
  const auto open = [&](std::uint8_t n, const std::shared_ptr<RecordingSocket>& socket) {
    auto session = gateway.open_session(Gateway::Identity{account(n), "session-" + std::to_string(n)}, "", "token");
    session->on_open(socket);
    return session;
  };
  const auto watcher_socket = std::make_shared<RecordingSocket>(io.get_executor());
  auto watcher = open(1, watcher_socket);
  asio::co_spawn(io, watcher->on_message(R"({"type":"subscribe","channel_ids":["ch-1"]})"), asio::detached);
  ASSERT_TRUE(run_until([&] { return watcher_socket->sent_with(R"("type":"subscribed")") == 1; }));
  const auto member_is = [&](const std::string& status) {
    return watcher_socket->sent_with(R"("account":")" + eth::to_checksum(account(2)) + R"(","status":")" + status +
                                     R"(")");
  };

  // Online: the first read throws, the second answers an error, the third finds the watcher.
  const int before = reads;
  failing = 2;
  auto member = open(2, std::make_shared<RecordingSocket>(io.get_executor()));
  ASSERT_TRUE(run_until([&] { return member_is("online") == 1; }));
  EXPECT_EQ(reads - before, 3);

  // Offline, while no read succeeds: the first announcement and three more, then no more.
  failing = 1000;
  member->on_close();
  ASSERT_TRUE(run_until([&] { return reads - before == 3 + 4; }));
  io.run_for(std::chrono::milliseconds(50));
  EXPECT_EQ(reads - before, 3 + 4);
  EXPECT_EQ(member_is("offline"), 0U);
  watcher->on_close();
}

}  // namespace
}  // namespace gh::realtime
