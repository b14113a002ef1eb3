#pragma once
// A GraphQL schema built from SDL: named types, their fields and arguments, directives, root
// operation types, plus the built-in scalars, directives and introspection types every schema has.
// Immutable once built; validation, coercion and execution read it from any thread.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "graphql/ast.hpp"

namespace gh::graphql {

/// The kind of a named type.
enum class TypeKind { scalar, object, interface_type, union_type, enum_type, input_object };

/// An argument or input field.
struct InputValue {
  std::string name;
  std::string description;
  TypeRefPtr type;
  ValuePtr default_value;  ///< null when there is none
  bool deprecated = false;
  std::string deprecation_reason;
};

/// A field of an object or interface type.
struct FieldDef {
  std::string name;
  std::string description;
  std::vector<InputValue> args;
  TypeRefPtr type;
  bool deprecated = false;
  std::string deprecation_reason;
  /// The argument of that name, or null.
  const InputValue* arg(std::string_view arg_name) const;
};

/// A value of an enum type.
struct EnumValue {
  std::string name;
  std::string description;
  bool deprecated = false;
  std::string deprecation_reason;
};

/// A named type of the schema.
struct NamedType {
  TypeKind kind = TypeKind::scalar;
  std::string name;
  std::string description;
  std::string specified_by_url;             ///< scalars
  std::vector<FieldDef> fields;             ///< object and interface
  std::vector<std::string> interfaces;      ///< object and interface
  std::vector<std::string> possible_types;  ///< union members; object types implementing an interface
  std::vector<EnumValue> enum_values;       ///< enum
  std::vector<InputValue> input_fields;     ///< input object

  /// The field of that name (object and interface), or null.
  const FieldDef* field(std::string_view field_name) const;
  /// The input field of that name, or null.
  const InputValue* input_field(std::string_view field_name) const;
  /// Whether an enum type has that value.
  const EnumValue* enum_value(std::string_view value_name) const;
  bool is_composite() const {
    return kind == TypeKind::object || kind == TypeKind::interface_type || kind == TypeKind::union_type;
  }
  bool is_abstract() const { return kind == TypeKind::interface_type || kind == TypeKind::union_type; }
  bool is_leaf() const { return kind == TypeKind::scalar || kind == TypeKind::enum_type; }
  bool is_input() const {
    return kind == TypeKind::scalar || kind == TypeKind::enum_type || kind == TypeKind::input_object;
  }
};

/// A directive definition (built-in or from SDL).
struct DirectiveDef {
  std::string name;
  std::string description;
  std::vector<InputValue> args;
  std::vector<std::string> locations;  ///< "FIELD", "QUERY", ...
  bool repeatable = false;
  const InputValue* arg(std::string_view arg_name) const;
};

/// The schema. Build it with Schema::from_sdl().
class Schema {
 public:
  /// Builds and checks a schema from SDL; bad_input `invalid_schema` listing every problem.
  static Result<std::shared_ptr<const Schema>> from_sdl(std::string_view sdl);

  /// The named type, or null.
  const NamedType* type(std::string_view name) const;
  /// The named type at the bottom of a reference (`[User!]!` -> User), or null.
  const NamedType* named(const TypeRef& ref) const;
  const DirectiveDef* directive(std::string_view name) const;
  /// The root type of an operation, or null when the schema has none.
  const NamedType* root(OperationType op) const;
  /// Whether the object type `object` is a possible type of `abstract` (or is it).
  bool is_possible_type(const NamedType& abstract, const NamedType& object) const;
  /// Whether two composite types can share an object (PossibleFragmentSpreads).
  bool types_overlap(const NamedType& a, const NamedType& b) const;
  /// Whether `sub` may be used where `super` is expected (output covariance, for interfaces).
  bool is_subtype(const TypeRef& sub, const TypeRef& super) const;
  /// The field `name` of a composite type, including the meta fields `__typename` (everywhere) and
  /// `__schema`, `__type` (on the query root); null when there is none.
  const FieldDef* field_of(const NamedType& parent, std::string_view name) const;

  /// Every named type, in definition order (built-ins and introspection types first).
  const std::vector<std::unique_ptr<NamedType>>& types() const { return m_types; }
  const std::vector<DirectiveDef>& directives() const { return m_directives; }
  const std::string& description() const { return m_description; }

 private:
  std::vector<std::unique_ptr<NamedType>> m_types;
  std::map<std::string, const NamedType*, std::less<>> m_by_name;
  std::vector<DirectiveDef> m_directives;
  std::string m_query;
  std::string m_mutation;
  std::string m_subscription;
  std::string m_description;
  FieldDef m_typename_field;
  FieldDef m_schema_field;
  FieldDef m_type_field;
};

/// Human form of a type reference: `[User!]!`.
std::string to_string(const TypeRef& ref);
/// Whether two type references are the same.
bool same_type(const TypeRef& a, const TypeRef& b);
/// A reference to a named type.
TypeRefPtr make_named(std::string name);
/// GraphQL syntax of a value literal (for defaultValue in introspection and messages).
std::string print_value(const Value& value);

}  // namespace gh::graphql
