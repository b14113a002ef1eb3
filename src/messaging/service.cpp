#include "messaging/service.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <set>

#include <boost/asio/co_spawn.hpp>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "messaging/search_text.hpp"
#include "messaging/store.hpp"
#include "messaging/thread_access.hpp"
#include "net/dispatcher.hpp"
#include "net/websocket.hpp"
#include "store/batches.hpp"

namespace gh::messaging {

namespace json = boost::json;
using store::Tx;

namespace {

void publish_or_throw(Tx& tx, bus::NewEvent event) {
  auto id = bus::publish(tx, event);
  if (!id) throw std::logic_error("messaging event rejected by the bus: " + id.error().message);
}

// A transaction's events, held and written together by flush() (one statement for one event, two
// for more). A post holds its events to its end, so that on PostgreSQL the outbox lock, kept to
// the commit, is taken at its last write.
class Events {
 public:
  explicit Events(Tx& tx) : m_tx(tx) {}
  void add(bus::NewEvent event) {
    auto checked = bus::check(std::move(event));
    if (!checked) throw std::logic_error("messaging event rejected by the bus: " + checked.error().message);
    m_pending.push_back(std::move(*checked));
  }
  void flush() {
    std::vector<const bus::CheckedEvent*> all;
    all.reserve(m_pending.size());
    for (const auto& e : m_pending) all.push_back(&e);
    bus::publish_checked(m_tx, all);
    m_pending.clear();
  }

 private:
  Tx& m_tx;
  std::vector<bus::CheckedEvent> m_pending;
};

Error forbidden(std::string message) {
  return make_error(ErrorKind::forbidden, "forbidden", std::move(message));
}

// An event's payload as an object; none when it is not one (the consumer then leaves the event be).
std::optional<json::object> payload_of(const bus::Event& event) {
  boost::system::error_code ec;
  auto value = json::parse(event.payload, ec);
  if (ec || !value.is_object()) return std::nullopt;
  return std::move(value.as_object());
}

// Sends `frame` once to each account following one of `channel_ids` on this node.
void send_to_followers(realtime::Gateway& gateway, const json::array& channel_ids, const json::object& frame) {
  std::set<eth::Address> followers;
  for (const auto& id : channel_ids) {
    if (!id.is_string()) continue;
    for (const auto& a : gateway.subscribers(channel_topic, id.as_string())) followers.insert(a);
  }
  if (followers.empty()) return;
  const auto text = json::serialize(frame);
  for (const auto& a : followers) gateway.send_to_account(a, text);
}

// 403 unless the rules let the account post now: `forbidden`, or `timed_out` with the timeout's end.
Result<void> may_post(const PostRules& rules) {
  if (!rules.allowed) return forbidden("you may not post in this channel");
  if (rules.locked) {
    return make_error(ErrorKind::forbidden, "thread_locked", "the thread is locked: only moderators write in it");
  }
  if (rules.timed_out_until_ms > 0) {
    const auto until = format_rfc3339(SystemTime(std::chrono::milliseconds(rules.timed_out_until_ms)));
    auto e = make_error(ErrorKind::forbidden, "timed_out", "you are timed out in this community until " + until);
    e.details_json = json::serialize(json::object{{"until", until}});
    return e;
  }
  return ok();
}

// may_post, and the right to post messages, which a channel may keep to some roles.
Result<void> may_send(const PostRules& rules) {
  if (auto may = may_post(rules); !may) return may;
  if (!rules.send) return forbidden("only some roles post messages in this channel");
  return ok();
}

// 400 invalid_channel in a forum channel itself (its messages are in its posts, threads) and in a
// category (it holds channels).
Result<void> not_a_forum(const PostRules& rules) {
  if (rules.forum && rules.parent_channel_id.empty()) {
    return bad_input("invalid_channel", "a forum channel takes posts (threads), not messages");
  }
  if (rules.category) return bad_input("invalid_channel", "a category holds channels, not messages");
  return ok();
}

// 400 unless a forum post may carry `next` (its tags before: `before`): tags of the forum
// (invalid_tag), each once, at most max_applied_tags, one at least where the forum asks it
// (tag_required); 403 missing_permission when one who does not moderate adds or removes a moderated
// tag.
Result<void> check_applied_tags(const std::vector<std::string>& next, const std::vector<std::string>& before,
                                const PostRules& rules, bool moderates) {
  if (next.size() > max_applied_tags) {
    return bad_input("invalid_tag", "a post carries at most " + std::to_string(max_applied_tags) + " tags");
  }
  for (std::size_t i = 0; i < next.size(); ++i) {
    if (!rules.tags.contains(next[i])) return bad_input("invalid_tag", "the forum has no tag " + next[i]);
    if (std::find(next.begin(), next.begin() + static_cast<std::ptrdiff_t>(i), next[i]) !=
        next.begin() + static_cast<std::ptrdiff_t>(i)) {
      return bad_input("invalid_tag", "tag " + next[i] + " is named twice");
    }
  }
  if (next.empty() && rules.require_tag) return bad_input("tag_required", "this forum's posts carry a tag");
  if (moderates) return ok();
  const auto changed = [](const std::vector<std::string>& a, const std::vector<std::string>& b, const auto& tags) {
    return std::any_of(a.begin(), a.end(), [&](const std::string& id) {
      const auto found = tags.find(id);
      return found != tags.end() && found->second && std::find(b.begin(), b.end(), id) == b.end();
    });
  };
  if (changed(next, before, rules.tags) || changed(before, next, rules.tags)) {
    return make_error(ErrorKind::forbidden, "missing_permission",
                      "a moderated tag is applied and removed by those who moderate the forum");
  }
  return ok();
}

// 400 unless the message is one a post takes: its client id, poll and body (a poll or a forward may
// go without text of its own) and its reply.
Result<void> check_new_message(const NewMessage& message) {
  if (auto c = check_client_id(message.client_id); !c) return c.error();
  if (message.poll) {
    if (auto c = check_poll(*message.poll); !c) return c.error();
  }
  if (!((message.poll || message.forward) && message.body.empty())) {
    if (auto c = check_body(message.body); !c) return c.error();
  }
  if (message.reply_to && *message.reply_to <= 0) return bad_input("invalid_reply_to", "reply_to is a seq");
  return ok();
}

// The text content rules screen: the body, and a poll's question and answers.
std::string screened_text(const NewMessage& message) {
  std::string text = message.body;
  if (message.poll) {
    text += '\n';
    text += message.poll->question;
    for (const auto& a : message.poll->answers) {
      text += '\n';
      text += a;
    }
  }
  return text;
}

// Counted one past what a message resolves, so that a content rule's limit of max_mentions can
// tell a message that carries more.
std::size_t mention_count(std::string_view body) {
  const auto m = parse_mentions(body, max_mentions + 1);
  return m.accounts.size() + m.roles.size();
}

Error automod_error(const ContentBlock& block) {
  auto e = make_error(
      ErrorKind::forbidden, "automod_blocked",
      block.message.empty() ? "this community's rule \"" + block.rule_name + "\" blocked the message" : block.message);
  e.details_json = json::serialize(json::object{{"rule_id", block.rule_id}, {"rule_name", block.rule_name}});
  return e;
}

Error message_not_found() {
  return make_error(ErrorKind::not_found, "message_not_found", "no message with that seq in this channel");
}

// A page of reports asks for a known status (none: every status) below a report id.
Result<void> check_report_filter(const ReportFilter& filter) {
  if (filter.status && !valid_report_status(*filter.status)) {
    return bad_input("invalid_status", "status is open, resolved, dismissed or all");
  }
  if (filter.before_id < 0) return bad_input("invalid_before", "before is a report id");
  return ok();
}

// What an edit of `m` by `who` takes: the message exists, is the caller's, and is not deleted.
Result<void> check_editable(const std::optional<Message>& m, const eth::Address& who) {
  if (!m) return message_not_found();
  if (m->author != who) return make_error(ErrorKind::forbidden, "not_author", "only the author may edit a message");
  if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
  return ok();
}

Result<void> check_channel(const std::string& channel_id) {
  if (!valid_channel_id(channel_id)) return bad_input("invalid_channel_id", "not a channel id");
  return ok();
}

// What a message is found by: its body, its poll's question and answers, the text of the message
// it forwards, and for a thread's first message, the thread's name (`title`: a forum's post is
// found by its title).
std::vector<std::string> terms_of(std::string_view body, const Poll* poll, const ForwardSnapshot* forward,
                                  std::string_view title = {}) {
  std::vector<std::string> terms;
  if (poll == nullptr && forward == nullptr && title.empty()) {
    terms = search_terms(body);  // most messages: the body alone, not copied
  } else {
    std::string text(body);
    if (!title.empty()) {
      text += '\n';
      text += title;
    }
    if (poll != nullptr) {
      text += '\n';
      text += poll->question;
      for (const auto& answer : poll->answers) {
        text += '\n';
        text += answer;
      }
    }
    if (forward != nullptr) {
      text += '\n';
      text += forward->body;
    }
    terms = search_terms(text);
  }
  // The filters' terms (`has`, `mentions`), read as the words are. A message holds the links of
  // what it forwards; it mentions only whom its own body names.
  if (holds_link(body) || (forward != nullptr && holds_link(forward->body))) terms.emplace_back(has_link_term);
  if (poll != nullptr) terms.emplace_back(has_poll_term);
  if (forward != nullptr) terms.emplace_back(has_forward_term);
  for (const auto& a : parse_mentions(body).accounts) terms.push_back(mention_term(eth::to_lower_hex(a)));
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  return terms;
}

// The name a message is found by besides its text: its thread's, for a thread's first message;
// none otherwise.
std::string title_of(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  if (seq != 1 || !is_thread_id(channel_id)) return {};
  return sql::thread_name(tx, channel_id).value_or(std::string());
}

// The terms of a message read without its poll (the poll is read when it has one), found by
// `title` too.
std::vector<std::string> terms_titled(Tx& tx, const Message& m, std::string_view title) {
  const auto* forward = m.forward ? &*m.forward : nullptr;
  if (m.poll) return terms_of(m.body, &*m.poll, forward, title);
  const auto poll = sql::find_poll(tx, m.channel_id, m.seq);
  return terms_of(m.body, poll ? &*poll : nullptr, forward, title);
}

// The same, with the title it has.
std::vector<std::string> terms_of(Tx& tx, const Message& m) {
  return terms_titled(tx, m, title_of(tx, m.channel_id, m.seq));
}

// A thread renamed: its first message is found by the new name, and no more by the old.
void retitle(Tx& tx, const std::string& thread_id, const std::string& before, const std::string& after) {
  auto m = sql::find(tx, thread_id, 1);
  if (!m || m->deleted_at) return;
  const auto old_terms = terms_titled(tx, *m, before);
  const auto new_terms = terms_titled(tx, *m, after);
  std::vector<std::string> gone;
  std::vector<std::string> added;
  std::set_difference(old_terms.begin(), old_terms.end(), new_terms.begin(), new_terms.end(), std::back_inserter(gone));
  std::set_difference(new_terms.begin(), new_terms.end(), old_terms.begin(), old_terms.end(),
                      std::back_inserter(added));
  sql::unindex(tx, thread_id, 1, gone);
  sql::index_terms(tx, thread_id, 1, added);
}

// Deletes a message for a purge (a ban's, a thread's deletion), in the purge's transaction: out of
// the index, a tombstone, a change, and its `messaging.message_deleted` with `purged` (the purge's
// own audit entry covers it), naming `parent_channel_id` when given.
void purge_message(Tx& tx, const Message& m, const eth::Address& by, std::int64_t now_ms,
                   const std::string& parent_channel_id = {}) {
  sql::unindex(tx, m.channel_id, m.seq, terms_of(tx, m));
  sql::tombstone(tx, m.channel_id, m.seq, now_ms);
  sql::mark_changed(tx, m.channel_id, m.seq);
  json::object gone{{"channel_id", m.channel_id}};
  if (!parent_channel_id.empty()) gone["parent_channel_id"] = parent_channel_id;
  gone["seq"] = m.seq;
  gone["id"] = m.id;
  gone["author"] = eth::to_checksum(m.author);
  gone["deleted_by"] = eth::to_checksum(by);
  gone["purged"] = true;
  publish_or_throw(tx, {"messaging.message_deleted", m.channel_id, json::serialize(gone)});
}

// Whether a message the index found holds every term of a query: the index is checked against the
// text, so that a term a message no longer holds (written by an older reading of text, and not
// removed by the current one) does not make it match. The poll is read only when the body alone
// does not hold them.
bool holds_terms(Tx& tx, const Message& m, const std::vector<std::string>& terms) {
  const auto* forward = m.forward ? &*m.forward : nullptr;
  const auto title = title_of(tx, m.channel_id, m.seq);
  auto have = terms_of(m.body, nullptr, forward, title);
  if (std::includes(have.begin(), have.end(), terms.begin(), terms.end())) return true;
  const auto poll = sql::find_poll(tx, m.channel_id, m.seq);
  if (!poll) return false;
  have = terms_of(m.body, &*poll, forward, title);
  return std::includes(have.begin(), have.end(), terms.begin(), terms.end());
}

// The terms a search looks for: the words of its text and the terms of its filters, sorted; 400
// invalid_query when it asks for nothing (no word, filter or author).
Result<std::vector<std::string>> query_terms(const SearchQuery& query) {
  std::vector<std::string> terms;
  if (!query.text.empty()) {
    auto words = parse_search_query(query.text);
    if (!words) return words.error();
    terms = std::move(*words);
  }
  for (const auto& has : query.has) {
    auto term = has_term(has);
    if (!term) return term.error();
    terms.push_back(std::move(*term));
  }
  if (query.mentions) terms.push_back(mention_term(eth::to_lower_hex(*query.mentions)));
  if (terms.empty() && !query.author)
    return bad_input("invalid_query", "give q, author, mentions, has or some of them");
  std::sort(terms.begin(), terms.end());
  terms.erase(std::unique(terms.begin(), terms.end()), terms.end());
  return terms;
}

// An event about a thread's message names the thread's channel too (`parent_channel_id`), for the
// contexts that know channels only (the community's audit log, notification mutes).
void name_parent(Tx& tx, json::object& event, const std::string& channel_id) {
  if (!is_thread_id(channel_id)) return;
  if (auto t = sql::find_thread(tx, channel_id)) event["parent_channel_id"] = t->channel_id;
}

// Turns `m` into a tombstone deleted by `who`, with its search terms, change number and event
// (marked `bulk` when one of a bulk delete, which has its own event too); returns the tombstone.
Message delete_message(Tx& tx, const Message& m, const eth::Address& who, SystemTime now, bool bulk = false) {
  sql::unindex(tx, m.channel_id, m.seq, terms_of(tx, m));
  sql::tombstone(tx, m.channel_id, m.seq, unix_millis(now));
  sql::mark_changed(tx, m.channel_id, m.seq);
  json::object event{{"channel_id", m.channel_id},
                     {"seq", m.seq},
                     {"id", m.id},
                     {"author", eth::to_checksum(m.author)},
                     {"deleted_by", eth::to_checksum(who)}};
  if (bulk) event["bulk"] = true;
  name_parent(tx, event, m.channel_id);
  publish_or_throw(tx, {"messaging.message_deleted", m.channel_id, json::serialize(event)});
  return *sql::find(tx, m.channel_id, m.seq);
}

// A page of accounts from up to limit + 1 of them (lowercase hex): the extra one says a next page
// exists.
AccountPage account_page(std::vector<std::string> accounts, std::size_t limit) {
  AccountPage out;
  out.more = accounts.size() > limit;
  if (out.more) accounts.pop_back();
  out.accounts.reserve(accounts.size());
  for (const auto& a : accounts) out.accounts.push_back(sql::stored_address(a));
  return out;
}

// The message with its reactions as `viewer` sees them.
Message with_reactions(Tx& tx, Message m, const std::string& viewer) {
  std::vector<Message> one{std::move(m)};
  sql::load_annotations(tx, one, viewer);
  return std::move(one.front());
}

std::string update_frame(const Message& m) {
  auto o = message_json(m);
  o["type"] = "message_updated";
  return json::serialize(o);
}

// Writes a message the server authors into the channel, in `tx`, with the channel's next seq, and
// its event messaging.system_message: the consumer of that event sends the live frame once the
// message is committed, wherever it was written (a request, a job, another consumer).
Message insert_system_message(Tx& tx, const std::string& channel_id, SystemInfo system, std::string client_id,
                              std::optional<std::int64_t> reply_to, SystemTime now) {
  Message m;
  m.id = net::make_request_id();
  m.channel_id = channel_id;
  const auto [seq, created_ms] = sql::next_seq(tx, channel_id, unix_millis(now));
  m.seq = seq;
  m.author = system_author;
  m.client_id = std::move(client_id);
  m.reply_to = reply_to;
  m.created_at = SystemTime(std::chrono::milliseconds(created_ms));
  m.system = std::move(system);
  sql::insert_message(tx, m);
  json::object event{{"channel_id", channel_id},
                     {"seq", m.seq},
                     {"id", m.id},
                     {"kind", m.system->kind},
                     {"created_at", format_rfc3339(m.created_at)}};
  publish_or_throw(tx, {"messaging.system_message", channel_id, json::serialize(event)});
  return m;
}

// Posts the result of a poll that ended, replying to it: once per poll, whoever comes first (the
// author ending it, the job finding it ended). None for a poll that is gone with its message. A
// poll that ran out of time tells its author (`notify_author`): one who ended it knows.
std::optional<Message> post_poll_result(Tx& tx, const std::string& channel_id, std::int64_t seq, SystemTime now,
                                        bool notify_author) {
  if (!sql::claim_poll_result(tx, channel_id, seq)) return std::nullopt;
  auto poll = sql::find_poll(tx, channel_id, seq);
  if (!poll) return std::nullopt;
  poll->votes = sql::poll_counts(tx, channel_id, seq, poll->answers.size());
  auto data = poll_result_data(seq, *poll);
  std::string outcome = "no votes";
  if (const auto& winners = data.at("winners").as_array(); !winners.empty()) {
    const auto first = static_cast<std::size_t>(winners.front().as_int64() - 1);
    const auto votes = poll->votes[first];
    outcome = poll->answers[first] + " (" + std::to_string(votes) + (votes == 1 ? " vote" : " votes") +
              (winners.size() > 1 ? ", a tie)" : ")");
  }
  SystemInfo result{std::string(poll_result_kind), std::move(data)};
  auto m = insert_system_message(tx, channel_id, std::move(result), "poll:" + std::to_string(seq), seq, now);
  sql::set_poll_result(tx, channel_id, seq, m.seq);
  if (notify_author) {
    if (auto asked = sql::find(tx, channel_id, seq); asked && !asked->deleted_at) {
      json::object request{{"kind", "system"},
                           {"title", "Your poll has ended"},
                           {"body", poll->question + ": " + outcome},
                           {"channel_id", channel_id},
                           {"data", json::object{{"channel_id", channel_id}, {"seq", seq}, {"result_seq", m.seq}}},
                           {"accounts", json::array{json::string(eth::to_checksum(asked->author))}},
                           {"dedup_key", "poll_ended:" + channel_id + ":" + std::to_string(seq)}};
      publish_or_throw(tx, {"notify.requested", eth::to_lower_hex(asked->author), json::serialize(request)});
    }
  }
  return m;
}

// Those, in a thread, whose settings there say what a post there notifies them of: those it names,
// the author of the message it replies to and the thread's followers (lowercase hex, sorted, each
// once).
std::vector<std::string> settings_asked(const std::vector<Mentioned>& named, const eth::Address& replied,
                                        const std::vector<eth::Address>& followers) {
  std::vector<std::string> asked;
  asked.reserve(named.size() + followers.size() + 1);
  for (const auto& n : named) asked.push_back(eth::to_lower_hex(n.account));
  asked.push_back(eth::to_lower_hex(replied));
  for (const auto& f : followers) asked.push_back(eth::to_lower_hex(f));
  std::sort(asked.begin(), asked.end());
  asked.erase(std::unique(asked.begin(), asked.end()), asked.end());
  return asked;
}

// A read marker that moved forward is told to the notify context, which marks the account's
// notifications about the messages it passed read. True when it moved.
bool publish_read(Events& events, const std::string& account, const std::string& channel_id, std::int64_t before,
                  std::int64_t after) {
  if (after <= before) return false;
  json::object event{{"account", account}, {"channel_id", channel_id}, {"seq", after}};
  events.add({"messaging.read", account, json::serialize(event)});
  return true;
}

bool publish_read(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t before,
                  std::int64_t after) {
  Events now(tx);
  const bool moved = publish_read(now, account, channel_id, before, after);
  now.flush();
  return moved;
}

// A read marker after advance_marker, and whether it moved.
struct Advanced {
  std::int64_t marker = 0;
  bool moved = false;
};

// Moves the account's marker forward to `seq` (bounded by the head already) and tells notify when
// it moved. A marker already there (a repeated ack) is only read.
Advanced advance_marker(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                        std::int64_t now_ms) {
  const auto before = sql::read_marker(tx, account, channel_id);
  if (seq <= before) return {before, false};
  const auto after = sql::mark_read(tx, account, channel_id, seq, now_ms);
  return {after, publish_read(tx, account, channel_id, before, after)};
}

// `messaging.thread_message`: a message in a thread, for those of its members who follow all its
// messages; at most max_thread_message_accounts accounts per event.
void publish_thread_message(Events& events, const Thread& t, const Message& m, const PostRules& rules,
                            const std::vector<eth::Address>& accounts) {
  for (std::size_t at = 0; at < accounts.size(); at += max_thread_message_accounts) {
    json::array batch;
    const auto end = std::min(accounts.size(), at + max_thread_message_accounts);
    for (auto i = at; i < end; ++i) batch.emplace_back(eth::to_checksum(accounts[i]));
    json::object event{{"channel_id", t.id},    {"parent_channel_id", t.channel_id},
                       {"thread_name", t.name}, {"seq", m.seq},
                       {"message_id", m.id},    {"author", eth::to_checksum(m.author)},
                       {"body", m.body},        {"accounts", std::move(batch)}};
    if (!rules.community_id.empty()) event["community_id"] = rules.community_id;
    if (m.silent) event["silent"] = true;
    events.add({"messaging.thread_message", t.id, json::serialize(event)});
  }
}

// `messaging.followed_message`: a message in a channel, or the first message of a forum's new post
// (`post`), for the accounts following every message of the channel; at most
// max_thread_message_accounts accounts per event.
void publish_followed_message(Events& events, const Message& m, const PostRules& rules,
                              const std::optional<Thread>& post, const std::vector<eth::Address>& accounts) {
  for (std::size_t at = 0; at < accounts.size(); at += max_thread_message_accounts) {
    json::array batch;
    const auto end = std::min(accounts.size(), at + max_thread_message_accounts);
    for (auto i = at; i < end; ++i) batch.emplace_back(eth::to_checksum(accounts[i]));
    json::object event{{"channel_id", m.channel_id},  {"channel_name", rules.channel_name},   {"seq", m.seq},
                       {"message_id", m.id},          {"author", eth::to_checksum(m.author)}, {"body", m.body},
                       {"accounts", std::move(batch)}};
    if (post) {
      event["parent_channel_id"] = post->channel_id;
      event["thread_name"] = post->name;
    }
    if (!rules.community_id.empty()) event["community_id"] = rules.community_id;
    if (m.silent) event["silent"] = true;
    events.add({"messaging.followed_message", m.channel_id, json::serialize(event)});
  }
}

}  // namespace

MessagingService::MessagingService(store::Database& db, BlockingPool& pool, const Clock& clock, ChannelAccess& access,
                                   realtime::Gateway* gateway, std::function<void()> events_published,
                                   MessagingSettings settings)
    : m_db(db),
      m_pool(pool),
      m_clock(clock),
      m_access(access),
      m_gateway(gateway),
      m_events_published(std::move(events_published)),
      m_settings(settings) {}

Task<Result<void>> MessagingService::require_read(const eth::Address& who, const std::string& channel_id) {
  co_return co_await require(who, channel_id, false);
}

Task<Result<void>> MessagingService::require_post(const eth::Address& who, const std::string& channel_id) {
  co_return co_await require(who, channel_id, true);
}

Task<Result<void>> MessagingService::require_moderator(const eth::Address& who, const std::string& channel_id,
                                                       std::string what) {
  auto moderates = co_await m_access.can_moderate(who, channel_id);
  if (!moderates) co_return moderates.error();
  if (!*moderates) {
    co_return make_error(ErrorKind::forbidden, "missing_permission",
                         what + " takes manage_messages in the channel's community");
  }
  co_return ok();
}

Task<Result<void>> MessagingService::require_send(const eth::Address& who, const std::string& channel_id) {
  if (auto c = check_channel(channel_id); !c) co_return c.error();
  auto rules = co_await m_access.write_rules(who, channel_id);
  if (!rules) co_return rules.error();
  if (auto may = may_send(*rules); !may) co_return may.error();
  co_return not_a_forum(*rules);
}

Task<Result<void>> MessagingService::require(const eth::Address& who, const std::string& channel_id, bool post) {
  if (auto c = check_channel(channel_id); !c) co_return c.error();
  if (post) {
    // Nothing here has text to screen: the content rules are not read.
    auto rules = co_await m_access.write_rules(who, channel_id);
    if (!rules) co_return rules.error();
    co_return may_post(*rules);
  }
  auto allowed = co_await m_access.can_read(who, channel_id);
  if (!allowed) co_return allowed.error();
  if (!*allowed) co_return forbidden("you may not read this channel");
  co_return ok();
}

Task<Mentions> MessagingService::effective_mentions(const eth::Address& who, const std::string& channel_id,
                                                    std::string_view body) {
  auto mentions = parse_mentions(body);
  // `@&member` names every member, and a role may be closed to mentions: those count only from
  // members allowed to mention everyone.
  if (!mentions.roles.empty()) {
    auto allowed = co_await m_access.mentionable_roles(who, channel_id, mentions.roles);
    if (allowed) {
      mentions.roles = std::move(*allowed);
    } else {
      mentions.roles.clear();
    }
  }
  co_return mentions;
}

Task<Error> MessagingService::refuse_content(eth::Address who, std::string channel_id, ContentBlock block,
                                             const PostRules& rules) {
  const auto report_channel_id = rules.parent_channel_id.empty() ? channel_id : rules.parent_channel_id;
  auto error = automod_error(block);
  const auto rule_id = block.rule_id;
  if (is_thread_id(channel_id)) block.thread_id = channel_id;
  // The channel's moderators following its reports see the block as it happens (Discord's AutoMod
  // alert).
  if (m_gateway) {
    json::object alert{{"type", "automod_block"},          {"report_channel_id", report_channel_id},
                       {"account", eth::to_checksum(who)}, {"rule_id", block.rule_id},
                       {"rule_name", block.rule_name},     {"trigger", block.trigger},
                       {"matched", block.matched}};
    if (!block.thread_id.empty()) alert["thread_id"] = block.thread_id;
    m_gateway->broadcast(report_topic, report_channel_id, json::serialize(alert));
  }
  auto recorded = co_await m_access.content_blocked(who, channel_id, std::move(block));
  if (!recorded) {
    log::warn("a blocked message was not recorded",
              {{"channel_id", channel_id}, {"rule_id", rule_id}, {"error", recorded.error().message}});
  }
  co_return error;
}

Task<std::vector<Mentioned>> MessagingService::resolve_mentions(const eth::Address& who, const std::string& channel_id,
                                                                const Mentions& mentions) {
  // Bounded work per message whatever the roles' sizes: at most max_mention_candidates accounts
  // are looked at, with one access check for all of them. Each is named the most direct way the
  // message names it (address, then a role, then everyone), since settings may silence the others.
  std::vector<eth::Address> candidates;
  std::map<eth::Address, std::string> via;  // the role that named each candidate; none: its address
  std::set<eth::Address> seen{who};         // never the author
  for (const auto& a : mentions.accounts) {
    if (seen.insert(a).second) candidates.push_back(a);
  }
  std::vector<std::string> roles = mentions.roles;
  std::stable_partition(roles.begin(), roles.end(), [](const std::string& r) { return r != everyone_role; });
  for (const auto& role : roles) {
    if (candidates.size() >= max_mention_candidates) break;
    auto members = co_await m_access.members_with_role(channel_id, role, max_mention_candidates - candidates.size());
    if (!members) continue;
    for (const auto& a : *members) {
      if (candidates.size() < max_mention_candidates && seen.insert(a).second) {
        candidates.push_back(a);
        via.emplace(a, role);
      }
    }
  }
  if (candidates.empty()) co_return std::vector<Mentioned>();
  // Only those who can read the channel hear of it.
  auto readers = co_await m_access.readers(channel_id, std::move(candidates));
  if (!readers) co_return std::vector<Mentioned>();
  std::vector<Mentioned> out;
  for (const auto& a : *readers) {
    if (out.size() >= max_mentioned) break;
    const auto it = via.find(a);
    out.push_back(Mentioned{a, it == via.end() ? std::string() : it->second});
  }
  co_return out;
}

Task<Result<Posted>> MessagingService::post(eth::Address who, std::string channel_id, NewMessage message) {
  co_return co_await post_with(who, std::move(channel_id), std::move(message), std::nullopt);
}

Task<Result<Posted>> MessagingService::post_with(eth::Address who, std::string channel_id, NewMessage message,
                                                 std::optional<PostRules> known) {
  if (auto c = check_channel(channel_id); !c) co_return c.error();
  if (auto c = check_new_message(message); !c) co_return c.error();
  std::optional<ForwardSnapshot> forwarded;
  if (message.forward) {
    if (message.reply_to || message.poll) {
      co_return bad_input("invalid_forward", "a forward is neither a reply nor a poll");
    }
    auto snapshot = co_await forward_snapshot(who, *message.forward);
    if (!snapshot) {
      // The retry of a stored forward gets it, whatever became of the original since.
      auto stored = co_await find_posted(who, channel_id, message.client_id);
      if (stored && *stored) co_return Posted{std::move(**stored), false};
      co_return snapshot.error();
    }
    forwarded = std::move(*snapshot);
  }
  Result<PostRules> rules = PostRules{};
  if (known) {
    rules = std::move(*known);
  } else {
    rules = co_await m_access.post_rules(who, channel_id);
  }
  if (!rules) co_return rules.error();
  if (!rules->allowed) co_return forbidden("you may not post in this channel");
  if (!rules->send) co_return forbidden("only some roles post messages in this channel");
  if (auto f = not_a_forum(*rules); !f) co_return f.error();
  const std::int64_t slow_ms = rules->exempt ? 0 : rules->slow_mode_seconds * 1000;
  // Content rules see the text before it is stored; the retry of a stored message still gets it.
  std::optional<ContentBlock> blocked;

  const auto mentions = co_await effective_mentions(who, channel_id, message.body);
  auto notified = co_await resolve_mentions(who, channel_id, mentions);
  // In a private thread, those the post names by address who read its channel are added to it (as
  // Discord's), when its author may add others.
  std::vector<eth::Address> invited;
  if (rules->private_thread && rules->invites && !mentions.accounts.empty()) {
    std::vector<eth::Address> outside;
    for (const auto& a : mentions.accounts) {
      const bool heard =
          std::any_of(notified.begin(), notified.end(), [&](const Mentioned& n) { return n.account == a; });
      if (a != who && !heard && notified.size() + outside.size() < max_mentioned) outside.push_back(a);
    }
    if (!outside.empty()) {
      auto readers = co_await m_access.readers(rules->parent_channel_id, std::move(outside));
      if (readers) invited = std::move(*readers);
    }
    for (const auto& a : invited) notified.push_back(Mentioned{a, std::string()});
  }
  // A reply notifies the author of its parent only while that author reads the channel.
  bool reply_heard = message.ping_reply && message.reply_to.has_value();
  if (reply_heard) {
    auto replied = co_await m_pool.run([&] {
      return m_db.read([&](Tx& tx) -> std::optional<eth::Address> {
        auto p = sql::find(tx, channel_id, *message.reply_to);
        if (!p) return std::nullopt;
        return p->author;
      });
    });
    if (replied && *replied != who && *replied != system_author) {
      const std::vector<eth::Address> one(1, *replied);
      auto reading = co_await m_access.readers(channel_id, one);
      reply_heard = reading && !reading->empty();
    }
  }
  // In a thread: its members who follow all its messages (Discord's "All Messages") and read it.
  std::vector<eth::Address> followers;
  // In a forum's post still without messages: this post starts it.
  bool starts_post = false;
  if (is_thread_id(channel_id)) {
    std::vector<std::string> found;
    co_await m_pool.run([&] {
      m_db.read([&](Tx& tx) {
        found = sql::thread_followers(tx, channel_id, max_thread_followers);
        if (rules->forum) {
          const auto thread = sql::find_thread(tx, channel_id);
          starts_post = thread && thread->last_seq == 0;
        }
      });
    });
    std::vector<eth::Address> candidates;
    for (const auto& hex : found) {
      if (auto a = eth::parse_address(hex); a && *a != who) candidates.push_back(*a);
    }
    if (!candidates.empty()) {
      auto reading = co_await m_access.readers(channel_id, std::move(candidates));
      if (!reading) co_return reading.error();
      followers = std::move(*reading);
    }
  }
  // Those following every message of the channel or of its community (their `all_messages`
  // notification setting) who read it: of a community's channel, each message; of a forum, each
  // new post.
  std::vector<eth::Address> channel_followers;
  const std::string followed = is_thread_id(channel_id) ? (starts_post ? rules->parent_channel_id : std::string())
                                                        : (rules->community_id.empty() ? std::string() : channel_id);
  if (!followed.empty() && m_notify_settings != nullptr) {
    auto found = co_await m_notify_settings->channel_followers(followed, rules->community_id, max_channel_followers);
    if (!found) co_return found.error();
    std::vector<eth::Address> candidates;
    for (const auto& a : *found) {
      if (a != who) candidates.push_back(a);
    }
    if (!candidates.empty()) {
      auto reading = co_await m_access.readers(channel_id, std::move(candidates));
      if (!reading) co_return reading.error();
      channel_followers = std::move(*reading);
    }
  }
  const auto now = m_clock.now();
  const auto author = eth::to_lower_hex(who);

  // Those this post made members of its thread: its author, and those it names by address who read
  // it (as Discord's).
  std::vector<eth::Address> joined;
  // The thread after this post, for its parent's subscribers.
  std::optional<Thread> activity;
  auto attempt = [&]() -> Result<Posted> {
    return m_db.transact([&](Tx& tx) -> Result<Posted> {
      joined.clear();
      activity.reset();
      // The retry of a stored message gets it, and takes no seq.
      auto start = sql::start_post(tx, channel_id, author, message.client_id, unix_millis(now), message.reply_to);
      if (start.stored) return Posted{with_reactions(tx, std::move(*start.stored), author), false};
      // A timeout stops new messages, not the retry of one stored before it (the seq it took goes
      // back with the transaction).
      if (auto may = may_post(*rules); !may) return std::move(may).error();
      if (message.reply_to && !start.parent)
        return bad_input("unknown_parent", "reply_to names no message of this channel");
      const std::optional<Message>& parent = start.parent;
      const std::int64_t created_ms = start.created_ms;
      Message m;
      m.id = net::make_request_id();
      m.channel_id = channel_id;
      m.seq = start.seq;
      // Slow mode, under the channel's row lock: two posts at once cannot both pass it.
      if (slow_ms > 0) {
        if (auto last = sql::last_post_ms(tx, channel_id, author)) {
          const auto wait_ms = *last + slow_ms - unix_millis(now);
          if (wait_ms > 0) {
            auto e = rate_limited("this channel is in slow mode; wait before posting again",
                                  std::chrono::seconds((wait_ms + 999) / 1000));
            e.code = "slow_mode";
            return e;
          }
        }
      }
      m.author = who;
      m.client_id = message.client_id;
      m.body = message.body;
      m.reply_to = message.reply_to;
      m.silent = message.silent;
      m.forward = forwarded;
      if (parent) m.reply_preview = preview_of(*parent);
      m.mentions = mentions.accounts;
      m.mention_roles = mentions.roles;
      m.created_at = SystemTime(std::chrono::milliseconds(created_ms));
      sql::insert_message(tx, m);
      if (message.poll) {
        const auto ends = now + std::chrono::hours(message.poll->duration_hours);
        sql::insert_poll(tx, channel_id, m.seq, *message.poll, unix_millis(ends));
        Poll p;
        p.question = message.poll->question;
        p.answers = message.poll->answers;
        p.multiple = message.poll->multiple;
        p.ends_at = SystemTime(std::chrono::milliseconds(unix_millis(ends)));
        p.votes.assign(p.answers.size(), 0);
        p.mine.assign(p.answers.size(), false);
        m.poll = std::move(p);
      }
      sql::index_terms(tx, channel_id, m.seq,
                       terms_of(m.body, m.poll ? &*m.poll : nullptr, m.forward ? &*m.forward : nullptr,
                                title_of(tx, channel_id, m.seq)));
      // Posting reads the channel up to the post. The post's seq is above any marker (none passes
      // the head), so the marker is set outright. Notify hears of it only when the author had not
      // read up to the message before (a notification may then be left to read): an author who
      // keeps up costs no event.
      sql::set_read_marker(tx, author, channel_id, m.seq, unix_millis(now));
      // The post's events are written at its end (see Events).
      Events events(tx);
      if (start.read_before < m.seq - 1) publish_read(events, author, channel_id, start.read_before, m.seq);
      // In a thread, each member's setting there says what of it notifies the member.
      std::map<std::string, ThreadNotify> settings;
      // A message keeps its thread active, and brings an archived one back.
      if (is_thread_id(channel_id)) {
        // Its author joins, and so do those it names by address.
        std::vector<eth::Address> joining{who};
        for (const auto& a : notified) {
          if (a.role.empty() && std::find(joining.begin(), joining.end(), a.account) == joining.end())
            joining.push_back(a.account);
        }
        std::vector<std::string> joining_hex;
        joining_hex.reserve(joining.size());
        for (const auto& a : joining) joining_hex.push_back(eth::to_lower_hex(a));
        auto posted_in = sql::post_in_thread(tx, channel_id, created_ms, joining_hex,
                                             settings_asked(notified, parent ? parent->author : who, followers));
        // Under the thread's row: a post that raced the thread's deletion is refused.
        if (!posted_in.thread) return forbidden("you may not post in this channel");
        for (std::size_t i = 0; i < joining.size(); ++i) {
          if (std::find(posted_in.joined.begin(), posted_in.joined.end(), joining_hex[i]) != posted_in.joined.end())
            joined.push_back(joining[i]);
        }
        activity = std::move(posted_in.thread);
        settings = std::move(posted_in.settings);
      }

      json::object event{
          {"channel_id", channel_id},        {"seq", m.seq},   {"id", m.id},
          {"author", eth::to_checksum(who)}, {"body", m.body}, {"created_at", format_rfc3339(m.created_at)}};
      if (m.reply_to) event["reply_to"] = *m.reply_to;
      if (m.forward) event["forward"] = json::object{{"channel_id", m.forward->channel_id}, {"seq", m.forward->seq}};
      events.add({"messaging.channel_message", channel_id, json::serialize(event)});
      const auto hears = [&](const eth::Address& a, ThreadNotify least) {
        const auto found = settings.find(eth::to_lower_hex(a));
        if (found == settings.end()) return least != ThreadNotify::all;
        return found->second == ThreadNotify::all || found->second == least;
      };
      for (const auto& a : notified) {
        if (!hears(a.account, ThreadNotify::mentions)) continue;
        json::object mention{{"channel_id", channel_id},
                             {"seq", m.seq},
                             {"message_id", m.id},
                             {"author", eth::to_checksum(who)},
                             {"account", eth::to_checksum(a.account)},
                             {"body", m.body},
                             {"via", mention_via(a)}};
        if (mention_via(a) == "role") mention["role"] = a.role;
        if (!rules->community_id.empty()) mention["community_id"] = rules->community_id;
        if (!rules->parent_channel_id.empty()) mention["parent_channel_id"] = rules->parent_channel_id;
        if (message.silent) mention["silent"] = true;
        events.add({"messaging.mention", eth::to_lower_hex(a.account), json::serialize(mention)});
      }
      if (parent && parent->author != who && parent->author != system_author && reply_heard &&
          hears(parent->author, ThreadNotify::mentions)) {
        json::object reply{{"channel_id", channel_id},
                           {"seq", m.seq},
                           {"message_id", m.id},
                           {"parent_seq", parent->seq},
                           {"author", eth::to_checksum(who)},
                           {"account", eth::to_checksum(parent->author)},
                           {"body", m.body}};
        if (!rules->community_id.empty()) reply["community_id"] = rules->community_id;
        if (!rules->parent_channel_id.empty()) reply["parent_channel_id"] = rules->parent_channel_id;
        if (message.silent) reply["silent"] = true;
        events.add({"messaging.reply", eth::to_lower_hex(parent->author), json::serialize(reply)});
      }
      // Those this post names or replies to hear of it as such, not as a message they follow.
      const auto addressed = [&](const eth::Address& a) {
        return std::any_of(notified.begin(), notified.end(), [&](const Mentioned& n) { return n.account == a; }) ||
               (parent && reply_heard && parent->author == a);
      };
      // Those following the thread hear of every message.
      std::vector<eth::Address> told;
      if (activity) {
        for (const auto& a : followers) {
          if (!addressed(a) && hears(a, ThreadNotify::all)) told.push_back(a);
        }
        publish_thread_message(events, *activity, m, *rules, told);
      }
      // Those following the channel hear of each message, or of the post this one starts (the
      // first: a message that raced it is not a new post).
      if (!channel_followers.empty() && (!activity || m.seq == 1)) {
        std::vector<eth::Address> following;
        for (const auto& a : channel_followers) {
          if (!addressed(a) && std::find(told.begin(), told.end(), a) == told.end()) following.push_back(a);
        }
        publish_followed_message(events, m, *rules, activity, following);
      }
      events.flush();
      return Posted{std::move(m), true};
    });
  };
  auto posted = co_await m_pool.run([&]() -> Result<Posted> {
    if (rules->screen) {
      // A forward brings its snapshot's text into this channel: the channel's rules read it too.
      auto text = screened_text(message);
      if (forwarded) {
        if (!text.empty()) text += '\n';
        text += forwarded->body;
      }
      blocked = rules->screen->screen(text, mention_count(message.body));
      if (blocked) blocked->content = std::move(text);
    }
    if (blocked) {
      // Refused unless it is the retry of a message stored before: a read, no write transaction.
      return m_db.read([&](Tx& tx) -> Result<Posted> {
        if (auto existing = sql::find_by_client_id(tx, channel_id, author, message.client_id)) {
          return Posted{with_reactions(tx, std::move(*existing), author), false};
        }
        if (auto may = may_post(*rules); !may) return std::move(may).error();
        return automod_error(*blocked);
      });
    }
    try {
      return attempt();
    } catch (const store::DbError& e) {
      if (e.kind() != store::DbErrorKind::unique_violation) throw;
      // The same client id raced itself: the other request committed first; return its message.
      return m_db.read([&](Tx& tx) -> Result<Posted> {
        auto existing = sql::find_by_client_id(tx, channel_id, author, message.client_id);
        if (!existing) return make_error(ErrorKind::conflict, "conflict", "the message could not be stored; retry");
        return Posted{with_reactions(tx, std::move(*existing), author), false};
      });
    }
  });
  if (!posted) {
    if (blocked && posted.error().code == "automod_blocked") {
      co_return co_await refuse_content(who, std::move(channel_id), std::move(*blocked), *rules);
    }
    co_return posted.error();
  }
  if (posted->created) {
    if (m_events_published) m_events_published();
    if (m_gateway) m_gateway->publish(channel_topic, channel_id, posted->message.seq, message_frame(posted->message));
    if (activity) {
      announce_activity(*activity);
      if (!joined.empty()) announce_members(*activity, joined, true);
    }
  }
  co_return posted;
}

Task<Result<ForwardSnapshot>> MessagingService::forward_snapshot(const eth::Address& who, const ForwardOf& source) {
  if (source.seq <= 0) co_return bad_input("invalid_forward", "forward names a channel and a seq");
  if (auto r = co_await require_read(who, source.channel_id); !r) co_return r.error();
  co_return co_await m_pool.run([&]() -> Result<ForwardSnapshot> {
    return m_db.read([&](Tx& tx) -> Result<ForwardSnapshot> {
      auto m = sql::find(tx, source.channel_id, source.seq);
      if (!m) return message_not_found();
      if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
      if (m->system || sql::find_poll(tx, source.channel_id, source.seq)) {
        return bad_input("cannot_forward", "system messages and polls are not forwarded");
      }
      // A forward without a comment passes on what it carries (as Discord's).
      if (m->forward && m->body.empty()) return *m->forward;
      return ForwardSnapshot{m->channel_id, m->seq, m->author, m->body, m->created_at};
    });
  });
}

Task<Result<std::optional<Message>>> MessagingService::find_posted(eth::Address who, std::string channel_id,
                                                                   std::string client_id) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  if (auto c = check_client_id(client_id); !c) co_return std::optional<Message>();
  const auto author = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<std::optional<Message>> {
    return m_db.read([&](Tx& tx) -> Result<std::optional<Message>> {
      auto existing = sql::find_by_client_id(tx, channel_id, author, client_id);
      if (!existing) return std::optional<Message>();
      return std::optional<Message>(with_reactions(tx, std::move(*existing), author));
    });
  });
}

Task<Result<std::vector<Message>>> MessagingService::history(eth::Address who, std::string channel_id,
                                                             HistoryQuery query) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  if (int{query.before_seq.has_value()} + int{query.after_seq.has_value()} + int{query.around_seq.has_value()} > 1) {
    co_return bad_input("invalid_query", "give one of before_seq, after_seq and around_seq");
  }
  const auto limit = std::clamp<std::size_t>(query.limit, 1, m_settings.max_page);
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<std::vector<Message>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<Message>> {
      std::vector<Message> page;
      if (query.around_seq) {
        // Newest first: the ones above, then the seq itself and the ones below.
        page = sql::after(tx, channel_id, *query.around_seq, limit / 2);
        std::reverse(page.begin(), page.end());
        const auto at = std::min<std::int64_t>(*query.around_seq, INT64_MAX - 1);
        auto below = sql::before(tx, channel_id, at + 1, limit - limit / 2);
        std::move(below.begin(), below.end(), std::back_inserter(page));
      } else if (query.after_seq) {
        page = sql::after(tx, channel_id, *query.after_seq, limit);
      } else {
        page = sql::before(tx, channel_id, query.before_seq, limit);
      }
      sql::load_annotations(tx, page, viewer);
      return page;
    });
  });
}

Task<Result<SearchPage>> MessagingService::search(eth::Address who, std::string channel_id, SearchQuery query) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  sql::SearchScan scan;
  scan.channel_id = channel_id;
  auto terms = query_terms(query);
  if (!terms) co_return terms.error();
  scan.terms = std::move(*terms);
  if (query.author) scan.author = eth::to_lower_hex(*query.author);
  scan.limit = std::clamp<std::size_t>(query.limit, 1, m_settings.max_page);
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<SearchPage> {
    return m_db.read([&](Tx& tx) -> Result<SearchPage> {
      const auto head = sql::head(tx, channel_id);
      scan.below_seq = std::min(query.before_seq.value_or(head + 1), head + 1);
      scan.from_seq = std::max<std::int64_t>(1, scan.below_seq - m_settings.search_window);
      SearchPage page;
      if (scan.below_seq <= 1) return page;
      if (auto unindexed_below = sql::backlog_of(tx, channel_id)) page.partial = scan.from_seq < *unindexed_below;
      auto found = sql::search(tx, scan);
      if (found.size() == scan.limit) {
        if (found.back().seq > 1) page.next_before_seq = found.back().seq;
      } else if (scan.from_seq > 1) {
        page.next_before_seq = scan.from_seq;
      }
      for (auto& m : found) {
        if (holds_terms(tx, m, scan.terms)) page.messages.push_back(std::move(m));
      }
      sql::load_annotations(tx, page.messages, viewer);
      return page;
    });
  });
}

Task<Result<CommunitySearchPage>> MessagingService::search_community(eth::Address who, std::string community_id,
                                                                     SearchQuery query,
                                                                     std::optional<SearchKey> before) {
  // Who may search comes first: a stranger learns nothing from how its query is read.
  auto channels = co_await m_access.community_channels(who, community_id);
  if (!channels) co_return channels.error();
  if (query.channel_id) {
    // One channel of the community and its threads: one the caller reads, as anywhere else.
    if (std::find(channels->begin(), channels->end(), *query.channel_id) == channels->end()) {
      co_return forbidden("you may not read this channel");
    }
    *channels = std::vector<std::string>(1, *query.channel_id);
  }
  auto parsed = query_terms(query);
  if (!parsed) co_return parsed.error();
  const std::vector<std::string> terms = std::move(*parsed);
  // Those who moderate a channel search its private threads too.
  auto moderated = co_await private_threads_seen(who, std::move(community_id));
  if (!moderated) co_return moderated.error();
  const std::vector<std::string> sees_private = std::move(*moderated);
  const std::size_t limit = std::clamp<std::size_t>(query.limit, 1, m_settings.max_page);
  const auto viewer = eth::to_lower_hex(who);
  const std::optional<std::string> author =
      query.author ? std::optional<std::string>(eth::to_lower_hex(*query.author)) : std::nullopt;
  co_return co_await m_pool.run([&]() -> Result<CommunitySearchPage> {
    return m_db.read([&](Tx& tx) -> Result<CommunitySearchPage> {
      CommunitySearchPage page;
      if (channels->empty()) return page;
      // The channels, and their threads the caller reads.
      auto places = *channels;
      const sql::PrivateView view{viewer, sees_private};
      for (auto& t : sql::searchable_threads(tx, *channels, view, m_settings.search_threads))
        places.push_back(std::move(t));
      // Looked into: the search_channels places with the newest messages below `before`. The
      // others' messages are all at or below their newest, the highest of which bounds this page:
      // the next one starts just above it, so that one is not skipped.
      std::vector<std::pair<SearchKey, sql::SearchHead>> heads;
      for (auto& [channel_id, head] : sql::search_heads(tx, places, before)) {
        if (head.below_seq > 1 && head.head_ms)
          heads.emplace_back(SearchKey{*head.head_ms, channel_id, head.below_seq - 1}, head);
      }
      std::sort(heads.begin(), heads.end(), [](const auto& a, const auto& b) { return b.first < a.first; });
      std::optional<SearchKey> covered;
      if (heads.size() > m_settings.search_channels) {
        auto above = heads[m_settings.search_channels].first;
        above.seq += 1;
        covered = above;
        heads.resize(m_settings.search_channels);
      }
      // The window (search_window seqs) is shared among them, each looking below where `before`
      // falls in it. What a channel's window covers in the page's order reaches down to its last
      // match when it found `limit` of them, else to the bottom of the window, else (it reached its
      // first message) to the end. Matches below the highest of those bounds are left to the next
      // page, which starts there: no channel has been looked at below it.
      const auto n = static_cast<std::int64_t>(std::max<std::size_t>(1, heads.size()));
      const std::int64_t window = std::max<std::int64_t>(1, (m_settings.search_window + n - 1) / n);
      std::vector<std::pair<std::string, std::int64_t>> window_bottoms;  // their time bounds coverage
      std::vector<Message> found;
      for (const auto& [key, head] : heads) {
        sql::SearchScan scan;
        scan.channel_id = key.channel_id;
        scan.terms = terms;
        scan.author = author;
        scan.limit = limit;
        scan.below_seq = head.below_seq;
        scan.from_seq = std::max<std::int64_t>(1, scan.below_seq - window);
        if (head.unindexed_below) page.partial = page.partial || scan.from_seq < *head.unindexed_below;
        auto matches = sql::search(tx, scan);
        if (matches.size() == limit) {
          const auto bound = search_key(matches.back());
          if (!covered || *covered < bound) covered = bound;
        } else if (scan.from_seq > 1) {
          window_bottoms.emplace_back(key.channel_id, scan.from_seq);
        }
        for (auto& m : matches) {
          if (holds_terms(tx, m, terms)) found.push_back(std::move(m));
        }
      }
      for (const auto& [at, created_ms] : sql::created_ms_of(tx, window_bottoms)) {
        const SearchKey bound{created_ms, at.first, at.second};
        if (!covered || *covered < bound) covered = bound;
      }
      std::sort(found.begin(), found.end(),
                [](const Message& a, const Message& b) { return search_key(b) < search_key(a); });
      if (covered) {
        std::erase_if(found, [&](const Message& m) { return search_key(m) < *covered; });
      }
      if (found.size() >= limit) {
        found.resize(limit);
        page.next_before = search_key(found.back());
      } else {
        page.next_before = covered;
      }
      page.messages = std::move(found);
      for (const auto& m : page.messages) {
        if (!is_thread_id(m.channel_id) || page.thread_parents.contains(m.channel_id)) continue;
        if (auto t = sql::find_thread(tx, m.channel_id)) page.thread_parents.emplace(m.channel_id, t->channel_id);
      }
      sql::load_annotations(tx, page.messages, viewer);
      return page;
    });
  });
}

Task<Result<void>> MessagingService::may_type(eth::Address who, std::string channel_id) {
  co_return co_await require_send(who, channel_id);
}

Task<Result<void>> MessagingService::typing(eth::Address who, std::string channel_id) {
  if (auto r = co_await require_send(who, channel_id); !r) co_return r.error();
  if (m_gateway) {
    json::object frame{{"type", "typing"}, {"channel_id", channel_id}, {"account", eth::to_checksum(who)}};
    m_gateway->broadcast(channel_topic, channel_id, json::serialize(frame), &who);
  }
  co_return ok();
}

Task<Result<std::size_t>> MessagingService::index_backlog() {
  std::size_t looked_at = 0;
  while (looked_at < m_settings.backfill_per_run) {
    auto batch = co_await m_pool.run([&]() -> Result<std::optional<std::size_t>> {
      return m_db.transact([&](Tx& tx) -> Result<std::optional<std::size_t>> {
        auto next = sql::next_backlog(tx);
        if (!next) return std::optional<std::size_t>();
        const auto& [channel_id, below_seq] = *next;
        auto messages = sql::unindexed(tx, channel_id, below_seq, m_settings.backfill_batch);
        for (const auto& m : messages) {
          // A tombstone has no terms; an edit after the index existed wrote its own already.
          if (!m.deleted_at) sql::index_terms(tx, channel_id, m.seq, terms_of(tx, m));
        }
        const auto done_to = messages.size() < m_settings.backfill_batch ? 1 : messages.back().seq;
        sql::set_backlog(tx, channel_id, done_to);
        return std::optional<std::size_t>(messages.size());
      });
    });
    if (!batch) co_return batch.error();
    if (!*batch) break;
    looked_at += **batch;
  }
  co_return looked_at;
}

Task<Result<Message>> MessagingService::get(eth::Address who, std::string channel_id, std::int64_t seq) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<Message> {
    return m_db.read([&](Tx& tx) -> Result<Message> {
      auto m = sql::find(tx, channel_id, seq);
      if (!m) return message_not_found();
      return with_reactions(tx, std::move(*m), viewer);
    });
  });
}

Task<Result<std::vector<Message>>> MessagingService::replies(eth::Address who, std::string channel_id, std::int64_t seq,
                                                             std::int64_t after_seq, std::size_t limit) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  const auto bounded = std::clamp<std::size_t>(limit, 1, m_settings.max_page);
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<std::vector<Message>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<Message>> {
      if (!sql::find(tx, channel_id, seq)) return message_not_found();
      auto page = sql::replies(tx, channel_id, seq, after_seq, bounded);
      sql::load_annotations(tx, page, viewer);
      return page;
    });
  });
}

Task<Result<Message>> MessagingService::edit(eth::Address who, std::string channel_id, std::int64_t seq,
                                             std::string body) {
  if (auto c = check_channel(channel_id); !c) co_return c.error();
  auto rules = co_await m_access.post_rules(who, channel_id);
  if (!rules) co_return rules.error();
  if (auto may = may_send(*rules); !may) co_return may.error();
  if (auto c = check_body(body); !c) co_return c.error();
  // The message is read first: an edit of a message that is not the caller's, or is gone, is
  // refused as such before its text is screened (a screen's refusal is recorded, and may time the
  // caller out). The transaction checks again.
  auto current = co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::find(tx, channel_id, seq); }); });
  if (auto editable = check_editable(current, who); !editable) co_return editable.error();
  if (rules->screen) {
    if (auto blocked = rules->screen->screen(body, mention_count(body))) {
      blocked->content = body;
      co_return co_await refuse_content(who, channel_id, std::move(*blocked), *rules);
    }
  }
  const auto mentions = co_await effective_mentions(who, channel_id, body);
  // Who the old text notified (by address or by role; only the author edits, so reading it before
  // the transaction is safe) and who the new one would: the difference loses its mention
  // notification. Only an edit that changes what the text mentions can take one away: an edit
  // that keeps them (a typo fixed), or of a message that had none, resolves no one.
  std::vector<Mentioned> before;
  std::vector<Mentioned> still;
  if ((!current->mentions.empty() || !current->mention_roles.empty()) &&
      (current->mentions != mentions.accounts || current->mention_roles != mentions.roles)) {
    // A named local: GCC 12 mishandles a temporary passed by reference across a co_await.
    const Mentions old{current->mentions, current->mention_roles};
    before = co_await resolve_mentions(who, channel_id, old);
    still = co_await resolve_mentions(who, channel_id, mentions);
  }
  const auto now = m_clock.now();
  const auto viewer = eth::to_lower_hex(who);
  auto edited = co_await m_pool.run([&]() -> Result<Message> {
    return m_db.transact([&](Tx& tx) -> Result<Message> {
      auto m = sql::find(tx, channel_id, seq, true);
      if (auto editable = check_editable(m, who); !editable) return editable.error();
      json::array unmentioned;
      for (const auto& a : before) {
        if (std::none_of(still.begin(), still.end(), [&](const Mentioned& s) { return s.account == a.account; })) {
          unmentioned.emplace_back(eth::to_checksum(a.account));
        }
      }
      // Only the terms the edit removes or adds change rows; a typo fix touches one or two.
      const auto poll = sql::find_poll(tx, channel_id, seq);
      const auto* poll_text = poll ? &*poll : nullptr;
      const auto* forward = m->forward ? &*m->forward : nullptr;
      const auto title = title_of(tx, channel_id, seq);
      const auto old_terms = terms_of(m->body, poll_text, forward, title);
      const auto new_terms = terms_of(body, poll_text, forward, title);
      std::vector<std::string> gone;
      std::vector<std::string> added;
      std::set_difference(old_terms.begin(), old_terms.end(), new_terms.begin(), new_terms.end(),
                          std::back_inserter(gone));
      std::set_difference(new_terms.begin(), new_terms.end(), old_terms.begin(), old_terms.end(),
                          std::back_inserter(added));
      sql::unindex(tx, channel_id, seq, gone);
      m->body = body;
      m->mentions = mentions.accounts;
      m->mention_roles = mentions.roles;
      m->edited_at = now;
      sql::update_body(tx, *m);
      sql::index_terms(tx, channel_id, seq, added);
      m->change = sql::mark_changed(tx, channel_id, seq);
      json::object event{{"channel_id", channel_id}, {"seq", seq}, {"id", m->id}, {"body", body}};
      publish_or_throw(tx, {"messaging.message_edited", channel_id, json::serialize(event)});
      if (!unmentioned.empty()) {
        json::object removed{
            {"channel_id", channel_id}, {"seq", seq}, {"message_id", m->id}, {"accounts", std::move(unmentioned)}};
        publish_or_throw(tx, {"messaging.mention_removed", channel_id, json::serialize(removed)});
      }
      return with_reactions(tx, std::move(*m), viewer);
    });
  });
  if (!edited) co_return edited.error();
  announce_update(channel_id, *edited);
  co_return edited;
}

Task<Result<void>> MessagingService::remove(eth::Address who, std::string channel_id, std::int64_t seq) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  auto moderates = co_await m_access.can_moderate(who, channel_id);
  if (!moderates) co_return moderates.error();
  const bool moderator = *moderates;
  const auto now = m_clock.now();
  std::optional<Message> tombstone;
  std::optional<Thread> activity;
  auto removed = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      activity.reset();
      auto m = sql::find(tx, channel_id, seq, true);
      if (!m) return message_not_found();
      if (m->author != who && !moderator) {
        return make_error(ErrorKind::forbidden, "not_author",
                          "only the author or a member with manage_messages may delete a message");
      }
      if (m->deleted_at) return ok();
      tombstone = delete_message(tx, *m, who, now);
      if (is_thread_id(channel_id)) activity = sql::find_thread(tx, channel_id);
      return ok();
    });
  });
  if (!removed) co_return removed.error();
  if (tombstone) announce_update(channel_id, *tombstone);
  if (activity) announce_activity(*activity);
  co_return ok();
}

Task<Result<std::vector<std::int64_t>>> MessagingService::remove_many(eth::Address who, std::string channel_id,
                                                                      std::vector<std::int64_t> seqs) {
  if (seqs.empty() || seqs.size() > max_bulk_delete ||
      std::any_of(seqs.begin(), seqs.end(), [](std::int64_t seq) { return seq <= 0; })) {
    co_return bad_input("invalid_seqs", "seqs must list 1 to " + std::to_string(max_bulk_delete) + " seqs");
  }
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  if (auto r = co_await require_moderator(who, channel_id, "deleting messages in bulk"); !r) co_return r.error();
  const auto now = m_clock.now();
  std::vector<Message> tombstones;
  std::optional<Thread> activity;
  auto removed = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      tombstones.clear();  // a retried transaction starts over
      activity.reset();
      for (const auto seq : seqs) {
        auto m = sql::find(tx, channel_id, seq, true);
        if (!m || m->deleted_at) continue;
        tombstones.push_back(delete_message(tx, *m, who, now, true));
      }
      if (tombstones.empty()) return ok();
      json::array deleted;
      for (const auto& t : tombstones) deleted.emplace_back(t.seq);
      json::object event{
          {"channel_id", channel_id}, {"seqs", std::move(deleted)}, {"deleted_by", eth::to_checksum(who)}};
      name_parent(tx, event, channel_id);
      publish_or_throw(tx, {"messaging.messages_bulk_deleted", channel_id, json::serialize(event)});
      if (is_thread_id(channel_id)) activity = sql::find_thread(tx, channel_id);
      return ok();
    });
  });
  if (!removed) co_return removed.error();
  std::vector<std::int64_t> deleted;
  deleted.reserve(tombstones.size());
  for (const auto& t : tombstones) {
    deleted.push_back(t.seq);
    if (m_gateway) m_gateway->broadcast(channel_topic, channel_id, update_frame(t));
  }
  if (!tombstones.empty() && m_events_published) m_events_published();
  if (activity) announce_activity(*activity);
  co_return deleted;
}

void MessagingService::announce_update(const std::string& channel_id, const Message& m) {
  if (m_events_published) m_events_published();
  if (m_gateway) m_gateway->broadcast(channel_topic, channel_id, update_frame(m));
}

// --- reports ---

namespace {

Error report_not_found() {
  return make_error(ErrorKind::not_found, "report_not_found", "no such report");
}

// The channel whose report topic carries a report: a thread's reports reach its parent's moderators.
std::string report_topic_id(Tx& tx, const std::string& channel_id) {
  if (!is_thread_id(channel_id)) return channel_id;
  auto t = sql::find_thread(tx, channel_id);
  return t ? t->channel_id : channel_id;
}

}  // namespace

Task<Result<Filed>> MessagingService::report(eth::Address who, std::string channel_id, std::int64_t seq,
                                             std::string reason, std::string note) {
  if (!valid_report_reason(reason)) {
    co_return bad_input("invalid_reason", "reason is spam, scam, harassment, nsfw or other");
  }
  if (auto c = check_report_text(note, "invalid_note"); !c) co_return c.error();
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  const auto now = unix_millis(m_clock.now());
  const auto reporter = eth::to_lower_hex(who);
  std::string topic = channel_id;
  auto filed = co_await m_pool.run([&]() -> Result<Filed> {
    return m_db.transact([&](Tx& tx) -> Result<Filed> {
      if (auto existing = sql::find_report_by(tx, channel_id, seq, reporter)) return Filed{std::move(*existing), false};
      topic = report_topic_id(tx, channel_id);
      auto m = sql::find(tx, channel_id, seq);
      if (!m) return message_not_found();
      if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
      if (m->author == who) return bad_input("own_message", "you cannot report your own message");
      if (sql::count_open_reports(tx, reporter) >= max_open_reports) {
        return make_error(ErrorKind::conflict, "too_many_reports",
                          "you have " + std::to_string(max_open_reports) + " open reports; wait for moderators");
      }
      Report r;
      r.channel_id = channel_id;
      r.seq = seq;
      r.message_id = m->id;
      r.author = m->author;
      r.body = m->body;
      r.reporter = who;
      r.reason = reason;
      r.note = note;
      auto id = sql::insert_report(tx, r, now);
      // The same report filed at once by another request of the reporter: that one stands.
      auto stored = sql::find_report_by(tx, channel_id, seq, reporter);
      if (!stored) return make_error(ErrorKind::conflict, "conflict", "the report could not be stored; retry");
      if (!id) return Filed{std::move(*stored), false};
      json::object event{{"report_id", *id},
                         {"channel_id", channel_id},
                         {"seq", seq},
                         {"message_id", m->id},
                         {"author", eth::to_checksum(m->author)},
                         {"reporter", eth::to_checksum(who)},
                         {"reason", reason}};
      publish_or_throw(tx, {"messaging.message_reported", channel_id, json::serialize(event)});
      return Filed{std::move(*stored), true};
    });
  });
  if (filed && filed->created) {
    if (m_events_published) m_events_published();
    announce_report(filed->report, topic);
  }
  co_return filed;
}

Task<Result<ReportPage>> MessagingService::community_reports(eth::Address who, std::string community_id,
                                                             ReportFilter filter) {
  if (auto checked = check_report_filter(filter); !checked) co_return checked.error();
  auto channels = co_await m_access.moderated_channels(who, std::move(community_id));
  if (!channels) co_return channels.error();
  sql::ReportQuery query;
  query.channel_ids = std::move(*channels);
  co_return co_await report_page(std::move(query), filter);
}

Task<Result<ReportPage>> MessagingService::my_reports(eth::Address who, ReportFilter filter) {
  if (auto checked = check_report_filter(filter); !checked) co_return checked.error();
  sql::ReportQuery query;
  query.reporter = eth::to_lower_hex(who);
  co_return co_await report_page(std::move(query), filter);
}

Task<Result<ReportPage>> MessagingService::report_page(sql::ReportQuery query, ReportFilter filter) {
  const auto limit = std::clamp<std::size_t>(filter.limit, 1, m_settings.max_page);
  query.status = filter.status;
  query.before_id = filter.before_id;
  query.limit = limit + 1;
  co_return co_await m_pool.run([&]() -> Result<ReportPage> {
    return m_db.read([&](Tx& tx) -> Result<ReportPage> {
      ReportPage page;
      page.reports = sql::reports(tx, query);
      if (page.reports.size() > limit) {
        page.reports.pop_back();
        page.next_before = page.reports.back().id;
      }
      return page;
    });
  });
}

Task<Result<Report>> MessagingService::update_report(eth::Address who, std::int64_t report_id, std::string status,
                                                     std::string resolution) {
  if (!valid_report_status(status)) co_return bad_input("invalid_status", "status is open, resolved or dismissed");
  if (auto c = check_report_text(resolution, "invalid_resolution"); !c) co_return c.error();
  auto found = co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::find_report(tx, report_id); }); });
  // One who does not moderate the report's channel learns nothing of it, not even that it exists.
  if (!found) co_return report_not_found();
  auto moderates = co_await m_access.can_moderate(who, found->channel_id);
  if (!moderates) co_return moderates.error();
  if (!*moderates) co_return report_not_found();
  const auto now = unix_millis(m_clock.now());
  std::string topic;
  auto updated = co_await m_pool.run([&]() -> Result<std::pair<Report, bool>> {
    return m_db.transact([&](Tx& tx) -> Result<std::pair<Report, bool>> {
      auto r = sql::find_report(tx, report_id, true);
      if (!r) return report_not_found();
      topic = report_topic_id(tx, r->channel_id);
      if (r->status == status && r->resolution == resolution) return std::pair{std::move(*r), false};
      const bool open = status == "open";
      sql::update_report(tx, report_id, status, resolution, open ? std::nullopt : std::optional(eth::to_lower_hex(who)),
                         open ? std::nullopt : std::optional(now));
      json::object event{{"report_id", report_id},
                         {"channel_id", r->channel_id},
                         {"seq", r->seq},
                         {"author", eth::to_checksum(r->author)},
                         {"previous", r->status},
                         {"status", status},
                         {"by", eth::to_checksum(who)}};
      name_parent(tx, event, r->channel_id);
      publish_or_throw(tx, {"messaging.report_updated", r->channel_id, json::serialize(event)});
      auto fresh = sql::find_report(tx, report_id);
      return std::pair{std::move(*fresh), true};
    });
  });
  if (!updated) co_return updated.error();
  if (updated->second) {
    if (m_events_published) m_events_published();
    announce_report(updated->first, topic);
  }
  co_return std::move(updated->first);
}

Task<Result<std::size_t>> MessagingService::purge_reports() {
  const auto cutoff = unix_millis(m_clock.now()) -
                      std::chrono::duration_cast<std::chrono::milliseconds>(m_settings.report_retention).count();
  co_return co_await store::delete_in_batches(
      m_db, m_pool, m_settings.report_purge_batch,
      [&](Tx& tx, std::size_t limit) { return sql::purge_reports(tx, cutoff, limit); });
}

// --- threads ---

Task<Result<std::size_t>> MessagingService::archive_inactive_threads() {
  const auto now_ms = unix_millis(m_clock.now());
  co_return co_await store::delete_in_batches(m_db, m_pool, m_settings.purge_batch, [&](Tx& tx, std::size_t limit) {
    const auto inactive = sql::inactive_threads(tx, now_ms, limit);
    for (const auto& t : inactive) {
      if (!sql::record_archive(tx, t.id, now_ms)) continue;
      const auto at = thread_archived_at(t, SystemTime(std::chrono::milliseconds(now_ms)));
      const json::object event{{"id", t.id},
                               {"channel_id", t.channel_id},
                               {"archived_at", at ? json::value(format_rfc3339(*at)) : json::value(nullptr)}};
      publish_or_throw(tx, {"messaging.thread_archived", t.channel_id, json::serialize(event)});
    }
    return inactive.size();
  });
}

void MessagingService::on_thread_archived(Tx& tx, const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto* id = payload->if_contains("id");
  if (id == nullptr || !id->is_string()) return;
  // As it is now: one brought back since is not shown archived.
  auto t = sql::find_thread(tx, std::string(id->as_string()));
  if (t && thread_archived(*t, m_clock.now())) announce_thread("thread_updated", *t, true);
}

namespace {

Error thread_not_found() {
  return make_error(ErrorKind::not_found, "thread_not_found", "no such thread");
}

// "<last_ms>.<id>": where the next page of threads starts.
std::string thread_cursor(const Thread& t, bool by_creation) {
  return std::to_string(unix_millis(by_creation ? t.created_at : t.last_activity)) + "." + t.id;
}

// "<ms>.<rest>", the shape of the thread and member cursors: the time, and the rest unread.
std::optional<std::pair<std::int64_t, std::string_view>> split_cursor(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 18) return std::nullopt;
  std::int64_t ms = 0;
  for (const char ch : text.substr(0, dot)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    ms = ms * 10 + (ch - '0');
  }
  return std::pair{ms, text.substr(dot + 1)};
}

std::optional<sql::ThreadCursor> parse_thread_cursor(std::string_view text) {
  const auto parts = split_cursor(text);
  if (!parts || !is_thread_id(parts->second) || !valid_channel_id(parts->second)) return std::nullopt;
  return sql::ThreadCursor{parts->first, std::string(parts->second)};
}

}  // namespace

Task<Result<void>> MessagingService::screen_thread_name(const eth::Address& who, const std::string& channel_id,
                                                        const std::string& name, const PostRules& rules,
                                                        const std::string& thread_id) {
  if (!rules.screen) co_return ok();
  auto blocked = co_await m_pool.run([&] { return rules.screen->screen(name, mention_count(name)); });
  if (!blocked) co_return ok();
  blocked->content = name;
  blocked->thread_id = thread_id;
  co_return co_await refuse_content(who, channel_id, std::move(*blocked), rules);
}

void MessagingService::announce_thread(std::string_view type, const Thread& t, bool to_thread) {
  if (m_events_published) m_events_published();
  if (!m_gateway) return;
  json::object frame{{"type", type}, {"thread", thread_json(t, m_clock.now())}};
  const auto text = json::serialize(frame);
  // A private thread is not shown to the channel: its own subscribers read it.
  if (!t.is_private) m_gateway->broadcast(channel_topic, t.channel_id, text);
  if (to_thread) m_gateway->broadcast(channel_topic, t.id, text);
}

Task<Result<StartedThread>> MessagingService::create_thread(eth::Address who, std::string channel_id, NewThread spec) {
  if (auto c = check_channel(channel_id); !c) co_return c.error();
  if (is_thread_id(channel_id))
    co_return bad_input("invalid_channel", "a thread is started in a channel, not a thread");
  if (auto c = check_thread_name(spec.name); !c) co_return c.error();
  if (spec.auto_archive_minutes) {
    if (auto c = check_auto_archive(*spec.auto_archive_minutes); !c) co_return c.error();
  }
  if (spec.seq && *spec.seq <= 0) co_return bad_input("invalid_seq", "seq is a positive integer");
  if (spec.is_private && spec.seq) {
    co_return bad_input("invalid_field", "a private thread starts on its own, not from a message");
  }
  if (spec.invitable && !spec.is_private) co_return bad_input("invalid_field", "only a private thread is invitable");
  if (spec.message) {
    if (auto c = check_new_message(*spec.message); !c) co_return c.error();
    if (spec.message->reply_to) co_return bad_input("invalid_reply_to", "a post's first message replies to nothing");
  }
  // One read of the rules: the right to send messages, and the content rules the name passes.
  auto rules = co_await m_access.post_rules(who, channel_id);
  if (!rules) co_return rules.error();
  if (rules->allowed && rules->category)
    co_return bad_input("invalid_channel", "a category holds channels, not threads");
  if (auto may = may_send(*rules); !may) co_return may.error();
  if (!rules->forum && (spec.message || !spec.applied_tags.empty())) {
    co_return bad_input("invalid_field", "only a forum channel's posts start with a message and carry tags");
  }
  if (rules->forum) {
    if (!spec.message) co_return bad_input("invalid_field", "a forum post starts with a message");
    if (spec.seq || spec.is_private) {
      co_return bad_input("invalid_field", "a forum post starts on its own, and is read by all who read the forum");
    }
    if (auto c = check_applied_tags(spec.applied_tags, {}, *rules, rules->exempt); !c) co_return c.error();
  }
  const std::string not_yet;  // the thread has no id before it starts
  if (auto screened = co_await screen_thread_name(who, channel_id, spec.name, *rules, not_yet); !screened) {
    co_return screened.error();
  }
  if (spec.message && rules->screen) {
    // A post's message passes the rules before its thread starts: a refused one leaves no post.
    auto text = screened_text(*spec.message);
    auto blocked = co_await m_pool.run([&] { return rules->screen->screen(text, mention_count(spec.message->body)); });
    if (blocked) {
      blocked->content = std::move(text);
      co_return co_await refuse_content(who, channel_id, std::move(*blocked), *rules);
    }
  }
  const auto now = m_clock.now();
  const auto viewer = eth::to_lower_hex(who);
  std::optional<Message> starter;
  // A forum post's retry finds the post it made (its message's client id).
  const auto retried = [&](Tx& tx) -> Result<std::optional<Thread>> {
    if (!spec.message) return std::optional<Thread>();
    auto found = sql::thread_of_client(tx, channel_id, viewer, spec.message->client_id);
    if (!found) return std::optional<Thread>();
    // A client_id names one post: the retry of one since deleted finds it no more.
    if (found->second) return thread_not_found();
    return std::optional<Thread>(std::move(found->first));
  };
  auto start = [&]() -> Result<std::pair<Thread, bool>> {
    return m_db.transact([&](Tx& tx) -> Result<std::pair<Thread, bool>> {
      // The channel's lock: two threads of one message, or past the limit, cannot both pass.
      sql::lock_channel(tx, channel_id);
      auto earlier = retried(tx);
      if (!earlier) return std::move(earlier).error();
      if (*earlier) return std::pair{std::move(**earlier), false};
      // A forum's slow mode spaces its posts too (as Discord's), under the channel's lock.
      if (rules->forum && !rules->exempt && rules->slow_mode_seconds > 0) {
        if (auto last = sql::last_post_started_ms(tx, channel_id, viewer)) {
          const auto wait_ms = *last + rules->slow_mode_seconds * 1000 - unix_millis(now);
          if (wait_ms > 0) {
            auto e = rate_limited("this forum is in slow mode; wait before starting another post",
                                  std::chrono::seconds((wait_ms + 999) / 1000));
            e.code = "slow_mode";
            return e;
          }
        }
      }
      if (spec.seq) {
        auto m = sql::find(tx, channel_id, *spec.seq);
        if (!m) return message_not_found();
        if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
        if (auto existing = sql::thread_of_message(tx, channel_id, *spec.seq)) {
          auto e = make_error(ErrorKind::conflict, "thread_exists", "a thread was already started from this message");
          e.details_json = json::serialize(json::object{{"thread_id", existing->id}});
          return e;
        }
      }
      if (sql::count_active_threads(tx, channel_id, unix_millis(now)) >=
          static_cast<std::int64_t>(max_active_threads)) {
        return make_error(ErrorKind::conflict, "too_many_threads",
                          "a channel holds at most " + std::to_string(max_active_threads) + " active threads");
      }
      Thread t;
      t.id = std::string(thread_id_prefix) + net::make_request_id();
      t.channel_id = channel_id;
      t.seq = spec.seq;
      t.name = spec.name;
      t.creator = who;
      t.created_at = SystemTime(std::chrono::milliseconds(unix_millis(now)));
      t.auto_archive_minutes = spec.auto_archive_minutes.value_or(rules->default_auto_archive_minutes);
      t.last_activity = t.created_at;
      t.is_private = spec.is_private;
      t.invitable = spec.invitable.value_or(true);
      t.applied_tags = spec.applied_tags;
      if (spec.message) t.client_id = spec.message->client_id;
      if (rules->forum) {
        // A forum numbers its posts with its own seq, as a channel its messages: its read marker,
        // unread count and "mark read" then count posts. Starting one reads the forum up to it.
        t.post_seq = sql::next_seq(tx, channel_id, unix_millis(now)).first;
        sql::set_read_marker(tx, viewer, channel_id, t.post_seq, unix_millis(now));
      }
      sql::insert_thread(tx, t);
      if (sql::join_thread(tx, t.id, viewer, unix_millis(t.created_at))) t.member_count = 1;
      auto event = thread_json(t, now);
      event["by"] = eth::to_checksum(who);
      publish_or_throw(tx, {"messaging.thread_created", channel_id, json::serialize(event)});
      if (spec.seq) {
        // The message shows its thread: a change, as an edit is.
        sql::mark_changed(tx, channel_id, *spec.seq);
        starter = with_reactions(tx, *sql::find(tx, channel_id, *spec.seq), viewer);
      }
      return std::pair{std::move(t), true};
    });
  };
  auto created = co_await m_pool.run([&]() -> Result<std::pair<Thread, bool>> {
    try {
      return start();
    } catch (const store::DbError& e) {
      if (e.kind() != store::DbErrorKind::unique_violation || !spec.message) throw;
      // The same post raced itself: the other request committed first; answer its thread.
      return m_db.read([&](Tx& tx) -> Result<std::pair<Thread, bool>> {
        auto existing = retried(tx);
        if (!existing) return std::move(existing).error();
        if (*existing) return std::pair{std::move(**existing), false};
        return make_error(ErrorKind::conflict, "conflict", "the post could not be stored; retry");
      });
    }
  });
  if (!created) co_return created.error();
  Thread& thread_made = created->first;
  const bool fresh = created->second;
  if (fresh) {
    announce_thread("thread_created", thread_made, false);
    if (thread_made.is_private && m_gateway) {
      // Not shown to the channel: its creator's sockets learn it.
      const json::object frame{{"type", "thread_created"}, {"thread", thread_json(thread_made, now)}};
      m_gateway->send_to_account(who, json::serialize(frame));
    }
    if (starter) announce_update(channel_id, *starter);
    const std::vector<eth::Address> creator(1, who);
    announce_members(thread_made, creator, true);
  }
  StartedThread out{std::move(thread_made)};
  if (spec.message) {
    // The post's message, as a post in the thread: its retry is answered with the first. A post
    // made now, public and unlocked, has the forum's rules as read above.
    std::optional<PostRules> known;
    if (fresh && !out.thread.locked && !out.thread.is_private) {
      known = rules_in_thread(*rules, ThreadState{channel_id, false, out.thread.slow_mode_seconds, false, true});
    }
    auto posted = co_await post_with(who, out.thread.id, std::move(*spec.message), std::move(known));
    if (!posted) {
      // A message the post cannot take leaves no post behind (one already there stays).
      if (fresh) {
        if (auto removed = co_await remove_thread(who, out.thread, true); !removed) {
          log::warn("a forum post without its message was not withdrawn",
                    {{"thread_id", out.thread.id}, {"error", removed.error().message}});
        }
      }
      co_return posted.error();
    }
    out.message = std::move(posted->message);
    auto shown = co_await thread(who, out.thread.id);
    if (!shown) co_return shown.error();
    out.thread = std::move(*shown);
    co_return out;
  }
  out.thread.joined = true;
  out.thread.notify = ThreadNotify::all;
  co_return out;
}

Task<Result<ThreadPage>> MessagingService::threads(eth::Address who, std::string channel_id, ThreadQuery query) {
  if (is_thread_id(channel_id)) co_return bad_input("invalid_channel", "threads are listed by their channel");
  if (query.tag &&
      (query.tag->empty() || query.tag->size() > 64 || !std::all_of(query.tag->begin(), query.tag->end(), [](char c) {
         return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
       }))) {
    co_return bad_input("invalid_tag", "tag is the id of one of the forum's tags");
  }
  if (query.cursor && !parse_thread_cursor(*query.cursor)) {
    co_return bad_input("invalid_cursor", "cursor is the next_cursor of a previous page");
  }
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  auto moderates = co_await m_access.can_moderate(who, channel_id);
  if (!moderates) co_return moderates.error();
  std::vector<std::string> channels(1, channel_id);
  std::vector<std::string> moderated;
  if (*moderates) moderated.push_back(channel_id);
  query.pinned_apart = !query.archived;
  co_return co_await thread_page(who, std::move(channels), std::move(moderated), query);
}

Task<Result<ThreadPage>> MessagingService::community_threads(eth::Address who, std::string community_id,
                                                             ThreadQuery query) {
  // Who may list comes first: a stranger learns nothing from how its cursor is read.
  auto channels = co_await m_access.community_channels(who, community_id);
  if (!channels) co_return channels.error();
  if (query.cursor && !parse_thread_cursor(*query.cursor)) {
    co_return bad_input("invalid_cursor", "cursor is the next_cursor of a previous page");
  }
  // Those who moderate see its private threads too.
  auto moderated = co_await private_threads_seen(who, std::move(community_id));
  if (!moderated) co_return moderated.error();
  query.archived = false;
  co_return co_await thread_page(who, std::move(*channels), std::move(*moderated), query);
}

Task<Result<std::vector<std::string>>> MessagingService::private_threads_seen(eth::Address who,
                                                                              std::string community_id) {
  auto moderated = co_await m_access.moderated_channels(who, std::move(community_id));
  // One who moderates nothing there is refused the list: it sees no channel's private threads.
  if (!moderated && moderated.error().kind == ErrorKind::forbidden) co_return std::vector<std::string>{};
  co_return moderated;
}

namespace {

// Whether the viewer joined the thread, and its notification setting there, from its memberships.
void show_membership(Thread& t, const std::map<std::string, ThreadNotify>& joined) {
  const auto found = joined.find(t.id);
  t.joined = found != joined.end();
  if (found != joined.end()) t.notify = found->second;
}

}  // namespace

Task<Result<ThreadPage>> MessagingService::thread_page(const eth::Address& who, std::vector<std::string> channel_ids,
                                                       std::vector<std::string> moderated, const ThreadQuery& query) {
  std::optional<sql::ThreadCursor> before;
  if (query.cursor) before = parse_thread_cursor(*query.cursor);
  const auto limit = std::clamp<std::size_t>(query.limit, 1, m_settings.max_page);
  const auto now_ms = unix_millis(m_clock.now());
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<ThreadPage> {
    return m_db.read([&](Tx& tx) -> Result<ThreadPage> {
      ThreadPage page;
      const sql::PrivateView view{viewer, moderated};
      const auto member = query.joined ? std::optional<std::string>(viewer) : std::nullopt;
      const auto apart = query.pinned_apart ? std::optional<bool>(false) : std::nullopt;
      page.threads = sql::list_threads(tx, channel_ids, query.archived, now_ms, before, limit + 1, view, member,
                                       query.tag, query.by_creation, apart);
      page.lists_pinned = query.pinned_apart;
      if (query.pinned_apart && !before) {
        // The pinned post, first, on the first page (when it passes the same filters).
        auto pinned = sql::list_threads(tx, channel_ids, false, now_ms, std::nullopt, 1, view, member, query.tag,
                                        query.by_creation, true);
        if (!pinned.empty()) page.pinned = std::move(pinned.front());
      }
      if (page.threads.size() > limit) {
        page.threads.pop_back();
        page.next_cursor = thread_cursor(page.threads.back(), query.by_creation);
      }
      std::vector<std::string> ids;
      ids.reserve(page.threads.size());
      for (const auto& t : page.threads) ids.push_back(t.id);
      const auto mine = sql::joined_among(tx, viewer, ids);
      for (auto& t : page.threads) show_membership(t, mine);
      if (page.pinned) {
        const std::vector<std::string> one(1, page.pinned->id);
        show_membership(*page.pinned, sql::joined_among(tx, viewer, one));
        ids.push_back(page.pinned->id);
      }
      page.first_messages = sql::first_messages(tx, ids);
      sql::load_annotations(tx, page.first_messages, viewer);
      return page;
    });
  });
}

Task<Result<Thread>> MessagingService::thread(eth::Address who, std::string thread_id) {
  if (!is_thread_id(thread_id) || !valid_channel_id(thread_id)) co_return thread_not_found();
  auto readable = co_await m_access.can_read(who, thread_id);
  if (!readable) co_return readable.error();
  if (!*readable) co_return thread_not_found();
  const auto viewer = eth::to_lower_hex(who);
  auto found = co_await m_pool.run([&] {
    return m_db.read([&](Tx& tx) {
      auto t = sql::find_thread(tx, thread_id);
      if (t) show_membership(*t, sql::joined_among(tx, viewer, {thread_id}));
      return t;
    });
  });
  if (!found) co_return thread_not_found();
  co_return std::move(*found);
}

Task<Result<Thread>> MessagingService::update_thread(eth::Address who, std::string thread_id, ThreadChange change) {
  if (change.name) {
    if (auto c = check_thread_name(*change.name); !c) co_return c.error();
  }
  if (change.auto_archive_minutes) {
    if (auto c = check_auto_archive(*change.auto_archive_minutes); !c) co_return c.error();
  }
  if (change.slow_mode_seconds) {
    if (auto c = check_thread_slow_mode(*change.slow_mode_seconds); !c) co_return c.error();
  }
  auto current = co_await thread(who, thread_id);
  if (!current) co_return current.error();
  if (change.invitable && !current->is_private) {
    co_return bad_input("invalid_field", "only a private thread is invitable");
  }
  auto moderates = co_await m_access.can_moderate(who, current->channel_id);
  if (!moderates) co_return moderates.error();
  if (!*moderates) {
    if (current->creator != who) {
      co_return make_error(ErrorKind::forbidden, "missing_permission",
                           "a thread is changed by its creator or by those who moderate its channel");
    }
    if (change.locked || change.slow_mode_seconds || change.invitable || change.pinned) {
      co_return make_error(
          ErrorKind::forbidden, "missing_permission",
          "locking a thread, its slow mode, who invites or a pin takes manage_messages in its channel");
    }
  }
  // The creator writes as in the thread: not while timed out, nor once a moderator locked it. A new
  // name passes the content rules; only one who may rename the thread gets this far, so others
  // leave no block behind. One read of the rules for both.
  const bool renames = change.name && *change.name != current->name;
  if (!*moderates || renames || change.applied_tags || change.pinned) {
    // The content rules are read only for a new name to pass.
    Result<PostRules> rules = PostRules{};
    if (renames) {
      rules = co_await m_access.post_rules(who, thread_id);
    } else {
      rules = co_await m_access.write_rules(who, thread_id);
    }
    if (!rules) co_return rules.error();
    if (!*moderates) {
      if (auto may = may_post(*rules); !may) co_return may.error();
    }
    if ((change.applied_tags || change.pinned) && !rules->forum) {
      co_return bad_input("invalid_field", "only a forum post carries tags and is pinned");
    }
    if (change.applied_tags) {
      auto checked = check_applied_tags(*change.applied_tags, current->applied_tags, *rules, *moderates);
      if (!checked) co_return checked.error();
    }
    if (renames) {
      auto screened = co_await screen_thread_name(who, current->channel_id, *change.name, *rules, thread_id);
      if (!screened) co_return screened.error();
    }
  }
  const auto now = m_clock.now();
  // Pinning a post brings it back when archived.
  if (change.pinned && *change.pinned && !change.archived) change.archived = false;
  // The post a pin takes the forum's pin from.
  std::optional<Thread> unpinned;
  auto updated = co_await m_pool.run([&]() -> Result<std::pair<Thread, bool>> {
    return m_db.transact([&](Tx& tx) -> Result<std::pair<Thread, bool>> {
      unpinned.reset();
      // One pin per forum: two pins at once, of two posts, take the forum's lock one after the other.
      if (change.pinned && *change.pinned) sql::lock_channel(tx, current->channel_id);
      // Locked: two changes at once apply one after the other, neither undoing the other.
      auto t = sql::find_thread(tx, thread_id, true);
      if (!t) return thread_not_found();
      auto next = *t;
      if (change.pinned) {
        // Unpinned, it counts its inactivity from now, as after a change of its auto-archive time.
        if (!*change.pinned && t->pinned) {
          next.last_activity = std::max(next.last_activity, SystemTime(std::chrono::milliseconds(unix_millis(now))));
        }
        next.pinned = *change.pinned;
      }
      if (change.name) next.name = *change.name;
      if (change.auto_archive_minutes) next.auto_archive_minutes = *change.auto_archive_minutes;
      if (change.locked) next.locked = *change.locked;
      if (change.slow_mode_seconds) next.slow_mode_seconds = *change.slow_mode_seconds;
      if (change.invitable) next.invitable = *change.invitable;
      if (change.applied_tags) next.applied_tags = *change.applied_tags;
      const bool was_archived = thread_archived(*t, now);
      if (change.archived && *change.archived && !was_archived) {
        next.archived_at = SystemTime(std::chrono::milliseconds(unix_millis(now)));
      } else if (change.archived && !*change.archived && was_archived) {
        // Back: active again for a whole auto-archive time.
        next.archived_at.reset();
        next.last_activity = SystemTime(std::chrono::milliseconds(unix_millis(now)));
      } else if (was_archived && !next.archived_at) {
        // Archived by inactivity and not recorded yet: it stays archived whatever else changes, as
        // once the job recorded it.
        next.archived_at = thread_archived_at(*t, now);
      }
      // A change of the auto-archive time counts from now, as a message would.
      if (change.auto_archive_minutes && !thread_archived(next, now)) {
        next.last_activity = std::max(next.last_activity, SystemTime(std::chrono::milliseconds(unix_millis(now))));
      }
      const bool changed = next.name != t->name || next.auto_archive_minutes != t->auto_archive_minutes ||
                           next.locked != t->locked || thread_archived_at(next, now) != thread_archived_at(*t, now) ||
                           next.last_activity != t->last_activity || next.slow_mode_seconds != t->slow_mode_seconds ||
                           next.invitable != t->invitable || next.applied_tags != t->applied_tags ||
                           next.pinned != t->pinned;
      if (!changed) return std::pair{std::move(*t), false};
      sql::update_thread(tx, next);
      if (next.name != t->name) retitle(tx, thread_id, t->name, next.name);
      auto event = thread_json(next, now);
      event["by"] = eth::to_checksum(who);
      // What changed, and whether it took moderation rights: another's thread, a lock or a slow
      // mode (the community's audit log records those).
      json::object changes;
      if (next.name != t->name) changes["name"] = next.name;
      if (const bool archived = thread_archived(next, now); archived != was_archived) changes["archived"] = archived;
      if (next.locked != t->locked) changes["locked"] = next.locked;
      if (next.auto_archive_minutes != t->auto_archive_minutes)
        changes["auto_archive_minutes"] = next.auto_archive_minutes;
      if (next.slow_mode_seconds != t->slow_mode_seconds) changes["slow_mode_seconds"] = next.slow_mode_seconds;
      if (next.invitable != t->invitable) changes["invitable"] = next.invitable;
      if (next.applied_tags != t->applied_tags) {
        json::array tags;
        for (const auto& tag : next.applied_tags) tags.emplace_back(tag);
        changes["applied_tags"] = std::move(tags);
      }
      if (next.pinned != t->pinned) changes["pinned"] = next.pinned;
      event["changes"] = std::move(changes);
      if (*moderates &&
          (who != t->creator || next.locked != t->locked || next.slow_mode_seconds != t->slow_mode_seconds ||
           next.invitable != t->invitable || next.pinned != t->pinned))
        event["moderation"] = true;
      publish_or_throw(tx, {"messaging.thread_updated", next.channel_id, json::serialize(event)});
      if (next.pinned && !t->pinned) {
        // The forum's pin moves: its pinned post before is pinned no more.
        if (auto other = sql::pinned_post(tx, next.channel_id); other && other->id != next.id) {
          auto was = *other;
          other->pinned = false;
          if (!thread_archived(was, now)) {
            other->last_activity =
                std::max(other->last_activity, SystemTime(std::chrono::milliseconds(unix_millis(now))));
          }
          sql::update_thread(tx, *other);
          auto moved = thread_json(*other, now);
          moved["by"] = eth::to_checksum(who);
          moved["changes"] = json::object{{"pinned", false}};
          moved["moderation"] = true;
          publish_or_throw(tx, {"messaging.thread_updated", other->channel_id, json::serialize(moved)});
          unpinned = std::move(*other);
        }
      }
      return std::pair{std::move(next), true};
    });
  });
  if (!updated) co_return updated.error();
  if (updated->second) announce_thread("thread_updated", updated->first, true);
  if (unpinned) announce_thread("thread_updated", *unpinned, true);
  updated->first.joined = current->joined;
  updated->first.notify = current->notify;
  co_return std::move(updated->first);
}

Task<Result<void>> MessagingService::delete_thread(eth::Address who, std::string thread_id) {
  auto current = co_await thread(who, thread_id);
  if (!current) co_return current.error();
  if (auto r = co_await require_moderator(who, current->channel_id, "deleting a thread"); !r) co_return r.error();
  co_return co_await remove_thread(who, *current);
}

Task<Result<void>> MessagingService::remove_thread(const eth::Address& who, const Thread& current, bool withdrawn) {
  const auto thread_id = current.id;
  const auto now_ms = unix_millis(m_clock.now());
  const auto viewer = eth::to_lower_hex(who);
  std::optional<Message> starter;
  auto deleted = co_await m_pool.run([&]() -> Result<bool> {
    return m_db.transact([&](Tx& tx) -> Result<bool> {
      starter.reset();
      if (!sql::delete_thread(tx, thread_id, now_ms)) return false;
      if (withdrawn) sql::release_client_id(tx, thread_id);
      json::object event{{"id", thread_id},
                         {"channel_id", current.channel_id},
                         {"seq", current.seq ? json::value(*current.seq) : json::value(nullptr)},
                         {"name", current.name},
                         {"creator", eth::to_checksum(current.creator)},
                         {"by", eth::to_checksum(who)}};
      if (withdrawn) event["withdrawn"] = true;
      publish_or_throw(tx, {"messaging.thread_deleted", current.channel_id, json::serialize(event)});
      if (current.seq) {
        // The message shows its thread no more: a change, as an edit is.
        sql::mark_changed(tx, current.channel_id, *current.seq);
        if (auto m = sql::find(tx, current.channel_id, *current.seq))
          starter = with_reactions(tx, std::move(*m), viewer);
      }
      return true;
    });
  });
  if (!deleted) co_return deleted.error();
  if (!*deleted) co_return thread_not_found();
  m_access.forget_thread(thread_id);
  if (m_events_published) m_events_published();
  if (m_gateway) {
    json::object frame{{"type", "thread_deleted"}, {"thread_id", thread_id}, {"channel_id", current.channel_id}};
    if (!current.is_private) m_gateway->broadcast(channel_topic, current.channel_id, json::serialize(frame));
    const std::vector<std::string> ids(1, thread_id);
    json::array lost;
    lost.emplace_back(thread_id);
    const auto removed =
        json::serialize(json::object{{"type", "membership"}, {"status", "removed"}, {"channel_ids", std::move(lost)}});
    for (const auto& account : m_gateway->subscribers(channel_topic, thread_id)) {
      m_gateway->unsubscribe(account, channel_topic, ids, removed);
    }
  }
  if (starter) announce_update(current.channel_id, *starter);
  co_return ok();
}

std::size_t MessagingService::purge_thread_batch(Tx& tx, const bus::Event& event) {
  auto payload = payload_of(event);
  if (!payload) return 0;
  auto& request = *payload;
  const auto text_of = [&](std::string_view key) -> std::string {
    const auto* v = request.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const auto thread_id = text_of("id");
  const auto by = eth::parse_address(text_of("by"));
  if (!is_thread_id(thread_id) || !valid_channel_id(thread_id) || !by) return 0;
  const auto* after = request.if_contains("after_seq");
  const std::int64_t after_seq = after != nullptr && after->is_int64() ? after->as_int64() : 0;
  const auto now_ms = unix_millis(m_clock.now());
  const auto batch = sql::live_after(tx, thread_id, after_seq, m_settings.purge_batch);
  const auto parent = text_of("channel_id");
  for (const auto& m : batch) purge_message(tx, m, *by, now_ms, parent);
  if (batch.size() == m_settings.purge_batch) {
    // The batch is full: the rest in a transaction of its own, after this one commits.
    request["after_seq"] = batch.back().seq;
    publish_or_throw(tx, {"messaging.thread_purge_continued", thread_id, json::serialize(request)});
  }
  return batch.size();
}

std::size_t MessagingService::leave_community_threads(Tx& tx, const bus::Event& event) {
  auto payload = payload_of(event);
  if (!payload) return 0;
  const auto* account_field = payload->if_contains("account");
  const auto* ids = payload->if_contains("channel_ids");
  if (account_field == nullptr || !account_field->is_string() || ids == nullptr || !ids->is_array()) return 0;
  const auto account = eth::parse_address(account_field->as_string());
  if (!account) return 0;
  std::vector<std::string> channels;
  for (const auto& id : ids->as_array()) {
    if (id.is_string() && !is_thread_id(id.as_string())) channels.emplace_back(id.as_string());
  }
  const auto member = eth::to_lower_hex(*account);
  // Each left thread is gone from the next query: the next batch needs no position.
  const auto joined = sql::joined_in(tx, member, channels, m_settings.purge_batch);
  json::array left;
  for (const auto& [thread_id, channel_id] : joined) {
    if (!sql::leave_thread(tx, thread_id, member)) continue;
    const auto t = sql::find_thread(tx, thread_id);
    left.emplace_back(json::object{
        {"id", thread_id}, {"channel_id", channel_id}, {"member_count", t ? t->member_count : std::int64_t{0}}});
  }
  if (!left.empty()) {
    json::object removed{{"account", eth::to_checksum(*account)}, {"threads", std::move(left)}};
    if (const auto* community = payload->if_contains("community_id"); community != nullptr && community->is_string())
      removed["community_id"] = community->as_string();
    publish_or_throw(tx, {"messaging.thread_members_removed", member, json::serialize(removed)});
  }
  if (joined.size() == m_settings.purge_batch) {
    publish_or_throw(tx, {"messaging.thread_leaves_continued", member, json::serialize(*payload)});
  }
  return joined.size();
}

void MessagingService::on_thread_members_removed(Tx&, const bus::Event& event) {
  if (!m_gateway) return;
  auto payload = payload_of(event);
  if (!payload) return;
  const auto* account_field = payload->if_contains("account");
  const auto* threads = payload->if_contains("threads");
  if (account_field == nullptr || !account_field->is_string() || threads == nullptr || !threads->is_array()) return;
  const auto account = eth::parse_address(account_field->as_string());
  if (!account) return;
  const std::vector<eth::Address> accounts(1, *account);
  for (const auto& entry : threads->as_array()) {
    const auto* o = entry.if_object();
    if (o == nullptr) continue;
    const auto* id = o->if_contains("id");
    const auto* channel = o->if_contains("channel_id");
    const auto* count = o->if_contains("member_count");
    if (id == nullptr || !id->is_string() || channel == nullptr || !channel->is_string() || count == nullptr ||
        !count->is_int64())
      continue;
    Thread t;
    t.id = id->as_string();
    t.channel_id = channel->as_string();
    t.member_count = count->as_int64();
    announce_members(t, accounts, false);
  }
}

namespace {

// "<joined_ms>.<account>": where the next page of a thread's members starts.
std::string member_cursor(const ThreadMember& m) {
  return std::to_string(unix_millis(m.joined_at)) + "." + eth::to_lower_hex(m.account);
}

std::optional<sql::MemberCursor> parse_member_cursor(std::string_view text) {
  const auto parts = split_cursor(text);
  if (!parts) return std::nullopt;
  auto account = eth::parse_address(parts->second);
  if (!account) return std::nullopt;
  return sql::MemberCursor{parts->first, eth::to_lower_hex(*account)};
}

// `thread_member_updated` for the member's own sockets: whether it is a member, and its
// notification setting while it is.
json::object member_frame(const Thread& t, std::optional<ThreadNotify> notify) {
  json::object frame{{"type", "thread_member_updated"},
                     {"thread_id", t.id},
                     {"channel_id", t.channel_id},
                     {"joined", notify.has_value()}};
  frame["notify"] = notify ? json::value(to_string(*notify)) : json::value(nullptr);
  return frame;
}

}  // namespace

Task<Result<void>> MessagingService::set_thread_member(eth::Address who, std::string thread_id, eth::Address member,
                                                       bool joined, std::optional<ThreadNotify> notify) {
  auto current = co_await thread(who, thread_id);
  if (!current) co_return current.error();
  if (member != who) {
    if (notify) co_return forbidden("a member's notification setting is its own to change");
    if (joined) {
      // Adding another is writing in the thread: as a post would, and only one who reads it.
      auto rules = co_await m_access.post_rules(who, thread_id);
      if (!rules) co_return rules.error();
      if (auto may = may_post(*rules); !may) co_return may.error();
      if (!rules->invites) {
        co_return make_error(ErrorKind::forbidden, "missing_permission",
                             "in this private thread, those who moderate its channel add others");
      }
      // A private thread is read once joined: the account must read its channel.
      const auto& read_in = current->is_private ? current->channel_id : thread_id;
      auto reads = co_await m_access.can_read(member, read_in);
      if (!reads) co_return reads.error();
      if (!*reads) co_return bad_input("invalid_member", "that account cannot read the thread");
    } else if (auto r = co_await require_moderator(who, current->channel_id, "removing another from a thread"); !r) {
      co_return r.error();
    }
  }
  const auto account = eth::to_lower_hex(member);
  const auto now_ms = unix_millis(m_clock.now());
  // The member's setting after the change, and whether it joined or left.
  struct Change {
    ThreadNotify notify = ThreadNotify::all;
    bool membership = false;
    bool setting = false;
  };
  // The thread as the change left it, when it changed anything.
  using Changed = std::optional<std::pair<Thread, Change>>;
  auto changed = co_await m_pool.run([&]() -> Result<Changed> {
    return m_db.transact([&](Tx& tx) -> Result<Changed> {
      Change c;
      c.notify = notify.value_or(ThreadNotify::all);
      if (!joined) {
        c.membership = sql::leave_thread(tx, thread_id, account);
      } else if (sql::join_thread(tx, thread_id, account, now_ms, c.notify)) {
        c.membership = true;
      } else if (notify) {
        c.setting = sql::set_thread_notify(tx, thread_id, account, *notify);
      }
      if (!c.membership && !c.setting) return Changed{};
      auto t = sql::find_thread(tx, thread_id);
      if (!t) return Changed{};
      return Changed{std::pair{std::move(*t), c}};
    });
  });
  if (!changed) co_return changed.error();
  if (!*changed) co_return ok();
  const auto& [after, change] = **changed;
  if (change.setting) {
    // Only the member's own sockets learn its setting.
    announce_setting(after, member, change.notify);
    co_return ok();
  }
  const std::vector<eth::Address> accounts(1, member);
  announce_members(after, accounts, joined, change.notify);
  if (!joined && current->is_private && m_gateway) {
    // Out of a private thread is out of it at once, unless the account moderates its channel.
    auto reads = co_await m_access.can_read(member, thread_id);
    if (reads && !*reads) {
      const std::vector<std::string> ids(1, thread_id);
      json::array lost;
      lost.emplace_back(thread_id);
      const json::object frame{{"type", "membership"}, {"status", "removed"}, {"channel_ids", std::move(lost)}};
      m_gateway->unsubscribe(member, channel_topic, ids, json::serialize(frame));
    }
  }
  co_return ok();
}

Task<Result<ThreadMemberPage>> MessagingService::thread_members(eth::Address who, std::string thread_id,
                                                                std::optional<std::string> cursor, std::size_t limit) {
  std::optional<sql::MemberCursor> after;
  if (cursor) {
    after = parse_member_cursor(*cursor);
    if (!after) co_return bad_input("invalid_cursor", "cursor is the next_cursor of a previous page");
  }
  if (auto current = co_await thread(who, thread_id); !current) co_return current.error();
  limit = std::clamp<std::size_t>(limit, 1, m_settings.max_page);
  auto rows = co_await m_pool.run([&] {
    return m_db.read([&](Tx& tx) -> Result<std::vector<ThreadMember>> {
      return sql::thread_members(tx, thread_id, after, limit + 1);
    });
  });
  if (!rows) co_return rows.error();
  ThreadMemberPage page;
  if (rows->size() > limit) {
    rows->pop_back();
    page.next_cursor = member_cursor(rows->back());
  }
  // Those who lost the thread's channel stay members, unseen, until they read it again.
  std::vector<eth::Address> accounts;
  accounts.reserve(rows->size());
  for (const auto& m : *rows) accounts.push_back(m.account);
  auto readers = co_await m_access.readers(thread_id, std::move(accounts));
  if (!readers) co_return readers.error();
  const std::set<eth::Address> reading(readers->begin(), readers->end());
  for (const auto& m : *rows) {
    if (reading.contains(m.account)) page.members.push_back(m);
  }
  co_return page;
}

void MessagingService::announce_members(const Thread& t, const std::vector<eth::Address>& accounts, bool joined,
                                        ThreadNotify notify) {
  if (!m_gateway) return;
  json::array changed;
  json::array unchanged;
  for (const auto& a : accounts) changed.emplace_back(eth::to_checksum(a));
  json::object frame{{"type", "thread_members_updated"}, {"thread_id", t.id}, {"channel_id", t.channel_id}};
  frame[joined ? "added" : "removed"] = std::move(changed);
  frame[joined ? "removed" : "added"] = std::move(unchanged);
  frame["member_count"] = t.member_count;
  m_gateway->broadcast(channel_topic, t.id, json::serialize(frame));
  const auto text = json::serialize(member_frame(t, joined ? std::optional<ThreadNotify>(notify) : std::nullopt));
  for (const auto& a : accounts) m_gateway->send_to_account(a, text);
}

void MessagingService::announce_setting(const Thread& t, const eth::Address& member, ThreadNotify notify) {
  if (m_gateway) m_gateway->send_to_account(member, json::serialize(member_frame(t, notify)));
}

void MessagingService::announce_activity(const Thread& t) {
  // A private thread's subscribers get its messages; the channel's learn nothing of it.
  if (!m_gateway || t.is_private) return;
  const json::object frame{{"type", "thread_activity"}, {"thread", thread_json(t, m_clock.now())}};
  m_gateway->broadcast(channel_topic, t.channel_id, json::serialize(frame));
}

Task<Result<void>> MessagingService::pin(eth::Address who, std::string channel_id, std::int64_t seq, bool pinned) {
  if (auto r = co_await require_post(who, channel_id); !r) co_return r.error();
  auto pins = co_await m_access.can_pin(who, channel_id);
  if (!pins) co_return pins.error();
  if (!*pins) {
    co_return make_error(ErrorKind::forbidden, "missing_permission",
                         "pinning needs pin_messages or manage_messages in the channel's community");
  }
  const auto viewer = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  std::optional<Message> changed;
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto m = sql::find(tx, channel_id, seq, true);
      if (!m) return message_not_found();
      if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
      // The channel's lock before the count, so that concurrent pins cannot pass the limit.
      sql::lock_channel(tx, channel_id);
      if (pinned) {
        std::vector<Message> one{*m};
        sql::load_annotations(tx, one, viewer);
        if (one.front().pin) return ok();
        if (sql::count_pins(tx, channel_id) >= static_cast<std::int64_t>(max_pins)) {
          return make_error(ErrorKind::conflict, "too_many_pins",
                            "a channel holds at most " + std::to_string(max_pins) + " pinned messages");
        }
        sql::insert_pin(tx, channel_id, seq, viewer, now_ms);
      } else if (!sql::delete_pin(tx, channel_id, seq)) {
        return ok();
      }
      sql::mark_changed(tx, channel_id, seq);
      json::object event{
          {"channel_id", channel_id}, {"seq", seq}, {"id", m->id}, {"pinned", pinned}, {"by", eth::to_checksum(who)}};
      name_parent(tx, event, channel_id);
      publish_or_throw(tx, {"messaging.message_pinned", channel_id, json::serialize(event)});
      changed = with_reactions(tx, *sql::find(tx, channel_id, seq), viewer);
      return ok();
    });
  });
  if (!done) co_return done.error();
  if (changed) announce_update(channel_id, *changed);
  co_return ok();
}

Task<Result<std::vector<Message>>> MessagingService::pins(eth::Address who, std::string channel_id) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<std::vector<Message>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<Message>> {
      auto list = sql::pinned(tx, channel_id);
      sql::load_annotations(tx, list, viewer);
      return list;
    });
  });
}

Task<Result<void>> MessagingService::react(eth::Address who, std::string channel_id, std::int64_t seq,
                                           std::string emoji, bool add) {
  if (auto r = co_await require_post(who, channel_id); !r) co_return r.error();
  if (auto c = check_emoji(emoji); !c) co_return c.error();
  const auto account = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  bool changed = false;
  std::int64_t change = 0;
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      // The message's row lock before the count, so that concurrent reactions cannot pass the limit.
      auto m = sql::find(tx, channel_id, seq, add);
      if (!m) return message_not_found();
      if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
      if (add) {
        const auto kinds = sql::reaction_kinds(tx, channel_id, seq, emoji);
        if (!kinds.has && kinds.count >= static_cast<std::int64_t>(max_reaction_kinds)) {
          return make_error(ErrorKind::conflict, "too_many_reactions",
                            "a message carries at most " + std::to_string(max_reaction_kinds) + " different reactions");
        }
      }
      changed = add ? sql::add_reaction(tx, channel_id, seq, emoji, account, now_ms)
                    : sql::remove_reaction(tx, channel_id, seq, emoji, account);
      if (changed) change = sql::mark_changed(tx, channel_id, seq);
      return ok();
    });
  });
  if (!done) co_return done.error();
  if (changed && m_gateway) {
    json::object frame{{"type", "reaction"}, {"channel_id", channel_id},         {"seq", seq},
                       {"emoji", emoji},     {"account", eth::to_checksum(who)}, {"action", add ? "added" : "removed"},
                       {"change", change}};
    m_gateway->broadcast(channel_topic, channel_id, json::serialize(frame));
  }
  co_return ok();
}

Task<Result<AccountPage>> MessagingService::reactors(eth::Address who, std::string channel_id, std::int64_t seq,
                                                     std::string emoji, std::optional<eth::Address> after,
                                                     std::size_t limit) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  if (auto c = check_emoji(emoji); !c) co_return c.error();
  const auto bounded = std::clamp<std::size_t>(limit, 1, m_settings.max_page);
  const auto from = after ? eth::to_lower_hex(*after) : std::string();
  co_return co_await m_pool.run([&]() -> Result<AccountPage> {
    return m_db.read([&](Tx& tx) -> Result<AccountPage> {
      if (!sql::find(tx, channel_id, seq)) return message_not_found();
      // One more than asked: whether a next page exists without a further request.
      return account_page(sql::reactors(tx, channel_id, seq, emoji, from, bounded + 1), bounded);
    });
  });
}

Task<Result<AccountPage>> MessagingService::voters(eth::Address who, std::string channel_id, std::int64_t seq,
                                                   std::int64_t answer, std::optional<eth::Address> after,
                                                   std::size_t limit) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  const auto bounded = std::clamp<std::size_t>(limit, 1, m_settings.max_page);
  const auto from = after ? eth::to_lower_hex(*after) : std::string();
  co_return co_await m_pool.run([&]() -> Result<AccountPage> {
    return m_db.read([&](Tx& tx) -> Result<AccountPage> {
      if (!sql::find(tx, channel_id, seq)) return message_not_found();
      auto poll = sql::find_poll(tx, channel_id, seq);
      if (!poll) return make_error(ErrorKind::not_found, "poll_not_found", "this message carries no poll");
      if (answer < 1 || static_cast<std::size_t>(answer) > poll->answers.size()) {
        return bad_input("invalid_answer", "answer is the id of one of the poll's answers");
      }
      return account_page(sql::voters(tx, channel_id, seq, answer, from, bounded + 1), bounded);
    });
  });
}

Task<Result<void>> MessagingService::vote(eth::Address who, std::string channel_id, std::int64_t seq,
                                          std::int64_t answer, bool add) {
  if (auto r = co_await require_post(who, channel_id); !r) co_return r.error();
  const auto account = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  bool changed = false;
  std::int64_t change = 0;
  std::vector<std::int64_t> counts;
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      changed = false;
      // The message's row lock: votes of one account cannot race past the single-answer rule.
      auto m = sql::find(tx, channel_id, seq, true);
      if (!m) return message_not_found();
      if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
      auto poll = sql::find_poll(tx, channel_id, seq);
      if (!poll) return make_error(ErrorKind::not_found, "poll_not_found", "this message carries no poll");
      if (answer < 1 || static_cast<std::size_t>(answer) > poll->answers.size()) {
        return bad_input("invalid_answer", "answer is the id of one of the poll's answers");
      }
      if (unix_millis(poll->ends_at) <= now_ms) {
        return make_error(ErrorKind::conflict, "poll_closed", "the poll has ended");
      }
      if (add) {
        if (!poll->multiple) changed = sql::remove_votes(tx, channel_id, seq, account, 0, answer) > 0;
        changed = sql::add_vote(tx, channel_id, seq, answer, account, now_ms) || changed;
      } else {
        changed = sql::remove_votes(tx, channel_id, seq, account, answer) > 0;
      }
      if (!changed) return ok();
      change = sql::mark_changed(tx, channel_id, seq);
      counts = sql::poll_counts(tx, channel_id, seq, poll->answers.size());
      return ok();
    });
  });
  if (!done) co_return done.error();
  if (changed && m_gateway) {
    json::array votes;
    for (const auto n : counts) votes.emplace_back(n);
    json::object frame{{"type", "poll_votes"},
                       {"channel_id", channel_id},
                       {"seq", seq},
                       {"votes", std::move(votes)},
                       {"change", change}};
    m_gateway->broadcast(channel_topic, channel_id, json::serialize(frame));
  }
  co_return ok();
}

Task<Result<void>> MessagingService::end_poll(eth::Address who, std::string channel_id, std::int64_t seq) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  const auto viewer = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  std::optional<Message> ended;
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto m = sql::find(tx, channel_id, seq, true);
      if (!m) return message_not_found();
      if (m->author != who) return make_error(ErrorKind::forbidden, "not_author", "only the author ends a poll");
      if (m->deleted_at) return make_error(ErrorKind::conflict, "message_deleted", "the message was deleted");
      if (!sql::find_poll(tx, channel_id, seq)) {
        return make_error(ErrorKind::not_found, "poll_not_found", "this message carries no poll");
      }
      if (!sql::end_poll(tx, channel_id, seq, now_ms)) return ok();
      sql::mark_changed(tx, channel_id, seq);
      ended = with_reactions(tx, *sql::find(tx, channel_id, seq), viewer);
      post_poll_result(tx, channel_id, seq, SystemTime(std::chrono::milliseconds(now_ms)), false);
      return ok();
    });
  });
  if (!done) co_return done.error();
  if (ended) announce_update(channel_id, *ended);
  co_return ok();
}

Task<Result<Changes>> MessagingService::changes(eth::Address who, std::string channel_id, std::int64_t after_change,
                                                std::size_t limit) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  if (after_change < 0) co_return bad_input("invalid_after", "after must be 0 or more");
  const auto bounded = std::clamp<std::size_t>(limit, 1, m_settings.max_page);
  const auto viewer = eth::to_lower_hex(who);
  co_return co_await m_pool.run([&]() -> Result<Changes> {
    return m_db.read([&](Tx& tx) -> Result<Changes> {
      Changes out;
      out.last_change = sql::last_change(tx, channel_id);
      out.messages = sql::changed_after(tx, channel_id, after_change, bounded);
      sql::load_annotations(tx, out.messages, viewer);
      return out;
    });
  });
}

Task<Result<std::int64_t>> MessagingService::mark_read(eth::Address who, std::string channel_id, std::int64_t seq,
                                                       bool force) {
  if (auto r = co_await require_read(who, channel_id); !r) co_return r.error();
  if (seq < 0) co_return bad_input("invalid_seq", "seq must be 0 or more");
  const auto account = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  bool moved = false;
  auto marker = co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::int64_t> {
      const auto bounded = std::min(seq, sql::head(tx, channel_id));
      if (!force) {
        const auto advanced = advance_marker(tx, account, channel_id, bounded, now_ms);
        moved = advanced.moved;
        return advanced.marker;
      }
      const auto before = sql::read_marker(tx, account, channel_id);
      sql::set_read_marker(tx, account, channel_id, bounded, now_ms);
      moved = publish_read(tx, account, channel_id, before, bounded);
      return bounded;
    });
  });
  if (!marker) co_return marker.error();
  if (moved && m_events_published) m_events_published();
  // The account's other devices clear the same unread badge.
  if (m_gateway) {
    json::object frame{{"type", "read"}, {"channel_id", channel_id}, {"seq", *marker}};
    m_gateway->send_to_account(who, json::serialize(frame));
  }
  co_return marker;
}

Task<Result<std::map<std::string, std::int64_t>>> MessagingService::mark_read_many(
    eth::Address who, std::map<std::string, std::int64_t> seqs) {
  for (const auto& [channel_id, seq] : seqs) {
    if (!valid_channel_id(channel_id)) co_return bad_input("invalid_channel_id", "not a channel id");
    if (seq < 0) co_return bad_input("invalid_seq", "seq must be 0 or more");
  }
  for (const auto& entry : seqs) {
    if (auto r = co_await require_read(who, entry.first); !r) co_return r.error();
  }
  const auto account = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  bool moved = false;
  auto markers = co_await m_pool.run([&]() -> Result<std::map<std::string, std::int64_t>> {
    return m_db.transact([&](Tx& tx) -> Result<std::map<std::string, std::int64_t>> {
      std::map<std::string, std::int64_t> out;
      for (const auto& [channel_id, seq] : seqs) {
        const auto advanced = advance_marker(tx, account, channel_id, std::min(seq, sql::head(tx, channel_id)), now_ms);
        out[channel_id] = advanced.marker;
        if (advanced.moved) moved = true;
      }
      return out;
    });
  });
  if (!markers) co_return markers.error();
  if (moved && m_events_published) m_events_published();
  if (m_gateway) {
    for (const auto& [channel_id, marker] : *markers) {
      json::object frame{{"type", "read"}, {"channel_id", channel_id}, {"seq", marker}};
      m_gateway->send_to_account(who, json::serialize(frame));
    }
  }
  co_return markers;
}

Task<Result<std::map<std::string, std::int64_t>>> MessagingService::mark_community_read(eth::Address who,
                                                                                        std::string community_id) {
  auto channels = co_await m_access.community_channels(who, std::move(community_id));
  if (!channels) co_return channels.error();
  const auto account = eth::to_lower_hex(who);
  const auto now_ms = unix_millis(m_clock.now());
  std::vector<std::string> moved;
  auto markers = co_await m_pool.run([&]() -> Result<std::map<std::string, std::int64_t>> {
    return m_db.transact([&](Tx& tx) -> Result<std::map<std::string, std::int64_t>> {
      std::map<std::string, std::int64_t> out;
      auto places = *channels;
      if (places.empty()) return out;
      for (auto& t : sql::joined_threads(tx, account, *channels, now_ms, m_settings.max_unread_channels))
        places.push_back(std::move(t));
      // One statement reads every head and marker; only the places with something unread move.
      for (const auto& [id, head_and_marker] : sql::heads_and_markers(tx, account, places)) {
        const auto [head, before] = head_and_marker;
        if (head <= before) {
          out[id] = before;
          continue;
        }
        out[id] = sql::mark_read(tx, account, id, head, now_ms);
        if (publish_read(tx, account, id, before, out[id])) moved.push_back(id);
      }
      return out;
    });
  });
  if (!markers) co_return markers.error();
  if (!moved.empty() && m_events_published) m_events_published();
  if (m_gateway) {
    for (const auto& id : moved) {
      json::object frame{{"type", "read"}, {"channel_id", id}, {"seq", markers->at(id)}};
      m_gateway->send_to_account(who, json::serialize(frame));
    }
  }
  co_return markers;
}

Task<Result<std::vector<Unread>>> MessagingService::unread(eth::Address who, std::vector<std::string> channel_ids) {
  if (channel_ids.empty()) {
    auto readable = co_await m_access.readable_channels(who);
    if (!readable) co_return readable.error();
    channel_ids = std::move(*readable);
    // And the active threads of those channels the account joined, as Discord's joined threads,
    // after the channels and within the same cap.
    if (!channel_ids.empty() && channel_ids.size() < m_settings.max_unread_channels) {
      const auto room = m_settings.max_unread_channels - channel_ids.size();
      const auto now_ms = unix_millis(m_clock.now());
      const auto reader = eth::to_lower_hex(who);
      auto joined = co_await m_pool.run([&] {
        return m_db.read([&](Tx& tx) -> Result<std::vector<std::string>> {
          return sql::joined_threads(tx, reader, channel_ids, now_ms, room);
        });
      });
      if (!joined) co_return joined.error();
      channel_ids.insert(channel_ids.end(), joined->begin(), joined->end());
    }
  } else {
    std::vector<std::string> allowed;
    for (auto& id : channel_ids) {
      if (!valid_channel_id(id)) co_return bad_input("invalid_channel_id", "not a channel id");
      auto can = co_await m_access.can_read(who, id);
      if (!can) co_return can.error();
      if (*can) allowed.push_back(std::move(id));
    }
    channel_ids = std::move(allowed);
  }
  if (channel_ids.size() > m_settings.max_unread_channels) channel_ids.resize(m_settings.max_unread_channels);
  // `@&role` mentions count for the roles the account holds now.
  auto roles = co_await m_access.roles_in_channels(who, channel_ids);
  if (!roles) co_return roles.error();
  if (m_notify_settings != nullptr && !roles->empty()) {
    auto suppressed = co_await m_notify_settings->suppression(who);
    if (!suppressed) co_return suppressed.error();
    for (auto& entry : *roles) drop_suppressed(entry.second.roles, entry.second.community_id, *suppressed);
  }
  const auto account = eth::to_lower_hex(who);
  const auto cap = m_settings.unread_cap;
  const std::vector<std::string> no_roles;
  co_return co_await m_pool.run([&]() -> Result<std::vector<Unread>> {
    return m_db.read([&](Tx& tx) -> Result<std::vector<Unread>> {
      std::vector<Unread> out;
      // Two statements for every channel's head and marker; counting only where there is
      // something after the marker (most channels of most accounts are read up to their head).
      const auto heads = sql::heads_and_markers(tx, account, channel_ids);
      for (const auto& id : channel_ids) {
        Unread u;
        u.channel_id = id;
        std::tie(u.last_seq, u.last_read_seq) = heads.at(id);
        if (u.last_seq <= u.last_read_seq) {
          out.push_back(std::move(u));
          continue;
        }
        u.unread = sql::count_unread(tx, id, account, u.last_read_seq, cap);
        // A forum's seq numbers its posts (it holds no message): its unread are new posts.
        if (u.unread == 0 && !is_thread_id(id))
          u.unread = sql::count_unread_posts(tx, id, account, u.last_read_seq, cap);
        const auto held = roles->find(id);
        u.mentions = sql::count_unread_mentions(tx, id, account, u.last_read_seq,
                                                held == roles->end() ? no_roles : held->second.roles, cap);
        out.push_back(std::move(u));
      }
      return out;
    });
  });
}

realtime::TopicSource MessagingService::topic_source() {
  realtime::TopicSource source;
  source.id_field = "channel_id";
  source.resume_field = "channels";
  source.authorize = [this](eth::Address account, std::string id) -> Task<Result<bool>> {
    if (!valid_channel_id(id)) co_return false;
    co_return co_await m_access.can_read(account, id);
  };
  source.head = [this](std::string id) -> Task<Result<realtime::TopicHead>> {
    // One read: the seq to start from, and the last change (read while the subscription is
    // already registered, so what changes after it arrives live).
    co_return co_await m_pool.run([&]() -> Result<realtime::TopicHead> {
      return m_db.read([&](Tx& tx) {
        const auto [seq, change] = sql::head_and_change(tx, id);
        return realtime::TopicHead{seq, json::object{{"last_change", change}}};
      });
    });
  };
  source.history = [this](eth::Address account, std::string id, std::int64_t after_seq,
                          std::size_t limit) -> Task<Result<std::vector<realtime::SequencedFrame>>> {
    const auto viewer = eth::to_lower_hex(account);
    co_return co_await m_pool.run([&]() -> Result<std::vector<realtime::SequencedFrame>> {
      return m_db.read([&](Tx& tx) {
        auto page = sql::after(tx, id, after_seq, limit);
        sql::load_annotations(tx, page, viewer);
        std::vector<realtime::SequencedFrame> frames;
        frames.reserve(page.size());
        for (const auto& m : page) frames.push_back({m.seq, message_frame(m)});
        return frames;
      });
    });
  };
  source.ack = [this](eth::Address account, std::string id, std::int64_t seq) -> Task<Result<void>> {
    auto marker = co_await mark_read(account, std::move(id), seq);
    if (!marker) co_return marker.error();
    co_return ok();
  };
  // What a typing frame needs: the right to post messages here.
  source.may_write = [this](eth::Address account, std::string id) -> Task<Result<void>> {
    co_return co_await require_send(account, id);
  };
  source.readable = [this](eth::Address account) -> Task<Result<std::vector<std::string>>> {
    co_return co_await m_access.readable_channels(account);
  };
  return source;
}

realtime::TopicSource MessagingService::report_topic_source() {
  realtime::TopicSource source;
  source.id_field = "report_channel_id";
  source.resume_field = "report_channels";
  source.authorize = [this](eth::Address account, std::string id) -> Task<Result<bool>> {
    if (!valid_channel_id(id)) co_return false;
    co_return co_await m_access.can_moderate(account, id);
  };
  source.head = [](std::string) -> Task<Result<realtime::TopicHead>> { co_return realtime::TopicHead{}; };
  source.history = [](eth::Address, std::string, std::int64_t,
                      std::size_t) -> Task<Result<std::vector<realtime::SequencedFrame>>> {
    co_return std::vector<realtime::SequencedFrame>();
  };
  source.may_write = [](eth::Address, std::string) -> Task<Result<void>> {
    co_return forbidden("a report topic takes no typing");
  };
  return source;
}

void MessagingService::announce_report(const Report& r, const std::string& topic_id) {
  if (!m_gateway) return;
  json::object frame{{"type", "report"}, {"report_channel_id", topic_id}, {"report", report_json(r)}};
  m_gateway->broadcast(report_topic, topic_id, json::serialize(frame));
}

std::size_t MessagingService::purge_batch(Tx& tx, const bus::Event& event) {
  auto payload = payload_of(event);
  if (!payload) return 0;
  auto& request = *payload;
  const auto int_of = [&](std::string_view key) -> std::int64_t {
    const auto* v = request.if_contains(key);
    return v != nullptr && v->is_int64() ? v->as_int64() : 0;
  };
  const auto address_of = [&](std::string_view key) -> std::optional<eth::Address> {
    const auto* v = request.if_contains(key);
    if (v == nullptr || !v->is_string()) return std::nullopt;
    auto parsed = eth::parse_address(v->as_string());
    if (!parsed) return std::nullopt;
    return *parsed;
  };
  const std::int64_t since = int_of("delete_messages_since_ms");
  const auto author = address_of("account");
  const auto moderator = address_of("banned_by");
  const auto* ids = request.if_contains("channel_ids");
  // A ban that deletes nothing, or an event this version cannot read.
  if (since <= 0 || !author || !moderator || ids == nullptr || !ids->is_array()) return 0;
  std::vector<std::string> channels;
  for (const auto& id : ids->as_array()) {
    if (id.is_string()) channels.emplace_back(id.as_string());
  }
  // The first batch adds the channels' threads; the batches after it carry the whole list.
  if (const auto* with = request.if_contains("with_threads"); with == nullptr || !with->is_bool() || !with->as_bool()) {
    auto threads = sql::thread_ids_in(tx, channels);
    json::array all;
    for (const auto& id : channels) all.emplace_back(id);
    for (auto& id : threads) {
      all.emplace_back(id);
      channels.push_back(std::move(id));
    }
    request["channel_ids"] = std::move(all);
    request["with_threads"] = true;
  }
  const auto author_hex = eth::to_lower_hex(*author);
  const auto now_ms = unix_millis(m_clock.now());
  auto index = static_cast<std::size_t>(std::max<std::int64_t>(0, int_of("channel_index")));
  std::int64_t after_seq = int_of("after_seq");
  std::size_t deleted = 0;
  for (; index < channels.size(); ++index, after_seq = 0) {
    const auto& channel_id = channels[index];
    for (const auto& m :
         sql::authored_since(tx, channel_id, author_hex, since, after_seq, m_settings.purge_batch - deleted)) {
      purge_message(tx, m, *moderator, now_ms);
      after_seq = m.seq;
      ++deleted;
    }
    if (deleted == m_settings.purge_batch) break;
  }
  if (index < channels.size()) {
    // The batch is full: the rest in a transaction of its own, after this one commits.
    request["channel_index"] = static_cast<std::int64_t>(index);
    request["after_seq"] = after_seq;
    publish_or_throw(tx, {"messaging.purge_continued", author_hex, json::serialize(request)});
  }
  return deleted;
}

Task<Result<std::size_t>> MessagingService::post_poll_results() {
  std::size_t posted = 0;
  for (;;) {
    const auto now = m_clock.now();
    auto batch = co_await m_pool.run([&]() -> Result<std::pair<std::size_t, std::size_t>> {
      return m_db.transact([&](Tx& tx) -> Result<std::pair<std::size_t, std::size_t>> {
        const auto due = sql::unresulted_polls(tx, unix_millis(now), m_settings.poll_result_batch);
        std::size_t n = 0;
        for (const auto& [channel_id, seq] : due) {
          if (post_poll_result(tx, channel_id, seq, now, true)) ++n;
        }
        return std::pair{due.size(), n};
      });
    });
    if (!batch) co_return batch.error();
    posted += batch->second;
    if (batch->second > 0 && m_events_published) m_events_published();
    if (batch->first < m_settings.poll_result_batch || posted >= m_settings.poll_results_per_run) break;
  }
  co_return posted;
}

Task<Result<std::optional<std::chrono::milliseconds>>> MessagingService::next_poll_result_in() {
  const auto now = unix_millis(m_clock.now());
  co_return co_await m_pool.run([&]() -> Result<std::optional<std::chrono::milliseconds>> {
    return m_db.read([&](Tx& tx) -> Result<std::optional<std::chrono::milliseconds>> {
      return DueLoop::due_in(sql::next_poll_end(tx), now);
    });
  });
}

void MessagingService::on_automod_blocked(Tx& tx, const bus::Event& event) {
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto& o = *payload;
  const auto text = [&](std::string_view key) -> std::string {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const auto alert_channel = text("alert_channel_id");
  if (!valid_channel_id(alert_channel)) return;
  json::object data{{"rule_id", text("rule_id")},
                    {"rule_name", text("rule_name")},
                    {"trigger", text("trigger")},
                    {"matched", text("matched")},
                    {"account", text("account")},
                    {"channel_id", text("channel_id")},
                    {"content", std::string(utf8_prefix(text("content"), max_alert_content_bytes))}};
  if (const auto until = text("timed_out_until"); !until.empty()) data["timed_out_until"] = until;
  if (const auto thread = text("thread_id"); !thread.empty()) data["thread_id"] = thread;
  // A nickname refused: no channel; the content is the name.
  if (const auto* nickname = o.if_contains("nickname");
      nickname != nullptr && nickname->is_bool() && nickname->as_bool()) {
    data["channel_id"] = nullptr;
    data["nickname"] = true;
  }
  SystemInfo alert{std::string(automod_alert_kind), std::move(data)};
  insert_system_message(tx, alert_channel, std::move(alert), "automod:" + event.event_id, std::nullopt, m_clock.now());
}

void MessagingService::on_member_joined(Tx& tx, const bus::Event& event) {
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto* reason = payload->if_contains("reason");
  const auto* channel = payload->if_contains("system_channel_id");
  const auto* account = payload->if_contains("account");
  if (reason == nullptr || !reason->is_string() || reason->as_string() != "joined" || channel == nullptr ||
      !channel->is_string() || account == nullptr || !account->is_string()) {
    return;
  }
  const std::string channel_id(channel->as_string());
  const auto who = eth::parse_address(std::string_view(account->as_string()));
  if (!valid_channel_id(channel_id) || !who) return;
  const auto client_id = "join:" + eth::to_lower_hex(*who);
  if (sql::find_by_client_id(tx, channel_id, eth::to_lower_hex(system_author), client_id)) return;
  SystemInfo welcome{std::string(member_joined_kind), json::object{{"account", eth::to_checksum(*who)}}};
  insert_system_message(tx, channel_id, std::move(welcome), client_id, std::nullopt, m_clock.now());
}

void MessagingService::on_system_message(Tx& tx, const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto* channel = payload->if_contains("channel_id");
  const auto* seq = payload->if_contains("seq");
  if (channel == nullptr || !channel->is_string() || seq == nullptr || !seq->is_int64()) return;
  const std::string channel_id(channel->as_string());
  if (auto m = sql::find(tx, channel_id, seq->as_int64())) {
    const auto shown = with_reactions(tx, std::move(*m), "");
    m_gateway->publish(channel_topic, channel_id, shown.seq, message_frame(shown));
  }
}

void MessagingService::on_message_deleted(Tx& tx, const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto& o = *payload;
  const auto* purged = o.if_contains("purged");
  const auto* channel = o.if_contains("channel_id");
  const auto* seq = o.if_contains("seq");
  if (purged == nullptr || !purged->is_bool() || !purged->as_bool() || channel == nullptr || !channel->is_string() ||
      seq == nullptr || !seq->is_int64()) {
    return;
  }
  const std::string channel_id(channel->as_string());
  if (auto m = sql::find(tx, channel_id, seq->as_int64())) {
    m_gateway->broadcast(channel_topic, channel_id, update_frame(*m));
  }
  // A ban's purge in a thread: its parent's subscribers see its count go down, as for a delete (a
  // deleted thread's purge has no thread left to show).
  if (is_thread_id(channel_id)) {
    if (auto t = sql::find_thread(tx, channel_id)) announce_activity(*t);
  }
}

void MessagingService::on_member_updated(const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto& o = *payload;
  const auto* community = o.if_contains("community_id");
  const auto* account = o.if_contains("account");
  const auto* nickname = o.if_contains("nickname");
  const auto* ids = o.if_contains("channel_ids");
  if (community == nullptr || account == nullptr || nickname == nullptr || ids == nullptr || !ids->is_array()) return;
  send_to_followers(
      *m_gateway, ids->as_array(),
      json::object{
          {"type", "member_updated"}, {"community_id", *community}, {"account", *account}, {"nickname", *nickname}});
}

void MessagingService::on_role_updated(const bus::Event& event) {
  if (!m_gateway) return;
  auto payload = payload_of(event);
  if (!payload) return;
  auto& o = *payload;
  auto* ids = o.if_contains("channel_ids");
  if (ids == nullptr || !ids->is_array() || !o.contains("community_id") || !o.contains("role")) return;
  // The frame is the event without its channels.
  const auto channels = std::move(ids->as_array());
  o.erase("channel_ids");
  json::object frame{{"type", "role_updated"}};
  for (auto& [key, value] : o) frame[key] = std::move(value);
  send_to_followers(*m_gateway, channels, frame);
}

void MessagingService::on_role_renamed(Tx& tx, const bus::Event& event) {
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto& o = *payload;
  const auto text = [&](std::string_view key) {
    const auto* v = o.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const auto change = text("change");
  std::string from;
  std::string to;
  if (change == "updated") {
    from = text("previous");
    to = text("role");
  } else if (change == "deleted") {
    from = text("role");
  }
  // Names are the community's (no ','); anything else is not a rename this version reads.
  const auto listable = [](const std::string& name) { return name.find(',') == std::string::npos; };
  if (from.empty() || from == to || !listable(from) || !listable(to)) return;
  const auto* ids = o.if_contains("channel_ids");
  if (ids == nullptr || !ids->is_array()) return;
  for (const auto& id : ids->as_array()) {
    if (!id.is_string() || !valid_channel_id(id.as_string())) continue;
    sql::rename_role_mentions(tx, std::string(id.as_string()), from, to, event.created_ms);
  }
}

void MessagingService::on_timeout_event(const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto& o = *payload;
  const auto* account = o.if_contains("account");
  const auto* community = o.if_contains("community_id");
  const auto* until = o.if_contains("until");
  if (!account || !account->is_string() || !community || !until) return;
  auto address = eth::parse_address(account->as_string());
  if (!address) return;
  json::object frame{{"type", "timeout"}, {"community_id", *community}, {"until", *until}};
  m_gateway->send_to_account(*address, json::serialize(frame));
}

void MessagingService::on_channel_updated(const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto* channel = payload->if_contains("channel_id");
  const auto* changes = payload->if_contains("changes");
  if (!channel || !channel->is_string() || !valid_channel_id(channel->as_string()) || !changes ||
      !changes->is_object()) {
    return;
  }
  json::object frame{{"type", "channel_updated"}, {"channel_id", *channel}, {"changes", *changes}};
  if (const auto* community = payload->if_contains("community_id")) frame["community_id"] = *community;
  m_gateway->broadcast(channel_topic, std::string(channel->as_string()), json::serialize(frame));
}

void MessagingService::on_forum_tags_changed(Tx& tx, const bus::Event& event) {
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto* channel = payload->if_contains("channel_id");
  const auto* changes = payload->if_contains("changes");
  const auto* tags =
      changes != nullptr && changes->is_object() ? changes->as_object().if_contains("available_tags") : nullptr;
  if (channel == nullptr || !channel->is_string() || !valid_channel_id(channel->as_string()) || tags == nullptr ||
      !tags->is_array()) {
    return;
  }
  std::set<std::string> kept;
  for (const auto& tag : tags->as_array()) {
    const auto* id = tag.is_object() ? tag.as_object().if_contains("id") : nullptr;
    if (id != nullptr && id->is_string()) kept.emplace(id->as_string());
  }
  // The posts keep the tags the forum still has (frames and the change number are not moved: the
  // channel's subscribers learned of the tags with channel_updated).
  for (auto& [id, applied] : sql::tagged_threads(tx, std::string(channel->as_string()))) {
    const auto before = applied.size();
    std::erase_if(applied, [&](const std::string& t) { return !kept.contains(t); });
    if (applied.size() != before) sql::set_thread_tags(tx, id, applied);
  }
}

void MessagingService::on_membership_event(const bus::Event& event) {
  if (!m_gateway) return;
  const auto payload = payload_of(event);
  if (!payload) return;
  const auto& o = *payload;
  std::vector<eth::Address> accounts;
  if (const auto* a = o.if_contains("account"); a && a->is_string()) {
    if (auto address = eth::parse_address(a->as_string())) accounts.push_back(*address);
  }
  std::vector<std::string> channels;
  if (const auto* ids = o.if_contains("channel_ids"); ids && ids->is_array()) {
    for (const auto& id : ids->as_array()) {
      if (id.is_string()) channels.emplace_back(id.as_string());
    }
  }
  std::string community;
  if (const auto* c = o.if_contains("community_id"); c && c->is_string()) community = std::string(c->as_string());
  if (accounts.empty() && channels.empty()) return;
  boost::asio::co_spawn(m_executor, recheck(std::move(accounts), std::move(channels), std::move(community)),
                        LoggedDetached("messaging.membership_recheck"));
}

Task<void> MessagingService::recheck(std::vector<eth::Address> accounts, std::vector<std::string> channel_ids,
                                     std::string community_id) {
  // No account named: everyone subscribed to the channels here, each for the channels of those it
  // follows (a change to a role names every channel of its community). No channel named: every
  // channel the account is subscribed to here.
  const bool subscribers_only = accounts.empty();
  // A check that cannot be made fails closed, whether it throws (the database out of reach) or
  // answers an error: the sockets of the accounts it could not check are closed 4008, and their
  // resume authorizes each topic anew. Spawned detached, this must not let an exception end it with
  // a removed member still receiving. (A channel that is gone answers "may not read", not an error.)
  std::optional<std::string> threads_unread;
  // A channel named names its threads too: they are read as it is.
  if (!channel_ids.empty()) {
    try {
      auto threads = co_await m_pool.run([&] {
        return m_db.read(
            [&](Tx& tx) -> Result<std::vector<std::string>> { return sql::thread_ids_in(tx, channel_ids); });
      });
      if (threads) {
        channel_ids.insert(channel_ids.end(), threads->begin(), threads->end());
      } else {
        threads_unread = threads.error().message;
      }
    } catch (const std::exception& e) {
      threads_unread = e.what();
    }
    if (threads_unread) log::warn("membership recheck: threads unread", {{"error", *threads_unread}});
  }
  if (subscribers_only) {
    std::set<eth::Address> all;
    for (const auto& id : channel_ids) {
      for (const auto& a : m_gateway->subscribers(channel_topic, id)) all.insert(a);
      for (const auto& a : m_gateway->subscribers(report_topic, id)) all.insert(a);
    }
    accounts.assign(all.begin(), all.end());
  }
  for (const auto& account : accounts) {
    auto ids = channel_ids.empty() ? m_gateway->subscribed_ids(account, channel_topic) : channel_ids;
    if (subscribers_only) {
      const auto followed = m_gateway->subscribed_ids(account, channel_topic);
      std::erase_if(ids, [&](const std::string& id) {
        return std::find(followed.begin(), followed.end(), id) == followed.end();
      });
    }
    std::vector<std::string> lost;
    // The report topics of channels the account no longer moderates.
    std::vector<std::string> unmoderated;
    bool checked = !threads_unread;
    if (checked) {
      std::optional<std::string> failure;
      try {
        for (const auto& id : ids) {
          auto allowed = co_await m_access.can_read(account, id);
          if (!allowed) {
            failure = allowed.error().message;
            break;
          }
          if (!*allowed) lost.push_back(id);
        }
        for (const auto& id : m_gateway->subscribed_ids(account, report_topic)) {
          if (failure) break;
          if (!channel_ids.empty() && std::find(channel_ids.begin(), channel_ids.end(), id) == channel_ids.end())
            continue;
          auto moderates = co_await m_access.can_moderate(account, id);
          if (!moderates) {
            failure = moderates.error().message;
            break;
          }
          if (!*moderates) unmoderated.push_back(id);
        }
      } catch (const std::exception& e) {
        failure = e.what();
      }
      if (failure) {
        log::warn("membership recheck failed", {{"account", eth::to_checksum(account)}, {"error", *failure}});
        checked = false;
      }
    }
    if (!checked) {
      m_gateway->close_account(account, net::close_code::resume, "access could not be checked: resume");
      continue;
    }
    if (!unmoderated.empty()) {
      json::array unmoderated_json;
      for (const auto& id : unmoderated) unmoderated_json.emplace_back(id);
      json::object frame{
          {"type", "membership"}, {"status", "removed"}, {"report_channel_ids", std::move(unmoderated_json)}};
      if (!community_id.empty()) frame["community_id"] = community_id;
      m_gateway->unsubscribe(account, report_topic, unmoderated, json::serialize(frame));
    }
    if (lost.empty()) continue;
    json::array lost_json;
    for (const auto& id : lost) lost_json.emplace_back(id);
    json::object frame{{"type", "membership"}, {"status", "removed"}, {"channel_ids", std::move(lost_json)}};
    if (!community_id.empty()) frame["community_id"] = community_id;
    m_gateway->unsubscribe(account, channel_topic, lost, json::serialize(frame));
  }
}

std::unique_ptr<DueLoop> poll_results_loop(Executor executor, MessagingService& service,
                                           std::chrono::milliseconds idle_poll) {
  return std::make_unique<DueLoop>(
      std::move(executor), "messaging.poll_results", idle_poll, [&service] { return service.post_poll_results(); },
      [&service] { return service.next_poll_result_in(); });
}

}  // namespace gh::messaging
