#pragma once
// A local anvil (Foundry's dev chain) as a child process: `gatehouse dev-chain` and the chain tests
// use it. The binary comes from the npm package @foundry-rs/anvil-linux-amd64 installed by
// `npm ci` in the project root, or from an explicit path.
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/result.hpp"

namespace gh::devchain {

/// How to find and run anvil.
struct AnvilSettings {
  /// The anvil executable. Empty: $GATEHOUSE_ANVIL, else node_modules under the project root.
  std::string binary;
  /// Where node_modules lives. Empty: find_project_root().
  std::string project_root;
  /// EIP-155 chain id of the dev chain.
  std::uint64_t chain_id = 31337;
  /// The loopback port to listen on; 0 = any free port.
  unsigned short port = 0;
  /// Mine a block every interval; none = mine one block per transaction (anvil's automine).
  std::optional<std::chrono::milliseconds> block_time;
  /// anvil's output goes here (appended); empty = discarded (--silent). Never a pipe: a full pipe
  /// would block anvil.
  std::string log_file;
  /// Bound on start-up: from spawn until eth_chainId answers.
  std::chrono::milliseconds start_timeout{15'000};
  /// Bound on SIGTERM before SIGKILL when stopping.
  std::chrono::milliseconds stop_timeout{3'000};
  /// Extra command-line arguments (e.g. "--gas-limit", "30000000").
  std::vector<std::string> extra_args;
};

/// A running anvil on 127.0.0.1 and a free port. Stops (SIGTERM, then SIGKILL after
/// stop_timeout) and reaps the process on destruction. Starting blocks the calling thread: call
/// it at start-up or in tests, never on an I/O thread.
class AnvilProcess {
 public:
  /// Spawns anvil and waits until it answers eth_chainId with the configured id from a socket of
  /// its own (another process's anvil may have taken the port first: then another port). Errors:
  /// "anvil_not_found", "anvil_spawn_failed", "anvil_exited", "anvil_port_taken",
  /// "anvil_start_timeout".
  static Result<AnvilProcess> start(AnvilSettings settings = {});

  AnvilProcess(AnvilProcess&& other) noexcept;
  AnvilProcess& operator=(AnvilProcess&& other) noexcept;
  AnvilProcess(const AnvilProcess&) = delete;
  AnvilProcess& operator=(const AnvilProcess&) = delete;
  ~AnvilProcess();

  /// "http://127.0.0.1:<port>".
  std::string rpc_url() const;
  /// The TCP port anvil listens on.
  unsigned short port() const noexcept { return m_port; }
  /// The chain id it was started with.
  std::uint64_t chain_id() const noexcept { return m_chain_id; }
  /// The child's process id (-1 once stopped).
  pid_t pid() const noexcept { return m_pid; }
  /// The directory where anvil keeps the states it no longer holds in memory (its --cache-path):
  /// one of this object's own, removed when anvil stops. Empty when extra_args named one.
  const std::string& cache_path() const noexcept { return m_cache_path; }
  /// Stops and reaps now; idempotent.
  void stop() noexcept;

 private:
  AnvilProcess(pid_t pid, unsigned short port, std::uint64_t chain_id, std::chrono::milliseconds stop_timeout,
               std::string cache_path)
      : m_pid(pid),
        m_port(port),
        m_chain_id(chain_id),
        m_stop_timeout(stop_timeout),
        m_cache_path(std::move(cache_path)) {}

  pid_t m_pid = -1;
  unsigned short m_port = 0;
  std::uint64_t m_chain_id = 0;
  std::chrono::milliseconds m_stop_timeout{3'000};
  std::string m_cache_path;  ///< removed by stop()
};

/// The project root: $GATEHOUSE_SOURCE_DIR when set, else the nearest directory above the current
/// directory or above this executable that holds node_modules/@foundry-rs. nullopt when none.
std::optional<std::string> find_project_root();

/// Whether process `pid` holds the socket listening on `port` of 127.0.0.1 (Linux: the listening
/// sockets of /proc/net/tcp, then the process's descriptors).
bool holds_listener(pid_t pid, unsigned short port);

/// The anvil executable per AnvilSettings' rules, or "anvil_not_found".
Result<std::string> find_anvil(const AnvilSettings& settings);

/// anvil's first default account (unlocked, funded with 10000 ETH), the sender for test
/// transactions through eth_sendTransaction.
inline constexpr const char* anvil_default_account = "0xf39fd6e51aad88f6f4ce6ab8827279cfffb92266";

}  // namespace gh::devchain
