#pragma once
// The server's settings: defaults, then the TOML file named by --config (or GATEHOUSE_CONFIG),
// then GATEHOUSE_<NAME> environment variables, then command-line flags — each later source
// overriding the earlier (API.md "Command line and configuration"). Every value is validated;
// a bad one is a one-line reason and exit code 2.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "app/dev_chain_command.hpp"
#include "core/result.hpp"

namespace gh::app {

/// The roles one process can run (API.md: api, gateway, worker, indexer, jobs).
enum class Role { api, gateway, worker, indexer, jobs };

/// Everything `serve` and `migrate` need.
struct Settings {
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 8080;
  std::string data_dir = "./var";
  std::string database;  ///< empty: sqlite:<data_dir>/gatehouse.db
  std::string redis;
  std::map<std::uint64_t, std::string> chains;  ///< chain id -> JSON-RPC URL
  std::string log_level = "info";
  std::vector<std::string> siwe_domains;
  std::set<Role> roles{Role::api, Role::gateway, Role::worker, Role::indexer, Role::jobs};
  std::size_t io_threads = 2;
  std::size_t blocking_threads = 8;
  std::size_t blocking_queue = 1024;
  std::size_t db_pool_size = 8;
  std::size_t max_body_bytes = std::size_t{1024} * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::size_t max_connections = 10'000;
  double rate_limit_per_ip = 50.0;  ///< requests per second, sustained
  double rate_burst_per_ip = 100.0;
  std::chrono::milliseconds idle_timeout{60'000};
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds drain_timeout{10'000};
  bool trust_forwarded_for = false;          ///< one proxy in front: the client is the right-most X-Forwarded-For entry
  std::vector<std::string> trusted_proxies;  ///< CIDRs whose X-Forwarded-For is believed (implies the above)
  std::size_t max_connections_per_ip = 256;
  std::size_t body_budget_bytes = std::size_t{64} * 1024 * 1024;  ///< request-body bytes in flight, whole server
  std::string metrics_listen_host;                                ///< empty: /metrics on the main listener
  std::uint16_t metrics_listen_port = 0;
  bool outbound_allow_http = false;                  ///< user-supplied outbound URLs (webhooks) may be http
  std::vector<std::string> outbound_allow_networks;  ///< CIDRs reachable despite being non-public
  bool access_log = true;
  bool test_hooks = false;  ///< exposes /v1/_test/* for the integration tests; never in production
  std::chrono::seconds session_ttl{30 * 24 * 3600};
  double signin_rate_per_ip = 1.0;  ///< nonce and verify requests per second per IP, sustained
  double signin_burst_per_ip = 30.0;
  double signin_rate_per_address = 0.2;  ///< verify attempts per second per signing address
  double signin_burst_per_address = 10.0;
  double key_fetch_rate_per_caller = 1.0;  ///< GET /v1/keys/{address} per second per signed-in caller
  double key_fetch_burst_per_caller = 30.0;
  double key_fetch_rate_per_target = 0.2;  ///< GET /v1/keys/{address} per second per target account
  double key_fetch_burst_per_target = 20.0;
  std::vector<std::string> siwe_http_domains;  ///< dev domains whose SIWE URI may use plain http

  // The chain indexer (src/chain).
  std::map<std::uint64_t, std::vector<std::string>> chain_urls;  ///< every --chain URL of a chain, failover order
  std::map<std::uint64_t, std::uint64_t> chain_confirmations;    ///< --chain-confirmations ID=N
  std::map<std::uint64_t, std::uint64_t> chain_start_blocks;     ///< --chain-start-block ID=N
  /// --chain-contract ID:PIPELINE:ADDRESS: emitters a pipeline follows (none listed: every emitter).
  std::vector<std::tuple<std::uint64_t, std::string, std::string>> chain_contracts;
  std::string alchemy_signing_key;  ///< secret; from GATEHOUSE_ALCHEMY_SIGNING_KEY or the file

  // The jobs scheduler (src/jobs) and the retention jobs.
  std::string jobs_node;                          ///< name in job leases and history (empty: HOSTNAME:PID)
  std::chrono::hours bus_retention{7 * 24};       ///< delivered outbox events and idempotency records
  std::chrono::hours session_retention{30 * 24};  ///< expired and revoked sessions

  /// The database URL actually used.
  std::string database_url() const;
  /// True when this process runs the role.
  bool has(Role role) const { return roles.count(role) > 0; }
};

/// The parsed command line.
struct Command {
  /// "serve", "migrate", "version", "apikey-create|list|revoke", "indexer-status|reindex",
  /// "jobs-list|run", "dev-chain", "help"
  std::string name;
  Settings settings;
  std::string help_text;
  std::string apikey_name;                 ///< apikey create --name
  std::vector<std::string> apikey_scopes;  ///< apikey create --scope (repeatable)
  std::string apikey_id;                   ///< apikey revoke ID
  DevChainOptions dev_chain;               ///< flags of "dev-chain"
  std::uint64_t indexer_chain = 0;         ///< indexer reindex --chain-id
  std::string indexer_pipeline;            ///< indexer reindex --pipeline (empty: every pipeline)
  std::uint64_t indexer_from = 0;          ///< indexer reindex --from
  std::string job_name;                    ///< jobs run NAME
};

/// Parses argv and the environment into a command; the error message is one line for exit 2.
Result<Command> parse_command_line(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

/// The process environment as a map.
std::map<std::string, std::string> environment_map();

}  // namespace gh::app
