#include "e2e/routes.hpp"

#include <charconv>

#include <boost/json/serialize.hpp>

#include "auth/routes.hpp"
#include "e2e/service.hpp"
#include "net/authenticated_route.hpp"
#include "net/json.hpp"
#include "net/json_result.hpp"
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

json::object render_welcome(const QueuedWelcome& w) {
  return json::object{{"id", w.id},
                      {"group_id", w.group_id},
                      {"seq", w.seq},
                      {"welcome", w.welcome},
                      {"created_at", format_rfc3339(w.created_at)}};
}

json::object render_message(const StoredMessage& m) {
  return json::object{{"seq", m.seq},
                      {"sender", eth::to_checksum(m.sender)},
                      {"sender_device", m.sender_device},
                      {"epoch", m.epoch},
                      {"content_type", static_cast<int>(m.content_type)},
                      {"message", m.message},
                      {"created_at", format_rfc3339(m.created_at)}};
}

// Registers a route for a signed-in account.
void add_signed_in(net::Router& router, auth::RequestAuth& auth, std::string_view method, std::string_view path,
                   net::PrincipalHandler<auth::Principal> handle) {
  auto session = [&auth](const Request& req) { return auth.session(req); };
  router.add(method, path, net::authenticated<auth::Principal>(session, std::move(handle)));
}

// What a route on one group ({id}) of a signed-in account does.
using GroupHandler = std::function<Task<Result<Response>>(const auth::Principal& who, const GroupId& id, Request& req)>;

// Registers a route on one group, which parses its id.
void add_group_route(net::Router& router, auth::RequestAuth& auth, std::string_view method, std::string_view path,
                     GroupHandler handle) {
  add_signed_in(router, auth, method, path,
                [handle = std::move(handle)](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto id = parse_group_id(req.param("id"));
                  if (!id) co_return id.error();
                  co_return co_await handle(who, *id, req);
                });
}

// Registers a route for one device of a signed-in account (the X-Device-Id header).
void add_device_route(net::Router& router, E2eService& service, auth::RequestAuth& auth, std::string_view method,
                      std::string_view path, net::PrincipalHandler<Caller> handle) {
  auto device = [&service, &auth](const Request& req) -> Task<Result<Caller>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    co_return co_await service.caller(*who, device_header(req));
  };
  router.add(method, path, net::authenticated<Caller>(device, std::move(handle)));
}

}  // namespace

void add_e2e_routes(net::Router& router, E2eService& service, auth::RequestAuth& auth, const E2eLimits& limits) {
  auto limiters = std::make_shared<Limiters>(limits);

  add_signed_in(router, auth, "POST", "/v1/groups",
                [&service, limiters](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  if (auto d = limiters->create.take(eth::to_lower_hex(who.address)); !d.allowed) {
                    co_return limited(d, "too many groups created; slow down");
                  }
                  auto body = net::parse_json_object(req);
                  if (!body) co_return body.error();
                  auto group = parse_new_group(*body, who.address, service.settings());
                  if (!group) co_return group.error();
                  auto made = co_await service.create_group(who, std::move(*group));
                  co_return net::rendered(made, render_group, 201);
                });

  add_signed_in(router, auth, "GET", "/v1/groups",
                [&service](const auth::Principal& who, Request&) -> Task<Result<Response>> {
                  auto list = co_await service.groups(who);
                  co_return net::rendered_list(list, "groups", render_group);
                });

  add_group_route(router, auth, "GET", "/v1/groups/{id}",
                  [&service](const auth::Principal& who, const GroupId& id, Request&) -> Task<Result<Response>> {
                    auto g = co_await service.group(who, id.id);
                    co_return net::rendered(g, render_group);
                  });

  add_group_route(
      router, auth, "GET", "/v1/groups/{id}/devices",
      [&service](const auth::Principal& who, const GroupId& id, Request&) -> Task<Result<Response>> {
        auto devices = co_await service.group_devices(who, id.id);
        if (!devices) co_return devices.error();
        json::array out;
        for (const auto& d : *devices) {
          out.push_back(json::object{
              {"account", eth::to_checksum(d.account)}, {"device_id", d.device_id}, {"identity_key", d.identity_key}});
        }
        co_return net::json_response(200, json::object{{"group_id", id.id}, {"devices", out}});
      });

  // The rate limit comes before the device check, as for every write of a signed-in account.
  add_signed_in(router, auth, "POST", "/v1/groups/{id}/messages",
                [&service, limiters](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  if (auto d = limiters->post.take(eth::to_lower_hex(who.address)); !d.allowed) {
                    co_return limited(d, "too many messages; slow down");
                  }
                  auto caller = co_await service.caller(who, device_header(req));
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

  add_device_route(router, service, auth, "GET", "/v1/groups/{id}/messages",
                   [&service](const Caller& caller, Request& req) -> Task<Result<Response>> {
                     auto id = parse_group_id(req.param("id"));
                     if (!id) co_return id.error();
                     auto after = int_query(req, "after_seq", 0, INT64_MAX);
                     if (!after) co_return after.error();
                     const auto max_page = static_cast<std::int64_t>(service.settings().max_page);
                     auto limit = int_query(req, "limit", max_page, max_page);
                     if (!limit) co_return limit.error();
                     auto list = co_await service.messages(caller, id->id, *after, static_cast<std::size_t>(*limit));
                     if (!list) co_return list.error();
                     json::array messages;
                     for (const auto& m : *list) messages.push_back(render_message(m));
                     co_return net::json_response(200, json::object{{"group_id", id->id}, {"messages", messages}});
                   });

  add_device_route(router, service, auth, "POST", "/v1/groups/{id}/ack",
                   [&service](const Caller& caller, Request& req) -> Task<Result<Response>> {
                     auto id = parse_group_id(req.param("id"));
                     if (!id) co_return id.error();
                     auto body = net::parse_json_object(req);
                     if (!body) co_return body.error();
                     const auto* seq = body->if_contains("seq");
                     if (seq == nullptr || !seq->is_int64()) {
                       co_return bad_input("invalid_field", "seq must be an integer");
                     }
                     auto done = co_await service.ack(caller, id->id, seq->as_int64());
                     co_return net::no_content(done);
                   });

  add_device_route(router, service, auth, "GET", "/v1/welcomes",
                   [&service](const Caller& caller, Request&) -> Task<Result<Response>> {
                     auto list = co_await service.welcomes(caller);
                     co_return net::rendered_list(list, "welcomes", render_welcome);
                   });

  add_device_route(router, service, auth, "DELETE", "/v1/welcomes/{id}",
                   [&service](const Caller& caller, Request& req) -> Task<Result<Response>> {
                     auto done = co_await service.delete_welcome(caller, std::string(req.param("id")));
                     co_return net::no_content(done);
                   });

  add_signed_in(router, auth, "GET", "/v1/dms/requests",
                [&service](const auth::Principal& who, Request&) -> Task<Result<Response>> {
                  auto list = co_await service.dm_requests(who);
                  co_return net::rendered_list(list, "requests", render_group);
                });

  add_group_route(
      router, auth, "POST", "/v1/dms/{id}/consent",
      [&service](const auth::Principal& who, const GroupId& id, Request& req) -> Task<Result<Response>> {
        auto body = net::parse_json_object(req);
        if (!body) co_return body.error();
        const auto* state = body->if_contains("state");
        std::optional<Consent> consent;
        if (state != nullptr && state->is_string()) {
          consent = parse_consent(std::string_view(state->as_string()));
        }
        if (!consent) co_return bad_input("invalid_field", "state must be allowed, denied or blocked");
        if (auto r = co_await service.set_consent(who, id.id, *consent); !r) co_return r.error();
        co_return net::json_response(200, json::object{{"group_id", id.id}, {"state", to_string(*consent)}});
      });
}

}  // namespace gh::e2e
