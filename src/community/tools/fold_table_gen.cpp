// Generates the table behind community::fold_automod_text (community/fold.hpp) from ICU's Unicode
// data, at build time: for every assigned code point, what AutoMod's keyword matching sees in its
// place. The server itself never links ICU.
//
// What a code point folds to: its compatibility decomposition (NFKD: full-width and mathematical
// letters, ligatures, circled letters, superscripts), without default-ignorable characters (zero
// width, variation selectors, tags, fillers) and the combining diacritical marks (accents, and
// the marks "zalgo" text piles up), case-folded (`ß` is `ss`), then its confusable skeleton
// (Unicode Technical Standard #39: Cyrillic `а` and Greek `ο` look like Latin `a` and `o`), folded
// again; or, for a letter whose own shape looks like ASCII, the skeleton of that shape, then case
// (Cyrillic `М` looks like `M`, its lower case `м` like no Latin letter; see fold() below).
// Composed again (NFC).
// The table is then closed: a code point's fold is folded again, code point by code point, until
// nothing changes, so folding a folded text changes nothing. Whitespace folds to one space.
//
//   fold_table_gen <output.inc>
//
// writes `fold_pool` (the folds' UTF-8 bytes) and `fold_entries` (code point, offset and length in
// the pool), sorted by code point, for every code point whose fold is not itself; and
// `fold_upper_entries`, the fold of a code point's upper case where it is not the code point's own
// fold (what a keyword is also matched as).
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/uniset.h>
#include <unicode/unistr.h>
#include <unicode/uspoof.h>
#include <unicode/uversion.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

namespace {

constexpr UChar32 max_code_point = 0x10FFFF;

bool diacritic(UChar32 c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x1AB0 && c <= 0x1AFF) || (c >= 0x1DC0 && c <= 0x1DFF) ||
         (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE20 && c <= 0xFE2F);
}

// Drops default-ignorable code points and diacritical marks; whitespace becomes a space.
icu::UnicodeString strip(const icu::UnicodeString& s) {
  icu::UnicodeString out;
  for (int32_t i = 0; i < s.length();) {
    const UChar32 c = s.char32At(i);
    i += U16_LENGTH(c);
    if (u_hasBinaryProperty(c, UCHAR_DEFAULT_IGNORABLE_CODE_POINT) || diacritic(c)) continue;
    if (u_isUWhiteSpace(c) || c == '\t' || c == '\n' || c == '\r') {
      out.append(static_cast<UChar>(' '));
      continue;
    }
    out.append(c);
  }
  return out;
}

bool ascii(const std::u32string& s) {
  for (char32_t c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

struct Icu {
  USpoofChecker* spoof = nullptr;
  const icu::Normalizer2* nfkd = nullptr;
  const icu::Normalizer2* nfc = nullptr;

  void check(UErrorCode status) const {
    if (U_FAILURE(status)) {
      std::cerr << "fold_table_gen: " << u_errorName(status) << "\n";
      std::exit(1);
    }
  }

  icu::UnicodeString decompose(const icu::UnicodeString& in) const {
    UErrorCode status = U_ZERO_ERROR;
    auto out = strip(nfkd->normalize(in, status));
    check(status);
    return out;
  }

  icu::UnicodeString skeleton(const icu::UnicodeString& in) const {
    UErrorCode status = U_ZERO_ERROR;
    icu::UnicodeString out;
    uspoof_getSkeletonUnicodeString(spoof, 0, in, out, &status);
    check(status);
    return decompose(out);
  }

  // Case first, then the look-alike: Cyrillic `І` is `і`, then `i`, as Latin `I` is `i`.
  icu::UnicodeString case_first(const icu::UnicodeString& in) const {
    auto s = decompose(in);
    s.foldCase();
    s = skeleton(s);
    s.foldCase();
    return s;
  }

  // The look-alike of the shape as it is (the skeleton decomposes canonically, not for
  // compatibility: `ϲ` would become `ς`), then case: Cyrillic `М` is `M`, then `m`, where its lower
  // case `м` is no Latin letter's look-alike.
  icu::UnicodeString skeleton_first(const icu::UnicodeString& in) const {
    auto s = skeleton(strip(in));
    s.foldCase();
    return s;
  }

  std::u32string code_points(const icu::UnicodeString& s) const {
    UErrorCode status = U_ZERO_ERROR;
    const auto composed = nfc->normalize(s, status);
    check(status);
    std::u32string out;
    for (int32_t i = 0; i < composed.length();) {
      const UChar32 d = composed.char32At(i);
      i += U16_LENGTH(d);
      out.push_back(static_cast<char32_t>(d));
    }
    return out;
  }

  // A letter's look-alike is that of its own shape, before case folding changes it (Greek `Β` is
  // `B`, where `β` looks like `ß`; `Ν` is `N`, where `ν` looks like `v`; lunate `ϲ` is `c`, where
  // case folding makes it `σ`), so the look-alike comes first when it is ASCII. But a text's ASCII
  // letters are lower-cased before they are folded, so a letter that decomposes to ASCII is
  // lower-cased first too (`Ｉ` is `i`, as `I` is), and so is one whose lower case folds to `i`
  // (Cyrillic `І`, Greek `Ι`), where the skeleton would make them `l`. Each twice, so that a
  // look-alike's look-alike is reached.
  std::u32string fold(UChar32 c) const {
    const icu::UnicodeString in(c);
    auto lower = code_points(case_first(case_first(in)));
    if (ascii(code_points(decompose(in)))) return lower;
    if (lower == U"i") return lower;
    auto look = code_points(case_first(skeleton_first(in)));
    if (ascii(look)) return look;
    return lower;
  }
};

bool folded(UChar32 c) {
  if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') return false;  // controls stay (messages refuse them)
  if (c >= 0xD800 && c <= 0xDFFF) return false;
  const auto type = u_charType(c);
  return type != U_UNASSIGNED && type != U_PRIVATE_USE_CHAR && type != U_SURROGATE;
}

void utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: fold_table_gen <output.inc>\n";
    return 2;
  }
  UErrorCode status = U_ZERO_ERROR;
  Icu icu;
  icu.spoof = uspoof_open(&status);
  icu.nfkd = icu::Normalizer2::getNFKDInstance(status);
  icu.nfc = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status)) {
    std::cerr << "fold_table_gen: ICU: " << u_errorName(status) << "\n";
    return 1;
  }

  // One pass per code point, then closed under folding again.
  std::map<char32_t, std::u32string> table;
  for (UChar32 c = 0; c <= max_code_point; ++c) {
    if (!folded(c)) continue;
    auto f = icu.fold(c);
    if (f.size() != 1 || f[0] != static_cast<char32_t>(c)) table.emplace(static_cast<char32_t>(c), std::move(f));
  }
  const auto apply = [&](const std::u32string& s) {
    std::u32string out;
    for (char32_t c : s) {
      auto it = table.find(c);
      if (it == table.end()) {
        out.push_back(c);
      } else {
        out += it->second;
      }
    }
    return out;
  };
  for (int round = 0;; ++round) {
    std::size_t changed = 0;
    for (auto& [c, f] : table) {
      auto again = apply(f);
      if (again != f) {
        f = std::move(again);
        ++changed;
      }
    }
    if (changed == 0) break;
    if (round == 8) {
      std::cerr << "fold_table_gen: the table does not settle\n";
      return 1;
    }
  }

  // A keyword is also matched as its upper case folds, where that differs: Cyrillic `к` has no
  // Latin look-alike, its upper case `К` has (`K`), so text in capitals folds another way.
  std::map<char32_t, std::u32string> upper;
  for (UChar32 c = 0; c <= max_code_point; ++c) {
    if (!folded(c)) continue;
    const UChar32 u = u_toupper(c);
    if (u == c) continue;
    auto own = apply(std::u32string(1, static_cast<char32_t>(c)));
    auto raised = apply(std::u32string(1, static_cast<char32_t>(u)));
    if (raised != own) upper.emplace(static_cast<char32_t>(c), std::move(raised));
  }

  std::string pool;
  std::map<std::string, std::size_t> offsets;
  std::size_t longest = 0;
  const auto entries_of = [&](const std::map<char32_t, std::u32string>& folds) {
    std::vector<std::tuple<char32_t, std::size_t, std::size_t>> entries;
    for (const auto& [c, f] : folds) {
      std::string bytes;
      for (char32_t d : f) utf8(bytes, d);
      std::string own;
      utf8(own, c);
      if (bytes == own) continue;
      auto [it, fresh] = offsets.emplace(bytes, pool.size());
      if (fresh) pool += bytes;
      entries.emplace_back(c, it->second, bytes.size());
      longest = std::max(longest, bytes.size());
    }
    return entries;
  };
  const auto entries = entries_of(table);
  const auto upper_entries = entries_of(upper);

  std::ofstream out(argv[1], std::ios::binary);
  UVersionInfo version;
  u_getUnicodeVersion(version);
  char unicode[U_MAX_VERSION_STRING_LENGTH];
  u_versionToString(version, unicode);
  out << "// Generated by fold_table_gen from ICU " << U_ICU_VERSION << " (Unicode " << unicode << "). Do not edit.\n";
  out << "inline constexpr char fold_unicode_version[] = \"" << unicode << "\";\n";
  out << "inline constexpr std::size_t fold_longest = " << longest << ";\n";
  out << "inline constexpr unsigned char fold_pool[] = {";
  for (std::size_t i = 0; i < pool.size(); ++i) {
    if (i % 24 == 0) out << "\n";
    out << static_cast<unsigned>(static_cast<unsigned char>(pool[i])) << ",";
  }
  out << "\n};\n";
  const auto write = [&](const char* name, const std::vector<std::tuple<char32_t, std::size_t, std::size_t>>& list) {
    out << "inline constexpr FoldEntry " << name << "[] = {";
    std::size_t n = 0;
    for (const auto& [c, offset, length] : list) {
      if (n++ % 6 == 0) out << "\n";
      out << "{" << static_cast<std::uint32_t>(c) << "," << offset << "," << length << "},";
    }
    out << "\n};\n";
  };
  write("fold_entries", entries);
  write("fold_upper_entries", upper_entries);
  if (!out) {
    std::cerr << "fold_table_gen: cannot write " << argv[1] << "\n";
    return 1;
  }
  uspoof_close(icu.spoof);
  std::cerr << "fold_table_gen: " << entries.size() << " code points, " << upper_entries.size() << " upper-case folds, "
            << pool.size() << " bytes\n";
  return 0;
}
