#pragma once
// The one shape every context module takes. A context (auth, chain, community, ...) describes
// itself as a ContextModule: its name, its migrations, and functions that the composition root
// (src/app) calls in a fixed order: start (build the context's objects once the database is up),
// metrics, consumers, jobs, routes. Adding a context to the product is one line in
// app/contexts.cpp. Kept small on purpose: no Beast, no Asio beyond the Task alias.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <typeindex>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"
#include "store/database.hpp"

namespace gh::net {
class Router;
}
namespace gh::bus {
struct Consumer;
}
namespace gh::metrics {
class Registry;
}
namespace gh::rpc {
class RpcClient;
}

namespace gh::context {

/// Services a context publishes for the contexts after it (e.g. auth's request authentication),
/// by type. Filled during start, in module order; read-only once the routes are published.
class ServiceRegistry {
 public:
  /// Publishes `service` (non-owning; its module keeps it alive for the process's lifetime).
  template <class T>
  void provide(T& service) {
    m_services[std::type_index(typeid(T))] = &service;
  }
  /// The service of type T, or nullptr when no earlier module provided one.
  template <class T>
  T* find() const {
    auto it = m_services.find(std::type_index(typeid(T)));
    return it == m_services.end() ? nullptr : static_cast<T*>(it->second);
  }

 private:
  std::unordered_map<std::type_index, void*> m_services;
};

/// What a context may use, handed to its start function once the database is open and migrated.
/// Everything here outlives the context.
struct ContextEnv {
  store::Database& db;
  BlockingPool& pool;
  const Clock& clock;
  metrics::Registry& registry;
  Executor executor;
  /// The JSON-RPC client of a configured chain, or nullptr.
  std::function<rpc::RpcClient*(std::uint64_t chain_id)> chain;
  /// Call after committing events so the bus delivers them without waiting for its next poll.
  /// Safe from any thread; a no-op on processes without the worker role.
  std::function<void()> events_published;
  ServiceRegistry& services;
};

/// A scheduled task of a context (purges, re-checks, reconciliations), run by the jobs scheduler
/// (src/jobs) on processes with the jobs role, and by `gatehouse jobs run NAME`. At most one run
/// of a job happens at a time across every node; a fire time missed while the job ran or while
/// no node was up is skipped, never stacked. `run` must be safe to run again after a crash.
struct Job {
  /// Unique and stable (it keys the lease, history and metrics): "context.what", e.g.
  /// "auth.nonces_purge".
  std::string name;
  /// When it runs, in UTC: a five-field cron expression (minute hour day-of-month month
  /// day-of-week, with *, */n, a-b, a-b/n, lists and names) or @hourly, @daily, @weekly,
  /// @monthly, @yearly. See src/jobs/README.md.
  std::string schedule;
  /// One line for `gatehouse jobs list`.
  std::string description;
  /// The work; an error Result (or an exception) is a failed run, recorded with its message.
  std::function<Task<Result<void>>()> run;
};

/// The description of one context. Only name and migrations are required; each function slot
/// may be left empty. The composition root calls, in this order and once per process:
/// start, metrics, consumers (worker role), jobs (jobs role), routes (api role). Routes are
/// published only after every module has started, so a handler never sees a half-built context.
struct ContextModule {
  ContextModule() = default;
  /// A description with its name and migrations and no slot filled yet.
  ContextModule(std::string module_name, std::vector<store::MigrationSet> module_migrations)
      : name(std::move(module_name)), migrations(std::move(module_migrations)) {}

  std::string name;
  std::vector<store::MigrationSet> migrations;
  /// Builds the context's objects; publish services for later modules on env.services. A
  /// failure is fatal to the start (exit 1): a context that cannot exist must not half-serve.
  std::function<void(ContextEnv& env)> start;
  /// Registers the context's metric families.
  std::function<void(metrics::Registry& registry)> metrics;
  /// The bus consumers of the context.
  std::function<std::vector<bus::Consumer>()> consumers;
  /// The scheduled jobs of the context. May be called before start to list them (their names and
  /// schedules); their run functions are only called after start.
  std::function<std::vector<Job>()> jobs;
  /// Registers the context's HTTP routes.
  std::function<void(net::Router& router)> routes;
};

/// The objects of a running context, shared by the slots of its description (each slot captures
/// the pointer, so they live as long as the description): a default-built Runtime whose
/// `settings` member holds `settings`.
template <class Runtime, class Settings>
std::shared_ptr<Runtime> make_runtime(Settings settings) {
  auto runtime = std::make_shared<Runtime>();
  runtime->settings = std::move(settings);
  return runtime;
}

}  // namespace gh::context
