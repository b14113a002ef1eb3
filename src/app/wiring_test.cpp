// The composition root's order, which is what keeps a request from reaching a half-built
// context: every module starts (in list order, later ones finding earlier ones' services) before
// the bus gets the consumers, and the route table is published last, in one piece. Before that,
// every non-ops path answers 503 not_ready. Also the module list itself and the one Error -> HTTP
// mapping of Retry-After and Allow.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "app/contexts.hpp"
#include "app/scheduled_jobs.hpp"
#include "app/wiring.hpp"
#include "bus/bus.hpp"
#include "core/io_runtime.hpp"
#include "core/metrics.hpp"
#include "core/testing/run_task.hpp"
#include "jobs/scheduler.hpp"
#include "net/dispatcher.hpp"
#include "net/router.hpp"

namespace gh::app {
namespace {

net::Response serve(net::Dispatcher& http, const std::string& method, const std::string& target) {
  boost::asio::io_context ioc;
  net::Request request;
  request.method = method;
  request.target = target;
  request.remote_ip = "127.0.0.1";
  return gh::testing::run(ioc, http.dispatch(request));
}

std::string header(const net::Response& r, std::string_view name) {
  for (const auto& h : r.headers) {
    if (h.first == name) return h.second;
  }
  return {};
}

TEST(Wiring, ModulesStartInOrderAndTheRouteTableIsPublishedLast) {
  Settings settings;
  settings.database = "sqlite::memory:";
  settings.roles = {Role::api, Role::worker};
  metrics::Registry registry;
  BlockingPool pool(2, 16);
  IoRuntime io(1);
  io.start();
  net::DispatcherSettings dispatch;
  dispatch.access_log = false;
  net::Router ops;
  net::Dispatcher http(std::move(ops), registry, dispatch);
  http.set_unmatched_error(make_error(ErrorKind::unavailable, "not_ready", "starting"));

  AppState state;
  state.settings = &settings;
  state.pool = &pool;
  state.registry = &registry;
  state.executor = io.executor();
  state.http = &http;

  std::vector<std::string> calls;
  static int answer = 42;
  auto fake = [&](const std::string& name) {
    context::ContextModule m;
    m.name = name;
    m.start = [&calls, name](context::ContextEnv& env) {
      calls.push_back("start " + name);
      if (name == "first") env.services.provide(answer);
      if (name == "second") {
        ASSERT_NE(env.services.find<int>(), nullptr);
        EXPECT_EQ(*env.services.find<int>(), 42);
      }
    };
    m.consumers = [&calls, name] {
      calls.push_back("consumers " + name);
      return std::vector<bus::Consumer>{};
    };
    m.routes = [&calls, &state, name](net::Router& router) {
      calls.push_back("routes " + name);
      // By now the bus exists, so a handler's wake-up cannot race its creation.
      EXPECT_NE(state.bus_ptr.load(), nullptr);
      router.add("GET", "/v1/" + name,
                 [](net::Request&) -> Task<Result<net::Response>> { co_return net::Response::text(200, "here"); });
    };
    return m;
  };
  state.modules.push_back(fake("first"));
  state.modules.push_back(fake("second"));

  EXPECT_EQ(serve(http, "GET", "/v1/first").status, 503u);
  bool final_failure = false;
  ASSERT_TRUE(try_bring_up(state, final_failure));
  EXPECT_FALSE(final_failure);
  EXPECT_TRUE(state.ready.load());
  EXPECT_EQ(calls, (std::vector<std::string>{"start first", "start second", "consumers first", "consumers second",
                                             "routes first", "routes second"}));
  EXPECT_EQ(serve(http, "GET", "/v1/first").status, 200u);
  EXPECT_EQ(serve(http, "GET", "/v1/second").status, 200u);
  EXPECT_EQ(serve(http, "GET", "/v1/nowhere").status, 404u);  // no longer "starting"
  EXPECT_EQ(serve(http, "GET", "/healthz").status, 200u);

  state.bus->stop(std::chrono::milliseconds(1000));
  io.release_work_guard();
  io.stop();
  io.join();
  pool.stop();
}

TEST(Contexts, AuthIsTheFirstModuleAndTestHooksComeOnlyWithTheFlag) {
  Settings settings;
  auto names = [](const std::vector<context::ContextModule>& modules) {
    std::vector<std::string> out;
    for (const auto& m : modules) out.push_back(m.name);
    return out;
  };
  EXPECT_EQ(names(context_modules(settings)),
            (std::vector<std::string>{"auth", "chain", "community", "realtime", "messaging", "e2e", "notify"}));
  settings.test_hooks = true;
  const auto modules = context_modules(settings);
  EXPECT_EQ(names(modules), (std::vector<std::string>{"auth", "chain", "community", "realtime", "messaging", "e2e",
                                                      "notify", "testhooks"}));
  std::vector<std::string> sets;
  for (const auto& s : all_migrations(modules)) sets.push_back(s.module);
  EXPECT_EQ(sets, (std::vector<std::string>{"bus", "jobs", "auth", "chain", "community", "realtime", "messaging", "e2e",
                                            "notify", "testhooks"}));
}

// The router and the re-evaluator rest 5 s between wakes on every node: what a node serving the
// API alone marks read or queues reaches them through the bus. They, and the poll results' loop,
// run only with the worker role.
TEST(Contexts, TheRouterAndTheReevaluatorRestAlikeOnEveryRoleAndRunOnlyOnWorkers) {
  Settings all;
  all.roles = {Role::api, Role::gateway, Role::worker};
  Settings worker;
  worker.roles = {Role::worker};
  Settings api;
  api.roles = {Role::api};
  for (const auto* s : {&all, &worker, &api}) {
    EXPECT_EQ(notify_settings(*s).router.idle_poll, std::chrono::milliseconds(5'000));
    EXPECT_EQ(community_settings(*s).reevaluator_idle_poll, std::chrono::milliseconds(5'000));
  }
  EXPECT_TRUE(notify_settings(all).run_router);
  EXPECT_TRUE(community_settings(worker).run_reevaluator);
  EXPECT_TRUE(messaging_settings(worker).run_poll_results);
  EXPECT_FALSE(notify_settings(api).run_router);
  EXPECT_FALSE(community_settings(api).run_reevaluator);
  EXPECT_FALSE(messaging_settings(api).run_poll_results);
}

// Every job of the product registers: a valid schedule and a unique name (a bad one would stop
// the start of every jobs node).
TEST(Jobs, EveryJobHasAValidScheduleAndAUniqueName) {
  Settings settings;
  settings.test_hooks = true;
  const auto modules = context_modules(settings);
  auto db = store::Database::open("sqlite::memory:");
  BlockingPool pool(1, 4);
  metrics::Registry registry;
  SystemClock clock;
  boost::asio::io_context ioc;
  jobs::Scheduler scheduler(ioc.get_executor(), *db, pool, clock, registry, scheduler_settings(settings));
  const auto added = add_all_jobs(scheduler, modules, platform_jobs(settings, *db, pool, clock, {}));
  ASSERT_TRUE(added) << added.error().message;
  EXPECT_EQ(scheduler.names(),
            (std::vector<std::string>{
                "bus.processed_purge", "bus.outbox_purge", "jobs.history_purge", "auth.nonces_purge",
                "auth.sessions_purge", "community.audit_prune", "messaging.search_backfill", "messaging.thread_archive",
                "messaging.reports_purge", "notify.purge", "testhooks.fails", "testhooks.holds"}));
  // A second registration of the same jobs is refused by name.
  const auto again = add_all_jobs(scheduler, modules, {});
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "duplicate_job");
}

TEST(ErrorMapping, RetryAfterAndAllowComeFromTheErrorItself) {
  auto limited = net::error_response(rate_limited("slow down", std::chrono::seconds(7)));
  EXPECT_EQ(limited.status, 429u);
  EXPECT_EQ(header(limited, "Retry-After"), "7");
  Error wrong_method = make_error(ErrorKind::method_not_allowed, "method_not_allowed", "no");
  wrong_method.allow = "GET, POST";
  auto r = net::error_response(wrong_method);
  EXPECT_EQ(r.status, 405u);
  EXPECT_EQ(header(r, "Allow"), "GET, POST");
  EXPECT_EQ(header(net::error_response(not_found("x")), "Retry-After"), "");
}

}  // namespace
}  // namespace gh::app
