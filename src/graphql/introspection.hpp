#pragma once
// Introspection (spec section 4) as plain JSON: the executor serves `__schema` and `__type` from
// these values and resolves the fields of `__Type` that take arguments with introspect_type_field().
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "graphql/schema.hpp"

namespace gh::graphql {

/// The `__Schema` object.
boost::json::object introspect_schema(const Schema& schema);
/// The `__Type` object of a named type; null when the schema has no such type.
boost::json::value introspect_type(const Schema& schema, std::string_view name);
/// A `__Type` field that depends on the schema or an argument (fields, interfaces, possibleTypes,
/// enumValues, inputFields) for a `__Type` object produced above.
boost::json::value introspect_type_field(const Schema& schema, const boost::json::object& type, std::string_view field,
                                         bool include_deprecated);
/// `args` of a `__Field` or `__Directive` object, without deprecated ones unless asked.
boost::json::value introspect_args(const boost::json::object& owner, bool include_deprecated);

}  // namespace gh::graphql
