#include "core/display_name.hpp"

#include <cstdint>

#include "core/utf8.hpp"

namespace gh {

bool is_display_name(std::string_view name, std::size_t max_chars) {
  std::size_t chars = 0;
  for (std::size_t i = 0; i < name.size();) {
    const auto [cp, len] = decode_utf8(name, i);
    if (len == 0) return false;
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
