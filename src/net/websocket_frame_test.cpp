#include "net/websocket_frame.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "net/websocket.hpp"

namespace gh::net::detail {
namespace {

// A client frame: masked with a fixed key.
std::string client_frame(std::uint8_t op, std::string_view payload, bool fin = true) {
  std::string f;
  f.push_back(static_cast<char>((fin ? 0x80U : 0U) | op));
  const unsigned char key[4] = {0x11, 0x22, 0x33, 0x44};
  if (payload.size() < 126) {
    f.push_back(static_cast<char>(0x80U | payload.size()));
  } else if (payload.size() <= 0xFFFF) {
    f.push_back(static_cast<char>(0x80U | 126U));
    f.push_back(static_cast<char>(payload.size() >> 8U));
    f.push_back(static_cast<char>(payload.size() & 0xFFU));
  } else {
    f.push_back(static_cast<char>(0x80U | 127U));
    for (int i = 7; i >= 0; --i)
      f.push_back(static_cast<char>((payload.size() >> (8U * static_cast<unsigned>(i))) & 0xFFU));
  }
  f.append(reinterpret_cast<const char*>(key), 4);
  for (std::size_t i = 0; i < payload.size(); ++i) {
    f.push_back(static_cast<char>(static_cast<unsigned char>(payload[i]) ^ key[i % 4]));
  }
  return f;
}

struct Parsed {
  std::size_t taken = 0;
  bool has = false;
  ClientEvent event;
};

Parsed parse(FrameReader& r, std::string_view in) {
  Parsed p;
  p.taken = r.parse(in, p.event, p.has);
  return p;
}

TEST(WebSocketFrame, ServerHeadersUseTheShortestLength) {
  unsigned char h[max_server_header];
  EXPECT_EQ(encode_frame_header(h, opcode::text, 5), 2U);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 5);
  EXPECT_EQ(encode_frame_header(h, opcode::text, 126), 4U);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ((h[2] << 8) | h[3], 126);
  EXPECT_EQ(encode_frame_header(h, opcode::text, 70000), 10U);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ(h[7], 0x01);
  EXPECT_EQ(h[8], 0x11);
  EXPECT_EQ(h[9], 0x70);
  const auto frame = EncodedFrame::text("hello");
  EXPECT_EQ(frame->bytes(), std::string_view("\x81\x05hello", 7));
}

TEST(WebSocketFrame, ReadsATextMessageOnlyOnceComplete) {
  FrameReader r(1024);
  const auto f = client_frame(opcode::text, "hello");
  for (std::size_t n = 0; n < f.size(); ++n) EXPECT_EQ(parse(r, std::string_view(f).substr(0, n)).taken, 0U) << n;
  const auto p = parse(r, f + "next");
  EXPECT_EQ(p.taken, f.size());
  ASSERT_TRUE(p.has);
  EXPECT_EQ(p.event.kind, ClientEvent::Kind::text);
  EXPECT_EQ(p.event.payload, "hello");
}

TEST(WebSocketFrame, ReassemblesFragmentsAroundControlFrames) {
  FrameReader r(1024);
  auto p = parse(r, client_frame(opcode::text, "hel", false));
  EXPECT_FALSE(p.has);
  EXPECT_EQ(r.held(), 3U);
  p = parse(r, client_frame(opcode::ping, "p"));
  ASSERT_TRUE(p.has);
  EXPECT_EQ(p.event.kind, ClientEvent::Kind::ping);
  EXPECT_EQ(p.event.payload, "p");
  p = parse(r, client_frame(opcode::continuation, "lo"));
  ASSERT_TRUE(p.has);
  EXPECT_EQ(p.event.kind, ClientEvent::Kind::text);
  EXPECT_EQ(p.event.payload, "hello");
  EXPECT_EQ(r.held(), 0U);
}

TEST(WebSocketFrame, RefusesAMessageOverTheLimitFromItsHeader) {
  FrameReader r(100);
  const auto f = client_frame(opcode::text, std::string(101, 'x'));
  const auto p = parse(r, f.substr(0, 4));  // the header alone
  ASSERT_TRUE(p.has);
  EXPECT_EQ(p.event.kind, ClientEvent::Kind::error);
  EXPECT_EQ(p.event.code, 1009);
  // Failed: everything after is swallowed.
  EXPECT_EQ(parse(r, "abc").taken, 3U);
  FrameReader fragments(100);
  parse(fragments, client_frame(opcode::text, std::string(60, 'x'), false));
  const auto q = parse(fragments, client_frame(opcode::continuation, std::string(60, 'x')));
  ASSERT_TRUE(q.has);
  EXPECT_EQ(q.event.code, 1009);
}

TEST(WebSocketFrame, ProtocolErrorsCloseWith1002Or1007) {
  const auto error_of = [](const std::string& bytes) {
    FrameReader r(1024);
    const auto p = parse(r, bytes);
    return p.has && p.event.kind == ClientEvent::Kind::error ? p.event.code : 0;
  };
  std::string unmasked = "\x81\x02hi";
  EXPECT_EQ(error_of(unmasked), 1002);
  auto rsv = client_frame(opcode::text, "x");
  rsv[0] = static_cast<char>(rsv[0] | 0x40);
  EXPECT_EQ(error_of(rsv), 1002);
  EXPECT_EQ(error_of(client_frame(0x3, "x")), 1002);
  EXPECT_EQ(error_of(client_frame(opcode::continuation, "x")), 1002);
  EXPECT_EQ(error_of(client_frame(opcode::ping, "x", false)), 1002);
  EXPECT_EQ(error_of(client_frame(opcode::ping, std::string(126, 'x'))), 1002);
  EXPECT_EQ(error_of(client_frame(opcode::close, "x")), 1002);
  EXPECT_EQ(error_of(client_frame(opcode::close, std::string("\x03\xe7", 2))), 1002);  // 999
  EXPECT_EQ(error_of(client_frame(opcode::text, "\xc0\xaf")), 1007);                   // overlong
  FrameReader r(1024);
  parse(r, client_frame(opcode::text, "a", false));
  EXPECT_EQ(parse(r, client_frame(opcode::text, "b")).event.code, 1002);  // a new message mid-message
}

TEST(WebSocketFrame, CloseFramesCarryTheirCode) {
  FrameReader r(1024);
  auto p = parse(r, client_frame(opcode::close, std::string("\x03\xe8"
                                                            "bye",
                                                            5)));
  ASSERT_TRUE(p.has);
  EXPECT_EQ(p.event.kind, ClientEvent::Kind::close);
  EXPECT_EQ(p.event.code, 1000);
  EXPECT_EQ(p.event.payload, "bye");
  FrameReader restart(1024);
  EXPECT_EQ(parse(restart, client_frame(opcode::close, std::string("\x03\xf4", 2))).event.code, 1012);
  FrameReader bare(1024);
  p = parse(bare, client_frame(opcode::close, ""));
  EXPECT_EQ(p.event.code, 1005);
}

TEST(WebSocketFrame, BinaryAndLongLengths) {
  FrameReader r(100000);
  const std::string big(70000, 'y');
  auto p = parse(r, client_frame(opcode::binary, big));
  ASSERT_TRUE(p.has);
  EXPECT_EQ(p.event.kind, ClientEvent::Kind::binary);
  EXPECT_EQ(p.event.payload, big);
  p = parse(r, client_frame(opcode::text, std::string(300, 'z')));
  EXPECT_EQ(p.event.payload.size(), 300U);
}

TEST(WebSocketFrame, Utf8) {
  EXPECT_TRUE(valid_utf8("plain"));
  EXPECT_TRUE(valid_utf8("h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(valid_utf8("\xed\xa0\x80"));      // a surrogate
  EXPECT_FALSE(valid_utf8("\xf4\x90\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xe2\x82"));          // truncated
  EXPECT_FALSE(valid_utf8("\xff"));
}

}  // namespace
}  // namespace gh::net::detail
