#include "eth/eip191.hpp"

#include <gtest/gtest.h>

#include "eth/hex.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

struct Eip191Answer {
  std::string_view message;
  std::string_view hash;
};

// ethers' documented hashMessage examples.
constexpr Eip191Answer k_eip191_known[] = {
    {"Hello World", "0xa1de988600a42c4b4ab089b619297c17d53cffae5d5120d82d8a92d0bb3b78f2"},
};

TEST(Eip191, KnownAnswers) {
  for (const auto& k : k_eip191_known) {
    EXPECT_EQ(to_hex(personal_message_hash(as_bytes(k.message)).view()), k.hash);
  }
}

TEST(Eip191, RecoverRejectsMalformedSignatures) {
  auto key = PrivateKey::from_hex("0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
  ASSERT_TRUE(key);
  const auto message = as_bytes("sign in");
  const FixedBytes<65> wire = serialize_signature(sign_personal_message(*key, message));
  EXPECT_EQ(*recover_personal_signer(message, wire.view()), key->address());

  EXPECT_EQ(recover_personal_signer(message, wire.view().first(64)).error(), Secp256k1Errc::signature_wrong_length);
  FixedBytes<65> bad_v = wire;
  bad_v.bytes[64] = 30;
  EXPECT_EQ(recover_personal_signer(message, bad_v.view()).error(), Secp256k1Errc::signature_bad_v);
  FixedBytes<65> zero_r = wire;
  for (std::size_t i = 0; i < 32; ++i) zero_r.bytes[i] = 0;
  EXPECT_EQ(recover_personal_signer(message, zero_r.view()).error(), Secp256k1Errc::signature_invalid);
  // Another message recovers someone else, never an error: only the caller knows who to expect.
  auto other = recover_personal_signer(as_bytes("sign in!"), wire.view());
  ASSERT_TRUE(other);
  EXPECT_NE(*other, key->address());
}

TEST(Eip191, MatchesEthersPersonalSign) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("eip191", seed));
  const auto vectors = testing::run_vectors("eip191", 1000, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_EQ(cases.size(), 1000u);
  for (const auto& c : cases) {
    const Bytes message = testing::hex_field(c, "message");
    const Bytes signature = testing::hex_field(c, "signature");
    ASSERT_EQ(to_hex(personal_message_hash(message).view()), testing::field(c, "hash"));
    auto signer = recover_personal_signer(message, signature);
    ASSERT_TRUE(signer) << to_string(signer.error());
    ASSERT_EQ(to_checksum(*signer), testing::field(c, "address"));
    auto key = PrivateKey::from_hex(testing::field(c, "key"));
    ASSERT_TRUE(key);
    ASSERT_EQ(to_hex(serialize_signature(sign_personal_message(*key, message)).view()), testing::field(c, "signature"));
  }
}

}  // namespace
}  // namespace gh::eth
