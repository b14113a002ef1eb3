#include "graphql/schema.hpp"

#include <algorithm>
#include <array>
#include <functional>
#include <set>
#include <string_view>

#include "graphql/coercion.hpp"
#include "graphql/parser.hpp"

namespace gh::graphql {
namespace {

// Built into every schema: the spec's scalars and directives, and the introspection types.
constexpr std::string_view k_builtin_sdl = R"(
"A signed 32-bit whole number."
scalar Int
"A double-precision floating-point number."
scalar Float
"Text, as a UTF-8 string."
scalar String
"true or false."
scalar Boolean
"An opaque identifier, serialized as a string; inputs accept strings and integers."
scalar ID

"Includes the field or fragment only when `if` is true."
directive @include("Whether to include it." if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
"Leaves the field or fragment out when `if` is true."
directive @skip("Whether to leave it out." if: Boolean!) on FIELD | FRAGMENT_SPREAD | INLINE_FRAGMENT
"Marks a part of the schema as no longer supported."
directive @deprecated(
  "Why, and what to use instead (Markdown)."
  reason: String = "No longer supported"
) on FIELD_DEFINITION | ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION | ENUM_VALUE
"Links to the specification of a custom scalar's behaviour."
directive @specifiedBy("The specification's URL." url: String!) on SCALAR

type __Schema {
  description: String
  types: [__Type!]!
  queryType: __Type!
  mutationType: __Type
  subscriptionType: __Type
  directives: [__Directive!]!
}
type __Type {
  kind: __TypeKind!
  name: String
  description: String
  specifiedByURL: String
  fields(includeDeprecated: Boolean = false): [__Field!]
  interfaces: [__Type!]
  possibleTypes: [__Type!]
  enumValues(includeDeprecated: Boolean = false): [__EnumValue!]
  inputFields(includeDeprecated: Boolean = false): [__InputValue!]
  ofType: __Type
}
enum __TypeKind { SCALAR OBJECT INTERFACE UNION ENUM INPUT_OBJECT LIST NON_NULL }
type __Field {
  name: String!
  description: String
  args(includeDeprecated: Boolean = false): [__InputValue!]!
  type: __Type!
  isDeprecated: Boolean!
  deprecationReason: String
}
type __InputValue {
  name: String!
  description: String
  type: __Type!
  defaultValue: String
  isDeprecated: Boolean!
  deprecationReason: String
}
type __EnumValue {
  name: String!
  description: String
  isDeprecated: Boolean!
  deprecationReason: String
}
type __Directive {
  name: String!
  description: String
  isRepeatable: Boolean!
  locations: [__DirectiveLocation!]!
  args(includeDeprecated: Boolean = false): [__InputValue!]!
}
enum __DirectiveLocation {
  QUERY MUTATION SUBSCRIPTION FIELD FRAGMENT_DEFINITION FRAGMENT_SPREAD INLINE_FRAGMENT VARIABLE_DEFINITION
  SCHEMA SCALAR OBJECT FIELD_DEFINITION ARGUMENT_DEFINITION INTERFACE UNION ENUM ENUM_VALUE INPUT_OBJECT
  INPUT_FIELD_DEFINITION
}
)";

// An array of views: nothing to allocate (or throw) during static initialization.
constexpr auto k_locations = std::to_array<std::string_view>(
    {"QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD", "INLINE_FRAGMENT",
     "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE",
     "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION"});

struct Deprecation {
  bool deprecated = false;
  std::string reason;
};

Deprecation deprecation_of(const std::vector<Directive>& directives) {
  for (const auto& d : directives) {
    if (d.name != "deprecated") continue;
    Deprecation out{true, "No longer supported"};
    for (const auto& a : d.arguments) {
      if (a.name == "reason" && a.value && a.value->kind == Value::Kind::string_value) out.reason = a.value->text;
    }
    return out;
  }
  return {};
}

InputValue make_input_value(const InputValueDefinition& def) {
  const auto dep = deprecation_of(def.directives);
  return InputValue{def.name, def.description, def.type, def.default_value, dep.deprecated, dep.reason};
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static const char* digits = "0123456789ABCDEF";
          out += "\\u00";
          out.push_back(digits[(static_cast<unsigned char>(c) >> 4) & 0xF]);
          out.push_back(digits[static_cast<unsigned char>(c) & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out += "\"";
  return out;
}

// Adds "<what> can only be defined once." for every name seen before in `names`.
void report_duplicates(const std::vector<std::string>& names,
                       const std::function<std::string(const std::string&)>& what, std::vector<std::string>& problems) {
  std::set<std::string_view> seen;
  for (const auto& n : names) {
    if (!seen.insert(n).second) problems.push_back(what(n) + " can only be defined once.");
  }
}

void report_reserved(const std::string& name, std::vector<std::string>& problems) {
  if (name.rfind("__", 0) == 0) {
    problems.push_back("Name \"" + name + R"(" must not begin with "__", which is reserved by GraphQL introspection.)");
  }
}

template <typename T>
std::vector<std::string> names_of(const std::vector<T>& items) {
  std::vector<std::string> out;
  out.reserve(items.size());
  for (const auto& item : items) out.push_back(item.name);
  return out;
}

const char* location_of(TypeDefinition::Kind kind) {
  switch (kind) {
    case TypeDefinition::Kind::scalar:
      return "SCALAR";
    case TypeDefinition::Kind::object:
      return "OBJECT";
    case TypeDefinition::Kind::interface_type:
      return "INTERFACE";
    case TypeDefinition::Kind::union_type:
      return "UNION";
    case TypeDefinition::Kind::enum_type:
      return "ENUM";
    case TypeDefinition::Kind::input_object:
      return "INPUT_OBJECT";
  }
  return "";
}

// The directives of an SDL document exist and stand where they may (KnownDirectives,
// UniqueDirectivesPerLocation): a misspelt @deprecated must not pass unnoticed.
void check_sdl_directives(const Schema& schema, const Document& doc, std::vector<std::string>& problems) {
  auto check = [&](const std::vector<Directive>& directives, const char* location) {
    std::set<std::string_view> seen;
    for (const auto& d : directives) {
      const auto* def = schema.directive(d.name);
      if (def == nullptr) {
        problems.push_back("Unknown directive \"@" + d.name + "\".");
        continue;
      }
      if (std::find(def->locations.begin(), def->locations.end(), location) == def->locations.end()) {
        problems.push_back("Directive \"@" + d.name + "\" may not be used on " + location + ".");
      }
      if (!def->repeatable && !seen.insert(d.name).second) {
        problems.push_back("The directive \"@" + d.name + "\" can only be used once at this location.");
      }
      for (const auto& a : d.arguments) {
        const auto* arg = def->arg(a.name);
        if (arg == nullptr) {
          problems.push_back("Unknown argument \"" + a.name + "\" on directive \"@" + d.name + "\".");
        } else if (auto e = check_literal(schema, *a.value, *arg->type)) {
          problems.push_back("Argument \"" + a.name + "\" of \"@" + d.name + "\" is invalid: " + *e);
        }
      }
      for (const auto& arg : def->args) {
        if (arg.type->kind != TypeRef::Kind::non_null || arg.default_value) continue;
        const bool given =
            std::any_of(d.arguments.begin(), d.arguments.end(), [&](const Argument& a) { return a.name == arg.name; });
        if (!given) {
          problems.push_back("Directive \"@" + d.name + "\" argument \"" + arg.name + "\" of type \"" +
                             to_string(*arg.type) + "\" is required, but it was not provided.");
        }
      }
    }
  };
  auto check_args = [&](const std::vector<InputValueDefinition>& args, const char* location) {
    for (const auto& a : args) check(a.directives, location);
  };
  for (const auto& def : doc.definitions) {
    if (const auto* t = std::get_if<TypeDefinition>(&def.node)) {
      check(t->directives, location_of(t->kind));
      for (const auto& f : t->fields) {
        check(f.directives, "FIELD_DEFINITION");
        check_args(f.arguments, "ARGUMENT_DEFINITION");
      }
      for (const auto& v : t->values) check(v.directives, "ENUM_VALUE");
      check_args(t->input_fields, "INPUT_FIELD_DEFINITION");
    } else if (const auto* sd = std::get_if<SchemaDefinition>(&def.node)) {
      check(sd->directives, "SCHEMA");
    } else if (const auto* dd = std::get_if<DirectiveDefinition>(&def.node)) {
      check_args(dd->arguments, "ARGUMENT_DEFINITION");
    }
  }
}

// An input object that requires itself through non-null fields can never be given (spec 3.10).
void check_input_cycles(const Schema& schema, const NamedType& start, std::vector<std::string>& problems) {
  std::vector<std::string> path;
  std::set<std::string> done;
  std::function<bool(const NamedType&)> visit = [&](const NamedType& t) -> bool {
    if (!done.insert(t.name).second) return false;
    for (const auto& f : t.input_fields) {
      if (f.type->kind != TypeRef::Kind::non_null || f.type->of->kind != TypeRef::Kind::named) continue;
      const auto* next = schema.type(f.type->of->name);
      if (next == nullptr || next->kind != TypeKind::input_object) continue;
      path.push_back(f.name);
      if (next->name == start.name) {
        std::string fields;
        for (const auto& p : path) fields += (fields.empty() ? "" : ".") + p;
        problems.push_back("Cannot reference Input Object \"" + start.name +
                           "\" within itself through a series of non-null fields: \"" + fields + "\".");
        return true;
      }
      if (visit(*next)) return true;
      path.pop_back();
    }
    return false;
  };
  visit(start);
}

}  // namespace

const InputValue* FieldDef::arg(std::string_view arg_name) const {
  for (const auto& a : args) {
    if (a.name == arg_name) return &a;
  }
  return nullptr;
}

const InputValue* DirectiveDef::arg(std::string_view arg_name) const {
  for (const auto& a : args) {
    if (a.name == arg_name) return &a;
  }
  return nullptr;
}

const FieldDef* NamedType::field(std::string_view field_name) const {
  for (const auto& f : fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

const InputValue* NamedType::input_field(std::string_view field_name) const {
  for (const auto& f : input_fields) {
    if (f.name == field_name) return &f;
  }
  return nullptr;
}

const EnumValue* NamedType::enum_value(std::string_view value_name) const {
  for (const auto& v : enum_values) {
    if (v.name == value_name) return &v;
  }
  return nullptr;
}

std::string to_string(const TypeRef& ref) {
  switch (ref.kind) {
    case TypeRef::Kind::named:
      return ref.name;
    case TypeRef::Kind::list:
      return "[" + to_string(*ref.of) + "]";
    case TypeRef::Kind::non_null:
      return to_string(*ref.of) + "!";
  }
  return ref.name;
}

bool same_type(const TypeRef& a, const TypeRef& b) {
  if (a.kind != b.kind) return false;
  if (a.kind == TypeRef::Kind::named) return a.name == b.name;
  return same_type(*a.of, *b.of);
}

TypeRefPtr make_named(std::string name) {
  auto t = std::make_shared<TypeRef>();
  t->kind = TypeRef::Kind::named;
  t->name = std::move(name);
  return t;
}

std::string print_value(const Value& value) {
  switch (value.kind) {
    case Value::Kind::variable:
      return "$" + value.text;
    case Value::Kind::int_value:
    case Value::Kind::float_value:
    case Value::Kind::enum_value:
      return value.text;
    case Value::Kind::string_value:
      return quote(value.text);
    case Value::Kind::boolean:
      return value.boolean ? "true" : "false";
    case Value::Kind::null:
      return "null";
    case Value::Kind::list: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.list.size(); ++i) {
        if (i > 0) out += ", ";
        out += print_value(*value.list[i]);
      }
      return out + "]";
    }
    case Value::Kind::object: {
      std::string out = "{";
      for (std::size_t i = 0; i < value.fields.size(); ++i) {
        if (i > 0) out += ", ";
        out += value.fields[i].first + ": " + print_value(*value.fields[i].second);
      }
      return out + "}";
    }
  }
  return "null";
}

const NamedType* Schema::type(std::string_view name) const {
  auto it = m_by_name.find(name);
  return it == m_by_name.end() ? nullptr : it->second;
}

const NamedType* Schema::named(const TypeRef& ref) const {
  const TypeRef* t = &ref;
  while (t->kind != TypeRef::Kind::named) t = t->of.get();
  return type(t->name);
}

const DirectiveDef* Schema::directive(std::string_view name) const {
  for (const auto& d : m_directives) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

const NamedType* Schema::root(OperationType op) const {
  switch (op) {
    case OperationType::query:
      return type(m_query);
    case OperationType::mutation:
      return m_mutation.empty() ? nullptr : type(m_mutation);
    case OperationType::subscription:
      return m_subscription.empty() ? nullptr : type(m_subscription);
  }
  return nullptr;
}

bool Schema::is_possible_type(const NamedType& abstract, const NamedType& object) const {
  if (&abstract == &object) return true;
  if (!abstract.is_abstract()) return false;
  return std::find(abstract.possible_types.begin(), abstract.possible_types.end(), object.name) !=
         abstract.possible_types.end();
}

bool Schema::types_overlap(const NamedType& a, const NamedType& b) const {
  if (&a == &b) return true;
  if (a.is_abstract()) {
    if (b.is_abstract()) {
      for (const auto& name : a.possible_types) {
        if (std::find(b.possible_types.begin(), b.possible_types.end(), name) != b.possible_types.end()) return true;
      }
      return false;
    }
    return is_possible_type(a, b);
  }
  if (b.is_abstract()) return is_possible_type(b, a);
  return false;
}

bool Schema::is_subtype(const TypeRef& sub, const TypeRef& super) const {
  if (super.kind == TypeRef::Kind::non_null) {
    return sub.kind == TypeRef::Kind::non_null && is_subtype(*sub.of, *super.of);
  }
  if (sub.kind == TypeRef::Kind::non_null) return is_subtype(*sub.of, super);
  if (super.kind == TypeRef::Kind::list) return sub.kind == TypeRef::Kind::list && is_subtype(*sub.of, *super.of);
  if (sub.kind == TypeRef::Kind::list) return false;
  if (sub.name == super.name) return true;
  const auto* a = type(super.name);
  const auto* b = type(sub.name);
  if (a == nullptr || b == nullptr || !a->is_abstract()) return false;
  if (is_possible_type(*a, *b)) return true;
  return std::find(b->interfaces.begin(), b->interfaces.end(), a->name) != b->interfaces.end();
}

const FieldDef* Schema::field_of(const NamedType& parent, std::string_view name) const {
  if (name.size() > 2 && name[0] == '_' && name[1] == '_') {
    if (name == "__typename") return parent.is_composite() ? &m_typename_field : nullptr;
    if (parent.name == m_query) {
      if (name == "__schema") return &m_schema_field;
      if (name == "__type") return &m_type_field;
    }
  }
  if (parent.kind != TypeKind::object && parent.kind != TypeKind::interface_type) return nullptr;
  return parent.field(name);
}

Result<std::shared_ptr<const Schema>> Schema::from_sdl(std::string_view sdl) {
  ParseLimits limits;
  limits.max_bytes = std::size_t{16} * 1024 * 1024;
  limits.max_tokens = 4'000'000;
  auto builtin = parse(k_builtin_sdl, limits, DocumentKind::type_system);
  auto user = parse(sdl, limits, DocumentKind::type_system);
  if (!user) {
    return bad_input("invalid_schema",
                     user.error.message + " (line " +
                         std::to_string(user.error.locations.empty() ? 0 : user.error.locations[0].line) + ")");
  }
  std::vector<std::string> problems;
  auto schema = std::make_shared<Schema>();
  auto non_null = [](TypeRefPtr of) {
    auto t = std::make_shared<TypeRef>();
    t->kind = TypeRef::Kind::non_null;
    t->of = std::move(of);
    return t;
  };
  schema->m_typename_field.name = "__typename";
  schema->m_typename_field.description = "The name of the current Object type at runtime.";
  schema->m_typename_field.type = non_null(make_named("String"));
  schema->m_schema_field.name = "__schema";
  schema->m_schema_field.description = "Access the current type schema of this server.";
  schema->m_schema_field.type = non_null(make_named("__Schema"));
  schema->m_type_field.name = "__type";
  schema->m_type_field.description = "Request the type information of a single type.";
  schema->m_type_field.type = make_named("__Type");
  schema->m_type_field.args.push_back(InputValue{"name", "", non_null(make_named("String")), nullptr, false, {}});
  std::vector<const TypeDefinition*> extensions;
  bool has_schema_definition = false;

  auto add_definitions = [&](const Document& doc, bool is_builtin) {
    for (const auto& def : doc.definitions) {
      if (const auto* t = std::get_if<TypeDefinition>(&def.node)) {
        if (t->extension) {
          extensions.push_back(t);
          continue;
        }
        if (!is_builtin && t->name.rfind("__", 0) == 0) {
          problems.push_back("Name \"" + t->name +
                             "\" must not begin with \"__\", which is reserved by GraphQL introspection.");
        }
        if (schema->type(t->name) != nullptr) {
          problems.push_back("There can be only one type named \"" + t->name + "\".");
          continue;
        }
        auto nt = std::make_unique<NamedType>();
        nt->name = t->name;
        nt->description = t->description;
        nt->interfaces = t->interfaces;
        switch (t->kind) {
          case TypeDefinition::Kind::scalar:
            nt->kind = TypeKind::scalar;
            break;
          case TypeDefinition::Kind::object:
            nt->kind = TypeKind::object;
            break;
          case TypeDefinition::Kind::interface_type:
            nt->kind = TypeKind::interface_type;
            break;
          case TypeDefinition::Kind::union_type:
            nt->kind = TypeKind::union_type;
            break;
          case TypeDefinition::Kind::enum_type:
            nt->kind = TypeKind::enum_type;
            break;
          case TypeDefinition::Kind::input_object:
            nt->kind = TypeKind::input_object;
            break;
        }
        for (const auto& d : t->directives) {
          if (d.name != "specifiedBy") continue;
          for (const auto& a : d.arguments) {
            if (a.name == "url" && a.value) nt->specified_by_url = a.value->text;
          }
        }
        for (const auto& f : t->fields) {
          FieldDef fd;
          fd.name = f.name;
          fd.description = f.description;
          fd.type = f.type;
          for (const auto& a : f.arguments) fd.args.push_back(make_input_value(a));
          const auto dep = deprecation_of(f.directives);
          fd.deprecated = dep.deprecated;
          fd.deprecation_reason = dep.reason;
          nt->fields.push_back(std::move(fd));
        }
        nt->possible_types = t->members;
        for (const auto& v : t->values) {
          const auto dep = deprecation_of(v.directives);
          nt->enum_values.push_back(EnumValue{v.name, v.description, dep.deprecated, dep.reason});
        }
        for (const auto& f : t->input_fields) nt->input_fields.push_back(make_input_value(f));
        schema->m_by_name.emplace(nt->name, nt.get());
        schema->m_types.push_back(std::move(nt));
      } else if (const auto* s = std::get_if<SchemaDefinition>(&def.node)) {
        if (has_schema_definition) problems.push_back("Must provide only one schema definition.");
        has_schema_definition = true;
        schema->m_description = s->description;
        for (const auto& [op, name] : s->roots) {
          auto& slot = op == OperationType::query      ? schema->m_query
                       : op == OperationType::mutation ? schema->m_mutation
                                                       : schema->m_subscription;
          slot = name;
        }
      } else if (const auto* d = std::get_if<DirectiveDefinition>(&def.node)) {
        if (schema->directive(d->name) != nullptr) {
          problems.push_back("There can be only one directive named \"@" + d->name + "\".");
          continue;
        }
        DirectiveDef dd;
        dd.name = d->name;
        dd.description = d->description;
        dd.repeatable = d->repeatable;
        dd.locations = d->locations;
        for (const auto& loc : d->locations) {
          if (std::find(k_locations.begin(), k_locations.end(), loc) == k_locations.end())
            problems.push_back("Unknown directive location \"" + loc + "\".");
        }
        for (const auto& a : d->arguments) dd.args.push_back(make_input_value(a));
        schema->m_directives.push_back(std::move(dd));
      }
    }
  };
  add_definitions(*builtin.document, true);
  add_definitions(*user.document, false);

  for (const auto* ext : extensions) {
    auto it = schema->m_by_name.find(ext->name);
    if (it == schema->m_by_name.end()) {
      problems.push_back("Cannot extend type \"" + ext->name + "\" because it is not defined.");
      continue;
    }
    auto* nt = const_cast<NamedType*>(it->second);  // NOLINT: still under construction here
    for (const auto& f : ext->fields) {
      FieldDef fd{f.name, f.description, {}, f.type, false, {}};
      for (const auto& a : f.arguments) fd.args.push_back(make_input_value(a));
      const auto dep = deprecation_of(f.directives);
      fd.deprecated = dep.deprecated;
      fd.deprecation_reason = dep.reason;
      nt->fields.push_back(std::move(fd));
    }
    for (const auto& i : ext->interfaces) nt->interfaces.push_back(i);
    for (const auto& m : ext->members) nt->possible_types.push_back(m);
    for (const auto& v : ext->values) nt->enum_values.push_back(EnumValue{v.name, v.description, false, {}});
    for (const auto& f : ext->input_fields) nt->input_fields.push_back(make_input_value(f));
  }

  if (!has_schema_definition) {
    if (schema->type("Query") != nullptr) schema->m_query = "Query";
    if (schema->type("Mutation") != nullptr) schema->m_mutation = "Mutation";
    if (schema->type("Subscription") != nullptr) schema->m_subscription = "Subscription";
  }
  if (schema->m_query.empty()) problems.push_back("Query root type must be provided.");
  for (const auto& [name, root] : {std::pair{"query", &schema->m_query}, std::pair{"mutation", &schema->m_mutation},
                                   std::pair{"subscription", &schema->m_subscription}}) {
    if (root->empty()) continue;
    const auto* t = schema->type(*root);
    if (t == nullptr || t->kind != TypeKind::object) {
      problems.push_back(std::string(name) + " root type \"" + *root + "\" must be a defined object type.");
    }
  }

  // References resolve, fields are output types, arguments are input types, interfaces hold.
  auto check_ref = [&](const TypeRef& ref, bool input, const std::string& where) {
    const auto* t = schema->named(ref);
    if (t == nullptr) {
      problems.push_back("Unknown type \"" + to_string(ref) + "\" in " + where + ".");
    } else if (input && !t->is_input()) {
      problems.push_back(where + " must be an input type, but " + t->name + " is not.");
    } else if (!input && t->kind == TypeKind::input_object) {
      problems.push_back(where + " must be an output type, but " + t->name + " is an input type.");
    }
  };
  for (auto& owned : schema->m_types) {
    auto& t = *owned;
    const bool introspection_type = t.name.rfind("__", 0) == 0;
    if (t.kind == TypeKind::object || t.kind == TypeKind::interface_type) {
      if (t.fields.empty()) problems.push_back("Type " + t.name + " must define one or more fields.");
      report_duplicates(
          names_of(t.fields), [&](const std::string& n) { return "Field \"" + t.name + "." + n + "\""; }, problems);
      for (const auto& f : t.fields) {
        if (!introspection_type) report_reserved(f.name, problems);
        check_ref(*f.type, false, t.name + "." + f.name);
        report_duplicates(
            names_of(f.args),
            [&](const std::string& n) { return "Argument \"" + t.name + "." + f.name + "(" + n + ":)\""; }, problems);
        for (const auto& a : f.args) {
          if (!introspection_type) report_reserved(a.name, problems);
          check_ref(*a.type, true, t.name + "." + f.name + "(" + a.name + ":)");
        }
      }
      report_duplicates(
          t.interfaces, [&](const std::string& n) { return "Interface " + n + " of type " + t.name; }, problems);
      for (const auto& iname : t.interfaces) {
        const auto* iface = schema->type(iname);
        if (iface == nullptr || iface->kind != TypeKind::interface_type) {
          problems.push_back("Type " + t.name + " must only implement Interface types, it cannot implement " + iname +
                             ".");
          continue;
        }
        if (iface == &t) {
          problems.push_back("Type " + t.name +
                             " cannot implement itself because it would create a circular reference.");
          continue;
        }
        // Interfaces are declared transitively: what an interface implements, its implementers do.
        for (const auto& inherited : iface->interfaces) {
          if (inherited != t.name &&
              std::find(t.interfaces.begin(), t.interfaces.end(), inherited) == t.interfaces.end()) {
            std::string problem = "Type " + t.name;
            problem += " must implement " + inherited;
            problem += " because it is implemented by " + iname + ".";
            problems.push_back(std::move(problem));
          }
        }
        for (const auto& ifield : iface->fields) {
          const auto* f = t.field(ifield.name);
          if (f == nullptr) {
            problems.push_back("Interface field " + iname + "." + ifield.name + " expected but " + t.name +
                               " does not provide it.");
            continue;
          }
          if (!schema->is_subtype(*f->type, *ifield.type) && schema->named(*f->type) != nullptr) {
            problems.push_back("Interface field " + iname + "." + ifield.name + " expects type " +
                               to_string(*ifield.type) + " but " + t.name + "." + f->name + " is type " +
                               to_string(*f->type) + ".");
          }
          // Arguments are invariant, and an implementation may only add optional ones.
          for (const auto& iarg : ifield.args) {
            const auto* arg = f->arg(iarg.name);
            if (arg == nullptr) {
              problems.push_back("Interface field argument " + iname + "." + ifield.name + "(" + iarg.name +
                                 ":) expected but " + t.name + "." + f->name + " does not provide it.");
            } else if (!same_type(*arg->type, *iarg.type)) {
              problems.push_back("Interface field argument " + iname + "." + ifield.name + "(" + iarg.name +
                                 ":) expects type " + to_string(*iarg.type) + " but " + t.name + "." + f->name + "(" +
                                 arg->name + ":) is type " + to_string(*arg->type) + ".");
            }
          }
          for (const auto& arg : f->args) {
            if (ifield.arg(arg.name) == nullptr && arg.type->kind == TypeRef::Kind::non_null && !arg.default_value) {
              problems.push_back("Object field " + t.name + "." + f->name + " includes required argument " + arg.name +
                                 " that is missing from the Interface field " + iname + "." + ifield.name + ".");
            }
          }
        }
        if (t.kind == TypeKind::object) {
          auto* mutable_iface = const_cast<NamedType*>(iface);  // NOLINT: still under construction here
          mutable_iface->possible_types.push_back(t.name);
        }
      }
    } else if (t.kind == TypeKind::union_type) {
      if (t.possible_types.empty())
        problems.push_back("Union type " + t.name + " must define one or more member types.");
      report_duplicates(
          t.possible_types, [&](const std::string& n) { return "Member " + n + " of union type " + t.name; }, problems);
      for (const auto& m : t.possible_types) {
        const auto* mt = schema->type(m);
        if (mt == nullptr || mt->kind != TypeKind::object) {
          problems.push_back("Union type " + t.name + " can only include Object types, it cannot include " + m + ".");
        }
      }
    } else if (t.kind == TypeKind::enum_type) {
      if (t.enum_values.empty()) problems.push_back("Enum type " + t.name + " must define one or more values.");
      report_duplicates(
          names_of(t.enum_values), [&](const std::string& n) { return "Enum value \"" + t.name + "." + n + "\""; },
          problems);
      for (const auto& v : t.enum_values) {
        if (!introspection_type) report_reserved(v.name, problems);
      }
    } else if (t.kind == TypeKind::input_object) {
      if (t.input_fields.empty())
        problems.push_back("Input Object type " + t.name + " must define one or more fields.");
      report_duplicates(
          names_of(t.input_fields), [&](const std::string& n) { return "Input field \"" + t.name + "." + n + "\""; },
          problems);
      for (const auto& f : t.input_fields) {
        report_reserved(f.name, problems);
        check_ref(*f.type, true, t.name + "." + f.name);
      }
    }
  }
  for (const auto& d : schema->m_directives) {
    report_duplicates(
        names_of(d.args), [&](const std::string& n) { return "Argument \"@" + d.name + "(" + n + ":)\""; }, problems);
    for (const auto& a : d.args) check_ref(*a.type, true, "@" + d.name + "(" + a.name + ":)");
  }
  check_sdl_directives(*schema, *user.document, problems);
  if (problems.empty()) {
    // With every type known: input cycles, and default values that their types accept.
    for (const auto& owned : schema->m_types) {
      if (owned->kind == TypeKind::input_object) check_input_cycles(*schema, *owned, problems);
    }
    auto check_default = [&](const InputValue& v, const std::string& where) {
      if (!v.default_value) return;
      if (auto e = check_literal(*schema, *v.default_value, *v.type)) {
        problems.push_back("Default value of " + where + " is invalid: " + *e);
      }
    };
    for (const auto& owned : schema->m_types) {
      for (const auto& f : owned->fields) {
        for (const auto& a : f.args) check_default(a, owned->name + "." + f.name + "(" + a.name + ":)");
      }
      for (const auto& f : owned->input_fields) check_default(f, owned->name + "." + f.name);
    }
    for (const auto& d : schema->m_directives) {
      for (const auto& a : d.args) check_default(a, "@" + d.name + "(" + a.name + ":)");
    }
  }
  if (!problems.empty()) {
    std::string message;
    for (const auto& p : problems) message += (message.empty() ? "" : "\n") + p;
    return bad_input("invalid_schema", message);
  }
  return std::shared_ptr<const Schema>(std::move(schema));
}

}  // namespace gh::graphql
