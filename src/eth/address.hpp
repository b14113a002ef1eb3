#pragma once
// 20-byte account addresses and their EIP-55 mixed-case checksum text form.
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// An account address: the last 20 bytes of keccak256(public key).
struct Address : FixedBytes<20> {};

/// Parses "0x" + 40 hex digits. All-lowercase or all-uppercase digits are accepted unchecked; mixed
/// case must be a valid EIP-55 checksum ("address_bad_checksum"). Other errors:
/// "address_missing_prefix", "address_wrong_length", "address_invalid_char".
gh::Result<Address> parse_address(std::string_view text);

/// The EIP-55 checksummed form, "0x" + 40 mixed-case hex digits (how we render addresses).
std::string to_checksum(const Address& address);

/// "0x" + 40 lowercase hex digits (how we store addresses).
std::string to_lower_hex(const Address& address);

}  // namespace gh::eth

/// Lets Address key unordered containers (same hash as its bytes).
template <>
struct std::hash<gh::eth::Address> : std::hash<gh::eth::FixedBytes<20>> {};
