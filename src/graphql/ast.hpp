#pragma once
// The syntax tree of GraphQL documents (October 2021 spec): executable definitions (operations and
// fragments) and the type system definitions that SDL schemas are written in. Plain data: the
// parser builds it, validation and execution only read it.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace gh::graphql {

/// A 1-based line and column in the source text.
struct Location {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  friend bool operator==(const Location&, const Location&) = default;
};

struct Value;
/// A literal or variable in a document.
using ValuePtr = std::shared_ptr<const Value>;

/// A value literal (`1`, `"x"`, `[1, 2]`, `{a: $v}`, `ENUM`, `null`) or a variable reference.
struct Value {
  enum class Kind { variable, int_value, float_value, string_value, boolean, null, enum_value, list, object };
  Kind kind = Kind::null;
  Location loc;
  std::string text;  ///< variable name, number text, string contents, enum name
  bool boolean = false;
  std::vector<ValuePtr> list;
  std::vector<std::pair<std::string, ValuePtr>> fields;  ///< object fields in source order
};

/// `Type`, `[Type]`, `Type!`.
struct TypeRef {
  enum class Kind { named, list, non_null };
  Kind kind = Kind::named;
  std::string name;             ///< for named
  std::shared_ptr<TypeRef> of;  ///< for list and non_null
  Location loc;
};
using TypeRefPtr = std::shared_ptr<TypeRef>;

/// `name: value` in a field or directive.
struct Argument {
  std::string name;
  ValuePtr value;
  Location loc;
};

/// `@name(args)`.
struct Directive {
  std::string name;
  std::vector<Argument> arguments;
  Location loc;
};

struct Selection;
/// The `{ ... }` of a field, operation or fragment.
using SelectionSet = std::vector<Selection>;

/// `alias: name(args) @dirs { ... }`.
struct Field {
  std::string alias;  ///< empty when there is none
  std::string name;
  std::vector<Argument> arguments;
  std::vector<Directive> directives;
  std::shared_ptr<SelectionSet> selections;  ///< null for a leaf
  Location loc;
  /// The key under which the field appears in the response.
  const std::string& response_key() const { return alias.empty() ? name : alias; }
};

/// `...Name @dirs`.
struct FragmentSpread {
  std::string name;
  std::vector<Directive> directives;
  Location loc;
};

/// `... on Type @dirs { ... }`; the type condition may be omitted.
struct InlineFragment {
  std::string type_condition;  ///< empty when omitted
  std::vector<Directive> directives;
  std::shared_ptr<SelectionSet> selections;
  Location loc;
};

/// One entry of a selection set.
struct Selection {
  std::variant<Field, FragmentSpread, InlineFragment> node;
};

/// `$name: Type = default @dirs`.
struct VariableDefinition {
  std::string name;
  TypeRefPtr type;
  ValuePtr default_value;  ///< null when there is none
  std::vector<Directive> directives;
  Location loc;
};

enum class OperationType { query, mutation, subscription };

/// `query Name($v: T) @dirs { ... }` or the `{ ... }` shorthand.
struct OperationDefinition {
  OperationType operation = OperationType::query;
  std::string name;  ///< empty for an anonymous operation
  std::vector<VariableDefinition> variables;
  std::vector<Directive> directives;
  std::shared_ptr<SelectionSet> selections;
  Location loc;
};

/// `fragment Name on Type @dirs { ... }`.
struct FragmentDefinition {
  std::string name;
  std::string type_condition;
  std::vector<Directive> directives;
  std::shared_ptr<SelectionSet> selections;
  Location loc;
};

// Type system definitions (SDL).

/// An argument or input field definition: `name: Type = default @dirs`.
struct InputValueDefinition {
  std::string description;
  std::string name;
  TypeRefPtr type;
  ValuePtr default_value;
  std::vector<Directive> directives;
  Location loc;
};

/// A field of an object or interface type.
struct FieldDefinition {
  std::string description;
  std::string name;
  std::vector<InputValueDefinition> arguments;
  TypeRefPtr type;
  std::vector<Directive> directives;
  Location loc;
};

/// An enum value definition.
struct EnumValueDefinition {
  std::string description;
  std::string name;
  std::vector<Directive> directives;
  Location loc;
};

/// `scalar`, `type`, `interface`, `union`, `enum` or `input` definition (or `extend` of one).
struct TypeDefinition {
  enum class Kind { scalar, object, interface_type, union_type, enum_type, input_object };
  Kind kind = Kind::scalar;
  bool extension = false;
  std::string description;
  std::string name;
  std::vector<std::string> interfaces;             ///< object and interface
  std::vector<FieldDefinition> fields;             ///< object and interface
  std::vector<std::string> members;                ///< union
  std::vector<EnumValueDefinition> values;         ///< enum
  std::vector<InputValueDefinition> input_fields;  ///< input
  std::vector<Directive> directives;
  Location loc;
};

/// `schema { query: Q mutation: M }`.
struct SchemaDefinition {
  std::string description;
  std::vector<std::pair<OperationType, std::string>> roots;
  std::vector<Directive> directives;
  Location loc;
};

/// `directive @name(args) repeatable on LOCATION | ...`.
struct DirectiveDefinition {
  std::string description;
  std::string name;
  std::vector<InputValueDefinition> arguments;
  bool repeatable = false;
  std::vector<std::string> locations;
  Location loc;
};

/// One top-level definition.
struct Definition {
  std::variant<OperationDefinition, FragmentDefinition, TypeDefinition, SchemaDefinition, DirectiveDefinition> node;
};

/// A parsed document.
struct Document {
  std::vector<Definition> definitions;
};

/// Text of an operation type keyword ("query", ...).
const char* to_string(OperationType type) noexcept;

}  // namespace gh::graphql
