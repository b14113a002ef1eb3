#include "chain/module.hpp"

#include "chain/migrations.hpp"
#include "chain/routes.hpp"
#include "chain/service.hpp"
#include "core/log.hpp"

namespace gh::chain {
namespace {

// The objects of a running chain context, alive for the process's lifetime.
struct ChainRuntime {
  ChainModuleSettings settings;
  std::unique_ptr<ChainService> service;
  std::map<std::uint64_t, std::unique_ptr<Poller>> pollers;
};

}  // namespace

context::ContextModule make_module(ChainModuleSettings settings) {
  auto runtime = std::make_shared<ChainRuntime>();
  runtime->settings = std::move(settings);
  context::ContextModule m;
  m.name = "chain";
  m.migrations = {migrations()};
  m.start = [runtime](context::ContextEnv& env) {
    runtime->service = std::make_unique<ChainService>(env.db, env.pool, env.clock);
    env.services.provide(*runtime->service);
    for (const auto& entry : runtime->settings.chains) {
      rpc::RpcClient* client = env.chain ? env.chain(entry.first) : nullptr;
      if (client == nullptr) {
        log::warn("chain not indexed: no JSON-RPC client", {{"chain", std::to_string(entry.first)}});
        continue;
      }
      auto poller =
          std::make_unique<Poller>(env.executor, *client, env.db, env.pool, env.clock, env.registry, entry.second);
      if (runtime->settings.run_indexer) poller->start();
      runtime->pollers.emplace(entry.first, std::move(poller));
    }
  };
  m.routes = [runtime](net::Router& router) {
    ChainRoutesSettings routes;
    routes.alchemy_signing_key = runtime->settings.alchemy_signing_key;
    for (const auto& entry : runtime->settings.chains) routes.chains.insert(entry.first);
    routes.wake = [runtime](std::uint64_t chain_id) {
      auto it = runtime->pollers.find(chain_id);
      if (it != runtime->pollers.end()) it->second->wake();
    };
    add_chain_routes(router, *runtime->service, std::move(routes));
  };
  return m;
}

}  // namespace gh::chain
