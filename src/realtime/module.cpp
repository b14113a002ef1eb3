#include "realtime/module.hpp"

#include <boost/json/parse.hpp>

#include "auth/service.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "realtime/migrations.hpp"
#include "realtime/routes.hpp"

namespace gh::realtime {
namespace {

struct RealtimeRuntime {
  GatewaySettings settings;
  auth::AuthService* auth = nullptr;
  auth::RequestAuth* request_auth = nullptr;
  std::unique_ptr<PresenceService> presence;
  std::unique_ptr<Gateway> gateway;
};

// The string `field` of an event's JSON payload; nothing when the payload or the field is not one.
std::optional<std::string> payload_string(const bus::Event& event, std::string_view field) {
  boost::system::error_code ec;
  auto value = boost::json::parse(event.payload, ec);
  if (ec || !value.is_object()) return std::nullopt;
  const auto* found = value.as_object().if_contains(field);
  if (!found || !found->is_string()) return std::nullopt;
  return std::string(found->as_string());
}

}  // namespace

context::ContextModule make_module(GatewaySettings settings) {
  auto runtime = context::make_runtime<RealtimeRuntime>(settings);
  context::ContextModule m("realtime", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    runtime->auth = env.services.find<auth::AuthService>();
    runtime->request_auth = env.services.find<auth::RequestAuth>();
    runtime->presence = std::make_unique<PresenceService>(env.db, env.pool, env.clock, PresenceSettings{});
    auto* auth = runtime->auth;
    Gateway::Authenticate authenticate = [auth](std::string token) -> Task<Result<Gateway::Identity>> {
      if (!auth) co_return make_error(ErrorKind::unavailable, "auth_unavailable", "sign-in is not available");
      auto principal = co_await auth->authenticate(token);
      if (!principal) co_return principal.error();
      co_return Gateway::Identity{principal->address, principal->session_id};
    };
    runtime->gateway =
        std::make_unique<Gateway>(env.executor, runtime->settings, std::move(authenticate), runtime->presence.get());
    env.services.provide(*runtime->gateway);
    env.services.provide(*runtime->presence);
  };
  // A revoked session's sockets close at once on this node (every node runs this consumer under
  // its own name once the bus fans out across nodes).
  m.consumers = [runtime]() {
    std::vector<bus::Consumer> out;
    out.push_back(
        {"realtime.session_revoked", {"auth.session_revoked"}, [runtime](store::Tx&, const bus::Event& event) {
           auto session = payload_string(event, "session_id");
           if (session && runtime->gateway) runtime->gateway->close_session(*session);
         }});
    // A removed device reads nothing more: its sockets close on the event that removes it.
    out.push_back({"realtime.device_removed", {"auth.device_removed"}, [runtime](store::Tx&, const bus::Event& event) {
                     auto device = payload_string(event, "device_id");
                     if (device && runtime->gateway) runtime->gateway->close_device(*device);
                   }});
    return out;
  };
  m.routes = [runtime](net::Router& router) {
    if (!runtime->auth || !runtime->request_auth) {
      log::warn("realtime: no auth service; /v1/ws is not served", {});
      return;
    }
    add_realtime_routes(router, *runtime->gateway, *runtime->presence, *runtime->auth, *runtime->request_auth);
  };
  return m;
}

}  // namespace gh::realtime
