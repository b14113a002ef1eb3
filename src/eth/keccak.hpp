#pragma once
// Keccak-256 as Ethereum uses it (the original Keccak padding, not NIST SHA3-256).
#include <string_view>

#include "eth/bytes.hpp"

namespace gh::eth {

/// Keccak-256 of `data`.
Hash32 keccak256(ByteView data) noexcept;
/// Keccak-256 of the bytes of `text` (no terminator).
Hash32 keccak256(std::string_view text) noexcept;

}  // namespace gh::eth
