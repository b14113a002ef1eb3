#pragma once
// The cryptography of the push providers, over OpenSSL 3 and free of Asio: base64url, RFC 8291
// aes128gcm message encryption for Web Push, RFC 8292 VAPID (ES256) tokens, RS256 JWTs for the
// FCM service-account OAuth exchange, and HMAC-SHA256 for signed webhooks. Keys never appear in
// errors.
#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gh::notify {

using ByteString = std::vector<std::uint8_t>;

/// base64url without padding (RFC 4648 §5), as JWTs and Web Push keys use.
std::string base64url_encode(std::string_view bytes);
std::string base64url_encode(const ByteString& bytes);
/// Decodes base64url or standard base64, padded or not; nullopt on any other character.
std::optional<ByteString> base64url_decode(std::string_view text);

/// Lowercase hex HMAC-SHA256 of `data` under `key`.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);

/// A P-256 key pair (VAPID application server key, or an ephemeral ECDH key).
class P256Key {
 public:
  /// A fresh random key.
  static P256Key generate();
  /// From the 32-byte private scalar (raw, as web-push's base64url VAPID private key).
  static Result<P256Key> from_private(const ByteString& scalar);
  ~P256Key();
  P256Key(P256Key&&) noexcept;
  P256Key& operator=(P256Key&&) noexcept;
  P256Key(const P256Key&) = delete;
  P256Key& operator=(const P256Key&) = delete;

  /// The uncompressed public point (65 bytes, 0x04 || X || Y).
  ByteString public_point() const;
  /// The 32-byte private scalar.
  ByteString private_scalar() const;
  /// ECDH shared secret (the X coordinate) with an uncompressed peer point; error when the point
  /// is not on the curve.
  Result<ByteString> shared_secret(const ByteString& peer_point) const;
  /// ES256 signature of `data`: raw r || s (64 bytes), as JWS requires.
  ByteString sign_es256(std::string_view data) const;

 private:
  struct Impl;
  explicit P256Key(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/// The inputs an encryption draws at random; tests fix them to compare with known answers.
struct EceRandom {
  std::optional<ByteString> salt;   ///< 16 bytes
  const P256Key* sender = nullptr;  ///< the ephemeral application-server key
};

/// RFC 8291 + RFC 8188: `plaintext` encrypted for a subscription (its p256dh public point and
/// 16-byte auth secret) as one aes128gcm record with its header (salt, record size, key id =
/// the sender's public point). `pad_to` pads the plaintext up to that size (hides its length).
/// 400 invalid_subscription when the keys are malformed; 413 when the record would exceed 4096.
Result<std::string> encrypt_aes128gcm(std::string_view plaintext, const ByteString& ua_public,
                                      const ByteString& auth_secret, std::size_t pad_to = 0,
                                      const EceRandom& random = {});

/// A compact JWS signed ES256 over the JSON `claims` (header {"typ":"JWT","alg":"ES256"}).
std::string es256_jwt(std::string_view claims_json, const P256Key& key);

/// An RSA private key from PEM (an FCM service account's private_key).
class RsaKey {
 public:
  /// 400 invalid_service_account when the PEM is not an RSA private key.
  static Result<RsaKey> from_pem(std::string_view pem);
  ~RsaKey();
  RsaKey(RsaKey&&) noexcept;
  RsaKey& operator=(RsaKey&&) noexcept;
  RsaKey(const RsaKey&) = delete;
  RsaKey& operator=(const RsaKey&) = delete;
  /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`.
  ByteString sign_rs256(std::string_view data) const;

 private:
  struct Impl;
  explicit RsaKey(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> m_impl;
};

/// A compact JWS signed RS256 over the JSON `claims` (header {"alg":"RS256","typ":"JWT","kid"?}).
std::string rs256_jwt(std::string_view claims_json, const RsaKey& key, std::string_view key_id = {});

}  // namespace gh::notify
