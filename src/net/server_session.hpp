#pragma once
// Private to net: the per-connection HTTP session, written once for any Beast stream so that the
// tests can drive it over beast::test::stream (with fail_count) and the server over tcp_stream.
// Shape of Beast's awaitable server: a deadline before every read and write, parser limits,
// as_tuple for expected errors, keep-alive until the client, an error or a drain ends it.
#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "net/dispatcher.hpp"
#include "net/server.hpp"

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
};

template <class Stream>
concept StreamWithDeadline = requires(Stream& s) { s.expires_after(std::chrono::seconds(1)); };

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

/// Writes an error that ends the connection (limits exceeded, malformed request).
template <class Stream>
Task<void> write_rejection(Stream& stream, SessionContext& ctx, const Error& error, unsigned version) {
  auto res = to_beast(ctx.dispatcher->reject(error, ctx.remote_ip), version, false);
  set_deadline(stream, ctx.settings->write_timeout);
  co_await boost::beast::http::async_write(stream, res, boost::asio::as_tuple(boost::asio::use_awaitable));
}

/// Serves requests on one connection until it ends.
template <class Stream>
Task<void> run_session(Stream& stream, SessionContext ctx) {
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
        co_await write_rejection(stream, ctx,
                                 make_error(ErrorKind::too_large, "headers_too_large",
                                            "request headers exceed " + std::to_string(settings.max_header_bytes) + " bytes"),
                                 11);
      } else if (hec == http::error::body_limit) {
        co_await write_rejection(stream, ctx,
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
    if (header[http::field::expect] == "100-continue" && !parser.is_done()) {
      http::response<http::empty_body> cont{http::status::continue_, version};
      set_deadline(stream, settings.write_timeout);
      auto [cec, cn] = co_await http::async_write(stream, cont, as_tuple(use_awaitable));
      if (cec) break;
    }
    if (!parser.is_done()) {
      set_deadline(stream, settings.read_timeout);
      auto [bec, bn] = co_await http::async_read(stream, buffer, parser, as_tuple(use_awaitable));
      if (bec) {
        if (bec == http::error::body_limit) {
          co_await write_rejection(stream, ctx,
                                   make_error(ErrorKind::too_large, "body_too_large",
                                              "request body exceeds " + std::to_string(settings.max_body_bytes) + " bytes"),
                                   version);
        } else if (is_protocol_error(bec)) {
          co_await write_rejection(stream, ctx, bad_input("bad_request", "malformed HTTP request: " + bec.message()), version);
        }
        break;
      }
    }

    auto request = to_request(parser.release(), ctx.remote_ip);
    const bool client_keep_alive = request.keep_alive;
    auto response = co_await ctx.dispatcher->dispatch(request);
    const bool keep_alive = client_keep_alive && !(ctx.draining && ctx.draining());
    auto out = to_beast(std::move(response), version, keep_alive);
    set_deadline(stream, settings.write_timeout);
    auto [wec, wn] = co_await http::async_write(stream, out, as_tuple(use_awaitable));
    if (wec || !keep_alive) break;
  }
}

}  // namespace gh::net::detail
