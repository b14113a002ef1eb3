#include "community/module.hpp"

#include "auth/routes.hpp"
#include "bus/bus.hpp"
#include "chain/service.hpp"
#include "community/holdings.hpp"
#include "community/migrations.hpp"
#include "community/reevaluator.hpp"
#include "community/routes.hpp"
#include "community/service.hpp"
#include "core/log.hpp"

namespace gh::community {
namespace {

// The objects of a running community context, alive for the process's lifetime.
struct CommunityRuntime {
  CommunityModuleSettings settings;
  const Clock* clock = nullptr;
  std::unique_ptr<ChainHoldings> chain_holdings;
  std::unique_ptr<IndexedHoldings> indexed_holdings;
  std::unique_ptr<CommunityService> service;
  std::unique_ptr<Reevaluator> reevaluator;
  auth::RequestAuth* request_auth = nullptr;
};

}  // namespace

context::ContextModule make_module(CommunityModuleSettings settings) {
  auto runtime = context::make_runtime<CommunityRuntime>(settings);
  context::ContextModule m("community", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    runtime->clock = &env.clock;
    runtime->chain_holdings = std::make_unique<ChainHoldings>(env.chain);
    // Joins read the chain itself. With the chain context, the indexer follows gated contracts,
    // and re-evaluations (triggered by its events) read its projection where it is caught up.
    HoldingsSource* reevaluation = nullptr;
    if (auto* chain = env.services.find<chain::ChainService>()) {
      runtime->indexed_holdings = std::make_unique<IndexedHoldings>(*chain, *runtime->chain_holdings);
      reevaluation = runtime->indexed_holdings.get();
    }
    runtime->service = std::make_unique<CommunityService>(env.db, env.pool, env.clock, *runtime->chain_holdings,
                                                          env.events_published, CommunitySettings{}, reevaluation);
    runtime->request_auth = env.services.find<auth::RequestAuth>();
    env.services.provide(*runtime->service);
    runtime->reevaluator =
        std::make_unique<Reevaluator>(env.executor, *runtime->service, runtime->settings.reevaluator_idle_poll);
    runtime->service->set_on_queued([reevaluator = runtime->reevaluator.get()] { reevaluator->wake(); });
    if (runtime->settings.run_reevaluator) runtime->reevaluator->start();
  };
  m.consumers = [runtime]() {
    std::vector<bus::Consumer> out;
    // A gate edited or a join deferred, on this node or another: the re-evaluator here wakes.
    if (runtime->reevaluator) out.push_back(runtime->reevaluator->consumer());
    out.push_back({"community.chain_gates",
                   {"chain.transfer", "chain.stake", "chain.reverted"},
                   [runtime](store::Tx& tx, const bus::Event& event) {
                     CommunityService::queue_for_chain_event(tx, event, unix_millis(runtime->clock->now()));
                   },
                   &CommunityService::keep_gated_chain_events,
                   // The re-evaluator reads the queue once what the events queued is committed.
                   [runtime] {
                     if (runtime->reevaluator) runtime->reevaluator->wake();
                   }});
    // The audit log's entries for what moderators do to messages, which messaging owns.
    out.push_back({"community.audit",
                   {"messaging.message_deleted", "messaging.messages_bulk_deleted", "messaging.message_pinned",
                    "messaging.report_updated", "messaging.thread_deleted", "messaging.thread_updated"},
                   [](store::Tx& tx, const bus::Event& event) { CommunityService::audit_message_event(tx, event); }});
    return out;
  };
  m.jobs = [runtime] {
    std::vector<context::Job> jobs;
    jobs.push_back({"community.audit_prune", "23 4 * * *", "deletes audit log entries past their retention",
                    [runtime]() -> Task<Result<void>> {
                      if (!runtime->service) co_return ok();
                      auto pruned = co_await runtime->service->prune_audit_log();
                      if (!pruned) co_return pruned.error();
                      co_return ok();
                    }});
    return jobs;
  };
  m.routes = [runtime](net::Router& router) {
    if (runtime->request_auth == nullptr) {
      log::warn("community routes not served: no auth context");
      return;
    }
    add_community_routes(router, *runtime->service, *runtime->request_auth);
  };
  return m;
}

}  // namespace gh::community
