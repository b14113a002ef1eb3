// What AutoMod's fold costs a message, against ICU doing the same kind of work at run time, in the
// same run on the same texts:
//   - gatehouse: automod_text (normalize, then fold through the table generated at build time);
//   - ICU: the UTS #39 way, per message: NFKD, the confusable skeleton (uspoof), case folding;
//   - screen: automod_text and a keyword rule of 1,000 keywords matched on it, what a post pays
//     per rule.
// Texts: 200 bytes and 4 KiB, plain ASCII chat and the same words disguised (full-width,
// mathematical and Cyrillic look-alikes, accents, zero-width characters). Each measurement is
// repeated; the table shows medians (ns per message) and the ratio gatehouse / ICU.
//
//   gh_automod_bench [--reps N] [--iterations N]
#include <unicode/normalizer2.h>
#include <unicode/unistr.h>
#include <unicode/uspoof.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "community/automod.hpp"
#include "core/utf8.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace gh::community;

const std::vector<std::string> plain_words = {"gm",    "frens",  "the",    "mint",    "is",      "live",
                                              "check", "pinned", "wallet", "connect", "airdrop", "soon",
                                              "floor", "price",  "ser",    "wen",     "token"};
// Each word's disguises: full width, mathematical bold, Cyrillic look-alikes, accents, zero width.
std::string disguise(const std::string& w, std::mt19937& rng) {
  std::string out;
  for (char c : w) {
    switch (rng() % 6) {
      case 0:  // full width
        gh::append_utf8(out, 0xFF41 + static_cast<unsigned>(c - 'a'));
        break;
      case 1:  // mathematical bold small
        gh::append_utf8(out, 0x1D41A + static_cast<unsigned>(c - 'a'));
        break;
      case 2:
        out.push_back(c);
        gh::append_utf8(out, 0x0301);  // an accent
        break;
      case 3:
        out.push_back(c);
        gh::append_utf8(out, 0x200B);  // zero width
        break;
      default:
        if (c == 'a') {
          gh::append_utf8(out, 0x0430);
        } else if (c == 'e') {
          gh::append_utf8(out, 0x0435);
        } else if (c == 'o') {
          gh::append_utf8(out, 0x043E);
        } else {
          out.push_back(c);
        }
    }
  }
  return out;
}

// A text of about `bytes` bytes of chat, plain or disguised.
std::string text_of(std::size_t bytes, bool disguised, std::mt19937& rng) {
  std::string out;
  while (out.size() < bytes) {
    const auto& w = plain_words[rng() % plain_words.size()];
    auto piece = disguised ? disguise(w, rng) : w;
    if (out.size() + piece.size() + 1 > bytes) break;
    if (!out.empty()) out.push_back(' ');
    out += piece;
  }
  return out;
}

struct Icu {
  USpoofChecker* spoof = nullptr;
  const icu::Normalizer2* nfkd = nullptr;
  Icu() {
    UErrorCode status = U_ZERO_ERROR;
    spoof = uspoof_open(&status);
    nfkd = icu::Normalizer2::getNFKDInstance(status);
    if (U_FAILURE(status)) {
      std::fprintf(stderr, "ICU: %s\n", u_errorName(status));
      std::exit(1);
    }
  }
  ~Icu() { uspoof_close(spoof); }
  Icu(const Icu&) = delete;
  Icu& operator=(const Icu&) = delete;

  std::string fold(const std::string& text) const {
    UErrorCode status = U_ZERO_ERROR;
    const auto decomposed = nfkd->normalize(icu::UnicodeString::fromUTF8(text), status);
    icu::UnicodeString skeleton;
    uspoof_getSkeletonUnicodeString(spoof, 0, decomposed, skeleton, &status);
    skeleton.foldCase();
    std::string out;
    skeleton.toUTF8String(out);
    return out;
  }
};

// Median ns per call of `work` over `reps` repetitions of `iterations` calls.
double median_ns(int reps, int iterations, const std::function<std::size_t()>& work) {
  std::vector<double> samples;
  std::size_t sink = 0;
  for (int r = 0; r < reps; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < iterations; ++i) sink += work();
    const std::chrono::duration<double, std::nano> took = Clock::now() - start;
    samples.push_back(took.count() / iterations);
  }
  if (sink == 0) std::fprintf(stderr, "(nothing produced)\n");
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  int iterations = 2000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--reps") {
      reps = std::max(1, std::atoi(argv[i + 1]));
    } else if (flag == "--iterations") {
      iterations = std::max(1, std::atoi(argv[i + 1]));
    } else {
      std::fprintf(stderr, "usage: gh_automod_bench [--reps N] [--iterations N]\n");
      return 2;
    }
  }
  std::mt19937 rng(42);
  // A rule of 1,000 keywords, as large as a rule gets.
  AutomodRulePatch patch;
  patch.name = "bench";
  AutomodTriggerSpec trigger;
  for (int i = 0; i < 1000; ++i) {
    std::string k;
    for (int j = 0; j < 6 + i % 10; ++j) k.push_back(static_cast<char>('a' + rng() % 26));
    trigger.keywords.push_back(std::move(k));
  }
  patch.trigger = trigger;
  const auto spec = new_automod_rule(patch);
  if (!spec) {
    std::fprintf(stderr, "rule: %s\n", spec.error().message.c_str());
    return 1;
  }
  const AutomodMatcher matcher(*spec);
  const Icu icu;

  std::printf("AutoMod fold, ns per message (median of %d x %d), Unicode %s\n", reps, iterations,
              std::string(automod_fold_unicode_version()).c_str());
  std::printf(
      "| text | bytes | normalize only | gatehouse fold (automod_text) | ICU NFKD + skeleton + case fold | "
      "ratio | screen, 1,000 keywords |\n|---|---|---|---|---|---|---|\n");
  for (const std::size_t bytes : {std::size_t{200}, std::size_t{4096}}) {
    for (const bool disguised : {false, true}) {
      const auto text = text_of(bytes, disguised, rng);
      const auto normalize = median_ns(reps, iterations, [&] { return normalize_automod_text(text).size(); });
      const auto ours = median_ns(reps, iterations, [&] { return automod_text(text).folded.size(); });
      const auto theirs = median_ns(reps, iterations, [&] { return icu.fold(text).size(); });
      const auto screen = median_ns(reps, iterations, [&] {
        const auto seen = automod_text(text);
        return matcher.match(seen, 0) ? std::size_t{2} : std::size_t{1};
      });
      std::printf("| %s | %zu | %.0f | %.0f | %.0f | %.2fx | %.0f |\n", disguised ? "disguised" : "plain", text.size(),
                  normalize, ours, theirs, ours / theirs, screen);
    }
  }
  return 0;
}
