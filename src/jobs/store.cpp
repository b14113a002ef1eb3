#include "jobs/store.hpp"

#include "core/utf8.hpp"

namespace gh::jobs::sql {
namespace {

RunRow run_from_row(const store::Row& row) {
  RunRow r;
  r.id = row.get_int("id");
  r.job = row.get_text("job");
  r.node = row.get_text("node");
  r.cause = row.get_text("cause");
  r.slot_ms = row.opt_int("slot_ms");
  r.started_ms = row.get_int("started_ms");
  r.finished_ms = row.opt_int("finished_ms");
  r.outcome = row.get_text("outcome");
  r.error = row.opt_text("error").value_or("");
  return r;
}

constexpr const char* run_columns = "id, job, node, cause, slot_ms, started_ms, finished_ms, outcome, error";

}  // namespace

std::optional<std::int64_t> acquire(Tx& tx, const std::string& job, const std::string& holder, const std::string& node,
                                    std::int64_t now_ms, std::int64_t expires_ms, std::optional<std::int64_t> slot_ms) {
  tx.exec(
      "INSERT INTO jobs_leases (job, holder, expires_ms, last_slot_ms) VALUES ($1, NULL, 0, 0) "
      "ON CONFLICT (job) DO NOTHING",
      {job});
  // One UPDATE decides: concurrent takers serialize on the row (PostgreSQL re-reads it after the
  // first commits; SQLite has one writer), and only one finds it free.
  std::int64_t taken = 0;
  if (slot_ms) {
    taken = tx.exec(
        "UPDATE jobs_leases SET holder = $2, expires_ms = $3, last_slot_ms = $5 "
        "WHERE job = $1 AND expires_ms <= $4 AND last_slot_ms < $5",
        {job, holder, expires_ms, now_ms, *slot_ms});
  } else {
    taken = tx.exec("UPDATE jobs_leases SET holder = $2, expires_ms = $3 WHERE job = $1 AND expires_ms <= $4",
                    {job, holder, expires_ms, now_ms});
  }
  if (taken != 1) return std::nullopt;
  tx.exec(
      "UPDATE jobs_runs SET outcome = 'abandoned', finished_ms = $2, "
      "error = 'the node running it stopped renewing its lease' WHERE job = $1 AND outcome = 'running'",
      {job, now_ms});
  store::Value slot = nullptr;
  if (slot_ms) slot = *slot_ms;
  const auto row = tx.query_one(
      "INSERT INTO jobs_runs (job, node, cause, slot_ms, started_ms, outcome) "
      "VALUES ($1, $2, $3, $4, $5, 'running') RETURNING id",
      {job, node, std::string(slot_ms ? "schedule" : "manual"), slot, now_ms});
  return row->get_int(0);
}

bool renew(Tx& tx, const std::string& job, const std::string& holder, std::int64_t expires_ms) {
  return tx.exec("UPDATE jobs_leases SET expires_ms = $3 WHERE job = $1 AND holder = $2", {job, holder, expires_ms}) ==
         1;
}

void finish(Tx& tx, std::int64_t run_id, const std::string& job, const std::string& holder, std::int64_t now_ms,
            const std::string& outcome, const std::string& error) {
  store::Value err = nullptr;
  if (!error.empty()) err = to_valid_utf8(error, 2000);
  // A run marked abandoned by a node that took over its expired lease still records how it ended.
  tx.exec("UPDATE jobs_runs SET finished_ms = $2, outcome = $3, error = $4 WHERE id = $1",
          {run_id, now_ms, outcome, err});
  tx.exec("UPDATE jobs_leases SET holder = NULL, expires_ms = 0 WHERE job = $1 AND holder = $2", {job, holder});
}

std::optional<RunRow> last_run(Tx& tx, const std::string& job) {
  auto row = tx.query_one(
      std::string("SELECT ") + run_columns + " FROM jobs_runs WHERE job = $1 ORDER BY id DESC LIMIT 1", {job});
  if (!row) return std::nullopt;
  return run_from_row(*row);
}

std::optional<RunRow> last_success(Tx& tx, const std::string& job) {
  auto row = tx.query_one(std::string("SELECT ") + run_columns +
                              " FROM jobs_runs WHERE job = $1 AND outcome = 'success' ORDER BY id DESC LIMIT 1",
                          {job});
  if (!row) return std::nullopt;
  return run_from_row(*row);
}

std::vector<RunRow> runs(Tx& tx, const std::string& job, std::size_t limit) {
  std::vector<RunRow> out;
  const auto rows =
      tx.query(std::string("SELECT ") + run_columns + " FROM jobs_runs WHERE job = $1 ORDER BY id DESC LIMIT $2",
               {job, static_cast<std::int64_t>(limit)});
  for (const auto& row : rows) out.push_back(run_from_row(row));
  return out;
}

std::int64_t purge_runs(Tx& tx, std::int64_t cutoff_ms, std::size_t limit) {
  return tx.exec(
      "DELETE FROM jobs_runs WHERE id IN (SELECT id FROM jobs_runs WHERE finished_ms IS NOT NULL AND finished_ms < $1 "
      "ORDER BY id LIMIT $2)",
      {cutoff_ms, static_cast<std::int64_t>(limit)});
}

}  // namespace gh::jobs::sql
