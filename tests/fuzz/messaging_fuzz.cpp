// What messaging reads from a message body that anyone may post: the search terms
// (messaging/search_text.hpp), a search query, and the mentions. Any bytes, valid UTF-8 or not:
//   - terms are sorted and distinct, each 1 to 64 bytes of valid UTF-8, and a term read again as a
//     text is that one term (the index and a query agree on it);
//   - a query that parses has the terms its text has, at most 16, from at most 512 bytes;
//   - mentions are at most 50, distinct, and each appears in the body;
//   - a reply's preview of the text is valid UTF-8 of at most 100 bytes, a prefix of it when the
//     text is valid;
//   - a poll asking the text, or answering with its lines, passes check_poll only within its limits.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/utf8.hpp"
#include "eth/address.hpp"
#include "messaging/model.hpp"
#include "messaging/search_text.hpp"

namespace {

void check(bool ok) {
  if (!ok) __builtin_trap();
}

std::string lower_ascii(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  using namespace gh::messaging;

  const auto terms = search_terms(text);
  check(std::is_sorted(terms.begin(), terms.end()));
  check(std::adjacent_find(terms.begin(), terms.end()) == terms.end());
  for (const auto& term : terms) {
    check(!term.empty() && term.size() <= max_term_bytes);
    check(gh::valid_utf8(term));
    check(search_terms(term) == std::vector<std::string>{term});
  }

  auto query = parse_search_query(text);
  if (query) {
    check(*query == terms);
    check(!query->empty() && query->size() <= max_query_terms);
    check(text.size() <= max_query_bytes && gh::valid_utf8(text));
  } else {
    check(query.error().code == "invalid_query");
    check(terms.empty() || terms.size() > max_query_terms || text.size() > max_query_bytes || !gh::valid_utf8(text));
  }

  const auto mentions = parse_mentions(text);
  check(mentions.accounts.size() + mentions.roles.size() <= max_mentions);
  const auto body = lower_ascii(text);
  for (std::size_t i = 0; i < mentions.accounts.size(); ++i) {
    const auto hex = gh::eth::to_lower_hex(mentions.accounts[i]);
    check(body.find("@" + hex) != std::string::npos);
    for (std::size_t j = 0; j < i; ++j) check(!(mentions.accounts[j] == mentions.accounts[i]));
  }
  for (std::size_t i = 0; i < mentions.roles.size(); ++i) {
    check(body.find("@&" + mentions.roles[i]) != std::string::npos);
    for (std::size_t j = 0; j < i; ++j) check(mentions.roles[j] != mentions.roles[i]);
  }

  Message parent;
  parent.body = std::string(text);
  const auto preview = preview_of(parent);
  check(preview.body.size() <= reply_preview_bytes);
  if (gh::valid_utf8(text)) {
    check(gh::valid_utf8(preview.body));
    check(text.substr(0, preview.body.size()) == preview.body);
  }

  PollSpec poll;
  poll.question = std::string(text.substr(0, text.find('\n')));
  std::string_view rest =
      text.find('\n') == std::string_view::npos ? std::string_view() : text.substr(text.find('\n') + 1);
  while (!rest.empty() && poll.answers.size() <= max_poll_answers) {
    const auto nl = rest.find('\n');
    poll.answers.emplace_back(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }
  if (check_poll(poll)) {
    check(!poll.question.empty() && poll.question.size() <= max_poll_question_bytes && gh::valid_utf8(poll.question));
    check(poll.answers.size() >= min_poll_answers && poll.answers.size() <= max_poll_answers);
    for (const auto& a : poll.answers) check(!a.empty() && a.size() <= max_poll_answer_bytes && gh::valid_utf8(a));
  }
  return 0;
}
