#include "community/routes.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "eth/address.hpp"
#include "net/json.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;
using net::Request;
using net::Response;

json::value render_optional_gate(const std::optional<GateNode>& gate) {
  if (!gate) return nullptr;
  return render_gate(*gate);
}

json::array strings(const std::vector<std::string>& items) {
  json::array out;
  for (const auto& s : items) out.push_back(json::string(s));
  return out;
}

json::object render_community(const CommunityInfo& c) {
  json::object you{{"member", c.caller.member},
                   {"roles", strings(std::vector<std::string>(c.caller.roles.begin(), c.caller.roles.end()))},
                   {"permissions", strings(permission_names(c.caller.permissions))}};
  return json::object{{"id", c.id},
                      {"slug", c.slug},
                      {"name", c.name},
                      {"owner", eth::to_checksum(c.owner)},
                      {"gate", render_optional_gate(c.gate)},
                      {"member_count", c.member_count},
                      {"created_at", format_rfc3339(c.created_at)},
                      {"you", std::move(you)}};
}

json::object render_channel(const ChannelInfo& c) {
  return json::object{{"id", c.id},
                      {"community_id", c.community_id},
                      {"name", c.name},
                      {"gate", render_optional_gate(c.gate)},
                      {"roles", strings(c.roles)},
                      {"archived", c.archived},
                      {"created_at", format_rfc3339(c.created_at)},
                      {"can_read", c.can_read},
                      {"can_post", c.can_post}};
}

json::object render_role(const RoleInfo& r) {
  return json::object{{"name", r.name},
                      {"builtin", r.builtin},
                      {"rank", r.rank},
                      {"permissions", strings(permission_names(r.permissions))},
                      {"gate", render_optional_gate(r.gate)}};
}

Result<std::string> string_field(const json::object& body, std::string_view name, bool required) {
  const auto* v = body.if_contains(name);
  if (v == nullptr) {
    if (required) return bad_input("invalid_field", std::string(name) + " is required");
    return std::string();
  }
  if (!v->is_string()) return bad_input("invalid_field", std::string(name) + " must be a string");
  return std::string(v->as_string());
}

// An absent gate: nullopt; "gate": null: a present empty optional (remove); else the parsed gate.
Result<std::optional<std::optional<GateNode>>> gate_field(const json::object& body) {
  const auto* v = body.if_contains("gate");
  if (v == nullptr) return std::optional<std::optional<GateNode>>();
  if (v->is_null()) return std::optional<std::optional<GateNode>>(std::optional<GateNode>());
  auto g = parse_gate(*v);
  if (!g) return std::move(g).error();
  return std::optional<std::optional<GateNode>>(std::optional<GateNode>(std::move(*g)));
}

Result<std::vector<std::string>> string_list(const json::object& body, std::string_view name) {
  std::vector<std::string> out;
  const auto* v = body.if_contains(name);
  if (v == nullptr || v->is_null()) return out;
  const auto* arr = v->if_array();
  if (arr == nullptr) return bad_input("invalid_field", std::string(name) + " must be an array of strings");
  for (const auto& item : *arr) {
    if (!item.is_string()) return bad_input("invalid_field", std::string(name) + " must be an array of strings");
    out.emplace_back(item.as_string());
  }
  return out;
}

Result<eth::Address> address_param(const Request& req, std::string_view name) {
  auto a = eth::parse_address(req.param(name));
  if (!a) return bad_input("invalid_address", std::string("not an address: ") + eth::to_string(a.error()));
  return *a;
}

Result<std::size_t> limit_param(const Request& req) {
  auto v = req.query_param("limit");
  if (!v) return std::size_t{50};
  std::size_t n = 0;
  if (v->empty() || v->size() > 3) return bad_input("invalid_limit", "limit is 1 to 100");
  for (char c : *v) {
    if (c < '0' || c > '9') return bad_input("invalid_limit", "limit is 1 to 100");
    n = n * 10 + static_cast<std::size_t>(c - '0');
  }
  if (n < 1 || n > 100) return bad_input("invalid_limit", "limit is 1 to 100");
  return n;
}

Response no_content() {
  return Response::text(204, "", "application/json");
}

}  // namespace

void add_community_routes(net::Router& router, CommunityService& service, auth::RequestAuth& auth,
                          const CommunityLimits& limits) {
  auto join_limiter = std::make_shared<net::RateLimiter>(limits.join_per_account);

  router.add("POST", "/v1/communities", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto name = string_field(*body, "name", true);
    if (!name) co_return name.error();
    auto slug = string_field(*body, "slug", true);
    if (!slug) co_return slug.error();
    auto gate = gate_field(*body);
    if (!gate) co_return gate.error();
    NewCommunity spec;
    spec.name = std::move(*name);
    spec.slug = std::move(*slug);
    if (*gate) spec.gate = std::move(**gate);
    auto created = co_await service.create_community(who->address, std::move(spec));
    if (!created) co_return created.error();
    co_return net::json_response(201, render_community(*created));
  });

  router.add("GET", "/v1/communities", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.my_communities(who->address);
    if (!list) co_return list.error();
    json::array out;
    for (const auto& c : *list) out.push_back(render_community(c));
    co_return net::json_response(200, json::object{{"communities", std::move(out)}});
  });

  router.add("GET", "/v1/communities/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto c = co_await service.community(who->address, std::string(req.param("id")));
    if (!c) co_return c.error();
    co_return net::json_response(200, render_community(*c));
  });

  router.add("PATCH", "/v1/communities/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    std::optional<std::string> name;
    if (body->contains("name")) {
      auto n = string_field(*body, "name", true);
      if (!n) co_return n.error();
      name = std::move(*n);
    }
    auto gate = gate_field(*body);
    if (!gate) co_return gate.error();
    auto c = co_await service.update_community(who->address, std::string(req.param("id")), std::move(name),
                                               std::move(*gate));
    if (!c) co_return c.error();
    co_return net::json_response(200, render_community(*c));
  });

  router.add("POST", "/v1/communities/{id}/join",
             [&service, &auth, join_limiter](Request& req) -> Task<Result<Response>> {
               auto who = co_await auth.session(req);
               if (!who) co_return who.error();
               if (auto d = join_limiter->take(eth::to_lower_hex(who->address)); !d.allowed) {
                 co_return rate_limited("too many joins; slow down", d.retry_after);
               }
               auto c = co_await service.join(who->address, std::string(req.param("id")));
               if (!c) co_return c.error();
               co_return net::json_response(200, render_community(*c));
             });

  router.add("POST", "/v1/communities/{id}/leave", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto r = co_await service.leave(who->address, std::string(req.param("id")));
    if (!r) co_return r.error();
    co_return no_content();
  });

  router.add("GET", "/v1/communities/{id}/members", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto limit = limit_param(req);
    if (!limit) co_return limit.error();
    std::string cursor;
    if (auto c = req.query_param("cursor")) {
      auto a = eth::parse_address(*c);
      if (!a) co_return bad_input("invalid_cursor", "cursor must come from next_cursor");
      cursor = eth::to_lower_hex(*a);
    }
    auto page = co_await service.members(who->address, std::string(req.param("id")), std::move(cursor), *limit);
    if (!page) co_return page.error();
    json::array members;
    for (const auto& m : page->members) {
      members.push_back(json::object{{"address", eth::to_checksum(m.account)},
                                     {"joined_at", format_rfc3339(m.joined_at)},
                                     {"roles", strings(m.roles)}});
    }
    json::value next = nullptr;
    if (page->next_cursor) next = eth::to_checksum(*eth::parse_address(*page->next_cursor));
    co_return net::json_response(200, json::object{{"members", std::move(members)}, {"next_cursor", next}});
  });

  router.add("POST", "/v1/communities/{id}/members/{address}/kick",
             [&service, &auth](Request& req) -> Task<Result<Response>> {
               auto who = co_await auth.session(req);
               if (!who) co_return who.error();
               auto target = address_param(req, "address");
               if (!target) co_return target.error();
               auto r = co_await service.kick(who->address, std::string(req.param("id")), *target);
               if (!r) co_return r.error();
               co_return no_content();
             });

  router.add("POST", "/v1/communities/{id}/bans", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto address = string_field(*body, "address", true);
    if (!address) co_return address.error();
    auto target = eth::parse_address(*address);
    if (!target) co_return bad_input("invalid_address", "address is not an address");
    auto reason = string_field(*body, "reason", false);
    if (!reason) co_return reason.error();
    auto r = co_await service.ban(who->address, std::string(req.param("id")), *target, std::move(*reason));
    if (!r) co_return r.error();
    co_return no_content();
  });

  router.add("DELETE", "/v1/communities/{id}/bans/{address}",
             [&service, &auth](Request& req) -> Task<Result<Response>> {
               auto who = co_await auth.session(req);
               if (!who) co_return who.error();
               auto target = address_param(req, "address");
               if (!target) co_return target.error();
               auto r = co_await service.unban(who->address, std::string(req.param("id")), *target);
               if (!r) co_return r.error();
               co_return no_content();
             });

  router.add("GET", "/v1/communities/{id}/roles", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.roles(who->address, std::string(req.param("id")));
    if (!list) co_return list.error();
    json::array out;
    for (const auto& r : *list) out.push_back(render_role(r));
    co_return net::json_response(200, json::object{{"roles", std::move(out)}});
  });

  router.add("POST", "/v1/communities/{id}/roles", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto name = string_field(*body, "name", true);
    if (!name) co_return name.error();
    auto names = string_list(*body, "permissions");
    if (!names) co_return names.error();
    Permissions permissions = 0;
    for (const auto& n : *names) {
      auto p = parse_permission(n);
      if (!p) co_return bad_input("invalid_permission", "unknown permission " + n);
      permissions |= static_cast<Permissions>(*p);
    }
    auto gate = gate_field(*body);
    if (!gate) co_return gate.error();
    std::optional<GateNode> role_gate;
    if (*gate) role_gate = std::move(**gate);
    auto role = co_await service.create_role(who->address, std::string(req.param("id")), std::move(*name), permissions,
                                             std::move(role_gate));
    if (!role) co_return role.error();
    co_return net::json_response(201, render_role(*role));
  });

  router.add("PUT", "/v1/communities/{id}/members/{address}/roles/{role}",
             [&service, &auth](Request& req) -> Task<Result<Response>> {
               auto who = co_await auth.session(req);
               if (!who) co_return who.error();
               auto target = address_param(req, "address");
               if (!target) co_return target.error();
               auto r = co_await service.assign_role(who->address, std::string(req.param("id")), *target,
                                                     std::string(req.param("role")));
               if (!r) co_return r.error();
               co_return no_content();
             });

  router.add("DELETE", "/v1/communities/{id}/members/{address}/roles/{role}",
             [&service, &auth](Request& req) -> Task<Result<Response>> {
               auto who = co_await auth.session(req);
               if (!who) co_return who.error();
               auto target = address_param(req, "address");
               if (!target) co_return target.error();
               auto r = co_await service.unassign_role(who->address, std::string(req.param("id")), *target,
                                                       std::string(req.param("role")));
               if (!r) co_return r.error();
               co_return no_content();
             });

  router.add("POST", "/v1/communities/{id}/channels", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto name = string_field(*body, "name", true);
    if (!name) co_return name.error();
    auto gate = gate_field(*body);
    if (!gate) co_return gate.error();
    auto roles = string_list(*body, "roles");
    if (!roles) co_return roles.error();
    NewChannel spec;
    spec.name = std::move(*name);
    if (*gate) spec.gate = std::move(**gate);
    spec.roles = std::move(*roles);
    auto ch = co_await service.create_channel(who->address, std::string(req.param("id")), std::move(spec));
    if (!ch) co_return ch.error();
    co_return net::json_response(201, render_channel(*ch));
  });

  router.add("GET", "/v1/communities/{id}/channels", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.channels(who->address, std::string(req.param("id")));
    if (!list) co_return list.error();
    json::array out;
    for (const auto& c : *list) out.push_back(render_channel(c));
    co_return net::json_response(200, json::object{{"channels", std::move(out)}});
  });

  router.add("GET", "/v1/channels", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto ids = co_await service.readable_channels(who->address);
    if (!ids) co_return ids.error();
    co_return net::json_response(200, json::object{{"channel_ids", strings(*ids)}});
  });

  router.add("GET", "/v1/channels/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto ch = co_await service.channel(who->address, std::string(req.param("id")));
    if (!ch) co_return ch.error();
    co_return net::json_response(200, render_channel(*ch));
  });

  router.add("PATCH", "/v1/channels/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    ChannelUpdate update;
    if (body->contains("name")) {
      auto n = string_field(*body, "name", true);
      if (!n) co_return n.error();
      update.name = std::move(*n);
    }
    auto gate = gate_field(*body);
    if (!gate) co_return gate.error();
    update.gate = std::move(*gate);
    if (body->contains("roles")) {
      auto roles = string_list(*body, "roles");
      if (!roles) co_return roles.error();
      update.roles = std::move(*roles);
    }
    if (const auto* a = body->if_contains("archived")) {
      if (!a->is_bool()) co_return bad_input("invalid_field", "archived must be a boolean");
      update.archived = a->as_bool();
    }
    auto ch = co_await service.update_channel(who->address, std::string(req.param("id")), std::move(update));
    if (!ch) co_return ch.error();
    co_return net::json_response(200, render_channel(*ch));
  });
}

}  // namespace gh::community
