#include "store/database_url.hpp"

#include <algorithm>

namespace gh::store {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) noexcept {
  return s.substr(0, prefix.size()) == prefix;
}

bool has_control_or_space(std::string_view s) noexcept {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

}  // namespace

std::string redact_database_url(std::string_view url) {
  // scheme://user:password@host/... -> scheme://user:***@host/...
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::size_t authority = scheme_end + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  const std::size_t at = url.rfind('@', authority_end == url.size() ? std::string_view::npos : authority_end);
  if (at == std::string_view::npos || at < authority) return std::string(url);
  const std::size_t colon = url.find(':', authority);
  if (colon == std::string_view::npos || colon > at) return std::string(url);
  std::string out(url.substr(0, colon + 1));
  out += "***";
  out += url.substr(at);
  return out;
}

Result<DatabaseUrl> parse_database_url(std::string_view url) {
  if (url.empty()) return bad_input("bad_database_url", "database URL is empty");
  DatabaseUrl out;
  if (starts_with(url, "sqlite:")) {
    std::string_view path = url.substr(7);
    if (path == ":memory:") {
      out.sqlite_memory = true;
      return out;
    }
    if (starts_with(path, "//")) path.remove_prefix(2);
    if (path.empty())
      return bad_input("bad_database_url", "sqlite URL has no file path (want sqlite:PATH or sqlite::memory:)");
    if (path.find('\0') != std::string_view::npos || path.find('\n') != std::string_view::npos) {
      return bad_input("bad_database_url", "sqlite file path contains a control character");
    }
    if (path.find('?') != std::string_view::npos) {
      return bad_input("bad_database_url", "sqlite URL takes no options (settings come from the configuration)");
    }
    out.dialect = Dialect::sqlite;
    out.sqlite_path = std::string(path);
    return out;
  }
  if (starts_with(url, "postgres://") || starts_with(url, "postgresql://")) {
    const std::string_view rest = url.substr(url.find("://") + 3);
    if (rest.empty()) return bad_input("bad_database_url", "postgres URL has no host or database");
    if (has_control_or_space(url)) {
      return bad_input("bad_database_url",
                       "postgres URL contains a space or control character: " + redact_database_url(url));
    }
    out.dialect = Dialect::postgres;
    out.postgres_uri = std::string(url);
    return out;
  }
  const std::size_t colon = url.find(':');
  const std::string scheme(url.substr(0, std::min(colon, std::size_t{20})));
  return bad_input("bad_database_url",
                   colon == std::string_view::npos
                       ? "database URL has no scheme (want sqlite:PATH or postgres://...)"
                       : "unsupported database URL scheme '" + scheme + "' (want sqlite: or postgres://)");
}

}  // namespace gh::store
