#include "realtime/routes.hpp"

#include <algorithm>

namespace gh::realtime {

void add_realtime_routes(net::Router& router, Gateway& gateway, auth::AuthService& auth) {
  router.add_websocket(
      "/v1/ws", [&gateway, &auth](net::Request& request) -> Task<Result<std::shared_ptr<net::WebSocketSession>>> {
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
        std::string status;
        if (auto asked = request.query_param("status")) {
          if (!valid_status(*asked)) {
            co_return bad_input("invalid_status", "status is online, idle, dnd or invisible");
          }
          status = std::string(*asked);
        }
        Gateway::Identity who{principal->address, principal->session_id};
        co_return gateway.open_session(std::move(who), std::move(device_id), std::move(token), std::move(status));
      });
}

}  // namespace gh::realtime
