#include "eth/secp256k1.hpp"

#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <algorithm>
#include <random>
#include <stdexcept>

#include "eth/hex.hpp"
#include "eth/keccak.hpp"

namespace gh::eth {
namespace {

// n/2 for secp256k1: signatures with s above it are the malleable twin of a low-s signature.
constexpr FixedBytes<32> k_half_order{{0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                       0xff, 0xff, 0xff, 0xff, 0xff, 0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4,
                                       0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0}};

// Overwrites secret bytes in a way the optimizer may not drop.
void wipe(std::uint8_t* data, std::size_t size) noexcept {
  volatile std::uint8_t* p = data;
  for (std::size_t i = 0; i < size; ++i) p[i] = 0;
}

// One context for the process. Created with SECP256K1_CONTEXT_NONE (all a 0.2 context needs) and
// randomized once as side-channel hardening for signing; afterwards it is only read, which
// libsecp256k1 allows from any number of threads.
class Context {
 public:
  Context() : m_ctx(secp256k1_context_create(SECP256K1_CONTEXT_NONE)) {
    if (m_ctx == nullptr) throw std::runtime_error("secp256k1_context_create failed");
    std::array<std::uint8_t, 32> seed{};
    std::random_device device;
    for (auto& b : seed) b = static_cast<std::uint8_t>(device());
    if (secp256k1_context_randomize(m_ctx, seed.data()) != 1) {
      throw std::runtime_error("secp256k1_context_randomize failed");
    }
    wipe(seed.data(), seed.size());
  }
  ~Context() { secp256k1_context_destroy(m_ctx); }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  const secp256k1_context* get() const noexcept { return m_ctx; }

 private:
  secp256k1_context* m_ctx;
};

const secp256k1_context* context() {
  static const Context instance;
  return instance.get();
}

bool is_zero(const FixedBytes<32>& v) noexcept {
  return std::all_of(v.bytes.begin(), v.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

PublicKey serialize_public_key(const secp256k1_pubkey& key) {
  std::array<std::uint8_t, 65> uncompressed{};
  std::size_t size = uncompressed.size();
  secp256k1_ec_pubkey_serialize(context(), uncompressed.data(), &size, &key, SECP256K1_EC_UNCOMPRESSED);
  PublicKey out;
  std::copy(uncompressed.begin() + 1, uncompressed.end(), out.bytes.begin());  // drop the 0x04 tag
  return out;
}

}  // namespace

Address to_address(const PublicKey& key) noexcept {
  const Hash32 hash = keccak256(key.view());
  Address out;
  std::copy(hash.bytes.begin() + 12, hash.bytes.end(), out.bytes.begin());
  return out;
}

const char* to_string(Secp256k1Errc code) noexcept {
  switch (code) {
    case Secp256k1Errc::private_key_wrong_length:
      return "private_key_wrong_length";
    case Secp256k1Errc::private_key_not_hex:
      return "private_key_not_hex";
    case Secp256k1Errc::private_key_invalid:
      return "private_key_invalid";
    case Secp256k1Errc::signature_wrong_length:
      return "signature_wrong_length";
    case Secp256k1Errc::signature_bad_v:
      return "signature_bad_v";
    case Secp256k1Errc::signature_invalid:
      return "signature_invalid";
  }
  return "secp256k1_unknown";
}

Expected<PrivateKey, Secp256k1Errc> PrivateKey::from_bytes(ByteView secret) {
  if (secret.size() != 32) return Secp256k1Errc::private_key_wrong_length;
  PrivateKey key;
  std::copy(secret.begin(), secret.end(), key.m_secret.begin());
  if (secp256k1_ec_seckey_verify(context(), key.m_secret.data()) != 1) {
    return Secp256k1Errc::private_key_invalid;
  }
  return key;
}

Expected<PrivateKey, Secp256k1Errc> PrivateKey::from_hex(std::string_view text) {
  auto decoded = eth::from_hex(text);
  if (!decoded) return Secp256k1Errc::private_key_not_hex;
  auto key = from_bytes(*decoded);
  wipe(decoded->data(), decoded->size());
  return key;
}

PrivateKey::~PrivateKey() {
  wipe(m_secret.data(), m_secret.size());
}

PublicKey PrivateKey::public_key() const {
  secp256k1_pubkey key;
  if (secp256k1_ec_pubkey_create(context(), &key, m_secret.data()) != 1) {
    throw std::runtime_error("secp256k1_ec_pubkey_create failed on a verified key");
  }
  return serialize_public_key(key);
}

Address PrivateKey::address() const {
  return to_address(public_key());
}

Signature sign_hash(const PrivateKey& key, const Hash32& hash) {
  secp256k1_ecdsa_recoverable_signature sig;
  // A null nonce function selects RFC 6979; libsecp256k1 always returns the low-s form.
  if (secp256k1_ecdsa_sign_recoverable(context(), &sig, hash.data(), key.m_secret.data(), nullptr, nullptr) != 1) {
    throw std::runtime_error("secp256k1_ecdsa_sign_recoverable failed");
  }
  std::array<std::uint8_t, 64> compact{};
  int recid = 0;
  secp256k1_ecdsa_recoverable_signature_serialize_compact(context(), compact.data(), &recid, &sig);
  // recid 2 or 3 means R.x >= n, which happens with probability ~2^-127 and which Ethereum's v
  // cannot express.
  if (recid < 0 || recid > 1) throw std::runtime_error("signature has an unrepresentable recovery id");
  Signature out;
  std::copy(compact.begin(), compact.begin() + 32, out.r.bytes.begin());
  std::copy(compact.begin() + 32, compact.end(), out.s.bytes.begin());
  out.y_parity = static_cast<std::uint8_t>(recid);
  return out;
}

std::optional<PublicKey> recover_public_key(const Hash32& hash, const Signature& signature) noexcept {
  if (signature.y_parity > 1) return std::nullopt;
  if (is_zero(signature.r) || is_zero(signature.s) || signature.s > k_half_order) return std::nullopt;
  try {
    std::array<std::uint8_t, 64> compact{};
    std::copy(signature.r.bytes.begin(), signature.r.bytes.end(), compact.begin());
    std::copy(signature.s.bytes.begin(), signature.s.bytes.end(), compact.begin() + 32);
    secp256k1_ecdsa_recoverable_signature sig;
    // parse_compact rejects r or s not below n.
    if (secp256k1_ecdsa_recoverable_signature_parse_compact(context(), &sig, compact.data(), signature.y_parity) != 1) {
      return std::nullopt;
    }
    secp256k1_pubkey key;
    if (secp256k1_ecdsa_recover(context(), &key, &sig, hash.data()) != 1) return std::nullopt;
    return serialize_public_key(key);
  } catch (...) {
    // Only context creation can throw; treat it as "does not recover" to keep the noexcept promise.
    return std::nullopt;
  }
}

std::optional<Address> ecrecover(const Hash32& hash, const Signature& signature) noexcept {
  const auto key = recover_public_key(hash, signature);
  if (!key) return std::nullopt;
  return to_address(*key);
}

Expected<Signature, Secp256k1Errc> parse_signature(ByteView bytes) {
  if (bytes.size() != 65) return Secp256k1Errc::signature_wrong_length;
  const std::uint8_t v = bytes[64];
  Signature out;
  if (v == 27 || v == 28) {
    out.y_parity = static_cast<std::uint8_t>(v - 27);
  } else if (v == 0 || v == 1) {
    out.y_parity = v;
  } else {
    return Secp256k1Errc::signature_bad_v;
  }
  std::copy(bytes.begin(), bytes.begin() + 32, out.r.bytes.begin());
  std::copy(bytes.begin() + 32, bytes.begin() + 64, out.s.bytes.begin());
  return out;
}

FixedBytes<65> serialize_signature(const Signature& signature) noexcept {
  FixedBytes<65> out;
  std::copy(signature.r.bytes.begin(), signature.r.bytes.end(), out.bytes.begin());
  std::copy(signature.s.bytes.begin(), signature.s.bytes.end(), out.bytes.begin() + 32);
  out.bytes[64] = static_cast<std::uint8_t>(27 + signature.y_parity);
  return out;
}

}  // namespace gh::eth
