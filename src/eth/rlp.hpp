#pragma once
// Recursive Length Prefix encoding (Ethereum yellow paper, appendix B). The decoder accepts only
// canonical encodings, so one value has one encoding and hashes of decoded data are stable.
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "core/expected.hpp"
#include "eth/bytes.hpp"
#include "eth/u256.hpp"

namespace gh::eth::rlp {

/// Why an input is not one canonical RLP item, or an item not an integer. `to_string` gives the
/// stable snake_case form ("rlp_truncated"); what a failure means to a client is the caller's call.
enum class [[nodiscard]] RlpErrc{
    empty,                 ///< no input at all
    truncated,             ///< a length prefix or a payload runs past the input (or its parent list)
    trailing_bytes,        ///< bytes after the one item
    non_canonical_byte,    ///< a single byte below 0x80 encoded as a one-byte string
    non_canonical_length,  ///< a long form for a payload of at most 55 bytes, or a length with leading zeros
    too_deep,              ///< lists nested deeper than DecodeLimits::max_depth
    not_string,            ///< to_uint: the item is a list
    uint_leading_zero,     ///< to_uint: the integer has a leading zero byte
    uint_overflow,         ///< to_uint: more than 32 bytes
};

/// "rlp_" followed by the code's name, e.g. "rlp_trailing_bytes".
const char* to_string(RlpErrc code) noexcept;

/// A decoded RLP item: a byte string or a list of items.
struct Item {
  bool is_list = false;
  Bytes bytes;              ///< the string's bytes when !is_list
  std::vector<Item> items;  ///< the elements when is_list

  /// A byte-string item.
  static Item string(ByteView b) { return Item{false, to_bytes(b), {}}; }
  /// A list item.
  static Item list(std::vector<Item> elements) { return Item{true, {}, std::move(elements)}; }
  /// Structural equality.
  bool operator==(const Item&) const = default;
};

/// Limits applied while decoding untrusted input.
struct DecodeLimits {
  std::size_t max_depth = 64;  ///< lists nested deeper than this are rejected (RlpErrc::too_deep)
};

/// The encoding of a byte string.
Bytes encode_string(ByteView bytes);
/// The encoding of an unsigned integer: minimal big-endian bytes (zero is the empty string).
Bytes encode_uint(const U256& value);
/// The encoding of a list whose elements are already encoded (their concatenation is `payload`).
Bytes encode_list_payload(ByteView payload);
/// The encoding of a list of already-encoded elements.
Bytes encode_list(std::span<const Bytes> encoded_elements);
/// The encoding of an item tree.
Bytes encode(const Item& item);

/// Decodes exactly one item spanning all of `input`. Errors: empty, truncated, trailing_bytes,
/// non_canonical_byte, non_canonical_length, too_deep.
Expected<Item, RlpErrc> decode(ByteView input, const DecodeLimits& limits = {});

/// A string item as an unsigned integer: at most 32 bytes and no leading zero byte. Errors:
/// not_string, uint_leading_zero, uint_overflow.
Expected<U256, RlpErrc> to_uint(const Item& item);

}  // namespace gh::eth::rlp
