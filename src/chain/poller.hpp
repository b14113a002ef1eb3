#pragma once
// The poller of one chain: follows head minus confirmations, keeps a window of canonical block
// hashes (batched header fetches), detects a reorg by hash and parent-hash mismatch and reverts
// everything above the common ancestor, then advances each pipeline from its own checkpoint
// with adaptive eth_getLogs ranges. A pipeline that fails backs off alone; the others keep up.
// State lives in the database, so a restarted poller resumes from its checkpoints.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chain/model.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/metrics.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "store/database.hpp"

namespace gh::rpc {
class RpcClient;
}

namespace gh::chain {

/// How one chain is indexed.
struct ChainIndexSettings {
  std::uint64_t chain_id = 0;
  /// Blocks behind the head the indexer stays (0 follows the head itself).
  std::uint64_t confirmations = 12;
  /// First block of a pipeline that has no checkpoint yet.
  std::uint64_t start_block = 0;
  /// The pipelines to run.
  std::set<Pipeline> pipelines{std::begin(all_pipelines), std::end(all_pipelines)};
  /// Emitters followed per pipeline from the chain's start block; a pipeline without an entry
  /// follows every emitter (an entry may be empty: only tracked contracts then).
  std::map<Pipeline, std::vector<eth::Address>> contracts;
  /// A contract with a start block of its own: tracked (chain_tracked_contracts) on the first
  /// round, backfilled alone from that block, then followed with its pipeline.
  struct TrackedStart {
    Pipeline pipeline = Pipeline::erc20;
    eth::Address address;
    std::uint64_t start_block = 0;
  };
  std::vector<TrackedStart> tracked;
  /// Canonical block hashes kept (at least 64): the deepest reorg that can be followed.
  std::uint64_t window = 128;
  /// eth_getLogs block span: first, largest, and the answer time under which it doubles. The
  /// first span is small: a range's density is known only once it is read, and the first range
  /// of a backfill is read before anything else can overlap it; an answer too large for the
  /// response limit is read in vain before the range is split.
  std::uint64_t initial_span = 32;
  std::uint64_t max_span = 100'000;
  std::chrono::milliseconds fast_answer{1'000};
  /// Logs one range aims at: the span follows the density of the logs seen (providers cap answers
  /// near 10,000 logs, and a range is applied in one transaction).
  std::uint64_t target_logs = 10'000;
  /// How long one round keeps backfilling tracked contracts, range after range, before it
  /// returns to following the head (a range under way is finished first).
  std::chrono::milliseconds backfill_budget{5'000};
  /// Between rounds once caught up (a wake() cuts it short).
  std::chrono::milliseconds poll_interval{2'000};
  /// A failing pipeline waits initial * 2^(failures-1), at most max, before its next attempt.
  std::chrono::milliseconds backoff_initial{1'000};
  std::chrono::milliseconds backoff_max{300'000};
};

/// What one round did.
struct RoundReport {
  std::uint64_t head = 0;
  std::optional<std::uint64_t> target;  ///< head - confirmations, when there is one
  std::int64_t applied = 0;             ///< logs applied this round
  std::int64_t reverted = 0;            ///< logs reverted by a reorg this round
  bool reorg = false;
  bool caught_up = false;           ///< every running pipeline (not backing off) is at the target
  std::int64_t backfilled = 0;      ///< logs applied by tracked contracts' own backfills this round
  std::int64_t backfills = 0;       ///< tracked contracts still backfilling after this round
  std::vector<std::string> errors;  ///< "pipeline: reason" of the pipelines that failed
};

/// Indexes one chain. One poller per chain and database.
class Poller {
 public:
  Poller(Executor executor, rpc::RpcClient& client, gh::store::Database& db, BlockingPool& pool, const Clock& clock,
         metrics::Registry& registry, ChainIndexSettings settings);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  /// One round: head, reorg check, headers, then one range per pipeline. The outer error means
  /// the head or the headers could not be read (nothing changed).
  Task<Result<RoundReport>> poll_once();

  /// Runs rounds until stop(): back to back while behind, every poll_interval once caught up.
  void start();
  /// Starts the next round now (a webhook saw new logs).
  void wake();
  /// Stops after the current round.
  void stop();

  const ChainIndexSettings& settings() const noexcept;

 private:
  struct State;
  std::shared_ptr<State> m_state;
};

}  // namespace gh::chain
