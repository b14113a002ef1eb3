#include "auth/module.hpp"

#include "auth/migrations.hpp"
#include "auth/service.hpp"

namespace gh::auth {
namespace {

// The objects of a running auth context, alive for the process's lifetime.
struct AuthRuntime {
  AuthModuleSettings settings;
  std::unique_ptr<ChainSignatureVerifier> verifier;
  std::unique_ptr<AuthService> service;
  std::unique_ptr<RequestAuth> request_auth;
};

}  // namespace

context::ContextModule make_module(AuthModuleSettings settings) {
  auto runtime = context::make_runtime<AuthRuntime>(std::move(settings));
  context::ContextModule m("auth", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    runtime->verifier = std::make_unique<ChainSignatureVerifier>(env.chain);
    runtime->service = std::make_unique<AuthService>(env.db, env.pool, env.clock, runtime->settings.auth,
                                                     *runtime->verifier, env.events_published);
    runtime->request_auth = std::make_unique<RequestAuth>(*runtime->service);
    env.services.provide(*runtime->service);
    env.services.provide(*runtime->request_auth);
  };
  m.jobs = [runtime] {
    std::vector<context::Job> jobs;
    jobs.push_back({"auth.nonces_purge", "*/10 * * * *", "deletes sign-in nonces that are used or expired",
                    [runtime]() -> Task<Result<void>> {
                      auto purged = co_await runtime->service->purge_nonces();
                      if (!purged) co_return purged.error();
                      co_return ok();
                    }});
    jobs.push_back({"auth.sessions_purge", "17 3 * * *",
                    "deletes sessions expired or revoked longer than the session retention ago",
                    [runtime]() -> Task<Result<void>> {
                      auto purged = co_await runtime->service->purge_sessions();
                      if (!purged) co_return purged.error();
                      co_return ok();
                    }});
    return jobs;
  };
  m.routes = [runtime](net::Router& router) {
    add_auth_routes(router, *runtime->service, *runtime->request_auth, runtime->settings.sign_in,
                    runtime->settings.key_fetch);
  };
  return m;
}

}  // namespace gh::auth
