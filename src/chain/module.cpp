#include "chain/module.hpp"

#include "chain/migrations.hpp"
#include "chain/routes.hpp"
#include "chain/service.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::chain {
namespace {

// The objects of a running chain context, alive for the process's lifetime.
struct ChainRuntime {
  ChainModuleSettings settings;
  std::unique_ptr<ChainService> service;
  std::map<std::uint64_t, std::unique_ptr<Poller>> pollers;
  std::map<std::uint64_t, rpc::RpcClient*> clients;
};

// Per chain and provider endpoint, read from the RPC clients at scrape time: HTTP attempts,
// failed attempts (each retried or failed over), and whether the endpoint is in use.
void add_rpc_metrics(metrics::Registry& registry, const std::shared_ptr<ChainRuntime>& runtime) {
  using Field = std::uint64_t rpc::EndpointStatus::*;
  // The registry outlives the I/O runtime and the contexts: its callbacks hold the context weakly,
  // so that the pollers (and their timers) go with the contexts, before the I/O runtime.
  std::weak_ptr<ChainRuntime> weak = runtime;
  auto family = [weak](Field field) {
    return [weak, field] {
      std::vector<metrics::Sample> out;
      auto alive = weak.lock();
      if (!alive) return out;
      for (const auto& entry : alive->clients) {
        for (const auto& e : entry.second->endpoints()) {
          out.push_back({{{"chain", std::to_string(entry.first)}, {"endpoint", e.url}}, static_cast<double>(e.*field)});
        }
      }
      return out;
    };
  };
  registry.callback("gatehouse_chain_rpc_requests_total", "JSON-RPC HTTP attempts of the indexer's chains.", true,
                    family(&rpc::EndpointStatus::requests));
  registry.callback("gatehouse_chain_rpc_failures_total",
                    "JSON-RPC HTTP attempts that failed (then retried or failed over).", true,
                    family(&rpc::EndpointStatus::failures));
  registry.callback(
      "gatehouse_chain_rpc_endpoint_up", "1 while a provider endpoint is in use, 0 while marked down.", false, [weak] {
        std::vector<metrics::Sample> out;
        auto alive = weak.lock();
        if (!alive) return out;
        for (const auto& entry : alive->clients) {
          for (const auto& e : entry.second->endpoints()) {
            out.push_back({{{"chain", std::to_string(entry.first)}, {"endpoint", e.url}}, e.up ? 1.0 : 0.0});
          }
        }
        return out;
      });
}

}  // namespace

context::ContextModule make_module(ChainModuleSettings settings) {
  auto runtime = context::make_runtime<ChainRuntime>(std::move(settings));
  context::ContextModule m("chain", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    runtime->service = std::make_unique<ChainService>(env.db, env.pool, env.clock);
    std::map<std::uint64_t, IndexedChain> indexed;
    for (const auto& entry : runtime->settings.chains) {
      IndexedChain c;
      c.confirmations = entry.second.confirmations;
      c.start_block = entry.second.start_block;
      c.pipelines = entry.second.pipelines;
      for (auto p : entry.second.pipelines) {
        auto listed = entry.second.contracts.find(p);
        if (listed == entry.second.contracts.end()) {
          c.follow_all.insert(p);
          continue;
        }
        auto& set = c.configured[p];
        for (const auto& a : listed->second) set.insert(eth::to_lower_hex(a));
      }
      indexed.emplace(entry.first, std::move(c));
    }
    // Pollers are created below; the callback finds them at call time.
    std::weak_ptr<ChainRuntime> weak = runtime;
    runtime->service->configure(std::move(indexed), [weak](std::uint64_t chain_id) {
      auto alive = weak.lock();
      if (!alive) return;
      auto it = alive->pollers.find(chain_id);
      if (it != alive->pollers.end()) it->second->wake();
    });
    env.services.provide(*runtime->service);
    for (const auto& entry : runtime->settings.chains) {
      rpc::RpcClient* client = env.chain ? env.chain(entry.first) : nullptr;
      if (client == nullptr) {
        log::warn("chain not indexed: no JSON-RPC client", {{"chain", std::to_string(entry.first)}});
        continue;
      }
      runtime->clients.emplace(entry.first, client);
      auto poller =
          std::make_unique<Poller>(env.executor, *client, env.db, env.pool, env.clock, env.registry, entry.second);
      if (runtime->settings.run_indexer) poller->start();
      runtime->pollers.emplace(entry.first, std::move(poller));
    }
    add_rpc_metrics(env.registry, runtime);
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
