#include "eth/u256.hpp"

#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <string>

#include <boost/multiprecision/cpp_int.hpp>

#include "eth/hex.hpp"

namespace gh::eth {
namespace {

__extension__ using Uint128 = unsigned __int128;

constexpr std::string_view k_max_dec = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

// Compile-time checks: the header's constexpr operations work in constant expressions.
static_assert(U256{}.is_zero());
static_assert(U256::max().bit_length() == 256);
static_assert(U256{1}.bit_length() == 1);
static_assert((U256{1} << 255).bit_length() == 256);
static_assert((U256{1} << 256).is_zero());
static_assert((U256::max() >> 255) == U256{1});
static_assert(U256::max().checked_add(U256{1}) == std::nullopt);
static_assert(U256{0}.checked_sub(U256{1}) == std::nullopt);
static_assert(U256{0}.wrapping_sub(U256{1}) == U256::max());
static_assert(U256{5}.wrapping_neg().wrapping_add(U256{5}).is_zero());
static_assert(~U256{} == U256::max());
static_assert(U256{3} < U256::from_limbs(0, 1, 0, 0));
static_assert((U256{0xff} & U256{0x0f}) == U256{0x0f});

U256 from_u128(Uint128 v) {
  return U256::from_limbs(static_cast<std::uint64_t>(v), static_cast<std::uint64_t>(v >> 64), 0, 0);
}

TEST(U256, DecimalRoundTripAndErrors) {
  EXPECT_EQ(U256{}.to_dec(), "0");
  EXPECT_EQ(U256{1234567890123456789ULL}.to_dec(), "1234567890123456789");
  EXPECT_EQ(U256::max().to_dec(), k_max_dec);
  auto max = U256::from_dec(k_max_dec);
  ASSERT_TRUE(max);
  EXPECT_EQ(*max, U256::max());
  auto ten19 = U256::from_dec("10000000000000000000");
  ASSERT_TRUE(ten19);
  EXPECT_EQ(ten19->to_dec(), "10000000000000000000");
  EXPECT_EQ(U256::from_dec("007")->to_dec(), "7");

  EXPECT_EQ(U256::from_dec("115792089237316195423570985008687907853269984665640564039457584007913129639936").error(),
            U256Errc::overflow);
  EXPECT_EQ(U256::from_dec("1000000000000000000000000000000000000000000000000000000000000000000000000000000").error(),
            U256Errc::overflow);
  for (const char* bad : {"", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x10"}) {
    auto r = U256::from_dec(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), U256Errc::invalid) << bad;
  }
}

// Decimal text of every length up to past 2^256, with and without leading zeros, parsed by
// Boost.Multiprecision as the reference: the same value, or overflow exactly when it is >= 2^256.
TEST(U256, DecimalParsingAgreesWithAnIndependentBigInteger) {
  using boost::multiprecision::cpp_int;
  const cpp_int limit = cpp_int(1) << 256;
  std::mt19937_64 rng(20261126);
  std::uniform_int_distribution<int> digit(0, 9);
  std::uniform_int_distribution<int> zeros(0, 3);
  const auto check = [&](const std::string& text) {
    // cpp_int reads a leading 0 as octal: it gets the digits without their leading zeros.
    const auto first = text.find_first_not_of('0');
    const cpp_int expected(first == std::string::npos ? std::string("0") : text.substr(first));
    const auto parsed = U256::from_dec(text);
    if (expected >= limit) {
      ASSERT_FALSE(parsed) << text;
      EXPECT_EQ(parsed.error(), U256Errc::overflow) << text;
      return;
    }
    ASSERT_TRUE(parsed) << text;
    std::ostringstream hex;
    hex << std::hex << expected;
    EXPECT_EQ(parsed->to_hex(), "0x" + hex.str()) << text;
  };
  for (std::size_t length = 1; length <= 80; ++length) {
    for (int round = 0; round < 40; ++round) {
      std::string text(static_cast<std::size_t>(round % 2 == 0 ? 0 : zeros(rng)), '0');
      for (std::size_t i = 0; i < length; ++i) text += static_cast<char>('0' + digit(rng));
      check(text);
    }
  }
  // Around 2^256 and around each power of 10^19, where the chunks meet.
  for (const char* text : {"115792089237316195423570985008687907853269984665640564039457584007913129639935",
                           "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                           "115792089237316195423570985008687907853269984665640564039457584007913129640000",
                           "9999999999999999999", "10000000000000000000", "99999999999999999999999999999999999999",
                           "100000000000000000000000000000000000000", "18446744073709551615", "18446744073709551616"}) {
    check(text);
  }
  check(std::string(200, '0') + "1");
}

TEST(U256, HexQuantities) {
  EXPECT_EQ(U256{}.to_hex(), "0x0");
  EXPECT_EQ(U256{0x1f}.to_hex(), "0x1f");
  EXPECT_EQ((U256{1} << 64).to_hex(), "0x10000000000000000");
  EXPECT_EQ(U256::max().to_hex(), "0x" + std::string(64, 'f'));
  EXPECT_EQ(*U256::from_hex("0x0"), U256{});
  EXPECT_EQ(*U256::from_hex("0X00ff"), U256{255});
  EXPECT_EQ(*U256::from_hex("0x" + std::string(64, 'f')), U256::max());
  EXPECT_EQ(*U256::from_hex("0x000" + std::string(64, 'f')), U256::max());
  EXPECT_EQ(U256::from_hex("0x1" + std::string(64, '0')).error(), U256Errc::overflow);
  for (const char* bad : {"", "0x", "ff", "0xg", "0x-1", "0x 1"}) {
    auto r = U256::from_hex(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error(), U256Errc::invalid) << bad;
  }
}

TEST(U256, BigEndianBytes) {
  const U256 v =
      U256::from_limbs(0x0807060504030201ULL, 0x100f0e0d0c0b0a09ULL, 0x1817161514131211ULL, 0x201f1e1d1c1b1a19ULL);
  const auto be = v.to_be_bytes();
  for (std::size_t i = 0; i < 32; ++i) EXPECT_EQ(be.bytes[i], 32 - i);
  EXPECT_EQ(*U256::from_be_bytes(be.view()), v);
  EXPECT_EQ(*U256::from_be_bytes(Bytes{}), U256{});
  EXPECT_EQ(*U256::from_be_bytes(Bytes{0x01, 0x00}), U256{256});
  EXPECT_EQ(U256::from_be_bytes(Bytes(33, 0)).error(), U256Errc::overflow);
}

TEST(U256, CheckedArithmeticBoundaries) {
  EXPECT_EQ(U256::max().checked_add(U256{1}), std::nullopt);
  EXPECT_EQ(U256::max().checked_add(U256{}), U256::max());
  EXPECT_EQ(U256{1}.checked_sub(U256{2}), std::nullopt);
  EXPECT_EQ(U256::max().checked_mul(U256{2}), std::nullopt);
  EXPECT_EQ((U256{1} << 128).checked_mul(U256{1} << 128), std::nullopt);
  EXPECT_EQ((U256{1} << 127).checked_mul(U256{1} << 128), U256{1} << 255);
  EXPECT_EQ(U256::max().wrapping_mul(U256::max()), U256{1});
  EXPECT_EQ(U256{7}.checked_div(U256{}), std::nullopt);
  EXPECT_EQ(U256{7}.checked_mod(U256{}), std::nullopt);
  EXPECT_EQ(U256::max().checked_div(U256::max()), U256{1});
  EXPECT_EQ(U256::max().checked_mod(U256{1} << 255), (U256{1} << 255).wrapping_sub(U256{1}));
  // 10^18 wei per ether: a common amount conversion.
  const U256 ether = *U256::from_dec("1000000000000000000");
  EXPECT_EQ(U256{12345}.checked_mul(ether)->to_dec(), "12345000000000000000000");
  EXPECT_EQ(U256::max().checked_div(ether)->to_dec(), "115792089237316195423570985008687907853269984665640564039457");
}

TEST(U256, ShiftsAcrossLimbs) {
  const U256 one{1};
  for (unsigned s = 0; s < 256; ++s) {
    const U256 v = one << s;
    EXPECT_EQ(v.bit_length(), s + 1) << s;
    EXPECT_EQ(v >> s, one) << s;
    EXPECT_EQ(v.limb(s / 64), 1ULL << (s % 64)) << s;
  }
  EXPECT_EQ(U256::max() >> 256, U256{});
  EXPECT_EQ(U256::max() << 300, U256{});
}

// Random operands below 2^64 (and products below 2^128) checked against the compiler's 128-bit
// arithmetic, an independent reference.
TEST(U256, RandomAgainstCompilerArithmetic) {
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < 20000; ++i) {
    const std::uint64_t a = rng() >> (rng() % 64);
    const std::uint64_t b = rng() >> (rng() % 64);
    const U256 ua{a};
    const U256 ub{b};
    EXPECT_EQ(*ua.checked_add(ub), from_u128(static_cast<Uint128>(a) + b));
    EXPECT_EQ(*ua.checked_mul(ub), from_u128(static_cast<Uint128>(a) * b));
    if (b != 0) {
      EXPECT_EQ(*ua.checked_div(ub), U256{a / b});
      EXPECT_EQ(*ua.checked_mod(ub), U256{a % b});
    }
    // A 128-bit dividend exercises the long division.
    const Uint128 wide = (static_cast<Uint128>(rng()) << 64) | rng();
    if (b != 0) {
      EXPECT_EQ(*from_u128(wide).checked_div(ub), from_u128(wide / b));
      EXPECT_EQ(*from_u128(wide).checked_mod(ub), from_u128(wide % b));
    }
    EXPECT_EQ(U256::from_dec(from_u128(wide).to_dec())->to_hex(), from_u128(wide).to_hex());
  }
}

// Algebraic identities on full-width random values.
TEST(U256, RandomIdentities) {
  std::mt19937_64 rng(std::random_device{}());
  for (int i = 0; i < 5000; ++i) {
    const U256 a = U256::from_limbs(rng(), rng(), rng(), rng()) >> static_cast<unsigned>(rng() % 256);
    const U256 b = U256::from_limbs(rng(), rng(), rng(), rng()) >> static_cast<unsigned>(rng() % 256);
    if (!b.is_zero()) {
      const U256 q = *a.checked_div(b);
      const U256 r = *a.checked_mod(b);
      EXPECT_LT(r, b);
      EXPECT_EQ(q.checked_mul(b)->checked_add(r), a);
    }
    EXPECT_EQ(a.wrapping_add(b).wrapping_sub(b), a);
    EXPECT_EQ(*U256::from_dec(a.to_dec()), a);
    EXPECT_EQ(*U256::from_hex(a.to_hex()), a);
    EXPECT_EQ(*U256::from_be_bytes(a.to_be_bytes().view()), a);
    EXPECT_EQ(a ^ a, U256{});
    EXPECT_EQ((a | b) & a, a);
  }
}

TEST(U256, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(U256Errc::invalid), "u256_invalid");
  EXPECT_STREQ(to_string(U256Errc::overflow), "u256_overflow");
}

}  // namespace
}  // namespace gh::eth
