#include "app/jobs_command.hpp"

#include <cstdio>
#include <future>
#include <map>
#include <memory>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "app/contexts.hpp"
#include "app/scheduled_jobs.hpp"
#include "app/wiring.hpp"
#include "bus/bus.hpp"
#include "core/io_runtime.hpp"
#include "core/metrics.hpp"
#include "jobs/scheduler.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::app {

int run_jobs_list(const Settings& settings) {
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;
  const auto modules = context_modules(settings);
  metrics::Registry registry;
  BlockingPool pool(1, 16);
  SystemClock clock;
  boost::asio::io_context ioc;  // an executor for the scheduler; nothing runs on it here
  jobs::Scheduler scheduler(ioc.get_executor(), *db, pool, clock, registry, scheduler_settings(settings));
  if (auto added = add_all_jobs(scheduler, modules, platform_jobs(settings, *db, pool, clock, {})); !added) {
    std::fprintf(stderr, "gatehouse: %s\n", added.error().message.c_str());
    return 1;
  }
  std::printf("%-24s  %-14s  %-24s  %-9s  %-24s  %s\n", "NAME", "SCHEDULE", "LAST_RUN", "OUTCOME", "NEXT_RUN",
              "DESCRIPTION");
  for (const auto& job : scheduler.status()) {
    std::string last = "-";
    std::string outcome = "-";
    if (job.last_run) {
      last = format_rfc3339(SystemTime(std::chrono::milliseconds(job.last_run->started_ms)));
      outcome = job.last_run->outcome;
    }
    std::printf("%-24s  %-14s  %-24s  %-9s  %-24s  %s\n", job.name.c_str(), job.schedule.c_str(), last.c_str(),
                outcome.c_str(), format_rfc3339(job.next_run).c_str(), job.description.c_str());
  }
  return 0;
}

int run_jobs_run(const Settings& command_settings, const std::string& name) {
  // The contexts start as on a jobs-only node: no listener, no bus delivery, no indexer.
  Settings settings = command_settings;
  settings.roles = {Role::jobs};
  int exit_code = 0;
  auto db = open_for_command(settings, exit_code);
  if (!db) return exit_code;

  metrics::Registry registry;
  BlockingPool pool(settings.blocking_threads, settings.blocking_queue);
  IoRuntime io(1);
  SystemClock clock;
  std::map<std::uint64_t, std::unique_ptr<rpc::RpcClient>> chains;
  for (const auto& [chain_id, url] : settings.chains) {
    rpc::RpcClientSettings rpc_settings;
    rpc_settings.endpoints = {url};
    if (auto urls = settings.chain_urls.find(chain_id); urls != settings.chain_urls.end())
      rpc_settings.endpoints = urls->second;
    chains.emplace(chain_id, std::make_unique<rpc::RpcClient>(io.executor(), rpc_settings));
  }
  context::ServiceRegistry services;
  auto modules = context_modules(settings);
  context::ContextEnv env{*db,
                          pool,
                          clock,
                          registry,
                          io.executor(),
                          [&chains](std::uint64_t chain_id) -> rpc::RpcClient* {
                            auto it = chains.find(chain_id);
                            return it == chains.end() ? nullptr : it->second.get();
                          },
                          [] {},  // the nodes with the worker role poll the outbox
                          services};
  std::vector<std::string> consumers;
  try {
    for (auto& m : modules) {
      if (m.start) m.start(env);
      if (m.metrics) m.metrics(registry);
    }
    for (auto& m : modules) {
      if (!m.consumers) continue;
      for (const auto& c : m.consumers()) consumers.push_back(c.name);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gatehouse: a context failed to start: %s\n", e.what());
    return 1;
  }
  jobs::Scheduler scheduler(io.executor(), *db, pool, clock, registry, scheduler_settings(settings));
  if (auto added = add_all_jobs(scheduler, modules, platform_jobs(settings, *db, pool, clock, std::move(consumers)));
      !added) {
    std::fprintf(stderr, "gatehouse: %s\n", added.error().message.c_str());
    return 1;
  }

  io.start();
  std::promise<jobs::RunResult> done;
  auto finished = done.get_future();
  boost::asio::co_spawn(io.executor(), scheduler.run_now(name),
                        [&done](const std::exception_ptr& e, jobs::RunResult result) {
                          if (e) {
                            done.set_exception(e);
                          } else {
                            done.set_value(std::move(result));
                          }
                        });
  jobs::RunResult result;
  try {
    result = finished.get();
  } catch (const std::exception& e) {
    result.outcome = jobs::RunOutcome::failure;
    result.error = e.what();
  }
  io.release_work_guard();
  io.stop();
  io.join();
  pool.stop();

  switch (result.outcome) {
    case jobs::RunOutcome::success:
      std::printf("job %s succeeded\n", name.c_str());
      return 0;
    case jobs::RunOutcome::failure:
      std::fprintf(stderr, "gatehouse: job %s failed: %s\n", name.c_str(), result.error.c_str());
      return 1;
    case jobs::RunOutcome::busy:
      std::fprintf(stderr, "gatehouse: job %s not run: %s\n", name.c_str(), result.error.c_str());
      return exit_job_busy;
    case jobs::RunOutcome::unknown:
      std::fprintf(stderr, "gatehouse: %s (gatehouse jobs list shows them)\n", result.error.c_str());
      return 2;
  }
  return 1;
}

}  // namespace gh::app
