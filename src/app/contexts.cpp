#include "app/contexts.hpp"

#include <algorithm>

#include "app/test_hooks_module.hpp"
#include "auth/module.hpp"
#include "bus/migrations.hpp"
#include "chain/module.hpp"
#include "community/module.hpp"
#include "e2e/module.hpp"
#include "eth/address.hpp"
#include "jobs/migrations.hpp"
#include "messaging/module.hpp"
#include "net/ip_address.hpp"
#include "notify/module.hpp"
#include "realtime/module.hpp"

namespace gh::app {
namespace {

net::RateLimit rate(double per_second, double burst) {
  return net::RateLimit{per_second, burst, 100'000};
}

auth::AuthModuleSettings auth_settings(const Settings& s) {
  auth::AuthModuleSettings m;
  auto& a = m.auth;
  a.siwe_domains = s.siwe_domains;
  if (a.siwe_domains.empty() && s.listen_port != 0) {
    // Out of the box the server accepts sign-ins for itself on this machine; operators list
    // their public domain(s) with --siwe-domain.
    a.siwe_domains = {"localhost:" + std::to_string(s.listen_port), "127.0.0.1:" + std::to_string(s.listen_port)};
  }
  a.siwe_http_domains = s.siwe_http_domains;
  for (const auto& chain : s.chains) a.chain_ids.insert(chain.first);
  a.session_ttl = s.session_ttl;
  a.session_retention = s.session_retention;
  a.push_targets.allow_http = s.outbound_allow_http;
  a.push_targets.allowed_networks = *net::parse_networks(s.outbound_allow_networks);  // validated by settings
  m.sign_in.nonce_per_ip = rate(s.signin_rate_per_ip, s.signin_burst_per_ip);
  m.sign_in.verify_per_ip = m.sign_in.nonce_per_ip;
  m.sign_in.verify_per_address = rate(s.signin_rate_per_address, s.signin_burst_per_address);
  m.key_fetch.per_caller = rate(s.key_fetch_rate_per_caller, s.key_fetch_burst_per_caller);
  m.key_fetch.per_target = rate(s.key_fetch_rate_per_target, s.key_fetch_burst_per_target);
  a.mls_cipher_suites = s.mls_cipher_suites;
  return m;
}

e2e::E2eModuleSettings e2e_settings(const Settings& s) {
  e2e::E2eModuleSettings m;
  m.e2e.retention = std::chrono::hours(24 * static_cast<std::int64_t>(s.e2e_retention_days));
  m.limits.post_per_account = rate(s.e2e_post_rate_per_account, s.e2e_post_burst_per_account);
  return m;
}

chain::ChainModuleSettings chain_settings(const Settings& s) {
  chain::ChainModuleSettings m;
  m.run_indexer = s.has(Role::indexer);
  m.alchemy_signing_key = s.alchemy_signing_key;
  for (const auto& chain : s.chains) {
    chain::ChainIndexSettings c;
    c.chain_id = chain.first;
    // A local dev chain has no reorgs worth waiting for; a public one does.
    c.confirmations = chain.first == 31337 ? 0 : 12;
    if (auto it = s.chain_confirmations.find(chain.first); it != s.chain_confirmations.end())
      c.confirmations = it->second;
    if (auto it = s.chain_start_blocks.find(chain.first); it != s.chain_start_blocks.end()) c.start_block = it->second;
    if (s.chain_max_log_span > 0) {
      c.max_span = s.chain_max_log_span;
      c.initial_span = std::min(c.initial_span, c.max_span);
    }
    for (const auto& contract : s.chain_contracts) {
      if (contract.chain_id != chain.first) continue;
      const auto pipeline = *chain::parse_pipeline(contract.pipeline);  // validated by settings
      const auto address = *eth::parse_address(contract.address);
      auto& listed = c.contracts[pipeline];  // the pipeline follows listed contracts only
      if (contract.start_block) {
        c.tracked.push_back({pipeline, address, *contract.start_block});
      } else {
        listed.push_back(address);
      }
    }
    m.chains.emplace(chain.first, std::move(c));
  }
  return m;
}

}  // namespace

messaging::MessagingModuleSettings messaging_settings(const Settings& s) {
  messaging::MessagingModuleSettings m;
  m.send_per_account = rate(s.message_rate_per_account, s.message_burst_per_account);
  m.test_hooks = s.test_hooks;
  m.run_poll_results = s.has(Role::worker);
  m.search_window = s.search_window;
  m.search_channels = s.search_channels;
  m.search_per_account = rate(s.search_rate_per_account, s.search_burst_per_account);
  return m;
}

notify::NotifyModuleSettings notify_settings(const Settings& s) {
  notify::NotifyModuleSettings m;
  m.run_router = s.has(Role::worker);
  m.fcm_service_account_file = s.fcm_service_account_file;
  m.fcm_endpoint = s.fcm_endpoint;
  m.vapid_key_file = s.vapid_key_file.empty() ? s.data_dir + "/vapid.json" : s.vapid_key_file;
  m.vapid_subject = s.vapid_subject;
  m.webhook_secret = s.notify_webhook_secret;
  m.webhook_secret_file = s.data_dir + "/webhook-secret";
  m.push_timeout = s.push_timeout;
  m.retry.max_retries = static_cast<int>(s.push_max_retries);
  m.retry.backoff_base = s.push_backoff;
  m.retry.retry_after_max = s.push_retry_after_max;
  m.router.concurrency = s.notify_concurrency;
  m.outbound.allow_http = s.outbound_allow_http;
  m.outbound.allowed_networks = *net::parse_networks(s.outbound_allow_networks);  // validated by settings
  return m;
}

community::CommunityModuleSettings community_settings(const Settings& s) {
  community::CommunityModuleSettings m;
  m.run_reevaluator = s.has(Role::worker);
  return m;
}

std::vector<context::ContextModule> context_modules(const Settings& settings) {
  std::vector<context::ContextModule> modules;
  modules.push_back(auth::make_module(auth_settings(settings)));
  modules.push_back(chain::make_module(chain_settings(settings)));
  modules.push_back(community::make_module(community_settings(settings)));
  realtime::GatewaySettings gateway;
  gateway.max_sockets_per_account = settings.ws_max_sockets_per_account;
  gateway.stall_timeout_ms = settings.ws_resume_stall_timeout.count();
  gateway.fanout_shards = settings.io_threads;
  modules.push_back(realtime::make_module(gateway));
  modules.push_back(messaging::make_module(messaging_settings(settings)));
  modules.push_back(e2e::make_module(e2e_settings(settings)));
  modules.push_back(notify::make_module(notify_settings(settings)));
  if (settings.test_hooks) modules.push_back(test_hooks_module());
  return modules;
}

std::vector<store::MigrationSet> all_migrations(const std::vector<context::ContextModule>& modules) {
  std::vector<store::MigrationSet> sets{bus::migrations(), jobs::migrations()};
  for (const auto& m : modules) sets.insert(sets.end(), m.migrations.begin(), m.migrations.end());
  return sets;
}

}  // namespace gh::app
