#include "net/json.hpp"

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
  if (!value.is_object()) return bad_input("expected_object", "request body must be a JSON object");
  return std::move(value.as_object());
}

Response json_response(unsigned status, const boost::json::value& body) {
  Response r;
  r.status = status;
  r.body = boost::json::serialize(body);
  return r;
}

}  // namespace gh::net
