#include "chain/poller.hpp"

#include <algorithm>
#include <atomic>
#include <deque>
#include <set>

#include <fmt/format.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>

#include "chain/service.hpp"
#include "chain/store.hpp"
#include "core/detached.hpp"
#include "core/log.hpp"
#include "core/wakeup.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::chain {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using gh::store::Tx;
using SteadyTime = std::chrono::steady_clock::time_point;

storage::StoredBlock stored(const rpc::BlockHeader& h) {
  return storage::StoredBlock{h.number, hash_hex(h.hash), hash_hex(h.parent_hash), h.timestamp};
}

std::int64_t millis(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

struct Poller::State : std::enable_shared_from_this<Poller::State> {
  struct PipelineState {
    unsigned failures = 0;
    SteadyTime retry_at{};
    std::uint64_t span = 0;
    metrics::Counter* applied = nullptr;
    metrics::Counter* errors = nullptr;
    metrics::Gauge* lag = nullptr;
  };

  // Executors are cheap handles, passed by value throughout.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  State(Executor ex, rpc::RpcClient& c, gh::store::Database& d, BlockingPool& p, const Clock& clk,
        metrics::Registry& reg, ChainIndexSettings s)
      : strand(asio::make_strand(ex)),
        reader(asio::make_strand(ex)),
        wakeup(strand),
        client(c),
        db(d),
        pool(p),
        clock(clk),
        settings(std::move(s)) {
    settings.window = std::max<std::uint64_t>(settings.window, 64);
    settings.initial_span = std::max<std::uint64_t>(settings.initial_span, 1);
    settings.max_span = std::max(settings.max_span, settings.initial_span);
    const std::string chain = std::to_string(settings.chain_id);
    reorgs = &reg.counter("gatehouse_chain_reorgs_total", "Reorgs detected by the indexer.", {"chain"}).with({chain});
    rpc_errors = &reg.counter("gatehouse_chain_rpc_errors_total", "Failed JSON-RPC calls of the indexer.", {"chain"})
                      .with({chain});
    head_gauge =
        &reg.gauge("gatehouse_chain_head_block", "The chain head the indexer last saw.", {"chain"}).with({chain});
    const auto phase = [&](const char* name) {
      return &reg.counter("gatehouse_chain_indexer_seconds_total",
                          "Time the indexer spent per phase: rpc (eth_getLogs answers, JSON parsing included), decode "
                          "(logs to events, their projection changes and event payloads), apply (database transactions "
                          "of the "
                          "ranges).",
                          {"chain", "phase"})
                  .with({chain, name});
    };
    rpc_seconds = phase("rpc");
    decode_seconds = phase("decode");
    apply_seconds = phase("apply");
    backfilling_gauge =
        &reg.gauge("gatehouse_chain_tracked_backfilling",
                   "Tracked contracts still backfilling alone (not yet following their pipeline).", {"chain"})
             .with({chain});
    for (auto p2 : settings.pipelines) {
      PipelineState ps;
      ps.span = settings.initial_span;
      const std::vector<std::string> labels{chain, to_string(p2)};
      ps.applied =
          &reg.counter("gatehouse_chain_logs_applied_total", "Logs applied to the projections.", {"chain", "pipeline"})
               .with(labels);
      ps.errors = &reg.counter("gatehouse_chain_pipeline_errors_total",
                               "Failed rounds of a pipeline (RPC or decoding).", {"chain", "pipeline"})
                       .with(labels);
      ps.lag = &reg.gauge("gatehouse_chain_lag_blocks", "Blocks between the head and a pipeline's checkpoint.",
                          {"chain", "pipeline"})
                    .with(labels);
      pipes.emplace(p2, ps);
    }
  }

  template <class F>
  Task<std::invoke_result_t<F&, Tx&>> in_tx(F f, bool read_only = false) {
    using R = std::invoke_result_t<F&, Tx&>;
    if constexpr (std::is_void_v<R>) {
      co_await pool.run([this, fn = std::move(f)]() mutable { db.transact(fn); });
    } else {
      auto out = co_await pool.run([this, fn = std::move(f), read_only]() mutable {
        if (read_only) return db.read(fn);
        return db.transact(fn);
      });
      co_return out;
    }
  }

  std::int64_t now_ms() const { return millis(clock.now()); }

  /// Headers of `numbers` from the node (nullopt: the node has no such block).
  Task<Result<std::vector<std::optional<rpc::BlockHeader>>>> fetch_headers(std::vector<std::uint64_t> numbers) {
    std::vector<rpc::RpcCall> calls;
    for (auto n : numbers) {
      json::array params;
      params.emplace_back(rpc::to_quantity(n));
      params.emplace_back(false);
      calls.push_back(rpc::RpcCall{"eth_getBlockByNumber", std::move(params)});
    }
    auto answers = co_await client.call_batch(std::move(calls));
    if (!answers) {
      rpc_errors->inc();
      co_return answers.error().to_error();
    }
    std::vector<std::optional<rpc::BlockHeader>> out;
    for (const auto& a : *answers) {
      if (!a) {
        rpc_errors->inc();
        co_return a.error().to_error();
      }
      if (a->is_null()) {
        out.emplace_back();
        continue;
      }
      auto header = rpc::parse_block_header(*a);
      if (!header) co_return header.error();
      out.emplace_back(std::move(*header));
    }
    co_return out;
  }

  void fail(Pipeline p, PipelineState& ps, const std::string& why, RoundReport& report) const {
    ++ps.failures;
    ps.errors->inc();
    auto delay = settings.backoff_initial;
    for (unsigned i = 1; i < ps.failures && delay < settings.backoff_max; ++i) delay *= 2;
    delay = std::min(delay, settings.backoff_max);
    ps.retry_at = std::chrono::steady_clock::now() + delay;
    report.errors.push_back(std::string(to_string(p)) + ": " + why);
    log::warn("indexer pipeline failed; backing off", {{"chain", std::to_string(settings.chain_id)},
                                                       {"pipeline", to_string(p)},
                                                       {"error", why},
                                                       {"retry_in_ms", std::to_string(delay.count())}});
  }

  /// Finds the common ancestor of our window and the node's chain and reverts everything above.
  Task<Result<void>> handle_reorg(RoundReport& report) {
    const auto chain_id = settings.chain_id;
    auto window = co_await in_tx([chain_id](Tx& tx) { return storage::blocks_from(tx, chain_id, 0); }, true);
    if (window.empty()) co_return ok();
    std::vector<std::uint64_t> numbers;
    numbers.reserve(window.size());
    for (const auto& b : window) numbers.push_back(b.number);
    auto node = co_await fetch_headers(std::move(numbers));
    if (!node) co_return node.error();
    std::optional<std::uint64_t> ancestor;
    for (std::size_t i = window.size(); i-- > 0;) {
      const auto& h = (*node)[i];
      if (h && hash_hex(h->hash) == window[i].hash) {
        ancestor = window[i].number;
        break;
      }
    }
    if (!ancestor) {
      if (window.front().number == 0) {
        co_return make_error(ErrorKind::internal, "chain_mismatch",
                             "the node's genesis differs from the indexed chain");
      }
      log::error("reorg deeper than the block window; reverting the whole window",
                 {{"chain", std::to_string(chain_id)}, {"window_from", std::to_string(window.front().number)}});
      ancestor = window.front().number - 1;
    }
    const std::uint64_t keep = *ancestor;
    const auto now = now_ms();
    const auto reverted =
        co_await in_tx([chain_id, keep, now](Tx& tx) { return revert_above(tx, chain_id, keep, true, now); });
    reorgs->inc();
    report.reorg = true;
    report.reverted += reverted;
    log::warn("reorg: reverted the orphaned blocks", {{"chain", std::to_string(chain_id)},
                                                      {"ancestor", std::to_string(keep)},
                                                      {"logs_reverted", std::to_string(reverted)}});
    co_return ok();
  }

  /// Brings the header window up to `target`. False when the node's chain moved under us (the
  /// next round's reorg check will see it).
  Task<Result<bool>> sync_headers(std::uint64_t head, std::uint64_t target) {
    const auto chain_id = settings.chain_id;
    auto top = co_await in_tx([chain_id](Tx& tx) { return storage::top_block(tx, chain_id); }, true);
    std::uint64_t from = settings.start_block;
    if (target + 1 > settings.window) from = std::max(from, target + 1 - settings.window);
    if (top) from = std::max(from, top->number + 1);
    std::vector<storage::StoredBlock> fresh;
    if (from <= target) {
      std::vector<std::uint64_t> numbers;
      for (auto n = from; n <= target; ++n) numbers.push_back(n);
      auto headers = co_await fetch_headers(std::move(numbers));
      if (!headers) co_return headers.error();
      std::optional<std::string> previous;
      if (top && top->number + 1 == from) previous = top->hash;
      for (const auto& h : *headers) {
        if (!h) co_return false;
        if (previous && hash_hex(h->parent_hash) != *previous) co_return false;
        previous = hash_hex(h->hash);
        fresh.push_back(stored(*h));
      }
    }
    const std::uint64_t head_time = fresh.empty() ? (top ? top->time : 0) : fresh.back().time;
    const std::uint64_t prune = target + 1 > settings.window ? target + 1 - settings.window : 0;
    const auto now = now_ms();
    co_await in_tx([chain_id, &fresh, head, head_time, prune, now](Tx& tx) {
      storage::put_blocks(tx, chain_id, fresh);
      storage::set_head(tx, chain_id, head, head_time, now);
      if (prune > 0) storage::prune_below(tx, chain_id, prune);
    });
    co_return true;
  }

  /// What one eth_getLogs range gave, merged with the webhook logs of its canonical blocks.
  struct Fetched {
    std::vector<PreparedLog> logs;     ///< decoded and prepared (see prepare_logs), in chain order
    std::optional<std::string> error;  ///< the range failed (RPC, or a log that does not decode)
    bool rpc_error = false;
    bool stale = false;    ///< a log of a block we do not hold canonical: a reorg under way
    std::uint64_t to = 0;  ///< the last block covered: the range's end, or less when the provider refused it
    std::chrono::steady_clock::duration took{};
  };

  /// The logs of `p` in from..to (of `addresses`, or of every emitter), decoded.
  Task<Fetched> fetch_range(Pipeline p, std::uint64_t from, std::uint64_t to,
                            std::optional<std::vector<eth::Address>> addresses,
                            const std::map<std::uint64_t, std::string>& canonical, std::uint64_t window_from) {
    Fetched out;
    out.to = to;
    const auto chain_id = settings.chain_id;
    std::vector<rpc::Log> merged;
    // A pipeline that follows only listed contracts, none yet: the range is empty.
    const bool nothing_to_follow = addresses && addresses->empty();
    if (!nothing_to_follow) {
      rpc::LogFilter filter;
      if (addresses) filter.addresses = *addresses;
      filter.topics.emplace_back(pipeline_topics(p));
      const auto asked = std::chrono::steady_clock::now();
      auto logs = co_await client.get_logs_prefix(std::move(filter), from, to);
      out.took = std::chrono::steady_clock::now() - asked;
      rpc_seconds->inc(seconds(out.took));
      if (!logs) {
        rpc_errors->inc();
        out.rpc_error = true;
        out.error = logs.error().to_error().message;
        co_return out;
      }
      merged = std::move(logs->logs);
      out.to = logs->to;
      const auto covered = out.to;
      // Webhook logs of the range join those of eth_getLogs once their block is canonical.
      auto pending = co_await in_tx(
          [chain_id, from, covered](Tx& tx) { return storage::pending_in_range(tx, chain_id, from, covered); }, true);
      if (!pending.empty()) {
        std::set<std::pair<std::string, std::uint64_t>> seen;
        for (const auto& l : merged) seen.emplace(hash_hex(l.block_hash), l.log_index);
        for (auto& l : pending) {
          auto it = canonical.find(l.block_number);
          if (l.block_number < window_from || it == canonical.end() || it->second != hash_hex(l.block_hash)) continue;
          if (addresses && std::find(addresses->begin(), addresses->end(), l.address) == addresses->end()) continue;
          if (!seen.emplace(hash_hex(l.block_hash), l.log_index).second) continue;
          merged.push_back(std::move(l));
        }
        std::sort(merged.begin(), merged.end(), [](const rpc::Log& a, const rpc::Log& b) {
          return a.block_number != b.block_number ? a.block_number < b.block_number : a.log_index < b.log_index;
        });
      }
    }
    const auto decoding = std::chrono::steady_clock::now();
    std::vector<DecodedLog> decoded;
    decoded.reserve(merged.size());
    for (const auto& l : merged) {
      if (l.removed) continue;
      if (l.block_number >= window_from) {
        auto it = canonical.find(l.block_number);
        if (it == canonical.end() || it->second != hash_hex(l.block_hash)) {
          out.stale = true;
          co_return out;
        }
      }
      auto d = decode_log(p, l);
      if (!d) {
        out.error = d.error().message;
        co_return out;
      }
      if (*d) decoded.push_back(std::move(**d));
    }
    merged = {};
    // Preparing (projection changes, event payloads) costs more than decoding: it runs on the
    // blocking pool, beside the transaction of the range before, not on an I/O thread.
    out.logs = co_await pool.run([chain_id, &decoded] { return prepare_logs(chain_id, std::move(decoded)); });
    decode_seconds->inc(seconds(std::chrono::steady_clock::now() - decoding));
    co_return out;
  }

  /// The span of the next range after one of `used` blocks that gave `logs` logs in `took`: at
  /// most twice the last and only while answers are fast, and no wider than the density just seen
  /// allows for target_logs (narrower at once when a range was denser than that).
  std::uint64_t next_span(std::uint64_t span, std::uint64_t used, std::size_t logs,
                          std::chrono::steady_clock::duration took) const {
    std::uint64_t next = took < settings.fast_answer ? span * 2 : span;
    if (logs > 0) next = std::min(next, std::max<std::uint64_t>(1, used * settings.target_logs / logs));
    return std::clamp<std::uint64_t>(next, 1, settings.max_span);
  }

  static double seconds(std::chrono::steady_clock::duration d) { return std::chrono::duration<double>(d).count(); }
  static std::int64_t ms(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
  }

  /// One range of a pipeline: its listed contracts (and the tracked ones that joined it), or
  /// every emitter.
  struct PipelineJob {
    Pipeline pipeline = Pipeline::erc20;
    std::uint64_t from = 0;
    std::uint64_t to = 0;
    std::optional<std::vector<eth::Address>> addresses;
  };

  /// The range of `job`'s pipeline after `done`, of at most `span` blocks, up to `target`.
  static PipelineJob continuation(const PipelineJob& job, std::uint64_t done, std::uint64_t span,
                                  std::uint64_t target) {
    PipelineJob next = job;
    next.from = done + 1;
    next.to = std::min(target, next.from + std::max<std::uint64_t>(span, 1) - 1);
    return next;
  }

  Task<Fetched> fetch_pipeline_job(const PipelineJob& job, const std::map<std::uint64_t, std::string>& canonical,
                                   std::uint64_t window_from) {
    // A named copy: no temporary converted inside the co_await (docs/coroutines.md).
    std::optional<std::vector<eth::Address>> addresses = job.addresses;
    auto fetched = co_await fetch_range(job.pipeline, job.from, job.to, std::move(addresses), canonical, window_from);
    co_return fetched;
  }

  /// A range's transaction, its time counted as the apply phase (nullopt when it did not
  /// complete).
  template <class F>
  Task<std::optional<std::invoke_result_t<F&, Tx&>>> timed_apply(F range_tx) {
    const auto applying = std::chrono::steady_clock::now();
    auto applied = co_await in_tx(std::move(range_tx));
    apply_seconds->inc(seconds(std::chrono::steady_clock::now() - applying));
    co_return std::optional<std::invoke_result_t<F&, Tx&>>(std::move(applied));
  }

  /// The transaction of a fetched pipeline range (an error Result rolls it all back). `fetched`
  /// must outlive the task.
  Task<std::optional<Result<ApplyOutcome>>> apply_pipeline_job(const PipelineJob& job, const Fetched& fetched,
                                                               std::int64_t now, std::uint64_t window_from) {
    const auto chain_id = settings.chain_id;
    const Pipeline p = job.pipeline;
    const auto begin = static_cast<std::int64_t>(job.from);
    const auto end = static_cast<std::int64_t>(fetched.to);
    const auto journal_from = static_cast<std::int64_t>(window_from);
    return timed_apply([chain_id, p, begin, end, &fetched, now, journal_from](Tx& tx) {
      return apply_range(tx, chain_id, p, begin, end, fetched.logs, now, journal_from);
    });
  }

  /// The pipelines' ranges of one round, for run_ranges: a pipeline's next range follows while the
  /// budget lasts and the pipeline is behind the target.
  struct PipelineRanges {
    using Job = PipelineJob;
    State& s;
    const std::map<std::uint64_t, std::string>& canonical;
    std::uint64_t window_from = 0;
    std::uint64_t head = 0;
    std::uint64_t target = 0;
    SteadyTime deadline{};
    RoundReport& report;
    bool caught_up = true;

    static bool same_key(const Job& a, const Job& b) { return a.pipeline == b.pipeline; }

    Task<Fetched> fetch(const Job& job) { return s.fetch_pipeline_job(job, canonical, window_from); }

    std::optional<Job> after_fetch(const Job& job, const Fetched& fetched) {
      if (fetched.error || fetched.stale) return std::nullopt;
      PipelineState& ps = s.pipes.at(job.pipeline);
      ps.span = s.next_span(ps.span, fetched.to - job.from + 1, fetched.logs.size(), fetched.took);
      if (fetched.to >= target) return std::nullopt;
      if (std::chrono::steady_clock::now() >= deadline) {
        caught_up = false;  // the next round goes on
        return std::nullopt;
      }
      return continuation(job, fetched.to, ps.span, target);
    }

    Task<bool> settle(const Job& job, const Fetched& fetched) {
      const Pipeline p = job.pipeline;
      PipelineState& ps = s.pipes.at(p);
      if (fetched.error) {
        if (fetched.rpc_error) ps.span = std::max<std::uint64_t>(1, ps.span / 2);
        co_await s.record_error(p, *fetched.error);
        s.fail(p, ps, *fetched.error, report);
        caught_up = false;
        co_return false;
      }
      if (fetched.stale) {
        caught_up = false;  // logs of a block we no longer hold canonical: a reorg under way
        co_return false;
      }
      const auto applying = std::chrono::steady_clock::now();
      auto applied = co_await s.apply_pipeline_job(job, fetched, s.now_ms(), window_from);
      const auto took = std::chrono::steady_clock::now() - applying;
      if (!applied || !*applied) {
        const auto why = applied ? (*applied).error().message : std::string("the range's transaction did not complete");
        co_await s.record_error(p, why);
        s.fail(p, ps, why, report);
        caught_up = false;
        co_return false;
      }
      const ApplyOutcome outcome = **applied;
      log::debug("indexer range applied", {{"chain", std::to_string(s.settings.chain_id)},
                                           {"pipeline", to_string(p)},
                                           {"from", std::to_string(job.from)},
                                           {"to", std::to_string(fetched.to)},
                                           {"logs", std::to_string(fetched.logs.size())},
                                           {"applied", std::to_string(outcome.applied)},
                                           {"duplicates", std::to_string(outcome.duplicates)},
                                           {"checkpoint", std::to_string(outcome.checkpoint)},
                                           {"rpc_ms", std::to_string(ms(fetched.took))},
                                           {"tx_ms", std::to_string(ms(took))}});
      ps.failures = 0;
      ps.applied->inc(static_cast<double>(outcome.applied));
      ps.lag->set(static_cast<double>(static_cast<std::int64_t>(head) - outcome.checkpoint));
      report.applied += outcome.applied;
      if (outcome.checkpoint < static_cast<std::int64_t>(fetched.to)) {
        // Rewound meanwhile (a reindex): nothing applied; the next round starts from the checkpoint.
        caught_up = false;
        co_return false;
      }
      co_return true;
    }
  };

  /// Per tracked contract still backfilling: its span and backoff.
  struct BackfillState {
    std::uint64_t span = 0;
    unsigned failures = 0;
    SteadyTime retry_at{};
  };

  /// One backfill range of one tracked contract.
  struct BackfillJob {
    Pipeline pipeline = Pipeline::erc20;
    std::string contract;
    eth::Address address;
    std::uint64_t from = 0;
    std::uint64_t to = 0;
    std::uint64_t to_limit = 0;  ///< the pipeline's checkpoint: where the contract joins it
  };

  /// The range of `job`'s contract after `done`, of at most `span` blocks.
  static BackfillJob continuation(const BackfillJob& job, std::uint64_t done, std::uint64_t span) {
    BackfillJob next = job;
    next.from = done + 1;
    next.to = std::min(job.to_limit, next.from + std::max<std::uint64_t>(span, 1) - 1);
    return next;
  }

  Task<Fetched> fetch_job(const BackfillJob& job, const std::map<std::uint64_t, std::string>& canonical,
                          std::uint64_t window_from) {
    // A named optional: no temporary converted inside the co_await (docs/coroutines.md).
    std::optional<std::vector<eth::Address>> one(std::in_place, 1, job.address);
    auto fetched = co_await fetch_range(job.pipeline, job.from, job.to, std::move(one), canonical, window_from);
    co_return fetched;
  }

  /// The transaction of a fetched backfill range; `job` and `fetched` must outlive the task.
  Task<std::optional<Result<BackfillOutcome>>> apply_job(const BackfillJob& job, const Fetched& fetched,
                                                         std::int64_t now, std::uint64_t window_from) {
    const auto chain_id = settings.chain_id;
    const Pipeline p = job.pipeline;
    const auto begin = static_cast<std::int64_t>(job.from);
    const auto end = static_cast<std::int64_t>(fetched.to);
    const auto journal_from = static_cast<std::int64_t>(window_from);
    return timed_apply([chain_id, p, &job, begin, end, &fetched, now, journal_from](Tx& tx) {
      return apply_contract_range(tx, chain_id, p, job.contract, begin, end, fetched.logs, now, journal_from);
    });
  }

  /// The tracked contracts' backfill ranges of one round, for run_ranges: a contract's next range
  /// follows while the budget lasts, until it reaches its pipeline's checkpoint and joins it.
  struct BackfillRanges {
    using Job = BackfillJob;
    State& s;
    const std::map<std::uint64_t, std::string>& canonical;
    std::uint64_t window_from = 0;
    SteadyTime deadline{};
    RoundReport& report;
    std::int64_t joined = 0;  ///< contracts that joined their pipeline this round

    static bool same_key(const Job& a, const Job& b) { return a.pipeline == b.pipeline && a.contract == b.contract; }

    Task<Fetched> fetch(const Job& job) { return s.fetch_job(job, canonical, window_from); }

    std::optional<Job> after_fetch(const Job& job, const Fetched& fetched) {
      if (fetched.error || fetched.stale) return std::nullopt;
      auto& bs = s.backfills[{job.pipeline, job.contract}];
      bs.span = s.next_span(bs.span, fetched.to - job.from + 1, fetched.logs.size(), fetched.took);
      if (fetched.to >= job.to_limit || std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      return continuation(job, fetched.to, bs.span);
    }

    Task<bool> settle(const Job& job, const Fetched& fetched) {
      const auto chain_id = s.settings.chain_id;
      const Pipeline p = job.pipeline;
      const std::string& contract = job.contract;
      if (fetched.stale) co_return false;
      std::optional<std::string> why = fetched.error;
      std::optional<BackfillOutcome> outcome;
      std::chrono::steady_clock::duration took{};
      if (!why) {
        const auto applying = std::chrono::steady_clock::now();
        auto applied = co_await s.apply_job(job, fetched, s.now_ms(), window_from);
        took = std::chrono::steady_clock::now() - applying;
        if (applied && *applied) {
          outcome = **applied;
        } else {
          why = applied ? (*applied).error().message : std::string("the range's transaction did not complete");
        }
      }
      auto& bs = s.backfills[{p, contract}];
      if (why) {
        if (fetched.rpc_error) bs.span = std::max<std::uint64_t>(1, bs.span / 2);
        ++bs.failures;
        auto delay = s.settings.backoff_initial;
        for (unsigned k = 1; k < bs.failures && delay < s.settings.backoff_max; ++k) delay *= 2;
        bs.retry_at = std::chrono::steady_clock::now() + std::min(delay, s.settings.backoff_max);
        const auto now = s.now_ms();
        const auto message = *why;
        co_await s.in_tx([chain_id, p, &contract, &message, now](Tx& tx) {
          storage::record_tracked_error(tx, chain_id, p, contract, message, now);
        });
        std::string error(to_string(p));
        error.append(" ").append(contract).append(": ").append(message);
        report.errors.push_back(std::move(error));
        log::warn("indexer backfill of a tracked contract failed; backing off", {{"chain", std::to_string(chain_id)},
                                                                                 {"pipeline", to_string(p)},
                                                                                 {"contract", contract},
                                                                                 {"error", message}});
        co_return false;
      }
      bs.failures = 0;
      log::debug("indexer backfill range applied", {{"chain", std::to_string(chain_id)},
                                                    {"pipeline", to_string(p)},
                                                    {"contract", contract},
                                                    {"from", std::to_string(job.from)},
                                                    {"to", std::to_string(fetched.to)},
                                                    {"logs", std::to_string(fetched.logs.size())},
                                                    {"applied", std::to_string(outcome->applied)},
                                                    {"rpc_ms", std::to_string(ms(fetched.took))},
                                                    {"tx_ms", std::to_string(ms(took))}});
      s.pipes.at(p).applied->inc(static_cast<double>(outcome->applied));
      report.backfilled += outcome->applied;
      report.applied += outcome->applied;
      if (outcome->joined) {
        s.backfills.erase({p, contract});
        ++joined;
        log::info("tracked contract caught up; it follows its pipeline now",
                  {{"chain", std::to_string(chain_id)}, {"pipeline", to_string(p)}, {"contract", contract}});
        co_return false;
      }
      // Rewound meanwhile: nothing applied, the next round starts over from the stored progress.
      co_return outcome->backfilled_to >= static_cast<std::int64_t>(fetched.to);
    }
  };

  /// Ranges of each tracked contract that has not joined its pipeline yet, while the round's
  /// budget lasts. Returns how many are still behind.
  Task<std::int64_t> backfill(const std::vector<storage::TrackedContract>& tracked,
                              const std::map<std::uint64_t, std::string>& canonical, std::uint64_t window_from,
                              RoundReport& report) {
    const auto chain_id = settings.chain_id;
    std::int64_t behind = 0;
    std::vector<BackfillJob> jobs;
    for (const auto& t : tracked) {
      if (t.joined) continue;
      const auto parsed = parse_pipeline(t.pipeline);
      if (!parsed || !pipes.contains(*parsed)) continue;
      const Pipeline p = *parsed;
      const std::string contract = t.contract;
      const auto now = now_ms();
      const auto listed = settings.contracts.find(p);
      const auto address = eth::parse_address(contract);
      if (!address) continue;
      if (listed == settings.contracts.end() ||
          std::find(listed->second.begin(), listed->second.end(), *address) != listed->second.end()) {
        // A pipeline following every emitter, or one configured with this contract (from the
        // pipeline's start), already applies its logs: a backfill of its own would apply them twice.
        const auto at = t.backfilled_to;
        co_await in_tx([chain_id, p, &contract, at, now](Tx& tx) {
          storage::advance_tracked(tx, chain_id, p, contract, at, 0, true, now);
        });
        continue;
      }
      auto& bs = backfills[{p, contract}];
      if (bs.span == 0) bs.span = settings.initial_span;
      if (bs.failures > 0 && std::chrono::steady_clock::now() < bs.retry_at) {
        ++behind;
        continue;
      }
      auto row = co_await in_tx([chain_id, p](Tx& tx) { return storage::pipeline_row(tx, chain_id, p); }, true);
      if (!row) {
        ++behind;  // the pipeline's first round creates its row
        continue;
      }
      const std::int64_t checkpoint = row->checkpoint;
      if (t.backfilled_to >= checkpoint) {
        const auto at = t.backfilled_to;
        co_await in_tx([chain_id, p, &contract, at, now](Tx& tx) {
          storage::advance_tracked(tx, chain_id, p, contract, at, 0, true, now);
        });
        continue;
      }
      const auto from = static_cast<std::uint64_t>(t.backfilled_to + 1);
      const auto to = std::min(static_cast<std::uint64_t>(checkpoint), from + bs.span - 1);
      jobs.push_back(BackfillJob{p, contract, *address, from, to, static_cast<std::uint64_t>(checkpoint)});
    }

    // The contracts' ranges run as a queue (see run_ranges): each contract's next range goes to
    // the back, until every contract has joined or the round's budget is spent (the head then
    // gets its turn).
    std::deque<BackfillJob> queue(jobs.begin(), jobs.end());
    BackfillRanges ranges{*this, canonical, window_from, std::chrono::steady_clock::now() + settings.backfill_budget,
                          report};
    co_await run_ranges(std::move(queue), ranges);
    co_return behind + static_cast<std::int64_t>(jobs.size()) - ranges.joined;
  }

  /// Wakes one half of run_ranges when the other changed what they share. A waiter notes the
  /// generation before it looks at the shared state, so that a change made between its look and
  /// its wait is not missed.
  struct Signal {
    explicit Signal(const Executor& ex) : timer(ex, asio::steady_timer::time_point::max()) {}
    void notify() {
      ++generation;
      timer.cancel();
    }
    Task<void> wait(std::uint64_t seen) {
      if (generation != seen) co_return;
      timer.expires_at(asio::steady_timer::time_point::max());
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    asio::steady_timer timer;
    std::uint64_t generation = 0;
  };

  /// What the two halves of run_ranges share.
  template <class Job>
  struct RangeFlow {
    explicit RangeFlow(const Executor& ex) : read(ex), applied(ex) {}
    std::deque<Job> queue;                      ///< ranges to read, in order
    std::deque<std::pair<Job, Fetched>> ready;  ///< read, waiting for their transaction
    std::size_t ready_logs = 0;                 ///< the logs of `ready`
    std::vector<Fetched> spent;                 ///< applied or dropped: freed by the reading half
    std::vector<Job> stopped;                   ///< a range of each key stopped this round
    bool read_all = false;                      ///< the reading half has ended
    bool halted = false;                        ///< the applying half has ended
    Signal read;                                ///< the reading half changed the flow
    Signal applied;                             ///< the applying half changed it
  };

  /// Runs a queue of ranges (the pipelines' or the tracked contracts'), each in a transaction of
  /// its own, the ranges of one key (a pipeline, a contract) in order. Reading runs ahead of the
  /// transactions: while one range commits, the next ones are fetched, decoded and prepared, until
  /// the ranges waiting hold `target_logs` logs; so at most those, the range committing and the
  /// one being read are in memory, and the single writer never waits on a read that could have
  /// run during the transaction before. A range's continuation is queued as soon as its answer
  /// is read (its span depends on that answer alone). When a key stops (`settle` returns false:
  /// its range failed, was rewound, or its contract joined its pipeline), its ranges still queued
  /// or read are dropped. Applied ranges are freed by the reading half, not between two
  /// transactions.
  ///
  /// `Ranges` provides Job, same_key(a, b), fetch(job) -> Task<Fetched>, after_fetch(job,
  /// fetched) -> optional continuation, and settle(job, fetched) -> Task<bool>.
  template <class Ranges>
  Task<void> run_ranges(std::deque<typename Ranges::Job> queue, Ranges& ranges) {
    using Job = typename Ranges::Job;
    RangeFlow<Job> flow(co_await asio::this_coro::executor);
    flow.queue = std::move(queue);
    using namespace asio::experimental::awaitable_operators;
    co_await (read_ranges(flow, ranges) && apply_ranges(flow, ranges));
  }

  template <class Ranges, class Job>
  static bool stopped(const RangeFlow<Job>& flow, const Job& job) {
    return std::any_of(flow.stopped.begin(), flow.stopped.end(),
                       [&job](const Job& s) { return Ranges::same_key(s, job); });
  }

  template <class Ranges, class Job>
  Task<void> read_ranges(RangeFlow<Job>& flow, Ranges& ranges) {
    try {
      while (!flow.queue.empty() && !flow.halted && !stopping.load()) {
        const auto seen = flow.applied.generation;
        if (!flow.spent.empty()) {
          asio::post(reader, [spent = std::move(flow.spent)]() mutable { spent.clear(); });
          flow.spent.clear();
        }
        if (!flow.ready.empty() && flow.ready_logs >= settings.target_logs) {
          co_await flow.applied.wait(seen);
          continue;
        }
        const Job job = flow.queue.front();
        flow.queue.pop_front();
        auto read = ranges.fetch(job);
        Fetched fetched = co_await asio::co_spawn(reader, std::move(read), asio::use_awaitable);
        if (stopped<Ranges>(flow, job)) continue;  // its key stopped while it was read
        if (auto next = ranges.after_fetch(job, fetched)) flow.queue.push_back(std::move(*next));
        flow.ready_logs += fetched.logs.size();
        flow.ready.emplace_back(job, std::move(fetched));
        flow.read.notify();
      }
    } catch (...) {
      flow.read_all = true;
      flow.read.notify();
      throw;
    }
    flow.read_all = true;
    flow.read.notify();
  }

  template <class Ranges, class Job>
  Task<void> apply_ranges(RangeFlow<Job>& flow, Ranges& ranges) {
    try {
      while (!stopping.load()) {
        const auto seen = flow.read.generation;
        if (flow.ready.empty()) {
          if (flow.read_all) break;
          co_await flow.read.wait(seen);
          continue;
        }
        std::pair<Job, Fetched> range = std::move(flow.ready.front());
        flow.ready.pop_front();
        flow.ready_logs -= range.second.logs.size();
        flow.applied.notify();
        const bool go_on = co_await ranges.settle(range.first, range.second);
        if (!go_on) {
          flow.stopped.push_back(range.first);
          std::erase_if(flow.queue, [&range](const Job& q) { return Ranges::same_key(q, range.first); });
          for (auto it = flow.ready.begin(); it != flow.ready.end();) {
            if (Ranges::same_key(it->first, range.first)) {
              flow.ready_logs -= it->second.logs.size();
              flow.spent.push_back(std::move(it->second));
              it = flow.ready.erase(it);
            } else {
              ++it;
            }
          }
        }
        flow.spent.push_back(std::move(range.second));
        flow.applied.notify();
      }
    } catch (...) {
      flow.halted = true;
      flow.applied.notify();
      throw;
    }
    flow.halted = true;
    flow.applied.notify();
  }

  /// Stores the configured contracts with a start block of their own (once per process).
  Task<void> seed_tracked() {
    if (seeded) co_return;
    const auto chain_id = settings.chain_id;
    const auto now = now_ms();
    const auto list = settings.tracked;
    co_await in_tx([chain_id, &list, now](Tx& tx) {
      for (const auto& t : list) {
        storage::track_contract(tx, chain_id, t.pipeline, eth::to_lower_hex(t.address), t.start_block, now);
      }
    });
    seeded = true;
  }

  Task<Result<RoundReport>> round() {
    RoundReport report;
    const auto chain_id = settings.chain_id;
    auto head = co_await client.block_number();
    if (!head) {
      rpc_errors->inc();
      co_return head.error().to_error();
    }
    report.head = *head;
    head_gauge->set(static_cast<double>(*head));
    if (*head < settings.confirmations) {
      report.caught_up = true;
      co_return report;
    }
    const std::uint64_t target = *head - settings.confirmations;
    report.target = target;

    // Reorg check: is our newest stored header still the node's block at that height?
    auto top = co_await in_tx([chain_id](Tx& tx) { return storage::top_block(tx, chain_id); }, true);
    if (top) {
      std::vector<std::uint64_t> one{top->number};
      auto fetched = co_await fetch_headers(std::move(one));
      if (!fetched) co_return fetched.error();
      const auto& h = (*fetched)[0];
      if (!h || hash_hex(h->hash) != top->hash) {
        auto handled = co_await handle_reorg(report);
        if (!handled) co_return handled.error();
      }
    }
    auto synced = co_await sync_headers(*head, target);
    if (!synced) co_return synced.error();
    if (!*synced) co_return report;  // the chain moved while we read it: go again

    auto window = co_await in_tx([chain_id](Tx& tx) { return storage::blocks_from(tx, chain_id, 0); }, true);
    std::map<std::uint64_t, std::string> canonical;
    for (const auto& b : window) canonical.emplace(b.number, b.hash);
    const std::uint64_t window_from = window.empty() ? target + 1 : window.front().number;
    co_await seed_tracked();
    auto tracked = co_await in_tx([chain_id](Tx& tx) { return storage::tracked_contracts(tx, chain_id); }, true);

    bool caught_up = true;
    // Every pipeline behind the target gets a range; the ranges then run as a queue (see
    // run_ranges), like the backfills below: a pipeline's next range goes to the back while the
    // budget lasts.
    std::deque<PipelineJob> queue;
    for (auto& entry : pipes) {
      const Pipeline p = entry.first;
      PipelineState& ps = entry.second;
      if (ps.failures > 0 && std::chrono::steady_clock::now() < ps.retry_at) continue;
      const auto start = settings.start_block;
      const auto now = now_ms();
      auto row = co_await in_tx(
          [chain_id, p, start, now](Tx& tx) { return storage::ensure_pipeline(tx, chain_id, p, start, now); });
      const std::int64_t checkpoint = row.checkpoint;
      ps.lag->set(static_cast<double>(static_cast<std::int64_t>(*head) - checkpoint));
      if (checkpoint >= static_cast<std::int64_t>(target)) continue;
      PipelineJob job;
      job.pipeline = p;
      job.from = static_cast<std::uint64_t>(checkpoint + 1);
      job.to = std::min(target, job.from + ps.span - 1);
      const auto listed = settings.contracts.find(p);
      if (listed != settings.contracts.end()) {
        job.addresses = listed->second;
        for (const auto& t : tracked) {
          if (t.joined && t.pipeline == to_string(p)) {
            if (auto a = eth::parse_address(t.contract)) job.addresses->push_back(*a);
          }
        }
      }
      queue.push_back(std::move(job));
    }
    PipelineRanges ranges{*this, canonical, window_from,
                          *head, target,    std::chrono::steady_clock::now() + settings.backfill_budget,
                          report};
    co_await run_ranges(std::move(queue), ranges);
    if (!ranges.caught_up) caught_up = false;
    // Read again: the ranges may have tracked new contracts (a factory's PairCreated), whose
    // backfill starts in this round rather than the next.
    tracked = co_await in_tx([chain_id](Tx& tx) { return storage::tracked_contracts(tx, chain_id); }, true);
    report.backfills = co_await backfill(tracked, canonical, window_from, report);
    backfilling_gauge->set(static_cast<double>(report.backfills));
    if (report.backfills > 0) caught_up = false;
    report.caught_up = caught_up && report.errors.empty();
    co_return report;
  }

  Task<void> record_error(Pipeline p, std::string why) {
    const auto chain_id = settings.chain_id;
    const auto now = now_ms();
    co_await in_tx([chain_id, p, &why, now](Tx& tx) { storage::record_pipeline_error(tx, chain_id, p, why, now); });
  }

  Task<void> run(std::shared_ptr<State> self) {
    while (!stopping.load()) {
      wakeup.begin();
      bool wait = true;
      in_round.store(true);
      try {
        auto r = co_await round();
        if (!r) {
          log::warn("indexer round failed",
                    {{"chain", std::to_string(settings.chain_id)}, {"error", r.error().message}});
        } else {
          wait = r->caught_up;
        }
      } catch (const std::exception& e) {
        log::error("indexer round failed", {{"chain", std::to_string(settings.chain_id)}, {"error", e.what()}});
      }
      in_round.store(false);
      if (stopping.load()) break;
      // Caught up: until the next poll, or a wake (one during the round rounds again at once).
      if (wait) co_await wakeup.rest(settings.poll_interval);
    }
    running.store(false);
    (void)self;
  }

  asio::strand<Executor> strand;
  /// Where run_ranges reads ranges (the JSON of eth_getLogs, decoding) and frees applied ones:
  /// beside the strand, which must be free to start the next transaction the moment one commits.
  asio::strand<Executor> reader;
  Wakeup wakeup;
  rpc::RpcClient& client;
  gh::store::Database& db;
  BlockingPool& pool;
  const Clock& clock;
  ChainIndexSettings settings;
  std::map<Pipeline, PipelineState> pipes;
  std::map<std::pair<Pipeline, std::string>, BackfillState> backfills;
  bool seeded = false;
  metrics::Counter* reorgs = nullptr;
  metrics::Counter* rpc_errors = nullptr;
  metrics::Gauge* head_gauge = nullptr;
  metrics::Gauge* backfilling_gauge = nullptr;
  metrics::Counter* rpc_seconds = nullptr;
  metrics::Counter* decode_seconds = nullptr;
  metrics::Counter* apply_seconds = nullptr;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  std::atomic<bool> in_round{false};  ///< a round uses the client and the database right now
};

Poller::Poller(Executor executor, rpc::RpcClient& client, gh::store::Database& db, BlockingPool& pool,
               const Clock& clock, metrics::Registry& registry, ChainIndexSettings settings)
    : m_state(std::make_shared<State>(std::move(executor), client, db, pool, clock, registry, std::move(settings))) {}

Poller::~Poller() {
  // Only a round in progress uses what the poller borrows (client, database, pool); a loop
  // parked on its timer holds nothing but its own state. Bounded: the I/O threads may be gone.
  m_state->stopping.store(true);
  wake();
  wait_while_busy(m_state->in_round);
}

Task<Result<RoundReport>> Poller::poll_once() {
  auto state = m_state;
  auto r = co_await state->round();
  co_return r;
}

void Poller::start() {
  if (m_state->running.exchange(true)) return;
  asio::co_spawn(m_state->strand, m_state->run(m_state), LoggedDetached("chain.poller"));
}

void Poller::wake() {
  m_state->wakeup.wake();
}

void Poller::stop() {
  if (m_state->stopping.exchange(true)) return;
  wake();
  wait_while_busy(m_state->running, std::chrono::seconds(10));
}

const ChainIndexSettings& Poller::settings() const noexcept {
  return m_state->settings;
}

}  // namespace gh::chain
