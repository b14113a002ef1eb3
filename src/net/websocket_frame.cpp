#include "net/websocket_frame.hpp"

#include <memory>
#include <utility>

#include "net/websocket.hpp"

namespace gh::net {

std::shared_ptr<const EncodedFrame> EncodedFrame::text(std::string_view message) {
  auto frame = std::make_shared<EncodedFrame>();
  unsigned char header[detail::max_server_header];
  const auto n = detail::encode_frame_header(header, detail::opcode::text, message.size());
  frame->m_bytes.reserve(n + message.size());
  frame->m_bytes.append(reinterpret_cast<const char*>(header), n);
  frame->m_bytes.append(message);
  return frame;
}

std::shared_ptr<const EncodedFrame> EncodedFrame::control(std::uint8_t op, std::string_view payload) {
  auto frame = std::make_shared<EncodedFrame>();
  payload = payload.substr(0, 125);
  unsigned char header[detail::max_server_header];
  const auto n = detail::encode_frame_header(header, op, payload.size());
  frame->m_bytes.append(reinterpret_cast<const char*>(header), n);
  frame->m_bytes.append(payload);
  return frame;
}

}  // namespace gh::net

namespace gh::net::detail {

std::size_t encode_frame_header(unsigned char* out, std::uint8_t op, std::size_t payload_size) noexcept {
  out[0] = static_cast<unsigned char>(0x80U | op);
  if (payload_size < 126) {
    out[1] = static_cast<unsigned char>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<unsigned char>(payload_size >> 8U);
    out[3] = static_cast<unsigned char>(payload_size & 0xFFU);
    return 4;
  }
  out[1] = 127;
  const auto n = static_cast<std::uint64_t>(payload_size);
  for (std::size_t i = 0; i < 8; ++i) out[2 + i] = static_cast<unsigned char>((n >> (56 - 8 * i)) & 0xFFU);
  return 10;
}

std::size_t FrameReader::fail(std::size_t taken, std::uint16_t code, std::string what, ClientEvent& event,
                              bool& has_event) {
  m_failed = true;
  m_message = std::string();
  event.kind = ClientEvent::Kind::error;
  event.code = code;
  event.payload = std::move(what);
  has_event = true;
  return taken;
}

std::size_t FrameReader::parse(std::string_view in, ClientEvent& event, bool& has_event) {
  has_event = false;
  if (m_failed) return in.size();
  if (in.size() < 2) return 0;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  const bool fin = (p[0] & 0x80U) != 0;
  const auto op = static_cast<std::uint8_t>(p[0] & 0x0FU);
  const bool masked = (p[1] & 0x80U) != 0;
  if ((p[0] & 0x70U) != 0) return fail(in.size(), 1002, "reserved bits set", event, has_event);
  if (!masked) return fail(in.size(), 1002, "client frames must be masked", event, has_event);
  const bool control = (op & 0x8U) != 0;
  if (control ? (op != opcode::close && op != opcode::ping && op != opcode::pong)
              : (op != opcode::continuation && op != opcode::text && op != opcode::binary)) {
    return fail(in.size(), 1002, "unknown opcode", event, has_event);
  }
  std::uint64_t length = p[1] & 0x7FU;
  std::size_t at = 2;
  if (length == 126) {
    if (in.size() < 4) return 0;
    length = (std::uint64_t{p[2]} << 8U) | p[3];
    at = 4;
  } else if (length == 127) {
    if (in.size() < 10) return 0;
    length = 0;
    for (std::size_t i = 0; i < 8; ++i) length = (length << 8U) | p[2 + i];
    at = 10;
  }
  if (control && (!fin || length > 125)) return fail(in.size(), 1002, "bad control frame", event, has_event);
  if (!control) {
    if (op == opcode::continuation ? !m_in_message : m_in_message) {
      return fail(in.size(), 1002, "bad fragmentation", event, has_event);
    }
    // Refused from its header: a frame past the limit is never buffered.
    if (length > m_max || m_message.size() + length > m_max) {
      return fail(in.size(), 1009, "message too big", event, has_event);
    }
  }
  const std::size_t total = at + 4 + static_cast<std::size_t>(length);
  if (in.size() < total) return 0;
  const unsigned char* mask = p + at;
  const char* data = in.data() + at + 4;
  const auto n = static_cast<std::size_t>(length);
  std::string payload;
  std::string* target = &payload;
  std::size_t offset = 0;
  if (!control) {
    if (op != opcode::continuation) m_message_op = op;
    m_in_message = true;
    target = &m_message;
    offset = m_message.size();
  }
  target->resize(offset + n);
  for (std::size_t i = 0; i < n; ++i) {
    (*target)[offset + i] = static_cast<char>(static_cast<unsigned char>(data[i]) ^ mask[i & 3U]);
  }
  if (control) {
    event.payload = std::move(payload);
    event.code = 0;
    if (op == opcode::ping) {
      event.kind = ClientEvent::Kind::ping;
    } else if (op == opcode::pong) {
      event.kind = ClientEvent::Kind::pong;
    } else {
      event.kind = ClientEvent::Kind::close;
      if (event.payload.empty()) {
        event.code = 1005;
      } else if (event.payload.size() == 1) {
        return fail(total, 1002, "bad close frame", event, has_event);
      } else {
        const auto* c = reinterpret_cast<const unsigned char*>(event.payload.data());
        event.code = static_cast<std::uint16_t>((unsigned{c[0]} << 8U) | c[1]);
        const auto code = event.code;
        const bool valid =
            (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
        event.payload.erase(0, 2);
        if (!valid || !valid_utf8(event.payload)) return fail(total, 1002, "bad close frame", event, has_event);
      }
    }
    has_event = true;
    return total;
  }
  if (!fin) return total;
  m_in_message = false;
  event.kind = m_message_op == opcode::text ? ClientEvent::Kind::text : ClientEvent::Kind::binary;
  event.code = 0;
  event.payload = std::move(m_message);
  m_message = std::string();
  if (event.kind == ClientEvent::Kind::text && !valid_utf8(event.payload)) {
    return fail(total, 1007, "text is not valid UTF-8", event, has_event);
  }
  has_event = true;
  return total;
}

}  // namespace gh::net::detail
