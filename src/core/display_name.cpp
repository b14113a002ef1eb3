#include "core/display_name.hpp"

#include <cstdint>

namespace gh {

bool is_display_name(std::string_view name, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size();) {
    const auto b0 = static_cast<unsigned char>(name[i]);
    std::uint32_t cp = 0;
    std::size_t len = 0;
    if (b0 < 0x80) {
      cp = b0;
      len = 1;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      cp = b0 & 0x1fU;
      len = 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      cp = b0 & 0x0fU;
      len = 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      cp = b0 & 0x07U;
      len = 4;
    } else {
      return false;  // a continuation byte first, an overlong lead (C0, C1) or past U+10FFFF
    }
    if (i + len > name.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(name[i + k]);
      if ((b & 0xc0U) != 0x80U) return false;
      cp = (cp << 6U) | (b & 0x3fU);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
        (cp >= 0x2066 && cp <= 0x2069) || cp == 0xfeff) {
      return false;
    }
    i += len;
    ++chars;
  }
  if (chars == 0 || chars > max_chars) return false;
  // A name of spaces alone shows as nothing.
  return name.find_first_not_of(' ') != std::string_view::npos;
}

}  // namespace gh
