#include "app/server_app.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "app/version.hpp"
#include "auth/migrations.hpp"
#include "auth/routes.hpp"
#include "auth/service.hpp"
#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "core/blocking_pool.hpp"
#include "core/io_runtime.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "net/dispatcher.hpp"
#include "net/json.hpp"
#include "net/router.hpp"
#include "net/server.hpp"
#include "rpc/rpc_client.hpp"
#include "testhooks/migrations.hpp"

namespace gh::app {
namespace {

namespace json = boost::json;

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
  std::shared_ptr<store::Database> db;  // written once before `ready` is set
  std::unique_ptr<bus::Dispatcher> bus;  // likewise, on worker processes
  net::Dispatcher* http = nullptr;
  SystemClock clock;
  std::map<std::uint64_t, std::unique_ptr<rpc::RpcClient>> chains;
  std::unique_ptr<auth::SignatureVerifier> verifier;
  std::unique_ptr<auth::AuthService> auth;
  std::unique_ptr<auth::RequestAuth> request_auth;

  Result<store::Database*> database() const {
    if (!ready.load()) return make_error(ErrorKind::unavailable, "not_ready", "the database is not ready yet");
    return db.get();
  }
};

void apply_log_level(const Settings& s) {
  log::Level level = log::Level::info;
  log::parse_level(s.log_level, level);
  log::set_level(level);
}

store::DatabaseSettings database_settings(const Settings& s) {
  store::DatabaseSettings d;
  d.pool_size = s.db_pool_size;
  return d;
}

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
    {"POST", "/v1/_test/events", "--test-hooks only"},
    {"GET", "/v1/_test/effects", "--test-hooks only"},
    {"GET", "/v1/_test/outbox", "--test-hooks only"},
    {"GET", "/v1/_test/sleep", "--test-hooks only"},
    {"GET", "/v1/_test/routes", "--test-hooks only"},
};

void declare_public_routes(net::Router& router) {
  for (const auto& r : public_routes) router.declare_public(r.method, r.path);  // absent ones are skipped
}

void add_metrics_route(net::Router& router, metrics::Registry& registry) {
  router.add("GET", "/metrics", [&registry](net::Request&) -> Task<Result<net::Response>> {
    co_return net::Response::text(200, registry.render(), "text/plain; version=0.0.4; charset=utf-8");
  });
}

void add_ops_routes(net::Router& router, AppState& state) {
  router.add("GET", "/healthz", [](net::Request&) -> Task<Result<net::Response>> {
    co_return net::json_response(200, json::object{{"status", "ok"}, {"version", version_string()}});
  });
  router.add("GET", "/readyz", [&state](net::Request&) -> Task<Result<net::Response>> {
    if (state.draining) co_return make_error(ErrorKind::unavailable, "draining", "the server is shutting down");
    auto db = state.database();
    if (!db) co_return db.error();
    const auto sets = all_migrations(*state.settings);
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
    json::object checks{{"database", "ok"}, {"migrations", "ok"}, {"bus", state.bus ? "ok" : "off"}};
    co_return net::json_response(200, json::object{{"status", "ready"}, {"checks", checks}});
  });
  // With --metrics-listen, /metrics is served on that listener only (see run_server).
  if (state.settings->metrics_listen_host.empty()) add_metrics_route(router, *state.registry);
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
  r.callback("gatehouse_ready", "1 when the database is open and migrated.", false,
             [&state] { return std::vector<metrics::Sample>{{{}, state.ready.load() ? 1.0 : 0.0}}; });
}

// --test-hooks: endpoints and a consumer that let the integration tests prove delivery guarantees
// through the real binary (publish, crash, restart, count effects) and drain a slow request.
void add_test_hooks(net::Router& router, AppState& state) {
  router.add("POST", "/v1/_test/events", [&state](net::Request& req) -> Task<Result<net::Response>> {
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* n = body->if_contains("n");
    if (!n || !n->is_int64()) co_return bad_input("invalid_field", "n must be an integer");
    auto db = state.database();
    if (!db) co_return db.error();
    auto event_id = co_await state.pool->run([&] {
      return (*db)->transact([&](store::Tx& tx) {
        return bus::publish(tx, {"testhooks.recorded", "test", json::serialize(*body)});
      });
    });
    if (!event_id) co_return event_id.error();
    if (state.bus) state.bus->wake();
    co_return net::json_response(201, json::object{{"event_id", *event_id}});
  });
  router.add("GET", "/v1/_test/effects", [&state](net::Request&) -> Task<Result<net::Response>> {
    auto db = state.database();
    if (!db) co_return db.error();
    auto rows = co_await state.pool->run([&] {
      return (*db)->transact(
          [](store::Tx& tx) { return tx.query("SELECT event_id, n, applied_count FROM testhooks_effects ORDER BY n"); },
          store::TxOptions{true});
    });
    json::array effects;
    for (const auto& row : rows) {
      effects.push_back(json::object{
          {"event_id", row.get_text(0)}, {"n", row.get_int(1)}, {"applied_count", row.get_int(2)}});
    }
    co_return net::json_response(200, json::object{{"effects", effects}});
  });
  router.add("GET", "/v1/_test/outbox", [&state](net::Request& req) -> Task<Result<net::Response>> {
    auto db = state.database();
    if (!db) co_return db.error();
    const std::string topic(req.query_param("topic").value_or(""));
    auto rows = co_await state.pool->run([&] {
      return (*db)->transact(
          [&](store::Tx& tx) {
            return tx.query("SELECT event_id, topic, ordering_key, payload FROM bus_outbox WHERE topic = $1 ORDER BY id",
                            {topic});
          },
          store::TxOptions{true});
    });
    json::array events;
    for (const auto& row : rows) {
      events.push_back(json::object{{"event_id", row.get_text(0)},
                                    {"topic", row.get_text(1)},
                                    {"ordering_key", row.get_text(2)},
                                    {"payload", json::parse(row.get_text(3))}});
    }
    co_return net::json_response(200, json::object{{"events", events}});
  });
  router.add("GET", "/v1/_test/routes", [&state](net::Request&) -> Task<Result<net::Response>> {
    json::array routes;
    for (const auto& r : state.http->routes()) {
      routes.push_back(json::object{{"method", r.method}, {"path", r.path}, {"public", r.is_public}});
    }
    co_return net::json_response(200, json::object{{"routes", routes}});
  });
  router.add("GET", "/v1/_test/sleep", [](net::Request& req) -> Task<Result<net::Response>> {
    const auto ms = std::atoll(std::string(req.query_param("ms").value_or("100")).c_str());
    boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
    timer.expires_after(std::chrono::milliseconds(std::clamp<long long>(ms, 0, 10'000)));
    co_await timer.async_wait(boost::asio::use_awaitable);
    co_return net::json_response(200, json::object{{"slept_ms", ms}});
  });
}

bus::Consumer test_hooks_consumer() {
  return bus::Consumer{"testhooks.recorder", {"testhooks.recorded"}, [](store::Tx& tx, const bus::Event& e) {
                         const auto payload = json::parse(e.payload).as_object();
                         if (payload.contains("kill_during_apply") && payload.at("kill_during_apply").as_bool()) {
                           const char* kill = std::getenv("GATEHOUSE_TEST_KILL_IN_APPLY");
                           if (kill != nullptr && std::string(kill) == "1") ::raise(SIGKILL);
                         }
                         tx.exec("INSERT INTO testhooks_effects (event_id, n, applied_count) VALUES ($1, $2, 1) "
                                 "ON CONFLICT (event_id) DO UPDATE SET applied_count = testhooks_effects.applied_count + 1",
                                 {e.event_id, payload.at("n").as_int64()});
                       }};
}

auth::AuthSettings auth_settings(const Settings& s) {
  auth::AuthSettings a;
  a.siwe_domains = s.siwe_domains;
  if (a.siwe_domains.empty() && s.listen_port != 0) {
    // Out of the box the server accepts sign-ins for itself on this machine; operators list
    // their public domain(s) with --siwe-domain.
    a.siwe_domains = {"localhost:" + std::to_string(s.listen_port), "127.0.0.1:" + std::to_string(s.listen_port)};
  }
  for (const auto& [id, url] : s.chains) a.chain_ids.insert(id);
  a.session_ttl = s.session_ttl;
  a.push_targets.allow_http = s.outbound_allow_http;
  a.push_targets.allowed_networks = *net::parse_networks(s.outbound_allow_networks);  // validated by settings
  return a;
}

// The contexts, once the database is there, and the full route table that serves them.
void wire_contexts(AppState& state, store::Database& db) {
  const auto& s = *state.settings;
  auto wake = [&state] {
    if (state.bus) state.bus->wake();
  };
  state.verifier = std::make_unique<auth::SignatureVerifier>([&state](std::uint64_t chain_id) -> rpc::RpcClient* {
    auto it = state.chains.find(chain_id);
    return it == state.chains.end() ? nullptr : it->second.get();
  });
  state.auth = std::make_unique<auth::AuthService>(db, *state.pool, state.clock, auth_settings(s), *state.verifier, wake);
  state.request_auth = std::make_unique<auth::RequestAuth>(*state.auth);

  net::Router router;
  add_ops_routes(router, state);
  if (s.test_hooks) add_test_hooks(router, state);
  auth::SignInLimits limits;
  limits.nonce_per_ip = net::RateLimit{s.signin_rate_per_ip, s.signin_burst_per_ip, 100'000};
  limits.verify_per_ip = limits.nonce_per_ip;
  limits.verify_per_address = net::RateLimit{s.signin_rate_per_address, s.signin_burst_per_address, 100'000};
  auth::add_auth_routes(router, *state.auth, *state.request_auth, limits);
  declare_public_routes(router);
  state.http->set_router(std::move(router));
  state.http->set_unmatched_error(std::nullopt);
}

// Opens and migrates the database, then starts the bus on worker processes. Returns false when
// the failure is final (a bad URL or a migration conflict); connection failures are retried.
bool try_bring_up(AppState& state, bool& final_failure) {
  const auto& s = *state.settings;
  try {
    auto db = std::shared_ptr<store::Database>(store::Database::open(s.database_url(), database_settings(s)));
    db->migrate(all_migrations(s));
    state.db = db;
    wire_contexts(state, *db);
    if (s.has(Role::worker)) {
      state.bus = std::make_unique<bus::Dispatcher>(state.executor, *db, *state.pool, *state.registry);
      if (s.test_hooks) state.bus->add(test_hooks_consumer());
      state.bus->start();
    }
    state.ready = true;
    log::info("database ready", {{"dialect", store::to_string(db->dialect())}});
    return true;
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
  return false;
}

}  // namespace

std::vector<store::MigrationSet> all_migrations(const Settings& settings) {
  std::vector<store::MigrationSet> sets{bus::migrations(), auth::migrations()};
  if (settings.test_hooks) sets.push_back(testhooks::migrations());
  return sets;
}

int run_migrate(const Settings& settings) {
  apply_log_level(settings);
  std::unique_ptr<store::Database> db;
  try {
    db = store::Database::open(settings.database_url(), database_settings(settings));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "gatehouse: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    log::error("cannot open the database", {{"error", e.what()}});
    return 1;
  }
  try {
    db->migrate(all_migrations(settings));
  } catch (const std::exception& e) {
    log::error("migration failed", {{"error", e.what()}});
    return 1;
  }
  log::info("migrations applied", {{"database", store::to_string(db->dialect())}});
  return 0;
}

int run_apikey_create(const Settings& settings, const std::string& name, const std::vector<std::string>& scopes) {
  apply_log_level(settings);
  log::set_level(log::Level::warn);  // stdout carries the key alone
  std::unique_ptr<store::Database> db;
  try {
    db = store::Database::open(settings.database_url(), database_settings(settings));
    db->migrate(all_migrations(settings));
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "gatehouse: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gatehouse: cannot open the database: %s\n", e.what());
    return 1;
  }
  auto key = auth::AuthService::create_api_key(*db, name, scopes);
  if (!key) {
    std::fprintf(stderr, "gatehouse: %s\n", key.error().message.c_str());
    return 2;
  }
  std::printf("%s\n", key->c_str());
  std::fprintf(stderr, "gatehouse: API key '%s' created; it is shown only this once\n", name.c_str());
  return 0;
}

int run_server(const Settings& settings) {
  apply_log_level(settings);
  // Signals are taken by sigwait() on this thread only: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  metrics::Registry registry;
  registry.add_process_metrics();
  BlockingPool pool(settings.blocking_threads, settings.blocking_queue);
  IoRuntime io(settings.io_threads);

  AppState state;
  state.settings = &settings;
  state.pool = &pool;
  state.registry = &registry;
  state.executor = io.executor();
  add_database_metrics(state);

  net::Router router;
  add_ops_routes(router, state);
  if (settings.test_hooks) {
    log::warn("test hooks are enabled: never run this in production");
    add_test_hooks(router, state);
  }
  declare_public_routes(router);

  net::DispatcherSettings dispatch;
  dispatch.require_credentials = true;
  dispatch.per_ip = net::RateLimit{settings.rate_limit_per_ip, settings.rate_burst_per_ip, 100'000};
  dispatch.trust_forwarded_for = settings.trust_forwarded_for;
  const auto trusted_proxies = *net::parse_networks(settings.trusted_proxies);  // validated by settings
  dispatch.trusted_proxies = trusted_proxies;
  dispatch.access_log = settings.access_log;
  net::Dispatcher dispatcher(std::move(router), registry, dispatch);
  dispatcher.set_unmatched_error(make_error(ErrorKind::unavailable, "not_ready", "the server is starting; retry shortly"));
  state.http = &dispatcher;
  for (const auto& [chain_id, url] : settings.chains) {
    rpc::RpcClientSettings rpc_settings;
    rpc_settings.endpoints = {url};
    state.chains.emplace(chain_id, std::make_unique<rpc::RpcClient>(io.executor(), rpc_settings));
  }

  net::ServerSettings server_settings;
  server_settings.host = settings.listen_host;
  server_settings.port = settings.listen_port;
  server_settings.max_body_bytes = settings.max_body_bytes;
  server_settings.max_header_bytes = settings.max_header_bytes;
  server_settings.max_connections = settings.max_connections;
  server_settings.max_connections_per_ip = settings.max_connections_per_ip;
  server_settings.body_budget_bytes = settings.body_budget_bytes;
  server_settings.cap_exempt = trusted_proxies;
  server_settings.idle_timeout = settings.idle_timeout;
  server_settings.read_timeout = settings.request_timeout;
  server_settings.write_timeout = settings.request_timeout;
  net::HttpServer server(io.executor(), server_settings, dispatcher, registry);
  if (auto listening = server.listen(); !listening) {
    std::fprintf(stderr, "gatehouse: %s\n", listening.error().message.c_str());
    return listening.error().kind == ErrorKind::bad_input ? 2 : 1;
  }

  // --metrics-listen: /metrics on its own listener (e.g. a private interface), nothing else there.
  // Its own transport counters go to a registry nobody renders, so scrapes do not skew the figures.
  metrics::Registry metrics_listener_registry;
  std::unique_ptr<net::Dispatcher> metrics_dispatcher;
  std::unique_ptr<net::HttpServer> metrics_server;
  if (!settings.metrics_listen_host.empty()) {
    net::Router metrics_router;
    add_metrics_route(metrics_router, registry);
    net::DispatcherSettings metrics_dispatch;
    metrics_dispatch.rate_limit_enabled = false;
    metrics_dispatch.access_log = false;
    metrics_dispatcher = std::make_unique<net::Dispatcher>(std::move(metrics_router), metrics_listener_registry, metrics_dispatch);
    net::ServerSettings metrics_settings;
    metrics_settings.host = settings.metrics_listen_host;
    metrics_settings.port = settings.metrics_listen_port;
    metrics_settings.max_connections = 64;
    metrics_settings.max_body_bytes = 1024;
    metrics_settings.body_budget_bytes = 64 * 1024;
    metrics_settings.idle_timeout = settings.idle_timeout;
    metrics_settings.read_timeout = settings.request_timeout;
    metrics_settings.write_timeout = settings.request_timeout;
    metrics_server = std::make_unique<net::HttpServer>(io.executor(), metrics_settings, *metrics_dispatcher,
                                                       metrics_listener_registry);
    if (auto listening = metrics_server->listen(); !listening) {
      std::fprintf(stderr, "gatehouse: metrics listener: %s\n", listening.error().message.c_str());
      return listening.error().kind == ErrorKind::bad_input ? 2 : 1;
    }
  }

  // The first attempt runs here so that a bad URL or a broken migration stops the start at once.
  bool final_failure = false;
  if (!try_bring_up(state, final_failure) && final_failure) return state.fatal_exit.load();

  io.start();
  server.start();
  if (metrics_server) {
    metrics_server->start();
    log::info("metrics listening", {{"host", settings.metrics_listen_host}, {"port", metrics_server->port()}});
  }
  log::info("listening", {{"host", settings.listen_host}, {"port", server.port()}, {"version", version_string()},
                          {"database", settings.database.empty() ? std::string("sqlite") : settings.database.substr(0, settings.database.find(':'))}});

  // Until the database answers, keep trying in the background; /readyz says 503 meanwhile.
  std::mutex wait_mutex;
  std::condition_variable wait_cv;
  std::thread bring_up;
  if (!state.ready) {
    bring_up = std::thread([&] {
      auto pause = std::chrono::milliseconds(250);
      while (!state.stopping) {
        bool final = false;
        if (try_bring_up(state, final)) return;
        if (final) {
          ::kill(::getpid(), SIGTERM);
          return;
        }
        std::unique_lock lock(wait_mutex);
        wait_cv.wait_for(lock, pause, [&] { return state.stopping.load(); });
        pause = std::min(pause * 2, std::chrono::milliseconds(5000));
      }
    });
  }

  int received = 0;
  sigwait(&signals, &received);
  const auto started = std::chrono::steady_clock::now();
  log::info("stopping", {{"signal", received == SIGTERM ? "SIGTERM" : "SIGINT"}});
  state.draining = true;
  {
    std::lock_guard lock(wait_mutex);
    state.stopping = true;
  }
  wait_cv.notify_all();
  if (bring_up.joinable()) bring_up.join();

  // Leave part of the budget for the bus and the database after the HTTP drain.
  const auto budget = settings.drain_timeout;
  server.drain(budget * 8 / 10);
  if (metrics_server) metrics_server->drain(budget / 20);
  if (state.bus) state.bus->stop(budget / 10);
  io.release_work_guard();
  io.stop();
  io.join();
  pool.stop();
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
  log::info("stopped", {{"drain_ms", took.count()}});
  return state.fatal_exit.load();
}

}  // namespace gh::app
