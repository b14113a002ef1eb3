#include "eth/rlp.hpp"

#include <string>

namespace gh::eth::rlp {
namespace {

// Prefix offsets from the yellow paper: strings start at 0x80, lists at 0xc0; payloads over 55
// bytes use the long form (offset + 55 + number of length bytes).
constexpr std::uint8_t k_string_offset = 0x80;
constexpr std::uint8_t k_list_offset = 0xc0;
constexpr std::size_t k_short_max = 55;

void append_length_prefix(Bytes& out, std::size_t length, std::uint8_t offset) {
  if (length <= k_short_max) {
    out.push_back(static_cast<std::uint8_t>(offset + length));
    return;
  }
  std::array<std::uint8_t, 8> be{};
  std::size_t n = 0;
  for (std::size_t v = length; v != 0; v >>= 8) be[7 - n++] = static_cast<std::uint8_t>(v);
  out.push_back(static_cast<std::uint8_t>(offset + k_short_max + n));
  out.insert(out.end(), be.end() - static_cast<std::ptrdiff_t>(n), be.end());
}

// Decodes one item starting at input[pos] (pos is the offset in the whole input, for messages)
// and returns it with the number of bytes it spans.
struct Decoded {
  Item item;
  std::size_t size = 0;
};

Expected<Decoded, RlpErrc> decode_at(ByteView input, std::size_t pos, std::size_t depth, const DecodeLimits& limits) {
  if (pos >= input.size()) return RlpErrc::truncated;
  const std::uint8_t prefix = input[pos];
  const std::size_t remaining = input.size() - pos - 1;  // bytes after the prefix

  if (prefix < k_string_offset) return Decoded{Item{false, Bytes{prefix}, {}}, 1};

  const bool is_list = prefix >= k_list_offset;
  const std::uint8_t offset = is_list ? k_list_offset : k_string_offset;
  std::size_t header = 1;
  std::size_t length = 0;
  if (prefix - offset <= static_cast<int>(k_short_max)) {
    length = static_cast<std::size_t>(prefix - offset);
  } else {
    const auto length_bytes = static_cast<std::size_t>(prefix - offset) - k_short_max;  // 1..8
    if (length_bytes > remaining) return RlpErrc::truncated;
    if (input[pos + 1] == 0) return RlpErrc::non_canonical_length;
    for (std::size_t i = 0; i < length_bytes; ++i) length = (length << 8) | input[pos + 1 + i];
    if (length <= k_short_max) return RlpErrc::non_canonical_length;
    header += length_bytes;
  }
  if (length > input.size() - pos - header) return RlpErrc::truncated;
  const std::size_t start = pos + header;

  if (!is_list) {
    if (length == 1 && input[start] < k_string_offset) return RlpErrc::non_canonical_byte;
    return Decoded{Item::string(input.subspan(start, length)), header + length};
  }

  if (depth + 1 > limits.max_depth) return RlpErrc::too_deep;
  // Children are decoded within the list's payload only, so a child cannot run past its parent.
  const ByteView payload_scope = input.first(start + length);
  Item list{true, {}, {}};
  std::size_t at = start;
  while (at < start + length) {
    auto child = decode_at(payload_scope, at, depth + 1, limits);
    if (!child) return child.error();
    at += child->size;
    list.items.push_back(std::move(child->item));
  }
  return Decoded{std::move(list), header + length};
}

}  // namespace

Bytes encode_string(ByteView bytes) {
  Bytes out;
  if (bytes.size() == 1 && bytes[0] < k_string_offset) {
    out.push_back(bytes[0]);
    return out;
  }
  out.reserve(bytes.size() + 9);
  append_length_prefix(out, bytes.size(), k_string_offset);
  out.insert(out.end(), bytes.begin(), bytes.end());
  return out;
}

Bytes encode_uint(const U256& value) {
  const FixedBytes<32> be = value.to_be_bytes();
  const std::size_t significant = (value.bit_length() + 7) / 8;
  return encode_string(be.view().last(significant));
}

Bytes encode_list_payload(ByteView payload) {
  Bytes out;
  out.reserve(payload.size() + 9);
  append_length_prefix(out, payload.size(), k_list_offset);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes encode_list(std::span<const Bytes> encoded_elements) {
  Bytes payload;
  for (const Bytes& e : encoded_elements) payload.insert(payload.end(), e.begin(), e.end());
  return encode_list_payload(payload);
}

Bytes encode(const Item& item) {
  if (!item.is_list) return encode_string(item.bytes);
  Bytes payload;
  for (const Item& child : item.items) {
    const Bytes encoded = encode(child);
    payload.insert(payload.end(), encoded.begin(), encoded.end());
  }
  return encode_list_payload(payload);
}

const char* to_string(RlpErrc code) noexcept {
  switch (code) {
    case RlpErrc::empty:
      return "rlp_empty";
    case RlpErrc::truncated:
      return "rlp_truncated";
    case RlpErrc::trailing_bytes:
      return "rlp_trailing_bytes";
    case RlpErrc::non_canonical_byte:
      return "rlp_non_canonical_byte";
    case RlpErrc::non_canonical_length:
      return "rlp_non_canonical_length";
    case RlpErrc::too_deep:
      return "rlp_too_deep";
    case RlpErrc::not_string:
      return "rlp_not_string";
    case RlpErrc::uint_leading_zero:
      return "rlp_uint_leading_zero";
    case RlpErrc::uint_overflow:
      return "rlp_uint_overflow";
  }
  return "rlp_unknown";
}

Expected<Item, RlpErrc> decode(ByteView input, const DecodeLimits& limits) {
  if (input.empty()) return RlpErrc::empty;
  auto decoded = decode_at(input, 0, 0, limits);
  if (!decoded) return decoded.error();
  if (decoded->size != input.size()) return RlpErrc::trailing_bytes;
  return std::move(decoded->item);
}

Expected<U256, RlpErrc> to_uint(const Item& item) {
  if (item.is_list) return RlpErrc::not_string;
  if (!item.bytes.empty() && item.bytes[0] == 0) return RlpErrc::uint_leading_zero;
  if (item.bytes.size() > 32) return RlpErrc::uint_overflow;
  return U256::from_be_bytes(item.bytes).value();
}

}  // namespace gh::eth::rlp
