#pragma once
// The chain context's use cases: apply a pipeline's logs for a block range in one transaction
// (applied-log record, projection changes with their journal, one outbox event per log, the
// checkpoint), revert everything above a block after a reorg (chain.reverted per log), and the
// reads behind the holdings and status endpoints.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "chain/model.hpp"
#include "chain/store.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "store/database.hpp"

namespace gh::chain {

/// What one apply did.
struct ApplyOutcome {
  std::int64_t applied = 0;     ///< logs applied now
  std::int64_t duplicates = 0;  ///< logs already applied (skipped)
  std::int64_t checkpoint = -1;
};

/// A decoded log made ready for its range's transaction, outside of it: the projection changes it
/// makes, each change's row as one key, and its outbox event, checked by the bus. Preparing costs
/// most of a log's CPU; done before the transaction (on another thread, while the previous range
/// commits), it leaves the writer the rows alone.
struct PreparedLog {
  DecodedLog decoded;
  std::vector<ProjectionChange> changes;
  std::vector<std::string> rows;  ///< rows[i]: the projection row changes[i] changes, as one key
  bus::CheckedEvent event;
};

/// The logs of `chain_id`, prepared, in the same order.
std::vector<PreparedLog> prepare_logs(std::uint64_t chain_id, std::vector<DecodedLog> logs);

/// Applies `logs` (decoded for `pipeline`, in chain order, all within [range_start, range_end])
/// and moves the pipeline's checkpoint to `range_end`, in the caller's transaction. Logs at or
/// below the checkpoint and logs already applied change nothing. When the checkpoint is below
/// range_start - 1 (a reindex rewound it meanwhile) nothing is applied: the range would leave a
/// gap. Errors only on projection arithmetic ("amount_overflow"); the transaction then rolls back.
/// Logs of blocks from `journal_from` on (the reorg window) are recorded with their changes
/// journaled, so that revert_above can undo them; older ones (a backfill far below the head, whose
/// records would be pruned at once) are applied without, exactly once by the checkpoint.
Result<ApplyOutcome> apply_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t range_start,
                                 std::int64_t range_end, const std::vector<DecodedLog>& logs, std::int64_t now_ms,
                                 std::int64_t journal_from = 0);
/// apply_range of prepared logs.
Result<ApplyOutcome> apply_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t range_start,
                                 std::int64_t range_end, const std::vector<PreparedLog>& logs, std::int64_t now_ms,
                                 std::int64_t journal_from = 0);

/// What one backfill range of a tracked contract did.
struct BackfillOutcome {
  std::int64_t applied = 0;
  std::int64_t duplicates = 0;
  std::int64_t backfilled_to = -1;
  bool joined = false;  ///< the contract reached its pipeline's checkpoint and follows it now
};

/// Applies the logs of one tracked contract (`contract`, lowercase hex; `logs` its logs of
/// [range_start, range_end] in chain order) and moves its backfill cursor to `range_end`, in the
/// caller's transaction, like apply_range does for a pipeline. Nothing applies when the contract
/// is not tracked, has joined its pipeline, or its cursor is below range_start - 1 (a reorg or a
/// reindex rewound it meanwhile). Once the cursor reaches the pipeline's checkpoint the contract
/// joins the pipeline. Its logs count in the pipeline's logs_applied.
Result<BackfillOutcome> apply_contract_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                             const std::string& contract, std::int64_t range_start,
                                             std::int64_t range_end, const std::vector<DecodedLog>& logs,
                                             std::int64_t now_ms, std::int64_t journal_from = 0);
/// apply_contract_range of prepared logs.
Result<BackfillOutcome> apply_contract_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                             const std::string& contract, std::int64_t range_start,
                                             std::int64_t range_end, const std::vector<PreparedLog>& logs,
                                             std::int64_t now_ms, std::int64_t journal_from = 0);

/// Undoes every projection change and applied log above `block` (of every pipeline), publishes
/// chain.reverted for each such log, lowers checkpoints to `block` and forgets the headers above
/// it; counts a reorg when `count_as_reorg`. Returns the number of logs reverted.
std::int64_t revert_above(gh::store::Tx& tx, std::uint64_t chain_id, std::uint64_t block, bool count_as_reorg,
                          std::int64_t now_ms);

/// The same for one pipeline (reindex): its logs, journal and checkpoint only.
std::int64_t revert_pipeline_above(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::uint64_t block,
                                   std::int64_t now_ms);

/// What a reindex did.
struct ReindexOutcome {
  bool rebuilt = false;       ///< true: projections cleared and replayed from the start block
  std::int64_t reverted = 0;  ///< logs reverted through the journal (when not rebuilt)
  std::int64_t replay_from = 0;
};

/// `gatehouse indexer reindex`: makes the poller replay `pipeline` (or every pipeline) from
/// `from`. Within the block window the journal reverts exactly the changes above from - 1; below
/// it (changes already pruned from the journal) the pipeline's projections are cleared and
/// replayed from `start_block`, or when not given from the first block the pipeline's polling
/// indexer recorded (0 if none did). The server keeps serving: an in-flight range that would
/// leave a gap is not applied (see apply_range).
ReindexOutcome reindex(gh::store::Tx& tx, std::uint64_t chain_id, std::optional<Pipeline> pipeline, std::uint64_t from,
                       std::optional<std::uint64_t> start_block, std::int64_t now_ms);

/// One pipeline's figures for /v1/indexer/status.
struct PipelineStatus {
  std::string pipeline;
  std::int64_t checkpoint = -1;
  std::int64_t lag_blocks = 0;
  std::optional<std::int64_t> lag_seconds;  ///< when the checkpoint block's time is known
  std::int64_t logs_applied = 0;
  std::optional<std::string> last_error;
  std::int64_t error_count = 0;
};

/// One chain's figures.
struct ChainStatus {
  std::uint64_t chain_id = 0;
  std::uint64_t head = 0;
  std::int64_t reorgs = 0;
  std::int64_t updated_ms = 0;
  std::vector<PipelineStatus> pipelines;
  std::vector<storage::TrackedContract> tracked;  ///< contracts with a start block of their own
};

/// What the service knows of an indexed chain (from its poller's settings).
struct IndexedChain {
  std::uint64_t confirmations = 0;
  /// The chain's first indexed block: logs before it are only known for contracts tracked with
  /// a start block of their own on a pipeline that lists its contracts.
  std::uint64_t start_block = 0;
  /// Pipelines that follow every emitter (no contract list): every contract is tracked there
  /// from the chain's start block, without a backfill of its own.
  std::set<Pipeline> follow_all;
  std::set<Pipeline> pipelines{std::begin(all_pipelines), std::end(all_pipelines)};
  /// The configured contracts (lowercase hex) of the other pipelines.
  std::map<Pipeline, std::set<std::string>> configured;
};

/// Reads and writes of the chain context, on the blocking pool.
class ChainService {
 public:
  ChainService(gh::store::Database& db, BlockingPool& pool, const Clock& clock)
      : m_db(db), m_pool(pool), m_clock(clock) {}

  /// The indexed chains (none: every chain is accepted, 0 confirmations) and how to wake a
  /// chain's poller when a contract is added. Called once, before serving.
  void configure(std::map<std::uint64_t, IndexedChain> chains, std::function<void(std::uint64_t)> wake);

  /// Indexes `address`'s logs of `pipeline` on `chain_id` from `start_block`: stored, picked up
  /// by the running poller (woken now), backfilled alone up to the pipeline's checkpoint, then
  /// followed with the pipeline. Survives restarts. Idempotent: a second call changes nothing,
  /// except a lower start block before anything of the contract was applied. Errors:
  /// not_found "chain_not_indexed", invalid "pipeline_not_indexed".
  Task<Result<void>> track_contract(std::uint64_t chain_id, Pipeline pipeline, eth::Address address,
                                    std::uint64_t start_block);
  /// True when `address` is tracked on `pipeline` (configured, added, or a pipeline following
  /// every emitter), its backfill joined the pipeline, and the pipeline's checkpoint is within
  /// the chain's confirmations of the head last seen. False otherwise (also when unknown).
  Task<Result<bool>> caught_up(std::uint64_t chain_id, Pipeline pipeline, eth::Address address);
  /// The tracked contracts (all chains when nullopt), for status pages and operators.
  Task<Result<std::vector<storage::TrackedContract>>> tracked(std::optional<std::uint64_t> chain_id);

  /// What `address` holds (ERC-20, ERC-721, ERC-1155, staked), on one chain or all.
  Task<Result<std::vector<storage::Holding>>> holdings(eth::Address address, std::optional<std::uint64_t> chain_id);
  /// Per chain and pipeline: checkpoint, head, lag, errors, logs applied, reorgs.
  Task<Result<std::vector<ChainStatus>>> status();
  /// Keeps webhook logs until the poller applies them with their block (canonical and
  /// confirmed); returns how many were new. A log seen before changes nothing.
  Task<Result<std::int64_t>> ingest(std::uint64_t chain_id, std::vector<rpc::Log> logs);
  /// The same, blocking (for `gatehouse indexer status`).
  static std::vector<ChainStatus> read_status(gh::store::Database& db);

  gh::store::Database& database() noexcept { return m_db; }
  BlockingPool& pool() noexcept { return m_pool; }
  const Clock& clock() const noexcept { return m_clock; }

 private:
  gh::store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  std::map<std::uint64_t, IndexedChain> m_chains;
  std::function<void(std::uint64_t)> m_wake;
};

}  // namespace gh::chain
