#pragma once
// Hex text <-> bytes, the encoding of every byte field in JSON-RPC and our API.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// Lowercase hex of `data`, with a leading "0x" when `prefix`.
std::string to_hex(ByteView data, bool prefix = true);

/// Bytes of hex text with an optional 0x/0X prefix. Errors: "hex_odd_length", "hex_invalid_char"
/// (the message names the offending position in `text`).
gh::Result<Bytes> from_hex(std::string_view text);

/// Exactly N bytes of hex text (optional 0x prefix); another length gives "hex_wrong_length".
template <std::size_t N>
gh::Result<FixedBytes<N>> fixed_from_hex(std::string_view text) {
  auto decoded = from_hex(text);
  if (!decoded) return std::move(decoded).error();
  if (decoded->size() != N) {
    return gh::bad_input("hex_wrong_length", "expected " + std::to_string(N) + " bytes, got " +
                                                 std::to_string(decoded->size()));
  }
  FixedBytes<N> out;
  for (std::size_t i = 0; i < N; ++i) out.bytes[i] = (*decoded)[i];
  return out;
}

}  // namespace gh::eth
