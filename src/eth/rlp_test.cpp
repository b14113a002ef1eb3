#include "eth/rlp.hpp"

#include <gtest/gtest.h>

#include <random>

#include "eth/hex.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth::rlp {
namespace {

Bytes unhex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes) throw std::runtime_error("bad test hex");
  return *bytes;
}

Item str(std::string_view text) {
  return Item::string(as_bytes(text));
}

struct RlpAnswer {
  const char* name;
  std::string_view encoded;
};

// The examples of the Ethereum RLP specification (ethereum.org "Recursive-length prefix").
TEST(Rlp, SpecificationExamples) {
  const std::pair<Item, std::string_view> examples[] = {
      {str("dog"), "0x83646f67"},
      {Item::list({str("cat"), str("dog")}), "0xc88363617483646f67"},
      {str(""), "0x80"},
      {Item::list({}), "0xc0"},
      {Item::string(Bytes{0x00}), "0x00"},
      {Item::string(Bytes{0x0f}), "0x0f"},
      {Item::string(Bytes{0x04, 0x00}), "0x820400"},
      {Item::list(
           {Item::list({}), Item::list({Item::list({})}), Item::list({Item::list({}), Item::list({Item::list({})})})}),
       "0xc7c0c1c0c3c0c1c0"},
      {str("Lorem ipsum dolor sit amet, consectetur adipisicing elit"),
       "0xb8384c6f72656d20697073756d20646f6c6f722073697420616d65742c20636f6e7365637465747572206164697069736963696e67206"
       "56c6974"},
  };
  for (const auto& [item, encoded] : examples) {
    EXPECT_EQ(to_hex(encode(item)), encoded);
    auto decoded = decode(unhex(encoded));
    ASSERT_TRUE(decoded) << encoded << ": " << to_string(decoded.error());
    EXPECT_EQ(*decoded, item) << encoded;
  }
}

TEST(Rlp, IntegersAreMinimalBigEndian) {
  EXPECT_EQ(to_hex(encode_uint(U256{0})), "0x80");
  EXPECT_EQ(to_hex(encode_uint(U256{15})), "0x0f");
  EXPECT_EQ(to_hex(encode_uint(U256{127})), "0x7f");
  EXPECT_EQ(to_hex(encode_uint(U256{128})), "0x8180");
  EXPECT_EQ(to_hex(encode_uint(U256{1024})), "0x820400");
  EXPECT_EQ(to_hex(encode_uint(U256::max())), "0xa0" + std::string(64, 'f'));

  EXPECT_EQ(*to_uint(*decode(unhex("0x820400"))), U256{1024});
  EXPECT_EQ(*to_uint(*decode(unhex("0x80"))), U256{0});
  EXPECT_EQ(to_uint(*decode(unhex("0x00"))).error(), RlpErrc::uint_leading_zero);
  EXPECT_EQ(to_uint(*decode(unhex("0x820004"))).error(), RlpErrc::uint_leading_zero);
  EXPECT_EQ(to_uint(Item::string(Bytes(33, 1))).error(), RlpErrc::uint_overflow);
  EXPECT_EQ(to_uint(Item::list({})).error(), RlpErrc::not_string);
}

TEST(Rlp, RejectsNonCanonicalAndMalformedInput) {
  const std::pair<std::string_view, RlpErrc> cases[] = {
      {"0x", RlpErrc::empty},
      {"0x8100", RlpErrc::non_canonical_byte},
      {"0x817f", RlpErrc::non_canonical_byte},
      {"0xb80161", RlpErrc::non_canonical_length},
      {"0xf80180", RlpErrc::non_canonical_length},
      {"0xf800", RlpErrc::non_canonical_length},
      {"0xb90038", RlpErrc::non_canonical_length},
      {"0x83646f", RlpErrc::truncated},
      {"0xb9", RlpErrc::truncated},
      {"0xc3646f6700", RlpErrc::trailing_bytes},
      {"0x8000", RlpErrc::trailing_bytes},
      {"0xc283010203", RlpErrc::truncated},
      {"0xc28301", RlpErrc::truncated},
      {"0xbfffffffffffffffff", RlpErrc::truncated},
  };
  for (const auto& [input, code] : cases) {
    auto r = decode(unhex(input));
    ASSERT_FALSE(r) << input;
    EXPECT_EQ(r.error(), code) << input << ": " << to_string(r.error());
  }
}

TEST(Rlp, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(RlpErrc::empty), "rlp_empty");
  EXPECT_STREQ(to_string(RlpErrc::truncated), "rlp_truncated");
  EXPECT_STREQ(to_string(RlpErrc::trailing_bytes), "rlp_trailing_bytes");
  EXPECT_STREQ(to_string(RlpErrc::non_canonical_byte), "rlp_non_canonical_byte");
  EXPECT_STREQ(to_string(RlpErrc::non_canonical_length), "rlp_non_canonical_length");
  EXPECT_STREQ(to_string(RlpErrc::too_deep), "rlp_too_deep");
  EXPECT_STREQ(to_string(RlpErrc::not_string), "rlp_not_string");
  EXPECT_STREQ(to_string(RlpErrc::uint_leading_zero), "rlp_uint_leading_zero");
  EXPECT_STREQ(to_string(RlpErrc::uint_overflow), "rlp_uint_overflow");
}

TEST(Rlp, LimitsNestingDepth) {
  Bytes nested{0xc0};
  for (int depth = 1; depth < 64; ++depth) nested = encode_list_payload(nested);
  EXPECT_TRUE(decode(nested));  // 64 levels: at the limit
  nested = encode_list_payload(nested);
  auto too_deep = decode(nested);
  ASSERT_FALSE(too_deep);
  EXPECT_EQ(too_deep.error(), RlpErrc::too_deep);
  EXPECT_TRUE(decode(nested, DecodeLimits{.max_depth = 65}));
}

TEST(Rlp, EncodeListOfEncodedElements) {
  const std::vector<Bytes> elements{encode_string(as_bytes("cat")), encode_string(as_bytes("dog"))};
  EXPECT_EQ(to_hex(encode_list(elements)), "0xc88363617483646f67");
}

// Canonical RLP is a bijection: whatever decodes must re-encode to exactly the input. Random and
// mutated inputs probe this (and, under ASan, memory safety) without any reference.
TEST(Rlp, AcceptedInputsReencodeExactly) {
  const std::uint64_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const Bytes base = encode(Item::list(
      {str("cat"), Item::list({str(""), Item::string(Bytes{0x7f})}), Item::string(Bytes(60, 0xaa)), str("dog")}));
  std::size_t accepted = 0;
  for (int i = 0; i < 50000; ++i) {
    Bytes input;
    if (i % 2 == 0) {
      input.resize(rng() % 12);
      for (auto& b : input) b = static_cast<std::uint8_t>(rng());
    } else {
      input = base;
      for (int m = 0; m < 1 + static_cast<int>(rng() % 3); ++m) {
        input[rng() % input.size()] = static_cast<std::uint8_t>(rng());
      }
      input.resize(input.size() - rng() % 3);
    }
    auto decoded = decode(input);
    if (decoded) {
      ++accepted;
      ASSERT_EQ(encode(*decoded), input) << to_hex(input);
    }
  }
  EXPECT_GT(accepted, 100u);
}

Item tree_of(const boost::json::value& v) {
  if (v.is_string()) {
    auto bytes = from_hex(v.as_string());
    if (!bytes) throw std::runtime_error("bad vector hex");
    return Item::string(*bytes);
  }
  std::vector<Item> items;
  for (const auto& child : v.as_array()) items.push_back(tree_of(child));
  return Item::list(std::move(items));
}

TEST(Rlp, MatchesEthersAndRejectsConstructedInvalidEncodings) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("rlp", seed));
  const auto vectors = testing::run_vectors("rlp", 1500, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_EQ(cases.size(), 1500u);
  std::size_t valid = 0;
  std::size_t invalid = 0;
  for (const auto& c : cases) {
    const Bytes encoded = testing::hex_field(c, "encoded");
    auto decoded = decode(encoded);
    if (c.at("valid").as_bool()) {
      const Item expected = tree_of(c.at("tree"));
      ASSERT_EQ(encode(expected), encoded);
      ASSERT_TRUE(decoded) << to_string(decoded.error());
      ASSERT_EQ(*decoded, expected);
      ++valid;
    } else {
      const std::string_view reason = testing::field(c, "reason");
      ASSERT_FALSE(decoded) << reason << " " << to_hex(encoded);
      ASSERT_EQ(decoded.error() == RlpErrc::too_deep, reason == "too_deep")
          << reason << " " << to_string(decoded.error());
      ++invalid;
    }
  }
  EXPECT_GE(valid, 1000u);
  EXPECT_GE(invalid, 400u);
}

}  // namespace
}  // namespace gh::eth::rlp
