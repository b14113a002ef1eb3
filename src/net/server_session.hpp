#pragma once
// Private to net: the per-connection HTTP session, written once for any Beast stream so that the
// tests can drive it over beast::test::stream (with fail_count) and the server over tcp_stream.
// Shape of Beast's awaitable server: a deadline before every read and write, parser limits,
// as_tuple for expected errors, keep-alive until the client, an error or a drain ends it.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>

#include "net/body_budget.hpp"
#include "net/dispatcher.hpp"
#include "net/server.hpp"
#include "net/websocket.hpp"

namespace gh::net::detail {

/// What a session shares with the server that owns it.
struct SessionContext {
  const ServerSettings* settings = nullptr;
  Dispatcher* dispatcher = nullptr;
  std::string remote_ip;
  /// Set while waiting for the next request, so a drain may close the connection at once.
  std::atomic<bool>* idle = nullptr;
  /// True once the server drains: answer the request in flight with Connection: close.
  std::function<bool()> draining;
  /// Request-body bytes in flight across the server; null for no bound.
  BodyBudget* body_budget = nullptr;
};

/// How much a chunked body may reserve ahead of what it has received.
inline constexpr std::size_t body_reservation_step = std::size_t{64} * 1024;

template <class Stream>
concept StreamWithDeadline = requires(Stream& s) {
  s.expires_after(std::chrono::seconds(1));
};

template <class Stream>
void set_deadline(Stream& stream, std::chrono::milliseconds d) {
  if constexpr (StreamWithDeadline<Stream>) stream.expires_after(d);
}

/// Converts a parsed Beast request into ours.
inline Request to_request(boost::beast::http::request<boost::beast::http::string_body>&& msg, const std::string& ip) {
  Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  for (const auto& field : msg) {
    std::string name(field.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    req.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  req.version = msg.version();
  req.keep_alive = msg.keep_alive();
  req.body = std::move(msg.body());
  req.remote_ip = ip;
  return req;
}

/// Converts our response into Beast's.
inline boost::beast::http::response<boost::beast::http::string_body> to_beast(Response&& res, unsigned version,
                                                                              bool keep_alive) {
  namespace http = boost::beast::http;
  http::response<http::string_body> out{static_cast<http::status>(res.status), version};
  out.set(http::field::server, "gatehouse");
  if (!res.body.empty() || res.status >= 200) out.set(http::field::content_type, res.content_type);
  for (auto& [k, v] : res.headers) out.insert(k, v);
  out.body() = std::move(res.body);
  out.keep_alive(keep_alive);
  out.prepare_payload();
  return out;
}

/// True for errors that mean the peer sent something that is not HTTP/1.1 we accept.
inline bool is_protocol_error(const boost::system::error_code& ec) {
  return ec.category() == boost::beast::http::make_error_code(boost::beast::http::error::bad_target).category() &&
         ec != boost::beast::http::error::end_of_stream && ec != boost::beast::http::error::partial_message;
}

/// Why a request head cannot be served (RFC 9112), with the status to answer before closing.
struct FramingProblem {
  unsigned status = 400;
  Error error;
};

/// RFC 9112 checks Beast leaves to us: Host (3.2) and Transfer-Encoding (6.1, 6.3). A coding list
/// whose last coding is not `chunked` leaves the body length unknowable (400: the rest of the
/// stream could be read as a second request); a coding other than `chunked` is one we do not
/// implement (501); Transfer-Encoding in HTTP/1.0 is faulty framing (400). Both end the connection.
template <class Fields>
std::optional<FramingProblem> check_framing(const boost::beast::http::request_header<Fields>& header) {
  namespace http = boost::beast::http;
  std::size_t hosts = 0;
  std::vector<std::string> codings;
  bool has_transfer_encoding = false;
  for (const auto& field : header) {
    if (field.name() == http::field::host) ++hosts;
    if (field.name() != http::field::transfer_encoding) continue;
    has_transfer_encoding = true;
    std::string_view list = field.value();
    for (;;) {
      const auto comma = list.find(',');
      auto item = list.substr(0, comma);
      while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      // Parameters (";q=...") do not change which coding it is.
      item = item.substr(0, item.find(';'));
      while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
      std::string name(item);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      codings.push_back(std::move(name));
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (header.version() >= 11 && hosts != 1) {
    return FramingProblem{400, bad_input("bad_request", hosts == 0 ? "an HTTP/1.1 request needs a Host header"
                                                                   : "a request may carry only one Host header")};
  }
  if (hosts > 1) return FramingProblem{400, bad_input("bad_request", "a request may carry only one Host header")};
  if (!has_transfer_encoding) return std::nullopt;
  if (header.version() < 11) {
    return FramingProblem{400, bad_input("bad_request", "Transfer-Encoding is not allowed in HTTP/1.0")};
  }
  if (codings.empty() || codings.back() != "chunked") {
    return FramingProblem{400, bad_input("bad_request", "the final transfer coding must be chunked")};
  }
  for (std::size_t i = 0; i + 1 < codings.size(); ++i) {
    if (codings[i] == "chunked") {
      return FramingProblem{400, bad_input("bad_request", "chunked may be applied only once")};
    }
    FramingProblem p{501, make_error(ErrorKind::bad_input, "not_implemented",
                                     "transfer coding '" + codings[i].substr(0, 32) + "' is not implemented")};
    return p;
  }
  return std::nullopt;
}

/// Writes an error that ends the connection (limits exceeded, malformed request). `status`
/// overrides the error's usual status (501 has no error kind of its own).
template <class Stream>
Task<void> write_rejection(Stream& stream, SessionContext& ctx, const Error& error, unsigned version,
                           unsigned status = 0) {
  auto response = ctx.dispatcher->reject(error, ctx.remote_ip, status);
  if (error.code == "overloaded") response.with_header("Retry-After", "1");
  auto res = to_beast(std::move(response), version, false);
  set_deadline(stream, ctx.settings->write_timeout);
  co_await boost::beast::http::async_write(stream, res, boost::asio::as_tuple(boost::asio::use_awaitable));
}

/// The refusal of a body the server has no memory budget left for.
inline Error overloaded_error() {
  return make_error(ErrorKind::unavailable, "overloaded",
                    "the server is receiving too many request bodies; retry shortly");
}

/// A request the dispatcher accepted as a WebSocket upgrade, handed from the HTTP loop to the socket.
struct WebSocketUpgrade {
  boost::beast::http::request<boost::beast::http::string_body> request;
  std::shared_ptr<WebSocketSession> session;
};

/// Serves HTTP requests on one connection until it ends, or until one is an accepted WebSocket
/// upgrade, which it returns (without performing the handshake).
template <class Stream>
Task<std::optional<WebSocketUpgrade>> serve_http(Stream& stream, SessionContext& ctx) {
  namespace http = boost::beast::http;
  using boost::asio::as_tuple;
  using boost::asio::use_awaitable;
  const auto& settings = *ctx.settings;
  boost::beast::flat_buffer buffer;

  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(settings.max_header_bytes));
    parser.body_limit(settings.max_body_bytes);

    if (ctx.idle) ctx.idle->store(true);
    if (ctx.draining && ctx.draining()) break;
    set_deadline(stream, settings.idle_timeout);
    auto [hec, hn] = co_await http::async_read_header(stream, buffer, parser, as_tuple(use_awaitable));
    if (ctx.idle) ctx.idle->store(false);
    if (hec) {
      if (hec == http::error::header_limit) {
        co_await write_rejection(
            stream, ctx,
            make_error(ErrorKind::too_large, "headers_too_large",
                       "request headers exceed " + std::to_string(settings.max_header_bytes) + " bytes"),
            11);
      } else if (hec == http::error::body_limit) {
        co_await write_rejection(
            stream, ctx,
            make_error(ErrorKind::too_large, "body_too_large",
                       "request body exceeds " + std::to_string(settings.max_body_bytes) + " bytes"),
            11);
      } else if (is_protocol_error(hec)) {
        co_await write_rejection(stream, ctx, bad_input("bad_request", "malformed HTTP request: " + hec.message()), 11);
      }
      break;
    }

    const auto& header = parser.get();
    const unsigned version = header.version();
    if (auto problem = check_framing(header.base())) {
      co_await write_rejection(stream, ctx, problem->error, version, problem->status);
      break;
    }
    // The body's memory is reserved before it is read (and before 100 Continue invites it):
    // past the server's budget, the request is refused instead of buffered.
    BodyReservation reservation(ctx.body_budget);
    const auto declared = parser.content_length();
    if (!parser.is_done()) {
      const std::size_t first =
          declared ? static_cast<std::size_t>(*declared) : std::min(settings.max_body_bytes, body_reservation_step);
      if (!reservation.grow_to(first)) {
        co_await write_rejection(stream, ctx, overloaded_error(), version, 503);
        break;
      }
    }
    if (header[http::field::expect] == "100-continue" && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, version};
      set_deadline(stream, settings.write_timeout);
      auto [cec, cn] = co_await http::async_write(stream, cont, as_tuple(use_awaitable));
      if (cec) break;
    }
    if (!parser.is_done()) {
      set_deadline(stream, settings.read_timeout);
      boost::system::error_code bec;
      bool over_budget = false;
      if (declared) {
        auto [ec, n] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
        bec = ec;
      } else {
        // A chunked body grows its reservation as it arrives, a step ahead of what it holds.
        while (!parser.is_done()) {
          auto [ec, n] = co_await http::async_read_some(stream, buffer, parser, as_tuple(use_awaitable));
          if (ec) {
            bec = ec;
            break;
          }
          const auto have = parser.get().body().size();
          if (have + body_reservation_step / 2 > reservation.held() &&
              !reservation.grow_to(std::min(settings.max_body_bytes, have + body_reservation_step))) {
            over_budget = true;
            break;
          }
        }
      }
      if (over_budget) {
        co_await write_rejection(stream, ctx, overloaded_error(), version, 503);
        break;
      }
      if (bec) {
        if (bec == http::error::body_limit) {
          co_await write_rejection(
              stream, ctx,
              make_error(ErrorKind::too_large, "body_too_large",
                         "request body exceeds " + std::to_string(settings.max_body_bytes) + " bytes"),
              version);
        } else if (is_protocol_error(bec)) {
          co_await write_rejection(stream, ctx, bad_input("bad_request", "malformed HTTP request: " + bec.message()),
                                   version);
        }
        break;
      }
    }

    // An upgrade keeps its Beast request for the handshake.
    std::optional<http::request<http::string_body>> upgrade_request;
    if (boost::beast::websocket::is_upgrade(parser.get())) upgrade_request = parser.get();
    auto request = to_request(parser.release(), ctx.remote_ip);
    const bool client_keep_alive = request.keep_alive;
    const bool head = request.method == "HEAD";
    auto response = co_await ctx.dispatcher->dispatch(request);
    if (response.upgrade) {
      reservation.release();
      if (!upgrade_request || response.status != 101) {
        co_await write_rejection(stream, ctx, bad_input("upgrade_required", "not a WebSocket upgrade request"),
                                 version);
      } else if (ctx.draining && ctx.draining()) {
        co_await write_rejection(
            stream, ctx, make_error(ErrorKind::unavailable, "draining", "the server is shutting down"), version);
      } else {
        std::optional<WebSocketUpgrade> accepted;
        accepted.emplace();
        accepted->request = std::move(*upgrade_request);
        accepted->session = std::move(response.upgrade);
        co_return accepted;
      }
      break;
    }
    const bool keep_alive = client_keep_alive && !(ctx.draining && ctx.draining());
    auto out = to_beast(std::move(response), version, keep_alive);
    set_deadline(stream, settings.write_timeout);
    boost::system::error_code wec;
    if (head) {
      // The head of the GET response, Content-Length included, and no body (RFC 9110 9.3.2).
      http::response<http::empty_body> head_only{std::move(out.base())};
      auto [ec, n] = co_await http::async_write(stream, head_only, as_tuple(use_awaitable));
      wec = ec;
    } else {
      auto [ec, n] = co_await http::async_write(stream, out, as_tuple(use_awaitable));
      wec = ec;
    }
    if (wec || !keep_alive) break;
  }
  co_return std::nullopt;
}

/// Serves requests on one connection until it ends, or until one is an accepted WebSocket upgrade,
/// which it returns: the server performs the handshake and hands the socket to a
/// WebSocketConnection (websocket_connection.hpp), after the HTTP loop's coroutine frame (its
/// parser, buffers and responses) is gone, so that an open socket holds only what it needs.
template <class Stream>
Task<std::optional<WebSocketUpgrade>> run_session(Stream& stream, SessionContext ctx) {
  co_return co_await serve_http(stream, ctx);
}

}  // namespace gh::net::detail
