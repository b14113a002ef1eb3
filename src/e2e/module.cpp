#include "e2e/module.hpp"

#include "auth/routes.hpp"
#include "auth/service.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "e2e/migrations.hpp"
#include "e2e/service.hpp"
#include "realtime/gateway.hpp"

namespace gh::e2e {
namespace {

// The objects of a running e2e context, alive for the process's lifetime.
struct E2eRuntime {
  E2eModuleSettings settings;
  std::unique_ptr<E2eService> service;
  auth::RequestAuth* request_auth = nullptr;
};

}  // namespace

context::ContextModule make_module(E2eModuleSettings settings) {
  auto runtime = context::make_runtime<E2eRuntime>(std::move(settings));
  context::ContextModule m("e2e", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    auto* auth_service = env.services.find<auth::AuthService>();
    runtime->request_auth = env.services.find<auth::RequestAuth>();
    if (auth_service == nullptr || runtime->request_auth == nullptr) {
      // Without accounts and devices there is no one to deliver to: the context stays off.
      log::warn("e2e: no auth service; end-to-end messaging is off", {});
      return;
    }
    // Live frames go through this node's gateway when there is one; reads over HTTP work without.
    auto* gateway = env.services.find<realtime::Gateway>();
    runtime->service = std::make_unique<E2eService>(env.db, env.pool, env.clock, runtime->settings.e2e, *auth_service,
                                                    env.events_published, gateway);
    if (gateway) gateway->add_topic_kind(std::string(group_topic), runtime->service->topic_source());
    env.services.provide(*runtime->service);
  };
  m.consumers = [runtime] {
    std::vector<bus::Consumer> out;
    if (runtime->service) out.push_back(runtime->service->device_consumer());
    return out;
  };
  m.jobs = [runtime] {
    std::vector<context::Job> out;
    if (!runtime->service) return out;
    out.push_back({"e2e.purge", runtime->settings.purge_schedule,
                   "deletes E2E ciphertext and welcomes past the retention (--e2e-retention-days)",
                   [runtime]() -> Task<Result<void>> {
                     auto gone = co_await runtime->service->purge();
                     if (!gone) co_return std::move(gone).error();
                     if (*gone > 0) log::info("e2e: purged expired ciphertext", {{"rows", *gone}});
                     co_return ok();
                   }});
    return out;
  };
  m.routes = [runtime](net::Router& router) {
    if (runtime->service) add_e2e_routes(router, *runtime->service, *runtime->request_auth, runtime->settings.limits);
  };
  return m;
}

}  // namespace gh::e2e
