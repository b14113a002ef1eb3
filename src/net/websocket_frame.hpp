#pragma once
// Private to net: the WebSocket wire format (RFC 6455 section 5) as the server sees it, free of
// I/O. Frames the server writes are unmasked and final; FrameReader parses what clients send
// (every frame masked, no extensions) one complete frame at a time, reassembles fragmented
// messages, bounds a message's size and validates text as UTF-8. A protocol violation is an event
// carrying the close code to answer with.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/utf8.hpp"

namespace gh::net::detail {

namespace opcode {
inline constexpr std::uint8_t continuation = 0x0;
inline constexpr std::uint8_t text = 0x1;
inline constexpr std::uint8_t binary = 0x2;
inline constexpr std::uint8_t close = 0x8;
inline constexpr std::uint8_t ping = 0x9;
inline constexpr std::uint8_t pong = 0xA;
}  // namespace opcode

/// The largest header of a server frame (2 bytes, then a 16- or 64-bit length).
inline constexpr std::size_t max_server_header = 10;

/// Writes the header of a final, unmasked frame to `out`; returns its size.
std::size_t encode_frame_header(unsigned char* out, std::uint8_t op, std::size_t payload_size) noexcept;

/// One thing a client sent.
struct ClientEvent {
  enum class Kind : std::uint8_t { text, binary, ping, pong, close, error };
  Kind kind = Kind::error;
  std::uint16_t code = 0;  ///< close: the peer's code (1005 when it gave none); error: the code to close with
  std::string payload;     ///< a message, a ping's or pong's data, a close reason, or what was wrong
};

/// Parses client frames. Feed it the unparsed bytes; it takes at most one complete frame per call.
class FrameReader {
 public:
  explicit FrameReader(std::size_t max_message) : m_max(max_message) {}
  /// Parses the first complete frame of `in`. Returns the bytes it took (0: more are needed) and
  /// sets `event` when the frame completed one (`has_event`). After an error event, every later
  /// call takes all the bytes and yields nothing.
  std::size_t parse(std::string_view in, ClientEvent& event, bool& has_event);
  /// The bytes of an incomplete fragmented message held so far (0 when none).
  std::size_t held() const noexcept { return m_message.size(); }
  /// Drops the message in progress; like after an error event, every later call takes all the
  /// bytes and yields nothing (the stream is abandoned).
  void discard() {
    m_message = std::string();
    m_in_message = false;
    m_failed = true;
  }

 private:
  std::size_t fail(std::size_t taken, std::uint16_t code, std::string what, ClientEvent& event, bool& has_event);

  std::size_t m_max;
  std::string m_message;  ///< the fragments of a message in progress
  std::uint8_t m_message_op = 0;
  bool m_in_message = false;
  bool m_failed = false;
};

}  // namespace gh::net::detail
