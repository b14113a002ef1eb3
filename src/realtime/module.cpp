#include "realtime/module.hpp"

#include <boost/json/parse.hpp>

#include "auth/service.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "realtime/routes.hpp"

namespace gh::realtime {
namespace {

struct RealtimeRuntime {
  GatewaySettings settings;
  auth::AuthService* auth = nullptr;
  std::unique_ptr<Gateway> gateway;
};

}  // namespace

context::ContextModule make_module(GatewaySettings settings) {
  auto runtime = std::make_shared<RealtimeRuntime>();
  runtime->settings = settings;
  context::ContextModule m;
  m.name = "realtime";
  m.start = [runtime](context::ContextEnv& env) {
    runtime->auth = env.services.find<auth::AuthService>();
    auto* auth = runtime->auth;
    Gateway::Authenticate authenticate = [auth](std::string token) -> Task<Result<Gateway::Identity>> {
      if (!auth) co_return make_error(ErrorKind::unavailable, "auth_unavailable", "sign-in is not available");
      auto principal = co_await auth->authenticate(token);
      if (!principal) co_return principal.error();
      co_return Gateway::Identity{principal->address, principal->session_id};
    };
    runtime->gateway = std::make_unique<Gateway>(env.executor, runtime->settings, std::move(authenticate));
    env.services.provide(*runtime->gateway);
  };
  // A revoked session's sockets close at once on this node (every node runs this consumer under
  // its own name once the bus fans out across nodes).
  m.consumers = [runtime]() {
    std::vector<bus::Consumer> out;
    bus::Consumer c;
    c.name = "realtime.session_revoked";
    c.topics = {"auth.session_revoked"};
    c.apply = [runtime](store::Tx&, const bus::Event& event) {
      boost::system::error_code ec;
      auto value = boost::json::parse(event.payload, ec);
      if (ec || !value.is_object()) return;
      const auto* id = value.as_object().if_contains("session_id");
      if (!id || !id->is_string() || !runtime->gateway) return;
      runtime->gateway->close_session(std::string(id->as_string()));
    };
    out.push_back(std::move(c));
    // A removed device reads nothing more: its sockets close on the event that removes it.
    bus::Consumer d;
    d.name = "realtime.device_removed";
    d.topics = {"auth.device_removed"};
    d.apply = [runtime](store::Tx&, const bus::Event& event) {
      boost::system::error_code ec;
      auto value = boost::json::parse(event.payload, ec);
      if (ec || !value.is_object()) return;
      const auto* id = value.as_object().if_contains("device_id");
      if (!id || !id->is_string() || !runtime->gateway) return;
      runtime->gateway->close_device(std::string(id->as_string()));
    };
    out.push_back(std::move(d));
    return out;
  };
  m.routes = [runtime](net::Router& router) {
    if (!runtime->auth) {
      log::warn("realtime: no auth service; /v1/ws is not served", {});
      return;
    }
    add_realtime_routes(router, *runtime->gateway, *runtime->auth);
  };
  return m;
}

}  // namespace gh::realtime
