#include "net/json.hpp"

#include <string_view>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>
#include <boost/json/serialize.hpp>

namespace gh::net {

Result<boost::json::object> parse_json_object(const Request& request, const JsonLimits& limits) {
  boost::json::parse_options options;
  options.max_depth = limits.max_depth;
  boost::system::error_code ec;
  auto value = boost::json::parse(request.body, ec, {}, options);
  if (ec) {
    return bad_input("invalid_json", fmt::format("request body is not valid JSON: {}", ec.message()));
  }
  if (auto where = nul_in(value)) {
    return bad_input("invalid_json", fmt::format("{} holds U+0000, which no field takes", *where));
  }
  if (!value.is_object()) return bad_input("expected_object", "request body must be a JSON object");
  return std::move(value.as_object());
}

namespace {

bool has_nul(std::string_view text) {
  return text.find('\0') != std::string_view::npos;
}

// nul_in below `at` (a path, "" at the top).
std::optional<std::string> nul_below(const boost::json::value& value, const std::string& at) {
  switch (value.kind()) {
    case boost::json::kind::string:
      if (has_nul(value.get_string())) return at.empty() ? std::string("the value") : at;
      return std::nullopt;
    case boost::json::kind::array: {
      const auto& items = value.get_array();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (auto found = nul_below(items[i], fmt::format("{}[{}]", at, i))) return found;
      }
      return std::nullopt;
    }
    case boost::json::kind::object:
      for (const auto& [key, v] : value.get_object()) {
        if (has_nul(key)) return at.empty() ? std::string("a key") : "a key in " + at;
        if (auto found = nul_below(v, at.empty() ? std::string(key) : fmt::format("{}.{}", at, std::string_view(key))))
          return found;
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

std::optional<std::string> nul_in(const boost::json::value& value) {
  return nul_below(value, "");
}

Response json_response(unsigned status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

}  // namespace gh::net
