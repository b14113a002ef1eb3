#pragma once
// Byte containers for chain data. On-chain values travel as these types, never as std::string, so
// that text encodings (hex, checksums) happen only at the edges.
#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace gh::eth {

/// Owned variable-length bytes.
using Bytes = std::vector<std::uint8_t>;
/// Borrowed read-only bytes.
using ByteView = std::span<const std::uint8_t>;

/// Exactly N bytes; a distinct type per N so a hash cannot be passed where an address is expected.
template <std::size_t N>
struct FixedBytes {
  std::array<std::uint8_t, N> bytes{};

  /// The fixed length N.
  static constexpr std::size_t size() noexcept { return N; }
  /// Pointer to the first byte.
  const std::uint8_t* data() const noexcept { return bytes.data(); }
  /// Pointer to the first byte, writable.
  std::uint8_t* data() noexcept { return bytes.data(); }
  /// A view of all N bytes.
  ByteView view() const noexcept { return ByteView(bytes.data(), N); }
  /// Lexicographic order, byte by byte (the order of the big-endian number). (clang-tidy 14 sees a
  /// literal 0 in the defaulted comparison's synthesized code.)
  auto operator<=>(const FixedBytes&) const = default;  // NOLINT(modernize-use-nullptr)
};

/// A 32-byte hash (keccak-256 output, storage slot, block or transaction hash).
using Hash32 = FixedBytes<32>;

/// A view of a string's bytes (for hashing text such as a personal message).
inline ByteView as_bytes(std::string_view s) noexcept {
  // Reading chars as unsigned bytes is the defined object-representation access.
  return ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

/// An owned copy of a view.
inline Bytes to_bytes(ByteView view) {
  return Bytes(view.begin(), view.end());
}

}  // namespace gh::eth

/// Lets FixedBytes (hashes, keys) key unordered containers. FNV-1a: chain data is attacker-chosen,
/// but these maps are bounded by our own limits, and an address or hash is already uniform.
template <std::size_t N>
struct std::hash<gh::eth::FixedBytes<N>> {
  std::size_t operator()(const gh::eth::FixedBytes<N>& value) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const std::uint8_t b : value.bytes) h = (h ^ b) * 0x100000001b3ULL;
    return static_cast<std::size_t>(h);
  }
};
