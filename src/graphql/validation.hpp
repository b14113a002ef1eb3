#pragma once
// Validation of executable documents against a schema (spec section 5): the rules that decide
// whether a document can run (fields, arguments, fragments, variables, directives, leaf
// selections, merging of same-named fields), and the cost limits a public endpoint needs (depth,
// aliases, complexity). Pure: no I/O, safe from any thread.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/json/object.hpp>

#include "graphql/ast.hpp"
#include "graphql/error.hpp"
#include "graphql/schema.hpp"

namespace gh::graphql {

/// Every validation error of a document (empty when valid).
std::vector<GraphQLError> validate(const Schema& schema, const Document& document);

/// Bounds on what one operation may ask for.
struct QueryLimits {
  std::size_t max_depth = 15;            ///< nesting of fields, fragments expanded
  std::size_t max_aliases = 30;          ///< aliased fields, fragments expanded
  std::uint64_t max_complexity = 5000;   ///< see measure()
  std::uint64_t default_list_size = 10;  ///< assumed length of a list without first/last/limit
};

/// What an operation costs with fragments expanded.
struct QueryCost {
  std::size_t depth = 0;
  std::size_t aliases = 0;
  /// Each field counts 1, and the fields below a list count once per expected item: the value of
  /// its `first`, `last` or `limit` argument after coercion (variables and schema defaults
  /// applied), else of such a field of an input-object argument (`page: {first: 100}`), else
  /// `default_list_size`.
  std::uint64_t complexity = 0;
};

/// Measures an operation of a valid document (variables already coerced).
QueryCost measure(const Schema& schema, const Document& document, const OperationDefinition& operation,
                  const boost::json::object& variables, const QueryLimits& limits);

/// The limit errors of an operation (codes QUERY_TOO_DEEP, TOO_MANY_ALIASES, QUERY_TOO_COMPLEX).
std::vector<GraphQLError> check_limits(const Schema& schema, const Document& document,
                                       const OperationDefinition& operation, const boost::json::object& variables,
                                       const QueryLimits& limits);

}  // namespace gh::graphql
