#pragma once
// Test support: Ed25519 identity keys and signed prekeys made with libsodium, and SIWE messages
// for a given signer, so auth tests build valid (and deliberately broken) inputs.
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include "auth/model.hpp"
#include "auth/secrets.hpp"
#include "eth/siwe.hpp"

namespace gh::auth::testing {

/// An Ed25519 key pair whose public half is a device's identity key.
struct IdentityKey {
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> sk{};

  IdentityKey() {
    init_crypto();
    crypto_sign_keypair(pk.data(), sk.data());
  }
  std::string public_base64() const { return encode_base64(std::vector<std::uint8_t>(pk.begin(), pk.end())); }

  /// A signed prekey (a random 32-byte key) signed by this identity.
  SignedPrekey signed_prekey(std::int64_t id) const {
    std::vector<std::uint8_t> key(32);
    randombytes_buf(key.data(), key.size());
    std::vector<std::uint8_t> sig(crypto_sign_BYTES);
    crypto_sign_detached(sig.data(), nullptr, key.data(), key.size(), sk.data());
    return SignedPrekey{id, encode_base64(key), encode_base64(sig)};
  }
};

/// A random one-time prekey.
inline Prekey one_time_prekey(std::int64_t id) {
  std::vector<std::uint8_t> key(32);
  randombytes_buf(key.data(), key.size());
  return Prekey{id, encode_base64(key)};
}

/// A SIWE message's fields for `domain`, chain 31337, issued at `issued_at` (RFC 3339).
inline eth::SiweMessage siwe_fields(const eth::Address& address, std::string domain, std::string nonce,
                                    std::string issued_at) {
  eth::SiweMessage m;
  m.domain = domain;
  m.address = address;
  m.statement = "Sign in to gatehouse";
  m.uri = "https://" + domain + "/login";
  m.chain_id = 31337;
  m.nonce = std::move(nonce);
  m.issued_at = std::move(issued_at);
  return m;
}

}  // namespace gh::auth::testing
