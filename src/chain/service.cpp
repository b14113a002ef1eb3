#include "chain/service.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "bus/bus.hpp"

namespace gh::chain {
namespace {

namespace json = boost::json;

std::string ordering_key(std::uint64_t chain_id, const std::string& contract) {
  return std::to_string(chain_id) + ":" + contract;
}

void publish_or_throw(gh::store::Tx& tx, const bus::NewEvent& event) {
  auto id = bus::publish(tx, event);
  // A payload we built ourselves that the bus refuses is a bug, not an input error.
  if (!id) throw std::logic_error("chain event refused by the bus: " + id.error().message);
}

std::int64_t revert_logs(gh::store::Tx& tx, std::uint64_t chain_id, std::uint64_t block,
                         std::optional<Pipeline> pipeline) {
  const auto logs = storage::logs_above(tx, chain_id, block, pipeline);
  for (const auto& l : logs) {
    json::object payload{{"chain_id", chain_id},       {"block_number", l.block_number},
                         {"block_hash", l.block_hash}, {"log_index", l.log_index},
                         {"txn_hash", l.txn_hash},     {"pipeline", l.pipeline},
                         {"contract", l.contract},     {"topic", l.topic}};
    bus::NewEvent event{"chain.reverted", ordering_key(chain_id, l.contract), json::serialize(payload)};
    publish_or_throw(tx, event);
  }
  storage::delete_logs_above(tx, chain_id, block, pipeline);
  storage::undo_journal_above(tx, chain_id, block, pipeline);
  return static_cast<std::int64_t>(logs.size());
}

}  // namespace

Result<ApplyOutcome> apply_range(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::int64_t range_start,
                                 std::int64_t range_end, const std::vector<DecodedLog>& logs, std::int64_t now_ms) {
  auto row = storage::pipeline_row(tx, chain_id, pipeline);
  const std::int64_t checkpoint = row ? row->checkpoint : -1;
  if (!row) storage::ensure_pipeline(tx, chain_id, pipeline, 0, now_ms);
  ApplyOutcome out;
  if (checkpoint < range_start - 1) {
    out.checkpoint = checkpoint;
    return out;
  }
  out.checkpoint = std::max(checkpoint, range_end);
  for (const auto& log : logs) {
    if (static_cast<std::int64_t>(log.log.block_number) <= checkpoint) {
      ++out.duplicates;
      continue;
    }
    if (!storage::insert_log(tx, chain_id, log)) {
      ++out.duplicates;
      continue;
    }
    for (const auto& change : projection_changes(log)) {
      auto previous = storage::read_projection(tx, chain_id, change);
      auto next = apply_change(change, previous);
      if (!next) return next.error();
      if (*next == previous) continue;
      storage::journal(tx, chain_id, log.log.block_number, pipeline, change, previous);
      storage::write_projection(tx, chain_id, change, *next);
    }
    bus::NewEvent event{event_topic(log), ordering_key(chain_id, eth::to_lower_hex(log.log.address)),
                        event_payload(chain_id, log)};
    publish_or_throw(tx, event);
    ++out.applied;
  }
  if (range_end > checkpoint || out.applied > 0) {
    storage::advance_pipeline(tx, chain_id, pipeline, out.checkpoint, out.applied, now_ms);
  }
  return out;
}

std::int64_t revert_above(gh::store::Tx& tx, std::uint64_t chain_id, std::uint64_t block, bool count_as_reorg,
                          std::int64_t now_ms) {
  const auto reverted = revert_logs(tx, chain_id, block, std::nullopt);
  storage::rewind_pipelines(tx, chain_id, static_cast<std::int64_t>(block), now_ms);
  storage::delete_blocks_above(tx, chain_id, block);
  if (count_as_reorg) storage::count_reorg(tx, chain_id, now_ms);
  return reverted;
}

std::int64_t revert_pipeline_above(gh::store::Tx& tx, std::uint64_t chain_id, Pipeline pipeline, std::uint64_t block,
                                   std::int64_t now_ms) {
  const auto reverted = revert_logs(tx, chain_id, block, pipeline);
  storage::rewind_pipeline(tx, chain_id, pipeline, static_cast<std::int64_t>(block), now_ms);
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
      out.push_back(ChainStatus{id, 0, 0, 0, {}});
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
    return out;
  });
}

Task<Result<std::vector<ChainStatus>>> ChainService::status() {
  auto list = co_await m_pool.run([this] { return read_status(m_db); });
  co_return list;
}

}  // namespace gh::chain
