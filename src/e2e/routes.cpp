#include "e2e/routes.hpp"

#include <charconv>

#include <boost/json/serialize.hpp>

#include "auth/routes.hpp"
#include "e2e/service.hpp"
#include "net/json.hpp"
#include "net/router.hpp"

namespace gh::e2e {
namespace {

namespace json = boost::json;
using net::Request;
using net::Response;

struct Limiters {
  explicit Limiters(const E2eLimits& l) : post(l.post_per_account), create(l.create_per_account) {}
  net::RateLimiter post;
  net::RateLimiter create;
};

json::array addresses(const std::vector<eth::Address>& list) {
  json::array out;
  for (const auto& a : list) out.push_back(json::string(eth::to_checksum(a)));
  return out;
}

json::object render_group(const GroupInfo& g) {
  json::object o{{"group_id", g.id},
                 {"kind", to_string(g.kind)},
                 {"creator", eth::to_checksum(g.creator)},
                 {"members", addresses(g.members)},
                 {"epoch", g.epoch},
                 {"last_seq", g.last_seq},
                 {"created_at", format_rfc3339(g.created_at)}};
  if (g.kind == GroupKind::dm) o["consent"] = to_string(g.consent);
  return o;
}

Result<std::int64_t> int_query(const Request& req, std::string_view name, std::int64_t fallback, std::int64_t max) {
  auto text = req.query_param(name);
  if (!text) return fallback;
  std::int64_t v = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
  if (ec != std::errc() || end != text->data() + text->size() || v < 0 || v > max) {
    return bad_input("invalid_query", std::string(name) + " must be an integer 0.." + std::to_string(max));
  }
  return v;
}

std::string device_header(const Request& req) {
  auto h = req.header("x-device-id");
  return h ? std::string(*h) : std::string();
}

Error limited(const net::RateDecision& d, std::string message) {
  return rate_limited(std::move(message), d.retry_after);
}

}  // namespace

void add_e2e_routes(net::Router& router, E2eService& service, auth::RequestAuth& auth, const E2eLimits& limits) {
  auto limiters = std::make_shared<Limiters>(limits);

  router.add("POST", "/v1/groups", [&service, &auth, limiters](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto d = limiters->create.take(eth::to_lower_hex(who->address)); !d.allowed) {
      co_return limited(d, "too many groups created; slow down");
    }
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto group = parse_new_group(*body, who->address, service.settings());
    if (!group) co_return group.error();
    auto made = co_await service.create_group(*who, std::move(*group));
    if (!made) co_return made.error();
    co_return net::json_response(201, render_group(*made));
  });

  router.add("GET", "/v1/groups", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.groups(*who);
    if (!list) co_return list.error();
    json::array groups;
    for (const auto& g : *list) groups.push_back(render_group(g));
    co_return net::json_response(200, json::object{{"groups", groups}});
  });

  router.add("GET", "/v1/groups/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto id = parse_group_id(req.param("id"));
    if (!id) co_return id.error();
    auto g = co_await service.group(*who, id->id);
    if (!g) co_return g.error();
    co_return net::json_response(200, render_group(*g));
  });

  router.add("GET", "/v1/groups/{id}/devices", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto id = parse_group_id(req.param("id"));
    if (!id) co_return id.error();
    auto devices = co_await service.group_devices(*who, id->id);
    if (!devices) co_return devices.error();
    json::array out;
    for (const auto& d : *devices) {
      out.push_back(json::object{
          {"account", eth::to_checksum(d.account)}, {"device_id", d.device_id}, {"identity_key", d.identity_key}});
    }
    co_return net::json_response(200, json::object{{"group_id", id->id}, {"devices", out}});
  });

  router.add("POST", "/v1/groups/{id}/messages", [&service, &auth, limiters](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto d = limiters->post.take(eth::to_lower_hex(who->address)); !d.allowed) {
      co_return limited(d, "too many messages; slow down");
    }
    auto caller = co_await service.caller(*who, device_header(req));
    if (!caller) co_return caller.error();
    auto id = parse_group_id(req.param("id"));
    if (!id) co_return id.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto post = parse_post(*body, *id, service.settings());
    if (!post) co_return post.error();
    auto seq = co_await service.post(*caller, id->id, std::move(*post));
    if (!seq) co_return seq.error();
    co_return net::json_response(201, json::object{{"group_id", id->id}, {"seq", *seq}});
  });

  router.add("GET", "/v1/groups/{id}/messages", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto caller = co_await service.caller(*who, device_header(req));
    if (!caller) co_return caller.error();
    auto id = parse_group_id(req.param("id"));
    if (!id) co_return id.error();
    auto after = int_query(req, "after_seq", 0, INT64_MAX);
    if (!after) co_return after.error();
    const auto max_page = static_cast<std::int64_t>(service.settings().max_page);
    auto limit = int_query(req, "limit", max_page, max_page);
    if (!limit) co_return limit.error();
    auto list = co_await service.messages(*caller, id->id, *after, static_cast<std::size_t>(*limit));
    if (!list) co_return list.error();
    json::array messages;
    for (const auto& m : *list) {
      messages.push_back(json::object{{"seq", m.seq},
                                      {"sender", eth::to_checksum(m.sender)},
                                      {"sender_device", m.sender_device},
                                      {"epoch", m.epoch},
                                      {"content_type", static_cast<int>(m.content_type)},
                                      {"message", m.message},
                                      {"created_at", format_rfc3339(m.created_at)}});
    }
    co_return net::json_response(200, json::object{{"group_id", id->id}, {"messages", messages}});
  });

  router.add("POST", "/v1/groups/{id}/ack", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto caller = co_await service.caller(*who, device_header(req));
    if (!caller) co_return caller.error();
    auto id = parse_group_id(req.param("id"));
    if (!id) co_return id.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* seq = body->if_contains("seq");
    if (seq == nullptr || !seq->is_int64()) co_return bad_input("invalid_field", "seq must be an integer");
    if (auto r = co_await service.ack(*caller, id->id, seq->as_int64()); !r) co_return r.error();
    co_return Response::text(204, "", "application/json");
  });

  router.add("GET", "/v1/welcomes", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto caller = co_await service.caller(*who, device_header(req));
    if (!caller) co_return caller.error();
    auto list = co_await service.welcomes(*caller);
    if (!list) co_return list.error();
    json::array welcomes;
    for (const auto& w : *list) {
      welcomes.push_back(json::object{{"id", w.id},
                                      {"group_id", w.group_id},
                                      {"seq", w.seq},
                                      {"welcome", w.welcome},
                                      {"created_at", format_rfc3339(w.created_at)}});
    }
    co_return net::json_response(200, json::object{{"welcomes", welcomes}});
  });

  router.add("DELETE", "/v1/welcomes/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto caller = co_await service.caller(*who, device_header(req));
    if (!caller) co_return caller.error();
    if (auto r = co_await service.delete_welcome(*caller, std::string(req.param("id"))); !r) co_return r.error();
    co_return Response::text(204, "", "application/json");
  });

  router.add("GET", "/v1/dms/requests", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.dm_requests(*who);
    if (!list) co_return list.error();
    json::array requests;
    for (const auto& g : *list) requests.push_back(render_group(g));
    co_return net::json_response(200, json::object{{"requests", requests}});
  });

  router.add("POST", "/v1/dms/{id}/consent", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto id = parse_group_id(req.param("id"));
    if (!id) co_return id.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* state = body->if_contains("state");
    std::optional<Consent> consent;
    if (state != nullptr && state->is_string()) consent = parse_consent(std::string_view(state->as_string()));
    if (!consent) co_return bad_input("invalid_field", "state must be allowed, denied or blocked");
    if (auto r = co_await service.set_consent(*who, id->id, *consent); !r) co_return r.error();
    co_return net::json_response(200, json::object{{"group_id", id->id}, {"state", to_string(*consent)}});
  });
}

}  // namespace gh::e2e
