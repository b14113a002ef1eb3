#pragma once
// A GraphQL error as the spec's response carries it: a message, the source locations it concerns
// and, for field errors, the response path. `code` lands in `extensions.code` so that clients can
// tell limit and syntax failures apart without parsing messages.
#include <string>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "graphql/ast.hpp"

namespace gh::graphql {

/// One entry of a response's "errors".
struct GraphQLError {
  std::string message;
  std::vector<Location> locations;
  boost::json::array path;  ///< field names and list indices; empty for request errors
  std::string code;         ///< extensions.code; empty for none
};

/// The error as the JSON object of the response's "errors" list.
boost::json::object to_json(const GraphQLError& error);

}  // namespace gh::graphql
