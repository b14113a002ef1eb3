// Hex bytes, U256 decimal and hex quantities, and addresses from arbitrary text: anything accepted
// renders back to the input up to the normalizations the formats allow (prefix, case, leading
// zeros), and parses again to the same value.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eth/address.hpp"
#include "eth/hex.hpp"
#include "eth/u256.hpp"

namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

bool has_hex_prefix(std::string_view text) {
  return text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
}

std::string_view strip_leading_zeros(std::string_view digits) {
  const auto first = digits.find_first_not_of('0');
  return first == std::string_view::npos ? std::string_view("0") : digits.substr(first);
}

void check_bytes(std::string_view text) {
  const auto bytes = gh::eth::from_hex(text);
  if (!bytes) return;
  const std::string_view digits = has_hex_prefix(text) ? text.substr(2) : text;
  if (gh::eth::to_hex(*bytes, false) != lowercase(digits)) __builtin_trap();
}

void check_u256_dec(std::string_view text) {
  const auto value = gh::eth::U256::from_dec(text);
  if (!value) return;
  const std::string dec = value->to_dec();
  if (dec != strip_leading_zeros(text)) __builtin_trap();
  const auto again = gh::eth::U256::from_dec(dec);
  if (!again || *again != *value) __builtin_trap();
}

void check_u256_hex(std::string_view text) {
  const auto value = gh::eth::U256::from_hex(text);
  if (!value) return;
  if (!has_hex_prefix(text)) __builtin_trap();
  const std::string hex = value->to_hex();
  if (hex != "0x" + std::string(strip_leading_zeros(lowercase(text.substr(2))))) __builtin_trap();
  const auto again = gh::eth::U256::from_hex(hex);
  if (!again || *again != *value) __builtin_trap();
  // The decimal rendering names the same number.
  const auto via_dec = gh::eth::U256::from_dec(value->to_dec());
  if (!via_dec || *via_dec != *value) __builtin_trap();
}

void check_address(std::string_view text) {
  const auto address = gh::eth::parse_address(text);
  if (!address) return;
  if (gh::eth::to_lower_hex(*address) != lowercase(text)) __builtin_trap();
  const std::string checksummed = gh::eth::to_checksum(*address);
  const std::string_view digits = text.substr(2);
  const bool single_case = lowercase(digits) == digits || digits.find_first_of("abcdef") == std::string_view::npos;
  // Mixed case is accepted only as the EIP-55 checksum itself.
  if (!single_case && std::string_view(checksummed).substr(2) != digits) __builtin_trap();
  const auto again = gh::eth::parse_address(checksummed);
  if (!again || *again != *address) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_bytes(text);
  check_u256_dec(text);
  check_u256_hex(text);
  check_address(text);
  return 0;
}
