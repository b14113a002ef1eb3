#pragma once
// Randomness, hashing and key checks for auth, on libsodium. Tokens and API keys are
// "<prefix><id>_<secret>": the id finds the row, the secret is compared as a SHA-256 in constant
// time, and only that hash is ever stored.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace gh::auth {

/// Initializes libsodium once (thread-safe; call before anything below).
void init_crypto();
/// `bytes` random bytes as lowercase hex.
std::string random_hex(std::size_t bytes);
/// `n` random characters from [A-Za-z0-9] (SIWE nonces must be alphanumeric).
std::string random_alnum(std::size_t n);
/// SHA-256 as lowercase hex.
std::string sha256_hex(std::string_view data);
/// Equality that takes the same time wherever the inputs differ (equal lengths expected).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

/// A credential split into its lookup id and its secret.
struct Credential {
  std::string id;
  std::string secret;
};
/// Makes "<prefix><id>_<secret>" with a 128-bit id and a 256-bit secret.
std::pair<std::string, Credential> make_credential(std::string_view prefix);
/// Splits a credential made by make_credential; nullopt when malformed.
std::optional<Credential> parse_credential(std::string_view text, std::string_view prefix);

/// Standard base64 (RFC 4648 §4, padded) to bytes; nullopt on any other input.
std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text);
/// Bytes to standard padded base64.
std::string encode_base64(const std::vector<std::uint8_t>& bytes);
/// True when 32 bytes are an Ed25519 public key usable for key agreement (it has an X25519 form).
bool valid_identity_key(const std::vector<std::uint8_t>& key);
/// True when `signature` (64 bytes) is the Ed25519 signature of `message` by `public_key`.
bool verify_ed25519(const std::vector<std::uint8_t>& signature, const std::vector<std::uint8_t>& message,
                    const std::vector<std::uint8_t>& public_key);

}  // namespace gh::auth
