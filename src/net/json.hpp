#pragma once
// JSON in and out of handlers (Boost.JSON, the project's one JSON library).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.hpp"
#include "net/http.hpp"

namespace gh::net {

/// Limits applied to every JSON body on top of the byte limit.
struct JsonLimits {
  std::size_t max_depth = 32;
};

/// The body as a JSON object; 400 `invalid_json` when it is not JSON, `expected_object` otherwise.
Result<boost::json::object> parse_json_object(const Request& request, const JsonLimits& limits = {});
/// A JSON response with this status.
Response json_response(unsigned status, const boost::json::value& body);

}  // namespace gh::net
