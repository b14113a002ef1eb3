// Hex bytes, U256 decimal and hex quantities, and addresses from arbitrary text, each against a
// trivial reference written from the format's definition (accept or reject the same text, give
// the same value): anything accepted also renders back to the input up to the normalizations the
// formats allow (prefix, case, leading zeros), and parses again to the same value.
#include <algorithm>
#include <boost/multiprecision/cpp_int.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

int digit_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Reference: optional 0x/0X, then pairs of hex digits.
std::optional<std::vector<std::uint8_t>> reference_bytes(std::string_view text) {
  if (has_hex_prefix(text)) text.remove_prefix(2);
  if (text.size() % 2 != 0) return std::nullopt;
  std::vector<std::uint8_t> out;
  for (std::size_t i = 0; i < text.size(); i += 2) {
    const int hi = digit_value(text[i]), lo = digit_value(text[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<std::uint8_t>(hi * 16 + lo));
  }
  return out;
}

std::string reference_to_hex(const std::vector<std::uint8_t>& bytes) {
  std::string out;
  for (const auto b : bytes) {
    out += "0123456789abcdef"[b >> 4];
    out += "0123456789abcdef"[b & 15];
  }
  return out;
}

using Unbounded = boost::multiprecision::cpp_int;
const Unbounded two_256 = Unbounded(1) << 256;

// Reference: a non-empty run of decimal digits naming a number below 2^256.
std::optional<Unbounded> reference_dec(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  text = strip_leading_zeros(text);
  if (text.size() > 78) return two_256;  // 2^256 has 78 digits: anything longer is too large
  Unbounded v = 0;
  for (const char c : text) v = v * 10 + (c - '0');
  return v;
}

// Reference: 0x or 0X, then at least one hex digit, naming a number below 2^256.
std::optional<Unbounded> reference_hex_quantity(std::string_view text) {
  if (!has_hex_prefix(text) || text.size() < 3) return std::nullopt;
  Unbounded v = 0;
  for (const char c : text.substr(2)) {
    const int d = digit_value(c);
    if (d < 0) return std::nullopt;
    if (v < two_256) v = v * 16 + d;  // past 2^256 the exact value no longer matters
  }
  return v;
}

void check_bytes(std::string_view text) {
  const auto bytes = gh::eth::from_hex(text);
  const auto want = reference_bytes(text);
  if (bytes.has_value() != want.has_value()) __builtin_trap();
  if (!bytes) return;
  if (!std::equal(bytes->begin(), bytes->end(), want->begin(), want->end())) __builtin_trap();
  if (gh::eth::to_hex(*bytes, false) != reference_to_hex(*want)) __builtin_trap();
  const std::string_view digits = has_hex_prefix(text) ? text.substr(2) : text;
  if (gh::eth::to_hex(*bytes, false) != lowercase(digits)) __builtin_trap();
}

// Our value equals the reference's, or both reject (a number of 2^256 or more is rejected).
template <class Parsed>
void check_against(const Parsed& value, const std::optional<Unbounded>& want) {
  const bool reference_accepts = want.has_value() && *want < two_256;
  if (value.has_value() != reference_accepts) __builtin_trap();
  if (value && value->to_dec() != want->str()) __builtin_trap();
}

void check_u256_dec(std::string_view text) {
  const auto value = gh::eth::U256::from_dec(text);
  check_against(value, reference_dec(text));
  if (!value) return;
  const std::string dec = value->to_dec();
  if (dec != strip_leading_zeros(text)) __builtin_trap();
  const auto again = gh::eth::U256::from_dec(dec);
  if (!again || *again != *value) __builtin_trap();
}

void check_u256_hex(std::string_view text) {
  const auto value = gh::eth::U256::from_hex(text);
  check_against(value, reference_hex_quantity(text));
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
