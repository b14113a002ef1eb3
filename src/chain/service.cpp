#include "chain/service.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>
#include <string_view>
#include <unordered_map>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "bus/bus.hpp"

namespace gh::chain {
namespace {

namespace json = boost::json;

// One outbox write for a range's events (one lock and a few multi-row inserts on PostgreSQL).
void publish_or_throw(gh::store::Tx& tx, const std::vector<bus::NewEvent>& events) {
  auto ids = bus::publish_many(tx, events);
  // A payload we built ourselves that the bus refuses is a bug, not an input error.
  if (!ids) throw std::logic_error("chain event refused by the bus: " + ids.error().message);
}

std::int64_t revert_logs(gh::store::Tx& tx, std::uint64_t chain_id, std::uint64_t block,
                         std::optional<Pipeline> pipeline) {
  const auto logs = storage::logs_above(tx, chain_id, block, pipeline);
  std::vector<bus::NewEvent> events;
  events.reserve(logs.size());
  for (const auto& l : logs) {
    json::object payload{{"chain_id", chain_id},       {"block_number", l.block_number},
                         {"block_hash", l.block_hash}, {"log_index", l.log_index},
                         {"txn_hash", l.txn_hash},     {"pipeline", l.pipeline},
                         {"contract", l.contract},     {"topic", l.topic}};
    events.push_back({"chain.reverted", event_ordering_key(chain_id, l.contract), json::serialize(payload)});
  }
  publish_or_throw(tx, events);
  storage::delete_logs_above(tx, chain_id, block, pipeline);
  storage::undo_journal_above(tx, chain_id, block, pipeline);
  // A pair whose PairCreated is reverted here exists on no chain the poller follows any more.
  storage::untrack_created_above(tx, chain_id, pipeline, static_cast<std::int64_t>(block));
  return static_cast<std::int64_t>(logs.size());
}

// The key of a projection change's row, unique across projections and contracts.
std::string row_key(const ProjectionChange& change) {
  std::string id = to_string(change.projection);
  id.append("|").append(change.contract).append("|").append(change.key1).append("|").append(change.key2);
  return id;
}

// Applies the logs above `after` not applied yet: projection changes, one event each. Logs of
// blocks at or above `journal_from` (the reorg window) are recorded in chain_logs and their
// changes journaled, so a reorg can revert them; below it nothing can be reorged any more (both
// would be pruned at the end of the round), so a backfill far behind the head skips them and
// relies on the checkpoint, moved in the same transaction, for exactly-once. The range's
// statements are batched: its applied logs recorded, its projection rows read and written back
// once each, its journal and its events written, each a few hundred rows per statement. The
// journal keeps, per row and block, the value before the block's first change: undoing the blocks
// newest first restores every row. A factory's PairCreated tracks the new pair from its creation
// block, in the same transaction: the pair is a contract the factory refers to, and its own
// backfill (then the pipeline's filter) picks up its Sync, Swap, Mint and Burn logs. A revert of
// that block untracks it again (revert_logs).
// Returns (applied, duplicates).
Result<std::pair<std::int64_t, std::int64_t>> apply_logs(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                                         std::int64_t after,
                                                         const std::vector<const PreparedLog*>& logs,
                                                         std::int64_t journal_from, std::int64_t now_ms) {
  std::int64_t duplicates = 0;
  // Which logs apply: above `after`, and not applied before (recorded in chain_logs within the
  // window; below it, at most once per call).
  std::vector<const PreparedLog*> candidates;
  std::vector<const DecodedLog*> revertible;
  candidates.reserve(logs.size());
  for (const auto* log : logs) {
    const auto block = static_cast<std::int64_t>(log->decoded.log.block_number);
    if (block <= after) {
      ++duplicates;
      continue;
    }
    candidates.push_back(log);
    if (block >= journal_from) revertible.push_back(&log->decoded);
  }
  const auto recorded = revertible.empty() ? std::vector<bool>() : storage::insert_logs(tx, chain_id, revertible);
  std::set<std::pair<eth::Hash32, std::uint64_t>> unrecorded;  // applied here without a chain_logs row
  std::vector<const PreparedLog*> apply;
  apply.reserve(candidates.size());
  std::size_t next_recorded = 0;
  for (const auto* log : candidates) {
    const auto& l = log->decoded.log;
    const bool fresh = static_cast<std::int64_t>(l.block_number) >= journal_from
                           ? static_cast<bool>(recorded[next_recorded++])
                           : unrecorded.emplace(l.block_hash, l.log_index).second;
    if (fresh) {
      apply.push_back(log);
    } else {
      ++duplicates;
    }
  }

  // The rows the applied logs change, each read once.
  struct Row {
    const ProjectionChange* key = nullptr;
    std::optional<std::string> value;  ///< as stored; stale while `amount` is ahead of it
    std::optional<eth::U256> amount;   ///< an amount projection's value, parsed once per range
    bool dirty = false;
    std::int64_t journaled_block = -1;  ///< the last block whose first change was journaled
  };
  std::vector<Row> rows;
  std::unordered_map<std::string_view, std::size_t> row_of;  // row key -> rows index
  std::vector<const ProjectionChange*> keys;
  for (const auto* log : apply) {
    for (std::size_t i = 0; i < log->changes.size(); ++i) {
      if (row_of.emplace(log->rows[i], rows.size()).second) {
        rows.push_back(Row{&log->changes[i], std::nullopt, std::nullopt, false, -1});
        keys.push_back(&log->changes[i]);
      }
    }
  }
  auto stored = storage::read_projections(tx, chain_id, keys);
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i].value = std::move(stored[i]);

  std::vector<storage::JournalEntry> journal;
  std::vector<const bus::CheckedEvent*> events;  // one per applied log, in order
  events.reserve(apply.size());
  for (const auto* log : apply) {
    const auto block = static_cast<std::int64_t>(log->decoded.log.block_number);
    const bool revertible_log = block >= journal_from;
    for (std::size_t i = 0; i < log->changes.size(); ++i) {
      const ProjectionChange& change = log->changes[i];
      Row& row = rows[row_of.at(log->rows[i])];
      const bool journal_it = revertible_log && row.journaled_block != block;
      if (holds_amount(change.projection)) {
        if (!row.amount) {
          auto parsed = row.value ? eth::U256::from_dec(*row.value) : eth::U256{};
          if (!parsed) {
            return make_error(ErrorKind::internal, "amount_invalid", "stored value is not an amount: " + *row.value);
          }
          row.amount = *parsed;
        }
        auto next = apply_amount(change, *row.amount);
        if (!next) return next.error();
        if (*next == *row.amount) continue;
        if (journal_it) {
          journal.push_back({log->decoded.log.block_number, row.key,
                             row.amount->is_zero() ? std::nullopt : std::optional<std::string>(row.amount->to_dec())});
          row.journaled_block = block;
        }
        row.amount = *next;
        row.dirty = true;
        continue;
      }
      auto next = apply_change(change, row.value);
      if (!next) return next.error();
      if (*next == row.value) continue;
      if (journal_it) {
        journal.push_back({log->decoded.log.block_number, row.key, row.value});
        row.journaled_block = block;
      }
      row.value = std::move(*next);
      row.dirty = true;
    }
    events.push_back(&log->event);
    if (const auto* created = std::get_if<PairCreated>(&log->decoded.body)) {
      storage::track_contract(tx, chain_id, Pipeline::uniswap_v2, eth::to_lower_hex(created->pair),
                              log->decoded.log.block_number, now_ms, /*created_by_factory=*/true);
    }
  }
  storage::journal_many(tx, chain_id, pipeline, journal);
  std::vector<storage::ProjectionWrite> writes;
  for (auto& row : rows) {
    if (!row.dirty) continue;
    if (row.amount) row.value = row.amount->is_zero() ? std::nullopt : std::optional<std::string>(row.amount->to_dec());
    writes.push_back({row.key, std::move(row.value)});
  }
  storage::write_projections(tx, chain_id, writes);
  bus::publish_checked(tx, events);
  return std::pair{static_cast<std::int64_t>(apply.size()), duplicates};
}

std::vector<const PreparedLog*> all_of(const std::vector<PreparedLog>& logs) {
  std::vector<const PreparedLog*> out;
  out.reserve(logs.size());
  for (const auto& l : logs) out.push_back(&l);
  return out;
}

std::int64_t millis_now(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
}

}  // namespace

std::vector<PreparedLog> prepare_logs(std::uint64_t chain_id, std::vector<DecodedLog> logs) {
  std::vector<PreparedLog> out;
  out.reserve(logs.size());
  ChecksumCache names;
  for (auto& log : logs) {
    auto changes = projection_changes(log);
    std::vector<std::string> rows;
    rows.reserve(changes.size());
    for (const auto& c : changes) rows.push_back(row_key(c));
    auto event = bus::check({event_topic(log), event_ordering_key(chain_id, eth::to_lower_hex(log.log.address)),
                             event_payload(chain_id, log, names)});
    // A payload we built ourselves that the bus refuses is a bug, not an input error.
    if (!event) throw std::logic_error("chain event refused by the bus: " + event.error().message);
    out.push_back(PreparedLog{std::move(log), std::move(changes), std::move(rows), std::move(*event)});
  }
  return out;
}

Result<BackfillOutcome> apply_contract_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                             const std::string& contract, std::int64_t range_start,
                                             std::int64_t range_end, const std::vector<DecodedLog>& logs,
                                             std::int64_t now_ms, std::int64_t journal_from) {
  return apply_contract_range(tx, chain_id, pipeline, contract, range_start, range_end, prepare_logs(chain_id, logs),
                              now_ms, journal_from);
}

Result<BackfillOutcome> apply_contract_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                             const std::string& contract, std::int64_t range_start,
                                             std::int64_t range_end, const std::vector<PreparedLog>& logs,
                                             std::int64_t now_ms, std::int64_t journal_from) {
  BackfillOutcome out;
  auto row = storage::tracked_contract(tx, chain_id, pipeline, contract);
  if (!row) return out;
  out.backfilled_to = row->backfilled_to;
  out.joined = row->joined;
  if (row->joined || row->backfilled_to < range_start - 1) return out;
  const auto address = eth::parse_address(contract);
  std::vector<const PreparedLog*> own;
  own.reserve(logs.size());
  for (const auto& l : logs) {
    if (address && l.decoded.log.address == *address) own.push_back(&l);
  }
  auto counts = apply_logs(tx, chain_id, pipeline, row->backfilled_to, own, journal_from, now_ms);
  if (!counts) return counts.error();
  out.applied = counts->first;
  out.duplicates = counts->second;
  out.backfilled_to = std::max(row->backfilled_to, range_end);
  const auto pipe = storage::pipeline_row(tx, chain_id, pipeline);
  out.joined = pipe && out.backfilled_to >= pipe->checkpoint;
  storage::advance_tracked(tx, chain_id, pipeline, contract, out.backfilled_to, out.applied, out.joined, now_ms);
  if (out.applied > 0) storage::count_pipeline_logs(tx, chain_id, pipeline, out.applied, now_ms);
  return out;
}

Result<ApplyOutcome> apply_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t range_start,
                                 std::int64_t range_end, const std::vector<DecodedLog>& logs, std::int64_t now_ms,
                                 std::int64_t journal_from) {
  return apply_range(tx, chain_id, pipeline, range_start, range_end, prepare_logs(chain_id, logs), now_ms,
                     journal_from);
}

Result<ApplyOutcome> apply_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t range_start,
                                 std::int64_t range_end, const std::vector<PreparedLog>& logs, std::int64_t now_ms,
                                 std::int64_t journal_from) {
  auto row = storage::pipeline_row(tx, chain_id, pipeline);
  const std::int64_t checkpoint = row ? row->checkpoint : -1;
  if (!row) storage::ensure_pipeline(tx, chain_id, pipeline, std::nullopt, now_ms);
  ApplyOutcome out;
  if (checkpoint < range_start - 1) {
    out.checkpoint = checkpoint;
    return out;
  }
  out.checkpoint = std::max(checkpoint, range_end);
  auto counts = apply_logs(tx, chain_id, pipeline, checkpoint, all_of(logs), journal_from, now_ms);
  if (!counts) return counts.error();
  out.applied = counts->first;
  out.duplicates = counts->second;
  if (range_end > checkpoint || out.applied > 0) {
    storage::advance_pipeline(tx, chain_id, pipeline, out.checkpoint, out.applied, now_ms);
  }
  return out;
}

std::int64_t revert_above(gh::store::Tx& tx, std::uint64_t chain_id, std::uint64_t block, bool count_as_reorg,
                          std::int64_t now_ms) {
  const auto reverted = revert_logs(tx, chain_id, block, std::nullopt);
  storage::rewind_pipelines(tx, chain_id, static_cast<std::int64_t>(block), now_ms);
  storage::rewind_tracked(tx, chain_id, std::nullopt, static_cast<std::int64_t>(block), now_ms);
  storage::delete_blocks_above(tx, chain_id, block);
  if (count_as_reorg) storage::count_reorg(tx, chain_id, now_ms);
  return reverted;
}

std::int64_t revert_pipeline_above(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::uint64_t block,
                                   std::int64_t now_ms) {
  const auto reverted = revert_logs(tx, chain_id, block, pipeline);
  storage::rewind_pipeline(tx, chain_id, pipeline, static_cast<std::int64_t>(block), now_ms);
  storage::rewind_tracked(tx, chain_id, pipeline, static_cast<std::int64_t>(block), now_ms);
  return reverted;
}

ReindexOutcome reindex(gh::store::Tx& tx, std::uint64_t chain_id, std::optional<Pipeline> pipeline, std::uint64_t from,
                       std::optional<std::uint64_t> start_block, std::int64_t now_ms) {
  ReindexOutcome out;
  std::vector<Pipeline> targets;
  if (pipeline) {
    targets.push_back(*pipeline);
  } else {
    targets.assign(std::begin(all_pipelines), std::end(all_pipelines));
  }
  // Each pipeline's first block: the one given, else the one its polling indexer recorded.
  std::map<Pipeline, std::uint64_t> starts;
  std::optional<std::uint64_t> earliest;
  for (auto p : targets) {
    const auto row = storage::pipeline_row(tx, chain_id, p);
    std::uint64_t start = 0;
    if (start_block) {
      start = *start_block;
    } else if (row && row->start_block && *row->start_block > 0) {
      start = static_cast<std::uint64_t>(*row->start_block);
    }
    starts[p] = start;
    if (row) earliest = earliest ? std::min(*earliest, start) : start;  // pipelines never run do not count
  }
  const std::uint64_t first = earliest.value_or(start_block.value_or(0));
  const auto oldest = storage::oldest_journaled_block(tx, chain_id);
  const bool journal_reaches =
      from > first ? (!storage::window_pruned(tx, chain_id, first) || (oldest && from >= *oldest)) : false;
  if (journal_reaches) {
    for (auto p : targets) out.reverted += revert_pipeline_above(tx, chain_id, p, from - 1, now_ms);
    out.replay_from = static_cast<std::int64_t>(from);
    return out;
  }
  out.rebuilt = true;
  out.replay_from = static_cast<std::int64_t>(first);
  for (auto p : targets) {
    storage::clear_pipeline(tx, chain_id, p);
    storage::rewind_pipeline(tx, chain_id, p, static_cast<std::int64_t>(starts[p]) - 1, now_ms);
    storage::restart_tracked(tx, chain_id, p, now_ms);
  }
  return out;
}

Task<Result<std::vector<storage::Holding>>> ChainService::holdings(eth::Address address,
                                                                   std::optional<std::uint64_t> chain_id) {
  const std::string owner = eth::to_lower_hex(address);
  auto list = co_await m_pool.run(
      [&] { return m_db.read([&](gh::store::Tx& tx) { return storage::holdings(tx, owner, chain_id); }); });
  co_return list;
}

void ChainService::configure(std::map<std::uint64_t, IndexedChain> chains, std::function<void(std::uint64_t)> wake) {
  m_chains = std::move(chains);
  m_wake = std::move(wake);
}

Task<Result<void>> ChainService::track_contract(std::uint64_t chain_id, Pipeline pipeline, eth::Address address,
                                                std::uint64_t start_block) {
  if (!m_chains.empty()) {
    auto it = m_chains.find(chain_id);
    if (it == m_chains.end()) {
      co_return make_error(ErrorKind::not_found, "chain_not_indexed",
                           "chain " + std::to_string(chain_id) + " is not indexed by this server");
    }
    if (!it->second.pipelines.contains(pipeline)) {
      co_return make_error(
          ErrorKind::bad_input, "pipeline_not_indexed",
          std::string("pipeline ") + to_string(pipeline) + " does not run on chain " + std::to_string(chain_id));
    }
  }
  const std::string contract = eth::to_lower_hex(address);
  const auto now = millis_now(m_clock);
  co_await m_pool.run([&] {
    m_db.transact(
        [&](gh::store::Tx& tx) { storage::track_contract(tx, chain_id, pipeline, contract, start_block, now); });
  });
  if (m_wake) m_wake(chain_id);
  co_return ok();
}

Task<Result<bool>> ChainService::caught_up(std::uint64_t chain_id, Pipeline pipeline, eth::Address address) {
  std::uint64_t confirmations = 0;
  std::uint64_t chain_start = 0;
  bool follows_all = false;
  if (!m_chains.empty()) {
    auto it = m_chains.find(chain_id);
    if (it == m_chains.end() || !it->second.pipelines.contains(pipeline)) co_return false;
    confirmations = it->second.confirmations;
    chain_start = it->second.start_block;
    follows_all = it->second.follow_all.contains(pipeline);
  }
  const std::string contract = eth::to_lower_hex(address);
  auto answer = co_await m_pool.run([&] {
    return m_db.read([&](gh::store::Tx& tx) {
      const auto tracked = storage::tracked_contract(tx, chain_id, pipeline, contract);
      // A configured contract without a start block of its own follows the pipeline; so does any
      // contract of a pipeline that follows every emitter.
      if (tracked && !tracked->joined && !follows_all) return false;
      // A contract followed with its pipeline (every emitter, or configured without a start
      // block of its own) is known only from the chain's start block: its holdings miss what
      // happened before, unless whoever tracked it asked for no earlier history.
      const bool own_backfill = tracked && !follows_all;
      if (!own_backfill && chain_start > 0 && (!tracked || tracked->start_block < chain_start)) return false;
      if (!tracked && !follows_all && !m_chains.empty()) {
        // Configured contracts are not in the table: the poller's contract list has them. Ask
        // the pipeline only when the contract applied anything or the caller configured it.
        const auto& configured = m_chains.at(chain_id).configured;
        auto list = configured.find(pipeline);
        if (list == configured.end() || !list->second.contains(contract)) return false;
      }
      const auto pipe = storage::pipeline_row(tx, chain_id, pipeline);
      const auto chain = storage::chain_row(tx, chain_id);
      if (!pipe || !chain) return false;
      return pipe->checkpoint + static_cast<std::int64_t>(confirmations) >= static_cast<std::int64_t>(chain->head);
    });
  });
  co_return answer;
}

Task<Result<std::vector<storage::TrackedContract>>> ChainService::tracked(std::optional<std::uint64_t> chain_id) {
  auto list = co_await m_pool.run(
      [&] { return m_db.read([&](gh::store::Tx& tx) { return storage::tracked_contracts(tx, chain_id); }); });
  co_return list;
}

Task<Result<std::int64_t>> ChainService::ingest(std::uint64_t chain_id, std::vector<rpc::Log> logs) {
  const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(m_clock.now().time_since_epoch()).count();
  auto added = co_await m_pool.run([&] {
    return m_db.transact([&](gh::store::Tx& tx) {
      std::int64_t n = 0;
      for (const auto& l : logs) {
        if (l.removed) continue;
        if (storage::insert_pending(tx, chain_id, l, now)) ++n;
      }
      return n;
    });
  });
  co_return added;
}

std::vector<ChainStatus> ChainService::read_status(gh::store::Database& db) {
  return db.read([](gh::store::Tx& tx) {
    std::vector<ChainStatus> out;
    const auto chains = storage::chain_rows(tx);
    const auto pipelines = storage::pipeline_rows(tx, std::nullopt);
    auto chain_of = [&out](std::uint64_t id) -> ChainStatus& {
      for (auto& c : out) {
        if (c.chain_id == id) return c;
      }
      out.push_back(ChainStatus{id, 0, 0, 0, {}, {}});
      return out.back();
    };
    for (const auto& c : chains) {
      auto& s = chain_of(c.chain_id);
      s.head = c.head;
      s.reorgs = c.reorgs;
      s.updated_ms = c.updated_ms;
    }
    for (const auto& p : pipelines) {
      auto& s = chain_of(p.chain_id);
      PipelineStatus ps;
      ps.pipeline = p.pipeline;
      ps.checkpoint = p.checkpoint;
      ps.lag_blocks = std::max<std::int64_t>(0, static_cast<std::int64_t>(s.head) - p.checkpoint);
      ps.logs_applied = p.logs_applied;
      ps.last_error = p.last_error;
      ps.error_count = p.error_count;
      if (p.checkpoint >= 0) {
        auto at = storage::block_at(tx, p.chain_id, static_cast<std::uint64_t>(p.checkpoint));
        auto head = storage::chain_row(tx, p.chain_id);
        if (at && head) {
          ps.lag_seconds = std::max<std::int64_t>(
              0, static_cast<std::int64_t>(head->head_time) - static_cast<std::int64_t>(at->time));
        }
      }
      s.pipelines.push_back(std::move(ps));
    }
    for (auto& t : storage::tracked_contracts(tx, std::nullopt)) chain_of(t.chain_id).tracked.push_back(std::move(t));
    return out;
  });
}

Task<Result<std::vector<ChainStatus>>> ChainService::status() {
  auto list = co_await m_pool.run([this] { return read_status(m_db); });
  co_return list;
}

}  // namespace gh::chain
