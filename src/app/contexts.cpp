#include "app/contexts.hpp"

#include "app/test_hooks_module.hpp"
#include "auth/module.hpp"
#include "bus/migrations.hpp"
#include "chain/module.hpp"
#include "community/module.hpp"
#include "eth/address.hpp"
#include "messaging/module.hpp"
#include "net/ip_address.hpp"
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
  a.push_targets.allow_http = s.outbound_allow_http;
  a.push_targets.allowed_networks = *net::parse_networks(s.outbound_allow_networks);  // validated by settings
  m.sign_in.nonce_per_ip = rate(s.signin_rate_per_ip, s.signin_burst_per_ip);
  m.sign_in.verify_per_ip = m.sign_in.nonce_per_ip;
  m.sign_in.verify_per_address = rate(s.signin_rate_per_address, s.signin_burst_per_address);
  m.key_fetch.per_caller = rate(s.key_fetch_rate_per_caller, s.key_fetch_burst_per_caller);
  m.key_fetch.per_target = rate(s.key_fetch_rate_per_target, s.key_fetch_burst_per_target);
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

messaging::MessagingModuleSettings messaging_settings(const Settings& s) {
  messaging::MessagingModuleSettings m;
  m.send_per_account = rate(s.message_rate_per_account, s.message_burst_per_account);
  m.test_hooks = s.test_hooks;
  return m;
}

}  // namespace

std::vector<context::ContextModule> context_modules(const Settings& settings) {
  std::vector<context::ContextModule> modules;
  modules.push_back(auth::make_module(auth_settings(settings)));
  modules.push_back(chain::make_module(chain_settings(settings)));
  modules.push_back(community::make_module(community::CommunityModuleSettings{settings.has(Role::worker)}));
  modules.push_back(realtime::make_module(realtime::GatewaySettings{}));
  modules.push_back(messaging::make_module(messaging_settings(settings)));
  if (settings.test_hooks) modules.push_back(test_hooks_module());
  return modules;
}

std::vector<store::MigrationSet> all_migrations(const std::vector<context::ContextModule>& modules) {
  std::vector<store::MigrationSet> sets{bus::migrations()};
  for (const auto& m : modules) sets.insert(sets.end(), m.migrations.begin(), m.migrations.end());
  return sets;
}

}  // namespace gh::app
