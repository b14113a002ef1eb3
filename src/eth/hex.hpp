#pragma once
// Hex text <-> bytes, the encoding of every byte field in JSON-RPC and our API.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/expected.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// Why text is not the hex we expect. `to_string` gives the stable snake_case form
/// ("hex_odd_length"); what a failure means to a client is the caller's call.
enum class [[nodiscard]] HexErrc{
    odd_length,    ///< an odd number of digits
    invalid_char,  ///< a character that is not a hex digit
    wrong_length,  ///< fixed_from_hex: a number of bytes other than N
};

/// "hex_" followed by the code's name, e.g. "hex_invalid_char".
const char* to_string(HexErrc code) noexcept;

/// Lowercase hex of `data`, with a leading "0x" when `prefix`.
std::string to_hex(ByteView data, bool prefix = true);

/// Bytes of hex text with an optional 0x/0X prefix. Errors: odd_length, invalid_char.
Expected<Bytes, HexErrc> from_hex(std::string_view text);

/// Exactly N bytes of hex text (optional 0x prefix); another length gives wrong_length.
template <std::size_t N>
Expected<FixedBytes<N>, HexErrc> fixed_from_hex(std::string_view text) {
  auto decoded = from_hex(text);
  if (!decoded) return decoded.error();
  if (decoded->size() != N) return HexErrc::wrong_length;
  FixedBytes<N> out;
  for (std::size_t i = 0; i < N; ++i) out.bytes[i] = (*decoded)[i];
  return out;
}

}  // namespace gh::eth
