#pragma once
// The scheduled jobs of the process: each context module's, plus those of the modules that are
// not contexts (the bus's retention and the scheduler's own history), registered on a
// jobs::Scheduler for the jobs role and for `gatehouse jobs list|run`.
#include <string>
#include <vector>

#include "app/settings.hpp"
#include "context/module.hpp"
#include "jobs/scheduler.hpp"

namespace gh::app {

/// The scheduler's settings from the process's.
jobs::SchedulerSettings scheduler_settings(const Settings& settings);

/// The jobs of the bus (outbox and idempotency-record retention, given the names of the
/// consumers this binary registers) and of the scheduler (run history older than 30 days).
std::vector<context::Job> platform_jobs(const Settings& settings, store::Database& db, BlockingPool& pool,
                                        const Clock& clock, std::vector<std::string> consumers);

/// Registers the platform jobs and every module's jobs; an invalid or duplicate job is a defect
/// and comes back as the error (the start fails).
Result<void> add_all_jobs(jobs::Scheduler& scheduler, const std::vector<context::ContextModule>& modules,
                          std::vector<context::Job> platform);

}  // namespace gh::app
