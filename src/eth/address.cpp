#include "eth/address.hpp"

#include "eth/hex.hpp"
#include "eth/keccak.hpp"

namespace gh::eth {
namespace {

bool is_lower_hex_letter(char c) noexcept { return c >= 'a' && c <= 'f'; }
bool is_upper_hex_letter(char c) noexcept { return c >= 'A' && c <= 'F'; }

}  // namespace

gh::Result<Address> parse_address(std::string_view text) {
  if (text.size() < 2 || text[0] != '0' || text[1] != 'x') {
    return gh::bad_input("address_missing_prefix", "address must start with 0x");
  }
  const std::string_view digits = text.substr(2);
  if (digits.size() != 40) {
    return gh::bad_input("address_wrong_length",
                         "address must have 40 hex digits, got " + std::to_string(digits.size()));
  }
  bool has_lower = false;
  bool has_upper = false;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    const char c = digits[i];
    const bool digit = c >= '0' && c <= '9';
    if (is_lower_hex_letter(c)) {
      has_lower = true;
    } else if (is_upper_hex_letter(c)) {
      has_upper = true;
    } else if (!digit) {
      return gh::bad_input("address_invalid_char",
                           "invalid hex character at position " + std::to_string(i + 2));
    }
  }
  auto decoded = fixed_from_hex<20>(digits);
  if (!decoded) return std::move(decoded).error();
  Address address{*decoded};
  // Single-case text carries no checksum (EIP-55 keeps it valid for compatibility); mixed case is
  // a claim of a checksum and must be exact, which catches typos.
  if (has_lower && has_upper && to_checksum(address).substr(2) != digits) {
    return gh::bad_input("address_bad_checksum", "address has an invalid EIP-55 checksum");
  }
  return address;
}

std::string to_checksum(const Address& address) {
  std::string out = to_lower_hex(address);
  // EIP-55: hash the lowercase hex text (without 0x); a letter is uppercased when the matching
  // nibble of the hash is 8 or more.
  const Hash32 hash = keccak256(std::string_view(out).substr(2));
  for (std::size_t i = 0; i < 40; ++i) {
    const std::uint8_t byte = hash.bytes[i / 2];
    const unsigned nib = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0fU);
    char& c = out[i + 2];
    if (nib >= 8 && is_lower_hex_letter(c)) c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

std::string to_lower_hex(const Address& address) { return to_hex(address.view()); }

}  // namespace gh::eth
