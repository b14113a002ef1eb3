#include "eth/address.hpp"

#include "eth/hex.hpp"
#include "eth/keccak.hpp"

namespace gh::eth {
namespace {

bool is_lower_hex_letter(char c) noexcept {
  return c >= 'a' && c <= 'f';
}
bool is_upper_hex_letter(char c) noexcept {
  return c >= 'A' && c <= 'F';
}

}  // namespace

const char* to_string(AddressErrc code) noexcept {
  switch (code) {
    case AddressErrc::missing_prefix:
      return "address_missing_prefix";
    case AddressErrc::wrong_length:
      return "address_wrong_length";
    case AddressErrc::invalid_char:
      return "address_invalid_char";
    case AddressErrc::bad_checksum:
      return "address_bad_checksum";
  }
  return "address_unknown";
}

Expected<Address, AddressErrc> parse_address(std::string_view text) {
  if (text.size() < 2 || text[0] != '0' || text[1] != 'x') return AddressErrc::missing_prefix;
  const std::string_view digits = text.substr(2);
  if (digits.size() != 40) return AddressErrc::wrong_length;
  bool has_lower = false;
  bool has_upper = false;
  for (const char c : digits) {
    const bool digit = c >= '0' && c <= '9';
    if (is_lower_hex_letter(c)) {
      has_lower = true;
    } else if (is_upper_hex_letter(c)) {
      has_upper = true;
    } else if (!digit) {
      return AddressErrc::invalid_char;
    }
  }
  auto decoded = fixed_from_hex<20>(digits);
  if (!decoded) return AddressErrc::invalid_char;  // unreachable: 40 hex digits checked above
  Address address{*decoded};
  // Single-case text carries no checksum (EIP-55 keeps it valid for compatibility); mixed case is
  // a claim of a checksum and must be exact, which catches typos.
  if (has_lower && has_upper && to_checksum(address).substr(2) != digits) return AddressErrc::bad_checksum;
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

std::string to_lower_hex(const Address& address) {
  return to_hex(address.view());
}

}  // namespace gh::eth
