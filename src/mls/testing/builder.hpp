#pragma once
// Test support: encodes the MLS structures that mls/codec.hpp decodes and signs key packages with
// libsodium, so tests (and fuzz seeds) build valid and deliberately broken inputs field by field.
// Not part of gh_mls; include it from tests only.
#include <sodium.h>

#include <array>
#include <string>
#include <string_view>

#include "mls/codec.hpp"
#include "mls/key_package.hpp"

namespace gh::mls::testing {

/// A growing TLS encoding.
struct Writer {
  Bytes out;
  Writer& u8(std::uint8_t v) {
    out.push_back(v);
    return *this;
  }
  Writer& u16(std::uint16_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xffu));
    return *this;
  }
  Writer& u32(std::uint32_t v) {
    u16(static_cast<std::uint16_t>(v >> 16));
    return u16(static_cast<std::uint16_t>(v & 0xffffu));
  }
  Writer& u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v >> 32));
    return u32(static_cast<std::uint32_t>(v & 0xffffffffu));
  }
  Writer& raw(ByteView b) {
    out.insert(out.end(), b.begin(), b.end());
    return *this;
  }
  Writer& opaque(ByteView b) {
    raw(encode_varint(static_cast<std::uint32_t>(b.size())));
    return raw(b);
  }
  Writer& opaque(std::string_view s) {
    return opaque(ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  }
  Writer& u16_list(const std::vector<std::uint16_t>& values) {
    Writer inner;
    for (auto v : values) inner.u16(v);
    return opaque(inner.out);
  }
};

/// An Ed25519 signing key.
struct SigningKey {
  std::array<std::uint8_t, crypto_sign_PUBLICKEYBYTES> pk{};
  std::array<std::uint8_t, crypto_sign_SECRETKEYBYTES> sk{};
  SigningKey() {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
    crypto_sign_keypair(pk.data(), sk.data());
  }
  ByteView public_key() const { return ByteView(pk.data(), pk.size()); }
  Bytes sign_with_label(std::string_view label, ByteView content) const {
    const auto message = sign_content(label, content);
    Bytes sig(crypto_sign_BYTES);
    crypto_sign_detached(sig.data(), nullptr, message.data(), message.size(), sk.data());
    return sig;
  }
};

/// Every field of a key package, defaulting to a valid one for `identity`.
struct KeyPackageFields {
  std::uint16_t version = protocol_mls10;
  std::uint16_t suite = suite_x25519_aes128gcm_ed25519;
  Bytes init_key = Bytes(32, 0x11);
  Bytes encryption_key = Bytes(32, 0x22);
  std::uint16_t credential_type = credential_basic;
  std::string identity;
  Capabilities capabilities{
      {protocol_mls10}, {suite_x25519_aes128gcm_ed25519, suite_xwing_aes256gcm_ed25519}, {}, {}, {credential_basic}};
  std::uint8_t leaf_source = 1;
  Lifetime lifetime{0, ~std::uint64_t{0}};
  std::vector<Extension> extensions;
  bool corrupt_leaf_signature = false;
  bool corrupt_signature = false;
};

inline void write_extensions(Writer& w, const std::vector<Extension>& extensions) {
  Writer inner;
  for (const auto& e : extensions) inner.u16(e.type).opaque(e.data);
  w.opaque(inner.out);
}

/// An MLSMessage carrying the key package described by `f`, signed by `key` (and the leaf's
/// signature key is `key`'s public half).
inline Bytes key_package_message(const KeyPackageFields& f, const SigningKey& key) {
  Writer leaf;
  leaf.opaque(f.encryption_key).opaque(key.public_key());
  leaf.u16(f.credential_type);
  if (f.credential_type == credential_basic) leaf.opaque(f.identity);
  if (f.credential_type == credential_x509) leaf.opaque(Writer{}.opaque(f.identity).out);
  leaf.u16_list(f.capabilities.versions)
      .u16_list(f.capabilities.cipher_suites)
      .u16_list(f.capabilities.extensions)
      .u16_list(f.capabilities.proposals)
      .u16_list(f.capabilities.credentials);
  leaf.u8(f.leaf_source);
  if (f.leaf_source == 1) leaf.u64(f.lifetime.not_before).u64(f.lifetime.not_after);
  write_extensions(leaf, f.extensions);
  auto leaf_sig = key.sign_with_label("LeafNodeTBS", leaf.out);
  if (f.corrupt_leaf_signature) leaf_sig[5] ^= 0x01;
  leaf.opaque(leaf_sig);

  Writer tbs;
  tbs.u16(f.version).u16(f.suite).opaque(f.init_key).raw(leaf.out);
  write_extensions(tbs, {});
  auto sig = key.sign_with_label("KeyPackageTBS", tbs.out);
  if (f.corrupt_signature) sig[7] ^= 0x80;
  Writer msg;
  msg.u16(protocol_mls10).u16(static_cast<std::uint16_t>(WireFormat::key_package)).raw(tbs.out).opaque(sig);
  return msg.out;
}

/// A PrivateMessage in its MLSMessage envelope.
inline Bytes private_message(ByteView group_id, std::uint64_t epoch, ContentType type,
                             std::size_t ciphertext_bytes = 40) {
  Writer w;
  w.u16(protocol_mls10).u16(static_cast<std::uint16_t>(WireFormat::private_message));
  w.opaque(group_id).u64(epoch).u8(static_cast<std::uint8_t>(type));
  w.opaque(Bytes{}).opaque(Bytes(16, 0xaa)).opaque(Bytes(ciphertext_bytes, 0xbb));
  return w.out;
}

/// The start of a PublicMessage (a member sender) in its MLSMessage envelope, with some body.
inline Bytes public_message(ByteView group_id, std::uint64_t epoch, ContentType type, std::uint32_t leaf = 0) {
  Writer w;
  w.u16(protocol_mls10).u16(static_cast<std::uint16_t>(WireFormat::public_message));
  w.opaque(group_id).u64(epoch).u8(static_cast<std::uint8_t>(SenderType::member)).u32(leaf);
  w.opaque(Bytes{}).u8(static_cast<std::uint8_t>(type));
  w.raw(Bytes(48, 0xcc));  // the content and auth data the delivery service does not read
  return w.out;
}

/// A Welcome for `refs` in its MLSMessage envelope.
inline Bytes welcome_message(std::uint16_t suite, const std::vector<Bytes>& refs) {
  Writer secrets;
  for (const auto& r : refs) secrets.opaque(r).opaque(Bytes(32, 0x01)).opaque(Bytes(48, 0x02));
  Writer w;
  w.u16(protocol_mls10).u16(static_cast<std::uint16_t>(WireFormat::welcome)).u16(suite);
  w.opaque(secrets.out).opaque(Bytes(64, 0x03));
  return w.out;
}

}  // namespace gh::mls::testing
