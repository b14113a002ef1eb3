// The terms of message search: words in lowercase by Unicode's classes, pairs of characters in
// scripts without spaces, and the limits of a query.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "messaging/search_text.hpp"

namespace gh::messaging {
namespace {

using Terms = std::vector<std::string>;

TEST(MessagingSearchText, WordsAreLowercaseRunsOfLettersAndDigits) {
  EXPECT_EQ(search_terms("Hello, hello WORLD! 42 times"), (Terms{"42", "hello", "times", "world"}));
  EXPECT_EQ(search_terms("gm @0xAbCdEf0123456789abcdef0123456789ABCDEF01 wagmi"),
            (Terms{"0xabcdef0123456789abcdef0123456789abcdef01", "gm", "wagmi"}));
  EXPECT_EQ(search_terms("vitalik.eth snake_case under-score"),
            (Terms{"case", "eth", "score", "snake", "under", "vitalik"}));
  EXPECT_EQ(search_terms(""), Terms{});
  EXPECT_EQ(search_terms(" ... \xF0\x9F\x9A\x80 \xE2\x80\x94 "), Terms{});  // rocket, em dash
}

TEST(MessagingSearchText, LettersOfOtherScriptsFoldTheirCase) {
  // Café, ÉCOLE, Москва, ΑΘΗΝΑ
  EXPECT_EQ(search_terms("Caf\xC3\xA9 \xC3\x89"
                         "COLE"),
            (Terms{"caf\xC3\xA9",
                   "\xC3\xA9"
                   "cole"}));
  EXPECT_EQ(search_terms("\xD0\x9C\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"),
            (Terms{"\xD0\xBC\xD0\xBE\xD1\x81\xD0\xBA\xD0\xB2\xD0\xB0"}));
  EXPECT_EQ(search_terms("\xCE\x91\xCE\x98\xCE\x97\xCE\x9D\xCE\x91"),
            (Terms{"\xCE\xB1\xCE\xB8\xCE\xB7\xCE\xBD\xCE\xB1"}));
  // A combining acute accent stays in its word: e + U+0301.
  EXPECT_EQ(search_terms("Cafe\xCC\x81!"), (Terms{"cafe\xCC\x81"}));
  // Arabic-Indic digits are digits.
  EXPECT_EQ(search_terms("\xD9\xA1\xD9\xA2"), (Terms{"\xD9\xA1\xD9\xA2"}));
}

TEST(MessagingSearchText, ScriptsWithoutSpacesAreReadAsPairs) {
  // 東京タワー: 東京 京タ タワ ワー
  EXPECT_EQ(search_terms("\xE6\x9D\xB1\xE4\xBA\xAC\xE3\x82\xBF\xE3\x83\xAF\xE3\x83\xBC"),
            (Terms{"\xE3\x82\xBF\xE3\x83\xAF", "\xE3\x83\xAF\xE3\x83\xBC", "\xE4\xBA\xAC\xE3\x82\xBF",
                   "\xE6\x9D\xB1\xE4\xBA\xAC"}));
  // A character alone is its own term; a Latin word beside it is a word.
  EXPECT_EQ(search_terms("abc\xE6\x9D\xB1 x"), (Terms{"abc", "x", "\xE6\x9D\xB1"}));
  // Hangul syllables: 안녕 (one pair).
  EXPECT_EQ(search_terms("\xEC\x95\x88\xEB\x85\x95"), (Terms{"\xEC\x95\x88\xEB\x85\x95"}));
}

TEST(MessagingSearchText, LongWordsAreCutOnACharacterBoundary) {
  const std::string long_word(100, 'a');
  EXPECT_EQ(search_terms(long_word), (Terms{std::string(max_term_bytes, 'a')}));
  // 63 ASCII letters then é (2 bytes): the cut may not split é.
  const std::string split = std::string(63, 'b') + "\xC3\xA9";
  EXPECT_EQ(search_terms(split), (Terms{std::string(63, 'b')}));
  // The query reads the same word the same way.
  ASSERT_TRUE(parse_search_query(long_word + "zzz"));
  EXPECT_EQ(*parse_search_query(long_word + "zzz"), search_terms(long_word));
}

TEST(MessagingSearchText, QueriesNeedOneToSixteenWords) {
  auto terms = parse_search_query("  Gas  fees gas ");
  ASSERT_TRUE(terms);
  EXPECT_EQ(*terms, (Terms{"fees", "gas"}));
  for (const std::string& bad :
       {std::string(), std::string(" !? "), std::string("\xFF"), std::string(max_query_bytes + 1, 'a')}) {
    auto r = parse_search_query(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_query");
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  }
  std::string sixteen;
  std::string seventeen;
  for (int i = 0; i < 17; ++i) {
    const auto word = "w" + std::to_string(i) + " ";
    if (i < 16) sixteen += word;
    seventeen += word;
  }
  EXPECT_TRUE(parse_search_query(sixteen));
  EXPECT_FALSE(parse_search_query(seventeen));
}

TEST(MessagingSearchText, FiltersAreTermsNoWordCanBe) {
  for (std::string_view text :
       {"see https://uniswap.org", "HTTP://x", "at www.example.com today", "(www.a)", "http://\xc3\xa9"}) {
    EXPECT_TRUE(holds_link(text)) << text;
  }
  for (std::string_view text : {"http://", "http:// x", "https:/x", "awww.b", "www.", "www. b", "ftp://x", "http"}) {
    EXPECT_FALSE(holds_link(text)) << text;
  }
  EXPECT_EQ(*has_term("link"), has_link_term);
  EXPECT_EQ(*has_term("poll"), has_poll_term);
  EXPECT_EQ(*has_term("forward"), has_forward_term);
  for (std::string_view bad : {"", "Link", "file", "link,poll"}) EXPECT_EQ(has_term(bad).error().code, "invalid_has");
  // No text reads as a filter's term: they hold a ':', which separates words.
  const auto term = mention_term("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  for (const auto& t : search_terms(term + " has:link has:poll has:forward")) {
    EXPECT_NE(t, term);
    EXPECT_NE(t, has_link_term);
    EXPECT_NE(t, has_poll_term);
    EXPECT_NE(t, has_forward_term);
  }
  EXPECT_LE(term.size(), max_term_bytes);
}

}  // namespace
}  // namespace gh::messaging
