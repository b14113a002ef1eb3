#include "graphql/request.hpp"

#include "graphql/coercion.hpp"

namespace gh::graphql {

namespace json = boost::json;

PrepareResult prepare(const Schema& schema, const RequestParams& params, const RequestLimits& limits) {
  PrepareResult out;
  auto parsed = parse(params.query, limits.parse);
  if (!parsed) {
    out.errors.push_back(std::move(parsed.error));
    return out;
  }
  auto document = std::make_shared<const Document>(std::move(*parsed.document));
  auto errors = validate(schema, *document);
  if (!errors.empty()) {
    out.errors = std::move(errors);
    return out;
  }
  const OperationDefinition* operation = nullptr;
  std::size_t count = 0;
  for (const auto& def : document->definitions) {
    const auto* op = std::get_if<OperationDefinition>(&def.node);
    if (op == nullptr) continue;
    ++count;
    if (params.operation_name.empty() || op->name == params.operation_name) {
      if (operation == nullptr) operation = op;
    }
  }
  if (params.operation_name.empty() && count > 1) {
    out.errors.push_back(
        GraphQLError{"Must provide operation name if query contains multiple operations.", {}, {}, "BAD_USER_INPUT"});
    return out;
  }
  if (operation == nullptr) {
    out.errors.push_back(GraphQLError{params.operation_name.empty()
                                          ? "Must provide an operation."
                                          : "Unknown operation named \"" + params.operation_name + "\".",
                                      {},
                                      {},
                                      "BAD_USER_INPUT"});
    return out;
  }
  if (operation->operation == OperationType::subscription && schema.root(OperationType::subscription) != nullptr) {
    out.errors.push_back(GraphQLError{
        "Subscriptions are not served over this transport.", {operation->loc}, {}, "OPERATION_NOT_SUPPORTED"});
    return out;
  }
  auto variables = coerce_variable_values(schema, *operation, params.variables);
  if (auto* failures = std::get_if<std::vector<GraphQLError>>(&variables)) {
    out.errors = std::move(*failures);
    return out;
  }
  auto coerced = std::get<json::object>(std::move(variables));
  out.errors = check_limits(schema, *document, *operation, coerced, limits.query);
  if (!out.errors.empty()) return out;
  out.request = PreparedRequest{std::move(document), operation, std::move(coerced)};
  return out;
}

std::optional<std::string> params_from_json(const json::value& body, RequestParams& out) {
  if (!body.is_object()) return "The request body must be a JSON object.";
  const auto& obj = body.get_object();
  const auto* query = obj.if_contains("query");
  if (query == nullptr || !query->is_string()) return "The request must carry a \"query\" string.";
  out.query = std::string(query->get_string());
  if (const auto* name = obj.if_contains("operationName"); name != nullptr && !name->is_null()) {
    if (!name->is_string()) return "\"operationName\" must be a string.";
    out.operation_name = std::string(name->get_string());
  }
  if (const auto* vars = obj.if_contains("variables"); vars != nullptr && !vars->is_null()) {
    if (!vars->is_object()) return "\"variables\" must be an object.";
    out.variables = vars->get_object();
  }
  return std::nullopt;
}

json::object error_response(const std::vector<GraphQLError>& errors) {
  json::array list;
  for (const auto& e : errors) list.push_back(to_json(e));
  return json::object{{"errors", std::move(list)}};
}

}  // namespace gh::graphql
