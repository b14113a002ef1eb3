#include "messaging/routes.hpp"

#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include "bus/bus.hpp"
#include "net/json.hpp"
#include "net/json_result.hpp"

namespace gh::messaging {

namespace json = boost::json;
using net::Request;
using net::Response;

namespace {

/// The most channels one PUT /v1/read moves.
constexpr std::size_t max_read_markers = 100;

Result<std::int64_t> parse_seq(std::string_view text, std::string_view name) {
  std::int64_t v = 0;
  const auto* end = text.data() + text.size();
  auto [p, ec] = std::from_chars(text.data(), end, v);
  if (ec != std::errc() || p != end || v < 0) {
    return bad_input("invalid_" + std::string(name), std::string(name) + " must be a non-negative integer");
  }
  return v;
}

Result<std::optional<std::int64_t>> query_seq(const Request& req, std::string_view name) {
  auto q = req.query_param(name);
  if (!q) return std::optional<std::int64_t>();
  auto v = parse_seq(*q, name);
  if (!v) return v.error();
  return std::optional<std::int64_t>(*v);
}

Result<std::size_t> query_limit(const Request& req, std::size_t fallback = 50) {
  auto q = req.query_param("limit");
  if (!q) return fallback;
  auto v = parse_seq(*q, "limit");
  if (!v) return v.error();
  if (*v < 1 || *v > 100) return bad_input("invalid_limit", "limit must be 1 to 100");
  return static_cast<std::size_t>(*v);
}

// The `poll` of a new message: {"question", "answers": [...], "multiple"?, "duration_hours"?}; its
// limits are checked by the service.
Result<PollSpec> parse_poll(const json::value& value) {
  const auto bad = [] { return bad_input("invalid_poll", "poll is {question, answers, multiple?, duration_hours?}"); };
  if (!value.is_object()) return bad();
  const auto& o = value.as_object();
  PollSpec spec;
  const auto* question = o.if_contains("question");
  const auto* answers = o.if_contains("answers");
  if (!question || !question->is_string() || !answers || !answers->is_array()) return bad();
  spec.question = std::string(question->as_string());
  if (answers->as_array().size() > max_poll_answers) return bad_input("invalid_poll", "a poll has 2 to 10 answers");
  for (const auto& a : answers->as_array()) {
    if (!a.is_string()) return bad();
    spec.answers.emplace_back(a.as_string());
  }
  if (const auto* multiple = o.if_contains("multiple"); multiple && !multiple->is_null()) {
    if (!multiple->is_bool()) return bad();
    spec.multiple = multiple->as_bool();
  }
  if (const auto* hours = o.if_contains("duration_hours"); hours && !hours->is_null()) {
    if (!hours->is_int64()) return bad();
    spec.duration_hours = hours->as_int64();
  }
  return spec;
}

// `?archived=&joined=&cursor=&limit=` of a thread list (`archived` where `with_archived`): 400
// invalid_archived, invalid_joined, invalid_limit, invalid_field for `archived` elsewhere.
Result<ThreadQuery> thread_query(const Request& req, bool with_archived) {
  ThreadQuery query;
  if (auto a = req.query_param("archived")) {
    if (!with_archived) return bad_input("invalid_field", "only a channel's list shows archived threads");
    if (*a != "true" && *a != "false") return bad_input("invalid_archived", "archived is true or false");
    query.archived = *a == "true";
  }
  if (auto j = req.query_param("joined")) {
    if (*j != "true" && *j != "false") return bad_input("invalid_joined", "joined is true or false");
    query.joined = *j == "true";
  }
  auto limit = query_limit(req);
  if (!limit) return limit.error();
  query.limit = *limit;
  if (auto c = req.query_param("cursor")) query.cursor = std::string(*c);
  if (auto sort = req.query_param("sort")) {
    if (*sort != "activity" && *sort != "created") return bad_input("invalid_sort", "sort is activity or created");
    query.by_creation = *sort == "created";
  }
  if (auto t = req.query_param("tag")) {
    if (!with_archived) return bad_input("invalid_field", "posts are listed by tag in their forum");
    query.tag = std::string(*t);
  }
  return query;
}

// An optional true/false field of a body: `flag` keeps its default when absent or null.
Result<void> read_flag(const json::object& body, std::string_view field, bool& flag) {
  const auto* given = body.if_contains(field);
  if (!given || given->is_null()) return ok();
  if (!given->is_bool()) return bad_input("invalid_field", std::string(field) + " is true or false");
  flag = given->as_bool();
  return ok();
}

// A message to post, as `POST /v1/channels/{id}/messages` takes it (and a forum post its first
// message).
Result<NewMessage> read_new_message(const json::object& body) {
  NewMessage message;
  if (const auto* poll = body.if_contains("poll"); poll && !poll->is_null()) {
    auto spec = parse_poll(*poll);
    if (!spec) return spec.error();
    message.poll = std::move(*spec);
  }
  const auto* text = body.if_contains("body");
  if (const auto* forward = body.if_contains("forward"); forward && !forward->is_null()) {
    const auto* o = forward->if_object();
    const auto* channel = o ? o->if_contains("channel_id") : nullptr;
    const auto* seq = o ? o->if_contains("seq") : nullptr;
    if (channel == nullptr || !channel->is_string() || seq == nullptr || !seq->is_int64() || o->size() != 2) {
      return bad_input("invalid_forward", "forward is {\"channel_id\", \"seq\"}");
    }
    message.forward = ForwardOf{std::string(channel->as_string()), seq->as_int64()};
  }
  if ((message.poll || message.forward) && (!text || text->is_null())) {
    message.body.clear();
  } else {
    if (!text || !text->is_string()) return bad_input("invalid_body", "body must be a string");
    message.body = std::string(text->as_string());
  }
  const auto* client_id = body.if_contains("client_id");
  if (!client_id || !client_id->is_string()) return bad_input("invalid_client_id", "client_id must be a string");
  message.client_id = std::string(client_id->as_string());
  if (const auto* reply = body.if_contains("reply_to"); reply && !reply->is_null()) {
    if (!reply->is_int64() || reply->as_int64() <= 0) return bad_input("invalid_reply_to", "reply_to is a seq");
    message.reply_to = reply->as_int64();
  }
  if (auto r = read_flag(body, "silent", message.silent); !r) return r.error();
  if (auto r = read_flag(body, "ping_reply", message.ping_reply); !r) return r.error();
  return message;
}

// A forum post's tags: an array of tag ids (400 invalid_tag otherwise).
Result<std::vector<std::string>> tag_ids(const json::value& v) {
  const auto bad = [] { return bad_input("invalid_tag", "applied_tags is an array of tag ids"); };
  const auto* list = v.if_array();
  if (list == nullptr) return bad();
  std::vector<std::string> out;
  for (const auto& id : *list) {
    if (!id.is_string()) return bad();
    out.emplace_back(id.as_string());
  }
  return out;
}

json::object thread_page_json(const ThreadPage& page, SystemTime now) {
  // Each thread with its first message (a forum's post list shows them), null when it has none.
  const auto shown = [&](const Thread& t) {
    auto o = thread_json(t, now);
    const auto first = std::find_if(page.first_messages.begin(), page.first_messages.end(),
                                    [&](const Message& m) { return m.channel_id == t.id; });
    o["message"] = first == page.first_messages.end() ? json::value(nullptr) : json::value(message_json(*first));
    return o;
  };
  json::array threads;
  for (const auto& t : page.threads) threads.emplace_back(shown(t));
  json::object out{{"threads", std::move(threads)}};
  out["next_cursor"] = page.next_cursor ? json::value(*page.next_cursor) : json::value(nullptr);
  if (page.lists_pinned) out["pinned"] = page.pinned ? json::value(shown(*page.pinned)) : json::value(nullptr);
  return out;
}

// The caller and the message a route on one message names (`{id}` and `{seq}` of its path): 401
// without a session, 400 invalid_seq.
struct MessageTarget {
  eth::Address who;
  std::string channel_id;
  std::int64_t seq = 0;
};

Task<Result<MessageTarget>> message_target(auth::RequestAuth& auth, Request& req) {
  auto who = co_await auth.session(req);
  if (!who) co_return who.error();
  auto seq = parse_seq(req.param("seq"), "seq");
  if (!seq) co_return seq.error();
  co_return MessageTarget{who->address, std::string(req.param("id")), *seq};
}

// `after` of a page of accounts: an address.
Result<std::optional<eth::Address>> query_after(const Request& req) {
  auto text = req.query_param("after");
  if (!text) return std::optional<eth::Address>();
  auto address = eth::parse_address(*text);
  if (!address) return bad_input("invalid_after", "after must be an address");
  return std::optional<eth::Address>(*address);
}

// {"accounts": [...], "next_after": the last account when another page follows, else null}.
Response account_page_response(const AccountPage& page) {
  json::array accounts;
  for (const auto& a : page.accounts) accounts.emplace_back(eth::to_checksum(a));
  json::object out{{"accounts", std::move(accounts)}};
  out["next_after"] = page.more ? json::value(eth::to_checksum(page.accounts.back())) : json::value(nullptr);
  return net::json_response(200, std::move(out));
}

json::array messages_json(const std::vector<Message>& messages) {
  json::array list;
  list.reserve(messages.size());
  for (const auto& m : messages) list.emplace_back(message_json(m));
  return list;
}

Response messages_response(const std::vector<Message>& messages) {
  return net::json_response(200, json::object{{"messages", messages_json(messages)}});
}

// What a search asks (q, author, mentions, has, limit), as both searches read it.
Result<SearchQuery> search_query(const Request& req) {
  SearchQuery query;
  query.text = std::string(req.query_param("q").value_or(""));
  if (auto author = req.query_param("author")) {
    auto address = eth::parse_address(*author);
    if (!address) return bad_input("invalid_author", "author must be an address");
    query.author = *address;
  }
  if (auto mentions = req.query_param("mentions")) {
    auto address = eth::parse_address(*mentions);
    if (!address) return bad_input("invalid_mentions", "mentions must be an address");
    query.mentions = *address;
  }
  if (auto has = req.query_param("has")) {
    // A comma-separated list; each value is checked by the service.
    std::string_view rest = *has;
    for (;;) {
      const auto comma = rest.find(',');
      query.has.emplace_back(rest.substr(0, comma));
      if (comma == std::string_view::npos || query.has.size() > 3) break;
      rest.remove_prefix(comma + 1);
    }
    if (query.has.size() > 3) {
      return bad_input("invalid_has", "has is link, poll or forward, or several separated by commas");
    }
  }
  auto limit = query_limit(req, 25);
  if (!limit) return limit.error();
  query.limit = *limit;
  return query;
}

// Which page of reports: ?status= (`fallback` when absent; "all": any), ?before=, ?limit=.
Result<ReportFilter> report_filter(const Request& req, std::string_view fallback) {
  ReportFilter filter;
  const auto status = req.query_param("status").value_or(fallback);
  if (status != "all") filter.status = std::string(status);
  auto before = query_seq(req, "before");
  if (!before) return before.error();
  if (*before) filter.before_id = **before;
  auto limit = query_limit(req);
  if (!limit) return limit.error();
  filter.limit = *limit;
  return filter;
}

// `{"reports": [...], "next_before"}`, each report as `render` shows it, or the error.
Result<Response> report_page_response(const Result<ReportPage>& page, json::object (*render)(const Report&)) {
  if (!page) return page.error();
  json::array reports;
  for (const auto& r : page->reports) reports.emplace_back(render(r));
  json::object out{{"reports", std::move(reports)}};
  out["next_before"] = page->next_before ? json::value(*page->next_before) : json::value(nullptr);
  return net::json_response(200, std::move(out));
}

// A per-account limit: the one every write of this context takes (posts, edits, deletes, reactions,
// read markers), each of which fans out to sockets or writes the database, or the searches' own.
// 429 with Retry-After.
Result<void> take(net::RateLimiter& limiter, const eth::Address& who,
                  const char* message = "too many messages; slow down") {
  const auto decision = limiter.take(eth::to_lower_hex(who));
  if (decision.allowed) return ok();
  auto e = make_error(ErrorKind::rate_limited, "rate_limited", message);
  e.retry_after = decision.retry_after;
  return e;
}

// The caller of a search: signed in, and within the searches' own budget (a search reads more than
// a page of history).
Task<Result<auth::Principal>> searcher(auth::RequestAuth& auth, net::RateLimiter& limiter, Request& req) {
  auto who = co_await auth.session(req);
  if (!who) co_return who.error();
  if (auto limited = take(limiter, who->address, "too many searches; slow down"); !limited) co_return limited.error();
  co_return std::move(*who);
}

}  // namespace

void add_messaging_routes(net::Router& router, MessagingService& service, auth::RequestAuth& auth,
                          net::RateLimiter& send_limiter, net::RateLimiter& search_limiter,
                          net::RateLimiter& typing_limiter) {
  router.add("POST", "/v1/channels/{id}/messages", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto parsed = read_new_message(*body);
    if (!parsed) co_return parsed.error();
    NewMessage message = std::move(*parsed);
    if (auto limited = take(send_limiter, who->address); !limited) {
      // A retry of a stored message is answered as the first time, also over the limit.
      auto stored = co_await service.find_posted(who->address, std::string(req.param("id")), message.client_id);
      if (stored && *stored) co_return net::json_response(201, message_json(**stored));
      co_return limited.error();
    }
    auto posted = co_await service.post(who->address, std::string(req.param("id")), std::move(message));
    if (!posted) co_return posted.error();
    // A retry gets the first answer, status included.
    co_return net::json_response(201, message_json(posted->message));
  });

  router.add("GET", "/v1/channels/{id}/messages", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    HistoryQuery query;
    auto before = query_seq(req, "before_seq");
    if (!before) co_return before.error();
    auto after = query_seq(req, "after_seq");
    if (!after) co_return after.error();
    auto around = query_seq(req, "around_seq");
    if (!around) co_return around.error();
    auto limit = query_limit(req);
    if (!limit) co_return limit.error();
    query.before_seq = *before;
    query.after_seq = *after;
    query.around_seq = *around;
    query.limit = *limit;
    auto page = co_await service.history(who->address, std::string(req.param("id")), query);
    if (!page) co_return page.error();
    co_return messages_response(*page);
  });

  router.add("GET", "/v1/channels/{id}/search", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await searcher(auth, search_limiter, req);
    if (!who) co_return who.error();
    auto query = search_query(req);
    if (!query) co_return query.error();
    auto before = query_seq(req, "before_seq");
    if (!before) co_return before.error();
    query->before_seq = *before;
    auto page = co_await service.search(who->address, std::string(req.param("id")), std::move(*query));
    if (!page) co_return page.error();
    json::object body{{"messages", messages_json(page->messages)}};
    body["next_before_seq"] = page->next_before_seq ? json::value(*page->next_before_seq) : json::value(nullptr);
    body["partial"] = page->partial;
    co_return net::json_response(200, std::move(body));
  });

  // Every channel of a community the caller reads, newest first (docs/api/messaging.md, "Search").
  router.add("GET", "/v1/communities/{id}/search", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await searcher(auth, search_limiter, req);
    if (!who) co_return who.error();
    auto query = search_query(req);
    if (!query) co_return query.error();
    if (auto channel = req.query_param("channel_id")) query->channel_id = std::string(*channel);
    std::optional<SearchKey> before;
    if (auto text = req.query_param("before")) {
      auto key = parse_search_key(*text);
      if (!key) co_return key.error();
      before = std::move(*key);
    }
    auto page = co_await service.search_community(who->address, std::string(req.param("id")), std::move(*query),
                                                  std::move(before));
    if (!page) co_return page.error();
    auto messages = messages_json(page->messages);
    // A thread's message names the channel the thread is in.
    for (std::size_t i = 0; i < messages.size() && i < page->messages.size(); ++i) {
      const auto parent = page->thread_parents.find(page->messages[i].channel_id);
      if (parent != page->thread_parents.end()) messages[i].as_object()["parent_channel_id"] = parent->second;
    }
    json::object body{{"messages", std::move(messages)}};
    body["next_before"] = page->next_before ? json::value(format_search_key(*page->next_before)) : json::value(nullptr);
    body["partial"] = page->partial;
    co_return net::json_response(200, std::move(body));
  });

  // Typing over HTTP (as Discord's trigger typing), for clients and bots without a socket: 204.
  // One per account and channel every 2 s goes out; the others are answered alike and dropped, as
  // a socket's extra typing frames are.
  router.add("POST", "/v1/channels/{id}/typing", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    std::string channel_id(req.param("id"));
    const auto paced = typing_limiter.take(eth::to_lower_hex(who->address) + " " + channel_id);
    Result<void> done = ok();
    if (paced.allowed) {
      done = co_await service.typing(who->address, channel_id);
    } else {
      done = co_await service.may_type(who->address, channel_id);
    }
    co_return net::no_content(done);
  });

  router.add("GET", "/v1/channels/{id}/changes", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto after = query_seq(req, "after");
    if (!after) co_return after.error();
    auto limit = query_limit(req);
    if (!limit) co_return limit.error();
    auto page = co_await service.changes(who->address, std::string(req.param("id")), after->value_or(0), *limit);
    if (!page) co_return page.error();
    co_return net::json_response(
        200, json::object{{"messages", messages_json(page->messages)}, {"last_change", page->last_change}});
  });

  router.add("GET", "/v1/channels/{id}/messages/{seq}", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    const auto& [who, channel_id, seq] = *target;
    auto m = co_await service.get(who, channel_id, seq);
    if (!m) co_return m.error();
    co_return net::json_response(200, message_json(*m));
  });

  router.add("GET", "/v1/channels/{id}/messages/{seq}/replies", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    const auto& [who, channel_id, seq] = *target;
    auto after = query_seq(req, "after_seq");
    if (!after) co_return after.error();
    auto limit = query_limit(req);
    if (!limit) co_return limit.error();
    auto page = co_await service.replies(who, channel_id, seq, after->value_or(0), *limit);
    if (!page) co_return page.error();
    co_return messages_response(*page);
  });

  router.add("PATCH", "/v1/channels/{id}/messages/{seq}", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    const auto& [who, channel_id, seq] = *target;
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* text = body->if_contains("body");
    if (!text || !text->is_string()) co_return bad_input("invalid_body", "body must be a string");
    if (auto limited = take(send_limiter, who); !limited) co_return limited.error();
    auto m = co_await service.edit(who, channel_id, seq, std::string(text->as_string()));
    if (!m) co_return m.error();
    co_return net::json_response(200, message_json(*m));
  });

  router.add("DELETE", "/v1/channels/{id}/messages/{seq}", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    const auto& [who, channel_id, seq] = *target;
    if (auto limited = take(send_limiter, who); !limited) co_return limited.error();
    auto done = co_await service.remove(who, channel_id, seq);
    if (!done) co_return done.error();
    co_return Response::text(204, "");
  });

  router.add("POST", "/v1/channels/{id}/messages/bulk-delete", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* list = body->if_contains("seqs");
    if (!list || !list->is_array()) co_return bad_input("invalid_seqs", "seqs must be an array of seqs");
    std::vector<std::int64_t> seqs;
    for (const auto& v : list->as_array()) {
      if (!v.is_int64()) co_return bad_input("invalid_seqs", "seqs must be an array of seqs");
      seqs.push_back(v.as_int64());
    }
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto deleted = co_await service.remove_many(who->address, std::string(req.param("id")), std::move(seqs));
    if (!deleted) co_return deleted.error();
    json::array out;
    for (const auto seq : *deleted) out.emplace_back(seq);
    co_return net::json_response(200, json::object{{"deleted", std::move(out)}});
  });

  // --- threads ---

  router.add("POST", "/v1/channels/{id}/threads", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    NewThread spec;
    for (const auto& [key, value] : *body) {
      if (key == "name") {
        if (!value.is_string()) co_return bad_input("invalid_thread_name", "name must be a string");
        spec.name = std::string(value.as_string());
      } else if (key == "seq") {
        if (value.is_null()) continue;
        if (!value.is_int64()) co_return bad_input("invalid_seq", "seq is a positive integer");
        spec.seq = value.as_int64();
      } else if (key == "auto_archive_minutes") {
        if (!value.is_int64())
          co_return bad_input("invalid_auto_archive", "auto_archive_minutes is 60, 1440, 4320 or 10080");
        spec.auto_archive_minutes = value.as_int64();
      } else if (key == "private" || key == "invitable") {
        if (!value.is_bool()) co_return bad_input("invalid_field", std::string(key) + " must be a boolean");
        if (key == "private") {
          spec.is_private = value.as_bool();
        } else {
          spec.invitable = value.as_bool();
        }
      } else if (key == "message") {
        if (!value.is_object()) co_return bad_input("invalid_field", "message is an object, as a post takes it");
        auto message = read_new_message(value.as_object());
        if (!message) co_return message.error();
        spec.message = std::move(*message);
      } else if (key == "applied_tags") {
        auto tags = tag_ids(value);
        if (!tags) co_return tags.error();
        spec.applied_tags = std::move(*tags);
      } else {
        co_return bad_input("invalid_field", "unknown field " + std::string(key));
      }
    }
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto created = co_await service.create_thread(who->address, std::string(req.param("id")), std::move(spec));
    if (!created) co_return created.error();
    auto shown = thread_json(created->thread, service.clock().now());
    // A forum post answers with its first message.
    if (created->message) shown["message"] = message_json(*created->message);
    co_return net::json_response(201, std::move(shown));
  });

  router.add("GET", "/v1/channels/{id}/threads", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto query = thread_query(req, true);
    if (!query) co_return query.error();
    auto page = co_await service.threads(who->address, std::string(req.param("id")), std::move(*query));
    if (!page) co_return page.error();
    co_return net::json_response(200, thread_page_json(*page, service.clock().now()));
  });

  // The active threads of a community's channels the caller reads (as Discord's active threads).
  router.add("GET", "/v1/communities/{id}/threads", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto query = thread_query(req, false);
    if (!query) co_return query.error();
    auto page = co_await service.community_threads(who->address, std::string(req.param("id")), std::move(*query));
    if (!page) co_return page.error();
    co_return net::json_response(200, thread_page_json(*page, service.clock().now()));
  });

  router.add("GET", "/v1/threads/{id}", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto found = co_await service.thread(who->address, std::string(req.param("id")));
    if (!found) co_return found.error();
    co_return net::json_response(200, thread_json(*found, service.clock().now()));
  });

  router.add("PATCH", "/v1/threads/{id}", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    ThreadChange change;
    for (const auto& [key, value] : *body) {
      if (key == "name") {
        if (!value.is_string()) co_return bad_input("invalid_thread_name", "name must be a string");
        change.name = std::string(value.as_string());
      } else if (key == "archived" || key == "locked" || key == "invitable" || key == "pinned") {
        if (!value.is_bool()) co_return bad_input("invalid_field", std::string(key) + " must be a boolean");
        if (key == "archived") {
          change.archived = value.as_bool();
        } else if (key == "locked") {
          change.locked = value.as_bool();
        } else if (key == "pinned") {
          change.pinned = value.as_bool();
        } else {
          change.invitable = value.as_bool();
        }
      } else if (key == "auto_archive_minutes") {
        if (!value.is_int64())
          co_return bad_input("invalid_auto_archive", "auto_archive_minutes is 60, 1440, 4320 or 10080");
        change.auto_archive_minutes = value.as_int64();
      } else if (key == "slow_mode_seconds") {
        if (!value.is_int64()) co_return bad_input("invalid_field", "slow_mode_seconds must be an integer");
        change.slow_mode_seconds = value.as_int64();
      } else if (key == "applied_tags") {
        auto tags = tag_ids(value);
        if (!tags) co_return tags.error();
        change.applied_tags = std::move(*tags);
      } else {
        co_return bad_input("invalid_field", "unknown field " + std::string(key));
      }
    }
    if (!change.name && !change.archived && !change.locked && !change.auto_archive_minutes &&
        !change.slow_mode_seconds && !change.invitable && !change.applied_tags && !change.pinned) {
      co_return bad_input("invalid_field", "nothing to change");
    }
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto updated = co_await service.update_thread(who->address, std::string(req.param("id")), std::move(change));
    if (!updated) co_return updated.error();
    co_return net::json_response(200, thread_json(*updated, service.clock().now()));
  });

  router.add("DELETE", "/v1/threads/{id}", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto deleted = co_await service.delete_thread(who->address, std::string(req.param("id")));
    if (!deleted) co_return deleted.error();
    co_return Response::text(204, "");
  });

  // A thread's members: joining and leaving (one's own address), adding and removing others.
  const auto member_route = [&](bool joined) {
    return [&, joined](Request& req) -> Task<Result<Response>> {
      auto who = co_await auth.session(req);
      if (!who) co_return who.error();
      auto member = eth::parse_address(req.param("address"));
      if (!member)
        co_return bad_input("invalid_address", std::string("not an address: ") + eth::to_string(member.error()));
      // Joining takes an optional `{"notify"}`: what of the thread notifies the member.
      std::optional<ThreadNotify> notify;
      if (joined && !req.body.empty()) {
        auto body = net::parse_json_object(req);
        if (!body) co_return body.error();
        for (const auto& [key, value] : *body) {
          if (key != "notify") co_return bad_input("invalid_field", "unknown field: " + std::string(key));
          if (!value.is_string()) co_return bad_input("invalid_field", "notify is all, mentions or none");
          auto parsed = parse_thread_notify(value.as_string());
          if (!parsed) co_return parsed.error();
          notify = *parsed;
        }
      }
      if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
      auto set =
          co_await service.set_thread_member(who->address, std::string(req.param("id")), *member, joined, notify);
      if (!set) co_return set.error();
      co_return Response::text(204, "");
    };
  };
  router.add("PUT", "/v1/threads/{id}/members/{address}", member_route(true));
  router.add("DELETE", "/v1/threads/{id}/members/{address}", member_route(false));

  router.add("GET", "/v1/threads/{id}/members", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto limit = query_limit(req);
    if (!limit) co_return limit.error();
    std::optional<std::string> cursor;
    if (auto c = req.query_param("cursor")) cursor = std::string(*c);
    auto page = co_await service.thread_members(who->address, std::string(req.param("id")), std::move(cursor), *limit);
    if (!page) co_return page.error();
    json::array members;
    for (const auto& m : page->members) members.emplace_back(thread_member_json(m));
    json::object out{{"members", std::move(members)}};
    out["next_cursor"] = page->next_cursor ? json::value(*page->next_cursor) : json::value(nullptr);
    co_return net::json_response(200, std::move(out));
  });

  router.add("POST", "/v1/channels/{id}/messages/{seq}/report", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* reason = body->if_contains("reason");
    if (!reason || !reason->is_string()) {
      co_return bad_input("invalid_reason", "reason is spam, scam, harassment, nsfw or other");
    }
    std::string note;
    if (const auto* n = body->if_contains("note"); n && !n->is_null()) {
      if (!n->is_string()) co_return bad_input("invalid_note", "note must be a string");
      note = std::string(n->as_string());
    }
    if (auto limited = take(send_limiter, target->who); !limited) co_return limited.error();
    auto filed = co_await service.report(target->who, std::move(target->channel_id), target->seq,
                                         std::string(reason->as_string()), std::move(note));
    if (!filed) co_return filed.error();
    // The reporter's view: a report filed again may have been resolved since.
    co_return net::json_response(filed->created ? 201 : 200, reporter_report_json(filed->report));
  });

  router.add("GET", "/v1/communities/{id}/reports", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto filter = report_filter(req, "open");
    if (!filter) co_return filter.error();
    auto page = co_await service.community_reports(who->address, std::string(req.param("id")), std::move(*filter));
    co_return report_page_response(page, report_json);
  });

  // The reports the caller filed, and what became of them (docs/api/messaging.md, "Reports").
  router.add("GET", "/v1/me/reports", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto filter = report_filter(req, "all");
    if (!filter) co_return filter.error();
    auto page = co_await service.my_reports(who->address, std::move(*filter));
    co_return report_page_response(page, reporter_report_json);
  });

  router.add("PATCH", "/v1/reports/{id}", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto id = parse_seq(req.param("id"), "report_id");
    if (!id) co_return id.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* status = body->if_contains("status");
    if (!status || !status->is_string()) co_return bad_input("invalid_status", "status is open, resolved or dismissed");
    std::string resolution;
    if (const auto* r = body->if_contains("resolution"); r && !r->is_null()) {
      if (!r->is_string()) co_return bad_input("invalid_resolution", "resolution must be a string");
      resolution = std::string(r->as_string());
    }
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto updated =
        co_await service.update_report(who->address, *id, std::string(status->as_string()), std::move(resolution));
    co_return net::rendered(updated, report_json);
  });

  for (const char* method : {"PUT", "DELETE"}) {
    const bool add = std::string_view(method) == "PUT";
    router.add(method, "/v1/channels/{id}/messages/{seq}/reactions/{emoji}",
               [&, add](Request& req) -> Task<Result<Response>> {
                 auto target = co_await message_target(auth, req);
                 if (!target) co_return target.error();
                 const auto& [who, channel_id, seq] = *target;
                 if (auto limited = take(send_limiter, who); !limited) co_return limited.error();
                 auto done = co_await service.react(who, channel_id, seq, std::string(req.param("emoji")), add);
                 if (!done) co_return done.error();
                 co_return Response::text(204, "");
               });
  }

  router.add("GET", "/v1/channels/{id}/messages/{seq}/reactions/{emoji}", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    const auto& [who, channel_id, seq] = *target;
    auto after = query_after(req);
    if (!after) co_return after.error();
    auto limit = query_limit(req);
    if (!limit) co_return limit.error();
    auto page = co_await service.reactors(who, channel_id, seq, std::string(req.param("emoji")), *after, *limit);
    if (!page) co_return page.error();
    co_return account_page_response(*page);
  });

  router.add("GET", "/v1/channels/{id}/messages/{seq}/poll/votes/{answer}",
             [&](Request& req) -> Task<Result<Response>> {
               auto target = co_await message_target(auth, req);
               if (!target) co_return target.error();
               const auto& [who, channel_id, seq] = *target;
               auto answer = parse_seq(req.param("answer"), "answer");
               if (!answer) co_return answer.error();
               auto after = query_after(req);
               if (!after) co_return after.error();
               auto limit = query_limit(req);
               if (!limit) co_return limit.error();
               auto page = co_await service.voters(who, channel_id, seq, *answer, *after, *limit);
               if (!page) co_return page.error();
               co_return account_page_response(*page);
             });

  for (const char* method : {"PUT", "DELETE"}) {
    const bool add = std::string_view(method) == "PUT";
    router.add(method, "/v1/channels/{id}/messages/{seq}/poll/votes/{answer}",
               [&, add](Request& req) -> Task<Result<Response>> {
                 auto target = co_await message_target(auth, req);
                 if (!target) co_return target.error();
                 const auto& [who, channel_id, seq] = *target;
                 auto answer = parse_seq(req.param("answer"), "answer");
                 if (!answer) co_return answer.error();
                 if (auto limited = take(send_limiter, who); !limited) co_return limited.error();
                 auto done = co_await service.vote(who, channel_id, seq, *answer, add);
                 if (!done) co_return done.error();
                 co_return Response::text(204, "");
               });
  }

  router.add("POST", "/v1/channels/{id}/messages/{seq}/poll/end", [&](Request& req) -> Task<Result<Response>> {
    auto target = co_await message_target(auth, req);
    if (!target) co_return target.error();
    const auto& [who, channel_id, seq] = *target;
    if (auto limited = take(send_limiter, who); !limited) co_return limited.error();
    auto done = co_await service.end_poll(who, channel_id, seq);
    if (!done) co_return done.error();
    co_return Response::text(204, "");
  });

  for (const char* method : {"PUT", "DELETE"}) {
    const bool pin = std::string_view(method) == "PUT";
    router.add(method, "/v1/channels/{id}/pins/{seq}", [&, pin](Request& req) -> Task<Result<Response>> {
      auto target = co_await message_target(auth, req);
      if (!target) co_return target.error();
      const auto& [who, channel_id, seq] = *target;
      if (auto limited = take(send_limiter, who); !limited) co_return limited.error();
      auto done = co_await service.pin(who, channel_id, seq, pin);
      if (!done) co_return done.error();
      co_return Response::text(204, "");
    });
  }

  router.add("GET", "/v1/channels/{id}/pins", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.pins(who->address, std::string(req.param("id")));
    if (!list) co_return list.error();
    json::array out;
    for (const auto& m : *list) {
      auto o = message_json(m);
      if (m.pin) {
        o["pinned_at"] = format_rfc3339(m.pin->at);
        o["pinned_by"] = eth::to_checksum(m.pin->by);
      }
      out.emplace_back(std::move(o));
    }
    co_return net::json_response(200, json::object{{"messages", std::move(out)}});
  });

  router.add("PUT", "/v1/channels/{id}/read", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* seq = body->if_contains("seq");
    if (!seq || !seq->is_int64() || seq->as_int64() < 0) co_return bad_input("invalid_seq", "seq must be 0 or more");
    bool force = false;
    if (const auto* f = body->if_contains("force"); f && !f->is_null()) {
      if (!f->is_bool()) co_return bad_input("invalid_force", "force must be true or false");
      force = f->as_bool();
    }
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto marker = co_await service.mark_read(who->address, std::string(req.param("id")), seq->as_int64(), force);
    if (!marker) co_return marker.error();
    co_return net::json_response(200, json::object{{"channel_id", req.param("id")}, {"last_read_seq", *marker}});
  });

  // Several read markers at once ("mark all as read"): one write of the budget for all of them.
  router.add("PUT", "/v1/read", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* channels = body->if_contains("channels");
    if (!channels || !channels->is_object() || channels->as_object().empty() ||
        channels->as_object().size() > max_read_markers) {
      co_return bad_input("invalid_channels", "channels must map 1 to 100 channel ids to seqs");
    }
    std::map<std::string, std::int64_t> seqs;
    for (const auto& [id, seq] : channels->as_object()) {
      if (!seq.is_int64() || seq.as_int64() < 0) co_return bad_input("invalid_seq", "each seq must be 0 or more");
      seqs.emplace(std::string(id), seq.as_int64());
    }
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto markers = co_await service.mark_read_many(who->address, std::move(seqs));
    if (!markers) co_return markers.error();
    json::object out;
    for (const auto& [id, marker] : *markers) out[id] = marker;
    co_return net::json_response(200, json::object{{"channels", std::move(out)}});
  });

  router.add("PUT", "/v1/communities/{id}/read", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto limited = take(send_limiter, who->address); !limited) co_return limited.error();
    auto markers = co_await service.mark_community_read(who->address, std::string(req.param("id")));
    if (!markers) co_return markers.error();
    json::object out;
    for (const auto& [id, marker] : *markers) out[id] = marker;
    co_return net::json_response(200, json::object{{"channels", std::move(out)}});
  });

  router.add("GET", "/v1/unread", [&](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    std::vector<std::string> ids;
    if (auto list = req.query_param("channel_ids")) {
      std::string_view rest = *list;
      while (!rest.empty()) {
        const auto comma = rest.find(',');
        if (comma != 0) ids.emplace_back(rest.substr(0, comma));
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (ids.size() > 500) co_return bad_input("invalid_channel_ids", "at most 500 channel ids");
    }
    auto unread = co_await service.unread(who->address, std::move(ids));
    if (!unread) co_return unread.error();
    json::array channels;
    for (const auto& u : *unread) {
      channels.emplace_back(json::object{{"channel_id", u.channel_id},
                                         {"last_seq", u.last_seq},
                                         {"last_read_seq", u.last_read_seq},
                                         {"unread", u.unread},
                                         {"mentions", u.mentions}});
    }
    co_return net::json_response(200, json::object{{"channels", std::move(channels)}});
  });
}

void add_test_access_route(net::Router& router, GrantedChannelAccess& access, store::Database& db, BlockingPool& pool,
                           std::function<void()> events_published) {
  router.add(
      "POST", "/v1/_test/channel-access",
      [&access, &db, &pool, events_published](Request& req) -> Task<Result<Response>> {
        auto body = net::parse_json_object(req);
        if (!body) co_return body.error();
        const auto* account = body->if_contains("account");
        const auto* channel = body->if_contains("channel_id");
        if (!account || !account->is_string() || !channel || !channel->is_string()) {
          co_return bad_input("invalid_field", "account and channel_id are required");
        }
        auto address = eth::parse_address(account->as_string());
        if (!address) co_return bad_input("invalid_address", "account is not an address");
        const std::string channel_id(channel->as_string());
        const auto flag = [&](const char* name) {
          const auto* v = body->if_contains(name);
          return v && v->is_bool() && v->as_bool();
        };
        const bool read = flag("read");
        const bool post = flag("post");
        if (const auto* role = body->if_contains("role"); role && role->is_string()) {
          access.set_role(*address, channel_id, std::string(role->as_string()));
        }
        access.grant(*address, channel_id, read, post, flag("moderate"));
        if (!read && !post) {
          json::array ids{json::value(channel_id)};
          json::object payload{{"community_id", "test"}, {"account", eth::to_checksum(*address)}, {"channel_ids", ids}};
          auto published = co_await pool.run([&] {
            return db.transact([&](store::Tx& tx) {
              return bus::publish(tx, {"community.member_removed", "test", json::serialize(payload)});
            });
          });
          if (!published) co_return published.error();
          if (events_published) events_published();
        }
        co_return Response::text(204, "");
      });
}

}  // namespace gh::messaging
