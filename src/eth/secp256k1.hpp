#pragma once
// secp256k1 keys and recoverable ECDSA signatures as Ethereum uses them (libsecp256k1 underneath).
// Signatures are deterministic (RFC 6979) and always low-s; recovery rejects high-s, so one message
// has one accepted signature per key (no malleability).
#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/expected.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// Why a private key or a signature was refused. `to_string` gives the stable snake_case form
/// ("signature_bad_v"); what a failure means to a client is the caller's call. No code carries
/// the key or signature it refused, so none can reach a log.
enum class [[nodiscard]] Secp256k1Errc{
    private_key_wrong_length,  ///< not exactly 32 bytes
    private_key_not_hex,       ///< from_hex: not hex (with an optional 0x)
    private_key_invalid,       ///< zero, or not below the curve order
    signature_wrong_length,    ///< not 65 bytes
    signature_bad_v,           ///< v is not 27, 28, 0 or 1
    signature_invalid,         ///< does not recover a signer (r or s out of range, high s, no point)
};

/// The code's name, e.g. "private_key_invalid".
const char* to_string(Secp256k1Errc code) noexcept;

/// An uncompressed public key: the 64 bytes X || Y (without the 0x04 tag).
struct PublicKey : FixedBytes<64> {};

/// The address of a public key: the last 20 bytes of keccak256(X || Y).
Address to_address(const PublicKey& key) noexcept;

/// A recoverable ECDSA signature over a 32-byte hash: r, s and the parity of R's y coordinate.
struct Signature {
  FixedBytes<32> r;
  FixedBytes<32> s;
  std::uint8_t y_parity = 0;  ///< 0 or 1
  /// Field-wise equality.
  bool operator==(const Signature&) const = default;
};

/// A secret key: a scalar in [1, n-1]. It has no text form and no stream operator so that it cannot
/// reach logs; its memory is wiped on destruction.
class PrivateKey {
 public:
  /// Exactly 32 big-endian bytes in [1, n-1]. Errors: private_key_wrong_length,
  /// private_key_invalid.
  static Expected<PrivateKey, Secp256k1Errc> from_bytes(ByteView secret);
  /// 64 hex digits with an optional 0x prefix; errors as from_bytes, plus private_key_not_hex.
  static Expected<PrivateKey, Secp256k1Errc> from_hex(std::string_view text);

  PrivateKey(const PrivateKey&) = default;
  PrivateKey& operator=(const PrivateKey&) = default;
  ~PrivateKey();

  /// The matching public key.
  PublicKey public_key() const;
  /// The matching account address.
  Address address() const;

 private:
  // The signer is the only code that reads the secret bytes; there is deliberately no accessor.
  friend Signature sign_hash(const PrivateKey& key, const Hash32& hash);
  PrivateKey() = default;
  std::array<std::uint8_t, 32> m_secret{};
};

/// Signs `hash` deterministically (RFC 6979) with low s. Throws std::runtime_error only if
/// libsecp256k1 fails, which does not happen for a valid key.
Signature sign_hash(const PrivateKey& key, const Hash32& hash);

/// The public key that produced `signature` over `hash`; nullopt for r or s out of range, zero or
/// high s, parity not 0/1, or no valid point.
std::optional<PublicKey> recover_public_key(const Hash32& hash, const Signature& signature) noexcept;

/// The address that produced `signature` over `hash`; nullopt as for recover_public_key.
std::optional<Address> ecrecover(const Hash32& hash, const Signature& signature) noexcept;

/// Parses r || s || v (65 bytes) with v 27/28 or 0/1. Errors: signature_wrong_length,
/// signature_bad_v. Range checks on r and s happen at recovery.
Expected<Signature, Secp256k1Errc> parse_signature(ByteView bytes);

/// r || s || v with v = 27 + y_parity (the form wallets return from personal_sign).
FixedBytes<65> serialize_signature(const Signature& signature) noexcept;

}  // namespace gh::eth
