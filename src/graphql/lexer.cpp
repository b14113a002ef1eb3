#include "graphql/lexer.hpp"

#include <boost/json/value.hpp>
#include <vector>

#include "core/utf8.hpp"

namespace gh::graphql {

const char* to_string(OperationType type) noexcept {
  switch (type) {
    case OperationType::query:
      return "query";
    case OperationType::mutation:
      return "mutation";
    case OperationType::subscription:
      return "subscription";
  }
  return "query";
}

boost::json::object to_json(const GraphQLError& error) {
  boost::json::object out;
  out["message"] = error.message;
  if (!error.locations.empty()) {
    boost::json::array locations;
    for (const auto& loc : error.locations) {
      locations.push_back(boost::json::object{{"line", loc.line}, {"column", loc.column}});
    }
    out["locations"] = std::move(locations);
  }
  if (!error.path.empty()) out["path"] = error.path;
  if (!error.code.empty()) out["extensions"] = boost::json::object{{"code", error.code}};
  return out;
}

const char* describe(TokenKind kind) noexcept {
  switch (kind) {
    case TokenKind::end:
      return "<EOF>";
    case TokenKind::bang:
      return "\"!\"";
    case TokenKind::dollar:
      return "\"$\"";
    case TokenKind::amp:
      return "\"&\"";
    case TokenKind::paren_l:
      return "\"(\"";
    case TokenKind::paren_r:
      return "\")\"";
    case TokenKind::spread:
      return "\"...\"";
    case TokenKind::colon:
      return "\":\"";
    case TokenKind::equals:
      return "\"=\"";
    case TokenKind::at:
      return "\"@\"";
    case TokenKind::bracket_l:
      return "\"[\"";
    case TokenKind::bracket_r:
      return "\"]\"";
    case TokenKind::brace_l:
      return "\"{\"";
    case TokenKind::pipe:
      return "\"|\"";
    case TokenKind::brace_r:
      return "\"}\"";
    case TokenKind::name:
      return "Name";
    case TokenKind::int_value:
      return "Int";
    case TokenKind::float_value:
      return "Float";
    case TokenKind::string_value:
      return "String";
    case TokenKind::block_string:
      return "BlockString";
  }
  return "token";
}

namespace {

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_continue(char c) {
  return is_name_start(c) || is_digit(c);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string printable(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u < 0x20 || u >= 0x7F) {
    static const char* digits = "0123456789ABCDEF";
    return std::string("U+00") + digits[u >> 4] + digits[u & 0xF];
  }
  return std::string("\"") + c + "\"";
}

bool is_blank(std::string_view line) {
  for (char c : line) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

std::size_t leading_whitespace(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i;
}

}  // namespace

std::string dedent_block_string(std::string_view raw) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' || raw[i] == '\r') {
      lines.push_back(raw.substr(start, i - start));
      if (raw[i] == '\r' && i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  lines.push_back(raw.substr(start));
  std::optional<std::size_t> common;
  for (std::size_t i = 1; i < lines.size(); ++i) {
    const auto indent = leading_whitespace(lines[i]);
    if (indent == lines[i].size()) continue;
    if (!common || indent < *common) common = indent;
  }
  if (common && *common > 0) {
    for (std::size_t i = 1; i < lines.size(); ++i) {
      lines[i] = lines[i].size() < *common ? std::string_view{} : lines[i].substr(*common);
    }
  }
  std::size_t first = 0;
  std::size_t last = lines.size();
  while (first < last && is_blank(lines[first])) ++first;
  while (last > first && is_blank(lines[last - 1])) --last;
  std::string out;
  for (std::size_t i = first; i < last; ++i) {
    if (i > first) out.push_back('\n');
    out.append(lines[i]);
  }
  return out;
}

Location Lexer::location_of(std::size_t at) {
  // Columns count code points, not bytes: skip UTF-8 continuation bytes. Tokens come in order, so
  // the count continues from the previous token on the same line (linear on one-line documents).
  if (m_column_line_start != m_line_start || at < m_column_pos) {
    m_column_line_start = m_line_start;
    m_column_pos = m_line_start;
    m_column = 1;
  }
  for (; m_column_pos < at && m_column_pos < m_src.size(); ++m_column_pos) {
    if ((static_cast<unsigned char>(m_src[m_column_pos]) & 0xC0) != 0x80) ++m_column;
  }
  return Location{m_line, m_column};
}

bool Lexer::fail(std::string message, std::size_t at) {
  m_error = GraphQLError{"Syntax Error: " + std::move(message), {location_of(at)}, {}, "GRAPHQL_PARSE_FAILED"};
  return false;
}

std::optional<Token> Lexer::next() {
  // Skip ignored tokens.
  while (m_pos < m_src.size()) {
    const char c = m_src[m_pos];
    if (c == ' ' || c == '\t' || c == ',') {
      ++m_pos;
    } else if (c == '\n') {
      ++m_pos;
      ++m_line;
      m_line_start = m_pos;
    } else if (c == '\r') {
      ++m_pos;
      if (m_pos < m_src.size() && m_src[m_pos] == '\n') ++m_pos;
      ++m_line;
      m_line_start = m_pos;
    } else if (c == '#') {
      while (m_pos < m_src.size() && m_src[m_pos] != '\n' && m_src[m_pos] != '\r') ++m_pos;
    } else if (m_src.substr(m_pos, 3) == "\xEF\xBB\xBF") {
      m_pos += 3;
    } else {
      break;
    }
  }
  Token token;
  token.offset = m_pos;
  token.loc = location_of(m_pos);
  if (m_pos >= m_src.size()) {
    token.kind = TokenKind::end;
    return token;
  }
  const char c = m_src[m_pos];
  auto punct = [&](TokenKind kind) {
    token.kind = kind;
    ++m_pos;
    return std::optional<Token>(std::move(token));
  };
  switch (c) {
    case '!':
      return punct(TokenKind::bang);
    case '$':
      return punct(TokenKind::dollar);
    case '&':
      return punct(TokenKind::amp);
    case '(':
      return punct(TokenKind::paren_l);
    case ')':
      return punct(TokenKind::paren_r);
    case ':':
      return punct(TokenKind::colon);
    case '=':
      return punct(TokenKind::equals);
    case '@':
      return punct(TokenKind::at);
    case '[':
      return punct(TokenKind::bracket_l);
    case ']':
      return punct(TokenKind::bracket_r);
    case '{':
      return punct(TokenKind::brace_l);
    case '|':
      return punct(TokenKind::pipe);
    case '}':
      return punct(TokenKind::brace_r);
    default:
      break;
  }
  if (c == '.') {
    if (m_src.substr(m_pos, 3) == "...") {
      token.kind = TokenKind::spread;
      m_pos += 3;
      return token;
    }
    fail("Unexpected \".\".", m_pos);
    return std::nullopt;
  }
  if (is_name_start(c)) {
    const auto start = m_pos;
    while (m_pos < m_src.size() && is_name_continue(m_src[m_pos])) ++m_pos;
    token.kind = TokenKind::name;
    token.value = std::string(m_src.substr(start, m_pos - start));
    return token;
  }
  if (is_digit(c) || c == '-') {
    if (!read_number(token)) return std::nullopt;
    return token;
  }
  if (c == '"') {
    const bool ok = m_src.substr(m_pos, 3) == "\"\"\"" ? read_block_string(token) : read_string(token);
    if (!ok) return std::nullopt;
    return token;
  }
  if (c == '\'') {
    fail("Unexpected single quote character ('), did you mean to use a double quote (\")?", m_pos);
    return std::nullopt;
  }
  fail("Unexpected character: " + printable(c) + ".", m_pos);
  return std::nullopt;
}

bool Lexer::read_number(Token& token) {
  const auto start = m_pos;
  bool is_float = false;
  auto digits = [&]() {
    if (m_pos >= m_src.size() || !is_digit(m_src[m_pos])) {
      return fail("Invalid number, expected digit but got: " +
                      (m_pos >= m_src.size() ? std::string("<EOF>") : printable(m_src[m_pos])) + ".",
                  m_pos);
    }
    while (m_pos < m_src.size() && is_digit(m_src[m_pos])) ++m_pos;
    return true;
  };
  if (m_src[m_pos] == '-') ++m_pos;
  if (m_pos < m_src.size() && m_src[m_pos] == '0') {
    ++m_pos;
    if (m_pos < m_src.size() && is_digit(m_src[m_pos])) {
      return fail("Invalid number, unexpected digit after 0: " + printable(m_src[m_pos]) + ".", m_pos);
    }
  } else if (!digits()) {
    return false;
  }
  if (m_pos < m_src.size() && m_src[m_pos] == '.') {
    is_float = true;
    ++m_pos;
    if (!digits()) return false;
  }
  if (m_pos < m_src.size() && (m_src[m_pos] == 'e' || m_src[m_pos] == 'E')) {
    is_float = true;
    ++m_pos;
    if (m_pos < m_src.size() && (m_src[m_pos] == '+' || m_src[m_pos] == '-')) ++m_pos;
    if (!digits()) return false;
  }
  if (m_pos < m_src.size() && (m_src[m_pos] == '.' || is_name_start(m_src[m_pos]))) {
    return fail("Invalid number, expected digit but got: " + printable(m_src[m_pos]) + ".", m_pos);
  }
  token.kind = is_float ? TokenKind::float_value : TokenKind::int_value;
  token.value = std::string(m_src.substr(start, m_pos - start));
  return true;
}

bool Lexer::read_string(Token& token) {
  ++m_pos;  // opening quote
  std::string out;
  while (m_pos < m_src.size()) {
    const char c = m_src[m_pos];
    if (c == '"') {
      ++m_pos;
      token.kind = TokenKind::string_value;
      token.value = std::move(out);
      return true;
    }
    if (c == '\n' || c == '\r') return fail("Unterminated string.", m_pos);
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return fail("Invalid character within String: " + printable(c) + ".", m_pos);
    if (c != '\\') {
      out.push_back(c);
      ++m_pos;
      continue;
    }
    if (m_pos + 1 >= m_src.size()) return fail("Unterminated string.", m_pos);
    const char e = m_src[m_pos + 1];
    switch (e) {
      case '"':
        out.push_back('"');
        m_pos += 2;
        continue;
      case '\\':
        out.push_back('\\');
        m_pos += 2;
        continue;
      case '/':
        out.push_back('/');
        m_pos += 2;
        continue;
      case 'b':
        out.push_back('\b');
        m_pos += 2;
        continue;
      case 'f':
        out.push_back('\f');
        m_pos += 2;
        continue;
      case 'n':
        out.push_back('\n');
        m_pos += 2;
        continue;
      case 'r':
        out.push_back('\r');
        m_pos += 2;
        continue;
      case 't':
        out.push_back('\t');
        m_pos += 2;
        continue;
      case 'u':
        break;
      default:
        return fail("Invalid character escape sequence: \"\\" + std::string(1, e) + "\".", m_pos);
    }
    // \uXXXX or \u{X...}
    const auto escape_start = m_pos;
    std::size_t p = m_pos + 2;
    std::uint32_t cp = 0;
    auto bad_escape = [&] {
      const auto end = std::min(m_src.size(), std::max(p + 1, escape_start + 6));
      return fail(
          "Invalid Unicode escape sequence: \"" + std::string(m_src.substr(escape_start, end - escape_start)) + "\".",
          escape_start);
    };
    auto read_fixed = [&](std::uint32_t& value) {
      value = 0;
      for (int i = 0; i < 4; ++i, ++p) {
        if (p >= m_src.size()) return false;
        const int h = hex_value(m_src[p]);
        if (h < 0) return false;
        value = value * 16 + static_cast<std::uint32_t>(h);
      }
      return true;
    };
    if (p < m_src.size() && m_src[p] == '{') {
      ++p;
      std::size_t count = 0;
      while (p < m_src.size() && m_src[p] != '}') {
        const int h = hex_value(m_src[p]);
        if (h < 0 || ++count > 6) return bad_escape();
        cp = cp * 16 + static_cast<std::uint32_t>(h);
        ++p;
      }
      if (p >= m_src.size() || count == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return bad_escape();
      ++p;
    } else {
      if (!read_fixed(cp)) return bad_escape();
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        // A leading surrogate must be followed by an escaped trailing one.
        std::uint32_t low = 0;
        if (m_src.substr(p, 2) != "\\u") return bad_escape();
        p += 2;
        if (!read_fixed(low) || low < 0xDC00 || low > 0xDFFF) return bad_escape();
        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return bad_escape();
      }
    }
    append_utf8(out, cp);
    m_pos = p;
  }
  return fail("Unterminated string.", m_pos);
}

bool Lexer::read_block_string(Token& token) {
  m_pos += 3;
  std::string raw;
  while (m_pos < m_src.size()) {
    const char c = m_src[m_pos];
    if (m_src.substr(m_pos, 3) == "\"\"\"") {
      m_pos += 3;
      token.kind = TokenKind::block_string;
      token.value = dedent_block_string(raw);
      return true;
    }
    if (m_src.substr(m_pos, 4) == "\\\"\"\"") {
      raw.append("\"\"\"");
      m_pos += 4;
      continue;
    }
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n' && c != '\r') {
      return fail("Invalid character within String: " + printable(c) + ".", m_pos);
    }
    raw.push_back(c);
    ++m_pos;
    if (c == '\n' || (c == '\r' && !(m_pos < m_src.size() && m_src[m_pos] == '\n'))) {
      ++m_line;
      m_line_start = m_pos;
    }
  }
  return fail("Unterminated string.", m_pos);
}

}  // namespace gh::graphql
