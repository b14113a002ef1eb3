#include "net/json.hpp"

#include <string_view>
#include <vector>

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

// One step of the way from the top to a string: a key, or an index of an array.
struct Step {
  std::string_view key;
  std::size_t index = 0;
};

// True when a string under `value` holds U+0000 (in a key when `in_key`); then `way` holds the
// steps to it, innermost first. Nothing is allocated on the way down, so a body without U+0000
// costs one pass over its strings.
bool nul_under(const boost::json::value& value, std::vector<Step>& way, bool& in_key) {
  switch (value.kind()) {
    case boost::json::kind::string:
      return has_nul(value.get_string());
    case boost::json::kind::array: {
      const auto& items = value.get_array();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (nul_under(items[i], way, in_key)) {
          way.push_back(Step{{}, i});
          return true;
        }
      }
      return false;
    }
    case boost::json::kind::object:
      for (const auto& [key, v] : value.get_object()) {
        if (has_nul(key)) {
          in_key = true;
          return true;
        }
        if (nul_under(v, way, in_key)) {
          way.push_back(Step{key, 0});
          return true;
        }
      }
      return false;
    default:
      return false;
  }
}

}  // namespace

std::optional<std::string> nul_in(const boost::json::value& value) {
  std::vector<Step> way;
  bool in_key = false;
  if (!nul_under(value, way, in_key)) return std::nullopt;
  std::string path;
  for (auto step = way.rbegin(); step != way.rend(); ++step) {
    if (step->key.data() == nullptr) {
      path += fmt::format("[{}]", step->index);
    } else {
      if (!path.empty()) path += '.';
      path += step->key;
    }
  }
  if (in_key) return path.empty() ? std::string("a key") : "a key in " + path;
  return path.empty() ? std::string("the value") : path;
}

Response json_response(unsigned status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

}  // namespace gh::net
