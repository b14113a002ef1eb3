#include "graphql/introspection.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

const char* kind_name(TypeKind kind) {
  switch (kind) {
    case TypeKind::scalar:
      return "SCALAR";
    case TypeKind::object:
      return "OBJECT";
    case TypeKind::interface_type:
      return "INTERFACE";
    case TypeKind::union_type:
      return "UNION";
    case TypeKind::enum_type:
      return "ENUM";
    case TypeKind::input_object:
      return "INPUT_OBJECT";
  }
  return "SCALAR";
}

json::value text_or_null(const std::string& s) {
  return s.empty() ? json::value(nullptr) : json::value(s);
}

json::object named_type(const NamedType& t) {
  return json::object{{"kind", kind_name(t.kind)},
                      {"name", t.name},
                      {"description", text_or_null(t.description)},
                      {"specifiedByURL", text_or_null(t.specified_by_url)},
                      {"ofType", nullptr}};
}

json::object type_ref(const Schema& schema, const TypeRef& ref) {
  if (ref.kind == TypeRef::Kind::named) {
    const auto* t = schema.type(ref.name);
    if (t != nullptr) return named_type(*t);
    return json::object{{"kind", "SCALAR"}, {"name", ref.name}, {"ofType", nullptr}};
  }
  return json::object{{"kind", ref.kind == TypeRef::Kind::list ? "LIST" : "NON_NULL"},
                      {"name", nullptr},
                      {"description", nullptr},
                      {"specifiedByURL", nullptr},
                      {"ofType", type_ref(schema, *ref.of)}};
}

json::object input_value(const Schema& schema, const InputValue& v) {
  return json::object{
      {"name", v.name},
      {"description", text_or_null(v.description)},
      {"type", type_ref(schema, *v.type)},
      {"defaultValue", v.default_value ? json::value(print_value(*v.default_value)) : json::value(nullptr)},
      {"isDeprecated", v.deprecated},
      {"deprecationReason", v.deprecated ? json::value(v.deprecation_reason) : json::value(nullptr)}};
}

json::array input_values(const Schema& schema, const std::vector<InputValue>& values) {
  json::array out;
  for (const auto& v : values) out.push_back(input_value(schema, v));
  return out;
}

}  // namespace

json::object introspect_schema(const Schema& schema) {
  json::array types;
  for (const auto& t : schema.types()) types.push_back(named_type(*t));
  json::array directives;
  for (const auto& d : schema.directives()) {
    json::array locations;
    for (const auto& l : d.locations) locations.push_back(json::value(l));
    directives.push_back(json::object{{"name", d.name},
                                      {"description", text_or_null(d.description)},
                                      {"isRepeatable", d.repeatable},
                                      {"locations", std::move(locations)},
                                      {"args", input_values(schema, d.args)}});
  }
  auto root = [&](OperationType op) -> json::value {
    const auto* t = schema.root(op);
    return t ? json::value(named_type(*t)) : json::value(nullptr);
  };
  return json::object{{"description", text_or_null(schema.description())},
                      {"types", std::move(types)},
                      {"queryType", root(OperationType::query)},
                      {"mutationType", root(OperationType::mutation)},
                      {"subscriptionType", root(OperationType::subscription)},
                      {"directives", std::move(directives)}};
}

json::value introspect_type(const Schema& schema, std::string_view name) {
  const auto* t = schema.type(name);
  return t ? json::value(named_type(*t)) : json::value(nullptr);
}

json::value introspect_type_field(const Schema& schema, const json::object& type, std::string_view field,
                                  bool include_deprecated) {
  const auto* name = type.if_contains("name");
  if (name == nullptr || !name->is_string()) return nullptr;
  const auto* t = schema.type(name->get_string());
  if (t == nullptr) return nullptr;
  const bool has_fields = t->kind == TypeKind::object || t->kind == TypeKind::interface_type;
  if (field == "fields") {
    if (!has_fields) return nullptr;
    json::array out;
    for (const auto& f : t->fields) {
      if (f.deprecated && !include_deprecated) continue;
      out.push_back(
          json::object{{"name", f.name},
                       {"description", text_or_null(f.description)},
                       {"args", input_values(schema, f.args)},
                       {"type", type_ref(schema, *f.type)},
                       {"isDeprecated", f.deprecated},
                       {"deprecationReason", f.deprecated ? json::value(f.deprecation_reason) : json::value(nullptr)}});
    }
    return out;
  }
  if (field == "interfaces") {
    if (!has_fields) return nullptr;
    json::array out;
    for (const auto& i : t->interfaces) {
      if (const auto* it = schema.type(i)) out.push_back(named_type(*it));
    }
    return out;
  }
  if (field == "possibleTypes") {
    if (!t->is_abstract()) return nullptr;
    json::array out;
    for (const auto& p : t->possible_types) {
      if (const auto* pt = schema.type(p)) out.push_back(named_type(*pt));
    }
    return out;
  }
  if (field == "enumValues") {
    if (t->kind != TypeKind::enum_type) return nullptr;
    json::array out;
    for (const auto& v : t->enum_values) {
      if (v.deprecated && !include_deprecated) continue;
      out.push_back(
          json::object{{"name", v.name},
                       {"description", text_or_null(v.description)},
                       {"isDeprecated", v.deprecated},
                       {"deprecationReason", v.deprecated ? json::value(v.deprecation_reason) : json::value(nullptr)}});
    }
    return out;
  }
  if (field == "inputFields") {
    if (t->kind != TypeKind::input_object) return nullptr;
    json::array out;
    for (const auto& f : t->input_fields) {
      if (f.deprecated && !include_deprecated) continue;
      out.push_back(input_value(schema, f));
    }
    return out;
  }
  return nullptr;
}

json::value introspect_args(const json::object& owner, bool include_deprecated) {
  const auto* args = owner.if_contains("args");
  if (args == nullptr || !args->is_array()) return json::array{};
  if (include_deprecated) return *args;
  json::array out;
  for (const auto& a : args->get_array()) {
    const auto* dep = a.as_object().if_contains("isDeprecated");
    if (dep != nullptr && dep->is_bool() && dep->get_bool()) continue;
    out.push_back(a);
  }
  return out;
}

}  // namespace gh::graphql
