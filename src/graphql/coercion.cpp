#include "graphql/coercion.hpp"

#include <charconv>
#include <cmath>
#include <limits>

#include <boost/json/serialize.hpp>

namespace gh::graphql {
namespace {

namespace json = boost::json;

constexpr std::int64_t k_int_min = std::numeric_limits<std::int32_t>::min();
constexpr std::int64_t k_int_max = std::numeric_limits<std::int32_t>::max();

std::optional<std::int64_t> integral(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64()) {
    if (v.get_uint64() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) return std::nullopt;
    return static_cast<std::int64_t>(v.get_uint64());
  }
  if (v.is_double()) {
    const double d = v.get_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) < 9.0e15) return static_cast<std::int64_t>(d);
  }
  return std::nullopt;
}

std::optional<double> number(const json::value& v) {
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_uint64()) return static_cast<double>(v.get_uint64());
  if (v.is_double() && std::isfinite(v.get_double())) return v.get_double();
  return std::nullopt;
}

std::string show(const json::value& v) {
  return json::serialize(v);
}

std::string path_suffix(const std::string& path) {
  return path.empty() ? std::string() : " at \"value" + path + "\"";
}

// Input coercion of JSON for variables; `path` grows with list indices and field names.
std::optional<std::string> coerce_json(const Schema& schema, const json::value& input, const TypeRef& type,
                                       json::value& out, const std::string& path) {
  if (type.kind == TypeRef::Kind::non_null) {
    if (input.is_null())
      return "Expected non-nullable type \"" + to_string(type) + "\" not to be null" + path_suffix(path) + ".";
    return coerce_json(schema, input, *type.of, out, path);
  }
  if (input.is_null()) {
    out = nullptr;
    return std::nullopt;
  }
  if (type.kind == TypeRef::Kind::list) {
    json::array items;
    if (input.is_array()) {
      std::size_t i = 0;
      for (const auto& item : input.get_array()) {
        json::value coerced;
        if (auto e = coerce_json(schema, item, *type.of, coerced, path + "[" + std::to_string(i) + "]")) return e;
        items.push_back(std::move(coerced));
        ++i;
      }
    } else {
      json::value coerced;
      if (auto e = coerce_json(schema, input, *type.of, coerced, path)) return e;
      items.push_back(std::move(coerced));
    }
    out = std::move(items);
    return std::nullopt;
  }
  const auto* t = schema.type(type.name);
  if (t == nullptr) return "Unknown type \"" + type.name + "\".";
  switch (t->kind) {
    case TypeKind::scalar: {
      const auto& name = t->name;
      if (name == "Int") {
        auto i = integral(input);
        if (!i || input.is_bool())
          return "Int cannot represent non-integer value: " + show(input) + path_suffix(path) + ".";
        if (*i < k_int_min || *i > k_int_max) {
          return "Int cannot represent non 32-bit signed integer value: " + show(input) + path_suffix(path) + ".";
        }
        out = *i;
      } else if (name == "Float") {
        auto d = number(input);
        if (!d) return "Float cannot represent non numeric value: " + show(input) + path_suffix(path) + ".";
        out = *d;
      } else if (name == "String") {
        if (!input.is_string())
          return "String cannot represent a non string value: " + show(input) + path_suffix(path) + ".";
        out = input;
      } else if (name == "Boolean") {
        if (!input.is_bool())
          return "Boolean cannot represent a non boolean value: " + show(input) + path_suffix(path) + ".";
        out = input;
      } else if (name == "ID") {
        // JSON has one number type: any integral number is an ID (7.0 as "7"), the full range of
        // unsigned 64-bit values included.
        if (input.is_string()) {
          out = input;
        } else if (input.is_uint64()) {
          out = json::string(std::to_string(input.get_uint64()));
        } else if (auto i = integral(input)) {
          out = json::string(std::to_string(*i));
        } else {
          return "ID cannot represent value: " + show(input) + path_suffix(path) + ".";
        }
      } else {
        out = input;  // custom scalars pass through
      }
      return std::nullopt;
    }
    case TypeKind::enum_type:
      if (!input.is_string() || t->enum_value(input.get_string()) == nullptr) {
        return "Value " + show(input) + " does not exist in \"" + t->name + "\" enum" + path_suffix(path) + ".";
      }
      out = input;
      return std::nullopt;
    case TypeKind::input_object: {
      if (!input.is_object()) return "Expected type \"" + t->name + "\" to be an object" + path_suffix(path) + ".";
      const auto& obj = input.get_object();
      json::object result;
      for (const auto& f : t->input_fields) {
        const auto* v = obj.if_contains(f.name);
        if (v == nullptr) {
          if (f.default_value) {
            auto d = value_from_ast(schema, *f.default_value, *f.type, nullptr);
            if (d) result[f.name] = std::move(*d);
          } else if (f.type->kind == TypeRef::Kind::non_null) {
            return "Field \"" + f.name + "\" of required type \"" + to_string(*f.type) + "\" was not provided" +
                   path_suffix(path) + ".";
          }
          continue;
        }
        json::value coerced;
        if (auto e = coerce_json(schema, *v, *f.type, coerced, path + "." + f.name)) return e;
        result[f.name] = std::move(coerced);
      }
      for (const auto& [key, v] : obj) {
        if (t->input_field(key) == nullptr) {
          return "Field \"" + std::string(key) + "\" is not defined by type \"" + t->name + "\"" + path_suffix(path) +
                 ".";
        }
      }
      out = std::move(result);
      return std::nullopt;
    }
    default:
      return "Type \"" + t->name + "\" is not an input type.";
  }
}

// Literal coercion. With variables == nullptr, variables are accepted without a value (validation).
std::optional<json::value> literal(const Schema& schema, const Value& lit, const TypeRef& type,
                                   const json::object* variables, bool validating, std::string& error) {
  if (lit.kind == Value::Kind::variable) {
    if (validating) return json::value(nullptr);
    const auto* v = variables ? variables->if_contains(lit.text) : nullptr;
    if (v == nullptr) {
      // An absent variable in a nested position is null (lists) — the caller handles objects.
      if (type.kind == TypeRef::Kind::non_null) {
        error = "Variable \"$" + lit.text + "\" of required type was not provided.";
        return std::nullopt;
      }
      return json::value(nullptr);
    }
    if (type.kind == TypeRef::Kind::non_null && v->is_null()) {
      error = "Variable \"$" + lit.text + "\" must not be null.";
      return std::nullopt;
    }
    return *v;
  }
  if (type.kind == TypeRef::Kind::non_null) {
    if (lit.kind == Value::Kind::null) {
      error = "Expected value of type \"" + to_string(type) + "\", found null.";
      return std::nullopt;
    }
    return literal(schema, lit, *type.of, variables, validating, error);
  }
  if (lit.kind == Value::Kind::null) return json::value(nullptr);
  if (type.kind == TypeRef::Kind::list) {
    json::array items;
    if (lit.kind == Value::Kind::list) {
      for (const auto& item : lit.list) {
        auto v = literal(schema, *item, *type.of, variables, validating, error);
        if (!v) return std::nullopt;
        items.push_back(std::move(*v));
      }
    } else {
      auto v = literal(schema, lit, *type.of, variables, validating, error);
      if (!v) return std::nullopt;
      items.push_back(std::move(*v));
    }
    return json::value(std::move(items));
  }
  const auto* t = schema.type(type.name);
  if (t == nullptr) {
    error = "Unknown type \"" + type.name + "\".";
    return std::nullopt;
  }
  auto mismatch = [&](std::string message) -> std::optional<json::value> {
    error = std::move(message);
    return std::nullopt;
  };
  switch (t->kind) {
    case TypeKind::scalar: {
      const auto& name = t->name;
      const auto printed = print_value(lit);
      if (name == "Int") {
        if (lit.kind != Value::Kind::int_value) return mismatch("Int cannot represent non-integer value: " + printed);
        std::int64_t i = 0;
        const auto* end = lit.text.data() + lit.text.size();
        const auto r = std::from_chars(lit.text.data(), end, i);
        if (r.ec != std::errc() || r.ptr != end || i < k_int_min || i > k_int_max) {
          return mismatch("Int cannot represent non 32-bit signed integer value: " + printed);
        }
        return json::value(i);
      }
      if (name == "Float") {
        if (lit.kind != Value::Kind::int_value && lit.kind != Value::Kind::float_value) {
          return mismatch("Float cannot represent non numeric value: " + printed);
        }
        const double d = std::strtod(lit.text.c_str(), nullptr);
        if (!std::isfinite(d)) return mismatch("Float cannot represent non numeric value: " + printed);
        return json::value(d);
      }
      if (name == "String") {
        if (lit.kind != Value::Kind::string_value)
          return mismatch("String cannot represent a non string value: " + printed);
        return json::value(json::string(lit.text));
      }
      if (name == "Boolean") {
        if (lit.kind != Value::Kind::boolean)
          return mismatch("Boolean cannot represent a non boolean value: " + printed);
        return json::value(lit.boolean);
      }
      if (name == "ID") {
        if (lit.kind != Value::Kind::string_value && lit.kind != Value::Kind::int_value) {
          return mismatch("ID cannot represent a non-string and non-integer value: " + printed);
        }
        return json::value(json::string(lit.text));
      }
      // Custom scalars take any literal, as its natural JSON form.
      switch (lit.kind) {
        case Value::Kind::int_value: {
          std::int64_t i = 0;
          const auto r = std::from_chars(lit.text.data(), lit.text.data() + lit.text.size(), i);
          if (r.ec == std::errc()) return json::value(i);
          return json::value(std::strtod(lit.text.c_str(), nullptr));
        }
        case Value::Kind::float_value:
          return json::value(std::strtod(lit.text.c_str(), nullptr));
        case Value::Kind::string_value:
        case Value::Kind::enum_value:
          return json::value(json::string(lit.text));
        case Value::Kind::boolean:
          return json::value(lit.boolean);
        case Value::Kind::list: {
          json::array items;
          for (const auto& item : lit.list) {
            auto v = literal(schema, *item, type, variables, validating, error);
            if (!v) return std::nullopt;
            items.push_back(std::move(*v));
          }
          return json::value(std::move(items));
        }
        case Value::Kind::object: {
          json::object obj;
          for (const auto& [k, item] : lit.fields) {
            auto v = literal(schema, *item, type, variables, validating, error);
            if (!v) return std::nullopt;
            obj[k] = std::move(*v);
          }
          return json::value(std::move(obj));
        }
        default:
          return json::value(nullptr);
      }
    }
    case TypeKind::enum_type:
      if (lit.kind != Value::Kind::enum_value || t->enum_value(lit.text) == nullptr) {
        if (lit.kind == Value::Kind::string_value) {
          return mismatch("Enum \"" + t->name + "\" cannot represent non-enum value: " + print_value(lit) +
                          ". Did you mean the enum value \"" + lit.text + "\"?");
        }
        return mismatch("Value \"" + print_value(lit) + "\" does not exist in \"" + t->name + "\" enum.");
      }
      return json::value(json::string(lit.text));
    case TypeKind::input_object: {
      if (lit.kind != Value::Kind::object) {
        return mismatch("Expected value of type \"" + t->name + "\", found " + print_value(lit) + ".");
      }
      json::object obj;
      for (const auto& [k, item] : lit.fields) {
        if (t->input_field(k) == nullptr) {
          return mismatch("Field \"" + k + "\" is not defined by type \"" + t->name + "\".");
        }
      }
      for (const auto& f : t->input_fields) {
        const Value* given = nullptr;
        for (const auto& [k, item] : lit.fields) {
          if (k == f.name) given = item.get();
        }
        const bool absent_variable = given != nullptr && given->kind == Value::Kind::variable && !validating &&
                                     (variables == nullptr || !variables->contains(given->text));
        if (given == nullptr || absent_variable) {
          if (f.default_value) {
            auto d = literal(schema, *f.default_value, *f.type, nullptr, false, error);
            if (!d) return std::nullopt;
            obj[f.name] = std::move(*d);
          } else if (f.type->kind == TypeRef::Kind::non_null) {
            return mismatch("Field \"" + t->name + "." + f.name + "\" of required type \"" + to_string(*f.type) +
                            "\" was not provided.");
          }
          continue;
        }
        auto v = literal(schema, *given, *f.type, variables, validating, error);
        if (!v) return std::nullopt;
        obj[f.name] = std::move(*v);
      }
      return json::value(std::move(obj));
    }
    default:
      return mismatch("Type \"" + t->name + "\" is not an input type.");
  }
}

}  // namespace

std::optional<std::string> coerce_input_value(const Schema& schema, const json::value& input, const TypeRef& type,
                                              json::value& out) {
  return coerce_json(schema, input, type, out, "");
}

std::variant<json::object, std::vector<GraphQLError>> coerce_variable_values(const Schema& schema,
                                                                             const OperationDefinition& op,
                                                                             const json::object& inputs) {
  json::object coerced;
  std::vector<GraphQLError> errors;
  for (const auto& var : op.variables) {
    const auto* t = schema.named(*var.type);
    if (t == nullptr || !t->is_input()) {
      errors.push_back(GraphQLError{"Variable \"$" + var.name + "\" expected value of type \"" + to_string(*var.type) +
                                        "\" which cannot be used as an input type.",
                                    {var.loc},
                                    {},
                                    "BAD_USER_INPUT"});
      continue;
    }
    const auto* given = inputs.if_contains(var.name);
    if (given == nullptr) {
      if (var.default_value) {
        std::string error;
        auto v = literal(schema, *var.default_value, *var.type, nullptr, false, error);
        if (v) coerced[var.name] = std::move(*v);
      } else if (var.type->kind == TypeRef::Kind::non_null) {
        errors.push_back(GraphQLError{
            "Variable \"$" + var.name + "\" of required type \"" + to_string(*var.type) + "\" was not provided.",
            {var.loc},
            {},
            "BAD_USER_INPUT"});
      }
      continue;
    }
    if (given->is_null() && var.type->kind == TypeRef::Kind::non_null) {
      errors.push_back(GraphQLError{
          "Variable \"$" + var.name + "\" of non-null type \"" + to_string(*var.type) + "\" must not be null.",
          {var.loc},
          {},
          "BAD_USER_INPUT"});
      continue;
    }
    json::value out;
    if (auto e = coerce_json(schema, *given, *var.type, out, "")) {
      errors.push_back(GraphQLError{"Variable \"$" + var.name + "\" got invalid value " + show(*given) + "; " + *e,
                                    {var.loc},
                                    {},
                                    "BAD_USER_INPUT"});
      continue;
    }
    coerced[var.name] = std::move(out);
  }
  if (!errors.empty()) return errors;
  return coerced;
}

std::optional<json::value> value_from_ast(const Schema& schema, const Value& lit, const TypeRef& type,
                                          const json::object* variables) {
  std::string error;
  return literal(schema, lit, type, variables, false, error);
}

std::optional<std::string> check_literal(const Schema& schema, const Value& lit, const TypeRef& type) {
  std::string error;
  if (literal(schema, lit, type, nullptr, true, error)) return std::nullopt;
  return error;
}

std::variant<json::object, std::string> coerce_argument_values(const Schema& schema,
                                                               const std::vector<InputValue>& definitions,
                                                               const std::vector<Argument>& arguments,
                                                               const json::object& variables) {
  json::object out;
  for (const auto& def : definitions) {
    const Argument* given = nullptr;
    for (const auto& a : arguments) {
      if (a.name == def.name) given = &a;
    }
    bool has_value = given != nullptr;
    if (given != nullptr && given->value->kind == Value::Kind::variable) {
      has_value = variables.contains(given->value->text);
    }
    if (!has_value) {
      if (def.default_value) {
        std::string error;
        auto v = literal(schema, *def.default_value, *def.type, nullptr, false, error);
        if (v) out[def.name] = std::move(*v);
      } else if (def.type->kind == TypeRef::Kind::non_null) {
        if (given != nullptr) {
          return "Argument \"" + def.name + "\" of required type \"" + to_string(*def.type) +
                 "\" was provided the variable \"$" + given->value->text + "\" which was not provided a runtime value.";
        }
        return "Argument \"" + def.name + "\" of required type \"" + to_string(*def.type) + "\" was not provided.";
      }
      continue;
    }
    std::string error;
    auto v = literal(schema, *given->value, *def.type, &variables, false, error);
    if (!v) return "Argument \"" + def.name + "\" has invalid value " + print_value(*given->value) + ". " + error;
    out[def.name] = std::move(*v);
  }
  return out;
}

std::optional<std::string> serialize_leaf(const NamedType& type, const json::value& value, json::value& out) {
  if (type.kind == TypeKind::enum_type) {
    if (value.is_string() && type.enum_value(value.get_string()) != nullptr) {
      out = value;
      return std::nullopt;
    }
    return "Enum \"" + type.name + "\" cannot represent value: " + show(value);
  }
  const auto& name = type.name;
  if (name == "Int") {
    std::optional<std::int64_t> i;
    if (value.is_bool()) {
      i = value.get_bool() ? 1 : 0;
    } else if (value.is_string()) {
      std::int64_t parsed = 0;
      const auto& s = value.get_string();
      const auto r = std::from_chars(s.data(), s.data() + s.size(), parsed);
      if (r.ec == std::errc() && r.ptr == s.data() + s.size() && !s.empty()) i = parsed;
    } else {
      i = integral(value);
    }
    if (!i) return "Int cannot represent non-integer value: " + show(value);
    if (*i < k_int_min || *i > k_int_max) return "Int cannot represent non 32-bit signed integer value: " + show(value);
    out = *i;
    return std::nullopt;
  }
  if (name == "Float") {
    std::optional<double> d;
    if (value.is_bool()) {
      d = value.get_bool() ? 1.0 : 0.0;
    } else {
      d = number(value);
    }
    if (!d) return "Float cannot represent non numeric value: " + show(value);
    if (auto i = integral(value); i && !value.is_double()) {
      out = *i;  // keeps integers exact on the wire
    } else {
      out = *d;
    }
    return std::nullopt;
  }
  if (name == "String" || name == "ID") {
    if (value.is_string()) {
      out = value;
    } else if (value.is_bool() && name == "String") {
      out = json::string(value.get_bool() ? "true" : "false");
    } else if (auto i = integral(value); i && (name == "ID" ? !value.is_double() : true)) {
      out = json::string(std::to_string(*i));
    } else if (value.is_double() && name == "String") {
      out = json::string(show(value));
    } else {
      return name + " cannot represent value: " + show(value);
    }
    return std::nullopt;
  }
  if (name == "Boolean") {
    if (value.is_bool()) {
      out = value;
    } else if (auto d = number(value)) {
      out = *d != 0.0;
    } else {
      return "Boolean cannot represent a non boolean value: " + show(value);
    }
    return std::nullopt;
  }
  out = value;  // custom scalars: as the resolver gave it
  return std::nullopt;
}

}  // namespace gh::graphql
