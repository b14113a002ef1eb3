#include "community/routes.hpp"

#include <algorithm>
#include <array>
#include <charconv>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "eth/address.hpp"
#include "net/authenticated_route.hpp"
#include "net/json.hpp"
#include "net/json_result.hpp"

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
                      {"system_channel", text_or_null(c.system_channel)},
                      {"created_at", format_rfc3339(c.created_at)},
                      {"you", std::move(you)}};
}

json::object render_member(const MemberInfo& m) {
  json::object member{{"address", eth::to_checksum(m.account)},
                      {"joined_at", format_rfc3339(m.joined_at)},
                      {"roles", strings(m.roles)},
                      {"nickname", text_or_null(m.nickname)}};
  if (m.timed_out_until) member["timed_out_until"] = format_rfc3339(*m.timed_out_until);
  return member;
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
                      {"can_post", c.can_post},
                      {"slow_mode_seconds", c.slow_mode_seconds},
                      {"topic", c.topic},
                      {"position", c.position},
                      {"post_roles", strings(c.post_roles)},
                      {"type", to_string(c.type)},
                      {"available_tags", tags_json(c.tags)},
                      {"require_tag", c.require_tag},
                      {"default_auto_archive_minutes", c.defaults.auto_archive_minutes},
                      {"default_sort_order", c.defaults.sort_order},
                      {"default_reaction_emoji", text_or_null(c.defaults.reaction_emoji)},
                      {"parent_id", text_or_null(c.parent_id)}};
}

json::object render_role(const RoleInfo& r) {
  return json::object{{"name", r.name},
                      {"builtin", r.builtin},
                      {"rank", r.rank},
                      {"permissions", strings(permission_names(r.permissions))},
                      {"gate", render_optional_gate(r.gate)},
                      {"mentionable", r.mentionable},
                      {"color", r.color},
                      {"hoist", r.hoist},
                      {"member_count", r.member_count}};
}

json::object render_automod(const AutomodRuleInfo& r) {
  auto out = render_automod_rule(r.spec);
  out["id"] = r.id;
  out["created_by"] = eth::to_checksum(r.created_by);
  out["created_at"] = format_rfc3339(r.created_at);
  out["updated_at"] = format_rfc3339(r.updated_at);
  return out;
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

// An absent field: nullopt (left as it is); else the string, which it must be.
Result<std::optional<std::string>> optional_string_field(const json::object& body, std::string_view name) {
  if (!body.contains(name)) return std::optional<std::string>();
  auto value = string_field(body, name, true);
  if (!value) return std::move(value).error();
  return std::optional<std::string>(std::move(*value));
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

// A role's "permissions": names, as a set (400 invalid_permission for an unknown one).
Result<Permissions> permission_set(const json::object& body) {
  auto names = string_list(body, "permissions");
  if (!names) return names.error();
  Permissions set = 0;
  for (const auto& n : *names) {
    auto p = parse_permission(n);
    if (!p) return bad_input("invalid_permission", "unknown permission " + n);
    set |= static_cast<Permissions>(*p);
  }
  return set;
}

// A custom role's "rank", "mentionable", "color" and "hoist", as creating and changing it take them (400
// invalid_field for a value of the wrong type; the service checks the ranges).
Result<RoleDetails> role_details(const json::object& body) {
  RoleDetails d;
  if (const auto* v = body.if_contains("rank")) {
    if (!v->is_int64()) return bad_input("invalid_field", "rank must be an integer");
    const auto rank = v->as_int64();
    d.rank = static_cast<int>(std::clamp<std::int64_t>(rank, -1, max_custom_role_rank + 1));
  }
  if (const auto* v = body.if_contains("mentionable")) {
    if (!v->is_bool()) return bad_input("invalid_field", "mentionable must be true or false");
    d.mentionable = v->as_bool();
  }
  if (const auto* v = body.if_contains("color")) {
    if (!v->is_int64()) return bad_input("invalid_field", "color must be an integer");
    d.color = v->as_int64();
  }
  if (const auto* v = body.if_contains("hoist")) {
    if (!v->is_bool()) return bad_input("invalid_field", "hoist must be true or false");
    d.hoist = v->as_bool();
  }
  return d;
}

// A channel's topic, position and post roles, as creating and changing it take them.
Result<void> read_channel_details(const json::object& body, std::optional<std::string>& topic,
                                  std::optional<std::int64_t>& position,
                                  std::optional<std::vector<std::string>>& post_roles) {
  if (const auto* t = body.if_contains("topic")) {
    if (!t->is_string()) return bad_input("invalid_field", "topic must be a string");
    topic = std::string(t->as_string());
  }
  if (const auto* p = body.if_contains("position")) {
    if (!p->is_int64()) return bad_input("invalid_field", "position must be an integer");
    position = p->as_int64();
  }
  if (body.contains("post_roles")) {
    auto roles = string_list(body, "post_roles");
    if (!roles) return std::move(roles).error();
    post_roles = std::move(*roles);
  }
  return ok();
}

// A forum's tags as a request sets them: [{"id"?, "name", "emoji"?, "moderated"?}]; 400 invalid_tag
// for another shape.
Result<std::vector<TagSpec>> tag_specs(const json::value& v) {
  const auto bad = [] {
    return bad_input("invalid_tag", "available_tags is an array of {\"id\"?, \"name\", \"emoji\"?, \"moderated\"?}");
  };
  const auto* list = v.if_array();
  if (list == nullptr) return bad();
  std::vector<TagSpec> out;
  for (const auto& item : *list) {
    const auto* o = item.if_object();
    if (o == nullptr) return bad();
    TagSpec spec;
    for (const auto& [key, value] : *o) {
      if (key == "id" && value.is_string()) {
        spec.id = std::string(value.as_string());
      } else if (key == "name" && value.is_string()) {
        spec.name = std::string(value.as_string());
      } else if (key == "emoji" && (value.is_string() || value.is_null())) {
        if (value.is_string()) spec.emoji = std::string(value.as_string());
      } else if (key == "moderated" && value.is_bool()) {
        spec.moderated = value.as_bool();
      } else if (!(key == "id" && value.is_null())) {
        return bad();
      }
    }
    out.push_back(std::move(spec));
  }
  return out;
}

// The category a channel is in, as creating and changing it take it: a category's id, or null for
// none. 400 invalid_parent for another shape.
Result<void> read_parent(const json::object& body, std::optional<std::string>& parent) {
  const auto* v = body.if_contains("parent_id");
  if (v == nullptr) return ok();
  if (v->is_null()) {
    parent = std::string();
    return ok();
  }
  if (!v->is_string() || v->as_string().empty() || v->as_string().size() > 128) {
    return bad_input("invalid_parent", "parent_id is a category's id, or null");
  }
  parent = std::string(v->as_string());
  return ok();
}

// A forum's tags and whether its posts need one, as creating and changing a channel take them.
Result<void> read_forum_fields(const json::object& body, std::optional<std::vector<TagSpec>>& tags,
                               std::optional<bool>& require_tag) {
  if (const auto* t = body.if_contains("available_tags")) {
    auto specs = tag_specs(*t);
    if (!specs) return std::move(specs).error();
    tags = std::move(*specs);
  }
  if (const auto* r = body.if_contains("require_tag")) {
    if (!r->is_bool()) return bad_input("invalid_field", "require_tag must be a boolean");
    require_tag = r->as_bool();
  }
  return ok();
}

// What a channel gives its new threads and a forum its readers, as creating and changing it take
// them (a null reaction is none).
Result<void> read_channel_defaults(const json::object& body, std::optional<std::int64_t>& auto_archive,
                                   std::optional<std::string>& sort_order, std::optional<std::string>& reaction) {
  if (const auto* a = body.if_contains("default_auto_archive_minutes")) {
    if (!a->is_int64()) return bad_input("invalid_field", "default_auto_archive_minutes is 60, 1440, 4320 or 10080");
    auto_archive = a->as_int64();
  }
  if (const auto* o = body.if_contains("default_sort_order")) {
    if (!o->is_string()) return bad_input("invalid_field", "default_sort_order is \"activity\" or \"created\"");
    sort_order = std::string(o->as_string());
  }
  if (const auto* e = body.if_contains("default_reaction_emoji")) {
    if (!e->is_string() && !e->is_null())
      return bad_input("invalid_field", "default_reaction_emoji is a string or null");
    reaction = e->is_string() ? std::string(e->as_string()) : std::string();
  }
  return ok();
}

Result<eth::Address> address_param(const Request& req, std::string_view name) {
  auto a = eth::parse_address(req.param(name));
  if (!a) return bad_input("invalid_address", std::string("not an address: ") + eth::to_string(a.error()));
  return *a;
}

// A page cursor that is an address (members, bans): lowercase hex, "" for the first page; 400
// invalid_cursor for anything else.
Result<std::string> address_cursor(const Request& req) {
  auto c = req.query_param("cursor");
  if (!c) return std::string();
  auto a = eth::parse_address(*c);
  if (!a) return bad_input("invalid_cursor", "cursor must come from next_cursor");
  return eth::to_lower_hex(*a);
}

// The next_cursor of such a page: the checksummed address, or null on the last page.
json::value address_next(const std::optional<std::string>& next) {
  if (!next) return nullptr;
  return json::string(eth::to_checksum(*eth::parse_address(*next)));
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

using SignedInHandler = net::PrincipalHandler<auth::Principal>;

// Registers `handle` behind the session check every community route starts with.
void add_signed_in(net::Router& router, auth::RequestAuth& auth, std::string_view method, std::string_view path,
                   SignedInHandler handle) {
  auto session = [&auth](const Request& req) { return auth.session(req); };
  router.add(method, path, net::authenticated<auth::Principal>(session, std::move(handle)));
}

// A use case of the service on one community or channel ({id}) for the caller.
template <class T>
using IdQuery = Task<Result<T>> (CommunityService::*)(const eth::Address& who, std::string id);

// Registers a route that answers `answer((service.*query)(caller, {id}))`.
template <class T, class Answer>
void add_id_query(net::Router& router, auth::RequestAuth& auth, std::string_view method, std::string_view path,
                  CommunityService& service, IdQuery<T> query, Answer answer) {
  add_signed_in(router, auth, method, path,
                [&service, query, answer](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto found = co_await (service.*query)(who.address, std::string(req.param("id")));
                  co_return answer(found);
                });
}

// What a route with a JSON object body does once its caller is known and the body parsed.
using JsonHandler =
    std::function<Task<Result<Response>>(const auth::Principal& who, const json::object& body, Request& req)>;

// Registers a route whose body must be a JSON object, behind the session check.
void add_signed_in_json(net::Router& router, auth::RequestAuth& auth, std::string_view method, std::string_view path,
                        JsonHandler handle) {
  add_signed_in(router, auth, method, path,
                [handle = std::move(handle)](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto body = net::parse_json_object(req);
                  if (!body) co_return body.error();
                  co_return co_await handle(who, *body, req);
                });
}

// What a route on one member ({address}) of a community ({id}) does.
using MemberAction = std::function<Task<Result<void>>(const eth::Address& who, std::string community_id,
                                                      const eth::Address& member, const Request& req)>;

// Registers a route on one member of a community, answered 204.
void add_member_action(net::Router& router, auth::RequestAuth& auth, std::string_view method, std::string_view path,
                       MemberAction act) {
  add_signed_in(router, auth, method, path,
                [act = std::move(act)](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto member = address_param(req, "address");
                  if (!member) co_return member.error();
                  auto done = co_await act(who.address, std::string(req.param("id")), *member, req);
                  co_return net::no_content(done);
                });
}

}  // namespace

void add_community_routes(net::Router& router, CommunityService& service, auth::RequestAuth& auth,
                          const CommunityLimits& limits) {
  auto join_limiter = std::make_shared<net::RateLimiter>(limits.join_per_account);

  add_signed_in_json(
      router, auth, "POST", "/v1/communities",
      [&service](const auth::Principal& who, const json::object& body, Request&) -> Task<Result<Response>> {
        auto name = string_field(body, "name", true);
        if (!name) co_return name.error();
        auto slug = string_field(body, "slug", true);
        if (!slug) co_return slug.error();
        auto gate = gate_field(body);
        if (!gate) co_return gate.error();
        NewCommunity spec;
        spec.name = std::move(*name);
        spec.slug = std::move(*slug);
        if (*gate) spec.gate = std::move(**gate);
        auto created = co_await service.create_community(who.address, std::move(spec));
        co_return net::rendered(created, render_community, 201);
      });

  add_signed_in(router, auth, "GET", "/v1/communities",
                [&service](const auth::Principal& who, Request&) -> Task<Result<Response>> {
                  auto list = co_await service.my_communities(who.address);
                  co_return net::rendered_list(list, "communities", render_community);
                });

  add_id_query(router, auth, "GET", "/v1/communities/{id}", service, &CommunityService::community,
               [](const auto& found) { return net::rendered(found, render_community); });

  add_signed_in_json(
      router, auth, "PATCH", "/v1/communities/{id}",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto name = optional_string_field(body, "name");
        if (!name) co_return name.error();
        auto gate = gate_field(body);
        if (!gate) co_return gate.error();
        // "system_channel": a channel id, or null for none.
        std::optional<std::string> system_channel;
        if (const auto* v = body.if_contains("system_channel")) {
          if (!v->is_null() && (!v->is_string() || v->as_string().empty())) {
            co_return bad_input("invalid_field", "system_channel is a channel id or null");
          }
          system_channel = v->is_null() ? std::string() : std::string(v->as_string());
        }
        auto c = co_await service.update_community(who.address, std::string(req.param("id")), std::move(*name),
                                                   std::move(*gate), std::move(system_channel));
        co_return net::rendered(c, render_community);
      });

  add_signed_in(router, auth, "POST", "/v1/communities/{id}/join",
                [&service, join_limiter](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  if (auto d = join_limiter->take(eth::to_lower_hex(who.address)); !d.allowed) {
                    co_return rate_limited("too many joins; slow down", d.retry_after);
                  }
                  auto c = co_await service.join(who.address, std::string(req.param("id")));
                  co_return net::rendered(c, render_community);
                });

  add_id_query(router, auth, "POST", "/v1/communities/{id}/leave", service, &CommunityService::leave,
               [](const auto& done) { return net::no_content(done); });

  add_signed_in(
      router, auth, "GET", "/v1/communities/{id}/members",
      [&service](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
        auto limit = limit_param(req);
        if (!limit) co_return limit.error();
        auto cursor = address_cursor(req);
        if (!cursor) co_return cursor.error();
        auto page = co_await service.members(who.address, std::string(req.param("id")), std::move(*cursor), *limit);
        if (!page) co_return page.error();
        json::array members;
        for (const auto& m : page->members) members.push_back(render_member(m));
        co_return net::json_response(
            200, json::object{{"members", std::move(members)}, {"next_cursor", address_next(page->next_cursor)}});
      });

  add_signed_in_json(
      router, auth, "PATCH", "/v1/communities/{id}/members/{address}",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto member = address_param(req, "address");
        if (!member) co_return member.error();
        const auto* nickname = body.if_contains("nickname");
        if (nickname == nullptr || body.size() != 1 || (!nickname->is_string() && !nickname->is_null())) {
          co_return bad_input("invalid_field", "a member changes its nickname: a string, or null for none");
        }
        auto text = nickname->is_null() ? std::string() : std::string(nickname->as_string());
        auto updated =
            co_await service.set_nickname(who.address, std::string(req.param("id")), *member, std::move(text));
        co_return net::rendered(updated, render_member);
      });

  add_member_action(router, auth, "POST", "/v1/communities/{id}/members/{address}/kick",
                    [&service](const eth::Address& who, std::string id, const eth::Address& member, const Request&) {
                      return service.kick(who, std::move(id), member);
                    });

  add_signed_in_json(
      router, auth, "PUT", "/v1/communities/{id}/members/{address}/timeout",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto member = address_param(req, "address");
        if (!member) co_return member.error();
        const auto* seconds = body.if_contains("seconds");
        if (seconds == nullptr || !seconds->is_int64())
          co_return bad_input("invalid_field", "seconds must be an integer");
        auto reason = string_field(body, "reason", false);
        if (!reason) co_return reason.error();
        auto until = co_await service.timeout(who.address, std::string(req.param("id")), *member,
                                              std::chrono::seconds(seconds->as_int64()), std::move(*reason));
        if (!until) co_return until.error();
        co_return net::json_response(
            200, json::object{{"address", eth::to_checksum(*member)}, {"timed_out_until", format_rfc3339(*until)}});
      });

  add_member_action(router, auth, "DELETE", "/v1/communities/{id}/members/{address}/timeout",
                    [&service](const eth::Address& who, std::string id, const eth::Address& member, const Request&) {
                      return service.lift_timeout(who, std::move(id), member);
                    });

  add_signed_in_json(
      router, auth, "POST", "/v1/communities/{id}/bans",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto address = string_field(body, "address", true);
        if (!address) co_return address.error();
        auto target = eth::parse_address(*address);
        if (!target) co_return bad_input("invalid_address", "address is not an address");
        auto reason = string_field(body, "reason", false);
        if (!reason) co_return reason.error();
        std::chrono::seconds purge{0};
        if (const auto* d = body.if_contains("delete_messages_seconds"); d != nullptr && !d->is_null()) {
          if (!d->is_int64()) co_return bad_input("invalid_field", "delete_messages_seconds must be an integer");
          purge = std::chrono::seconds(d->as_int64());
        }
        auto done = co_await service.ban(who.address, std::string(req.param("id")), *target, std::move(*reason), purge);
        co_return net::no_content(done);
      });

  add_signed_in(router, auth, "GET", "/v1/communities/{id}/bans",
                [&service](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto limit = limit_param(req);
                  if (!limit) co_return limit.error();
                  auto cursor = address_cursor(req);
                  if (!cursor) co_return cursor.error();
                  auto page =
                      co_await service.bans(who.address, std::string(req.param("id")), std::move(*cursor), *limit);
                  if (!page) co_return page.error();
                  json::array bans;
                  for (const auto& b : page->bans) {
                    bans.push_back(json::object{{"address", eth::to_checksum(b.account)},
                                                {"banned_by", eth::to_checksum(b.banned_by)},
                                                {"reason", b.reason},
                                                {"banned_at", format_rfc3339(b.banned_at)}});
                  }
                  co_return net::json_response(
                      200, json::object{{"bans", std::move(bans)}, {"next_cursor", address_next(page->next_cursor)}});
                });

  add_member_action(router, auth, "DELETE", "/v1/communities/{id}/bans/{address}",
                    [&service](const eth::Address& who, std::string id, const eth::Address& member, const Request&) {
                      return service.unban(who, std::move(id), member);
                    });

  add_signed_in(router, auth, "GET", "/v1/communities/{id}/audit-log",
                [&service](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  AuditFilter filter;
                  auto limit = limit_param(req);
                  if (!limit) co_return limit.error();
                  filter.limit = *limit;
                  if (auto before = req.query_param("before")) {
                    std::int64_t v = 0;
                    const auto* end = before->data() + before->size();
                    auto [p, ec] = std::from_chars(before->data(), end, v);
                    if (ec != std::errc() || p != end || v <= 0)
                      co_return bad_input("invalid_before", "before is an entry id");
                    filter.before_id = v;
                  }
                  if (auto action = req.query_param("action")) filter.action = std::string(*action);
                  if (auto actor = req.query_param("actor")) {
                    auto parsed = eth::parse_address(*actor);
                    if (!parsed) co_return bad_input("invalid_actor", "actor is not an address");
                    filter.actor = *parsed;
                  }
                  auto page = co_await service.audit_log(who.address, std::string(req.param("id")), std::move(filter));
                  if (!page) co_return page.error();
                  json::array entries;
                  for (const auto& e : page->entries) {
                    json::object o{{"id", e.id},
                                   {"action", e.action},
                                   {"actor", eth::to_checksum(e.actor)},
                                   {"details", json::parse(e.details)},
                                   {"created_at", format_rfc3339(e.at)}};
                    if (e.target) o["target"] = eth::to_checksum(*e.target);
                    if (e.channel_id) o["channel_id"] = *e.channel_id;
                    if (e.reason) o["reason"] = *e.reason;
                    entries.push_back(std::move(o));
                  }
                  json::object out{{"entries", std::move(entries)}};
                  out["next_before"] = page->next_before ? json::value(*page->next_before) : json::value(nullptr);
                  co_return net::json_response(200, std::move(out));
                });

  add_id_query(router, auth, "GET", "/v1/communities/{id}/automod/rules", service, &CommunityService::automod_rules,
               [](const auto& found) { return net::rendered_list(found, "rules", render_automod); });

  add_signed_in_json(
      router, auth, "POST", "/v1/communities/{id}/automod/rules",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto patch = parse_automod_patch(body);
        if (!patch) co_return patch.error();
        auto rule = co_await service.create_automod_rule(who.address, std::string(req.param("id")), std::move(*patch));
        co_return net::rendered(rule, render_automod, 201);
      });

  add_signed_in_json(
      router, auth, "PATCH", "/v1/communities/{id}/automod/rules/{rule}",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto patch = parse_automod_patch(body);
        if (!patch) co_return patch.error();
        auto rule = co_await service.update_automod_rule(who.address, std::string(req.param("id")),
                                                         std::string(req.param("rule")), std::move(*patch));
        co_return net::rendered(rule, render_automod);
      });

  add_signed_in(router, auth, "DELETE", "/v1/communities/{id}/automod/rules/{rule}",
                [&service](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto done = co_await service.delete_automod_rule(who.address, std::string(req.param("id")),
                                                                   std::string(req.param("rule")));
                  co_return net::no_content(done);
                });

  add_id_query(router, auth, "GET", "/v1/communities/{id}/roles", service, &CommunityService::roles,
               [](const auto& found) { return net::rendered_list(found, "roles", render_role); });

  add_signed_in_json(
      router, auth, "POST", "/v1/communities/{id}/roles",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto name = string_field(body, "name", true);
        if (!name) co_return name.error();
        auto permissions = permission_set(body);
        if (!permissions) co_return permissions.error();
        auto gate = gate_field(body);
        if (!gate) co_return gate.error();
        auto details = role_details(body);
        if (!details) co_return details.error();
        std::optional<GateNode> role_gate;
        if (*gate) role_gate = std::move(**gate);
        auto role = co_await service.create_role(who.address, std::string(req.param("id")), std::move(*name),
                                                 *permissions, std::move(role_gate), *details);
        co_return net::rendered(role, render_role, 201);
      });

  add_signed_in_json(
      router, auth, "PATCH", "/v1/communities/{id}/roles/{role}",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        static constexpr std::array<std::string_view, 7> fields{"name",        "permissions", "gate", "rank",
                                                                "mentionable", "color",       "hoist"};
        for (const auto& [key, value] : body) {
          if (std::find(fields.begin(), fields.end(), std::string_view(key)) == fields.end()) {
            co_return bad_input("invalid_field",
                                "a role changes its name, permissions, gate, rank, mentionable, color and hoist only");
          }
        }
        RoleChange change;
        if (body.contains("name")) {
          auto name = string_field(body, "name", true);
          if (!name) co_return name.error();
          change.name = std::move(*name);
        }
        if (body.contains("permissions")) {
          auto set = permission_set(body);
          if (!set) co_return set.error();
          change.permissions = *set;
        }
        auto gate = gate_field(body);
        if (!gate) co_return gate.error();
        change.gate = std::move(*gate);
        auto details = role_details(body);
        if (!details) co_return details.error();
        change.details = *details;
        auto role = co_await service.update_role(who.address, std::string(req.param("id")),
                                                 std::string(req.param("role")), std::move(change));
        co_return net::rendered(role, render_role);
      });

  add_signed_in(router, auth, "DELETE", "/v1/communities/{id}/roles/{role}",
                [&service](const auth::Principal& who, Request& req) -> Task<Result<Response>> {
                  auto done = co_await service.delete_role(who.address, std::string(req.param("id")),
                                                           std::string(req.param("role")));
                  co_return net::no_content(done);
                });

  add_member_action(
      router, auth, "PUT", "/v1/communities/{id}/members/{address}/roles/{role}",
      [&service](const eth::Address& who, std::string id, const eth::Address& member, const Request& req) {
        return service.assign_role(who, std::move(id), member, std::string(req.param("role")));
      });

  add_member_action(
      router, auth, "DELETE", "/v1/communities/{id}/members/{address}/roles/{role}",
      [&service](const eth::Address& who, std::string id, const eth::Address& member, const Request& req) {
        return service.unassign_role(who, std::move(id), member, std::string(req.param("role")));
      });

  add_signed_in_json(
      router, auth, "POST", "/v1/communities/{id}/channels",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        auto name = string_field(body, "name", true);
        if (!name) co_return name.error();
        auto gate = gate_field(body);
        if (!gate) co_return gate.error();
        auto roles = string_list(body, "roles");
        if (!roles) co_return roles.error();
        NewChannel spec;
        spec.name = std::move(*name);
        if (*gate) spec.gate = std::move(**gate);
        spec.roles = std::move(*roles);
        std::optional<std::string> topic;
        std::optional<std::int64_t> position;
        std::optional<std::vector<std::string>> post_roles;
        if (auto r = read_channel_details(body, topic, position, post_roles); !r) co_return r.error();
        if (topic) spec.topic = std::move(*topic);
        if (position) spec.position = *position;
        if (post_roles) spec.post_roles = std::move(*post_roles);
        if (const auto* type = body.if_contains("type")) {
          if (!type->is_string()) {
            co_return bad_input("invalid_field", "type is \"text\", \"forum\" or \"category\"");
          }
          auto parsed = parse_channel_type(type->as_string());
          if (!parsed) co_return parsed.error();
          spec.type = *parsed;
        }
        std::optional<std::vector<TagSpec>> tags;
        std::optional<bool> require_tag;
        if (auto r = read_forum_fields(body, tags, require_tag); !r) co_return r.error();
        if (tags) spec.tags = std::move(*tags);
        if (require_tag) spec.require_tag = *require_tag;
        std::optional<std::int64_t> auto_archive;
        std::optional<std::string> sort_order;
        std::optional<std::string> reaction;
        if (auto r = read_channel_defaults(body, auto_archive, sort_order, reaction); !r) co_return r.error();
        if (auto_archive) spec.defaults.auto_archive_minutes = *auto_archive;
        if (sort_order) spec.defaults.sort_order = std::move(*sort_order);
        if (reaction) spec.defaults.reaction_emoji = std::move(*reaction);
        std::optional<std::string> parent;
        if (auto r = read_parent(body, parent); !r) co_return r.error();
        if (parent) spec.parent_id = std::move(*parent);
        auto ch = co_await service.create_channel(who.address, std::string(req.param("id")), std::move(spec));
        co_return net::rendered(ch, render_channel, 201);
      });

  add_id_query(router, auth, "GET", "/v1/communities/{id}/channels", service, &CommunityService::channels,
               [](const auto& found) { return net::rendered_list(found, "channels", render_channel); });

  add_signed_in(router, auth, "GET", "/v1/channels",
                [&service](const auth::Principal& who, Request&) -> Task<Result<Response>> {
                  auto ids = co_await service.readable_channels(who.address);
                  co_return net::rendered(ids, [](const std::vector<std::string>& found) {
                    return json::object{{"channel_ids", strings(found)}};
                  });
                });

  add_id_query(router, auth, "GET", "/v1/channels/{id}", service, &CommunityService::channel,
               [](const auto& found) { return net::rendered(found, render_channel); });

  add_signed_in_json(
      router, auth, "PATCH", "/v1/channels/{id}",
      [&service](const auth::Principal& who, const json::object& body, Request& req) -> Task<Result<Response>> {
        ChannelUpdate update;
        auto name = optional_string_field(body, "name");
        if (!name) co_return name.error();
        update.name = std::move(*name);
        auto gate = gate_field(body);
        if (!gate) co_return gate.error();
        update.gate = std::move(*gate);
        if (body.contains("roles")) {
          auto roles = string_list(body, "roles");
          if (!roles) co_return roles.error();
          update.roles = std::move(*roles);
        }
        if (const auto* a = body.if_contains("archived")) {
          if (!a->is_bool()) co_return bad_input("invalid_field", "archived must be a boolean");
          update.archived = a->as_bool();
        }
        if (const auto* slow = body.if_contains("slow_mode_seconds")) {
          if (!slow->is_int64()) co_return bad_input("invalid_field", "slow_mode_seconds must be an integer");
          update.slow_mode_seconds = slow->as_int64();
        }
        if (auto r = read_channel_details(body, update.topic, update.position, update.post_roles); !r) {
          co_return r.error();
        }
        if (body.contains("type")) co_return bad_input("invalid_field", "a channel's type is fixed at its creation");
        if (auto r = read_forum_fields(body, update.tags, update.require_tag); !r) co_return r.error();
        if (auto r = read_channel_defaults(body, update.default_auto_archive_minutes, update.default_sort_order,
                                           update.default_reaction_emoji);
            !r) {
          co_return r.error();
        }
        if (auto r = read_parent(body, update.parent_id); !r) co_return r.error();
        auto ch = co_await service.update_channel(who.address, std::string(req.param("id")), std::move(update));
        co_return net::rendered(ch, render_channel);
      });
}

}  // namespace gh::community
