// The chain indexer's apply path on SQLite and PostgreSQL: 200,000 ERC-20 Transfer logs plus a few
// thousand Uniswap V2 Swap/Sync pairs, synthesized here (no RPC: what is timed is decoding and
// chain::apply_range, i.e. applied-log records, projection changes with their journal, one outbox
// event per log and the checkpoint, in one transaction per range, as the poller commits them).
// The baseline, measured in the same run on the same database, is the raw insert rate of the same
// rows (one INSERT per log into a plain table, same transactions). At the end the projections
// must equal the balances and reserves computed here, and the outbox must hold one event per log.
//
//   gh_indexer_bench [--logs N] [--swaps N] [--range N] [--backend sqlite|postgres|both]
// PostgreSQL comes from GATEHOUSE_TEST_POSTGRES_URL (scripts/test-services start).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "chain/migrations.hpp"
#include "chain/model.hpp"
#include "chain/service.hpp"
#include "chain/store.hpp"
#include "core/log.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::chain {
namespace {

using eth::Address;
using eth::Hash32;
using eth::U256;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t transfers = 200'000;
  std::size_t swaps = 2'500;
  std::size_t range_logs = 10'000;  ///< logs per apply_range transaction (100 per block)
  std::string backend = "both";
};

constexpr std::uint64_t chain_id = 31337;
constexpr std::size_t logs_per_block = 100;

Address address_of(std::uint32_t kind, std::uint32_t i) {
  const auto h = eth::keccak256(std::string_view("bench-" + std::to_string(kind) + "-" + std::to_string(i)));
  Address a;
  std::copy(h.bytes.begin(), h.bytes.begin() + 20, a.bytes.begin());
  return a;
}

Hash32 word(const Address& a) {
  Hash32 h;
  std::copy(a.bytes.begin(), a.bytes.end(), h.bytes.begin() + 12);
  return h;
}

void append_uint(eth::Bytes& data, std::uint64_t v) {
  const auto be = U256(v).to_be_bytes();
  data.insert(data.end(), be.bytes.begin(), be.bytes.end());
}

/// The synthesized chain: logs in order, per pipeline, with what the projections must end at.
struct Workload {
  std::vector<rpc::Log> erc20;
  std::vector<rpc::Log> v2;
  std::map<std::pair<std::size_t, std::size_t>, std::uint64_t> balances;  ///< (token, holder) -> amount
  std::vector<std::pair<std::uint64_t, std::uint64_t>> reserves;          ///< per pair
  std::vector<Address> tokens, holders, pairs;
  Address factory;
};

Workload synthesize(const Options& o) {
  Workload w;
  std::mt19937_64 rng(42);
  for (std::uint32_t i = 0; i < 3; ++i) w.tokens.push_back(address_of(1, i));
  for (std::uint32_t i = 0; i < 2'000; ++i) w.holders.push_back(address_of(2, i));
  for (std::uint32_t i = 0; i < 2; ++i) w.pairs.push_back(address_of(3, i));
  w.factory = address_of(4, 0);
  const auto transfer = eth::keccak256(std::string_view("Transfer(address,address,uint256)"));
  const auto created = eth::keccak256(std::string_view("PairCreated(address,address,address,uint256)"));
  const auto sync = eth::keccak256(std::string_view("Sync(uint112,uint112)"));
  const auto swap = eth::keccak256(std::string_view("Swap(address,uint256,uint256,uint256,uint256,address)"));

  std::uint64_t block = 1;
  std::uint64_t index = 0;
  auto place = [&](rpc::Log& l) {
    l.block_number = block;
    l.block_hash = eth::keccak256(std::string_view("block-" + std::to_string(block)));
    l.log_index = index++;
    l.transaction_hash = eth::keccak256(std::string_view("tx-" + std::to_string(block) + "-" + std::to_string(index)));
    if (index == logs_per_block) {
      ++block;
      index = 0;
    }
  };
  // ERC-20: a mint to every holder first, then transfers of small amounts (never overdrawn).
  for (std::size_t i = 0; i < o.transfers; ++i) {
    const std::size_t token = i % w.tokens.size();
    std::size_t from = 0;
    std::size_t to = 0;
    std::uint64_t amount = 0;
    const bool mint = i < w.holders.size() * w.tokens.size();
    if (mint) {
      to = i / w.tokens.size();
      amount = 1'000'000'000'000ULL;
    } else {
      from = static_cast<std::size_t>(rng() % w.holders.size());
      to = static_cast<std::size_t>(rng() % w.holders.size());
      amount = 1 + rng() % 1'000;
    }
    rpc::Log l;
    l.address = w.tokens[token];
    l.topics = {transfer, word(mint ? Address{} : w.holders[from]), word(w.holders[to])};
    append_uint(l.data, amount);
    place(l);
    w.erc20.push_back(std::move(l));
    if (!mint) w.balances[{token, from}] -= amount;
    w.balances[{token, to}] += amount;
  }
  // Uniswap V2: the pairs, then swaps (Swap then Sync, as a pair emits them).
  block = 1;
  index = 50;  // the same blocks, after their transfers' indexes
  auto place_v2 = [&](rpc::Log& l) {
    l.block_number = block;
    l.block_hash = eth::keccak256(std::string_view("block-" + std::to_string(block)));
    l.log_index = 1'000 + index++;
    l.transaction_hash = eth::keccak256(std::string_view("v2-" + std::to_string(block) + "-" + std::to_string(index)));
    if (index % 4 == 0) ++block;
  };
  w.reserves.assign(w.pairs.size(), {1'000'000, 1'000'000});
  for (std::size_t p = 0; p < w.pairs.size(); ++p) {
    rpc::Log l;
    l.address = w.factory;
    l.topics = {created, word(w.tokens[p]), word(w.tokens[p + 1])};
    l.data = eth::Bytes(12, 0);
    l.data.insert(l.data.end(), w.pairs[p].bytes.begin(), w.pairs[p].bytes.end());
    append_uint(l.data, p + 1);
    place_v2(l);
    w.v2.push_back(std::move(l));
  }
  for (std::size_t i = 0; i < o.swaps; ++i) {
    const std::size_t p = i % w.pairs.size();
    const std::uint64_t in = 1 + rng() % 1'000;
    const std::uint64_t out = 1 + rng() % 900;
    auto& r = w.reserves[p];
    r = {r.first + in, r.second - out};
    rpc::Log s;
    s.address = w.pairs[p];
    s.topics = {swap, word(w.holders[i % w.holders.size()]), word(w.holders[(i + 1) % w.holders.size()])};
    append_uint(s.data, in);
    append_uint(s.data, 0);
    append_uint(s.data, 0);
    append_uint(s.data, out);
    place_v2(s);
    w.v2.push_back(std::move(s));
    rpc::Log y;
    y.address = w.pairs[p];
    y.topics = {sync};
    append_uint(y.data, r.first);
    append_uint(y.data, r.second);
    place_v2(y);
    w.v2.push_back(std::move(y));
  }
  return w;
}

struct Timing {
  double decode_s = 0;
  double apply_s = 0;
  std::size_t logs = 0;
};

/// Decodes and applies one pipeline's logs in ranges of `range_logs` (whole blocks).
Timing index(gh::store::Database& db, Pipeline pipeline, const std::vector<rpc::Log>& logs, std::size_t range_logs) {
  Timing t;
  // As in a backfill: the chain's last 128 blocks are the reorg window (journaled, recorded).
  const auto journal_from = static_cast<std::int64_t>(logs.back().block_number) - 127;
  std::size_t i = 0;
  while (i < logs.size()) {
    std::size_t end = std::min(logs.size(), i + range_logs);
    while (end < logs.size() && logs[end].block_number == logs[end - 1].block_number) ++end;
    const auto from = static_cast<std::int64_t>(logs[i].block_number);
    const auto to = static_cast<std::int64_t>(logs[end - 1].block_number);
    const auto t0 = Clock::now();
    std::vector<DecodedLog> decoded;
    decoded.reserve(end - i);
    for (std::size_t k = i; k < end; ++k) {
      auto d = decode_log(pipeline, logs[k]);
      if (!d || !*d) throw std::runtime_error("bench log does not decode");
      decoded.push_back(std::move(**d));
    }
    const auto t1 = Clock::now();
    auto applied = db.transact([&](gh::store::Tx& tx) {
      auto r = apply_range(tx, chain_id, pipeline, from == 1 ? 0 : from, to, decoded, 1, journal_from);
      if (!r) throw std::runtime_error(r.error().message);
      return *r;
    });
    const auto t2 = Clock::now();
    if (applied.applied != static_cast<std::int64_t>(end - i)) throw std::runtime_error("a bench log did not apply");
    t.decode_s += std::chrono::duration<double>(t1 - t0).count();
    t.apply_s += std::chrono::duration<double>(t2 - t1).count();
    t.logs += end - i;
    i = end;
  }
  return t;
}

/// The baseline: the same rows, one plain INSERT each, in the same transactions.
double raw_inserts(gh::store::Database& db, const std::vector<rpc::Log>& logs, std::size_t range_logs) {
  db.transact([](gh::store::Tx& tx) {
    tx.exec(
        "CREATE TABLE bench_raw (chain_id BIGINT NOT NULL, block_hash TEXT NOT NULL, log_index BIGINT NOT NULL, "
        "block_number BIGINT NOT NULL, contract TEXT NOT NULL, topic1 TEXT NOT NULL, topic2 TEXT NOT NULL, "
        "data TEXT NOT NULL, PRIMARY KEY (chain_id, block_hash, log_index))");
  });
  const auto t0 = Clock::now();
  for (std::size_t i = 0; i < logs.size(); i += range_logs) {
    const std::size_t end = std::min(logs.size(), i + range_logs);
    db.transact([&](gh::store::Tx& tx) {
      for (std::size_t k = i; k < end; ++k) {
        const auto& l = logs[k];
        tx.exec("INSERT INTO bench_raw VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                {static_cast<std::int64_t>(chain_id), hash_hex(l.block_hash), static_cast<std::int64_t>(l.log_index),
                 static_cast<std::int64_t>(l.block_number), eth::to_lower_hex(l.address), hash_hex(l.topics[1]),
                 hash_hex(l.topics[2]), eth::to_hex(l.data)});
      }
    });
  }
  return static_cast<double>(logs.size()) / std::chrono::duration<double>(Clock::now() - t0).count();
}

/// Every projection equals what the workload computed; one outbox event per log.
bool verify(gh::store::Database& db, const Workload& w) {
  bool ok = true;
  db.read([&](gh::store::Tx& tx) {
    for (const auto& [key, amount] : w.balances) {
      ProjectionChange k{Projection::erc20_balance,
                         eth::to_lower_hex(w.tokens[key.first]),
                         eth::to_lower_hex(w.holders[key.second]),
                         "",
                         ChangeOp::set,
                         ""};
      const auto stored = storage::read_projection(tx, chain_id, k);
      const std::string want = std::to_string(amount);
      if ((amount == 0 && stored) || (amount != 0 && stored != want)) {
        std::fprintf(stderr, "balance mismatch: %s\n", want.c_str());
        ok = false;
        return;
      }
    }
    for (std::size_t p = 0; p < w.pairs.size(); ++p) {
      ProjectionChange k{Projection::pair_reserves, eth::to_lower_hex(w.pairs[p]), "", "", ChangeOp::set, ""};
      const auto want = std::to_string(w.reserves[p].first) + "," + std::to_string(w.reserves[p].second);
      if (storage::read_projection(tx, chain_id, k) != want) {
        std::fprintf(stderr, "reserves mismatch on pair %zu\n", p);
        ok = false;
      }
    }
    const auto events = tx.query_one("SELECT count(*) FROM bus_outbox")->get_int(0);
    if (events != static_cast<std::int64_t>(w.erc20.size() + w.v2.size())) {
      std::fprintf(stderr, "%lld events for %zu logs\n", static_cast<long long>(events), w.erc20.size() + w.v2.size());
      ok = false;
    }
  });
  return ok;
}

int run_backend(gh::store::Dialect dialect, const Options& o, const Workload& w) {
  gh::store::testing::FreshDatabase fresh(dialect, "idxbench");
  if (!fresh.unavailable.empty()) {
    std::printf("%-8s  skipped: %s\n", gh::store::to_string(dialect), fresh.unavailable.c_str());
    return 0;
  }
  auto db = fresh.open();
  db->migrate(std::vector<gh::store::MigrationSet>{bus::migrations(), chain::migrations()});
  const double raw = raw_inserts(*db, w.erc20, o.range_logs);
  const auto started = Clock::now();
  const auto erc20 = index(*db, Pipeline::erc20, w.erc20, o.range_logs);
  const auto v2 = index(*db, Pipeline::uniswap_v2, w.v2, o.range_logs);
  const double total_s = std::chrono::duration<double>(Clock::now() - started).count();
  const double rate = static_cast<double>(erc20.logs + v2.logs) / total_s;
  const bool ok = verify(*db, w);
  std::printf(
      "%-8s  %8zu logs  %8.0f logs/s  (decode %4.1f%%, apply %4.1f%%)  raw inserts %8.0f rows/s  ratio %.2f  %s\n",
      gh::store::to_string(dialect), erc20.logs + v2.logs, rate, 100.0 * (erc20.decode_s + v2.decode_s) / total_s,
      100.0 * (erc20.apply_s + v2.apply_s) / total_s, raw, rate / raw,
      ok ? "projections verified" : "PROJECTIONS WRONG");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace gh::chain

int main(int argc, char** argv) {
  gh::chain::Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--logs") {
      o.transfers = std::stoul(value);
    } else if (flag == "--swaps") {
      o.swaps = std::stoul(value);
    } else if (flag == "--range") {
      o.range_logs = std::stoul(value);
    } else if (flag == "--backend") {
      o.backend = value;
    } else {
      std::fprintf(stderr,
                   "usage: gh_indexer_bench [--logs N] [--swaps N] [--range N] [--backend sqlite|postgres|both]\n");
      return 2;
    }
  }
  gh::log::set_level(gh::log::Level::warn);  // no migration chatter between the figures
  const auto w = gh::chain::synthesize(o);
  std::printf(
      "indexer apply path: %zu ERC-20 transfers + %zu Uniswap V2 logs (%zu swaps), synthesized; %zu logs per "
      "transaction\n",
      w.erc20.size(), w.v2.size(), o.swaps, o.range_logs);
  int rc = 0;
  if (o.backend == "sqlite" || o.backend == "both") rc |= gh::chain::run_backend(gh::store::Dialect::sqlite, o, w);
  if (o.backend == "postgres" || o.backend == "both") rc |= gh::chain::run_backend(gh::store::Dialect::postgres, o, w);
  return rc;
}
