#pragma once
// HTTP binding of the chain context (API.md "Chain"): holdings of an account, the indexer's
// status, and the Alchemy webhook (signature checked on the raw body before anything else).
#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "chain/service.hpp"
#include "net/router.hpp"

namespace gh::chain {

/// What the routes need besides the service.
struct ChainRoutesSettings {
  /// The webhook signing key; empty: the webhook answers 503 webhook_not_configured.
  std::string alchemy_signing_key;
  /// Chains this process indexes (webhook deliveries for others are refused).
  std::set<std::uint64_t> chains;
  /// Wakes the poller of a chain (a webhook brought logs).
  std::function<void(std::uint64_t chain_id)> wake;
};

/// Registers the chain routes. The service must outlive the router.
void add_chain_routes(net::Router& router, ChainService& service, ChainRoutesSettings settings);

}  // namespace gh::chain
