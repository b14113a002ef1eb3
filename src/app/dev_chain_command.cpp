#include "app/dev_chain_command.hpp"

#include <sys/wait.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <thread>

#include "devchain/demo_chain.hpp"
#include "eth/address.hpp"

namespace gh::app {
namespace {

// Set by the signal handler; read by the wait loop. A handler (not a blocked signal mask) because
// anvil is spawned from this process and would inherit a blocked mask, and then ignore the
// SIGTERM that stops it.
volatile std::sig_atomic_t g_stop_signal = 0;

extern "C" void on_stop_signal(int signal_number) {
  g_stop_signal = signal_number;
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
}

/// True while `pid` has not exited. WNOWAIT leaves it to AnvilProcess to reap.
bool alive(pid_t pid) {
  siginfo_t info{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

void print_summary(const devchain::DemoDeployment& d, const std::string& out) {
  std::printf("dev chain %llu at %s (deployed up to block %llu)\n", static_cast<unsigned long long>(d.chain_id),
              d.rpc_url.c_str(), static_cast<unsigned long long>(d.deployed_at_block));
  std::printf("  deployer         %s\n", eth::to_checksum(d.deployer).c_str());
  for (std::size_t i = 0; i < d.test_accounts.size(); ++i) {
    std::printf("  test account %zu   %s\n", i + 1, eth::to_checksum(d.test_accounts[i]).c_str());
  }
  for (const auto& t : d.tokens) std::printf("  %-16s %s\n", t.symbol.c_str(), eth::to_checksum(t.address).c_str());
  const std::pair<const char*, const eth::Address*> contracts[] = {{"TestNFT", &d.nft},
                                                                   {"TestMultiToken", &d.multi_token},
                                                                   {"Staking", &d.staking},
                                                                   {"MultiSender", &d.multi_sender},
                                                                   {"Points", &d.points},
                                                                   {"SmartWallet", &d.smart_wallet},
                                                                   {"EchoFallback", &d.echo_fallback},
                                                                   {"UniswapV2Factory", &d.uniswap_factory}};
  for (const auto& [name, address] : contracts) std::printf("  %-16s %s\n", name, eth::to_checksum(*address).c_str());
  for (const auto& p : d.pairs) std::printf("  pair %-11s %s\n", p.name.c_str(), eth::to_checksum(p.address).c_str());
  std::printf("wrote %s; dev keys are anvil's defaults (listed there). Ctrl-C stops the chain.\n", out.c_str());
  // Whoever reads our stdout (a script waiting for the addresses) must see them now.
  std::fflush(stdout);
}

}  // namespace

void add_dev_chain_options(CLI::App& command, DevChainOptions& options) {
  command.add_option("--out", options.out, "where to write the deployment JSON")->capture_default_str();
  command.add_option("--port", options.port, "JSON-RPC port of anvil (0 = any free port)")->capture_default_str();
  command.add_option("--chain-id", options.chain_id, "EIP-155 chain id")
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{1} << 53))
      ->capture_default_str();
  command.add_option("--anvil-log", options.anvil_log, "append anvil's output to this file (default: discarded)");
}

int run_dev_chain(const DevChainOptions& options) {
  install_stop_handlers();
  devchain::DemoChainSettings settings;
  settings.anvil.chain_id = options.chain_id;
  settings.anvil.log_file = options.anvil_log;
  settings.anvil.port = options.port;
  auto chain = devchain::start_demo_chain(settings);
  if (!chain) {
    // Ctrl-C in a terminal reaches anvil too (same process group): the deploy then fails, and
    // that is the stop the user asked for, not an error.
    if (g_stop_signal != 0) return 0;
    std::fprintf(stderr, "gatehouse: dev-chain: %s: %s\n", chain.error().code.c_str(), chain.error().message.c_str());
    return 1;
  }
  if (g_stop_signal != 0) return 0;  // stopped while deploying: anvil goes with `chain`
  if (auto written = devchain::write_deployment_json(chain->deployment, options.out); !written) {
    std::fprintf(stderr, "gatehouse: dev-chain: %s\n", written.error().message.c_str());
    return 1;
  }
  print_summary(chain->deployment, options.out);

  using namespace std::chrono_literals;
  while (g_stop_signal == 0) {
    if (!alive(chain->anvil.pid())) {
      if (g_stop_signal != 0) break;  // the same Ctrl-C stopped anvil first
      std::fprintf(stderr, "gatehouse: dev-chain: anvil exited unexpectedly\n");
      return 1;
    }
    std::this_thread::sleep_for(100ms);
  }
  chain->anvil.stop();
  return 0;
}

}  // namespace gh::app
