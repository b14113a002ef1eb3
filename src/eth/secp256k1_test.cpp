#include "eth/secp256k1.hpp"

#include <gtest/gtest.h>

#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"
#include "eth/testing/vectors.hpp"
#include "eth/u256.hpp"

namespace gh::eth {
namespace {

constexpr std::string_view k_order_hex = "0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

struct KnownKey {
  std::string_view secret;
  std::string_view address;
};

// Widely published key/address pairs (key 1; the web3.js documentation account).
constexpr KnownKey k_known_keys[] = {
    {"0x0000000000000000000000000000000000000000000000000000000000000001",
     "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"},
    {"0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318",
     "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23"},
};

PrivateKey key_of(std::string_view hex) {
  auto key = PrivateKey::from_hex(hex);
  if (!key) throw std::runtime_error("bad test key");
  return *key;
}

TEST(Secp256k1, KnownKeysGiveKnownAddresses) {
  for (const auto& k : k_known_keys) {
    EXPECT_EQ(to_checksum(key_of(k.secret).address()), k.address);
  }
}

TEST(Secp256k1, RejectsInvalidPrivateKeys) {
  EXPECT_EQ(PrivateKey::from_hex("0x" + std::string(64, '0')).error(), Secp256k1Errc::private_key_invalid);
  EXPECT_EQ(PrivateKey::from_hex(k_order_hex).error(), Secp256k1Errc::private_key_invalid);
  EXPECT_EQ(PrivateKey::from_hex("0x" + std::string(64, 'f')).error(), Secp256k1Errc::private_key_invalid);
  EXPECT_EQ(PrivateKey::from_hex("0x01").error(), Secp256k1Errc::private_key_wrong_length);
  EXPECT_EQ(PrivateKey::from_bytes(Bytes(33, 1)).error(), Secp256k1Errc::private_key_wrong_length);
  EXPECT_EQ(PrivateKey::from_hex("0xzz").error(), Secp256k1Errc::private_key_not_hex);
  // n - 1 is the largest valid key.
  EXPECT_TRUE(PrivateKey::from_hex("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364140"));
}

TEST(Secp256k1, ErrorCodesHaveStableNames) {
  // The codes are what callers map to API errors and logs: their names must not drift, and none
  // can carry the key it refused.
  const std::pair<Secp256k1Errc, const char*> names[] = {
      {Secp256k1Errc::private_key_wrong_length, "private_key_wrong_length"},
      {Secp256k1Errc::private_key_not_hex, "private_key_not_hex"},
      {Secp256k1Errc::private_key_invalid, "private_key_invalid"},
      {Secp256k1Errc::signature_wrong_length, "signature_wrong_length"},
      {Secp256k1Errc::signature_bad_v, "signature_bad_v"},
      {Secp256k1Errc::signature_invalid, "signature_invalid"},
  };
  for (const auto& [code, name] : names) EXPECT_STREQ(to_string(code), name);
  EXPECT_EQ(PrivateKey::from_hex("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364142").error(),
            Secp256k1Errc::private_key_invalid);
}

TEST(Secp256k1, SignsDeterministicallyAndRecovers) {
  const PrivateKey key = key_of(k_known_keys[1].secret);
  const Hash32 hash = keccak256("gatehouse");
  const Signature a = sign_hash(key, hash);
  const Signature b = sign_hash(key, hash);
  EXPECT_EQ(a, b);
  EXPECT_EQ(ecrecover(hash, a), key.address());
  EXPECT_EQ(recover_public_key(hash, a), key.public_key());
  EXPECT_NE(ecrecover(keccak256("other"), a), key.address());
}

TEST(Secp256k1, RecoveryRejectsHighSAndOutOfRangeValues) {
  const PrivateKey key = key_of(k_known_keys[0].secret);
  const Hash32 hash = keccak256("malleability");
  const Signature sig = sign_hash(key, hash);
  const U256 order = *U256::from_hex(k_order_hex);

  // (r, n - s, !parity) is the same point equation: valid ECDSA, but the high-s twin we refuse.
  Signature twin = sig;
  twin.s = order.wrapping_sub(*U256::from_be_bytes(sig.s.view())).to_be_bytes();
  twin.y_parity = static_cast<std::uint8_t>(1 - sig.y_parity);
  EXPECT_EQ(ecrecover(hash, twin), std::nullopt);

  Signature zero_r = sig;
  zero_r.r = FixedBytes<32>{};
  EXPECT_EQ(ecrecover(hash, zero_r), std::nullopt);
  Signature zero_s = sig;
  zero_s.s = FixedBytes<32>{};
  EXPECT_EQ(ecrecover(hash, zero_s), std::nullopt);
  Signature r_at_order = sig;
  r_at_order.r = order.to_be_bytes();
  EXPECT_EQ(ecrecover(hash, r_at_order), std::nullopt);
  Signature bad_parity = sig;
  bad_parity.y_parity = 2;
  EXPECT_EQ(ecrecover(hash, bad_parity), std::nullopt);
}

TEST(Secp256k1, ParsesAndSerializesSignatures) {
  const Signature sig = sign_hash(key_of(k_known_keys[1].secret), keccak256("x"));
  const FixedBytes<65> wire = serialize_signature(sig);
  EXPECT_EQ(wire.bytes[64], 27 + sig.y_parity);
  auto parsed = parse_signature(wire.view());
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, sig);

  FixedBytes<65> zero_one = wire;
  zero_one.bytes[64] = sig.y_parity;
  EXPECT_EQ(*parse_signature(zero_one.view()), sig);

  for (const int v : {2, 26, 29, 35, 255}) {
    FixedBytes<65> bad = wire;
    bad.bytes[64] = static_cast<std::uint8_t>(v);
    auto r = parse_signature(bad.view());
    ASSERT_FALSE(r) << v;
    EXPECT_EQ(r.error(), Secp256k1Errc::signature_bad_v);
  }
  EXPECT_EQ(parse_signature(wire.view().first(64)).error(), Secp256k1Errc::signature_wrong_length);
  EXPECT_EQ(parse_signature(Bytes(66, 0)).error(), Secp256k1Errc::signature_wrong_length);
}

// Signing a hash must reproduce ethers' and noble's RFC 6979 signatures byte for byte.
TEST(Secp256k1, MatchesEthersAndNobleSignatures) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("eip191", seed));
  const auto vectors = testing::run_vectors("eip191", 1000, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_EQ(cases.size(), 1000u);
  for (const auto& c : cases) {
    const PrivateKey key = key_of(testing::field(c, "key"));
    auto hash = fixed_from_hex<32>(testing::field(c, "hash"));
    ASSERT_TRUE(hash);
    const Signature sig = sign_hash(key, *hash);
    ASSERT_EQ(to_hex(serialize_signature(sig).view()), testing::field(c, "signature"));
    ASSERT_EQ(to_checksum(key.address()), testing::field(c, "address"));
    ASSERT_EQ(ecrecover(*hash, sig), key.address());
  }
}

}  // namespace
}  // namespace gh::eth
