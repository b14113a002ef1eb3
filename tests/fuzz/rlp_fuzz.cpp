// RLP decoding of arbitrary bytes: the decoder accepts only canonical encodings, so anything it
// accepts must re-encode to exactly the input.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "eth/rlp.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const gh::eth::ByteView input(data, size);
  const auto item = gh::eth::rlp::decode(input);
  if (!item) return 0;
  const gh::eth::Bytes encoded = gh::eth::rlp::encode(*item);
  if (!std::ranges::equal(encoded, input)) __builtin_trap();
  // Strings that decode as integers render back to the same minimal bytes.
  if (!item->is_list) {
    if (const auto value = gh::eth::rlp::to_uint(*item)) {
      if (!std::ranges::equal(gh::eth::rlp::encode_uint(*value), input)) __builtin_trap();
    }
  }
  return 0;
}
