#pragma once
// All of the chain context's SQL, on both dialects: chain state, the block-hash window,
// pipeline checkpoints, applied logs, the four projections and the change journal that makes
// every projection change revertible. Functions run inside the caller's transaction.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chain/model.hpp"
#include "store/database.hpp"

namespace gh::chain::storage {

using gh::store::Tx;

/// A stored canonical header.
struct StoredBlock {
  std::uint64_t number = 0;
  std::string hash;         ///< lowercase 0x-hex
  std::string parent_hash;  ///< lowercase 0x-hex
  std::uint64_t time = 0;   ///< block timestamp, seconds
};

/// A pipeline's row.
struct PipelineRow {
  std::uint64_t chain_id = 0;
  std::string pipeline;
  std::int64_t checkpoint = -1;  ///< the last block applied; -1 before the first
  std::int64_t logs_applied = 0;
  std::optional<std::string> last_error;
  std::int64_t error_count = 0;
  std::int64_t updated_ms = 0;
  std::optional<std::int64_t> start_block;  ///< the polling indexer's first block; none if only webhooks fed it
};

/// A chain's row.
struct ChainRow {
  std::uint64_t chain_id = 0;
  std::uint64_t head = 0;
  std::uint64_t head_time = 0;
  std::int64_t reorgs = 0;
  std::int64_t updated_ms = 0;
};

/// An applied log as stored.
struct AppliedLog {
  std::string block_hash;
  std::uint64_t log_index = 0;
  std::uint64_t block_number = 0;
  std::string pipeline;
  std::string txn_hash;
  std::string topic;
  std::string contract;
};

/// Creates the pipeline's row at `start_block - 1` (0 when none) unless it exists, and records
/// `start_block`, when given, as the pipeline's first block (only written when it changes);
/// returns the row.
PipelineRow ensure_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::optional<std::uint64_t> start_block,
                            std::int64_t now_ms);
/// The pipeline's row, if any.
std::optional<PipelineRow> pipeline_row(Tx& tx, std::uint64_t chain_id, Pipeline pipeline);
/// Every pipeline row of a chain (all chains when chain_id is nullopt), by chain then name.
std::vector<PipelineRow> pipeline_rows(Tx& tx, std::optional<std::uint64_t> chain_id);
/// Moves the checkpoint, adds to logs_applied and clears the error.
void advance_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t checkpoint, std::int64_t applied,
                      std::int64_t now_ms);
/// Records a failure of the pipeline.
void record_pipeline_error(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& error,
                           std::int64_t now_ms);
/// Lowers every checkpoint of the chain above `block` to `block`.
void rewind_pipelines(Tx& tx, std::uint64_t chain_id, std::int64_t block, std::int64_t now_ms);
/// Lowers one pipeline's checkpoint to `block` when above.
void rewind_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t block, std::int64_t now_ms);

/// The chain's row, if any.
std::optional<ChainRow> chain_row(Tx& tx, std::uint64_t chain_id);
/// Every chain's row.
std::vector<ChainRow> chain_rows(Tx& tx);
/// Records the head seen.
void set_head(Tx& tx, std::uint64_t chain_id, std::uint64_t head, std::uint64_t head_time, std::int64_t now_ms);
/// Counts a reorg.
void count_reorg(Tx& tx, std::uint64_t chain_id, std::int64_t now_ms);

/// Stores (or replaces) canonical headers.
void put_blocks(Tx& tx, std::uint64_t chain_id, const std::vector<StoredBlock>& blocks);
/// The highest stored header.
std::optional<StoredBlock> top_block(Tx& tx, std::uint64_t chain_id);
/// The stored header at `number`.
std::optional<StoredBlock> block_at(Tx& tx, std::uint64_t chain_id, std::uint64_t number);
/// Stored headers from `from` up, ascending.
std::vector<StoredBlock> blocks_from(Tx& tx, std::uint64_t chain_id, std::uint64_t from);
/// Deletes stored headers above `number`.
void delete_blocks_above(Tx& tx, std::uint64_t chain_id, std::uint64_t number);
/// Deletes headers, applied logs and journal entries below `number` (outside the window).
void prune_below(Tx& tx, std::uint64_t chain_id, std::uint64_t number);

/// Records the log as applied; false when it already was (then apply nothing).
bool insert_log(Tx& tx, std::uint64_t chain_id, const DecodedLog& log);
/// insert_log for many logs (on PostgreSQL a few hundred per statement): for each log, whether it was recorded
/// now (false: it was before, or it came earlier in `logs`; then apply nothing).
std::vector<bool> insert_logs(Tx& tx, std::uint64_t chain_id, const std::vector<const DecodedLog*>& logs);
/// Applied logs above `block` (of one pipeline, or all), newest first.
std::vector<AppliedLog> logs_above(Tx& tx, std::uint64_t chain_id, std::uint64_t block,
                                   std::optional<Pipeline> pipeline);
/// Deletes applied logs above `block` (of one pipeline, or all).
void delete_logs_above(Tx& tx, std::uint64_t chain_id, std::uint64_t block, std::optional<Pipeline> pipeline);

/// Keeps a webhook log until the poller reaches its block; false when already kept.
bool insert_pending(Tx& tx, std::uint64_t chain_id, const rpc::Log& log, std::int64_t now_ms);
/// Webhook logs of blocks from..to, in chain order.
std::vector<rpc::Log> pending_in_range(Tx& tx, std::uint64_t chain_id, std::uint64_t from, std::uint64_t to);

/// The stored value of a projection row (nullopt: no row).
std::optional<std::string> read_projection(Tx& tx, std::uint64_t chain_id, const ProjectionChange& key);
/// Writes (or, for nullopt, deletes) a projection row.
void write_projection(Tx& tx, std::uint64_t chain_id, const ProjectionChange& key,
                      const std::optional<std::string>& value);
/// read_projection for many rows, in the order of `keys` (a key given twice reads the same value):
/// one statement per few hundred rows of one projection and contract.
std::vector<std::optional<std::string>> read_projections(Tx& tx, std::uint64_t chain_id,
                                                         const std::vector<const ProjectionChange*>& keys);
/// One projection row to write: its key and its new value (nullopt: delete the row).
struct ProjectionWrite {
  const ProjectionChange* key = nullptr;
  std::optional<std::string> value;
};
/// write_projection for many distinct rows (on PostgreSQL multi-row upserts and deletes, a few
/// hundred rows per statement; on SQLite row by row, in key order).
void write_projections(Tx& tx, std::uint64_t chain_id, const std::vector<ProjectionWrite>& rows);
/// Journals a change made from `block` by `pipeline`, with the value it replaced.
void journal(Tx& tx, std::uint64_t chain_id, std::uint64_t block, Pipeline pipeline, const ProjectionChange& key,
             const std::optional<std::string>& previous);
/// One journal entry: a change made from `block`, with the value it replaced.
struct JournalEntry {
  std::uint64_t block = 0;
  const ProjectionChange* key = nullptr;
  std::optional<std::string> previous;
};
/// journal() for many entries of `pipeline`, in order (on PostgreSQL a few hundred per statement).
void journal_many(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::vector<JournalEntry>& entries);
/// Undoes every journaled change above `block` (of one pipeline, or all), newest first, and
/// deletes those entries. Returns the number undone.
std::int64_t undo_journal_above(Tx& tx, std::uint64_t chain_id, std::uint64_t block, std::optional<Pipeline> pipeline);

/// Deletes a pipeline's projection rows, journal and applied logs on a chain (full rebuild).
void clear_pipeline(Tx& tx, std::uint64_t chain_id, Pipeline pipeline);
/// The lowest block whose changes the journal still holds (the window's start), if any.
std::optional<std::uint64_t> oldest_journaled_block(Tx& tx, std::uint64_t chain_id);
/// True once anything below the window was pruned (the journal no longer reaches the start).
bool window_pruned(Tx& tx, std::uint64_t chain_id, std::uint64_t start_block);

/// A contract tracked with its own start block (see chain_tracked_contracts).
struct TrackedContract {
  std::uint64_t chain_id = 0;
  std::string pipeline;
  std::string contract;  ///< lowercase hex
  std::uint64_t start_block = 0;
  std::int64_t backfilled_to = -1;  ///< the last block applied by its own backfill
  bool joined = false;              ///< follows the pipeline's checkpoint now
  std::int64_t logs_applied = 0;
  std::optional<std::string> last_error;
};

/// Tracks `contract` (lowercase hex) from `start_block` unless it is tracked already. A second
/// call with a lower start block moves it only while nothing was applied for the contract yet;
/// otherwise it changes nothing. `created_by_factory`: the call comes from a factory's log of
/// `start_block` (PairCreated), and reverting that block untracks the contract
/// (untrack_created_above) unless something else tracks it too: any call without it keeps the
/// contract for good. Returns the row.
TrackedContract track_contract(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& contract,
                               std::uint64_t start_block, std::int64_t now_ms, bool created_by_factory = false);
/// The tracked contract, if any.
std::optional<TrackedContract> tracked_contract(Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                                const std::string& contract);
/// Every tracked contract of a chain (all chains when nullopt), by chain, pipeline, contract.
std::vector<TrackedContract> tracked_contracts(Tx& tx, std::optional<std::uint64_t> chain_id);
/// Moves a tracked contract's backfill cursor, adds to its count, clears its error, and joins it
/// to its pipeline when `joined`.
void advance_tracked(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& contract,
                     std::int64_t backfilled_to, std::int64_t applied, bool joined, std::int64_t now_ms);
/// Records a failed backfill range of a tracked contract.
void record_tracked_error(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, const std::string& contract,
                          const std::string& error, std::int64_t now_ms);
/// Lowers the backfill cursors above `block` (of one pipeline, or all) to `block`.
void rewind_tracked(Tx& tx, std::uint64_t chain_id, std::optional<Pipeline> pipeline, std::int64_t block,
                    std::int64_t now_ms);
/// Untracks the contracts (of one pipeline, or all) that only a factory's log above `block` tracks:
/// that log is being reverted. Returns how many.
std::int64_t untrack_created_above(Tx& tx, std::uint64_t chain_id, std::optional<Pipeline> pipeline,
                                   std::int64_t block);
/// Restarts the backfill of every tracked contract of a pipeline from its start block (a
/// rebuild cleared the pipeline's projections).
void restart_tracked(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t now_ms);
/// Adds to a pipeline's logs_applied without moving its checkpoint (a tracked contract's backfill).
void count_pipeline_logs(Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t applied, std::int64_t now_ms);

/// One holding of an account.
struct Holding {
  std::uint64_t chain_id = 0;
  std::string kind;  ///< "erc20", "erc721", "erc1155", "staked"
  std::string contract;
  std::string token_id;  ///< erc721/erc1155
  std::string amount;    ///< "1" for erc721
};

/// What `address` (lowercase hex) holds, on one chain or all.
std::vector<Holding> holdings(Tx& tx, const std::string& address, std::optional<std::uint64_t> chain_id);

}  // namespace gh::chain::storage
