#include "notify/routes.hpp"

#include <boost/json/parse.hpp>

#include "net/json.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;
using net::Response;

Result<std::size_t> parse_limit(const net::Request& req) {
  auto text = req.query_param("limit");
  if (!text) return default_page;
  std::size_t v = 0;
  if (text->empty() || text->size() > 4 || text->find_first_not_of("0123456789") != std::string_view::npos)
    return bad_input("invalid_limit", "limit is between 1 and 100");
  for (char c : *text) v = v * 10 + static_cast<std::size_t>(c - '0');
  if (v == 0 || v > max_page) return bad_input("invalid_limit", "limit is between 1 and 100");
  return v;
}

}  // namespace

json::object render_notification(const Notification& n) {
  json::value data;
  boost::system::error_code ec;
  data = json::parse(n.data_json, ec);
  if (ec || !data.is_object()) data = json::object{};
  json::value read_at = nullptr;
  if (n.read_at) read_at = format_rfc3339(*n.read_at);
  json::value community = nullptr;
  if (!n.community_id.empty()) community = n.community_id;
  json::value channel = nullptr;
  if (!n.channel_id.empty()) channel = n.channel_id;
  return {{"id", n.id},
          {"kind", to_string(n.kind)},
          {"title", n.title},
          {"body", n.body},
          {"data", std::move(data)},
          {"community_id", std::move(community)},
          {"channel_id", std::move(channel)},
          {"created_at", format_rfc3339(n.created_at)},
          {"read", n.read_at.has_value()},
          {"read_at", std::move(read_at)}};
}

void add_notify_routes(net::Router& router, NotifyService& service, auth::RequestAuth& auth) {
  router.add("GET", "/v1/notifications", [&service, &auth](net::Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto limit = parse_limit(req);
    if (!limit) co_return limit.error();
    std::optional<std::string> cursor;
    if (auto c = req.query_param("cursor")) cursor = std::string(*c);
    if (auto a = req.query_param("after")) cursor = std::string(*a);
    auto filter =
        parse_list_filter(req.query_param("kind"), req.query_param("community_id"), req.query_param("unread"));
    if (!filter) co_return filter.error();
    auto page = co_await service.list(who->address, std::move(cursor), *limit, std::move(*filter));
    if (!page) co_return page.error();
    json::array items;
    for (const auto& n : page->items) items.push_back(render_notification(n));
    json::value next = nullptr;
    if (page->next_cursor) next = *page->next_cursor;
    co_return net::json_response(
        200, json::object{{"notifications", std::move(items)}, {"next_cursor", next}, {"unread_count", page->unread}});
  });

  router.add("GET", "/v1/notifications/unread-count", [&service, &auth](net::Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto n = co_await service.unread_count(who->address);
    if (!n) co_return n.error();
    co_return net::json_response(200, json::object{{"unread_count", *n}});
  });

  router.add("POST", "/v1/notifications/read", [&service, &auth](net::Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    std::vector<std::string> ids;
    bool all = false;
    if (const auto* a = body->if_contains("all")) {
      if (!a->is_bool()) co_return bad_input("invalid_field", "all must be true or false");
      all = a->as_bool();
    }
    if (const auto* list = body->if_contains("ids")) {
      if (!list->is_array()) co_return bad_input("invalid_field", "ids must be an array of notification ids");
      for (const auto& id : list->as_array()) {
        if (!id.is_string() || id.as_string().size() > 64)
          co_return bad_input("invalid_field", "ids must be an array of notification ids");
        ids.emplace_back(id.as_string());
      }
    }
    auto unread = co_await service.mark_read(who->address, std::move(ids), all);
    if (!unread) co_return unread.error();
    co_return net::json_response(200, json::object{{"unread_count", *unread}});
  });

  router.add("GET", "/v1/notification-settings", [&service, &auth](net::Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto s = co_await service.settings(who->address);
    if (!s) co_return s.error();
    co_return net::json_response(200, render_settings(*s));
  });

  router.add("PUT", "/v1/notification-settings", [&service, &auth](net::Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto s = co_await service.update_settings(who->address, std::move(*body));
    if (!s) co_return s.error();
    co_return net::json_response(200, render_settings(*s));
  });
}

}  // namespace gh::notify
