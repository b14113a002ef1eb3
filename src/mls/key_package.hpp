#pragma once
// The checks a key directory makes on an uploaded KeyPackage (RFC 9420 §10.1) before handing it
// to others: the envelope and every field decode, version mls10, an allowed cipher suite, a
// basic credential naming the expected identity, the leaf's signature key equal to the device's
// identity key, the leaf and the package signed with it (SignWithLabel "LeafNodeTBS" and
// "KeyPackageTBS", Ed25519), a current lifetime. Pure: libsodium only.
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/expected.hpp"
#include "mls/codec.hpp"

namespace gh::mls {

/// The check a key package failed. `to_string` gives the API error code that names it.
enum class [[nodiscard]] KeyPackageCheck{
    malformed,              ///< not a decodable MLSMessage carrying a KeyPackage (see decode_error)
    version,                ///< the KeyPackage's version is not mls10
    cipher_suite,           ///< the suite is not allowed here (or not an Ed25519 one)
    credential,             ///< not a basic credential
    identity,               ///< the credential's identity is not the expected account
    signature_key,          ///< the leaf's signature key is not the device's identity key
    leaf_node_source,       ///< the leaf was not made for a key package
    capabilities,           ///< the leaf does not list the package's version, suite or credential
    init_key,               ///< the init key is empty or equals the leaf's encryption key
    leaf_node_signature,    ///< SignWithLabel("LeafNodeTBS") does not verify
    key_package_signature,  ///< SignWithLabel("KeyPackageTBS") does not verify
    lifetime,               ///< now is outside [not_before, not_after]
};

/// "key_package_" + the check's name, e.g. "key_package_lifetime" (the 400's code).
const char* to_string(KeyPackageCheck check) noexcept;
/// One sentence saying what the check requires, for the 400's message.
const char* describe(KeyPackageCheck check) noexcept;

/// A failed check; for `malformed`, the decoder's reason.
struct KeyPackageFailure {
  KeyPackageCheck check = KeyPackageCheck::malformed;
  std::optional<MlsErrc> decode_error;
};

/// MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519.
inline constexpr std::uint16_t suite_x25519_aes128gcm_ed25519 = 0x0001;
/// MLS_256_XWING_AES256GCM_SHA512_Ed25519 (post-quantum hybrid KEM; ts-mls's code point).
inline constexpr std::uint16_t suite_xwing_aes256gcm_ed25519 = 0x0053;

/// True for the cipher suites whose signature scheme is Ed25519 (the only one checked here).
bool is_ed25519_suite(std::uint16_t suite) noexcept;

/// What is expected of a package.
struct KeyPackageExpectation {
  std::vector<std::uint16_t> allowed_suites{suite_x25519_aes128gcm_ed25519, suite_xwing_aes256gcm_ed25519};
  ByteView identity_key;                   ///< the device's Ed25519 public key (32 bytes)
  std::string_view identity;               ///< the account's address, lowercase "0x" hex
  std::uint64_t now_seconds = 0;           ///< Unix time
  std::uint64_t clock_skew_seconds = 300;  ///< tolerated on not_before and not_after
};

/// Decodes an MLSMessage carrying a KeyPackage and runs every check, in the order of the enum.
/// The identity matches when it is the expected address in any letter case.
Expected<KeyPackage, KeyPackageFailure> check_key_package(ByteView message, const KeyPackageExpectation& expect,
                                                          const DecodeLimits& limits = {});

/// The SignContent of RFC 9420 §5.1.2: opaque label<V> = "MLS 1.0 " + label, opaque content<V>.
Bytes sign_content(std::string_view label, ByteView content);
/// VerifyWithLabel with Ed25519 (a 32-byte key and a 64-byte signature).
bool verify_with_label_ed25519(ByteView public_key, std::string_view label, ByteView content, ByteView signature);

}  // namespace gh::mls
