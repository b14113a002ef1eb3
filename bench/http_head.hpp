#pragma once
// The bench programs' reading of an HTTP/1.1 head (the load generator's 101 answer, the floor's
// requests): a header's value by case-insensitive name.
#include <strings.h>

#include <string_view>

namespace gh::bench {

/// The value of the first header `name` in `head` (request or status line first, "\r\n" line ends),
/// without surrounding spaces or tabs; empty when absent.
inline std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t at = 0;
  while ((at = head.find("\r\n", at)) != std::string_view::npos) {
    at += 2;
    const auto colon = head.find(':', at);
    const auto eol = head.find("\r\n", at);
    if (colon == std::string_view::npos || eol == std::string_view::npos || colon > eol) continue;
    if (colon - at == name.size() && ::strncasecmp(head.data() + at, name.data(), name.size()) == 0) {
      auto v = head.substr(colon + 1, eol - colon - 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
      return v;
    }
  }
  return {};
}

}  // namespace gh::bench
