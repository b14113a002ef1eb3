// HTTP routing and request-target handling: a request line's target is split as the dispatcher
// does (Boost.URL origin form, query parameters decoded) and routed through a table shaped like
// the server's. Invariants: segment decoding agrees with a trivial percent-decoder and glibc's
// UTF-8 check; a match gives
// back a path that, rebuilt from its template and parameters, routes to the same place with the
// same parameters; a 405 lists only methods that do route there; query_param() returns the last
// value of a name.
#include <iconv.h>

#include <boost/url/parse.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http.hpp"
#include "net/router.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

const char* const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

struct Route {
  const char* method;
  const char* path;
};
constexpr Route routes[] = {
    {"GET", "/healthz"},
    {"GET", "/v1/communities"},
    {"POST", "/v1/communities"},
    {"GET", "/v1/communities/mine"},
    {"GET", "/v1/communities/{id}"},
    {"PATCH", "/v1/communities/{id}"},
    {"POST", "/v1/communities/{id}/join"},
    {"GET", "/v1/communities/{id}/channels/{channel}"},
    {"GET", "/v1/channels/{channel}/messages"},
    {"DELETE", "/v1/channels/{channel}/messages/{message}"},
    {"GET", "/v1/a/{x}/c"},
    {"GET", "/v1/a/b"},
    {"POST", "/v1/auth/nonce"},
};

const gh::net::Router& router() {
  static const gh::net::Router table = [] {
    gh::net::Router r;
    for (const auto& route : routes) {
      r.add(route.method, route.path,
            [](gh::net::Request&) -> gh::Task<gh::Result<gh::net::Response>> { co_return gh::net::Response{}; });
    }
    return r;
  }();
  return table;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// glibc's UTF-8 decoder, independent of the server's: the whole text converts or it is not UTF-8.
bool iconv_utf8(const std::string& text) {
  static iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  std::string in = text;
  std::string out(text.size() * 4 + 8, '\0');
  char* inp = in.data();
  std::size_t inleft = in.size();
  char* outp = out.data();
  std::size_t outleft = out.size();
  return iconv(cd, &inp, &inleft, &outp, &outleft) != static_cast<std::size_t>(-1) && inleft == 0;
}

// Reference percent-decoding of one segment (RFC 3986 2.1), refusing '/', NUL and text that is
// not UTF-8.
std::optional<std::string> reference_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (s.size() - i < 3 || hex_digit(s[i + 1]) < 0 || hex_digit(s[i + 2]) < 0) return std::nullopt;
    const char c = static_cast<char>(hex_digit(s[i + 1]) * 16 + hex_digit(s[i + 2]));
    if (c == '/' || c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  if (!iconv_utf8(out)) return std::nullopt;
  return out;
}

// Percent-encodes everything but RFC 3986's unreserved characters.
std::string encode_segment(std::string_view s) {
  std::string out;
  for (const char c : s) {
    const bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                            c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += "0123456789ABCDEF"[b >> 4];
      out += "0123456789ABCDEF"[b & 15];
    }
  }
  return out;
}

// The template with its {name} segments replaced by the encoded parameters, in order.
std::string fill(std::string_view route, const std::vector<std::pair<std::string, std::string>>& params) {
  std::string out;
  std::size_t next = 0;
  while (!route.empty()) {
    const auto open = route.find('{');
    if (open == std::string_view::npos) {
      out += route;
      break;
    }
    out += route.substr(0, open);
    const auto close = route.find('}', open);
    check(close != std::string_view::npos && next < params.size());
    out += encode_segment(params[next++].second);
    route.remove_prefix(close + 1);
  }
  check(next == params.size());
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string method = methods[data[0] % std::size(methods)];
  const std::string_view target(reinterpret_cast<const char*>(data) + 1, size - 1);

  // Segment decoding on the raw target, whatever it holds.
  {
    const auto ours = gh::net::decode_segment(target);
    const auto want = reference_decode(target);
    check(ours.has_value() == want.has_value());
    if (ours) check(*ours == *want);
  }

  // As the dispatcher: origin form, path kept encoded, query decoded.
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) return 0;
  gh::net::Request request;
  request.method = method;
  request.target = std::string(target);
  request.path = std::string(parsed->encoded_path());
  for (const auto& p : parsed->params()) request.query.emplace_back(p.key, p.has_value ? p.value : std::string());
  for (const auto& [key, value] : request.query) {
    std::optional<std::string_view> last;
    for (const auto& [k, v] : request.query) {
      if (k == key) last = v;
    }
    const auto got = request.query_param(key);
    check(got.has_value() && *got == *last);
  }

  const auto match = router().match(method, request.path);
  using Kind = gh::net::RouteMatch::Kind;
  if (match.kind == Kind::not_found) return 0;
  check(!match.route.empty());
  if (match.kind == Kind::method_not_allowed) {
    check(!match.allow.empty());
    std::string_view allow = match.allow;
    while (!allow.empty()) {
      const auto comma = allow.find(", ");
      const std::string allowed(allow.substr(0, comma));
      check(allowed != method);
      const auto again = router().match(allowed, request.path);
      check(again.kind == Kind::found && again.route == match.route);
      allow = comma == std::string_view::npos ? std::string_view() : allow.substr(comma + 2);
    }
    return 0;
  }
  check(match.handler != nullptr);
  // Rebuilt from the template and the decoded parameters, the path routes the same way.
  const std::string rebuilt = fill(match.route, match.params);
  const auto again = router().match(method, rebuilt);
  check(again.kind == Kind::found);
  check(again.route == match.route);
  check(again.params == match.params);
  return 0;
}
