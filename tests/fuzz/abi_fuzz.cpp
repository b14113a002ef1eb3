// ABI decoding of arbitrary data against a type list chosen by the first bytes. The decoder
// rejects dirty padding, out-of-range integers and bad booleans ("abi_non_canonical"), so for
// types without offsets (all static) decode then encode must give the input back exactly (up to
// the trailing bytes calldata may carry). Offsets may legally point anywhere, so for dynamic types
// the check is that the encoding is a fixed point: it decodes to the same values and encodes to
// itself. Everything decoded also survives the JSON rendering round trip.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "eth/abi.hpp"

namespace {

// Static and dynamic types, nested tuples and arrays: the shapes event logs and return data use.
constexpr std::array<std::string_view, 16> type_strings{"uint256",
                                                        "int8",
                                                        "address",
                                                        "bool",
                                                        "bytes32",
                                                        "bytes",
                                                        "string",
                                                        "uint256[]",
                                                        "int24[3][]",
                                                        "bytes4",
                                                        "(address,string)[]",
                                                        "(uint8,bytes)",
                                                        "int256",
                                                        "uint160",
                                                        "tuple(bool,string[])[2]",
                                                        "(address,uint256,(bytes,int16)[])"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  // The first byte's low two bits give the number of types (1 to 4); each next byte picks one.
  const std::size_t count = (data[0] & 3U) + 1U;
  if (size < 1 + count) return 0;
  std::vector<gh::eth::AbiType> types;
  for (std::size_t i = 0; i < count; ++i) {
    auto type = gh::eth::parse_abi_type(type_strings[data[1 + i] % type_strings.size()]);
    if (!type) __builtin_trap();
    types.push_back(std::move(*type));
  }
  const gh::eth::ByteView rest(data + 1 + count, size - 1 - count);

  const auto values = gh::eth::abi_decode(types, rest);
  if (!values) return 0;
  const auto encoded = gh::eth::abi_encode(types, *values);
  if (!encoded) __builtin_trap();
  const auto decoded = gh::eth::abi_decode(types, *encoded);
  if (!decoded || *decoded != *values) __builtin_trap();
  const auto reencoded = gh::eth::abi_encode(types, *decoded);
  if (!reencoded || *reencoded != *encoded) __builtin_trap();
  const bool all_static = std::none_of(types.begin(), types.end(), [](const auto& t) { return t.is_dynamic(); });
  if (all_static) {
    if (encoded->size() > rest.size() || !std::equal(encoded->begin(), encoded->end(), rest.begin())) __builtin_trap();
  }

  for (std::size_t i = 0; i < count; ++i) {
    const auto json = gh::eth::abi_value_to_json(types[i], (*values)[i]);
    const auto back = gh::eth::abi_value_from_json(types[i], json);
    if (!back || *back != (*values)[i]) __builtin_trap();
  }
  return 0;
}
