#include "chain/service.hpp"

#include <set>
#include <unordered_map>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "bus/bus.hpp"

namespace gh::chain {
namespace {

namespace json = boost::json;

std::string ordering_key(std::uint64_t chain_id, const std::string& contract) {
  return std::to_string(chain_id) + ":" + contract;
}

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
    events.push_back({"chain.reverted", ordering_key(chain_id, l.contract), json::serialize(payload)});
  }
  publish_or_throw(tx, events);
  storage::delete_logs_above(tx, chain_id, block, pipeline);
  storage::undo_journal_above(tx, chain_id, block, pipeline);
  return static_cast<std::int64_t>(logs.size());
}

// Applies the logs above `after` not applied yet: projection changes, one event each. Logs of
// blocks at or above `journal_from` (the reorg window) are recorded in chain_logs and their
// changes journaled, so a reorg can revert them; below it nothing can be reorged any more (both
// would be pruned at the end of the round), so a backfill far behind the head skips them and
// relies on the checkpoint, moved in the same transaction, for exactly-once. Each projection row
// is read once and written once per call. A factory's PairCreated tracks the new pair from its
// creation block, in the same transaction: the pair is a contract the factory refers to, and its
// own backfill (then the pipeline's filter) picks up its Sync, Swap, Mint and Burn logs.
// Returns (applied, duplicates).
Result<std::pair<std::int64_t, std::int64_t>> apply_logs(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                                         std::int64_t after, const std::vector<DecodedLog>& logs,
                                                         std::int64_t journal_from, std::int64_t now_ms) {
  std::int64_t applied = 0;
  std::int64_t duplicates = 0;
  struct Row {
    ProjectionChange key;
    std::optional<std::string> value;  ///< as stored; stale while `amount` is ahead of it
    std::optional<eth::U256> amount;   ///< an amount projection's value, parsed once per range
    bool dirty = false;
  };
  std::unordered_map<std::string, Row> rows;
  std::set<std::pair<eth::Hash32, std::uint64_t>> unrecorded;  // applied here without a chain_logs row
  std::vector<bus::NewEvent> events;                           // one per applied log, in order
  for (const auto& log : logs) {
    const auto block = static_cast<std::int64_t>(log.log.block_number);
    if (block <= after) {
      ++duplicates;
      continue;
    }
    const bool revertible = block >= journal_from;
    const bool fresh = revertible ? storage::insert_log(tx, chain_id, log)
                                  : unrecorded.emplace(log.log.block_hash, log.log.log_index).second;
    if (!fresh) {
      ++duplicates;
      continue;
    }
    for (const auto& change : projection_changes(log)) {
      std::string id = to_string(change.projection);
      id.append("|").append(change.contract).append("|").append(change.key1).append("|").append(change.key2);
      auto it = rows.find(id);
      if (it == rows.end()) {
        Row row{change, storage::read_projection(tx, chain_id, change), std::nullopt, false};
        it = rows.emplace(std::move(id), std::move(row)).first;
      }
      Row& row = it->second;
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
        if (revertible) {
          const auto previous = row.amount->is_zero() ? std::nullopt : std::optional<std::string>(row.amount->to_dec());
          storage::journal(tx, chain_id, log.log.block_number, pipeline, change, previous);
        }
        row.amount = *next;
        row.dirty = true;
        continue;
      }
      auto next = apply_change(change, row.value);
      if (!next) return next.error();
      if (*next == row.value) continue;
      if (revertible) storage::journal(tx, chain_id, log.log.block_number, pipeline, change, row.value);
      row.value = std::move(*next);
      row.dirty = true;
    }
    events.push_back(
        {event_topic(log), ordering_key(chain_id, eth::to_lower_hex(log.log.address)), event_payload(chain_id, log)});
    if (const auto* created = std::get_if<PairCreated>(&log.body)) {
      storage::track_contract(tx, chain_id, Pipeline::uniswap_v2, eth::to_lower_hex(created->pair),
                              log.log.block_number, now_ms);
    }
    ++applied;
  }
  for (auto& entry : rows) {
    Row& row = entry.second;
    if (!row.dirty) continue;
    if (row.amount) row.value = row.amount->is_zero() ? std::nullopt : std::optional<std::string>(row.amount->to_dec());
    storage::write_projection(tx, chain_id, row.key, row.value);
  }
  publish_or_throw(tx, events);
  return std::pair{applied, duplicates};
}

std::int64_t millis_now(const Clock& clock) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock.now().time_since_epoch()).count();
}

}  // namespace

Result<BackfillOutcome> apply_contract_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline,
                                             const std::string& contract, std::int64_t range_start,
                                             std::int64_t range_end, const std::vector<DecodedLog>& logs,
                                             std::int64_t now_ms, std::int64_t journal_from) {
  BackfillOutcome out;
  auto row = storage::tracked_contract(tx, chain_id, pipeline, contract);
  if (!row) return out;
  out.backfilled_to = row->backfilled_to;
  out.joined = row->joined;
  if (row->joined || row->backfilled_to < range_start - 1) return out;
  std::vector<DecodedLog> own;
  for (const auto& l : logs) {
    if (eth::to_lower_hex(l.log.address) == contract) own.push_back(l);
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
  auto row = storage::pipeline_row(tx, chain_id, pipeline);
  const std::int64_t checkpoint = row ? row->checkpoint : -1;
  if (!row) storage::ensure_pipeline(tx, chain_id, pipeline, 0, now_ms);
  ApplyOutcome out;
  if (checkpoint < range_start - 1) {
    out.checkpoint = checkpoint;
    return out;
  }
  out.checkpoint = std::max(checkpoint, range_end);
  auto counts = apply_logs(tx, chain_id, pipeline, checkpoint, logs, journal_from, now_ms);
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
                       std::uint64_t start_block, std::int64_t now_ms) {
  ReindexOutcome out;
  const auto oldest = storage::oldest_journaled_block(tx, chain_id);
  const bool journal_reaches =
      from > start_block ? (!storage::window_pruned(tx, chain_id, start_block) || (oldest && from >= *oldest)) : false;
  std::vector<Pipeline> targets;
  if (pipeline) {
    targets.push_back(*pipeline);
  } else {
    targets.assign(std::begin(all_pipelines), std::end(all_pipelines));
  }
  if (journal_reaches) {
    for (auto p : targets) out.reverted += revert_pipeline_above(tx, chain_id, p, from - 1, now_ms);
    out.replay_from = static_cast<std::int64_t>(from);
    return out;
  }
  out.rebuilt = true;
  out.replay_from = static_cast<std::int64_t>(start_block);
  for (auto p : targets) {
    storage::clear_pipeline(tx, chain_id, p);
    storage::rewind_pipeline(tx, chain_id, p, static_cast<std::int64_t>(start_block) - 1, now_ms);
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
