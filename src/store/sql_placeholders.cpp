#include "store/sql_placeholders.hpp"

#include <algorithm>

namespace gh::store {
namespace {

bool is_digit(char c) noexcept {
  return c >= '0' && c <= '9';
}
bool is_identifier_char(char c) noexcept {
  return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

// Scans SQL, copying it to `out` (when not null) with $N rewritten to ?N, and returns the
// highest N.
std::size_t scan(std::string_view sql, std::string* out_ptr) {
  std::string scratch;
  std::string& out = out_ptr != nullptr ? *out_ptr : scratch;
  std::size_t highest = 0;
  out.reserve(out_ptr != nullptr ? sql.size() : 0);
  std::size_t i = 0;
  const std::size_t n = sql.size();
  while (i < n) {
    const char c = sql[i];
    if (c == '\'' || c == '"' || c == '`') {
      // A quoted literal or identifier; a doubled quote inside is an escaped quote, which this
      // loop handles as "close, then open again".
      const std::size_t close = sql.find(c, i + 1);
      const std::size_t end = close == std::string_view::npos ? n : close + 1;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '[') {
      const std::size_t close = sql.find(']', i + 1);
      const std::size_t end = close == std::string_view::npos ? n : close + 1;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '-' && i + 1 < n && sql[i + 1] == '-') {
      const std::size_t eol = sql.find('\n', i);
      const std::size_t end = eol == std::string_view::npos ? n : eol + 1;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '/' && i + 1 < n && sql[i + 1] == '*') {
      const std::size_t close = sql.find("*/", i + 2);
      const std::size_t end = close == std::string_view::npos ? n : close + 2;
      out.append(sql.substr(i, end - i));
      i = end;
    } else if (c == '$' && i + 1 < n && is_digit(sql[i + 1]) && (i == 0 || !is_identifier_char(sql[i - 1]))) {
      out.push_back('?');
      ++i;
      std::size_t number = 0;
      while (i < n && is_digit(sql[i])) {
        number = std::min<std::size_t>(number * 10 + static_cast<std::size_t>(sql[i] - '0'), 1'000'000);
        out.push_back(sql[i++]);
      }
      highest = std::max(highest, number);
    } else if (is_identifier_char(c)) {
      // Copy a whole identifier so that a '$' inside it is never taken for a placeholder.
      while (i < n && is_identifier_char(sql[i])) out.push_back(sql[i++]);
    } else {
      out.push_back(c);
      ++i;
    }
    if (out_ptr == nullptr) out.clear();  // only the count is wanted
  }
  return highest;
}

}  // namespace

std::string rewrite_placeholders_for_sqlite(std::string_view sql) {
  std::string out;
  scan(sql, &out);
  return out;
}

std::size_t highest_placeholder(std::string_view sql) {
  return scan(sql, nullptr);
}

std::string sql_excerpt(std::string_view sql) {
  constexpr std::size_t limit = 160;
  std::string out(sql.substr(0, limit));
  for (char& c : out) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (sql.size() > limit) out += "...";
  return out;
}

}  // namespace gh::store
