#pragma once
// `gatehouse jobs list` and `gatehouse jobs run NAME`: the scheduled jobs from the command line.
#include <string>

#include "app/settings.hpp"

namespace gh::app {

/// Exit code of `jobs run` when a run of the job is going on elsewhere (EX_TEMPFAIL: try later).
inline constexpr int exit_job_busy = 75;

/// `gatehouse jobs list`: every job with its schedule, last run (start, outcome) and next fire
/// time, as a table on stdout; returns the exit code.
int run_jobs_list(const Settings& settings);

/// `gatehouse jobs run NAME`: runs the job once now, honoring its lease. Exit 0 when it
/// succeeded, 1 when it failed (the reason on stderr), 2 when there is no such job,
/// exit_job_busy when a run of it is going on.
int run_jobs_run(const Settings& settings, const std::string& name);

}  // namespace gh::app
