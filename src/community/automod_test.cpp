#include "community/automod.hpp"

#include "core/utf8.hpp"
#include "eth/testing/vectors.hpp"

#include <algorithm>
#include <random>

#include <gtest/gtest.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace gh::community {
namespace {

namespace json = boost::json;

AutomodRuleSpec rule(const std::string& text) {
  auto patch = parse_automod_patch(json::parse(text).as_object());
  EXPECT_TRUE(patch) << text;
  auto spec = new_automod_rule(*patch);
  EXPECT_TRUE(spec) << text << ": " << (spec ? "" : spec.error().message);
  return *spec;
}

std::string refusal(const std::string& text) {
  auto patch = parse_automod_patch(json::parse(text).as_object());
  if (!patch) return patch.error().code + ": " + patch.error().message;
  auto spec = new_automod_rule(*patch);
  if (!spec) return spec.error().code + ": " + spec.error().message;
  return "";
}

std::optional<std::string> check(const AutomodRuleSpec& spec, std::string_view message, std::size_t mentions = 0) {
  AutomodMatcher m(spec);
  return m.match(automod_text(message), mentions);
}

AutomodRuleSpec keywords(std::vector<std::string> words, std::vector<std::string> allow = {}) {
  json::array k;
  for (auto& w : words) k.emplace_back(w);
  json::array a;
  for (auto& w : allow) a.emplace_back(w);
  json::object body{{"name", "words"}, {"trigger", {{"type", "keyword"}, {"keywords", k}, {"allow", a}}}};
  return rule(json::serialize(body));
}

TEST(Automod, NormalizesCaseInvisibleCharactersAndSpaces) {
  EXPECT_EQ(normalize_automod_text("FrEe\t\n  MINT"), "free mint");
  EXPECT_EQ(normalize_automod_text("sc\u200Bam\u00AD\u2060\uFEFFmer"), "scammer");
  // Other scripts pass as they are.
  EXPECT_EQ(normalize_automod_text("Ünïcode"), "Ünïcode");
}

TEST(Automod, FoldSeesThroughLookAlikes) {
  const auto scam = fold_automod_text("scam");
  EXPECT_EQ(scam, "scarn");                                                             // the skeleton's `m` is `rn`
  EXPECT_EQ(fold_automod_text("ＦＲＥＥ ＭＩＮＴ"), fold_automod_text("free mint"));    // full width
  EXPECT_EQ(fold_automod_text("𝐅𝐫𝐞𝐞 𝓶𝓲𝓷𝓽"), fold_automod_text("free mint"));            // mathematical
  EXPECT_EQ(fold_automod_text("ⓕⓡⓔⓔ"), "free");                                         // circled
  EXPECT_EQ(fold_automod_text("fr\u00E9e m\u00EFnt"), fold_automod_text("free mint"));  // precomposed
  EXPECT_EQ(fold_automod_text("fre\u0301e\u0338"), "free");                             // marks
  EXPECT_EQ(fold_automod_text("F\u0338\u0322R\u0337E\u0335E\u0334"), "free");           // "zalgo"
  EXPECT_EQ(fold_automod_text("\u0455\u0441\u0430m"), scam);                            // Cyrillic ѕса
  EXPECT_EQ(fold_automod_text("\u0405\u0421\u0410\u041C"), scam);                       // Cyrillic ЅСАМ
  EXPECT_EQ(fold_automod_text("\u0391\u0399RDR\u039F\u03A1"), fold_automod_text("airdrop"));  // Greek ΑΙ Ο Ρ
  EXPECT_EQ(fold_automod_text("sc\uFE0Fa\U000E0041m\u3164"), scam);  // variation selector, tag, filler
  EXPECT_EQ(fold_automod_text("Stra\u00DFe"), "strasse");
  EXPECT_EQ(fold_automod_text("a\u00A0\u3000 \u2003b"), "a b");  // every space, one
  EXPECT_EQ(fold_automod_text("0x1F"), fold_automod_text("oxlf"));
  // Letters of other scripts that look like no Latin word stay themselves.
  EXPECT_NE(fold_automod_text("\u0441\u043A\u0430\u043C"), scam);  // Russian скам
  EXPECT_EQ(fold_automod_text("\u304C"), "\u304C");                // が keeps its mark
  EXPECT_EQ(fold_automod_text("\uFF71"), "\u30A2");                // half-width ｱ is ア
  // Not UTF-8: kept byte for byte.
  EXPECT_EQ(fold_automod_text(std::string("a\xFF\xC0"
                                          "b",
                                          4)),
            std::string("a\xFF\xC0"
                        "b",
                        4));
  EXPECT_FALSE(automod_fold_unicode_version().empty());
}

// Every code point: its fold folds to itself, and never grows past ten times its bytes.
TEST(Automod, FoldIsSettledForEveryCodePoint) {
  std::size_t changed = 0;
  for (std::uint32_t cp = 1; cp <= 0x10FFFF; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    std::string s;
    append_utf8(s, cp);
    const auto f = fold_automod_text(s);
    ASSERT_EQ(fold_automod_text(f), f) << "U+" << std::hex << cp;
    ASSERT_LE(f.size(), 10 * s.size()) << "U+" << std::hex << cp;
    if (f != s) ++changed;
  }
  EXPECT_GT(changed, std::size_t{10000});
}

// Against look-alikes from outside gatehouse (tests/vectors/families/automod_fold.mjs): node's own
// Unicode decompositions, the Cyrillic and Greek homoglyphs, invisible characters and marks. A
// disguised word folds as the word does and triggers it as a keyword; a near miss does neither.
TEST(Automod, FoldAgreesWithUnicodesDecompositionsAndHomoglyphs) {
  const std::string version(automod_fold_unicode_version());
  ::setenv("GATEHOUSE_FOLD_UNICODE", version.c_str(), 1);
  const auto seed = eth::testing::vector_seed();
  SCOPED_TRACE(eth::testing::replay_hint("automod_fold", seed));
  const auto doc = eth::testing::run_vectors("automod_fold", 400, seed);
  std::size_t misses = 0;
  for (const auto& c : doc.at("cases").as_array()) {
    const std::string word(c.at("word").as_string());
    const std::string variant(c.at("variant").as_string());
    SCOPED_TRACE(word + " as " + variant);
    EXPECT_EQ(automod_text(variant).folded, automod_text(word).folded);
    const auto spec = keywords({word});
    EXPECT_EQ(check(spec, "go " + variant + " now"), word);
    if (const auto* miss = c.at("miss").if_string()) {
      SCOPED_TRACE("near miss " + std::string(*miss));
      EXPECT_NE(automod_text(*miss).folded, automod_text(word).folded);
      EXPECT_FALSE(check(spec, "go " + std::string(*miss) + " now"));
      ++misses;
    }
  }
  EXPECT_GT(misses, std::size_t{300});
}

TEST(Automod, KeywordsMatchTheirLookAlikes) {
  const auto spec = keywords({"scam", "free mint", "*airdrop*"});
  EXPECT_EQ(check(spec, "a \u0405\u0421\u0410\u041C here"), "scam");
  EXPECT_EQ(check(spec, "𝐅𝐑𝐄𝐄 𝐌𝐈𝐍𝐓 now"), "free mint");
  EXPECT_EQ(check(spec, "ＦＲＥＥ\u3000ＭＩＮＴ"), "free mint");
  EXPECT_EQ(check(spec, "claim-your-\u0430ird\u0433op"), "*airdrop*");  // г looks like r
  EXPECT_FALSE(check(spec, "claim-your-\u0430ird\u0436op"));            // ж like no Latin letter
  EXPECT_EQ(check(spec, "claim-your-\u0430irdr\u03BFp"), "*airdrop*");
  EXPECT_EQ(check(spec, "s\u0336c\u0336a\u0336m\u0336"), "scam");
  EXPECT_FALSE(check(spec, "\u0441\u043A\u0430\u043C"));  // Russian скам
  EXPECT_FALSE(check(spec, "scamé"));
  // Allow entries are folded alike.
  const auto ass = keywords({"*ass*"}, {"class"});
  EXPECT_FALSE(check(ass, "first \u0441l\u0430ss"));
  // Keywords in other scripts match in either case.
  const auto russian = keywords({"\u0441\u043A\u0430\u043C"});
  EXPECT_EQ(check(russian, "\u0421\u041A\u0410\u041C!"), "\u0441\u043A\u0430\u043C");  // СКАМ
  EXPECT_EQ(check(russian, "\u0441\u043A\u0430\u043C!"), "\u0441\u043A\u0430\u043C");  // скам
  EXPECT_FALSE(check(russian, "scam"));
  // Lower-case Cyrillic with no Latin look-alike does not become Latin: вот is not bot.
  EXPECT_FALSE(check(keywords({"bot"}), "\u0432\u043E\u0442"));
  EXPECT_EQ(check(keywords({"bot"}), "\u0412\u041E\u0422"), "bot");  // ВОТ is BOT
}

TEST(Automod, RegularExpressions) {
  const auto spec = rule(R"j({"name":"r","trigger":{"type":"keyword","keywords":[],
      "regex":["claim.{0,20}(reward|airdrop)","\\b0x[0-9a-f]{40}\\b"],
      "allow":["0xdac17f958d2ee523a2206206994597c13d831ec7"]}})j");
  const std::string claim = "claim.{0,20}(reward|airdrop)";
  const std::string address = R"j(\b0x[0-9a-f]{40}\b)j";
  EXPECT_EQ(spec.trigger.regex, (std::vector<std::string>{claim, address}));
  EXPECT_EQ(check(spec, "CLAIM your AIRDROP now"), claim);                // case-insensitive
  EXPECT_FALSE(check(spec, "claim it, and in a week or so the reward"));  // too far apart
  EXPECT_EQ(check(spec, "send to 0x1f9840a85d5af5bf1d1762f925bdaddc4201f984"), address);
  // The allow list spares a match that falls in words it names; a later match still counts.
  EXPECT_FALSE(check(spec, "usdt is 0xdAC17F958D2ee523a2206206994597C13D831ec7"));
  EXPECT_EQ(check(spec, "0xdac17f958d2ee523a2206206994597c13d831ec7 or 0x1f9840a85d5af5bf1d1762f925bdaddc4201f984"),
            address);
  // Regular expressions read the text as written: a disguise is for keywords to see through.
  EXPECT_FALSE(check(spec, "\uff43\uff4c\uff41\uff49\uff4d airdrop"));
  // Keywords and expressions together: either triggers.
  const auto both = rule(R"j({"name":"r","trigger":{"type":"keyword","keywords":["scam"],"regex":["dm\\s+me"]}})j");
  EXPECT_EQ(check(both, "a scam"), "scam");
  EXPECT_EQ(check(both, "just DM   me"), R"j(dm\s+me)j");
  EXPECT_FALSE(check(both, "dms are open"));
  // An empty match counts for nothing: `\b` matches no text, `\bx?` only an x at a word's start.
  const auto empty = rule(R"j({"name":"r","trigger":{"type":"keyword","regex":["\\b","\\bx?"]}})j");
  EXPECT_FALSE(check(empty, "hello world \u00e9t\u00e9 box"));
  EXPECT_EQ(check(empty, "x marks the spot"), R"j(\bx?)j");
  // Rendered and read back.
  EXPECT_EQ(stored_automod_rule(json::serialize(render_automod_rule(spec)))->trigger.regex, spec.trigger.regex);
}

TEST(Automod, RegularExpressionsAreChecked) {
  const auto refused = [](const std::string& regex) {
    return refusal(R"j({"name":"x","trigger":{"type":"keyword","regex":[)j" + regex + "]}}");
  };
  EXPECT_NE(refused(R"j("(unclosed")j"), "");
  EXPECT_NE(refused(R"j("a*")j"), "");  // matches an empty text: every message
  EXPECT_NE(refused(R"j("x|")j"), "");
  EXPECT_NE(refused(R"j("(?=ahead)")j"), "");  // no look-around in linear time
  EXPECT_NE(refused(R"j("(a)\\1")j"), "");     // no back-references
  EXPECT_NE(refused("\"" + std::string(261, 'a') + "\""), "");
  EXPECT_NE(refused(R"j("((((a{100}){100}){100}){100})")j"), "");  // too large to compile
  std::string eleven;
  for (int i = 0; i < 11; ++i) eleven += (i ? ",\"w" : "\"w") + std::to_string(i) + "\"";
  EXPECT_NE(refused(eleven), "");
  EXPECT_EQ(refused(R"j("sc[a@]m")j"), "");
  EXPECT_NE(refusal(R"j({"name":"x","trigger":{"type":"keyword"}})j"), "");  // nothing to match
  EXPECT_NE(refusal(R"j({"name":"x","trigger":{"type":"links","regex":["x"]}})j"), "");
}

TEST(Automod, KeywordsMustKeepTextOnceFolded) {
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":["\u0301\u0302"]}})"), "");
  std::string wide;
  for (int i = 0; i < 20; ++i) wide += "\uFDFA";  // 60 bytes; each folds to 30
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[")" + wide + R"("]}})"), "");
  // 60 bytes of `m` fold to 120: the most there is room for.
  EXPECT_EQ(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[")" + std::string(60, 'm') + R"("]}})"), "");
}

TEST(Automod, WholeWordKeyword) {
  const auto spec = keywords({"Scam"});
  EXPECT_EQ(spec.trigger.keywords, std::vector<std::string>{"scam"});
  EXPECT_EQ(check(spec, "this is a SCAM!"), "scam");
  EXPECT_EQ(check(spec, "scam"), "scam");
  EXPECT_EQ(check(spec, "(scam)"), "scam");
  EXPECT_FALSE(check(spec, "scamper"));
  EXPECT_FALSE(check(spec, "ascam"));
  EXPECT_FALSE(check(spec, "scamé"));
  EXPECT_EQ(check(spec, "sc\u200Bam"), "scam");
}

TEST(Automod, Wildcards) {
  EXPECT_EQ(check(keywords({"scam*"}), "the scammers"), "scam*");
  EXPECT_FALSE(check(keywords({"scam*"}), "ascam"));
  EXPECT_EQ(check(keywords({"*coin"}), "buy shitcoin"), "*coin");
  EXPECT_FALSE(check(keywords({"*coin"}), "coinbase"));
  EXPECT_EQ(check(keywords({"*airdrop*"}), "freeairdropnow"), "*airdrop*");
  EXPECT_EQ(check(keywords({"free mint"}), "FREE   Mint today"), "free mint");
  EXPECT_FALSE(check(keywords({"free mint"}), "freemint"));
  // Several keywords share a suffix: each keeps its own rule.
  const auto spec = keywords({"rug", "*pull", "drug*"});
  EXPECT_EQ(check(spec, "a rugpull"), "*pull");
  EXPECT_EQ(check(spec, "drugs"), "drug*");
  EXPECT_FALSE(check(spec, "shrug"));
}

TEST(Automod, AllowListSparesTheWordsItNames) {
  const auto spec = keywords({"*ass*"}, {"class", "pass*", "*bass"});
  EXPECT_FALSE(check(spec, "first class"));
  EXPECT_FALSE(check(spec, "my passport"));
  EXPECT_FALSE(check(spec, "a seabass"));
  EXPECT_EQ(check(spec, "you ass"), "*ass*");
  EXPECT_EQ(check(spec, "first class ass"), "*ass*");
}

// The automaton against a plain scan of every keyword at every position.
TEST(Automod, AgreesWithAPlainScan) {
  std::mt19937 rng(7);
  const std::string alphabet = "ab c";
  auto random_text = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[rng() % alphabet.size()]);
    return s;
  };
  auto word = [](char c) { return c != ' '; };
  for (int round = 0; round < 300; ++round) {
    std::vector<std::string> words;
    for (int i = 0; i < 8; ++i) {
      auto core = random_text(1 + rng() % 4);
      while (!core.empty() && core.front() == ' ') core.erase(core.begin());
      while (!core.empty() && core.back() == ' ') core.pop_back();
      if (core.empty()) continue;
      const auto shape = rng() % 4;
      words.push_back((shape & 1 ? "*" : "") + core + (shape & 2 ? "*" : ""));
    }
    if (words.empty()) continue;
    const auto spec = keywords(words);
    const auto text = random_text(rng() % 24);
    bool expected = false;
    for (const auto& k : spec.trigger.keywords) {
      const bool any_start = k.front() == '*';
      const bool any_end = k.size() > 1 && k.back() == '*';
      const auto core = k.substr(any_start ? 1 : 0, k.size() - (any_start ? 1 : 0) - (any_end ? 1 : 0));
      const auto norm = normalize_automod_text(text);
      for (std::size_t at = 0; at + core.size() <= norm.size(); ++at) {
        if (norm.compare(at, core.size(), core) != 0) continue;
        const auto end = at + core.size();
        const bool left = any_start || at == 0 || !word(norm[at - 1]) || !word(norm[at]);
        const bool right = any_end || end == norm.size() || !word(norm[end]) || !word(norm[end - 1]);
        if (left && right) expected = true;
      }
    }
    EXPECT_EQ(check(spec, text).has_value(), expected) << "text [" << text << "]";
  }
}

TEST(Automod, ManyKeywordsStayExact) {
  std::vector<std::string> words;
  for (int i = 0; i < 1000; ++i) words.push_back("w" + std::to_string(i) + "x");
  const auto spec = keywords(words);
  EXPECT_EQ(check(spec, "hello w999x there"), "w999x");
  EXPECT_EQ(check(spec, "w0x"), "w0x");
  EXPECT_FALSE(check(spec, "w1000x w99 w0xy"));
}

TEST(Automod, AFullRuleStaysSmallWhateverItsKeywords) {
  // 1,000 keywords of 60 bytes that share no prefix: 60,000 trie nodes, the worst shape.
  std::mt19937 rng(11);
  std::vector<std::string> words;
  for (int i = 0; i < 1000; ++i) {
    std::string w;
    for (int j = 0; j < 60; ++j) w.push_back(static_cast<char>('a' + rng() % 26));
    words.push_back(std::move(w));
  }
  const auto spec = keywords(words);
  AutomodMatcher m(spec);
  EXPECT_LT(m.footprint(), std::size_t{2} << 20);
  EXPECT_GT(m.footprint(), std::size_t{60000});
  EXPECT_EQ(m.match(automod_text("say " + words[999] + " now"), 0), words[999]);
  // Keywords of `m`s fold to twice their bytes: still small.
  for (auto& w : words) std::replace(w.begin(), w.end(), 'a', 'm');
  AutomodMatcher wide(keywords(words));
  EXPECT_LT(wide.footprint(), std::size_t{3} << 20);
}

TEST(Automod, MentionSpam) {
  const auto spec = rule(R"({"name":"mentions","trigger":{"type":"mention_spam","limit":3}})");
  EXPECT_FALSE(check(spec, "hi", 3));
  EXPECT_EQ(check(spec, "hi", 4), "4");
}

TEST(Automod, Links) {
  const auto none = rule(R"({"name":"links","trigger":{"type":"links"}})");
  EXPECT_EQ(check(none, "see https://example.org/a"), "example.org");
  EXPECT_EQ(check(none, "see www.Example.org"), "www.example.org");
  EXPECT_FALSE(check(none, "no links here, just example dot org"));

  const auto some = rule(R"({"name":"links","trigger":{"type":"links","allow_domains":["Example.org","docs.rs"]}})");
  EXPECT_FALSE(check(some, "https://example.org/x and http://sub.example.org:8080/y?z"));
  EXPECT_FALSE(check(some, "read https://docs.rs/boost."));
  EXPECT_EQ(check(some, "https://badexample.org"), "badexample.org");
  EXPECT_EQ(check(some, "https://example.org@evil.example/claim"), "evil.example");
  EXPECT_EQ(check(some, "HTTPS://EVIL.EXAMPLE"), "evil.example");
  EXPECT_EQ(check(some, "ht\u200Btps://evil.example"), "evil.example");
  EXPECT_EQ(check(some, "https://example.org https://evil.example"), "evil.example");
}

TEST(Automod, BareDomainsAreLinks) {
  const auto none = rule(R"({"name":"links","trigger":{"type":"links"}})");
  // As scam links are written: no scheme, no www.
  EXPECT_EQ(check(none, "claim at uniswap-airdrop.xyz/claim now"), "uniswap-airdrop.xyz");
  EXPECT_EQ(check(none, "join t.me/freemint"), "t.me");
  EXPECT_EQ(check(none, "Visit Claim.Example.COM."), "claim.example.com");
  EXPECT_EQ(check(none, "(bit.ly/abc)"), "bit.ly");
  EXPECT_EQ(check(none, "shop.co.uk"), "shop.co.uk");
  EXPECT_EQ(check(none, "\"evil.io\""), "evil.io");
  // Not links: ENS names, versions, files, abbreviations, addresses, other scripts glued on, names
  // without a link TLD, and email addresses.
  for (const char* text :
       {"gm vitalik.eth", "v1.2.3 is out", "see main.rs and build.sh", "e.g. this, i.e. that", "node.js and next.js",
        "write to me@example.com", "0xabc.def", "snake_case.com", "example.comé", "hello.world", "archive.zip",
        "a..com", "-bad.com", "bad-.com", "just a sentence. com", ".com", "com."}) {
    EXPECT_FALSE(check(none, text)) << text;
  }
  // Allowed domains and their subdomains stay allowed when bare.
  const auto some = rule(R"({"name":"links","trigger":{"type":"links","allow_domains":["uniswap.org","t.me"]}})");
  EXPECT_FALSE(check(some, "app.uniswap.org and t.me/gatehouse and uniswap.org."));
  EXPECT_EQ(check(some, "uniswap.org.evil.com"), "uniswap.org.evil.com");
  EXPECT_EQ(check(some, "app.uniswap.org then fake-uniswap.org"), "fake-uniswap.org");
  // A path segment of an allowed link is not a host of its own.
  EXPECT_FALSE(check(some, "https://uniswap.org/docs/evil.com"));
}

TEST(Automod, RefusesWhatItCannotHold) {
  EXPECT_EQ(refusal(R"({"trigger":{"type":"links"}})"), "invalid_rule: name is required");
  EXPECT_EQ(refusal(R"({"name":"x"})"), "invalid_rule: trigger is required");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"regex"}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":["a*b"]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":["**"]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[" "]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[1]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":["a"],"limit":3}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"mention_spam","limit":0}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"mention_spam","limit":51}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"links","allow_domains":["-bad.org"]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"links","allow_domains":["a..b"]}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"links"},"timeout_seconds":2419201})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"links"},"timeout_seconds":-1})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"links"},"colour":"red"})"), "");
  EXPECT_NE(refusal(R"({"name":"","trigger":{"type":"links"}})"), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"links"},"block_message":")" + std::string(151, 'a') + "\"}"), "");
  std::string many = R"({"name":"x","trigger":{"type":"keyword","keywords":[)";
  for (int i = 0; i < 1001; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\"";
  many += "]}}";
  EXPECT_NE(refusal(many), "");
  EXPECT_NE(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[")" + std::string(61, 'a') + "\"]}}"), "");
  EXPECT_EQ(refusal(R"({"name":"x","trigger":{"type":"keyword","keywords":[")" + std::string(60, 'a') + "\"]}}"), "");
}

TEST(Automod, PatchesAndRoundTrips) {
  auto spec =
      rule(R"({"name":"words","trigger":{"type":"keyword","keywords":["Rug","rug","*PULL*"],"allow":["pullover"]},)"
           R"("block_message":"no","timeout_seconds":60,"exempt_roles":["vip","vip"],"exempt_channels":["ch_1"]})");
  EXPECT_EQ(spec.trigger.keywords, (std::vector<std::string>{"rug", "*pull*"}));
  EXPECT_EQ(spec.exempt_roles, std::vector<std::string>{"vip"});
  const auto stored = stored_automod_rule(json::serialize(render_automod_rule(spec)));
  ASSERT_TRUE(stored);
  EXPECT_EQ(json::serialize(render_automod_rule(*stored)), json::serialize(render_automod_rule(spec)));

  auto patch =
      parse_automod_patch(json::parse(R"({"enabled":false,"trigger":{"type":"mention_spam","limit":5}})").as_object());
  ASSERT_TRUE(patch);
  auto changed = apply_automod_patch(spec, *patch);
  ASSERT_TRUE(changed);
  EXPECT_FALSE(changed->enabled);
  EXPECT_EQ(changed->trigger.type, AutomodTrigger::mention_spam);
  EXPECT_TRUE(changed->trigger.keywords.empty());
  EXPECT_EQ(changed->name, "words");
  EXPECT_EQ(changed->timeout_seconds, 60);
  EXPECT_TRUE(changed->alert_channel.empty());
  EXPECT_TRUE(render_automod_rule(*changed).at("alert_channel").is_null());

  // An alert channel is kept through a patch that does not name it, round-trips, and goes with null.
  auto alerted =
      apply_automod_patch(*changed, *parse_automod_patch(json::parse(R"({"alert_channel":"ch_mods"})").as_object()));
  ASSERT_TRUE(alerted);
  EXPECT_EQ(alerted->alert_channel, "ch_mods");
  auto renamed = apply_automod_patch(*alerted, *parse_automod_patch(json::parse(R"({"name":"w2"})").as_object()));
  EXPECT_EQ(renamed->alert_channel, "ch_mods");
  EXPECT_EQ(stored_automod_rule(json::serialize(render_automod_rule(*renamed)))->alert_channel, "ch_mods");
  auto cleared =
      apply_automod_patch(*alerted, *parse_automod_patch(json::parse(R"({"alert_channel":null})").as_object()));
  EXPECT_TRUE(cleared->alert_channel.empty());
  EXPECT_FALSE(parse_automod_patch(json::parse(R"({"alert_channel":3})").as_object()));
  const auto too_long = R"({"alert_channel":")" + std::string(65, 'c') + "\"}";
  EXPECT_FALSE(apply_automod_patch(*alerted, *parse_automod_patch(json::parse(too_long).as_object())));
}

}  // namespace
}  // namespace gh::community
