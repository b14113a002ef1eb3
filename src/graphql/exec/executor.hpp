#pragma once
// Execution of prepared GraphQL requests with asynchronous, batched resolvers.
//
// Execution is breadth-first: every field of one level of the response is gathered first, then
// resolved with one call per (parent type, field selection), handing the resolver all the parents
// at once. A list of 1,000 pairs with their tokens therefore costs one `Pair.token0` call, not
// 1,000: batching is how resolvers are written here, not an add-on. Field errors land in "errors"
// with their path; a null in a non-null position nulls the nearest nullable parent (spec 6.4.4).
//
// Resolver values are JSON: an object's value is whatever its parent's resolver returned (a full
// object, or just an id that the child resolvers load in one batch). Fields without a resolver
// read the property of that name. Abstract types resolve through `__typename` in the value or a
// registered type resolver.
#include <any>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/result.hpp"
#include "core/task.hpp"
#include "graphql/request.hpp"
#include "graphql/schema.hpp"

namespace gh::graphql {

/// What a resolver learns about the field it resolves.
struct ResolveInfo {
  const Schema& schema;
  const NamedType& parent_type;
  const FieldDef& field;
  const Field& node;                ///< the first selection of the field (alias, directives)
  const boost::json::object& args;  ///< coerced arguments, defaults applied
  const boost::json::object& variables;
  const std::any& context;  ///< what the caller passed to execute()
};

/// The value of one field for one parent, or the error that prevented it (its message is shown).
using FieldResult = Result<boost::json::value>;

/// Resolves a field for every parent of a level at once; returns one result per parent, in order.
using BatchResolver = std::function<Task<std::vector<FieldResult>>(
    const ResolveInfo& info, const std::vector<const boost::json::value*>& parents)>;
/// Resolves a field for one parent without waiting.
using SyncResolver = std::function<FieldResult(const ResolveInfo& info, const boost::json::value& parent)>;
/// Names the object type of a value of an abstract type; empty when it cannot.
using TypeResolver = std::function<std::string(const boost::json::value& value)>;

/// The resolvers of a schema, by "Type.field".
class Resolvers {
 public:
  /// A batched (and possibly asynchronous) resolver for a field of an object or interface type.
  Resolvers& batch(const std::string& type, const std::string& field, BatchResolver resolver);
  /// A synchronous per-parent resolver.
  Resolvers& sync(const std::string& type, const std::string& field, SyncResolver resolver);
  /// The object type resolver of an interface or union.
  Resolvers& type_resolver(std::string abstract_type, TypeResolver resolver);

  struct Entry {
    BatchResolver batch;
    SyncResolver sync;
  };
  const Entry* find(const NamedType& object_type, const std::string& field, const Schema& schema) const;
  const TypeResolver* find_type_resolver(const std::string& abstract_type) const;

 private:
  std::map<std::string, Entry, std::less<>> m_fields;
  std::map<std::string, TypeResolver, std::less<>> m_types;
};

/// Runs requests against one schema and its resolvers. Thread-safe: execute() keeps its state in
/// the coroutine frame.
class Executor {
 public:
  Executor(std::shared_ptr<const Schema> schema, Resolvers resolvers, RequestLimits limits = {});

  /// The full response ({"data", "errors"}) for request parameters, which must outlive the task.
  Task<boost::json::object> execute(const RequestParams& params, std::any context = {}) const;
  /// The response for an already prepared request (which must outlive the task).
  Task<boost::json::object> execute_prepared(const PreparedRequest& request, std::any context = {}) const;

  const Schema& schema() const { return *m_schema; }
  const RequestLimits& limits() const { return m_limits; }

 private:
  std::shared_ptr<const Schema> m_schema;
  Resolvers m_resolvers;
  RequestLimits m_limits;
};

}  // namespace gh::graphql
