#include "app/contexts.hpp"

#include "app/test_hooks_module.hpp"
#include "auth/module.hpp"
#include "bus/migrations.hpp"

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
  m.sign_in.nonce_per_ip = rate(s.signin_rate_per_ip, s.signin_burst_per_ip);
  m.sign_in.verify_per_ip = m.sign_in.nonce_per_ip;
  m.sign_in.verify_per_address = rate(s.signin_rate_per_address, s.signin_burst_per_address);
  m.key_fetch.per_caller = rate(s.key_fetch_rate_per_caller, s.key_fetch_burst_per_caller);
  m.key_fetch.per_target = rate(s.key_fetch_rate_per_target, s.key_fetch_burst_per_target);
  return m;
}

}  // namespace

std::vector<context::ContextModule> context_modules(const Settings& settings) {
  std::vector<context::ContextModule> modules;
  modules.push_back(auth::make_module(auth_settings(settings)));
  if (settings.test_hooks) modules.push_back(test_hooks_module());
  return modules;
}

std::vector<store::MigrationSet> all_migrations(const std::vector<context::ContextModule>& modules) {
  std::vector<store::MigrationSet> sets{bus::migrations()};
  for (const auto& m : modules) sets.insert(sets.end(), m.migrations.begin(), m.migrations.end());
  return sets;
}

}  // namespace gh::app
