#pragma once
// The pure half of serving a GraphQL request: parse within limits, validate, pick the operation,
// coerce the variables and check the cost limits. What comes out is ready for the executor, or
// the request errors of a response without "data".
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "graphql/ast.hpp"
#include "graphql/error.hpp"
#include "graphql/parser.hpp"
#include "graphql/schema.hpp"
#include "graphql/validation.hpp"

namespace gh::graphql {

/// The parameters of a GraphQL request (GraphQL over HTTP).
struct RequestParams {
  std::string query;
  std::string operation_name;  ///< empty when not given
  boost::json::object variables;
};

/// Every bound a request is held to.
struct RequestLimits {
  ParseLimits parse;
  QueryLimits query;
};

/// A request ready to execute. Owns its document; `operation` points into it.
struct PreparedRequest {
  std::shared_ptr<const Document> document;
  const OperationDefinition* operation = nullptr;
  boost::json::object variables;  ///< coerced
};

/// A prepared request, or the errors that end it before execution.
struct PrepareResult {
  std::optional<PreparedRequest> request;
  std::vector<GraphQLError> errors;
};

/// Parses, validates, selects the operation and coerces variables.
PrepareResult prepare(const Schema& schema, const RequestParams& params, const RequestLimits& limits);

/// The request parameters from a GraphQL-over-HTTP JSON body; an error message when malformed.
std::optional<std::string> params_from_json(const boost::json::value& body, RequestParams& out);

/// A response without data: {"errors": [...]}.
boost::json::object error_response(const std::vector<GraphQLError>& errors);

}  // namespace gh::graphql
