#include "eth/address.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <unordered_set>

#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

// The examples from EIP-55 itself.
constexpr std::string_view k_eip55_examples[] = {
    "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
    "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26",
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
    "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
};

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

TEST(Address, Eip55Examples) {
  for (const std::string_view example : k_eip55_examples) {
    auto parsed = parse_address(example);
    ASSERT_TRUE(parsed) << example;
    EXPECT_EQ(to_checksum(*parsed), example);
    EXPECT_EQ(to_lower_hex(*parsed), lower(example));
  }
}

TEST(Address, SingleCaseTextIsAcceptedUnchecked) {
  auto from_lower = parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  auto from_upper = parse_address("0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED");
  ASSERT_TRUE(from_lower);
  ASSERT_TRUE(from_upper);
  EXPECT_EQ(*from_lower, *from_upper);
  EXPECT_EQ(to_checksum(*from_lower), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  // Only the lowercase prefix, as ethers and the EIP write it.
  EXPECT_EQ(parse_address("0X5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").error(), AddressErrc::missing_prefix);
}

TEST(Address, KeysUnorderedContainers) {
  std::unordered_set<Address> seen;
  for (const std::string_view example : k_eip55_examples) seen.insert(*parse_address(example));
  EXPECT_EQ(seen.size(), std::size(k_eip55_examples));
  EXPECT_TRUE(seen.contains(*parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed")));
}

TEST(Address, RejectsMalformedText) {
  EXPECT_EQ(parse_address("5aaeb6053f3e94c9b9a09f33669435e7ef1beaed").error(), AddressErrc::missing_prefix);
  EXPECT_EQ(parse_address("").error(), AddressErrc::missing_prefix);
  EXPECT_EQ(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea").error(), AddressErrc::wrong_length);
  EXPECT_EQ(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed00").error(), AddressErrc::wrong_length);
  EXPECT_EQ(parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg").error(), AddressErrc::invalid_char);
  EXPECT_EQ(parse_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").error(), AddressErrc::bad_checksum);
}

TEST(Address, MatchesEthersChecksums) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("eip55", seed));
  const auto vectors = testing::run_vectors("eip55", 1000, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_EQ(cases.size(), 1000u);
  std::size_t invalid_checked = 0;
  for (const auto& c : cases) {
    const std::string_view lower_text = testing::field(c, "lower");
    const std::string_view checksum = testing::field(c, "checksum");
    auto parsed = parse_address(lower_text);
    ASSERT_TRUE(parsed) << lower_text;
    ASSERT_EQ(to_checksum(*parsed), checksum);
    ASSERT_EQ(to_lower_hex(*parsed), lower_text);
    auto from_checksum = parse_address(checksum);
    ASSERT_TRUE(from_checksum) << checksum;
    ASSERT_EQ(*from_checksum, *parsed);
    if (!c.at("invalid").is_null()) {
      const std::string_view invalid = testing::field(c, "invalid");
      auto rejected = parse_address(invalid);
      ASSERT_FALSE(rejected) << invalid;
      ASSERT_EQ(rejected.error(), AddressErrc::bad_checksum) << invalid;
      ++invalid_checked;
    }
  }
  EXPECT_GT(invalid_checked, 900u);
}

TEST(Address, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(AddressErrc::missing_prefix), "address_missing_prefix");
  EXPECT_STREQ(to_string(AddressErrc::wrong_length), "address_wrong_length");
  EXPECT_STREQ(to_string(AddressErrc::invalid_char), "address_invalid_char");
  EXPECT_STREQ(to_string(AddressErrc::bad_checksum), "address_bad_checksum");
}

}  // namespace
}  // namespace gh::eth
