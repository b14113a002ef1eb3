#include "mls/key_package.hpp"

#include <sodium.h>

#include <algorithm>
#include <cctype>

namespace gh::mls {
namespace {

bool contains(const std::vector<std::uint16_t>& list, std::uint16_t value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

bool identity_matches(const Bytes& identity, std::string_view expected) {
  if (identity.size() != expected.size()) return false;
  for (std::size_t i = 0; i < identity.size(); ++i) {
    const auto c = static_cast<char>(std::tolower(identity[i]));
    if (c != expected[i]) return false;
  }
  return true;
}

KeyPackageFailure fail(KeyPackageCheck check) {
  return KeyPackageFailure{check, std::nullopt};
}

}  // namespace

const char* to_string(KeyPackageCheck check) noexcept {
  switch (check) {
    case KeyPackageCheck::malformed:
      return "key_package_malformed";
    case KeyPackageCheck::version:
      return "key_package_version";
    case KeyPackageCheck::cipher_suite:
      return "key_package_cipher_suite";
    case KeyPackageCheck::credential:
      return "key_package_credential";
    case KeyPackageCheck::identity:
      return "key_package_identity";
    case KeyPackageCheck::signature_key:
      return "key_package_signature_key";
    case KeyPackageCheck::leaf_node_source:
      return "key_package_leaf_node_source";
    case KeyPackageCheck::capabilities:
      return "key_package_capabilities";
    case KeyPackageCheck::init_key:
      return "key_package_init_key";
    case KeyPackageCheck::leaf_node_signature:
      return "key_package_leaf_node_signature";
    case KeyPackageCheck::key_package_signature:
      return "key_package_signature";
    case KeyPackageCheck::lifetime:
      return "key_package_lifetime";
  }
  return "key_package_invalid";
}

const char* describe(KeyPackageCheck check) noexcept {
  switch (check) {
    case KeyPackageCheck::malformed:
      return "the key package is not a TLS-encoded MLSMessage carrying a KeyPackage";
    case KeyPackageCheck::version:
      return "the key package's protocol version must be mls10";
    case KeyPackageCheck::cipher_suite:
      return "the key package's cipher suite is not allowed on this server";
    case KeyPackageCheck::credential:
      return "the key package's leaf must carry a basic credential";
    case KeyPackageCheck::identity:
      return "the basic credential's identity must be the account's address";
    case KeyPackageCheck::signature_key:
      return "the leaf's signature key must be the device's identity_key";
    case KeyPackageCheck::leaf_node_source:
      return "the leaf node must have been made for a key package";
    case KeyPackageCheck::capabilities:
      return "the leaf's capabilities must list mls10, the package's cipher suite and the basic credential";
    case KeyPackageCheck::init_key:
      return "the init key must be present and differ from the leaf's encryption key";
    case KeyPackageCheck::leaf_node_signature:
      return "the leaf node's signature does not verify with the identity key";
    case KeyPackageCheck::key_package_signature:
      return "the key package's signature does not verify with the identity key";
    case KeyPackageCheck::lifetime:
      return "the key package's lifetime does not include the current time";
  }
  return "the key package is invalid";
}

bool is_ed25519_suite(std::uint16_t suite) noexcept {
  // 1 and 3: X25519 with AES-GCM or ChaCha20-Poly1305; 77..84: ML-KEM and X-Wing with Ed25519.
  return suite == 0x0001 || suite == 0x0003 || (suite >= 77 && suite <= 84);
}

Bytes sign_content(std::string_view label, ByteView content) {
  constexpr std::string_view prefix = "MLS 1.0 ";
  Bytes out;
  const auto label_size = static_cast<std::uint32_t>(prefix.size() + label.size());
  auto n = encode_varint(label_size);
  out.insert(out.end(), n.begin(), n.end());
  out.insert(out.end(), prefix.begin(), prefix.end());
  out.insert(out.end(), label.begin(), label.end());
  n = encode_varint(static_cast<std::uint32_t>(content.size()));
  out.insert(out.end(), n.begin(), n.end());
  out.insert(out.end(), content.begin(), content.end());
  return out;
}

bool verify_with_label_ed25519(ByteView public_key, std::string_view label, ByteView content, ByteView signature) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || signature.size() != crypto_sign_BYTES) return false;
  if (sodium_init() < 0) return false;
  const auto message = sign_content(label, content);
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), public_key.data()) == 0;
}

Expected<KeyPackage, KeyPackageFailure> check_key_package(ByteView message, const KeyPackageExpectation& expect,
                                                          const DecodeLimits& limits) {
  auto decoded = decode_key_package_message(message, limits);
  if (!decoded) return KeyPackageFailure{KeyPackageCheck::malformed, decoded.error()};
  const KeyPackage& kp = *decoded;
  const LeafNode& leaf = kp.leaf_node;
  if (kp.version != protocol_mls10) return fail(KeyPackageCheck::version);
  if (!contains(expect.allowed_suites, kp.cipher_suite) || !is_ed25519_suite(kp.cipher_suite)) {
    return fail(KeyPackageCheck::cipher_suite);
  }
  if (leaf.credential.type != credential_basic) return fail(KeyPackageCheck::credential);
  if (!identity_matches(leaf.credential.identity, expect.identity)) return fail(KeyPackageCheck::identity);
  if (expect.identity_key.size() != leaf.signature_key.size() ||
      !std::equal(leaf.signature_key.begin(), leaf.signature_key.end(), expect.identity_key.begin())) {
    return fail(KeyPackageCheck::signature_key);
  }
  if (leaf.source != LeafNodeSource::key_package || !leaf.lifetime) return fail(KeyPackageCheck::leaf_node_source);
  const auto& caps = leaf.capabilities;
  if (!contains(caps.versions, protocol_mls10) || !contains(caps.cipher_suites, kp.cipher_suite) ||
      !contains(caps.credentials, credential_basic)) {
    return fail(KeyPackageCheck::capabilities);
  }
  if (kp.init_key.empty() || kp.init_key == leaf.encryption_key) return fail(KeyPackageCheck::init_key);
  if (!verify_with_label_ed25519(leaf.signature_key, "LeafNodeTBS", leaf.tbs, leaf.signature)) {
    return fail(KeyPackageCheck::leaf_node_signature);
  }
  if (!verify_with_label_ed25519(leaf.signature_key, "KeyPackageTBS", kp.tbs, kp.signature)) {
    return fail(KeyPackageCheck::key_package_signature);
  }
  const auto& life = *leaf.lifetime;
  const auto now = expect.now_seconds;
  const auto skew = expect.clock_skew_seconds;
  // not_before may be up to `skew` ahead of us, not_after up to `skew` behind; no overflow either way.
  const bool started = life.not_before <= now || life.not_before - now <= skew;
  const bool ended = life.not_after < now && now - life.not_after > skew;
  if (!started || ended || life.not_before > life.not_after) return fail(KeyPackageCheck::lifetime);
  return std::move(decoded).value();
}

}  // namespace gh::mls
