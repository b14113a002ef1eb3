#pragma once
// `gatehouse dev-chain`: a local anvil with the demo contracts, their addresses printed and
// written as JSON, running until SIGINT/SIGTERM. For development and demos only.
#include <cstdint>
#include <string>

namespace CLI {
class App;
}

namespace gh::app {

/// The flags of `gatehouse dev-chain`.
struct DevChainOptions {
  /// Where the deployment JSON is written.
  std::string out = "var/dev-chain.json";
  /// Fixed RPC port; 0 = any free port (the URL is in the JSON and on stdout).
  std::uint16_t port = 0;
  /// EIP-155 chain id of the dev chain.
  std::uint64_t chain_id = 31337;
  /// anvil's own log; empty = discarded.
  std::string anvil_log;
};

/// Declares --out, --port, --chain-id and --anvil-log on the `dev-chain` subcommand, bound to
/// `options` (which must outlive parsing).
void add_dev_chain_options(CLI::App& command, DevChainOptions& options);

/// Runs the command: builds the contracts if stale, starts anvil, deploys the demo set, writes
/// the JSON, prints the addresses, then waits for SIGINT/SIGTERM and stops anvil. Exit code per
/// API.md: 0 clean stop, 2 bad options, 1 anything else (anvil or node missing, a failed deploy,
/// anvil dying).
int run_dev_chain(const DevChainOptions& options);

}  // namespace gh::app
