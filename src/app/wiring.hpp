#pragma once
// The wiring of `gatehouse serve`: the state the process shares between its bring-up, its routes
// and its shutdown, and the steps that build it (ops routes, metrics, the database, the contexts
// in module order, the bus, then the route table). server_app.cpp owns the lifecycle around it
// (signals, the bring-up retry, the drain).
#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "app/settings.hpp"
#include "context/module.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/task.hpp"
#include "store/database.hpp"

namespace gh::bus {
class Dispatcher;
}
namespace gh::jobs {
class Scheduler;
}
namespace gh::net {
class Dispatcher;
class Router;
}  // namespace gh::net
namespace gh::metrics {
class Registry;
}
namespace gh::rpc {
class RpcClient;
}

namespace gh::app {

/// What the routes and the shutdown share. The database appears once it is open and migrated.
struct AppState {
  const Settings* settings = nullptr;
  BlockingPool* pool = nullptr;
  metrics::Registry* registry = nullptr;
  Executor executor;
  std::atomic<bool> ready{false};
  std::atomic<bool> draining{false};
  std::atomic<bool> stopping{false};
  std::atomic<int> fatal_exit{0};
  std::shared_ptr<store::Database> db;             // written once before `ready` is set
  std::unique_ptr<bus::Dispatcher> bus;            // likewise, on worker processes
  std::atomic<bus::Dispatcher*> bus_ptr{nullptr};  // what I/O threads read to wake the bus
  std::unique_ptr<jobs::Scheduler> jobs;           // on processes with the jobs role
  net::Dispatcher* http = nullptr;
  SystemClock clock;
  std::map<std::uint64_t, std::unique_ptr<rpc::RpcClient>> chains;
  std::vector<context::ContextModule> modules;
  context::ServiceRegistry services;

  AppState();
  ~AppState();
  AppState(const AppState&) = delete;
  AppState& operator=(const AppState&) = delete;

  /// The database once it is open and migrated; 503 not_ready before.
  Result<store::Database*> database() const {
    if (!ready.load()) return make_error(ErrorKind::unavailable, "not_ready", "the database is not ready yet");
    return db.get();
  }
};

/// Applies --log-level.
void apply_log_level(const Settings& s);
/// The database pool settings from the process's settings.
store::DatabaseSettings database_settings(const Settings& s);
/// /healthz, /readyz, /metrics: served from the first moment, before the database is up.
void add_ops_routes(net::Router& router, AppState& state);
/// Declares the routes anyone may call without credentials (the one list, in wiring.cpp); every
/// other route gets 401 from the dispatcher for a request that carries none.
void declare_public_routes(net::Router& router);
/// GET /metrics rendering `registry` (on the main listener, or alone on --metrics-listen's).
void add_metrics_route(net::Router& router, metrics::Registry& registry);
/// The database and blocking-pool metric families.
void add_database_metrics(AppState& state);
/// Opens and migrates the database for a one-shot command; nullptr after printing why to stderr
/// (exit_code 2 for a bad URL, 1 otherwise). Quiets the log to warnings so stdout is the output.
std::unique_ptr<store::Database> open_for_command(const Settings& settings, int& exit_code);
/// One bring-up attempt: opens and migrates the database, then starts every context, the bus
/// and finally publishes the full route table. false with `final_failure` unset when the
/// database is not reachable yet (retry later); with it set when retrying cannot help.
bool try_bring_up(AppState& state, bool& final_failure);

}  // namespace gh::app
