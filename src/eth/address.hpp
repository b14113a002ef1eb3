#pragma once
// 20-byte account addresses and their EIP-55 mixed-case checksum text form.
#include <string>
#include <string_view>

#include "core/expected.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// An account address: the last 20 bytes of keccak256(public key).
struct Address : FixedBytes<20> {};

/// Why text is not an address. `to_string` gives the stable snake_case form
/// ("address_bad_checksum"); what a failure means to a client is the caller's call.
enum class [[nodiscard]] AddressErrc{
    missing_prefix,  ///< does not start with "0x"
    wrong_length,    ///< not 40 digits after the prefix
    invalid_char,    ///< a character that is not a hex digit
    bad_checksum,    ///< mixed case that is not the EIP-55 checksum
};

/// "address_" followed by the code's name, e.g. "address_wrong_length".
const char* to_string(AddressErrc code) noexcept;

/// Parses "0x" + 40 hex digits. All-lowercase or all-uppercase digits are accepted unchecked; mixed
/// case must be a valid EIP-55 checksum (bad_checksum). Other errors: missing_prefix, wrong_length,
/// invalid_char.
Expected<Address, AddressErrc> parse_address(std::string_view text);

/// The EIP-55 checksummed form, "0x" + 40 mixed-case hex digits (how we render addresses).
std::string to_checksum(const Address& address);

/// "0x" + 40 lowercase hex digits (how we store addresses).
std::string to_lower_hex(const Address& address);

}  // namespace gh::eth

/// Lets Address key unordered containers (same hash as its bytes).
template <>
struct std::hash<gh::eth::Address> : std::hash<gh::eth::FixedBytes<20>> {};
