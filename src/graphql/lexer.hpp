#pragma once
// The GraphQL lexer: source text to tokens, skipping whitespace, commas, comments and the BOM.
// String and block string values come out decoded (escapes resolved, block strings dedented).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "graphql/ast.hpp"
#include "graphql/error.hpp"

namespace gh::graphql {

/// The kinds of lexical tokens.
enum class TokenKind {
  end,
  bang,
  dollar,
  amp,
  paren_l,
  paren_r,
  spread,
  colon,
  equals,
  at,
  bracket_l,
  bracket_r,
  brace_l,
  pipe,
  brace_r,
  name,
  int_value,
  float_value,
  string_value,
  block_string,
};

/// A human description of a token kind for error messages ("Name", "\"{\"").
const char* describe(TokenKind kind) noexcept;

/// One token: its kind, value (name, number text or decoded string) and start location.
struct Token {
  TokenKind kind = TokenKind::end;
  std::string value;
  Location loc;
  std::size_t offset = 0;  ///< byte offset of the first character
};

/// Reads tokens one at a time; after an error, `error()` says what and where.
class Lexer {
 public:
  explicit Lexer(std::string_view source) : m_src(source) {}

  /// The next token, or nullopt on a lexical error (see error()).
  std::optional<Token> next();
  /// The last lexical error.
  const GraphQLError& error() const { return m_error; }

 private:
  bool fail(std::string message, std::size_t at);
  Location location_of(std::size_t at);
  bool read_string(Token& token);
  bool read_block_string(Token& token);
  bool read_number(Token& token);

  std::string_view m_src;
  std::size_t m_pos = 0;
  // Line bookkeeping: the byte offset where the current line starts.
  std::uint32_t m_line = 1;
  std::size_t m_line_start = 0;
  // Column bookkeeping: the column at byte m_column_pos of the line starting at m_column_line_start.
  std::size_t m_column_line_start = 0;
  std::size_t m_column_pos = 0;
  std::uint32_t m_column = 1;
  GraphQLError m_error;
};

/// The spec's BlockStringValue(): common indentation and blank first/last lines removed.
std::string dedent_block_string(std::string_view raw);

}  // namespace gh::graphql
