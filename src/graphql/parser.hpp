#pragma once
// The GraphQL parser: executable documents (operations, fragments) and SDL (type system
// definitions), with every syntax error located by line and column. Bounded: a document larger
// than `max_bytes`, with more than `max_tokens` tokens or nested deeper than `max_depth` is refused
// before it can cost more than that to read.
#include <cstddef>
#include <optional>
#include <string_view>

#include "graphql/ast.hpp"
#include "graphql/error.hpp"

namespace gh::graphql {

/// Bounds on what the parser accepts.
struct ParseLimits {
  std::size_t max_bytes = std::size_t{64} * 1024;
  std::size_t max_tokens = 20'000;
  std::size_t max_depth = 64;  ///< nesting of selection sets, lists, objects and type wrappers
};

/// A parsed document or the first syntax error.
struct ParseResult {
  std::optional<Document> document;
  GraphQLError error;  ///< meaningful when document is empty
  explicit operator bool() const { return document.has_value(); }
};

/// Which definitions a document may contain.
enum class DocumentKind {
  executable,   ///< operations and fragments only (what clients send)
  type_system,  ///< SDL only
  any,
};

/// Parses a document.
ParseResult parse(std::string_view source, const ParseLimits& limits = {},
                  DocumentKind kind = DocumentKind::executable);

/// Parses a single value literal (for default values in tests and tools).
std::optional<ValuePtr> parse_value(std::string_view source);

}  // namespace gh::graphql
