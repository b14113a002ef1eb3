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
  std::size_t db_statement_cache = 256;
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
  double e2e_post_rate_per_account = 20.0;  ///< E2E messages posted per second per account
  double e2e_post_burst_per_account = 200.0;
  std::size_t e2e_retention_days = 90;  ///< E2E ciphertext and welcomes are purged past this
  /// MLS cipher suites key packages may use (Ed25519 ones): 0x0001 and the X-Wing suite 0x0053.
  std::vector<std::uint16_t> mls_cipher_suites{0x0001, 0x0053};
  std::vector<std::string> siwe_http_domains;  ///< dev domains whose SIWE URI may use plain http

  // WebSockets (/v1/ws) and messaging.
  std::size_t ws_max_message_bytes = std::size_t{64} * 1024;
  std::size_t ws_send_queue_messages = 4096;
  std::size_t ws_send_queue_bytes = std::size_t{4} * 1024 * 1024;
  std::chrono::milliseconds ws_idle_timeout{60'000};
  std::chrono::milliseconds ws_close_timeout{5'000};
  std::chrono::milliseconds ws_resume_stall_timeout{10'000};  ///< a catch-up its client stops reading: 4008
  double ws_message_rate = 20.0;                              ///< client messages per second per socket, sustained
  double ws_message_burst = 60.0;
  std::size_t ws_max_sockets_per_account = 32;
  double message_rate_per_account = 5.0;  ///< channel messages per second per account, sustained
  double message_burst_per_account = 20.0;
  std::size_t search_window = 10'000;    ///< seqs one channel search request looks at most
  std::size_t search_channels = 50;      ///< channels and threads one community search looks into at most
  double search_rate_per_account = 2.0;  ///< channel searches per second per account, sustained
  double search_burst_per_account = 10.0;

  // The chain indexer (src/chain).
  std::map<std::uint64_t, std::vector<std::string>> chain_urls;  ///< every --chain URL of a chain, failover order
  std::map<std::uint64_t, std::uint64_t> chain_confirmations;    ///< --chain-confirmations ID=N
  std::map<std::uint64_t, std::uint64_t> chain_start_blocks;     ///< --chain-start-block ID=N
  /// --chain-contract ID:PIPELINE:ADDRESS[@BLOCK]: emitters a pipeline follows (none listed: every
  /// emitter); with @BLOCK the contract is backfilled alone from that block.
  struct ChainContract {
    std::uint64_t chain_id = 0;
    std::string pipeline;
    std::string address;
    std::optional<std::uint64_t> start_block;
  };
  std::vector<ChainContract> chain_contracts;
  /// --chain-max-log-span: largest eth_getLogs block span of the indexer (0: 100000); providers
  /// that refuse wide spans are split anyway, a bound saves the refusals.
  std::uint64_t chain_max_log_span = 0;
  /// --chain-rpc-timeout-ms: bound on one JSON-RPC HTTP attempt (then retried or failed over).
  std::chrono::milliseconds chain_rpc_attempt_timeout{10'000};
  /// --chain-rpc-call-timeout-ms: bound on one JSON-RPC call, retries included.
  std::chrono::milliseconds chain_rpc_call_timeout{30'000};
  std::string alchemy_signing_key;  ///< secret; from GATEHOUSE_ALCHEMY_SIGNING_KEY or the file

  // The jobs scheduler (src/jobs) and the retention jobs.
  std::string jobs_node;                          ///< name in job leases and history (empty: HOSTNAME:PID)
  std::chrono::hours bus_retention{7 * 24};       ///< delivered outbox events and idempotency records
  std::chrono::hours session_retention{30 * 24};  ///< expired and revoked sessions
  // Notifications (src/notify).
  std::string fcm_service_account_file;  ///< Google service-account JSON; empty: no FCM
  std::string fcm_endpoint = "https://fcm.googleapis.com";
  std::string vapid_key_file;  ///< empty: <data_dir>/vapid.json, created when missing
  std::string vapid_subject = "mailto:admin@localhost";
  std::string notify_webhook_secret;  ///< secret; empty: <data_dir>/webhook-secret, created when missing
  std::chrono::milliseconds push_timeout{10'000};
  std::size_t push_max_retries = 3;
  std::chrono::milliseconds push_backoff{500};
  std::chrono::milliseconds push_retry_after_max{60'000};
  std::size_t notify_concurrency = 32;

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
  std::uint64_t indexer_from = 0;          ///< indexer reindex --from, indexer track --from-block
  std::string indexer_address;             ///< indexer track --address
  std::string job_name;                    ///< jobs run NAME
};

/// Parses argv and the environment into a command; the error message is one line for exit 2.
Result<Command> parse_command_line(int argc, const char* const* argv, const std::map<std::string, std::string>& env);

/// The process environment as a map.
std::map<std::string, std::string> environment_map();

}  // namespace gh::app
