#pragma once
// How message search reads text: the terms of a message body that the search index holds, and the
// terms of a query, by one rule, so that a query matches exactly the messages holding every one of
// its terms. Pure (glibc's C.UTF-8 character tables, no I/O).
//
// A term is a word in lowercase: a maximal run of letters and digits (Unicode's, as glibc's C.UTF-8
// classifies them; combining marks continue a word), cut to max_term_bytes on a character boundary.
// Scripts written without spaces between words (Han, Hiragana, Katakana, Hangul) are read as their
// overlapping pairs of characters, or the character alone in a run of one: "東京タワー" holds 東京,
// 京タ, タワ and ワー, so that a query of 東京 finds it. Everything else (spaces, punctuation,
// symbols, emoji) separates words. `@0x…` mentions and addresses in text are words like any other.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gh::messaging {

/// A term's longest form in bytes; longer words are cut (in the index and in queries alike).
inline constexpr std::size_t max_term_bytes = 64;
/// The most terms one query may have.
inline constexpr std::size_t max_query_terms = 16;
/// The longest query, in bytes.
inline constexpr std::size_t max_query_bytes = 512;

/// The distinct terms of `text` (valid UTF-8), sorted.
std::vector<std::string> search_terms(std::string_view text);

/// The distinct terms of a query, sorted: 400 `invalid_query` when it is not UTF-8, longer than
/// max_query_bytes, has no term, or has more than max_query_terms.
Result<std::vector<std::string>> parse_search_query(std::string_view query);

// What a search may ask of a message beyond its words (Discord's `has:` and `mentions:`), as terms
// the index holds beside the words. Each holds a ':', which no word does.

/// A message whose body holds a link (holds_link).
inline constexpr std::string_view has_link_term = "has:link";
/// A message carrying a poll.
inline constexpr std::string_view has_poll_term = "has:poll";
/// A message forwarding another.
inline constexpr std::string_view has_forward_term = "has:forward";
/// The term of a message whose body mentions the account `account_hex` (0x and 40 lowercase hex
/// digits).
std::string mention_term(std::string_view account_hex);
/// Whether `text` holds a link: `http://` or `https://` (any case) followed by a character other
/// than a space, or a word starting `www.` and a letter or digit.
bool holds_link(std::string_view text);
/// The filter term of a `has` value (`link`, `poll`, `forward`); 400 `invalid_has` for any other.
Result<std::string> has_term(std::string_view value);

}  // namespace gh::messaging
