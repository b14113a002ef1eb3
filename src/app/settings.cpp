#include "app/settings.hpp"

#include "mls/key_package.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>
#include <CLI/CLI.hpp>

#include "chain/model.hpp"
#include "core/log.hpp"
#include "eth/address.hpp"
#include "net/ip_address.hpp"

extern char** environ;

namespace gh::app {
namespace {

using Setter = std::function<Result<void>(Settings&, const std::vector<std::string>&)>;

/// One setting known to flags, environment and file alike.
struct Option {
  std::string name;  ///< flag name without dashes; env GATEHOUSE_<NAME>; file key name or name_with_underscores
  std::string help;
  bool repeatable = false;
  bool boolean = false;
  Setter set;
};

Error invalid(const std::string& name, const std::string& value, const std::string& why) {
  return bad_input("bad_configuration", fmt::format("invalid value for {}: '{}' ({})", name, value, why));
}

Result<std::uint64_t> parse_uint(const std::string& name, const std::string& v, std::uint64_t lo, std::uint64_t hi) {
  if (v.empty() || !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; }) || v.size() > 18) {
    return invalid(name, v, "expected a whole number");
  }
  const auto n = std::stoull(v);
  if (n < lo || n > hi) return invalid(name, v, fmt::format("expected {}..{}", lo, hi));
  return n;
}

Result<double> parse_positive(const std::string& name, const std::string& v) {
  try {
    std::size_t used = 0;
    const double d = std::stod(v, &used);
    if (used != v.size() || !std::isfinite(d) || d <= 0) return invalid(name, v, "expected a positive number");
    return d;
  } catch (const std::exception&) {
    return invalid(name, v, "expected a positive number");
  }
}

Result<bool> parse_bool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1" || v == "yes" || v == "on") return true;
  if (v == "false" || v == "0" || v == "no" || v == "off") return false;
  return invalid(name, v, "expected true or false");
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    item.erase(0, item.find_first_not_of(' '));
    item.erase(item.find_last_not_of(' ') + 1);
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

Setter scalar(std::function<Result<void>(Settings&, const std::string&)> f) {
  return [f = std::move(f)](Settings& s, const std::vector<std::string>& values) -> Result<void> {
    return f(s, values.back());
  };
}

Setter count_setting(const std::string& name, std::size_t Settings::*field, std::uint64_t lo, std::uint64_t hi) {
  return scalar([=](Settings& s, const std::string& v) -> Result<void> {
    auto n = parse_uint(name, v, lo, hi);
    if (!n) return n.error();
    s.*field = static_cast<std::size_t>(*n);
    return ok();
  });
}

Setter millis_setting(const std::string& name, std::chrono::milliseconds Settings::*field) {
  return scalar([=](Settings& s, const std::string& v) -> Result<void> {
    auto n = parse_uint(name, v, 1, 86'400'000);
    if (!n) return n.error();
    s.*field = std::chrono::milliseconds(static_cast<std::int64_t>(*n));
    return ok();
  });
}

Setter positive_setting(const std::string& name, double Settings::*field) {
  return scalar([=](Settings& s, const std::string& v) -> Result<void> {
    auto d = parse_positive(name, v);
    if (!d) return d.error();
    s.*field = *d;
    return ok();
  });
}

Setter bool_setting(const std::string& name, bool Settings::*field) {
  return scalar([=](Settings& s, const std::string& v) -> Result<void> {
    auto b = parse_bool(name, v);
    if (!b) return b.error();
    s.*field = *b;
    return ok();
  });
}

Result<void> set_listen(Settings& s, const std::string& v) {
  const auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0) return invalid("listen", v, "expected HOST:PORT");
  std::string host = v.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  auto port = parse_uint("listen", v.substr(colon + 1), 0, 65535);
  if (!port) return port.error();
  s.listen_host = host;
  s.listen_port = static_cast<std::uint16_t>(*port);
  return ok();
}

Result<void> set_metrics_listen(Settings& s, const std::string& v) {
  Settings probe;
  if (auto r = set_listen(probe, v); !r) {
    Error e = r.error();
    e.message.replace(e.message.find("listen"), 6, "metrics-listen");
    return e;
  }
  s.metrics_listen_host = probe.listen_host;
  s.metrics_listen_port = probe.listen_port;
  return ok();
}

Setter network_list(const std::string& name, std::vector<std::string> Settings::*field) {
  return [=](Settings& s, const std::vector<std::string>& values) -> Result<void> {
    std::vector<std::string> out;
    for (const auto& raw : values) {
      for (const auto& v : split_list(raw)) {
        if (!net::IpNetwork::parse(v)) return invalid(name, v, "expected an IP address or CIDR network");
        out.push_back(v);
      }
    }
    s.*field = std::move(out);
    return ok();
  };
}

Result<void> set_database(Settings& s, const std::string& v) {
  if (v.rfind("sqlite:", 0) == 0 && v.size() > 7) {
    s.database = v;
    return ok();
  }
  if (v.rfind("postgres://", 0) == 0 || v.rfind("postgresql://", 0) == 0) {
    s.database = v;
    return ok();
  }
  return invalid("database", v.substr(0, v.find("://") == std::string::npos ? v.size() : v.find("://") + 3),
                 "expected sqlite:PATH or postgres://...");
}

Result<void> set_chains(Settings& s, const std::vector<std::string>& values) {
  s.chains.clear();
  s.chain_urls.clear();
  for (const auto& raw : values) {
    for (const auto& v : split_list(raw)) {
      const auto eq = v.find('=');
      if (eq == std::string::npos) return invalid("chain", v, "expected ID=RPC_URL");
      auto id = parse_uint("chain", v.substr(0, eq), 1, (1ULL << 53));
      if (!id) return id.error();
      const auto url = v.substr(eq + 1);
      if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0) {
        return invalid("chain", v, "the RPC URL must be http:// or https://");
      }
      // The first URL of a chain is preferred; repeating the id adds failover endpoints.
      if (s.chains.count(*id) == 0) s.chains[*id] = url;
      s.chain_urls[*id].push_back(url);
    }
  }
  return ok();
}

// ID=N pairs of the chain indexer's per-chain settings.
Setter chain_numbers(const std::string& name, std::map<std::uint64_t, std::uint64_t> Settings::*field) {
  return [name, field](Settings& s, const std::vector<std::string>& values) -> Result<void> {
    (s.*field).clear();
    for (const auto& raw : values) {
      for (const auto& v : split_list(raw)) {
        const auto eq = v.find('=');
        if (eq == std::string::npos) return invalid(name, v, "expected ID=N");
        auto id = parse_uint(name, v.substr(0, eq), 1, (1ULL << 53));
        if (!id) return id.error();
        auto n = parse_uint(name, v.substr(eq + 1), 0, (1ULL << 53));
        if (!n) return n.error();
        (s.*field)[*id] = *n;
      }
    }
    return ok();
  };
}

Result<void> set_chain_contracts(Settings& s, const std::vector<std::string>& values) {
  s.chain_contracts.clear();
  for (const auto& raw : values) {
    for (const auto& v : split_list(raw)) {
      const auto first = v.find(':');
      const auto second = first == std::string::npos ? first : v.find(':', first + 1);
      if (second == std::string::npos) return invalid("chain-contract", v, "expected ID:PIPELINE:ADDRESS[@BLOCK]");
      auto id = parse_uint("chain-contract", v.substr(0, first), 1, (1ULL << 53));
      if (!id) return id.error();
      const auto pipeline = v.substr(first + 1, second - first - 1);
      if (!chain::parse_pipeline(pipeline)) {
        return invalid("chain-contract", v, "pipelines: erc20, erc721, erc1155, staking, multisend, uniswap_v2");
      }
      auto address = v.substr(second + 1);
      std::optional<std::uint64_t> start;
      if (const auto at = address.find('@'); at != std::string::npos) {
        auto block = parse_uint("chain-contract", address.substr(at + 1), 0, (1ULL << 53));
        if (!block) return block.error();
        start = *block;
        address.resize(at);
      }
      if (!eth::parse_address(address)) return invalid("chain-contract", v, "not an address");
      s.chain_contracts.push_back(Settings::ChainContract{*id, pipeline, address, start});
    }
  }
  return ok();
}

Result<void> set_roles(Settings& s, const std::vector<std::string>& values) {
  std::set<Role> roles;
  for (const auto& raw : values) {
    for (const auto& r : split_list(raw)) {
      if (r == "api")
        roles.insert(Role::api);
      else if (r == "gateway")
        roles.insert(Role::gateway);
      else if (r == "worker")
        roles.insert(Role::worker);
      else if (r == "indexer")
        roles.insert(Role::indexer);
      else if (r == "jobs")
        roles.insert(Role::jobs);
      else
        return invalid("roles", r, "roles are api, gateway, worker, indexer, jobs");
    }
  }
  if (roles.empty()) return invalid("roles", "", "at least one role");
  s.roles = roles;
  return ok();
}

std::vector<Option> options() {
  return {
      {"listen", "HOST:PORT to listen on (port 0 picks a free one)", false, false, scalar(set_listen)},
      {"data-dir", "directory of the embedded SQLite database", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         if (v.empty()) return invalid("data-dir", v, "must not be empty");
         s.data_dir = v;
         return ok();
       })},
      {"database", "sqlite:PATH or postgres://... (overrides data-dir)", false, false, scalar(set_database)},
      {"redis", "redis://HOST:PORT, for several nodes", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         if (v.rfind("redis://", 0) != 0) return invalid("redis", v, "expected redis://HOST:PORT");
         s.redis = v;
         return ok();
       })},
      {"chain", "ID=RPC_URL of a chain to serve (repeatable; the same ID again adds a failover URL)", true, false,
       set_chains},
      {"chain-confirmations", "ID=N: blocks the indexer stays behind a chain's head (default 12; 0 for 31337)", true,
       false, chain_numbers("chain-confirmations", &Settings::chain_confirmations)},
      {"chain-start-block", "ID=N: first block the indexer reads on a chain (default 0)", true, false,
       chain_numbers("chain-start-block", &Settings::chain_start_blocks)},
      {"chain-contract",
       "ID:PIPELINE:ADDRESS[@BLOCK]: a contract an indexer pipeline follows (repeatable); with @BLOCK it is "
       "backfilled alone from that block",
       true, false, set_chain_contracts},
      {"chain-max-log-span", "largest eth_getLogs block span of the indexer (default 100000)", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         auto n = parse_uint("chain-max-log-span", v, 1, 10'000'000);
         if (!n) return n.error();
         s.chain_max_log_span = *n;
         return ok();
       })},
      {"chain-rpc-timeout-ms",
       "bound on one JSON-RPC HTTP attempt of the indexer, in ms (default 10000); a slower answer is retried or "
       "failed over",
       false, false, millis_setting("chain-rpc-timeout-ms", &Settings::chain_rpc_attempt_timeout)},
      {"chain-rpc-call-timeout-ms", "bound on one JSON-RPC call with its retries, in ms (default 30000)", false, false,
       millis_setting("chain-rpc-call-timeout-ms", &Settings::chain_rpc_call_timeout)},
      {"alchemy-signing-key", "signing key of the Alchemy webhooks (secret: prefer the environment)", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         s.alchemy_signing_key = v;
         return ok();
       })},
      {"log-level", "debug, info, warn, error or off", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         log::Level level{};
         if (!log::parse_level(v, level)) return invalid("log-level", v, "expected debug, info, warn, error or off");
         s.log_level = v;
         return ok();
       })},
      {"siwe-domain", "domain accepted in sign-in messages (repeatable)", true, false,
       [](Settings& s, const std::vector<std::string>& values) -> Result<void> {
         s.siwe_domains.clear();
         for (const auto& raw : values) {
           for (const auto& d : split_list(raw)) s.siwe_domains.push_back(d);
         }
         return ok();
       }},
      {"siwe-http-domain", "development domain whose sign-in URI may use plain http (repeatable)", true, false,
       [](Settings& s, const std::vector<std::string>& values) -> Result<void> {
         s.siwe_http_domains.clear();
         for (const auto& raw : values) {
           for (const auto& d : split_list(raw)) s.siwe_http_domains.push_back(d);
         }
         return ok();
       }},
      {"roles", "comma-separated roles: api,gateway,worker,indexer,jobs", true, false, set_roles},
      {"io-threads", "threads running network I/O", false, false,
       count_setting("io-threads", &Settings::io_threads, 1, 64)},
      {"blocking-threads", "threads for database and CPU-heavy work", false, false,
       count_setting("blocking-threads", &Settings::blocking_threads, 1, 256)},
      {"blocking-queue", "blocking jobs allowed to wait before requests get 503", false, false,
       count_setting("blocking-queue", &Settings::blocking_queue, 1, 1'000'000)},
      {"db-pool-size", "database connections (SQLite: readers)", false, false,
       count_setting("db-pool-size", &Settings::db_pool_size, 1, 512)},
      {"db-statement-cache", "PostgreSQL: statements kept prepared per connection (0: none, for a pooler that cannot)",
       false, false, count_setting("db-statement-cache", &Settings::db_statement_cache, 0, 4096)},
      {"max-body-bytes", "largest request body accepted", false, false,
       count_setting("max-body-bytes", &Settings::max_body_bytes, 1024, std::uint64_t{64} * 1024 * 1024)},
      {"max-header-bytes", "largest request head accepted", false, false,
       count_setting("max-header-bytes", &Settings::max_header_bytes, 1024, std::uint64_t{1024} * 1024)},
      {"max-connections", "open connections at most", false, false,
       count_setting("max-connections", &Settings::max_connections, 1, 1'000'000)},
      {"rate-limit", "requests per second per client IP, sustained", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         auto d = parse_positive("rate-limit", v);
         if (!d) return d.error();
         s.rate_limit_per_ip = *d;
         return ok();
       })},
      {"rate-burst", "requests per client IP in a burst", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         auto d = parse_positive("rate-burst", v);
         if (!d) return d.error();
         s.rate_burst_per_ip = *d;
         return ok();
       })},
      {"idle-timeout-ms", "how long a keep-alive connection may wait for its next request", false, false,
       millis_setting("idle-timeout-ms", &Settings::idle_timeout)},
      {"request-timeout-ms", "how long a client may take to send a request or read a response", false, false,
       millis_setting("request-timeout-ms", &Settings::request_timeout)},
      {"drain-timeout-ms", "how long a stop may wait for in-flight work", false, false,
       millis_setting("drain-timeout-ms", &Settings::drain_timeout)},
      {"trust-forwarded-for", "behind exactly one reverse proxy: the client IP is the right-most X-Forwarded-For entry",
       false, true, bool_setting("trust-forwarded-for", &Settings::trust_forwarded_for)},
      {"trusted-proxy",
       "address or CIDR of a reverse proxy (repeatable): the client IP is the right-most X-Forwarded-For entry "
       "not in this list, believed only from these peers, which are also exempt from the per-IP connection cap",
       true, false, network_list("trusted-proxy", &Settings::trusted_proxies)},
      {"max-connections-per-ip", "open connections at most from one client IP", false, false,
       count_setting("max-connections-per-ip", &Settings::max_connections_per_ip, 1, 1'000'000)},
      {"body-budget-bytes", "request-body bytes in flight across all connections; past it bodies get 503", false, false,
       count_setting("body-budget-bytes", &Settings::body_budget_bytes, std::uint64_t{64} * 1024, 1ULL << 40)},
      {"metrics-listen", "HOST:PORT serving /metrics alone (then not on --listen)", false, false,
       scalar(set_metrics_listen)},
      {"outbound-allow-http", "user-supplied outbound URLs (webhook push targets) may use plain http", false, true,
       bool_setting("outbound-allow-http", &Settings::outbound_allow_http)},
      {"outbound-allow-network",
       "address or CIDR that user-supplied outbound URLs may reach although it is loopback, private, link-local "
       "and so on (repeatable)",
       true, false, network_list("outbound-allow-network", &Settings::outbound_allow_networks)},
      {"access-log", "one JSON log line per request", false, true, bool_setting("access-log", &Settings::access_log)},
      {"ws-max-message-bytes", "largest WebSocket message a client may send (larger: close 1009)", false, false,
       count_setting("ws-max-message-bytes", &Settings::ws_max_message_bytes, 1024, std::uint64_t{16} * 1024 * 1024)},
      {"ws-send-queue-messages", "messages queued for one WebSocket before it is closed with 4008 (resume)", false,
       false, count_setting("ws-send-queue-messages", &Settings::ws_send_queue_messages, 1, 1'000'000)},
      {"ws-send-queue-bytes", "bytes queued for one WebSocket before it is closed with 4008 (resume)", false, false,
       count_setting("ws-send-queue-bytes", &Settings::ws_send_queue_bytes, 1024, 1ULL << 32)},
      {"ws-idle-timeout-ms", "silence that ends a WebSocket; the server pings at half of it", false, false,
       millis_setting("ws-idle-timeout-ms", &Settings::ws_idle_timeout)},
      {"ws-close-timeout-ms", "how long a WebSocket handshake or close may take before the connection is cut", false,
       false, millis_setting("ws-close-timeout-ms", &Settings::ws_close_timeout)},
      {"ws-resume-stall-timeout-ms",
       "how long a WebSocket catching up on history (resume, or a send queue that overflowed) may read nothing "
       "before it is closed with 4008",
       false, false, millis_setting("ws-resume-stall-timeout-ms", &Settings::ws_resume_stall_timeout)},
      {"ws-message-rate", "client messages per second per WebSocket, sustained (past the burst: close 1008)", false,
       false, positive_setting("ws-message-rate", &Settings::ws_message_rate)},
      {"ws-message-burst", "client messages per WebSocket in a burst", false, false,
       positive_setting("ws-message-burst", &Settings::ws_message_burst)},
      {"ws-max-sockets-per-account", "open WebSockets one account may hold on this node (more: 429 too_many_sockets)",
       false, false, count_setting("ws-max-sockets-per-account", &Settings::ws_max_sockets_per_account, 1, 1'000'000)},
      {"message-rate-limit", "channel messages per second per account, sustained (then 429)", false, false,
       positive_setting("message-rate-limit", &Settings::message_rate_per_account)},
      {"message-rate-burst", "channel messages per account in a burst", false, false,
       positive_setting("message-rate-burst", &Settings::message_burst_per_account)},
      {"search-window",
       "message seqs one channel search request looks at most (a page with fewer results gives the next window's "
       "cursor)",
       false, false, count_setting("search-window", &Settings::search_window, 10, 10'000'000)},
      {"search-channels",
       "channels and threads one community search request looks into at most (those with the newest messages; the "
       "others on later pages)",
       false, false, count_setting("search-channels", &Settings::search_channels, 1, 10'000)},
      {"search-rate-limit", "channel searches per second per account, sustained (then 429)", false, false,
       positive_setting("search-rate-limit", &Settings::search_rate_per_account)},
      {"search-rate-burst", "channel searches per account in a burst", false, false,
       positive_setting("search-rate-burst", &Settings::search_burst_per_account)},
      {"session-ttl-hours", "how long a session lasts", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         auto n = parse_uint("session-ttl-hours", v, 1, std::uint64_t{24} * 365);
         if (!n) return n.error();
         s.session_ttl = std::chrono::hours(static_cast<std::int64_t>(*n));
         return ok();
       })},
      {"session-retention-hours", "how long expired and revoked sessions are kept before the purge job", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         auto n = parse_uint("session-retention-hours", v, 0, std::uint64_t{24} * 3650);
         if (!n) return n.error();
         s.session_retention = std::chrono::hours(static_cast<std::int64_t>(*n));
         return ok();
       })},
      {"bus-retention-hours", "how long delivered events and their idempotency records are kept", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         auto n = parse_uint("bus-retention-hours", v, 1, std::uint64_t{24} * 3650);
         if (!n) return n.error();
         s.bus_retention = std::chrono::hours(static_cast<std::int64_t>(*n));
         return ok();
       })},
      {"jobs-node", "this node's name in job leases and run history (default HOSTNAME:PID)", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         if (v.empty() || v.size() > 128) return invalid("jobs-node", v, "1 to 128 characters");
         s.jobs_node = v;
         return ok();
       })},
      {"signin-rate-limit", "sign-in requests (nonce, verify) per second per client IP", false, false,
       positive_setting("signin-rate-limit", &Settings::signin_rate_per_ip)},
      {"signin-rate-burst", "sign-in requests per client IP in a burst", false, false,
       positive_setting("signin-rate-burst", &Settings::signin_burst_per_ip)},
      {"signin-address-rate-limit", "verify attempts per second per signing address", false, false,
       positive_setting("signin-address-rate-limit", &Settings::signin_rate_per_address)},
      {"signin-address-rate-burst", "verify attempts per signing address in a burst", false, false,
       positive_setting("signin-address-rate-burst", &Settings::signin_burst_per_address)},
      {"key-fetch-rate-limit", "key bundle fetches per second per signed-in caller", false, false,
       positive_setting("key-fetch-rate-limit", &Settings::key_fetch_rate_per_caller)},
      {"key-fetch-rate-burst", "key bundle fetches per caller in a burst", false, false,
       positive_setting("key-fetch-rate-burst", &Settings::key_fetch_burst_per_caller)},
      {"key-fetch-target-rate-limit", "key bundle fetches per second per target account", false, false,
       positive_setting("key-fetch-target-rate-limit", &Settings::key_fetch_rate_per_target)},
      {"key-fetch-target-rate-burst", "key bundle fetches per target account in a burst", false, false,
       positive_setting("key-fetch-target-rate-burst", &Settings::key_fetch_burst_per_target)},
      {"e2e-post-rate-limit", "end-to-end messages posted per second per account", false, false,
       positive_setting("e2e-post-rate-limit", &Settings::e2e_post_rate_per_account)},
      {"e2e-post-rate-burst", "end-to-end messages posted per account in a burst", false, false,
       positive_setting("e2e-post-rate-burst", &Settings::e2e_post_burst_per_account)},
      {"e2e-retention-days", "days end-to-end ciphertext and welcomes are kept", false, false,
       count_setting("e2e-retention-days", &Settings::e2e_retention_days, 1, 3650)},
      {"mls-cipher-suite",
       "an MLS cipher suite key packages may use, as a number (repeatable; Ed25519 suites: 1, 3, 77-84; "
       "default 1 and 83, X-Wing)",
       true, false,
       [](Settings& s, const std::vector<std::string>& values) -> Result<void> {
         std::vector<std::uint16_t> out;
         for (const auto& raw : values) {
           for (const auto& v : split_list(raw)) {
             auto n = parse_uint("mls-cipher-suite", v, 1, 0xffff);
             if (!n) return n.error();
             if (!mls::is_ed25519_suite(static_cast<std::uint16_t>(*n))) {
               return invalid("mls-cipher-suite", v, "only Ed25519 suites are supported: 1, 3, 77-84");
             }
             out.push_back(static_cast<std::uint16_t>(*n));
           }
         }
         s.mls_cipher_suites = std::move(out);
         return ok();
       }},
      {"fcm-service-account", "Google service-account JSON file for FCM HTTP v1 (none: no FCM pushes)", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         if (v.empty()) return invalid("fcm-service-account", v, "must name a file");
         s.fcm_service_account_file = v;
         return ok();
       })},
      {"fcm-endpoint", "base URL of the FCM HTTP v1 API", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         if (v.rfind("https://", 0) != 0 && v.rfind("http://", 0) != 0)
           return invalid("fcm-endpoint", v, "expected an http(s) URL");
         s.fcm_endpoint = v;
         while (!s.fcm_endpoint.empty() && s.fcm_endpoint.back() == '/') s.fcm_endpoint.pop_back();
         return ok();
       })},
      {"vapid-key-file", "Web Push VAPID private key file (default DATA_DIR/vapid.json, created when missing)", false,
       false, scalar([](Settings& s, const std::string& v) -> Result<void> {
         s.vapid_key_file = v;
         return ok();
       })},
      {"vapid-subject", "contact in VAPID tokens: mailto:... or https://...", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         if (v.rfind("mailto:", 0) != 0 && v.rfind("https://", 0) != 0)
           return invalid("vapid-subject", v, "expected mailto:... or https://...");
         s.vapid_subject = v;
         return ok();
       })},
      {"notify-webhook-secret",
       "secret signing webhook pushes (secret: prefer the environment; default DATA_DIR/webhook-secret)", false, false,
       scalar([](Settings& s, const std::string& v) -> Result<void> {
         s.notify_webhook_secret = v;
         return ok();
       })},
      {"push-timeout-ms", "deadline of one push request (FCM, Web Push, webhook)", false, false,
       millis_setting("push-timeout-ms", &Settings::push_timeout)},
      {"push-max-retries", "retries of a push after a transient failure", false, false,
       count_setting("push-max-retries", &Settings::push_max_retries, 0, 10)},
      {"push-backoff-ms", "first pause before a push retry (doubles each time)", false, false,
       millis_setting("push-backoff-ms", &Settings::push_backoff)},
      {"push-retry-after-max-ms", "longest Retry-After a push retry honors", false, false,
       millis_setting("push-retry-after-max-ms", &Settings::push_retry_after_max)},
      {"notify-concurrency", "notification deliveries worked at once", false, false,
       count_setting("notify-concurrency", &Settings::notify_concurrency, 1, 1024)},
      {"test-hooks", "expose /v1/_test/* endpoints for the integration tests (never in production)", false, true,
       bool_setting("test-hooks", &Settings::test_hooks)},
  };
}

std::string env_name(const std::string& option) {
  std::string out = "GATEHOUSE_";
  for (char c : option) out += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string file_key(const std::string& option) {
  std::string out = option;
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

Result<std::vector<std::string>> toml_values(const std::string& key, const toml::node& node) {
  auto scalar_text = [&](const toml::node& n) -> std::optional<std::string> {
    if (auto s = n.value<std::string>()) return *s;
    if (n.is_boolean()) return *n.value<bool>() ? std::string("true") : std::string("false");
    if (n.is_integer()) return std::to_string(*n.value<std::int64_t>());
    if (n.is_floating_point()) return fmt::format("{}", *n.value<double>());
    return std::nullopt;
  };
  std::vector<std::string> out;
  if (const auto* arr = node.as_array()) {
    for (const auto& item : *arr) {
      auto text = scalar_text(item);
      if (!text)
        return bad_input("bad_configuration", "config key '" + key + "' must hold strings, numbers or booleans");
      out.push_back(*text);
    }
    return out;
  }
  if (const auto* table = node.as_table()) {
    // chain = { 1 = "http://..." } is the natural TOML for a map.
    for (const auto& [k, v] : *table) {
      auto text = scalar_text(v);
      if (!text) return bad_input("bad_configuration", "config key '" + key + "' must map to strings");
      out.push_back(std::string(k.str()) + "=" + *text);
    }
    return out;
  }
  auto text = scalar_text(node);
  if (!text) return bad_input("bad_configuration", "config key '" + key + "' has an unsupported type");
  out.push_back(*text);
  return out;
}

}  // namespace

std::string Settings::database_url() const {
  if (!database.empty()) return database;
  return "sqlite:" + data_dir + "/gatehouse.db";
}

std::map<std::string, std::string> environment_map() {
  std::map<std::string, std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) out.emplace(kv.substr(0, eq), kv.substr(eq + 1));
  }
  return out;
}

Result<Command> parse_command_line(int argc, const char* const* argv, const std::map<std::string, std::string>& env) {
  const auto table = options();
  CLI::App cli{"gatehouse: a self-hostable backend for Web3 communities", "gatehouse"};
  cli.require_subcommand(0, 1);
  std::string config_file;
  cli.add_option("--config", config_file, "TOML file with settings (keys as the flags, with _ for -)");
  std::map<std::string, std::vector<std::string>> flag_values;
  std::map<std::string, bool> flag_bools;
  Command command;
  std::string command_apikey_name;
  std::vector<std::string> command_apikey_scopes;
  for (const auto& o : table) {
    const std::string flag = "--" + o.name;
    const std::string help = o.help + " [env " + env_name(o.name) + "]";
    if (o.boolean) {
      cli.add_flag(flag, flag_bools[o.name], help);
    } else if (o.repeatable) {
      cli.add_option(flag, flag_values[o.name], help)->take_all()->allow_extra_args(false);
    } else {
      cli.add_option(flag, flag_values[o.name], help)
          ->expected(1)
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    }
  }
  auto* serve = cli.add_subcommand("serve", "run the server (all roles unless --roles picks some)")->fallthrough();
  auto* migrate = cli.add_subcommand("migrate", "apply database migrations and exit")->fallthrough();
  auto* version = cli.add_subcommand("version", "print the version and exit");
  auto* dev_chain =
      cli.add_subcommand("dev-chain", "start a local anvil with the demo contracts and print their addresses");
  DevChainOptions dev_chain_options;
  add_dev_chain_options(*dev_chain, dev_chain_options);
  auto* apikey = cli.add_subcommand("apikey", "manage bot API keys")->fallthrough()->require_subcommand(1);
  auto* apikey_create = apikey->add_subcommand("create", "create a key and print it once")->fallthrough();
  apikey_create->add_option("--name", command_apikey_name, "what the key is for")->required();
  apikey_create->add_option("--scope", command_apikey_scopes, "bot.read (default) or bot.write; repeatable")
      ->take_all();
  auto* apikey_list =
      apikey->add_subcommand("list", "list every key (id, name, scopes, created, revoked)")->fallthrough();
  auto* indexer = cli.add_subcommand("indexer", "chain indexer operations")->fallthrough()->require_subcommand(1);
  auto* indexer_status =
      indexer
          ->add_subcommand("status", "per chain and pipeline: checkpoint, head, lag, logs applied, reorgs, last error")
          ->fallthrough();
  std::uint64_t reindex_chain = 0;
  std::string reindex_pipeline;
  std::uint64_t reindex_from = 0;
  auto* indexer_reindex =
      indexer
          ->add_subcommand("reindex", "revert the projections above a block and replay it (the server keeps serving)")
          ->fallthrough();
  indexer_reindex->add_option("--chain-id", reindex_chain, "the chain")->required();
  indexer_reindex->add_option("--pipeline", reindex_pipeline, "one pipeline (default: all)");
  indexer_reindex->add_option("--from", reindex_from, "first block replayed")->required();
  std::uint64_t track_chain = 0;
  std::string track_pipeline;
  std::string track_address;
  std::uint64_t track_from = 0;
  auto* indexer_track =
      indexer
          ->add_subcommand("track",
                           "index a contract from a block: the running indexer backfills it alone, then follows it")
          ->fallthrough();
  indexer_track->add_option("--chain-id", track_chain, "the chain")->required();
  indexer_track->add_option("--pipeline", track_pipeline, "its pipeline (erc20, erc721, ...)")->required();
  indexer_track->add_option("--address", track_address, "the contract")->required();
  indexer_track->add_option("--from-block", track_from, "first block indexed (default 0)");
  std::string command_apikey_id;
  auto* apikey_revoke =
      apikey->add_subcommand("revoke", "revoke a key; it is refused from the next request on")->fallthrough();
  apikey_revoke->add_option("ID", command_apikey_id, "the key's id (from apikey list)")->required();

  auto* jobs = cli.add_subcommand("jobs", "scheduled jobs")->fallthrough()->require_subcommand(1);
  auto* jobs_list =
      jobs->add_subcommand("list", "every job: schedule, last run and its outcome, next run (UTC)")->fallthrough();
  std::string job_name;
  auto* jobs_run =
      jobs->add_subcommand("run", "run a job once now, unless a run of it is going on (exit 75)")->fallthrough();
  jobs_run->add_option("NAME", job_name, "the job (from jobs list)")->required();

  try {
    cli.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    command.name = "help";
    command.help_text = cli.help();
    return command;
  } catch (const CLI::ParseError& e) {
    std::string what = e.what();
    std::replace(what.begin(), what.end(), '\n', ' ');
    return bad_input("bad_command_line", what);
  }
  if (serve->parsed())
    command.name = "serve";
  else if (migrate->parsed())
    command.name = "migrate";
  else if (version->parsed())
    command.name = "version";
  else if (dev_chain->parsed()) {
    // The dev chain uses none of the server's settings.
    command.name = "dev-chain";
    command.dev_chain = dev_chain_options;
    return command;
  } else if (apikey_create->parsed()) {
    command.name = "apikey-create";
    command.apikey_name = command_apikey_name;
    command.apikey_scopes = command_apikey_scopes;
  } else if (indexer_status->parsed()) {
    command.name = "indexer-status";
  } else if (indexer_reindex->parsed()) {
    if (!reindex_pipeline.empty() && !chain::parse_pipeline(reindex_pipeline)) {
      return bad_input("bad_command_line", "--pipeline: one of erc20, erc721, erc1155, staking, multisend, uniswap_v2");
    }
    command.name = "indexer-reindex";
    command.indexer_chain = reindex_chain;
    command.indexer_pipeline = reindex_pipeline;
    command.indexer_from = reindex_from;
  } else if (indexer_track->parsed()) {
    if (!chain::parse_pipeline(track_pipeline)) {
      return bad_input("bad_command_line", "--pipeline: one of erc20, erc721, erc1155, staking, multisend, uniswap_v2");
    }
    if (!eth::parse_address(track_address)) return bad_input("bad_command_line", "--address: not an address");
    command.name = "indexer-track";
    command.indexer_chain = track_chain;
    command.indexer_pipeline = track_pipeline;
    command.indexer_address = track_address;
    command.indexer_from = track_from;
  } else if (jobs_list->parsed()) {
    command.name = "jobs-list";
  } else if (jobs_run->parsed()) {
    command.name = "jobs-run";
    command.job_name = job_name;
  } else if (apikey_list->parsed()) {
    command.name = "apikey-list";
  } else if (apikey_revoke->parsed()) {
    command.name = "apikey-revoke";
    command.apikey_id = command_apikey_id;
  } else {
    command.name = "help";
    command.help_text = cli.help();
    return command;
  }

  Settings& s = command.settings;
  // 1. The file (--config, else GATEHOUSE_CONFIG).
  if (config_file.empty()) {
    if (auto it = env.find("GATEHOUSE_CONFIG"); it != env.end()) config_file = it->second;
  }
  if (!config_file.empty()) {
    toml::table doc;
    try {
      doc = toml::parse_file(config_file);
    } catch (const toml::parse_error& e) {
      const auto& src = e.source();
      return bad_input("bad_configuration", fmt::format("cannot read config file {}: {} (line {})", config_file,
                                                        e.description(), src.begin.line));
    }
    for (const auto& [key, node] : doc) {
      const std::string k(key.str());
      auto it = std::find_if(table.begin(), table.end(),
                             [&](const Option& o) { return file_key(o.name) == k || o.name == k; });
      if (it == table.end())
        return bad_input("bad_configuration", fmt::format("unknown key '{}' in config file {}", k, config_file));
      auto values = toml_values(k, node);
      if (!values) return values.error();
      if (auto r = it->set(s, *values); !r) return r.error();
    }
  }
  // 2. The environment.
  for (const auto& o : table) {
    if (auto it = env.find(env_name(o.name)); it != env.end()) {
      if (auto r = o.set(s, {it->second}); !r) {
        Error e = r.error();
        e.message += " from " + env_name(o.name);
        return e;
      }
    }
  }
  // 3. The flags.
  for (const auto& o : table) {
    auto* opt = cli.get_option("--" + o.name);
    if (opt->count() == 0) continue;
    const std::vector<std::string> values =
        o.boolean ? std::vector<std::string>{flag_bools[o.name] ? "true" : "false"} : flag_values[o.name];
    if (auto r = o.set(s, values); !r) return r.error();
  }
  if (s.body_budget_bytes < s.max_body_bytes) {
    return bad_input("bad_configuration", fmt::format("body-budget-bytes ({}) must be at least max-body-bytes ({})",
                                                      s.body_budget_bytes, s.max_body_bytes));
  }
  return command;
}

}  // namespace gh::app
