#pragma once
// Every SQL statement of the scheduler: leases (at most one run of a job at a time across nodes,
// each scheduled fire time claimed once) and run history. Times are Unix milliseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/database.hpp"

namespace gh::jobs::sql {

using store::Tx;

/// A run as stored in jobs_runs.
struct RunRow {
  std::int64_t id = 0;
  std::string job;
  std::string node;
  std::string cause;  ///< "schedule" or "manual"
  std::optional<std::int64_t> slot_ms;
  std::int64_t started_ms = 0;
  std::optional<std::int64_t> finished_ms;
  std::string outcome;  ///< running, success, failure, abandoned
  std::string error;
};

/// Takes the job's lease for `holder` until `expires_ms` when it is free (never taken, released,
/// or expired at `now_ms`). With `slot_ms`, also only when that fire time was not claimed yet,
/// and claims it. On success, runs left "running" by an earlier holder are marked abandoned and
/// a new run row is written; returns its id. nullopt when the lease is held or the slot taken.
std::optional<std::int64_t> acquire(Tx& tx, const std::string& job, const std::string& holder, const std::string& node,
                                    std::int64_t now_ms, std::int64_t expires_ms, std::optional<std::int64_t> slot_ms);

/// Extends the lease while `holder` still has it; false when it was lost.
bool renew(Tx& tx, const std::string& job, const std::string& holder, std::int64_t expires_ms);

/// Records the run's end and releases the lease if `holder` still has it.
void finish(Tx& tx, std::int64_t run_id, const std::string& job, const std::string& holder, std::int64_t now_ms,
            const std::string& outcome, const std::string& error);

/// The job's latest run, and its latest successful one.
std::optional<RunRow> last_run(Tx& tx, const std::string& job);
std::optional<RunRow> last_success(Tx& tx, const std::string& job);

/// The job's runs, newest first.
std::vector<RunRow> runs(Tx& tx, const std::string& job, std::size_t limit);

/// Deletes up to `limit` finished runs that ended before `cutoff_ms`; returns how many.
std::int64_t purge_runs(Tx& tx, std::int64_t cutoff_ms, std::size_t limit);

}  // namespace gh::jobs::sql
