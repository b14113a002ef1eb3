#pragma once
// The server's request and response, free of Beast so that every context's routes can include them
// cheaply. The session (server_session.hpp) converts from and to Beast's messages.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "core/task.hpp"

namespace gh::net {

class WebSocketSession;

using HeaderList = std::vector<std::pair<std::string, std::string>>;

/// One HTTP request as handlers see it.
struct Request {
  std::string method;  ///< "GET", "POST", ...
  std::string target;  ///< raw request target (path and query)
  std::string path;    ///< target without the query
  HeaderList headers;  ///< names lower-cased, in arrival order
  std::string body;
  std::vector<std::pair<std::string, std::string>> query;   ///< decoded, in order
  std::vector<std::pair<std::string, std::string>> params;  ///< path parameters, decoded
  std::string route;                                        ///< the matched route template, e.g. "/v1/communities/{id}"
  std::string remote_ip;
  std::string request_id;
  unsigned version = 11;  ///< 10 or 11
  bool keep_alive = true;

  /// First header of that (case-insensitive) name.
  std::optional<std::string_view> header(std::string_view name) const;
  /// A path parameter by name; empty when absent.
  std::string_view param(std::string_view name) const;
  /// The last value of a query parameter.
  std::optional<std::string_view> query_param(std::string_view name) const;
};

/// One HTTP response.
struct Response {
  unsigned status = 200;
  std::string content_type = "application/json";
  HeaderList headers;
  std::string body;
  /// Set (with status 101) by a WebSocket endpoint that accepts an upgrade: the session takes the
  /// connection over once the handshake completes (net/websocket.hpp).
  std::shared_ptr<WebSocketSession> upgrade;

  /// Adds a header.
  Response& with_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  /// A response with a ready body.
  static Response text(unsigned status, std::string body, std::string content_type = "text/plain; charset=utf-8");
};

/// A route handler: a response, or an Error mapped to API.md's shape by the dispatcher.
using Handler = std::function<Task<Result<Response>>(Request&)>;

/// HTTP status for an error kind (the one mapping of API.md's table).
unsigned status_for(ErrorKind kind) noexcept;
/// API.md's error body: {"error": {"code", "message", ...details}}.
Response error_response(const Error& error);

}  // namespace gh::net
