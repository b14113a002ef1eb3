#pragma once
// JSON in and out of handlers (Boost.JSON, the project's one JSON library).
#include <optional>
#include <string>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.hpp"
#include "net/http.hpp"

namespace gh::net {

/// Limits applied to every JSON body on top of the byte limit.
struct JsonLimits {
  std::size_t max_depth = 32;
};

/// The body as a JSON object; 400 `invalid_json` when it is not JSON or a string of it holds U+0000
/// (nul_in), `expected_object` when it is JSON but not an object.
Result<boost::json::object> parse_json_object(const Request& request, const JsonLimits& limits = {});
/// Where a string of `value`, a key or a value at any depth, holds U+0000 ("note", "poll.answers[1]",
/// "a key in poll"; "the value" for a string at the top), or nullopt. No field of the API takes it,
/// and PostgreSQL's text cannot store it: a request or frame that carries one is refused whole.
std::optional<std::string> nul_in(const boost::json::value& value);
/// A JSON response with this status.
Response json_response(unsigned status, const boost::json::value& body);

}  // namespace gh::net
