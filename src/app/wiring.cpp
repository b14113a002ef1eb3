#include "app/wiring.hpp"

#include <cstdio>
#include <stdexcept>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "app/contexts.hpp"
#include "app/scheduled_jobs.hpp"
#include "app/version.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "jobs/scheduler.hpp"
#include "net/dispatcher.hpp"
#include "net/json.hpp"
#include "net/router.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::app {
namespace {

namespace json = boost::json;

/// The routes anyone may call without credentials, and why: the one list. Every other route gets
/// 401 from the dispatcher for a request without credentials, and its handler must answer 401 to
/// invalid or revoked ones (tests/integration/authz.test.mjs walks the whole route table).
struct PublicRoute {
  const char* method;
  const char* path;
  const char* why;
};
constexpr PublicRoute public_routes[] = {
    {"GET", "/healthz", "liveness probe"},
    {"GET", "/readyz", "readiness probe"},
    {"GET", "/metrics", "Prometheus scrape (--metrics-listen moves it to a private listener)"},
    {"POST", "/v1/auth/nonce", "the first step of signing in"},
    {"POST", "/v1/auth/verify", "signing in"},
    {"GET", "/v1/accounts/{address}/holdings", "public on-chain data"},
    {"GET", "/v1/indexer/status", "public indexer progress"},
    {"POST", "/v1/webhooks/alchemy", "authenticated by its own HMAC signature"},
    {"POST", "/v1/_test/events", "--test-hooks only"},
    {"POST", "/v1/_test/publish", "--test-hooks only"},
    {"GET", "/v1/_test/effects", "--test-hooks only"},
    {"GET", "/v1/_test/outbox", "--test-hooks only"},
    {"GET", "/v1/_test/sleep", "--test-hooks only"},
    {"GET", "/v1/_test/routes", "--test-hooks only"},
    {"POST", "/v1/_test/graphql", "--test-hooks only"},
    {"GET", "/v1/_test/graphql", "--test-hooks only"},
    {"GET", "/v1/_test/graphql/sample", "--test-hooks only"},
    {"POST", "/v1/_test/channel-access", "--test-hooks only"},
};

// --test-hooks: the route table with what is declared public, walked by the authorization matrix.
void add_route_table_hook(net::Router& router, AppState& state) {
  router.add("GET", "/v1/_test/routes", [&state](net::Request&) -> Task<Result<net::Response>> {
    json::array routes;
    for (const auto& r : state.http->routes()) {
      routes.push_back(json::object{{"method", r.method}, {"path", r.path}, {"public", r.is_public}});
    }
    co_return net::json_response(200, json::object{{"routes", routes}});
  });
}

// The contexts, once the database is there: each module starts (in list order), then the bus
// starts with every consumer, and only then is the full route table published, so that no
// handler can run before everything it uses exists.
void wire_contexts(AppState& state, store::Database& db) {
  const auto& s = *state.settings;
  context::ContextEnv env{db,
                          *state.pool,
                          state.clock,
                          *state.registry,
                          state.executor,
                          [&state](std::uint64_t chain_id) -> rpc::RpcClient* {
                            auto it = state.chains.find(chain_id);
                            return it == state.chains.end() ? nullptr : it->second.get();
                          },
                          [&state] {
                            if (auto* bus = state.bus_ptr.load(std::memory_order_acquire)) bus->wake();
                          },
                          state.services};
  for (auto& m : state.modules) {
    if (m.start) m.start(env);
    if (m.metrics) m.metrics(*state.registry);
  }
  std::vector<bus::Consumer> consumers;
  for (auto& m : state.modules) {
    if (!m.consumers) continue;
    for (auto& c : m.consumers()) consumers.push_back(std::move(c));
  }
  std::vector<std::string> consumer_names;
  consumer_names.reserve(consumers.size());
  for (const auto& c : consumers) consumer_names.push_back(c.name);
  if (s.has(Role::worker)) {
    state.bus = std::make_unique<bus::Dispatcher>(state.executor, db, *state.pool, *state.registry);
    for (auto& c : consumers) state.bus->add(std::move(c));
    state.bus->start();
    state.bus_ptr.store(state.bus.get(), std::memory_order_release);
  }
  if (s.has(Role::jobs)) {
    state.jobs = std::make_unique<jobs::Scheduler>(state.executor, db, *state.pool, state.clock, *state.registry,
                                                   scheduler_settings(s));
    auto platform = platform_jobs(s, db, *state.pool, state.clock, std::move(consumer_names));
    if (auto added = add_all_jobs(*state.jobs, state.modules, std::move(platform)); !added) {
      throw std::runtime_error(added.error().message);
    }
    state.jobs->start();
  }
  net::Router router;
  add_ops_routes(router, state);
  if (s.has(Role::api)) {
    for (auto& m : state.modules) {
      if (m.routes) m.routes(router);
    }
  }
  if (s.test_hooks) add_route_table_hook(router, state);
  declare_public_routes(router);
  state.http->set_router(std::move(router));
  state.http->set_unmatched_error(std::nullopt);
}

}  // namespace

AppState::AppState() = default;
AppState::~AppState() = default;

void apply_log_level(const Settings& s) {
  log::Level level = log::Level::info;
  log::parse_level(s.log_level, level);
  log::set_level(level);
}

store::DatabaseSettings database_settings(const Settings& s) {
  store::DatabaseSettings d;
  d.pool_size = s.db_pool_size;
  d.statement_cache = s.db_statement_cache;
  return d;
}

void add_ops_routes(net::Router& router, AppState& state) {
  router.add("GET", "/healthz", [](net::Request&) -> Task<Result<net::Response>> {
    co_return net::json_response(200, json::object{{"status", "ok"}, {"version", version_string()}});
  });
  router.add("GET", "/readyz", [&state](net::Request&) -> Task<Result<net::Response>> {
    if (state.draining) co_return make_error(ErrorKind::unavailable, "draining", "the server is shutting down");
    auto db = state.database();
    if (!db) co_return db.error();
    const auto sets = all_migrations(state.modules);
    bool reachable = false, migrated = false;
    co_await state.pool->run([&] {
      try {
        reachable = (*db)->ping();
        migrated = reachable && (*db)->migrated(sets);
      } catch (const std::exception&) {
        // Reported as not ready below; the cause is in the database's own log lines.
      }
    });
    if (!reachable) co_return make_error(ErrorKind::unavailable, "not_ready", "the database is not reachable");
    if (!migrated) co_return make_error(ErrorKind::unavailable, "not_ready", "the database is not migrated");
    json::object checks{
        {"database", "ok"}, {"migrations", "ok"}, {"bus", state.bus_ptr.load() != nullptr ? "ok" : "off"}};
    co_return net::json_response(200, json::object{{"status", "ready"}, {"checks", checks}});
  });
  // With --metrics-listen, /metrics is served on that listener only (see run_server).
  if (state.settings->metrics_listen_host.empty()) add_metrics_route(router, *state.registry);
}

void declare_public_routes(net::Router& router) {
  for (const auto& r : public_routes) router.declare_public(r.method, r.path);  // absent ones are skipped
}

void add_metrics_route(net::Router& router, metrics::Registry& registry) {
  router.add("GET", "/metrics", [&registry](net::Request&) -> Task<Result<net::Response>> {
    co_return net::Response::text(200, registry.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

void add_database_metrics(AppState& state) {
  auto stats = [&state]() -> std::optional<store::PoolStats> {
    if (!state.ready.load()) return std::nullopt;
    return state.db->stats();
  };
  auto& r = *state.registry;
  r.callback("gatehouse_db_pool_connections", "Database connections by state.", false, [stats] {
    std::vector<metrics::Sample> out;
    if (auto s = stats()) {
      out.push_back({{{"state", "in_use"}}, static_cast<double>(s->in_use)});
      out.push_back({{{"state", "idle"}}, static_cast<double>(s->idle)});
    }
    return out;
  });
  r.callback("gatehouse_db_pool_acquired_total", "Database connections handed to transactions.", true, [stats] {
    auto s = stats();
    return std::vector<metrics::Sample>{{{}, s ? static_cast<double>(s->acquired_total) : 0.0}};
  });
  r.callback("gatehouse_db_pool_waits_total", "Transactions that waited for a free connection.", true, [stats] {
    auto s = stats();
    return std::vector<metrics::Sample>{{{}, s ? static_cast<double>(s->waits_total) : 0.0}};
  });
  r.callback("gatehouse_db_pool_timeouts_total", "Transactions that gave up waiting for a connection.", true, [stats] {
    auto s = stats();
    return std::vector<metrics::Sample>{{{}, s ? static_cast<double>(s->timeouts_total) : 0.0}};
  });
  r.callback("gatehouse_db_tx_retries_total", "Transactions run again after a busy or serialization failure.", true,
             [stats] {
               auto s = stats();
               return std::vector<metrics::Sample>{{{}, s ? static_cast<double>(s->retries_total) : 0.0}};
             });
  r.callback("gatehouse_blocking_pool_pending", "Blocking jobs running or queued.", false, [&state] {
    return std::vector<metrics::Sample>{{{}, static_cast<double>(state.pool->pending())}};
  });
  r.callback("gatehouse_ready", "1 when the database is open and migrated.", false, [&state] {
    return std::vector<metrics::Sample>{{{}, state.ready.load() ? 1.0 : 0.0}};
  });
}

std::unique_ptr<store::Database> open_for_command(const Settings& settings, int& exit_code) {
  apply_log_level(settings);
  log::set_level(log::Level::warn);  // stdout carries the command's output alone
  try {
    auto db = store::Database::open(settings.database_url(), database_settings(settings));
    db->migrate(all_migrations(context_modules(settings)));
    return db;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "gatehouse: %s\n", e.what());
    exit_code = 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gatehouse: cannot open the database: %s\n", e.what());
    exit_code = 1;
  }
  return nullptr;
}

// Opens and migrates the database, then starts the bus on worker processes. Returns false when
// the failure is final (a bad URL or a migration conflict); connection failures are retried.
bool try_bring_up(AppState& state, bool& final_failure) {
  const auto& s = *state.settings;
  try {
    auto db = std::shared_ptr<store::Database>(store::Database::open(s.database_url(), database_settings(s)));
    db->migrate(all_migrations(state.modules));
    state.db = db;
  } catch (const std::invalid_argument& e) {
    log::error("bad database configuration", {{"error", e.what()}});
    final_failure = true;
    state.fatal_exit = 2;
  } catch (const store::MigrationError& e) {
    log::error("migrations cannot be applied", {{"error", e.what()}});
    final_failure = true;
    state.fatal_exit = 1;
  } catch (const std::exception& e) {
    log::warn("database not ready; retrying", {{"error", e.what()}});
  }
  if (!state.db) return false;
  // Past this point a failure is a defect, not a database that is late: it is final.
  try {
    wire_contexts(state, *state.db);
  } catch (const std::exception& e) {
    log::error("a context failed to start", {{"error", e.what()}});
    final_failure = true;
    state.fatal_exit = 1;
    return false;
  }
  state.ready = true;
  log::info("database ready", {{"dialect", store::to_string(state.db->dialect())}});
  return true;
}

}  // namespace gh::app
