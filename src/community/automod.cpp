#include "community/automod.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <set>

#include <re2/re2.h>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "community/model.hpp"
#include "core/display_name.hpp"
#include "core/utf8.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;

// The fold table (fold_table_gen's output): per code point whose fold is not itself, where its
// fold's UTF-8 bytes are in fold_pool. Sorted by code point.
struct FoldEntry {
  std::uint32_t code_point;
  std::uint32_t offset;
  std::uint32_t length;
};
#include "community/fold_table.inc"

std::string_view fold_bytes(const FoldEntry& e) {
  return {reinterpret_cast<const char*>(fold_pool) + e.offset, e.length};
}

template <std::size_t N>
const FoldEntry* find_in(const FoldEntry (&table)[N], std::uint32_t cp) {
  const auto* last = std::end(table);
  const auto* it = std::lower_bound(std::begin(table), last, cp,
                                    [](const FoldEntry& e, std::uint32_t c) { return e.code_point < c; });
  return it != last && it->code_point == cp ? it : nullptr;
}

const FoldEntry* find_fold(std::uint32_t cp) {
  return find_in(fold_entries, cp);
}

// Appends folded bytes, one space for any run of them.
void append_folded(std::string& out, std::string_view bytes) {
  for (char c : bytes) {
    if (c == ' ' && !out.empty() && out.back() == ' ') continue;
    out.push_back(c);
  }
}

Error invalid_rule(std::string message) {
  return bad_input("invalid_rule", std::move(message));
}

// Characters that display as nothing and split a word for a naive filter: the soft hyphen,
// zero-width space, non-joiner and joiner, the direction marks, word joiner and invisible operators,
// and the BOM.
bool invisible(std::uint32_t cp) {
  return cp == 0xAD || (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2060 && cp <= 0x2064) || cp == 0xFEFF;
}

bool space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// Part of a word: ASCII letters and digits, and every byte of a non-ASCII character (so letters of
// other scripts stay whole words).
bool word_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || (u >= '0' && u <= '9') || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z');
}

// A pattern with its wildcards: `*` at either end.
struct Pattern {
  std::string core;
  bool any_start = false;  ///< `*core`: the match may start inside a word
  bool any_end = false;    ///< `core*`: the match may end inside a word
};

Pattern split_pattern(std::string_view p) {
  Pattern out;
  if (!p.empty() && p.front() == '*') {
    out.any_start = true;
    p.remove_prefix(1);
  }
  if (!p.empty() && p.back() == '*') {
    out.any_end = true;
    p.remove_suffix(1);
  }
  out.core = std::string(p);
  return out;
}

// Whether `span` (whole words) is what an allow pattern names.
bool allows(const Pattern& allow, std::string_view span) {
  if (allow.any_start && allow.any_end) return span.find(allow.core) != std::string_view::npos;
  if (allow.any_end) return span.substr(0, allow.core.size()) == allow.core;
  if (allow.any_start) {
    return span.size() >= allow.core.size() && span.substr(span.size() - allow.core.size()) == allow.core;
  }
  return span == allow.core;
}

// A keyword or allow entry, normalised; 400 unless it is a pattern of 1..max bytes.
Result<std::string> check_pattern(std::string_view field, std::string_view raw) {
  if (!valid_utf8(raw)) return invalid_rule(std::string(field) + " entries must be UTF-8");
  auto p = normalize_automod_text(raw);
  while (!p.empty() && p.front() == ' ') p.erase(p.begin());
  while (!p.empty() && p.back() == ' ') p.pop_back();
  if (p.size() > max_automod_keyword_bytes) {
    return invalid_rule(std::string(field) + " entries are at most " + std::to_string(max_automod_keyword_bytes) +
                        " bytes");
  }
  const auto parts = split_pattern(p);
  if (parts.core.empty() || parts.core.find('*') != std::string::npos || parts.core.front() == ' ' ||
      parts.core.back() == ' ') {
    return invalid_rule(std::string(field) + " entries are text with `*` only at either end: " + std::string(raw));
  }
  for (const auto& folded : automod_keyword_folds(parts.core)) {
    if (folded.empty() || folded.size() > max_automod_folded_keyword_bytes) {
      return invalid_rule(std::string(field) + " entries are 1 to " + std::to_string(max_automod_folded_keyword_bytes) +
                          " bytes once folded (accents and invisible characters dropped): " + std::string(raw));
    }
  }
  return p;
}

Result<std::vector<std::string>> check_patterns(std::string_view field, const std::vector<std::string>& raw,
                                                std::size_t max) {
  if (raw.size() > max) return invalid_rule(std::string(field) + " has at most " + std::to_string(max) + " entries");
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& r : raw) {
    auto p = check_pattern(field, r);
    if (!p) return std::move(p).error();
    if (seen.insert(*p).second) out.push_back(std::move(*p));
  }
  return out;
}

// A domain name as links carry it: lowercase labels of [a-z0-9-] (punycode for others).
Result<std::string> check_domain(std::string_view raw) {
  std::string d;
  for (char c : raw) d.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
  const auto bad = [&] { return invalid_rule("allow_domains entries are domain names: " + std::string(raw)); };
  if (d.empty() || d.size() > 253) return bad();
  std::size_t label = 0;
  for (std::size_t i = 0; i <= d.size(); ++i) {
    if (i == d.size() || d[i] == '.') {
      if (label == 0 || label > 63 || d[i - 1] == '-' || d[i - label] == '-') return bad();
      label = 0;
      continue;
    }
    const char c = d[i];
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return bad();
    ++label;
  }
  return d;
}

Result<std::vector<std::string>> dedupe(std::string_view field, const std::vector<std::string>& raw, std::size_t max,
                                        std::size_t max_bytes) {
  if (raw.size() > max) return invalid_rule(std::string(field) + " has at most " + std::to_string(max) + " entries");
  std::vector<std::string> out;
  for (const auto& r : raw) {
    if (r.empty() || r.size() > max_bytes || !valid_utf8(r)) {
      return invalid_rule(std::string(field) + " entries are 1 to " + std::to_string(max_bytes) + " bytes");
    }
    if (std::find(out.begin(), out.end(), r) == out.end()) out.push_back(r);
  }
  return out;
}

RE2::Options regex_options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingUTF8);
  o.set_case_sensitive(false);
  o.set_log_errors(false);
  o.set_never_capture(true);
  o.set_max_mem(automod_regex_max_mem);
  return o;
}

// Regular expressions: each compiles within its memory and matches no empty text (it would
// match every message).
Result<std::vector<std::string>> check_regexes(const std::vector<std::string>& raw) {
  if (raw.size() > max_automod_regex) {
    return invalid_rule("regex has at most " + std::to_string(max_automod_regex) + " entries");
  }
  std::vector<std::string> out;
  for (const auto& pattern : raw) {
    if (pattern.empty() || pattern.size() > max_automod_regex_bytes || !valid_utf8(pattern)) {
      return invalid_rule("regex entries are 1 to " + std::to_string(max_automod_regex_bytes) + " bytes of UTF-8");
    }
    const RE2 re(pattern, regex_options());
    if (!re.ok()) return invalid_rule("regex entry " + pattern + " does not compile: " + re.error());
    if (RE2::PartialMatch("", re)) {
      return invalid_rule("regex entry " + pattern + " matches an empty text, so every message");
    }
    if (std::find(out.begin(), out.end(), pattern) == out.end()) out.push_back(pattern);
  }
  return out;
}

Result<AutomodTriggerSpec> check_trigger(const AutomodTriggerSpec& raw) {
  AutomodTriggerSpec t;
  t.type = raw.type;
  switch (raw.type) {
    case AutomodTrigger::keyword: {
      auto keywords = check_patterns("keywords", raw.keywords, max_automod_keywords);
      if (!keywords) return std::move(keywords).error();
      auto regexes = check_regexes(raw.regex);
      if (!regexes) return std::move(regexes).error();
      if (keywords->empty() && regexes->empty()) {
        return invalid_rule("a keyword trigger needs at least one keyword or regex");
      }
      auto allow = check_patterns("allow", raw.allow, max_automod_allow);
      if (!allow) return std::move(allow).error();
      t.keywords = std::move(*keywords);
      t.regex = std::move(*regexes);
      t.allow = std::move(*allow);
      break;
    }
    case AutomodTrigger::mention_spam:
      if (raw.mention_limit < 1 || raw.mention_limit > max_automod_mentions) {
        return invalid_rule("limit is 1 to " + std::to_string(max_automod_mentions));
      }
      t.mention_limit = raw.mention_limit;
      break;
    case AutomodTrigger::links: {
      if (raw.allow_domains.size() > max_automod_domains) {
        return invalid_rule("allow_domains has at most " + std::to_string(max_automod_domains) + " entries");
      }
      for (const auto& d : raw.allow_domains) {
        auto domain = check_domain(d);
        if (!domain) return std::move(domain).error();
        if (std::find(t.allow_domains.begin(), t.allow_domains.end(), *domain) == t.allow_domains.end()) {
          t.allow_domains.push_back(std::move(*domain));
        }
      }
      break;
    }
  }
  return t;
}

Result<std::vector<std::string>> string_array(const json::value& v, std::string_view field) {
  const auto* arr = v.if_array();
  if (arr == nullptr) return invalid_rule(std::string(field) + " must be an array of strings");
  std::vector<std::string> out;
  out.reserve(arr->size());
  for (const auto& item : *arr) {
    if (!item.is_string()) return invalid_rule(std::string(field) + " must be an array of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

std::optional<AutomodTrigger> parse_trigger_type(std::string_view s) {
  if (s == "keyword") return AutomodTrigger::keyword;
  if (s == "mention_spam") return AutomodTrigger::mention_spam;
  if (s == "links") return AutomodTrigger::links;
  return std::nullopt;
}

Result<AutomodTriggerSpec> parse_trigger(const json::value& v) {
  const auto* o = v.if_object();
  if (o == nullptr) return invalid_rule("trigger must be an object");
  const auto* type = o->if_contains("type");
  if (type == nullptr || !type->is_string()) return invalid_rule("trigger.type is keyword, mention_spam or links");
  auto kind = parse_trigger_type(type->as_string());
  if (!kind) return invalid_rule("trigger.type is keyword, mention_spam or links");
  AutomodTriggerSpec t;
  t.type = *kind;
  for (const auto& [key, value] : *o) {
    if (key == "type") continue;
    if (*kind == AutomodTrigger::keyword && (key == "keywords" || key == "allow" || key == "regex")) {
      auto list = string_array(value, key);
      if (!list) return std::move(list).error();
      (key == "keywords" ? t.keywords : key == "allow" ? t.allow : t.regex) = std::move(*list);
    } else if (*kind == AutomodTrigger::mention_spam && key == "limit") {
      if (!value.is_int64()) return invalid_rule("limit must be an integer");
      t.mention_limit = value.as_int64();
    } else if (*kind == AutomodTrigger::links && key == "allow_domains") {
      auto list = string_array(value, key);
      if (!list) return std::move(list).error();
      t.allow_domains = std::move(*list);
    } else {
      return invalid_rule("a " + std::string(type->as_string()) + " trigger takes no " + std::string(key));
    }
  }
  return t;
}

json::array to_json(const std::vector<std::string>& items) {
  json::array out;
  out.reserve(items.size());
  for (const auto& s : items) out.emplace_back(s);
  return out;
}

}  // namespace

const char* to_string(AutomodTrigger trigger) noexcept {
  switch (trigger) {
    case AutomodTrigger::keyword:
      return "keyword";
    case AutomodTrigger::mention_spam:
      return "mention_spam";
    case AutomodTrigger::links:
      return "links";
  }
  return "keyword";
}

Result<AutomodRulePatch> parse_automod_patch(const json::object& body) {
  AutomodRulePatch p;
  for (const auto& [key, value] : body) {
    if (key == "name" || key == "block_message") {
      if (!value.is_string()) return invalid_rule(std::string(key) + " must be a string");
      (key == "name" ? p.name : p.block_message) = std::string(value.as_string());
    } else if (key == "enabled") {
      if (!value.is_bool()) return invalid_rule("enabled must be a boolean");
      p.enabled = value.as_bool();
    } else if (key == "timeout_seconds") {
      if (!value.is_int64()) return invalid_rule("timeout_seconds must be an integer");
      p.timeout_seconds = value.as_int64();
    } else if (key == "trigger") {
      auto t = parse_trigger(value);
      if (!t) return std::move(t).error();
      p.trigger = std::move(*t);
    } else if (key == "exempt_roles" || key == "exempt_channels") {
      auto list = string_array(value, key);
      if (!list) return std::move(list).error();
      (key == "exempt_roles" ? p.exempt_roles : p.exempt_channels) = std::move(*list);
    } else if (key == "alert_channel") {
      if (!value.is_string() && !value.is_null()) return invalid_rule("alert_channel must be a channel id or null");
      p.alert_channel = value.is_null() ? std::string() : std::string(value.as_string());
    } else {
      return invalid_rule("unknown field " + std::string(key));
    }
  }
  return p;
}

Result<AutomodRuleSpec> apply_automod_patch(const AutomodRuleSpec& base, const AutomodRulePatch& patch) {
  AutomodRuleSpec s = base;
  if (patch.name) {
    if (!is_display_name(*patch.name, 100) || patch.name->front() == ' ' || patch.name->back() == ' ') {
      return invalid_rule("name is 1 to 100 printable characters");
    }
    s.name = *patch.name;
  }
  if (patch.enabled) s.enabled = *patch.enabled;
  if (patch.trigger) {
    auto t = check_trigger(*patch.trigger);
    if (!t) return std::move(t).error();
    s.trigger = std::move(*t);
  }
  if (patch.block_message) {
    if (patch.block_message->size() > max_automod_block_message_bytes || !valid_utf8(*patch.block_message)) {
      return invalid_rule("block_message is at most " + std::to_string(max_automod_block_message_bytes) +
                          " bytes of UTF-8");
    }
    s.block_message = *patch.block_message;
  }
  if (patch.timeout_seconds) {
    if (*patch.timeout_seconds < 0 || *patch.timeout_seconds > max_timeout_seconds) {
      return invalid_rule("timeout_seconds is 0 to " + std::to_string(max_timeout_seconds));
    }
    s.timeout_seconds = *patch.timeout_seconds;
  }
  if (patch.exempt_roles) {
    auto roles = dedupe("exempt_roles", *patch.exempt_roles, max_automod_exempt_roles, 32);
    if (!roles) return std::move(roles).error();
    s.exempt_roles = std::move(*roles);
  }
  if (patch.exempt_channels) {
    auto channels = dedupe("exempt_channels", *patch.exempt_channels, max_automod_exempt_channels, 64);
    if (!channels) return std::move(channels).error();
    s.exempt_channels = std::move(*channels);
  }
  if (patch.alert_channel) {
    if (patch.alert_channel->size() > 64 || !valid_utf8(*patch.alert_channel)) {
      return invalid_rule("alert_channel is a channel id of 1 to 64 bytes, or null");
    }
    s.alert_channel = *patch.alert_channel;
  }
  return s;
}

Result<AutomodRuleSpec> new_automod_rule(const AutomodRulePatch& patch) {
  if (!patch.name) return invalid_rule("name is required");
  if (!patch.trigger) return invalid_rule("trigger is required");
  return apply_automod_patch(AutomodRuleSpec{}, patch);
}

json::object render_automod_rule(const AutomodRuleSpec& spec) {
  json::object trigger{{"type", to_string(spec.trigger.type)}};
  switch (spec.trigger.type) {
    case AutomodTrigger::keyword:
      trigger["keywords"] = to_json(spec.trigger.keywords);
      trigger["regex"] = to_json(spec.trigger.regex);
      trigger["allow"] = to_json(spec.trigger.allow);
      break;
    case AutomodTrigger::mention_spam:
      trigger["limit"] = spec.trigger.mention_limit;
      break;
    case AutomodTrigger::links:
      trigger["allow_domains"] = to_json(spec.trigger.allow_domains);
      break;
  }
  return json::object{{"name", spec.name},
                      {"enabled", spec.enabled},
                      {"trigger", std::move(trigger)},
                      {"block_message", spec.block_message},
                      {"timeout_seconds", spec.timeout_seconds},
                      {"exempt_roles", to_json(spec.exempt_roles)},
                      {"exempt_channels", to_json(spec.exempt_channels)},
                      {"alert_channel", text_or_null(spec.alert_channel)}};
}

std::optional<AutomodRuleSpec> stored_automod_rule(std::string_view text) {
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  auto patch = parse_automod_patch(v.as_object());
  if (!patch) return std::nullopt;
  auto spec = new_automod_rule(*patch);
  if (!spec) return std::nullopt;
  return std::move(*spec);
}

namespace {

// fold_automod_text; with `upper`, each code point as its upper case folds.
std::string fold_text(std::string_view text, bool upper) {
  // Code points below 0x80, looked up once.
  static const std::array<const FoldEntry*, 0x80> ascii = [] {
    std::array<const FoldEntry*, 0x80> t{};
    for (std::uint32_t c = 0; c < t.size(); ++c) t[c] = find_fold(c);
    return t;
  }();
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if (const auto* e = ascii[byte]) {
        append_folded(out, fold_bytes(*e));
      } else if (byte != ' ' || out.empty() || out.back() != ' ') {
        out.push_back(text[i]);
      }
      ++i;
      continue;
    }
    const auto cp = decode_utf8(text, i);
    if (cp.length == 0) {
      out.push_back(text[i]);
      ++i;
      continue;
    }
    const FoldEntry* e = upper ? find_in(fold_upper_entries, cp.value) : nullptr;
    if (e == nullptr) e = find_fold(cp.value);
    if (e != nullptr) {
      append_folded(out, fold_bytes(*e));
    } else {
      out.append(text.substr(i, cp.length));
    }
    i += cp.length;
  }
  return out;
}

std::string trim_spaces(std::string s) {
  while (!s.empty() && s.back() == ' ') s.pop_back();
  const auto first = s.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : s.substr(first);
}

}  // namespace

std::string fold_automod_text(std::string_view text) {
  return fold_text(text, false);
}

std::vector<std::string> automod_keyword_folds(std::string_view core) {
  std::vector<std::string> out{trim_spaces(fold_text(core, false))};
  auto upper = trim_spaces(fold_text(core, true));
  if (upper != out.front()) out.push_back(std::move(upper));
  return out;
}

std::string_view automod_fold_unicode_version() noexcept {
  return fold_unicode_version;
}

AutomodText automod_text(std::string_view text) {
  AutomodText t;
  t.plain = normalize_automod_text(text);
  t.folded = fold_automod_text(t.plain);
  return t;
}

std::string normalize_automod_text(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  bool in_space = false;
  for (std::size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (static_cast<unsigned char>(c) < 0x80) {
      ++i;
      if (space(c)) {
        if (!in_space) out.push_back(' ');
        in_space = true;
        continue;
      }
      in_space = false;
      out.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
      continue;
    }
    const auto cp = decode_utf8(text, i);
    const std::size_t n = cp.length == 0 ? 1 : cp.length;
    if (cp.length == 0 || !invisible(cp.value)) {
      out.append(text.substr(i, n));
      in_space = false;
    }
    i += n;
  }
  return out;
}

// Aho-Corasick over the keywords' cores. Built with a child list per node, then kept flat: per
// node its edges (sorted by byte), failure link, the keywords ending there and a link to the
// nearest failure ancestor that ends some. About 21 bytes per node and edge, so a rule's 60,000
// bytes of keywords stay near 1.3 MB however hostile their shape.
struct AutomodMatcher::Automaton {
  std::vector<std::uint32_t> edge_begin;  ///< node n's edges are [edge_begin[n], edge_begin[n + 1])
  std::vector<unsigned char> edge_label;
  std::vector<std::uint32_t> edge_target;
  std::vector<std::uint32_t> fail;
  std::vector<std::uint32_t> output_link;  ///< 0: none (the root ends no keyword)
  std::vector<std::uint32_t> ends_begin;   ///< node n's keywords are ends[ends_begin[n]..ends_begin[n + 1])
  std::vector<std::uint32_t> ends;
  std::vector<Pattern> patterns;
  std::vector<std::string> originals;
  std::vector<Pattern> allow;

  std::uint32_t child(std::uint32_t n, unsigned char c) const {
    const auto* first = edge_label.data() + edge_begin[n];
    const auto* last = edge_label.data() + edge_begin[n + 1];
    const auto* it = std::lower_bound(first, last, c);
    if (it == last || *it != c) return 0;
    return edge_target[static_cast<std::size_t>(it - edge_label.data())];
  }

  std::size_t bytes() const {
    return edge_begin.size() * 4 + edge_label.size() + edge_target.size() * 4 + fail.size() * 4 +
           output_link.size() * 4 + ends_begin.size() * 4 + ends.size() * 4;
  }

  Automaton(const std::vector<std::string>& keywords, const std::vector<std::string>& allowed) {
    for (const auto& entry : allowed) {
      const auto parts = split_pattern(entry);
      for (auto& folded : automod_keyword_folds(parts.core)) {
        allow.push_back(Pattern{std::move(folded), parts.any_start, parts.any_end});
      }
    }
    // The trie, with a child list per node while it grows.
    std::vector<std::vector<std::pair<unsigned char, std::uint32_t>>> next(1);
    std::vector<std::vector<std::uint32_t>> ending(1);
    const auto find_child = [&](std::uint32_t n, unsigned char c) -> std::uint32_t {
      const auto& list = next[n];
      auto it =
          std::lower_bound(list.begin(), list.end(), c, [](const auto& e, unsigned char v) { return e.first < v; });
      return it == list.end() || it->first != c ? 0 : it->second;
    };
    const auto add = [&](Pattern pattern, const std::string& original) {
      const auto index = static_cast<std::uint32_t>(patterns.size());
      patterns.push_back(std::move(pattern));
      originals.push_back(original);
      std::uint32_t n = 0;
      for (char ch : patterns.back().core) {
        const auto c = static_cast<unsigned char>(ch);
        auto found = find_child(n, c);
        if (found == 0) {
          found = static_cast<std::uint32_t>(next.size());
          next.emplace_back();
          ending.emplace_back();
          auto& list = next[n];
          auto it =
              std::lower_bound(list.begin(), list.end(), c, [](const auto& e, unsigned char v) { return e.first < v; });
          list.insert(it, {c, found});
        }
        n = found;
      }
      ending[n].push_back(index);
    };
    // Each keyword as it folds, and as its upper case does where that differs.
    for (const auto& k : keywords) {
      const auto parts = split_pattern(k);
      for (auto& folded : automod_keyword_folds(parts.core))
        add(Pattern{std::move(folded), parts.any_start, parts.any_end}, k);
    }
    // Flat from here on.
    const auto count = next.size();
    edge_begin.reserve(count + 1);
    ends_begin.reserve(count + 1);
    for (std::size_t n = 0; n < count; ++n) {
      edge_begin.push_back(static_cast<std::uint32_t>(edge_label.size()));
      for (const auto& [c, m] : next[n]) {
        edge_label.push_back(c);
        edge_target.push_back(m);
      }
      ends_begin.push_back(static_cast<std::uint32_t>(ends.size()));
      ends.insert(ends.end(), ending[n].begin(), ending[n].end());
    }
    edge_begin.push_back(static_cast<std::uint32_t>(edge_label.size()));
    ends_begin.push_back(static_cast<std::uint32_t>(ends.size()));
    next.clear();
    ending.clear();
    fail.assign(count, 0);
    output_link.assign(count, 0);
    // Breadth first: a node's failure is the longest proper suffix of its path that is a prefix.
    std::deque<std::uint32_t> queue;
    for (auto e = edge_begin[0]; e < edge_begin[1]; ++e) queue.push_back(edge_target[e]);
    while (!queue.empty()) {
      const auto n = queue.front();
      queue.pop_front();
      for (auto e = edge_begin[n]; e < edge_begin[n + 1]; ++e) {
        const auto c = edge_label[e];
        const auto m = edge_target[e];
        std::uint32_t f = fail[n];
        while (f != 0 && child(f, c) == 0) f = fail[f];
        const auto target = child(f, c);
        fail[m] = target != m ? target : 0;
        const auto fm = fail[m];
        output_link[m] = ends_begin[fm] != ends_begin[fm + 1] ? fm : output_link[fm];
        queue.push_back(m);
      }
    }
  }
};

AutomodMatcher::AutomodMatcher(const AutomodRuleSpec& spec)
    : m_trigger(spec.trigger.type), m_mention_limit(spec.trigger.mention_limit), m_domains(spec.trigger.allow_domains) {
  if (m_trigger == AutomodTrigger::keyword) {
    m_automaton = std::make_unique<Automaton>(spec.trigger.keywords, spec.trigger.allow);
    for (const auto& pattern : spec.trigger.regex) {
      auto re = std::make_unique<const RE2>(pattern, regex_options());
      if (re->ok()) m_regexes.push_back(std::move(re));  // checked when the rule was set
    }
  }
}

AutomodMatcher::~AutomodMatcher() = default;

std::size_t AutomodMatcher::footprint() const {
  std::size_t bytes = sizeof(*this);
  for (const auto& d : m_domains) bytes += d.size() + sizeof(std::string);
  if (!m_automaton) return bytes;
  const auto& a = *m_automaton;
  bytes += a.bytes();
  for (const auto& o : a.originals) bytes += o.size() + sizeof(std::string);
  for (const auto& p : a.patterns) bytes += p.core.size() + sizeof(p);  // folded, up to twice the original
  for (const auto& al : a.allow) bytes += al.core.size() + sizeof(al);
  // A regular expression may grow to its memory limit as it runs.
  for (const auto& re : m_regexes) bytes += re->pattern().size() + static_cast<std::size_t>(automod_regex_max_mem);
  return bytes;
}

std::optional<std::string> AutomodMatcher::match(const AutomodText& text, std::size_t mentions) const {
  switch (m_trigger) {
    case AutomodTrigger::keyword:
      if (auto hit = match_keywords(text.folded)) return hit;
      return match_regexes(text);
    case AutomodTrigger::mention_spam:
      if (static_cast<std::int64_t>(mentions) > m_mention_limit) return std::to_string(mentions);
      return std::nullopt;
    case AutomodTrigger::links:
      return match_links(text.plain);
  }
  return std::nullopt;
}

std::optional<std::string> AutomodMatcher::match_keywords(std::string_view text) const {
  const auto& a = *m_automaton;
  const auto& allow = a.allow;
  // A hit on [start, end): bounded by word edges unless its side is a wildcard, and not inside
  // words an allow entry names.
  auto triggers = [&](std::uint32_t index, std::size_t end) {
    const auto& p = a.patterns[index];
    const std::size_t start = end - p.core.size();
    if (!p.any_start && start > 0 && word_byte(text[start - 1]) && word_byte(text[start])) return false;
    if (!p.any_end && end < text.size() && word_byte(text[end]) && word_byte(text[end - 1])) return false;
    if (allow.empty()) return true;
    std::size_t s = start;
    std::size_t e = end;
    while (s > 0 && word_byte(text[s - 1])) --s;
    while (e < text.size() && word_byte(text[e])) ++e;
    const auto span = text.substr(s, e - s);
    return std::none_of(allow.begin(), allow.end(), [&](const Pattern& al) { return allows(al, span); });
  };
  std::uint32_t n = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    while (n != 0 && a.child(n, c) == 0) n = a.fail[n];
    n = a.child(n, c);
    for (std::uint32_t m = n; m != 0; m = a.output_link[m]) {
      for (auto e = a.ends_begin[m]; e < a.ends_begin[m + 1]; ++e) {
        if (triggers(a.ends[e], i + 1)) return a.originals[a.ends[e]];
      }
    }
  }
  return std::nullopt;
}

std::optional<std::string> AutomodMatcher::match_regexes(const AutomodText& text) const {
  const auto& plain = text.plain;
  const auto& allow = m_automaton->allow;
  for (const auto& re : m_regexes) {
    std::size_t from = 0;
    re2::StringPiece hit;
    // The next search starts past `at`, on a character's first byte.
    const auto past = [&](std::size_t at) {
      ++at;
      while (at < plain.size() && (static_cast<unsigned char>(plain[at]) & 0xC0) == 0x80) ++at;
      return at;
    };
    while (from <= plain.size() && re->Match(plain, from, plain.size(), RE2::UNANCHORED, &hit, 1)) {
      const auto start = static_cast<std::size_t>(hit.data() - plain.data());
      const auto end = start + hit.size();
      if (end == start) {  // an empty match (`\b`, `x?`) is no match
        from = past(start);
        continue;
      }
      if (allow.empty()) return re->pattern();
      // The words the match falls in, folded as allow entries are.
      std::size_t s = start;
      std::size_t e = end;
      while (s > 0 && word_byte(plain[s - 1])) --s;
      while (e < plain.size() && word_byte(plain[e])) ++e;
      const auto span = fold_automod_text(std::string_view(plain).substr(s, e - s));
      if (std::none_of(allow.begin(), allow.end(), [&](const Pattern& al) { return allows(al, span); })) {
        return re->pattern();
      }
      from = end;
    }
  }
  return std::nullopt;
}

namespace {

// The top-level domains a bare name (no scheme, no www.) ends in to count as a link: the common
// generic ones and those that scam links favour (free and cheap ones, link shorteners' .ly and
// .gl, Telegram's t.me). Left out on purpose: country codes that are also file extensions or
// words (.rs .py .sh .md .pl .it .is .in .to .us .so .be), .zip and .mov, and .eth (ENS names are
// not links). Sorted.
constexpr std::array<std::string_view, 58> link_tlds = {
    "ai",   "app",   "art",   "bio",     "biz",  "bond",   "buzz", "cc",      "cf",   "cfd",      "claims",  "click",
    "club", "cn",    "co",    "com",     "cyou", "de",     "dev",  "digital", "eu",   "exchange", "finance", "fun",
    "ga",   "gg",    "gift",  "gl",      "gq",   "icu",    "info", "io",      "link", "live",     "ly",      "me",
    "ml",   "money", "net",   "network", "nft",  "online", "org",  "pro",     "pw",   "ru",       "sbs",     "shop",
    "site", "space", "store", "su",      "tech", "tk",     "top",  "uk",      "vip",  "xyz"};
static_assert(std::is_sorted(link_tlds.begin(), link_tlds.end()));

bool host_byte(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// A bare domain name at text[i]: labels of [a-z0-9-] joined by dots, at least two, the last a
// link_tlds entry, not glued to a word, an address (`@`) or a path (`/`, `:`). Its length in
// `length`, or 0.
std::string_view bare_domain_at(std::string_view text, std::size_t i, std::size_t& length) {
  length = 0;
  if (!host_byte(text[i])) return {};
  if (i > 0) {
    const char p = text[i - 1];
    if (host_byte(p) || word_byte(p) || p == '.' || p == '_' || p == '@' || p == '/' || p == ':' || p == '\\')
      return {};
  }
  std::size_t end = i;
  while (end < text.size() && (host_byte(text[end]) || text[end] == '.')) ++end;
  length = end - i;
  if (end < text.size() && (word_byte(text[end]) || text[end] == '_' || text[end] == '@')) return {};
  auto name = text.substr(i, end - i);
  while (!name.empty() && (name.back() == '.' || name.back() == '-')) name.remove_suffix(1);
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return {};
  if (!std::binary_search(link_tlds.begin(), link_tlds.end(), name.substr(dot + 1))) return {};
  for (std::size_t from = 0; from <= name.size();) {
    auto next = name.find('.', from);
    if (next == std::string_view::npos) next = name.size();
    const auto label = name.substr(from, next - from);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return {};
    from = next + 1;
  }
  return name;
}

}  // namespace

std::optional<std::string> AutomodMatcher::match_links(std::string_view text) const {
  // A link: http:// or https:// then its authority, or a bare www. name. The host is what follows
  // the last `@` of the authority (so "https://trusted.org@evil.example" is evil.example), without
  // port or trailing dot.
  auto host_at = [&](std::size_t from) {
    std::size_t end = from;
    while (end < text.size()) {
      const char c = text[end];
      if (c == '/' || c == '?' || c == '#' || c == ' ' || c == '<' || c == '>' || c == '"' || c == '\'' || c == '\\' ||
          c == ')' || c == ']' || c == '|' || c == '`')
        break;
      ++end;
    }
    auto authority = text.substr(from, end - from);
    if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
    if (auto colon = authority.find(':'); colon != std::string_view::npos) authority = authority.substr(0, colon);
    while (!authority.empty() && (authority.back() == '.' || authority.back() == ',')) authority.remove_suffix(1);
    return std::string(authority);
  };
  auto allowed = [&](std::string_view host) {
    return std::any_of(m_domains.begin(), m_domains.end(), [&](const std::string& d) {
      if (host == d) return true;
      return host.size() > d.size() && host.substr(host.size() - d.size()) == d &&
             host[host.size() - d.size() - 1] == '.';
    });
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    std::optional<std::size_t> from;
    if (text.compare(i, 7, "http://") == 0) {
      from = i + 7;
    } else if (text.compare(i, 8, "https://") == 0) {
      from = i + 8;
    } else if (text.compare(i, 4, "www.") == 0 && (i == 0 || !word_byte(text[i - 1])) &&
               (i < 2 || text.compare(i - 2, 2, "//") != 0)) {
      from = i;
    }
    if (!from) continue;
    auto host = host_at(*from);
    if (host.empty()) continue;
    if (!allowed(host)) return host;
  }
  // Bare names (`uniswap-claim.xyz/airdrop`, `t.me/invite`), as scam links are written.
  for (std::size_t i = 0; i < text.size();) {
    std::size_t length = 0;
    auto host = bare_domain_at(text, i, length);
    if (!host.empty() && !allowed(host)) return std::string(host);
    i += std::max<std::size_t>(length, 1);
  }
  return std::nullopt;
}

}  // namespace gh::community
