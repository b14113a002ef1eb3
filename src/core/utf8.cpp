#include "core/utf8.hpp"

#include <algorithm>

namespace gh {

void append_utf8(std::string& out, std::uint32_t code_point) {
  const auto byte = [](std::uint32_t v) { return static_cast<char>(v); };
  if (code_point < 0x80) {
    out.push_back(byte(code_point));
  } else if (code_point < 0x800) {
    out.push_back(byte(0xC0 | (code_point >> 6)));
    out.push_back(byte(0x80 | (code_point & 0x3F)));
  } else if (code_point < 0x10000) {
    out.push_back(byte(0xE0 | (code_point >> 12)));
    out.push_back(byte(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(byte(0x80 | (code_point & 0x3F)));
  } else {
    out.push_back(byte(0xF0 | (code_point >> 18)));
    out.push_back(byte(0x80 | ((code_point >> 12) & 0x3F)));
    out.push_back(byte(0x80 | ((code_point >> 6) & 0x3F)));
    out.push_back(byte(0x80 | (code_point & 0x3F)));
  }
}

CodePoint decode_utf8(std::string_view text, std::size_t at) noexcept {
  const auto b0 = static_cast<unsigned char>(text[at]);
  if (b0 < 0x80) return {b0, 1};
  std::size_t len = 0;
  std::uint32_t cp = 0;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
    cp = b0 & 0x1fU;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    cp = b0 & 0x0fU;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    cp = b0 & 0x07U;
  } else {
    return {};  // a continuation byte first, an overlong lead (C0, C1) or past U+10FFFF
  }
  if (text.size() - at < len) return {};
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(text[at + k]);
    if ((b & 0xc0U) != 0x80U) return {};
    cp = (cp << 6U) | (b & 0x3fU);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
    return {};
  }
  return {cp, len};
}

bool valid_utf8(std::string_view text) noexcept {
  for (std::size_t i = 0; i < text.size();) {
    // ASCII runs are most text: skip them without decoding.
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const auto cp = decode_utf8(text, i);
    if (cp.length == 0) return false;
    i += cp.length;
  }
  return true;
}

bool valid_text(std::string_view text) noexcept {
  return text.find('\0') == std::string_view::npos && valid_utf8(text);
}

std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept {
  if (text.size() <= max_bytes) return text;
  std::size_t cut = max_bytes;
  // Back up over continuation bytes: the byte at `cut` then starts a code point (or is ASCII).
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0U) == 0x80U) --cut;
  return text.substr(0, cut);
}

std::string to_valid_utf8(std::string_view text, std::size_t max_bytes) {
  static constexpr std::string_view replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (std::size_t i = 0; i < text.size();) {
    const auto cp = decode_utf8(text, i);
    const std::string_view piece = cp.length == 0 ? replacement : text.substr(i, cp.length);
    if (out.size() + piece.size() > max_bytes) break;
    out.append(piece);
    i += cp.length == 0 ? 1 : cp.length;
  }
  return out;
}

}  // namespace gh
