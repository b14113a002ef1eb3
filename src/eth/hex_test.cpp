#include "eth/hex.hpp"

#include <gtest/gtest.h>

namespace gh::eth {
namespace {

TEST(Hex, EncodesLowercaseWithOptionalPrefix) {
  const Bytes data{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(data), "0x0001abff");
  EXPECT_EQ(to_hex(data, false), "0001abff");
  EXPECT_EQ(to_hex(Bytes{}), "0x");
  EXPECT_EQ(to_hex(Bytes{}, false), "");
}

TEST(Hex, DecodesBothCasesAndPrefixes) {
  for (const char* text : {"0x0001abff", "0X0001ABFF", "0001AbFf"}) {
    auto decoded = from_hex(text);
    ASSERT_TRUE(decoded) << text;
    EXPECT_EQ(*decoded, (Bytes{0x00, 0x01, 0xab, 0xff})) << text;
  }
  auto empty = from_hex("0x");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_TRUE(from_hex(""));
}

TEST(Hex, RejectsOddLength) {
  auto r = from_hex("0xabc");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), HexErrc::odd_length);
}

TEST(Hex, RejectsInvalidCharacter) {
  auto r = from_hex("0x00zz");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), HexErrc::invalid_char);
  auto second = from_hex("0a0g");
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error(), HexErrc::invalid_char);
  EXPECT_FALSE(from_hex("0x 0"));
  EXPECT_FALSE(from_hex("0x0x"));
  EXPECT_FALSE(from_hex("xx00"));
}

TEST(Hex, FixedLengthIsExact) {
  auto ok = fixed_from_hex<2>("0xbeef");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->bytes[0], 0xbe);
  EXPECT_EQ(ok->bytes[1], 0xef);
  auto short_input = fixed_from_hex<3>("0xbeef");
  ASSERT_FALSE(short_input);
  EXPECT_EQ(short_input.error(), HexErrc::wrong_length);
  auto long_input = fixed_from_hex<1>("0xbeef");
  ASSERT_FALSE(long_input);
  EXPECT_EQ(long_input.error(), HexErrc::wrong_length);
  EXPECT_EQ(fixed_from_hex<1>("0xzz").error(), HexErrc::invalid_char);
}

TEST(Hex, RoundTripsEveryByte) {
  Bytes all;
  for (unsigned i = 0; i < 256; ++i) all.push_back(static_cast<std::uint8_t>(i));
  auto back = from_hex(to_hex(all));
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, all);
}

TEST(FixedBytes, OrdersAsBigEndianNumbers) {
  FixedBytes<2> a{{0x01, 0xff}};
  FixedBytes<2> b{{0x02, 0x00}};
  EXPECT_LT(a, b);
  EXPECT_EQ(a, a);
  EXPECT_EQ(a.view().size(), 2u);
  EXPECT_EQ(as_bytes("ab").size(), 2u);
  EXPECT_EQ(as_bytes("ab")[0], 'a');
}

TEST(Hex, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(HexErrc::odd_length), "hex_odd_length");
  EXPECT_STREQ(to_string(HexErrc::invalid_char), "hex_invalid_char");
  EXPECT_STREQ(to_string(HexErrc::wrong_length), "hex_wrong_length");
}

}  // namespace
}  // namespace gh::eth
