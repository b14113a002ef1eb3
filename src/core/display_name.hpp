#pragma once
// The one rule for names that people choose and others see (devices, communities, channels,
// roles): printable UTF-8 that displays as what it is. Pure.
#include <cstddef>
#include <string_view>

namespace gh {

/// True when `name` is valid UTF-8 of 1 to `max_chars` code points, not only spaces, and free of
/// what makes text display as something else: control characters (C0 with ESC, DEL, C1 with its
/// CSI), line and paragraph separators, bidi embeddings, overrides and isolates, and the BOM.
bool is_display_name(std::string_view name, std::size_t max_chars);

}  // namespace gh
