// core/utf8 against glibc's iconv as the independent decoder, plus RFC 3629's edge cases.
#include "core/utf8.hpp"

#include <gtest/gtest.h>
#include <iconv.h>

#include <random>
#include <string>
#include <vector>

namespace gh {
namespace {

// glibc's UTF-8 decoder: the whole input converts to UTF-32 or it is not UTF-8.
bool iconv_accepts(const std::string& text) {
  iconv_t cd = iconv_open("UTF-32LE", "UTF-8");
  if (cd == reinterpret_cast<iconv_t>(-1)) throw std::runtime_error("iconv_open");
  std::string in = text;
  std::vector<char> out(text.size() * 4 + 8);
  char* inp = in.data();
  std::size_t inleft = in.size();
  char* outp = out.data();
  std::size_t outleft = out.size();
  const auto r = iconv(cd, &inp, &inleft, &outp, &outleft);
  iconv_close(cd);
  return r != static_cast<std::size_t>(-1) && inleft == 0;
}

TEST(Utf8, EdgeCasesOfRfc3629) {
  for (const char* ok : {"", "plain", "h\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\x9f\xbf", "\xee\x80\x80",
                         "\xf4\x8f\xbf\xbf", "\xef\xbf\xbd", "\x7f"}) {
    EXPECT_TRUE(valid_utf8(ok)) << ok;
  }
  for (const char* bad : {"\x80", "\xbf", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xe0\x9f\xbf", "\xf0\x80\x80\x80",
                          "\xf0\x8f\xbf\xbf", "\xed\xa0\x80", "\xed\xbf\xbf", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80",
                          "\xff", "\xfe", "\xe2\x82", "\xf0\x9f\x98", "a\xc3", "\xc3\x28"}) {
    EXPECT_FALSE(valid_utf8(bad)) << testing::PrintToString(std::string(bad));
  }
  EXPECT_EQ(decode_utf8("\xf0\x9f\x98\x80", 0).value, 0x1F600U);
  EXPECT_EQ(decode_utf8("\xf0\x9f\x98\x80", 0).length, 4U);
  EXPECT_EQ(decode_utf8("\xf0\x9f\x98", 0).length, 0U);
}

// Bytes drawn mostly from the lead and continuation ranges, so that random strings are often
// almost valid: the interesting cases.
std::string random_bytes(std::mt19937& rng, std::size_t max_len) {
  static const unsigned char alphabet[] = {'a',  0x00, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2,
                                           0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff};
  std::uniform_int_distribution<std::size_t> len(0, max_len);
  std::uniform_int_distribution<std::size_t> pick(0, sizeof(alphabet) - 1);
  std::string s(len(rng), '\0');
  for (auto& c : s) c = static_cast<char>(alphabet[pick(rng)]);
  return s;
}

TEST(Utf8, TextIsUtf8WithoutU0000) {
  EXPECT_TRUE(valid_text(""));
  EXPECT_TRUE(valid_text("caf\xc3\xa9 \x01\x7f"));
  EXPECT_FALSE(valid_text(std::string_view("a\0b", 3)));
  EXPECT_FALSE(valid_text(std::string_view("\0", 1)));
  EXPECT_FALSE(valid_text("\xff\xfe"));
  EXPECT_FALSE(valid_text("caf\xc3"));
}

TEST(Utf8, AgreesWithIconvOnRandomBytes) {
  std::mt19937 rng(20261126);
  std::size_t valid = 0;
  for (int i = 0; i < 200'000; ++i) {
    const auto s = random_bytes(rng, 6);
    const bool ours = valid_utf8(s);
    ASSERT_EQ(ours, iconv_accepts(s)) << testing::PrintToString(s);
    valid += ours ? 1 : 0;
  }
  // The draw reaches both answers often enough to mean something.
  EXPECT_GT(valid, 5'000U);
}

// Every scalar value encodes to the form the decoder reads back whole (and iconv agrees above).
TEST(Utf8, EveryScalarValueEncodesAndDecodesBack) {
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string out = "x";
    append_utf8(out, cp);
    const auto decoded = decode_utf8(out, 1);
    ASSERT_EQ(decoded.value, cp);
    ASSERT_EQ(decoded.length, out.size() - 1);
    ASSERT_EQ(decoded.length, cp < 0x80 ? 1U : cp < 0x800 ? 2U : cp < 0x10000 ? 3U : 4U);
  }
}

TEST(Utf8, APrefixNeverEndsInsideACodePoint) {
  const std::string text = "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z";  // 1 + 2 + 3 + 4 + 1 bytes
  const std::vector<std::string> expected = {"",
                                             "a",
                                             "a",
                                             "a\xc3\xa9",
                                             "a\xc3\xa9",
                                             "a\xc3\xa9",
                                             "a\xc3\xa9\xe2\x82\xac",
                                             "a\xc3\xa9\xe2\x82\xac",
                                             "a\xc3\xa9\xe2\x82\xac",
                                             "a\xc3\xa9\xe2\x82\xac",
                                             "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
                                             text,
                                             text};
  for (std::size_t max = 0; max < expected.size(); ++max) {
    EXPECT_EQ(std::string(utf8_prefix(text, max)), expected[max]) << max;
    EXPECT_TRUE(valid_utf8(utf8_prefix(text, max)));
  }
}

TEST(Utf8, UntrustedBytesBecomeValidTextWithinTheLimit) {
  EXPECT_EQ(to_valid_utf8("caf\xe9", 100), "caf\xef\xbf\xbd");
  EXPECT_EQ(to_valid_utf8("a\xed\xa0\x80z", 100), "a\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
  EXPECT_EQ(to_valid_utf8("h\xc3\xa9llo", 2), "h");
  EXPECT_EQ(to_valid_utf8("ok", 100), "ok");
  std::mt19937 rng(7);
  for (int i = 0; i < 50'000; ++i) {
    const auto s = random_bytes(rng, 12);
    const std::size_t max = static_cast<std::size_t>(i % 16);
    const auto out = to_valid_utf8(s, max);
    ASSERT_TRUE(valid_utf8(out)) << testing::PrintToString(s);
    ASSERT_LE(out.size(), max);
    if (valid_utf8(s)) {
      ASSERT_EQ(out, std::string(utf8_prefix(s, max)));
    }
  }
}

}  // namespace
}  // namespace gh
