#pragma once
// AutoMod: rules a community sets on what its members post. A rule screens a message's text before
// it is stored (posts and edits) and refuses it when it triggers: a keyword (with `*` wildcards and
// an allow list), too many mentions, or a link to a domain outside an allow list. A rule may also
// time the author out. Pure: parsing, validation and matching; the service stores and applies them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "core/result.hpp"

namespace re2 {
class RE2;
}

namespace gh::community {

/// What makes a rule trigger.
enum class AutomodTrigger { keyword, mention_spam, links };

/// "keyword", "mention_spam" or "links".
const char* to_string(AutomodTrigger trigger) noexcept;

// The limits of a rule (Discord's, where Discord has one).
inline constexpr std::size_t max_automod_rules = 10;          ///< per community
inline constexpr std::size_t max_automod_keywords = 1000;     ///< per rule
inline constexpr std::size_t max_automod_keyword_bytes = 60;  ///< after normalisation, wildcards included
/// A keyword's or allow entry's text once folded (fold_automod_text; `m` folds to `rn`).
inline constexpr std::size_t max_automod_folded_keyword_bytes = 120;
inline constexpr std::size_t max_automod_allow = 100;        ///< allow list entries per rule
inline constexpr std::size_t max_automod_regex = 10;         ///< regular expressions per rule
inline constexpr std::size_t max_automod_regex_bytes = 260;  ///< per regular expression
/// What one compiled regular expression may take (RE2's program and its DFA cache); a pattern that
/// needs more does not compile.
inline constexpr std::int64_t automod_regex_max_mem = std::int64_t{256} * 1024;
inline constexpr std::size_t max_automod_domains = 100;  ///< allowed link domains per rule
inline constexpr std::size_t max_automod_exempt_roles = 20;
inline constexpr std::size_t max_automod_exempt_channels = 50;
inline constexpr std::size_t max_automod_block_message_bytes = 150;
inline constexpr std::int64_t max_automod_mentions = 50;  ///< the highest mention limit

/// What makes a rule trigger, with the fields of its type.
struct AutomodTriggerSpec {
  AutomodTrigger type = AutomodTrigger::keyword;
  /// keyword: normalised patterns. `word` matches the whole word, `word*` words starting with it,
  /// `*word` words ending with it, `*word*` anywhere; a pattern may span words ("free mint").
  std::vector<std::string> keywords;
  /// keyword: the words a match may fall in without triggering, with the same wildcards.
  std::vector<std::string> allow;
  /// keyword: regular expressions (RE2's syntax, linear time, case-insensitive), matched anywhere in
  /// the text as written (normalised, not folded); none may match an empty text.
  std::vector<std::string> regex;
  /// mention_spam: the most distinct account and role mentions a message may carry.
  std::int64_t mention_limit = 0;
  /// links: the domains (and their subdomains) links may point to; empty: no link at all.
  std::vector<std::string> allow_domains;
};

/// A rule as its managers set it.
struct AutomodRuleSpec {
  std::string name;
  bool enabled = true;
  AutomodTriggerSpec trigger;
  /// Shown to the author of a blocked message (empty: a generic text).
  std::string block_message;
  /// Times the author out for this long when the rule triggers (0: no timeout).
  std::int64_t timeout_seconds = 0;
  std::vector<std::string> exempt_roles;     ///< role names whose holders the rule leaves alone
  std::vector<std::string> exempt_channels;  ///< channel ids the rule leaves alone
  /// A channel of the community where each block is posted as an `automod_alert` system message
  /// for its moderators (Discord's "send alert message"); empty: none.
  std::string alert_channel{};
};

/// A change to a rule: each field present replaces the rule's (the trigger as a whole).
struct AutomodRulePatch {
  std::optional<std::string> name;
  std::optional<bool> enabled;
  std::optional<AutomodTriggerSpec> trigger;
  std::optional<std::string> block_message;
  std::optional<std::int64_t> timeout_seconds;
  std::optional<std::vector<std::string>> exempt_roles;
  std::optional<std::vector<std::string>> exempt_channels;
  std::optional<std::string> alert_channel{};  ///< "" (JSON null) takes the alert channel away
};

/// Reads a rule's JSON (API: {"name", "enabled"?, "trigger": {"type", "keywords"?, "allow"?,
/// "limit"?, "allow_domains"?}, "block_message"?, "timeout_seconds"?, "exempt_roles"?,
/// "exempt_channels"?, "alert_channel"? (a channel id or null)}); 400 invalid_rule on a field of the wrong type, an
/// unknown field or trigger type, or a trigger field its type does not take. Values are checked by apply_automod_patch.
Result<AutomodRulePatch> parse_automod_patch(const boost::json::object& body);

/// `base` with `patch` applied, normalised and checked against the limits above (400 invalid_rule
/// naming the field).
Result<AutomodRuleSpec> apply_automod_patch(const AutomodRuleSpec& base, const AutomodRulePatch& patch);

/// A new rule from `patch`: name and trigger are required.
Result<AutomodRuleSpec> new_automod_rule(const AutomodRulePatch& patch);

/// The rule as JSON (the API's fields and the stored form): {"name", "enabled", "trigger": {...},
/// "block_message", "timeout_seconds", "exempt_roles", "exempt_channels", "alert_channel" (null when
/// none)}.
boost::json::object render_automod_rule(const AutomodRuleSpec& spec);

/// A stored rule read back (render_automod_rule's form); none when it does not parse.
std::optional<AutomodRuleSpec> stored_automod_rule(std::string_view json);

/// A message's text as rules see it: ASCII letters lowercased, invisible characters (soft hyphen,
/// zero-width spaces and joiners, word joiner, BOM) removed, every run of whitespace one space.
std::string normalize_automod_text(std::string_view text);

/// `text` as keywords are matched in it: every code point replaced by its fold, which sees through
/// what makes a word look the same and read differently to a plain filter (a table generated at
/// build time from Unicode's data, see src/community/tools/fold_table_gen.cpp):
///   - compatibility forms: full-width `ＦＲＥＥ`, mathematical `𝐟𝐫𝐞𝐞`, circled `ⓕⓡⓔⓔ`, ligatures;
///   - accents and other combining diacritical marks (`frée`, "zalgo" text) are dropped, as are
///     default-ignorable characters (zero-width characters, variation selectors, tags, fillers);
///   - look-alikes of other scripts (Unicode's confusables, UTS #39): Cyrillic `ѕсаm` is `scam`;
///     the skeleton also makes `m` and `rn`, `0` and `o`, `1`, `l` and `I` one;
///   - case, fully folded (`ß` is `ss`);
///   - every whitespace character a space, and every run of spaces one.
/// Folding is per code point, so fold(a + b) is fold(a) + fold(b) (spaces aside), and folding a
/// folded text changes nothing. Bytes that are not UTF-8 are kept as they are.
std::string fold_automod_text(std::string_view text);

/// What a keyword's or allow entry's text (without its wildcards) is matched as: its fold, and the
/// fold of its upper case where that differs (Cyrillic `скам` folds to `cĸaʍ`, `СКАМ` to `ckarn`,
/// as `К` looks like `K` where `к` looks like no Latin letter). Spaces at either end dropped.
std::vector<std::string> automod_keyword_folds(std::string_view core);

/// The Unicode version the fold table was generated from ("15.0").
std::string_view automod_fold_unicode_version() noexcept;

/// A message's text as a rule reads it: links are read in `plain`, keywords in `folded`.
struct AutomodText {
  std::string plain;   ///< normalize_automod_text of the text
  std::string folded;  ///< fold_automod_text of `plain`
};

/// Both forms of a message's text.
AutomodText automod_text(std::string_view text);

/// A rule made ready to screen messages: keywords in one automaton, so a message costs one pass
/// over its text whatever the number of keywords.
class AutomodMatcher {
 public:
  explicit AutomodMatcher(const AutomodRuleSpec& spec);
  ~AutomodMatcher();
  AutomodMatcher(const AutomodMatcher&) = delete;
  AutomodMatcher& operator=(const AutomodMatcher&) = delete;

  /// What in `text` (automod_text of the message's text, which carries `mentions` distinct account
  /// and role mentions) triggers the rule: the keyword as set, the link's host, or the mention
  /// count. None when nothing does. Keywords and allow entries are folded as the text is.
  std::optional<std::string> match(const AutomodText& text, std::size_t mentions) const;

  /// About how many bytes the matcher holds (what a cache of compiled rules counts).
  std::size_t footprint() const;

 private:
  struct Automaton;
  AutomodTrigger m_trigger;
  std::int64_t m_mention_limit;
  std::vector<std::string> m_domains;
  std::unique_ptr<Automaton> m_automaton;

  std::vector<std::unique_ptr<const re2::RE2>> m_regexes;

  std::optional<std::string> match_keywords(std::string_view text) const;
  std::optional<std::string> match_regexes(const AutomodText& text) const;
  std::optional<std::string> match_links(std::string_view text) const;
};

}  // namespace gh::community
