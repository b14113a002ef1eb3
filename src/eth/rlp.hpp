#pragma once
// Recursive Length Prefix encoding (Ethereum yellow paper, appendix B). The decoder accepts only
// canonical encodings, so one value has one encoding and hashes of decoded data are stable.
#include <cstddef>
#include <span>
#include <utility>
#include <vector>

#include "core/result.hpp"
#include "eth/bytes.hpp"
#include "eth/u256.hpp"

namespace gh::eth::rlp {

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
  std::size_t max_depth = 64;  ///< lists nested deeper than this are rejected ("rlp_too_deep")
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

/// Decodes exactly one item spanning all of `input`. Errors (code "rlp_invalid" unless noted, the
/// message says why and where): empty input, truncated item, trailing bytes, a single byte below
/// 0x80 encoded as a one-byte string, a long form used for a short payload, a length with leading
/// zeros, a length beyond the input, nesting beyond limits ("rlp_too_deep").
gh::Result<Item> decode(ByteView input, const DecodeLimits& limits = {});

/// A string item as an unsigned integer: at most 32 bytes and no leading zero byte. Errors:
/// "rlp_not_string", "rlp_uint_leading_zero", "rlp_uint_overflow".
gh::Result<U256> to_uint(const Item& item);

}  // namespace gh::eth::rlp
