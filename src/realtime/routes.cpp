#include "realtime/routes.hpp"

#include <algorithm>
#include <optional>

#include "net/json.hpp"

namespace gh::realtime {

void add_realtime_routes(net::Router& router, Gateway& gateway, PresenceService& presence, auth::AuthService& auth,
                         auth::RequestAuth& request_auth) {
  router.add_websocket(
      "/v1/ws",
      [&gateway, &presence, &auth](net::Request& request) -> Task<Result<std::shared_ptr<net::WebSocketSession>>> {
        std::string token;
        if (auto header = request.header("authorization")) {
          constexpr std::string_view bearer = "Bearer ";
          if (header->size() <= bearer.size() || header->substr(0, bearer.size()) != bearer) {
            co_return make_error(ErrorKind::unauthorized, "unauthenticated",
                                 "the Authorization header must be 'Bearer <token>'");
          }
          token = std::string(header->substr(bearer.size()));
        } else if (auto query = request.query_param("token")) {
          token = std::string(*query);
        } else {
          co_return make_error(ErrorKind::unauthorized, "unauthenticated",
                               "sign in first: Authorization: Bearer <token> or ?token=<token>");
        }
        auto principal = co_await auth.authenticate(token);
        if (!principal) co_return principal.error();
        std::string device_id;
        if (auto device = request.query_param("device_id")) {
          device_id = std::string(*device);
          auto me = co_await auth.me(*principal);
          if (!me) co_return me.error();
          const bool owned = std::any_of(me->devices.begin(), me->devices.end(),
                                         [&](const auth::DeviceInfo& d) { return d.id == device_id; });
          if (!owned) co_return make_error(ErrorKind::forbidden, "unknown_device", "no such device of this account");
        }
        if (!gateway.may_open(principal->address)) {
          co_return make_error(ErrorKind::rate_limited, "too_many_sockets",
                               "this account holds as many WebSockets as this server allows; close one first");
        }
        // The status asked for at the upgrade is the account's choice from now on, as one set
        // on a socket; without one, the socket shows what the account chose last.
        std::optional<Result<Presence>> shown;
        const bool chosen = request.query_param("status").has_value();
        if (auto asked = request.query_param("status")) {
          if (!valid_status(*asked)) {
            co_return bad_input("invalid_status", "status is online, idle, dnd or invisible");
          }
          PresenceChange change;
          change.status = std::string(*asked);
          shown = co_await presence.change(principal->address, std::move(change));
        } else {
          shown = co_await presence.presence(principal->address);
        }
        if (!*shown) co_return shown->error();
        Gateway::Identity who{principal->address, principal->session_id};
        co_return gateway.open_session(std::move(who), std::move(device_id), std::move(token), std::move(**shown),
                                       chosen);
      });

  router.add("GET", "/v1/me/presence", [&presence, &request_auth](net::Request& req) -> Task<Result<net::Response>> {
    auto who = co_await request_auth.session(req);
    if (!who) co_return who.error();
    auto found = co_await presence.presence(who->address);
    if (!found) co_return found.error();
    co_return net::json_response(200, render_presence(*found));
  });

  router.add("PUT", "/v1/me/presence",
             [&gateway, &presence, &request_auth](net::Request& req) -> Task<Result<net::Response>> {
               auto who = co_await request_auth.session(req);
               if (!who) co_return who.error();
               auto body = net::parse_json_object(req);
               if (!body) co_return body.error();
               auto change = parse_presence_change(*body, presence.clock().now());
               if (!change) co_return change.error();
               auto stored = co_await presence.change(who->address, std::move(*change));
               if (!stored) co_return stored.error();
               gateway.show_presence(who->address, *stored);
               co_return net::json_response(200, render_presence(*stored));
             });
}

}  // namespace gh::realtime
