#include "app/server_app.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "app/contexts.hpp"
#include "app/version.hpp"
#include "app/wiring.hpp"
#include "auth/service.hpp"
#include "bus/bus.hpp"
#include "chain/service.hpp"
#include "chain/store.hpp"
#include "core/blocking_pool.hpp"
#include "core/io_runtime.hpp"
#include "core/log.hpp"
#include "core/metrics.hpp"
#include "eth/address.hpp"
#include "jobs/scheduler.hpp"
#include "net/dispatcher.hpp"
#include "net/ip_address.hpp"
#include "net/router.hpp"
#include "net/server.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::app {

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
    db->migrate(all_migrations(context_modules(settings)));
  } catch (const std::exception& e) {
    log::error("migration failed", {{"error", e.what()}});
    return 1;
  }
  log::info("migrations applied", {{"database", store::to_string(db->dialect())}});
  return 0;
}

int run_apikey_create(const Settings& settings, const std::string& name, const std::vector<std::string>& scopes) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  SystemClock clock;
  auto key = auth::AuthService::create_api_key(*db, clock, name, scopes);
  if (!key) {
    std::fprintf(stderr, "gatehouse: %s\n", key.error().message.c_str());
    return 2;
  }
  std::printf("%s\n", key->c_str());
  std::fprintf(stderr, "gatehouse: API key '%s' created; it is shown only this once\n", name.c_str());
  return 0;
}

int run_apikey_list(const Settings& settings) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  std::printf("%-32s  %-24s  %-20s  %-24s  %s\n", "ID", "NAME", "SCOPES", "CREATED", "REVOKED");
  for (const auto& k : auth::AuthService::list_api_keys(*db)) {
    std::string scopes;
    for (const auto& s : k.scopes) scopes += (scopes.empty() ? "" : ",") + s;
    const std::string revoked = k.revoked_at ? format_rfc3339(*k.revoked_at) : "-";
    std::printf("%-32s  %-24s  %-20s  %-24s  %s\n", k.id.c_str(), k.name.c_str(), scopes.c_str(),
                format_rfc3339(k.created_at).c_str(), revoked.c_str());
  }
  return 0;
}

int run_indexer_status(const Settings& settings) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  std::printf("%-10s  %-11s  %12s  %12s  %10s  %8s  %12s  %6s  %s\n", "CHAIN", "PIPELINE", "CHECKPOINT", "HEAD",
              "LAG_BLOCKS", "LAG_S", "LOGS_APPLIED", "REORGS", "LAST_ERROR");
  for (const auto& c : chain::ChainService::read_status(*db)) {
    for (const auto& p : c.pipelines) {
      const std::string lag_s = p.lag_seconds ? std::to_string(*p.lag_seconds) : "-";
      std::printf("%-10llu  %-11s  %12lld  %12llu  %10lld  %8s  %12lld  %6lld  %s\n",
                  static_cast<unsigned long long>(c.chain_id), p.pipeline.c_str(), static_cast<long long>(p.checkpoint),
                  static_cast<unsigned long long>(c.head), static_cast<long long>(p.lag_blocks), lag_s.c_str(),
                  static_cast<long long>(p.logs_applied), static_cast<long long>(c.reorgs),
                  p.last_error ? p.last_error->c_str() : "-");
    }
  }
  const auto tracked = db->read([](store::Tx& tx) { return chain::storage::tracked_contracts(tx, std::nullopt); });
  if (!tracked.empty()) {
    std::printf("\n%-10s  %-11s  %-42s  %12s  %13s  %-11s  %12s  %s\n", "CHAIN", "PIPELINE", "TRACKED_CONTRACT",
                "START_BLOCK", "BACKFILLED_TO", "STATE", "LOGS_APPLIED", "LAST_ERROR");
    for (const auto& t : tracked) {
      std::printf("%-10llu  %-11s  %-42s  %12llu  %13lld  %-11s  %12lld  %s\n",
                  static_cast<unsigned long long>(t.chain_id), t.pipeline.c_str(), t.contract.c_str(),
                  static_cast<unsigned long long>(t.start_block), static_cast<long long>(t.backfilled_to),
                  t.joined ? "following" : "backfilling", static_cast<long long>(t.logs_applied),
                  t.last_error ? t.last_error->c_str() : "-");
    }
  }
  return 0;
}

int run_indexer_track(const Settings& settings, std::uint64_t chain_id, const std::string& pipeline,
                      const std::string& address, std::uint64_t from_block) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  SystemClock clock;
  const auto now = unix_millis(clock.now());
  const auto p = *chain::parse_pipeline(pipeline);                        // validated by settings
  const auto contract = eth::to_lower_hex(*eth::parse_address(address));  // validated by settings
  // Only a pipeline an indexer of this database runs on that chain ever reads the table: anything
  // else would stay "backfilling" for ever.
  const auto indexed = db->read([&](store::Tx& tx) { return chain::storage::pipeline_row(tx, chain_id, p); });
  if (!indexed) {
    std::fprintf(stderr,
                 "gatehouse: no indexer of this database runs %s on chain %llu (see `gatehouse indexer status`); "
                 "start one with --chain %llu=URL first\n",
                 pipeline.c_str(), static_cast<unsigned long long>(chain_id),
                 static_cast<unsigned long long>(chain_id));
    return 2;
  }
  const auto row = db->transact(
      [&](store::Tx& tx) { return chain::storage::track_contract(tx, chain_id, p, contract, from_block, now); });
  std::printf("tracking %s on %s of chain %llu from block %llu (%s)\n", contract.c_str(), pipeline.c_str(),
              static_cast<unsigned long long>(chain_id), static_cast<unsigned long long>(row.start_block),
              row.joined ? "caught up" : "backfilling");
  return 0;
}

int run_indexer_reindex(const Settings& settings, std::uint64_t chain_id, const std::string& pipeline,
                        std::uint64_t from) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  SystemClock clock;
  const auto now = unix_millis(clock.now());
  // The first block of a rebuild: --chain-start-block when given here, else the one the server's
  // indexer recorded for each pipeline.
  std::optional<std::uint64_t> start_block;
  if (auto it = settings.chain_start_blocks.find(chain_id); it != settings.chain_start_blocks.end())
    start_block = it->second;
  std::optional<chain::Pipeline> only;
  if (!pipeline.empty()) only = chain::parse_pipeline(pipeline);
  const bool indexed = db->read([&](store::Tx& tx) {
    return only ? chain::storage::pipeline_row(tx, chain_id, *only).has_value()
                : !chain::storage::pipeline_rows(tx, chain_id).empty();
  });
  if (!indexed) {
    std::fprintf(stderr,
                 "gatehouse: no indexer of this database runs %s on chain %llu (see `gatehouse indexer status`)\n",
                 pipeline.empty() ? "any pipeline" : pipeline.c_str(), static_cast<unsigned long long>(chain_id));
    return 2;
  }
  const auto outcome =
      db->transact([&](store::Tx& tx) { return chain::reindex(tx, chain_id, only, from, start_block, now); });
  if (outcome.rebuilt) {
    std::printf("cleared %s of chain %llu; the indexer replays from block %lld\n",
                pipeline.empty() ? "every pipeline" : pipeline.c_str(), static_cast<unsigned long long>(chain_id),
                static_cast<long long>(outcome.replay_from));
  } else {
    std::printf("reverted %lld logs of chain %llu; the indexer replays from block %lld\n",
                static_cast<long long>(outcome.reverted), static_cast<unsigned long long>(chain_id),
                static_cast<long long>(outcome.replay_from));
  }
  return 0;
}

int run_apikey_revoke(const Settings& settings, const std::string& id) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  SystemClock clock;
  if (auto revoked = auth::AuthService::revoke_api_key(*db, clock, id); !revoked) {
    std::fprintf(stderr, "gatehouse: %s\n", revoked.error().message.c_str());
    return 2;
  }
  std::fprintf(stderr, "gatehouse: API key %s revoked\n", id.c_str());
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

  state.modules = context_modules(settings);
  if (settings.test_hooks) log::warn("test hooks are enabled: never run this in production");
  net::Router router;
  add_ops_routes(router, state);

  declare_public_routes(router);

  net::DispatcherSettings dispatch;
  dispatch.require_credentials = true;
  dispatch.per_ip = net::RateLimit{settings.rate_limit_per_ip, settings.rate_burst_per_ip, 100'000};
  dispatch.trust_forwarded_for = settings.trust_forwarded_for;
  const auto trusted_proxies = *net::parse_networks(settings.trusted_proxies);  // validated by settings
  dispatch.trusted_proxies = trusted_proxies;
  dispatch.access_log = settings.access_log;
  net::Dispatcher dispatcher(std::move(router), registry, dispatch);
  dispatcher.set_unmatched_error(
      make_error(ErrorKind::unavailable, "not_ready", "the server is starting; retry shortly"));
  state.http = &dispatcher;
  for (const auto& [chain_id, url] : settings.chains) {
    rpc::RpcClientSettings rpc_settings;
    rpc_settings.endpoints = {url};
    if (auto urls = settings.chain_urls.find(chain_id); urls != settings.chain_urls.end())
      rpc_settings.endpoints = urls->second;
    rpc_settings.attempt_timeout = settings.chain_rpc_attempt_timeout;
    rpc_settings.total_timeout = std::max(settings.chain_rpc_call_timeout, settings.chain_rpc_attempt_timeout);
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
  server_settings.ws_max_message_bytes = settings.ws_max_message_bytes;
  server_settings.ws_send_queue_messages = settings.ws_send_queue_messages;
  server_settings.ws_send_queue_bytes = settings.ws_send_queue_bytes;
  server_settings.ws_idle_timeout = settings.ws_idle_timeout;
  server_settings.ws_close_timeout = settings.ws_close_timeout;
  server_settings.ws_messages_per_second = settings.ws_message_rate;
  server_settings.ws_message_burst = settings.ws_message_burst;
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
    metrics_dispatcher =
        std::make_unique<net::Dispatcher>(std::move(metrics_router), metrics_listener_registry, metrics_dispatch);
    net::ServerSettings metrics_settings;
    metrics_settings.host = settings.metrics_listen_host;
    metrics_settings.port = settings.metrics_listen_port;
    metrics_settings.max_connections = 64;
    metrics_settings.max_body_bytes = 1024;
    metrics_settings.body_budget_bytes = std::size_t{64} * 1024;
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
  log::info("listening",
            {{"host", settings.listen_host},
             {"port", server.port()},
             {"version", version_string()},
             {"database", settings.database.empty() ? std::string("sqlite")
                                                    : settings.database.substr(0, settings.database.find(':'))}});

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
  if (state.jobs) state.jobs->stop(budget / 10);
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
