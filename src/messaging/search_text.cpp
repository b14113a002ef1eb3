#include "messaging/search_text.hpp"

#include <locale.h>
#include <wctype.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "core/utf8.hpp"

namespace gh::messaging {
namespace {

// C.UTF-8 is built into glibc (2.35 and later): no locale files are needed.
locale_t unicode_ctype() {
  static const locale_t locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", static_cast<locale_t>(nullptr));
  return locale;
}

bool in(std::uint32_t c, std::uint32_t first, std::uint32_t last) {
  return c >= first && c <= last;
}

// Scripts written without spaces between words.
bool unspaced(std::uint32_t c) {
  return in(c, 0x3040, 0x30FF)        // Hiragana, Katakana
         || in(c, 0x3400, 0x4DBF)     // CJK Extension A
         || in(c, 0x4E00, 0x9FFF)     // CJK Unified Ideographs
         || in(c, 0xAC00, 0xD7AF)     // Hangul syllables
         || in(c, 0xF900, 0xFAFF)     // CJK Compatibility Ideographs
         || in(c, 0x31F0, 0x31FF)     // Katakana extensions
         || in(c, 0xFF66, 0xFF9F)     // halfwidth Katakana
         || in(c, 0x20000, 0x3134F);  // CJK Extensions B to G
}

bool combining_mark(std::uint32_t c) {
  return in(c, 0x0300, 0x036F) || in(c, 0x1AB0, 0x1AFF) || in(c, 0x1DC0, 0x1DFF) || in(c, 0x20D0, 0x20FF) ||
         in(c, 0xFE20, 0xFE2F);
}

enum class Kind : std::uint8_t { separator, word, mark, unspaced };

Kind kind_of(std::uint32_t c) {
  if (c < 0x80) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    return alnum ? Kind::word : Kind::separator;
  }
  if (unspaced(c)) return Kind::unspaced;
  if (combining_mark(c)) return Kind::mark;
  const auto locale = unicode_ctype();
  if (locale != static_cast<locale_t>(nullptr) && iswalnum_l(static_cast<wint_t>(c), locale) != 0) return Kind::word;
  return Kind::separator;
}

std::uint32_t lower(std::uint32_t c) {
  if (c < 0x80) return (c >= 'A' && c <= 'Z') ? c + 32 : c;
  const auto locale = unicode_ctype();
  if (locale == static_cast<locale_t>(nullptr)) return c;
  return static_cast<std::uint32_t>(towlower_l(static_cast<wint_t>(c), locale));
}

class Terms {
 public:
  void add_word_char(std::uint32_t c) {
    flush_unspaced();
    append_utf8(m_word, lower(c));
  }
  void add_unspaced(std::uint32_t c) {
    flush_word();
    std::string one;
    append_utf8(one, c);
    if (!m_previous.empty()) m_out.push_back(m_previous + one);
    ++m_run;
    m_previous = std::move(one);
  }
  void separate() {
    flush_word();
    flush_unspaced();
  }
  std::vector<std::string> take() {
    separate();
    std::sort(m_out.begin(), m_out.end());
    m_out.erase(std::unique(m_out.begin(), m_out.end()), m_out.end());
    return std::move(m_out);
  }

 private:
  void flush_word() {
    if (m_word.empty()) return;
    m_out.emplace_back(utf8_prefix(m_word, max_term_bytes));
    m_word.clear();
  }
  void flush_unspaced() {
    if (m_run == 1) m_out.push_back(m_previous);
    m_previous.clear();
    m_run = 0;
  }

  std::vector<std::string> m_out;
  std::string m_word;
  std::string m_previous;  ///< the last character of the current unspaced run
  std::size_t m_run = 0;   ///< characters in that run
};

}  // namespace

std::vector<std::string> search_terms(std::string_view text) {
  Terms terms;
  bool in_word = false;
  for (std::size_t at = 0; at < text.size();) {
    const auto cp = decode_utf8(text, at);
    if (cp.length == 0) {  // not UTF-8 (bodies are checked before): a separator
      terms.separate();
      in_word = false;
      ++at;
      continue;
    }
    at += cp.length;
    switch (kind_of(cp.value)) {
      case Kind::word:
        terms.add_word_char(cp.value);
        in_word = true;
        break;
      case Kind::mark:
        // A combining mark belongs to the word it follows (é written as e + U+0301).
        if (in_word) {
          terms.add_word_char(cp.value);
        } else {
          terms.separate();
        }
        break;
      case Kind::unspaced:
        terms.add_unspaced(cp.value);
        in_word = false;
        break;
      case Kind::separator:
        terms.separate();
        in_word = false;
        break;
    }
  }
  return terms.take();
}

Result<std::vector<std::string>> parse_search_query(std::string_view query) {
  if (query.size() > max_query_bytes) {
    return bad_input("invalid_query", "a search query is at most 512 bytes");
  }
  if (!valid_utf8(query)) return bad_input("invalid_query", "a search query must be UTF-8");
  auto terms = search_terms(query);
  if (terms.empty()) {
    return bad_input("invalid_query", "a search query needs at least one word");
  }
  if (terms.size() > max_query_terms) {
    return bad_input("invalid_query", "a search query has at most 16 distinct words");
  }
  return terms;
}

std::string mention_term(std::string_view account_hex) {
  return "mentions:" + std::string(account_hex);
}

namespace {

char lower_ascii(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// Whether `text` at `at` starts with `prefix` (lowercase ASCII), in any case.
bool starts_at(std::string_view text, std::size_t at, std::string_view prefix) {
  if (text.size() - at < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (lower_ascii(text[at + i]) != prefix[i]) return false;
  }
  return true;
}

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

}  // namespace

bool holds_link(std::string_view text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
      const auto end = i + scheme.size();
      if (starts_at(text, i, scheme) && end < text.size() && !space(text[end])) return true;
    }
    const bool word_start = i == 0 || !ascii_alnum(text[i - 1]);
    if (word_start && starts_at(text, i, "www.") && i + 4 < text.size() && ascii_alnum(text[i + 4])) return true;
  }
  return false;
}

Result<std::string> has_term(std::string_view value) {
  if (value == "link") return std::string(has_link_term);
  if (value == "poll") return std::string(has_poll_term);
  if (value == "forward") return std::string(has_forward_term);
  return bad_input("invalid_has", "has is link, poll or forward, or several separated by commas");
}

}  // namespace gh::messaging
