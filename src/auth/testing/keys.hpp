#pragma once
// Test support: Ed25519 identity keys and the MLS key packages they sign (libsodium), and SIWE messages
// for a given signer, so auth tests build valid (and deliberately broken) inputs.
#include <sodium.h>

#include <array>
#include <string>
#include <vector>

#include "auth/model.hpp"
#include "auth/secrets.hpp"
#include "eth/address.hpp"
#include "eth/siwe.hpp"
#include "mls/testing/builder.hpp"

namespace gh::auth::testing {

/// An Ed25519 key pair whose public half is a device's identity key (its MLS signature key).
struct IdentityKey {
  mls::testing::SigningKey key;

  std::string public_base64() const { return encode_base64(std::vector<std::uint8_t>(key.pk.begin(), key.pk.end())); }

  /// A key package (base64 MLSMessage) of this device for `account`, signed by this key; `change`
  /// edits its fields first (to break one check). Each call gives a different package.
  template <class Change>
  std::string key_package(const eth::Address& account, Change change) const {
    mls::testing::KeyPackageFields f;
    f.identity = eth::to_checksum(account);
    f.init_key.resize(32);
    randombytes_buf(f.init_key.data(), f.init_key.size());
    change(f);
    return encode_base64(mls::testing::key_package_message(f, key));
  }
  std::string key_package(const eth::Address& account) const {
    return key_package(account, [](mls::testing::KeyPackageFields&) {});
  }
  /// `n` fresh key packages for `account`.
  std::vector<std::string> key_packages(const eth::Address& account, int n) const {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) out.push_back(key_package(account));
    return out;
  }
};

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
