#include "messaging/model.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "core/display_name.hpp"
#include "core/utf8.hpp"

namespace gh::messaging {

namespace json = boost::json;

Result<void> check_body(std::string_view body) {
  if (body.size() > max_body_bytes) {
    return make_error(ErrorKind::too_large, "body_too_large",
                      "a message body is at most " + std::to_string(max_body_bytes) + " bytes");
  }
  if (body.empty()) return bad_input("invalid_body", "a message body may not be empty");
  if (!valid_utf8(body)) return bad_input("invalid_body", "a message body must be valid UTF-8");
  for (char ch : body) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) {
      return bad_input("invalid_body", "a message body may not contain control characters");
    }
  }
  const bool blank =
      std::all_of(body.begin(), body.end(), [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
  if (blank) return bad_input("invalid_body", "a message body may not be blank");
  return ok();
}

bool valid_report_reason(std::string_view reason) {
  return reason == "spam" || reason == "scam" || reason == "harassment" || reason == "nsfw" || reason == "other";
}

bool valid_report_status(std::string_view status) {
  return status == "open" || status == "resolved" || status == "dismissed";
}

Result<void> check_report_text(std::string_view text, std::string_view code) {
  if (text.empty()) return ok();
  if (text.size() > max_report_note_bytes || !check_body(text)) {
    return bad_input(std::string(code),
                     "at most " + std::to_string(max_report_note_bytes) + " bytes of text, as a message body");
  }
  return ok();
}

namespace {

// A poll's text: as a message body, within `max_bytes`.
bool poll_text_ok(std::string_view text, std::size_t max_bytes) {
  return text.size() <= max_bytes && static_cast<bool>(check_body(text));
}

}  // namespace

Result<void> check_poll(const PollSpec& poll) {
  if (!poll_text_ok(poll.question, max_poll_question_bytes)) {
    return bad_input("invalid_poll", "a poll's question is 1 to " + std::to_string(max_poll_question_bytes) +
                                         " bytes of text, as a message body");
  }
  if (poll.answers.size() < min_poll_answers || poll.answers.size() > max_poll_answers) {
    return bad_input("invalid_poll", "a poll has 2 to 10 answers");
  }
  for (std::size_t i = 0; i < poll.answers.size(); ++i) {
    if (!poll_text_ok(poll.answers[i], max_poll_answer_bytes)) {
      return bad_input("invalid_poll", "each answer is 1 to " + std::to_string(max_poll_answer_bytes) +
                                           " bytes of text, as a message body");
    }
    if (std::find(poll.answers.begin(), poll.answers.begin() + static_cast<std::ptrdiff_t>(i), poll.answers[i]) !=
        poll.answers.begin() + static_cast<std::ptrdiff_t>(i)) {
      return bad_input("invalid_poll", "a poll's answers are distinct");
    }
  }
  if (poll.duration_hours < min_poll_hours || poll.duration_hours > max_poll_hours) {
    return bad_input("invalid_poll",
                     "duration_hours is " + std::to_string(min_poll_hours) + " to " + std::to_string(max_poll_hours));
  }
  return ok();
}

Result<void> check_client_id(std::string_view id) {
  const bool good = !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == '-' || c == ':';
  });
  if (!good) return bad_input("invalid_client_id", "client_id must be 1 to 64 of A-Z a-z 0-9 . _ - :");
  return ok();
}

void drop_suppressed(std::vector<std::string>& roles, std::string_view community_id, const MentionSuppression& s) {
  if (community_id.empty()) return;
  const auto in = [&](const std::vector<std::string>& ids) {
    return std::find(ids.begin(), ids.end(), community_id) != ids.end();
  };
  const bool everyone = in(s.everyone);
  const bool others = in(s.roles);
  std::erase_if(roles, [&](const std::string& role) { return role == everyone_role ? everyone : others; });
}

bool valid_channel_id(std::string_view id) {
  return !id.empty() && id.size() <= 128 &&
         std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f && c != ':' && c != '/'; });
}

Result<void> check_emoji(std::string_view emoji) {
  // Others see it beside the message: a display name (no C1 controls, bidi overrides or
  // separators) without spaces.
  const bool good =
      emoji.size() <= 32 && is_display_name(emoji, 32) && std::none_of(emoji.begin(), emoji.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c <= 0x20 || c == 0x7f;
      });
  if (!good) return bad_input("invalid_emoji", "a reaction is 1 to 32 bytes of UTF-8 without spaces");
  return ok();
}

namespace {

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_word(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_role_char(char c) {
  return is_word(c) || c == '-';
}

}  // namespace

Mentions parse_mentions(std::string_view body, std::size_t limit) {
  Mentions out;
  std::size_t i = 0;
  while (i < body.size() && out.accounts.size() + out.roles.size() < limit) {
    const auto at = body.find('@', i);
    if (at == std::string_view::npos) break;
    i = at + 1;
    // A mention starts a word: "a@0x…" (an e-mail-like string) is not one.
    if (at > 0 && is_word(body[at - 1])) continue;
    if (body.substr(i, 2) == "0x" && i + 42 <= body.size()) {
      const auto hex = body.substr(i + 2, 40);
      const bool all_hex = std::all_of(hex.begin(), hex.end(), is_hex);
      const bool ends = i + 42 == body.size() || !is_word(body[i + 42]);
      if (all_hex && ends) {
        // Any case is accepted (API.md), a wrong EIP-55 checksum included: chat text is typed.
        std::string lower(body.substr(i, 42));
        for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (auto address = eth::parse_address(lower)) {
          if (std::find(out.accounts.begin(), out.accounts.end(), *address) == out.accounts.end()) {
            out.accounts.push_back(*address);
          }
          i += 42;
        }
      }
      continue;
    }
    if (i < body.size() && body[i] == '&') {
      std::size_t j = i + 1;
      while (j < body.size() && j - i - 1 < 64 && is_role_char(body[j])) ++j;
      if (j > i + 1) {
        std::string role(body.substr(i + 1, j - i - 1));
        for (auto& ch : role) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (std::find(out.roles.begin(), out.roles.end(), role) == out.roles.end())
          out.roles.push_back(std::move(role));
      }
      i = j;
    }
  }
  return out;
}

ReplyPreview preview_of(const Message& parent) {
  ReplyPreview p;
  p.author = parent.author;
  p.deleted = parent.deleted_at.has_value();
  if (!p.deleted) p.body = std::string(utf8_prefix(parent.body, reply_preview_bytes));
  return p;
}

json::object report_json(const Report& r) {
  json::object o{{"id", r.id},
                 {"channel_id", r.channel_id},
                 {"seq", r.seq},
                 {"message_id", r.message_id},
                 {"author", eth::to_checksum(r.author)},
                 {"body", r.body},
                 {"reporter", eth::to_checksum(r.reporter)},
                 {"reason", r.reason},
                 {"note", r.note},
                 {"status", r.status},
                 {"resolution", r.resolution},
                 {"created_at", format_rfc3339(r.created_at)},
                 {"message_reports", r.message_reports}};
  o["resolved_by"] = r.resolved_by ? json::value(eth::to_checksum(*r.resolved_by)) : json::value(nullptr);
  o["resolved_at"] = r.resolved_at ? json::value(format_rfc3339(*r.resolved_at)) : json::value(nullptr);
  return o;
}

json::object reporter_report_json(const Report& r) {
  auto o = report_json(r);
  o.erase("resolution");
  o.erase("resolved_by");
  o.erase("message_reports");
  return o;
}

json::object message_json(const Message& m) {
  json::object o;
  o["id"] = m.id;
  o["channel_id"] = m.channel_id;
  o["seq"] = m.seq;
  o["author"] = eth::to_checksum(m.author);
  o["client_id"] = m.client_id;
  o["body"] = m.body;
  if (m.reply_to) o["reply_to"] = *m.reply_to;
  if (m.silent) o["silent"] = true;
  if (m.system) {
    json::object system{{"kind", m.system->kind}};
    for (const auto& [key, value] : m.system->data) {
      if (key != "kind") system[key] = value;
    }
    o["system"] = std::move(system);
  }
  if (m.forward) o["forward"] = forward_json(*m.forward);
  if (m.thread) o["thread"] = json::object{{"id", m.thread->id}, {"name", m.thread->name}};
  if (m.reply_preview) {
    o["reply_preview"] = json::object{{"author", eth::to_checksum(m.reply_preview->author)},
                                      {"body", m.reply_preview->body},
                                      {"deleted", m.reply_preview->deleted}};
  }
  json::array mentions;
  for (const auto& a : m.mentions) mentions.emplace_back(eth::to_checksum(a));
  o["mentions"] = std::move(mentions);
  json::array roles;
  for (const auto& r : m.mention_roles) roles.emplace_back(r);
  o["mention_roles"] = std::move(roles);
  o["created_at"] = format_rfc3339(m.created_at);
  if (m.edited_at) o["edited_at"] = format_rfc3339(*m.edited_at);
  o["deleted"] = m.deleted_at.has_value();
  o["change"] = m.change;
  json::array reactions;
  for (const auto& r : m.reactions) {
    reactions.emplace_back(json::object{{"emoji", r.emoji}, {"count", r.count}, {"me", r.mine}});
  }
  o["reactions"] = std::move(reactions);
  o["pinned"] = m.pin.has_value();
  if (m.poll) {
    json::array answers;
    std::int64_t total = 0;
    for (std::size_t i = 0; i < m.poll->answers.size(); ++i) {
      const auto votes = i < m.poll->votes.size() ? m.poll->votes[i] : 0;
      total += votes;
      answers.emplace_back(json::object{{"id", static_cast<std::int64_t>(i + 1)},
                                        {"text", m.poll->answers[i]},
                                        {"votes", votes},
                                        {"me", i < m.poll->mine.size() && m.poll->mine[i]}});
    }
    o["poll"] = json::object{{"question", m.poll->question},
                             {"answers", std::move(answers)},
                             {"multiple", m.poll->multiple},
                             {"ends_at", format_rfc3339(m.poll->ends_at)},
                             {"total_votes", total}};
  }
  return o;
}

std::optional<SystemTime> thread_archived_at(const Thread& t, SystemTime now) {
  if (t.archived_at) return t.archived_at;
  if (t.pinned) return std::nullopt;  // a pinned post stays until archived by hand
  const auto expires = t.last_activity + std::chrono::minutes(t.auto_archive_minutes);
  if (now >= expires) return expires;
  return std::nullopt;
}

bool thread_archived(const Thread& t, SystemTime now) {
  return thread_archived_at(t, now).has_value();
}

json::object thread_json(const Thread& t, SystemTime now) {
  json::object o{{"id", t.id}, {"channel_id", t.channel_id}};
  if (t.seq) {
    o["seq"] = *t.seq;
  } else {
    o["seq"] = nullptr;
  }
  o["name"] = t.name;
  o["creator"] = eth::to_checksum(t.creator);
  o["created_at"] = format_rfc3339(t.created_at);
  o["auto_archive_minutes"] = t.auto_archive_minutes;
  const auto archived = thread_archived_at(t, now);
  o["archived"] = archived.has_value();
  if (archived) {
    o["archived_at"] = format_rfc3339(*archived);
  } else {
    o["archived_at"] = nullptr;
  }
  o["locked"] = t.locked;
  o["last_seq"] = t.last_seq;
  o["last_message_at"] = format_rfc3339(t.last_activity);
  o["message_count"] = t.message_count;
  o["member_count"] = t.member_count;
  o["slow_mode_seconds"] = t.slow_mode_seconds;
  o["private"] = t.is_private;
  o["invitable"] = t.invitable;
  json::array tags;
  for (const auto& tag : t.applied_tags) tags.emplace_back(tag);
  o["applied_tags"] = std::move(tags);
  o["pinned"] = t.pinned;
  if (t.joined) {
    o["joined"] = *t.joined;
    o["notify"] = *t.joined && t.notify ? json::value(to_string(*t.notify)) : json::value(nullptr);
  }
  return o;
}

const char* to_string(ThreadNotify notify) noexcept {
  switch (notify) {
    case ThreadNotify::mentions:
      return "mentions";
    case ThreadNotify::none:
      return "none";
    case ThreadNotify::all:
      break;
  }
  return "all";
}

Result<ThreadNotify> parse_thread_notify(std::string_view name) {
  for (auto n : {ThreadNotify::all, ThreadNotify::mentions, ThreadNotify::none}) {
    if (name == to_string(n)) return n;
  }
  return bad_input("invalid_field", "notify is all, mentions or none");
}

json::object thread_member_json(const ThreadMember& m) {
  return json::object{{"account", eth::to_checksum(m.account)}, {"joined_at", format_rfc3339(m.joined_at)}};
}

Result<void> check_thread_name(std::string_view name) {
  if (!is_display_name(name, max_thread_name_chars)) {
    return bad_input("invalid_thread_name", "a thread name is 1 to 100 characters that display as themselves");
  }
  return ok();
}

Result<void> check_thread_slow_mode(std::int64_t seconds) {
  if (seconds >= 0 && seconds <= max_thread_slow_mode_seconds) return ok();
  return bad_input("invalid_field", "slow_mode_seconds is 0 to " + std::to_string(max_thread_slow_mode_seconds));
}

Result<void> check_auto_archive(std::int64_t minutes) {
  for (const auto choice : thread_archive_choices) {
    if (minutes == choice) return ok();
  }
  return bad_input("invalid_auto_archive", "auto_archive_minutes is 60, 1440, 4320 or 10080");
}

json::object forward_json(const ForwardSnapshot& f) {
  return json::object{{"channel_id", f.channel_id},
                      {"seq", f.seq},
                      {"author", eth::to_checksum(f.author)},
                      {"body", f.body},
                      {"created_at", format_rfc3339(f.created_at)}};
}

json::object poll_result_data(std::int64_t poll_seq, const Poll& poll) {
  json::array answers;
  json::array winners;
  std::int64_t total = 0;
  std::int64_t most = 0;
  for (std::size_t i = 0; i < poll.answers.size(); ++i) {
    const auto votes = i < poll.votes.size() ? poll.votes[i] : 0;
    total += votes;
    most = std::max(most, votes);
    answers.emplace_back(
        json::object{{"id", static_cast<std::int64_t>(i + 1)}, {"text", poll.answers[i]}, {"votes", votes}});
  }
  for (std::size_t i = 0; most > 0 && i < poll.votes.size() && i < poll.answers.size(); ++i) {
    if (poll.votes[i] == most) winners.emplace_back(static_cast<std::int64_t>(i + 1));
  }
  return json::object{{"poll_seq", poll_seq},      {"question", poll.question}, {"answers", std::move(answers)},
                      {"multiple", poll.multiple}, {"total_votes", total},      {"winners", std::move(winners)}};
}

std::string message_frame(const Message& m) {
  auto o = message_json(m);
  o["type"] = "message";
  return json::serialize(o);
}

SearchKey search_key(const Message& m) {
  return SearchKey{unix_millis(m.created_at), m.channel_id, m.seq};
}

std::string format_search_key(const SearchKey& key) {
  return std::to_string(key.created_ms) + ":" + std::to_string(key.seq) + ":" + key.channel_id;
}

Result<SearchKey> parse_search_key(std::string_view text) {
  const auto bad = [] { return bad_input("invalid_cursor", "before is a next_before a search returned"); };
  // Two non-negative integers of at most 18 digits, then a channel id.
  const auto number = [](std::string_view digits) -> std::optional<std::int64_t> {
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    std::int64_t v = 0;
    for (char c : digits) {
      if (c < '0' || c > '9') return std::nullopt;
      v = v * 10 + (c - '0');
    }
    return v;
  };
  const auto first = text.find(':');
  if (first == std::string_view::npos) return bad();
  const auto second = text.find(':', first + 1);
  if (second == std::string_view::npos) return bad();
  auto ms = number(text.substr(0, first));
  auto seq = number(text.substr(first + 1, second - first - 1));
  const auto channel = text.substr(second + 1);
  if (!ms || !seq || *seq < 1 || !valid_channel_id(channel)) return bad();
  return SearchKey{*ms, std::string(channel), *seq};
}

}  // namespace gh::messaging
