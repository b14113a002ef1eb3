#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <random>
#include <string>
#include <vector>

#include "bus/bus.hpp"

namespace gh::bus {
namespace {

TEST(Topics, MatchExactlyOrByContext) {
  EXPECT_TRUE(topic_matches({"auth.signed_in"}, "auth.signed_in"));
  EXPECT_FALSE(topic_matches({"auth.signed_in"}, "auth.signed_out"));
  EXPECT_TRUE(topic_matches({"chain.*"}, "chain.transfer"));
  EXPECT_FALSE(topic_matches({"chain.*"}, "chainx.transfer"));
  EXPECT_FALSE(topic_matches({"chain.*"}, "community.member_joined"));
  EXPECT_FALSE(topic_matches({}, "a.b"));
}

// The payload check reads JSON without building a document; its verdict must be boost::json's.
TEST(Check, APayloadIsAcceptedExactlyWhenItParsesToAnObject) {
  auto reference = [](const std::string& text) {
    boost::system::error_code ec;
    auto v = boost::json::parse(text, ec);
    return !ec && v.is_object();
  };
  auto accepted = [](const std::string& text) { return check(NewEvent{"a.b", "k", text}).has_value(); };
  std::vector<std::string> cases{"{}",
                                 " {} ",
                                 "\t{\"a\":[1,2,{\"b\":null}]}\n",
                                 "[]",
                                 "1",
                                 "\"s\"",
                                 "null",
                                 "",
                                 "   ",
                                 "{} x",
                                 "{}{}",
                                 "{\"a\":1,}",
                                 "{\"a\" 1}",
                                 "{\"a\":\"\\u00e9\"}",
                                 "{\"a\":\"\xff\"}",
                                 "{/*c*/}",
                                 "{\"a\":1e999}",
                                 "{\"a\":-0.5e-3}",
                                 std::string(40, '{') + std::string(40, '}'),
                                 "{\"a\":" + std::string(31, '[') + std::string(31, ']') + "}",
                                 "{\"a\":" + std::string(40, '[') + std::string(40, ']') + "}"};
  for (const auto& c : cases) EXPECT_EQ(accepted(c), reference(c)) << c;
  // Random damage to valid payloads: every verdict agrees.
  const std::string seed = R"({"chain_id":31337,"contract":"0xAbC","ids":["1","2"],"ok":true,"n":null,"x":-1.5e3})";
  const std::string alphabet = "{}[]\":,.-+eE0123456789 tnrufalsx\\\x7f\xc3\xa9";
  std::mt19937 rng(42);
  for (int i = 0; i < 20000; ++i) {
    std::string text = seed;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      const auto at = rng() % (text.size() + 1);
      const char c = alphabet[rng() % alphabet.size()];
      switch (rng() % 3) {
        case 0:
          text.insert(text.begin() + static_cast<std::ptrdiff_t>(at), c);
          break;
        case 1:
          if (at < text.size()) text.erase(at, 1);
          break;
        default:
          if (at < text.size()) text[at] = c;
      }
    }
    ASSERT_EQ(accepted(text), reference(text)) << text;
  }
}

}  // namespace
}  // namespace gh::bus
