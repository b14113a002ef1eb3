#pragma once
// WebSocket endpoints, free of Beast: what a context sees of an upgraded connection. A route
// registered with Router::add_websocket authenticates the upgrade request like any other request
// (the dispatcher's rate limit, credentials check, metrics and access log apply); when it accepts,
// the HTTP session performs the handshake and hands the connection to the endpoint's
// WebSocketSession. The server bounds every socket: message size, incoming message rate, and a
// send queue bounded in frames and bytes (a consumer that falls behind is closed with
// close_code::resume, never buffered without limit), with server pings and an idle timeout.
// A message is framed once (EncodedFrame: an unmasked server frame is the same bytes for every
// socket) and written at once from the sender's thread when the socket's queue is empty.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "core/task.hpp"

namespace gh::net {

struct Request;

/// The close codes the server sends (docs/api/realtime.md).
namespace close_code {
inline constexpr std::uint16_t normal = 1000;        ///< the endpoint closed the socket
inline constexpr std::uint16_t unsupported = 1003;   ///< a binary message
inline constexpr std::uint16_t policy = 1008;        ///< the per-connection message rate was exceeded
inline constexpr std::uint16_t too_big = 1009;       ///< a message above the size limit
inline constexpr std::uint16_t internal = 1011;      ///< the server failed
inline constexpr std::uint16_t restart = 1012;       ///< the server is draining: reconnect elsewhere or later
inline constexpr std::uint16_t try_again = 1013;     ///< the server's memory for incoming bytes is spent
inline constexpr std::uint16_t unauthorized = 4001;  ///< the session ended (logout, revoked, expired)
inline constexpr std::uint16_t resume = 4008;        ///< the client fell behind: reconnect and resume
}  // namespace close_code

/// A message as it goes on the wire: a WebSocket frame (header and payload), built once and shared
/// by every socket it is sent to.
class EncodedFrame {
 public:
  /// The frame of a text message.
  static std::shared_ptr<const EncodedFrame> text(std::string_view message);
  /// The frame of a control message (close 0x8, ping 0x9, pong 0xA); `payload` at most 125 bytes.
  static std::shared_ptr<const EncodedFrame> control(std::uint8_t opcode, std::string_view payload);
  /// The bytes to write.
  std::string_view bytes() const noexcept { return m_bytes; }
  std::size_t size() const noexcept { return m_bytes.size(); }

 private:
  std::string m_bytes;
};
using SharedFrame = std::shared_ptr<const EncodedFrame>;

/// The server side of one open WebSocket. Thread-safe: any thread may send or close.
class WebSocket {
 public:
  virtual ~WebSocket() = default;
  /// Sends a text message: written at once when nothing is queued before it, else queued. False
  /// when the socket is closing; a message that would overflow the bounded send queue closes the
  /// socket with close_code::resume instead of being queued.
  virtual bool send(const SharedFrame& message) = 0;
  /// send() of a message for this socket alone.
  bool send(std::string_view message) { return send(EncodedFrame::text(message)); }
  /// Closes with `code`: what is queued and not yet written is dropped, the close frame follows the
  /// message being written, and the connection is cut if the peer does not complete the handshake.
  virtual void close(std::uint16_t code, std::string reason) = 0;
  /// True once close() was called or the connection ended.
  virtual bool closing() const = 0;
  /// The executor (the socket's strand) on which the session's callbacks run.
  virtual Executor executor() const = 0;
  /// Messages and bytes waiting in the send queue.
  virtual std::size_t queued_messages() const = 0;
  virtual std::size_t queued_bytes() const = 0;
  /// The bounds of the send queue (past either, the socket is closed with close_code::resume).
  virtual std::size_t max_queued_messages() const = 0;
  virtual std::size_t max_queued_bytes() const = 0;
};

/// What an endpoint does with one connection. Callbacks run on the socket's strand, one at a time.
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  /// The handshake completed; keep `socket` to send.
  virtual void on_open(std::shared_ptr<WebSocket> socket) = 0;
  /// One complete text message; the next one is read when the returned task ends.
  virtual Task<void> on_message(std::string message) = 0;
  /// The connection ended (for any reason). Called once, after on_open.
  virtual void on_close() = 0;
};

/// Accepts or refuses an upgrade request: a session, or an Error answered as HTTP (401, 403, ...).
using WebSocketAccept = std::function<Task<Result<std::shared_ptr<WebSocketSession>>>(Request&)>;

/// True when the request asks for a WebSocket upgrade (GET, Connection: upgrade, Upgrade: websocket).
bool is_websocket_upgrade(const Request& request);

}  // namespace gh::net
