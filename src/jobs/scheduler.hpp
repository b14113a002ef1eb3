#pragma once
// The jobs scheduler: runs each context's Jobs (context/module.hpp) at the fire times of their
// cron schedules, on processes with the jobs role. Every node runs the same loop; a lease row
// per job in the database (jobs_leases) lets one node run a given fire time and keeps a job to
// one run at a time; the lease is renewed while the run lasts, so a crashed node's lease expires
// after `lease_ttl` and its run is then recorded as abandoned. Fire times that pass while the job
// runs or while no node is up are skipped, not stacked. Each run is a row of jobs_runs (node,
// start, end, outcome, error) and counts in the gatehouse_job_* metrics.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "context/module.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "jobs/store.hpp"
#include "store/database.hpp"

namespace gh::jobs {

/// How the scheduler runs.
struct SchedulerSettings {
  /// This node's name in leases and history; empty: "HOSTNAME:PID".
  std::string node;
  /// How long a lease lasts without renewal (renewed every third of it while a run lasts).
  std::chrono::milliseconds lease_ttl{60'000};
  /// The loop re-reads the clock at least this often while waiting for a fire time, so that a
  /// clock step (or a test's manual clock) is noticed.
  std::chrono::milliseconds max_nap{30'000};
};

/// How a run ended.
enum class RunOutcome {
  success,  ///< the job returned a value
  failure,  ///< the job returned an error or threw (or its bookkeeping failed)
  busy,     ///< not run: another run holds the lease (or another node took this fire time)
  unknown,  ///< no such job
};

/// "success", "failure", "busy", "unknown".
const char* to_string(RunOutcome outcome) noexcept;

/// The result of one attempt to run a job.
struct RunResult {
  RunOutcome outcome = RunOutcome::failure;
  std::string error;  ///< why, for failure, busy and unknown
  /// The clock when the attempt ended (before its record was written); the next fire time is
  /// the first after this one, so fire times passed meanwhile are skipped.
  SystemTime finished{};
};

/// A job with its latest run and next fire time, for `gatehouse jobs list`.
struct JobStatus {
  std::string name;
  std::string schedule;
  std::string description;
  std::optional<sql::RunRow> last_run;
  SystemTime next_run;
};

/// Runs jobs on their schedules. Thread-safe after start().
class Scheduler {
 public:
  Scheduler(Executor executor, store::Database& db, BlockingPool& pool, const Clock& clock, metrics::Registry& registry,
            SchedulerSettings settings = {});
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Registers a job (before start()). bad_input "invalid_schedule" with the reason, or
  /// "duplicate_job" when the name is taken.
  Result<void> add(context::Job job);
  /// Starts one loop per job.
  void start();
  /// Stops the loops, letting running jobs finish; waits up to `timeout`. Blocks the caller.
  void stop(std::chrono::milliseconds timeout);

  /// Runs a job once now (`gatehouse jobs run`), honoring the lease: busy when a run is going on.
  /// Does not claim a fire time, so the next scheduled one still happens.
  Task<RunResult> run_now(std::string name);
  /// What the loop does at a fire time: runs the job unless another run holds the lease or another
  /// node already ran this fire time.
  Task<RunResult> run_at(std::string name, SystemTime fire_time);

  /// Every job with its last run and next fire time (reads the database; blocks the caller).
  std::vector<JobStatus> status();
  /// The registered job names, in registration order.
  std::vector<std::string> names() const;
  /// This node's name.
  const std::string& node() const noexcept;

 private:
  struct Impl;
  std::shared_ptr<Impl> m_impl;
};

/// "HOSTNAME:PID", the default node name.
std::string default_node_name();

}  // namespace gh::jobs
