#pragma once
// UTF-8 as RFC 3629 defines it: the one decoder every module uses to validate text, cut it
// without splitting a code point, and make untrusted bytes (a header, a peer's error) safe to
// store and to put in JSON. PostgreSQL refuses invalid UTF-8 in a TEXT column, and a WebSocket
// peer must fail a connection whose text frame has it. Pure.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace gh {

/// One decoded code point: its value and the bytes it took; length 0 for an ill-formed sequence
/// (a stray continuation byte, an overlong form, a surrogate, past U+10FFFF, or cut short).
struct CodePoint {
  std::uint32_t value = 0;
  std::size_t length = 0;
};
/// The code point that starts at `text[at]` (at < text.size()).
CodePoint decode_utf8(std::string_view text, std::size_t at) noexcept;

/// Appends the UTF-8 form of a code point (at most U+10FFFF, not a surrogate).
void append_utf8(std::string& out, std::uint32_t code_point);

/// True when all of `text` is well-formed UTF-8.
bool valid_utf8(std::string_view text) noexcept;

/// True when `text` is well-formed UTF-8 without U+0000: what PostgreSQL's text holds, so what
/// every text the project names or stores must be.
bool valid_text(std::string_view text) noexcept;

/// The longest prefix of `text` of at most `max_bytes` that does not end inside a code point
/// (of valid UTF-8: a prefix that is itself valid).
std::string_view utf8_prefix(std::string_view text, std::size_t max_bytes) noexcept;

/// `text` with every ill-formed sequence replaced by U+FFFD (one per byte that starts no valid
/// code point), cut to at most `max_bytes` on a code point boundary.
std::string to_valid_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace gh
