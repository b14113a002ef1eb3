#pragma once
// Input coercion (spec 3.x "Input Coercion", 6.1.2 and 6.4.1): variable values from JSON, argument
// values from literals and variables, default values; and output coercion of leaf values. Coerced
// values are Boost.JSON values: Int as int64 within 32 bits, Float as double, ID as string, enum
// values as their name, input objects as objects.
#include <optional>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "graphql/ast.hpp"
#include "graphql/error.hpp"
#include "graphql/schema.hpp"

namespace gh::graphql {

/// Coerces the request's variables for an operation; the errors are request errors.
std::variant<boost::json::object, std::vector<GraphQLError>> coerce_variable_values(const Schema& schema,
                                                                                    const OperationDefinition& op,
                                                                                    const boost::json::object& inputs);

/// Coerces a JSON input value to a type; on failure, a message saying what is wrong and where
/// ("at \"value.list[1]\"") without the leading variable name.
std::optional<std::string> coerce_input_value(const Schema& schema, const boost::json::value& input,
                                              const TypeRef& type, boost::json::value& out);

/// The value of a literal for an input type, with variables substituted; nullopt when the literal
/// is invalid for the type (validation reports why).
std::optional<boost::json::value> value_from_ast(const Schema& schema, const Value& literal, const TypeRef& type,
                                                 const boost::json::object* variables);

/// Coerces field or directive arguments. On failure, the message of the field error.
std::variant<boost::json::object, std::string> coerce_argument_values(const Schema& schema,
                                                                      const std::vector<InputValue>& definitions,
                                                                      const std::vector<Argument>& arguments,
                                                                      const boost::json::object& variables);

/// Output coercion of a scalar or enum value; an error message when the value cannot represent it.
std::optional<std::string> serialize_leaf(const NamedType& type, const boost::json::value& value,
                                          boost::json::value& out);

/// Whether a literal is valid for an input type (ValuesOfCorrectType); a message when not.
/// Variables are accepted as they are (VariablesInAllowedPosition checks them).
std::optional<std::string> check_literal(const Schema& schema, const Value& literal, const TypeRef& type);

}  // namespace gh::graphql
