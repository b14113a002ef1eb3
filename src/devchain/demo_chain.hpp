#pragma once
// A dev chain ready to use: anvil running, contracts built, the demo set deployed. What
// `gatehouse dev-chain` runs, and what the chain tests share (one per test binary).
#include <string>

#include "core/result.hpp"
#include "devchain/anvil.hpp"
#include "devchain/demo_deployment.hpp"

namespace gh::devchain {

/// How to bring a demo chain up.
struct DemoChainSettings {
  /// anvil's settings (chain id, log file, ...); its project_root is filled in when empty.
  AnvilSettings anvil;
  /// Where scripts/, node_modules and build/contracts are. Empty: find_project_root().
  std::string project_root;
};

/// A running anvil and what was deployed on it; stopping anvil (destruction) ends the chain.
struct DemoChain {
  AnvilProcess anvil;
  DemoDeployment deployment;
};

/// Builds the contracts if stale (node scripts/build-contracts.mjs), starts anvil and deploys the
/// demo set. Blocks the calling thread (its own I/O context): call it at start-up or in tests.
/// Errors: "project_root_not_found", build_contracts', AnvilProcess::start's, deploy_demo's.
Result<DemoChain> start_demo_chain(DemoChainSettings settings = {});

/// deploy_demo on a chain that is already running at `rpc_url`, blocking the calling thread.
Result<DemoDeployment> deploy_demo_blocking(const std::string& rpc_url, DemoSettings settings);

/// For tests: the demo chain of this process, started on first use and stopped at exit. Every
/// test of a binary shares it, so tests must not assume balances others may change (use fresh
/// accounts or read before and after).
const Result<DemoChain>& shared_demo_chain();

}  // namespace gh::devchain
