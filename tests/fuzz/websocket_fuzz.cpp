// The WebSocket frame reader (net/websocket_frame.hpp) on arbitrary client bytes. Invariants: a
// call never takes more than it is given, and takes nothing only while the first frame is
// incomplete; a message never passes the size limit; a text message is valid UTF-8; the events do
// not depend on how the bytes arrive (all at once, or split at the points the input's first byte
// chooses); an error event is the last one.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "net/websocket_frame.hpp"

namespace {

using gh::net::detail::ClientEvent;
using gh::net::detail::FrameReader;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

constexpr std::size_t max_message = 300;

struct Seen {
  ClientEvent::Kind kind;
  std::uint16_t code;
  std::string payload;
  bool operator==(const Seen&) const = default;
};

// Feeds `chunks` in order the way the connection does (unparsed bytes kept, parsed until a call
// takes nothing) and returns the events.
std::vector<Seen> run(const std::vector<std::string_view>& chunks) {
  FrameReader reader(max_message);
  std::string in;
  std::vector<Seen> seen;
  bool failed = false;
  for (const auto chunk : chunks) {
    in.append(chunk);
    for (;;) {
      ClientEvent event;
      bool has = false;
      const auto taken = reader.parse(in, event, has);
      check(taken <= in.size());
      if (taken == 0) {
        check(!has);
        break;
      }
      in.erase(0, taken);
      if (!has) continue;
      check(!failed);  // nothing after an error
      if (event.kind == ClientEvent::Kind::error) failed = true;
      if (event.kind == ClientEvent::Kind::text || event.kind == ClientEvent::Kind::binary) {
        check(event.payload.size() <= max_message);
      }
      if (event.kind == ClientEvent::Kind::text) check(gh::valid_utf8(event.payload));
      if (event.kind == ClientEvent::Kind::ping || event.kind == ClientEvent::Kind::pong) {
        check(event.payload.size() <= 125);
      }
      seen.push_back({event.kind, event.code, std::move(event.payload)});
    }
    check(reader.held() <= max_message);
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  const auto whole = run({bytes});
  // The same bytes in pieces of 1 to 16 bytes, the sizes drawn from the first byte.
  std::vector<std::string_view> pieces;
  unsigned step = data[0];
  for (std::size_t at = 0; at < bytes.size();) {
    const std::size_t n = 1 + (step & 15U);
    step = step * 33U + 7U;
    pieces.push_back(bytes.substr(at, n));
    at += n;
  }
  check(run(pieces) == whole);
  return 0;
}
