// AutoMod (community/automod.hpp): a rule comes from a community manager, the text it screens from
// any member; both are hostile. The input is a rule, a NUL byte, then a message text. The rule is
// read as JSON; when it is not a rule, its lines are taken as keywords. Then:
//   - a rule that is accepted renders to JSON that reads back as the same rule;
//   - normalising a text never makes it longer, and (messages are valid UTF-8) normalising valid
//     UTF-8 twice changes nothing more;
//   - folding valid UTF-8 twice changes nothing more, and a fold is at most ten times the text;
//   - a keyword rule triggers on a keyword exactly when a plain scan of every keyword's folds at
//     every position of the folded text finds a match on word edges (or wildcards) that no allow
//     entry's folds spare, and else only on one of its regular expressions;
//   - a links rule's finding is a host none of its domains allows, and it is in the text;
//   - a mention rule triggers exactly above its limit.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "community/automod.hpp"
#include "core/utf8.hpp"

namespace {

using namespace gh::community;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

bool word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

struct Wild {
  std::string core;
  bool any_start = false;
  bool any_end = false;
};

Wild wild(std::string_view p) {
  Wild w;
  if (!p.empty() && p.front() == '*') {
    w.any_start = true;
    p.remove_prefix(1);
  }
  if (!p.empty() && p.back() == '*') {
    w.any_end = true;
    p.remove_suffix(1);
  }
  w.core = std::string(p);
  return w;
}

// Each entry's wildcards with each of its folds.
std::vector<Wild> folds_of(const std::vector<std::string>& entries) {
  std::vector<Wild> out;
  for (const auto& entry : entries) {
    const auto w = wild(entry);
    for (auto& f : automod_keyword_folds(w.core)) out.push_back(Wild{std::move(f), w.any_start, w.any_end});
  }
  return out;
}

bool spared(const std::vector<Wild>& allow, std::string_view span) {
  for (const auto& a : allow) {
    bool hit = false;
    if (a.any_start && a.any_end) {
      hit = span.find(a.core) != std::string_view::npos;
    } else if (a.any_end) {
      hit = span.size() >= a.core.size() && span.substr(0, a.core.size()) == a.core;
    } else if (a.any_start) {
      hit = span.size() >= a.core.size() && span.substr(span.size() - a.core.size()) == a.core;
    } else {
      hit = span == a.core;
    }
    if (hit) return true;
  }
  return false;
}

bool plain_scan(const AutomodTriggerSpec& t, std::string_view text) {
  const auto allow = folds_of(t.allow);
  for (const auto& w : folds_of(t.keywords)) {
    for (std::size_t at = 0; at + w.core.size() <= text.size(); ++at) {
      if (text.compare(at, w.core.size(), w.core) != 0) continue;
      const auto end = at + w.core.size();
      const bool left = w.any_start || at == 0 || !word_byte(text[at - 1]) || !word_byte(text[at]);
      const bool right = w.any_end || end == text.size() || !word_byte(text[end]) || !word_byte(text[end - 1]);
      if (!left || !right) continue;
      auto s = at;
      auto e = end;
      while (s > 0 && word_byte(text[s - 1])) --s;
      while (e < text.size() && word_byte(text[e])) ++e;
      if (!spared(allow, text.substr(s, e - s))) return true;
    }
  }
  return false;
}

std::optional<AutomodRuleSpec> rule_of(std::string_view part) {
  boost::system::error_code ec;
  auto v = boost::json::parse(part, ec);
  if (!ec && v.is_object()) {
    auto patch = parse_automod_patch(v.as_object());
    if (!patch) return std::nullopt;
    auto spec = new_automod_rule(*patch);
    if (!spec) return std::nullopt;
    return std::move(*spec);
  }
  // Lines as keywords; a line starting with '!' is an allow entry.
  AutomodRulePatch patch;
  patch.name = "fuzz";
  AutomodTriggerSpec t;
  std::size_t from = 0;
  while (from <= part.size()) {
    auto nl = part.find('\n', from);
    if (nl == std::string_view::npos) nl = part.size();
    auto line = part.substr(from, nl - from);
    if (!line.empty() && line.front() == '!') {
      t.allow.emplace_back(line.substr(1));
    } else if (!line.empty()) {
      t.keywords.emplace_back(line);
    }
    from = nl + 1;
  }
  patch.trigger = t;
  auto spec = new_automod_rule(patch);
  if (!spec) return std::nullopt;
  return std::move(*spec);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto nul = input.find('\0');
  const auto rule_part = input.substr(0, nul);
  const auto text = nul == std::string_view::npos ? std::string_view() : input.substr(nul + 1);

  const auto normalized = normalize_automod_text(text);
  check(normalized.size() <= text.size());
  if (gh::valid_utf8(text)) check(normalize_automod_text(normalized) == normalized);
  const auto seen = automod_text(text);
  check(seen.plain == normalized);
  check(seen.folded.size() <= 10 * normalized.size());
  if (gh::valid_utf8(text)) check(fold_automod_text(seen.folded) == seen.folded);

  const auto spec = rule_of(rule_part);
  if (!spec) return 0;
  const auto rendered = boost::json::serialize(render_automod_rule(*spec));
  const auto again = stored_automod_rule(rendered);
  check(again.has_value());
  check(boost::json::serialize(render_automod_rule(*again)) == rendered);

  const AutomodMatcher matcher(*spec);
  const auto mentions = text.size() % 60;
  const auto found = matcher.match(seen, mentions);
  switch (spec->trigger.type) {
    case AutomodTrigger::keyword: {
      // Keywords are matched first; a regular expression (RE2's own matching) only where none is.
      const auto& k = spec->trigger.keywords;
      const auto& r = spec->trigger.regex;
      if (plain_scan(spec->trigger, seen.folded)) {
        check(found.has_value() && std::find(k.begin(), k.end(), *found) != k.end());
      } else if (found) {
        check(std::find(r.begin(), r.end(), *found) != r.end());
      }
      break;
    }
    case AutomodTrigger::links:
      if (found) {
        check(!found->empty());
        check(normalized.find(*found) != std::string::npos);
        for (const auto& d : spec->trigger.allow_domains) {
          const bool allowed =
              *found == d || (found->size() > d.size() && found->compare(found->size() - d.size(), d.size(), d) == 0 &&
                              (*found)[found->size() - d.size() - 1] == '.');
          check(!allowed);
        }
      }
      break;
    case AutomodTrigger::mention_spam:
      check(found.has_value() == (static_cast<std::int64_t>(mentions) > spec->trigger.mention_limit));
      break;
  }
  return 0;
}
