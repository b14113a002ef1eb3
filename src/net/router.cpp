#include "net/router.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace gh::net {

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> param;
  std::string param_name;
  std::map<std::string, Handler, std::less<>> handlers;  // by method
  std::set<std::string, std::less<>> public_methods;
  std::string route;
};

Router::Router() : m_root(std::make_unique<Node>()) {}
Router::~Router() = default;
Router::Router(Router&&) noexcept = default;
Router& Router::operator=(Router&&) noexcept = default;

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    const auto slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<std::string> decode_segment(std::string_view segment) {
  std::string out;
  out.reserve(segment.size());
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] != '%') {
      out += segment[i];
      continue;
    }
    if (i + 2 >= segment.size()) return std::nullopt;
    const int hi = hex_value(segment[i + 1]);
    const int lo = hex_value(segment[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char c = static_cast<char>(hi * 16 + lo);
    if (c == '/' || c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  if (!valid_utf8(out)) return std::nullopt;
  return out;
}

void Router::add(std::string_view method, std::string_view path_template, Handler handler) {
  if (path_template.empty() || path_template.front() != '/') {
    throw std::logic_error("route must start with '/': " + std::string(path_template));
  }
  Node* node = m_root.get();
  for (auto segment : split_path(path_template)) {
    if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
      std::string name(segment.substr(1, segment.size() - 2));
      if (!node->param) {
        node->param = std::make_unique<Node>();
        node->param_name = name;
      } else if (node->param_name != name) {
        throw std::logic_error("conflicting parameter names in " + std::string(path_template));
      }
      node = node->param.get();
    } else {
      auto& child = node->literals[std::string(segment)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    }
  }
  if (node->handlers.count(method)) {
    throw std::logic_error("duplicate route " + std::string(method) + " " + std::string(path_template));
  }
  node->handlers.emplace(std::string(method), std::move(handler));
  node->route = std::string(path_template);
}

namespace {

// True when the comma-separated header value lists `token` (case-insensitive).
bool lists_token(std::string_view value, std::string_view token) {
  for (;;) {
    const auto comma = value.find(',');
    auto item = value.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (item.size() == token.size() && std::equal(item.begin(), item.end(), token.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        }))
      return true;
    if (comma == std::string_view::npos) return false;
    value.remove_prefix(comma + 1);
  }
}

}  // namespace

bool is_websocket_upgrade(const Request& request) {
  if (request.method != "GET" || request.version < 11) return false;
  const auto connection = request.header("connection");
  const auto upgrade = request.header("upgrade");
  return connection && upgrade && lists_token(*connection, "upgrade") && lists_token(*upgrade, "websocket");
}

void Router::add_websocket(std::string_view path_template, WebSocketAccept accept) {
  add("GET", path_template, [accept = std::move(accept)](Request& request) -> Task<Result<Response>> {
    // Credentials are checked first, so a plain GET without them is a 401 like on any other route.
    auto session = co_await accept(request);
    if (!session) co_return session.error();
    if (!is_websocket_upgrade(request)) {
      co_return bad_input("upgrade_required", "this endpoint speaks WebSocket: send an upgrade request");
    }
    Response response;
    response.status = 101;
    response.upgrade = std::move(*session);
    co_return response;
  });
}

RouteMatch Router::match(std::string_view method, std::string_view path) const {
  RouteMatch result;
  const auto segments = split_path(path);
  if (segments.empty()) return result;

  // Depth-first with literal preference; backtracks so "/a/{x}/c" still matches when "/a/b" exists.
  std::vector<std::pair<std::string, std::string>> params;
  const Node* found = nullptr;
  auto walk = [&](auto&& self, const Node* node, std::size_t i) -> bool {
    if (i == segments.size()) {
      if (node->handlers.empty()) return false;
      found = node;
      return true;
    }
    // Literals compare with the decoded segment too: "/v1/communities/mi%6Ee" is "/v1/communities/mine"
    // (RFC 3986 6.2.2.2), not a community whose id is "mine".
    auto decoded = decode_segment(segments[i]);
    if (!decoded) return false;
    if (auto it = node->literals.find(*decoded); it != node->literals.end()) {
      if (self(self, it->second.get(), i + 1)) return true;
    }
    if (node->param && !segments[i].empty()) {
      params.emplace_back(node->param_name, std::move(*decoded));
      if (self(self, node->param.get(), i + 1)) return true;
      params.pop_back();
    }
    return false;
  };
  if (!walk(walk, m_root.get(), 0)) return result;

  result.route = found->route;
  auto it = found->handlers.find(method);
  // HEAD is served wherever GET is, by the GET handler; the session sends the head only.
  if (it == found->handlers.end() && method == "HEAD") it = found->handlers.find(std::string_view("GET"));
  if (it != found->handlers.end()) {
    result.kind = RouteMatch::Kind::found;
    result.handler = &it->second;
    result.is_public = found->public_methods.count(it->first) > 0;
    result.params = std::move(params);
    return result;
  }
  result.kind = RouteMatch::Kind::method_not_allowed;
  std::vector<std::string> allowed;
  for (const auto& [m, h] : found->handlers) allowed.push_back(m);
  if (found->handlers.count("GET") && !found->handlers.count("HEAD")) allowed.push_back("HEAD");
  std::sort(allowed.begin(), allowed.end());
  for (const auto& m : allowed) {
    if (!result.allow.empty()) result.allow += ", ";
    result.allow += m;
  }
  return result;
}

namespace {

// The node a template ends at, or nullptr.
template <class NodeT>
NodeT* find_template(NodeT* node, std::string_view path_template) {
  if (path_template.empty() || path_template.front() != '/') return nullptr;
  std::string_view rest = path_template.substr(1);
  for (;;) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
      if (!node->param) return nullptr;
      node = node->param.get();
    } else {
      auto it = node->literals.find(segment);
      if (it == node->literals.end()) return nullptr;
      node = it->second.get();
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return node;
}

}  // namespace

bool Router::declare_public(std::string_view method, std::string_view path_template) {
  Node* node = find_template(m_root.get(), path_template);
  if (!node || node->route != path_template || !node->handlers.count(method)) return false;
  node->public_methods.emplace(method);
  return true;
}

std::vector<RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  auto walk = [&](auto&& self, const Node* node) -> void {
    for (const auto& [method, handler] : node->handlers) {
      out.push_back({method, node->route, node->public_methods.count(method) > 0});
    }
    for (const auto& [name, child] : node->literals) self(self, child.get());
    if (node->param) self(self, node->param.get());
  };
  walk(walk, m_root.get());
  std::sort(out.begin(), out.end(), [](const RouteInfo& a, const RouteInfo& b) {
    return a.path != b.path ? a.path < b.path : a.method < b.method;
  });
  return out;
}

}  // namespace gh::net
