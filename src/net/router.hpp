#pragma once
// Routes by method and path template ("/v1/communities/{id}/join"). A literal segment wins over a
// parameter at the same position. Unknown paths answer 404 `not_found`; a known path with another
// method answers 405 `method_not_allowed` with an Allow header.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.hpp"
#include "net/http.hpp"
#include "net/websocket.hpp"

namespace gh::net {

/// What matching a request found.
struct RouteMatch {
  enum class Kind { found, not_found, method_not_allowed } kind = Kind::not_found;
  const Handler* handler = nullptr;
  std::string route;  ///< the template, for metrics and logs
  std::vector<std::pair<std::string, std::string>> params;
  std::string allow;       ///< for 405: "GET, POST"
  bool is_public = false;  ///< declared callable without credentials (Router::declare_public)
};

/// One entry of the route table.
struct RouteInfo {
  std::string method;
  std::string path;  ///< the template
  bool is_public = false;
};

/// The route table. Built at start-up, then only read (thread-safe for concurrent match()).
class Router {
 public:
  Router();
  ~Router();
  Router(Router&&) noexcept;
  Router& operator=(Router&&) noexcept;

  /// Registers a handler; throws std::logic_error on a malformed or duplicate template.
  void add(std::string_view method, std::string_view path_template, Handler handler);
  /// Registers a WebSocket endpoint at GET `path_template`: an upgrade request goes to `accept`,
  /// which authenticates it and returns the session that takes the connection over; a plain GET
  /// that `accept` lets through answers 400 `upgrade_required`.
  void add_websocket(std::string_view path_template, WebSocketAccept accept);
  /// Finds the handler for a method and a raw (still percent-encoded) path.
  RouteMatch match(std::string_view method, std::string_view path) const;
  /// Declares a registered route callable without credentials; every other route needs them (the
  /// Dispatcher answers 401 to a request that carries none). False when no such route exists.
  bool declare_public(std::string_view method, std::string_view path_template);
  /// The route table, sorted by path then method (HEAD twins of GET routes are not listed).
  std::vector<RouteInfo> routes() const;

 private:
  struct Node;
  std::unique_ptr<Node> m_root;
};

/// Percent-decodes one path segment; nullopt when the encoding is malformed, decodes to '/' or NUL,
/// or is not UTF-8.
std::optional<std::string> decode_segment(std::string_view segment);

}  // namespace gh::net
