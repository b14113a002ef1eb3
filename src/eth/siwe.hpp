#pragma once
// EIP-4361 Sign-In with Ethereum messages: parse, serialize and validate. The grammar follows the
// `siwe` npm package v3 (@spruceid/siwe-parser's ABNF, parsed with APG's ordered-choice, greedy
// semantics) so that a message the reference rejects is rejected here with the same failure kind.
// Hashing the text for a signature is the caller's job (eip191.hpp): the signature covers the
// exact text received, which `parse_siwe` guarantees is the canonical serialization.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/expected.hpp"
#include "eth/address.hpp"

namespace gh::eth {

/// Largest message `parse_siwe` accepts, in bytes (a real message is well under 1 KiB).
inline constexpr std::size_t siwe_max_message_bytes = std::size_t{16} * 1024;
/// Largest number of `Resources:` entries `parse_siwe` accepts.
inline constexpr std::size_t siwe_max_resources = 100;
/// Largest chain id accepted: JavaScript's Number.MAX_SAFE_INTEGER, beyond which siwe alters it.
inline constexpr std::uint64_t siwe_max_chain_id = 9007199254740991ULL;

/// Milliseconds since the Unix epoch, UTC (the precision JavaScript's Date and siwe compare at).
using SiweTime = std::chrono::sys_time<std::chrono::milliseconds>;

/// Why a message was refused. The names are the `siwe` package's failure kinds; `to_string`
/// gives the stable snake_case form ("siwe_malformed"). What a failure means to a client (status,
/// API code, message) is the caller's to decide.
enum class [[nodiscard]] SiweErrc{
    too_large,          ///< longer than siwe_max_message_bytes
    malformed,          ///< not EIP-4361, or not its canonical serialization
    domain_invalid,     ///< the domain line's authority is not valid
    address_invalid,    ///< not 0x and 40 hex digits, or not EIP-55 checksummed
    uri_invalid,        ///< the URI is not an RFC 3986 URI
    version_invalid,    ///< not "1"
    chain_id_invalid,   ///< not a decimal chain id within 2^53-1
    nonce_invalid,      ///< fewer than 8 letters or digits
    time_invalid,       ///< not an RFC 3339 date-time
    resources_invalid,  ///< a resource is not "- URI", or too many
    scheme_mismatch,    ///< validate: not the expected scheme
    domain_mismatch,    ///< validate: not the expected domain
    nonce_mismatch,     ///< validate: not the expected nonce
    uri_mismatch,       ///< validate: not the expected URI
    chain_id_mismatch,  ///< validate: not an accepted chain
    expired,            ///< validate: past its expiration time, or issued too long ago
    not_yet_valid,      ///< validate: before its not-before time, or issued in the future
};

/// "siwe_" followed by the code's name, e.g. "siwe_malformed".
const char* to_string(SiweErrc code) noexcept;

/// The fields of an EIP-4361 message; times stay as their RFC 3339 text so serialization is exact.
struct SiweMessage {
  std::optional<std::string> scheme;                  ///< "https" in "https://example.com wants…"
  std::string domain;                                 ///< RFC 3986 authority requesting the sign-in
  Address address;                                    ///< the signer, rendered EIP-55
  std::optional<std::string> statement;               ///< absent, or a line without LF (may be "")
  std::string uri;                                    ///< RFC 3986 URI, subject of the sign-in
  std::string version = "1";                          ///< always "1"
  std::uint64_t chain_id = 1;                         ///< EIP-155 chain id
  std::string nonce;                                  ///< >= 8 ASCII letters and digits
  std::string issued_at;                              ///< RFC 3339 date-time
  std::optional<std::string> expiration_time;         ///< RFC 3339 date-time
  std::optional<std::string> not_before;              ///< RFC 3339 date-time
  std::optional<std::string> request_id;              ///< non-empty run of RFC 3986 pchar
  std::optional<std::vector<std::string>> resources;  ///< RFC 3986 URIs; present but empty allowed
};

/// Parses an EIP-4361 message. Errors: too_large, malformed, domain_invalid, address_invalid
/// (EIP-55 required), uri_invalid, version_invalid, chain_id_invalid, nonce_invalid,
/// time_invalid, resources_invalid. Text that parses but is not the canonical serialization of its fields
/// (e.g. "Chain ID: 01", an empty "Request ID: ") is rejected: siwe verifies signatures over its
/// re-serialization, so such a message could never verify there either.
Expected<SiweMessage, SiweErrc> parse_siwe(std::string_view text);

/// The exact EIP-4361 text of `message` (siwe's `toMessage()`), without checking the fields.
std::string to_message(const SiweMessage& message);

/// The text of `message` after checking every field by parsing it back (siwe's constructor does
/// the same); errors as parse_siwe.
Expected<std::string, SiweErrc> build_siwe_message(const SiweMessage& message);

/// What the relying party expects of a message, and the time to judge it at.
struct SiweExpectations {
  std::optional<std::string> scheme;        ///< when set, the message's scheme must equal it
  std::optional<std::string> domain;        ///< when set, the message's domain must equal it
  std::optional<std::string> nonce;         ///< when set, the message's nonce must equal it
  std::optional<std::string> uri;           ///< when set, the message's URI must equal it (siwe does not check)
  std::vector<std::uint64_t> chain_ids;     ///< when not empty, the chain id must be one of them (siwe does not check)
  SiweTime now{};                           ///< the current time, supplied by the caller's clock
  std::chrono::milliseconds clock_skew{0};  ///< tolerance granted to both time bounds
  /// When set, a message issued longer ago than this (minus skew) is siwe_expired.
  std::optional<std::chrono::milliseconds> max_age;
  /// When true, a message issued after now + skew is siwe_not_yet_valid (siwe does not check).
  bool reject_future_issued_at = true;
};

/// Checks a parsed message against the expectations, in siwe's order: scheme (scheme_mismatch),
/// domain (domain_mismatch), nonce (nonce_mismatch), then ours: URI (uri_mismatch) and chain
/// (chain_id_mismatch), then expiration (expired, when now - skew >= expiration time),
/// not-before (not_yet_valid, when now + skew < not before), then the issued-at checks. The signature is the caller's
/// to verify.
Expected<void, SiweErrc> validate_siwe(const SiweMessage& message, const SiweExpectations& expect);

/// An RFC 3339 date-time as SiweMessage holds it, to milliseconds (fractions are truncated, like
/// JavaScript's Date; a leap second :60 counts as the next minute's :00). Error: time_invalid.
Expected<SiweTime, SiweErrc> parse_siwe_time(std::string_view text);

}  // namespace gh::eth
