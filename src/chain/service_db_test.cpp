// The apply and revert path on both backends: a log applies once whoever delivers it, each
// applied log publishes one event in the same transaction, every projection change is undone
// by a revert (chain.reverted per log), and one pipeline's checkpoint moves alone.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "chain/migrations.hpp"
#include "chain/service.hpp"
#include "core/testing/run_task.hpp"
#include "eth/abi.hpp"
#include "eth/keccak.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::chain {
namespace {

using eth::Address;
using eth::Hash32;
using eth::U256;
using gh::store::Dialect;
using gh::store::Tx;

constexpr std::uint64_t chain_id = 31337;

Address addr(std::uint8_t last) {
  Address a;
  a.bytes[19] = last;
  a.bytes[0] = 0xcd;
  return a;
}

Hash32 word(const Address& a) {
  Hash32 h;
  std::copy(a.bytes.begin(), a.bytes.end(), h.bytes.begin() + 12);
  return h;
}

Hash32 block_hash(std::uint64_t number, std::uint8_t fork) {
  Hash32 h;
  h.bytes[0] = fork;
  h.bytes[31] = static_cast<std::uint8_t>(number);
  return h;
}

DecodedLog erc20(const Address& token, const Address& from, const Address& to, std::uint64_t amount,
                 std::uint64_t block, std::uint64_t index, std::uint8_t fork = 1) {
  rpc::Log l;
  l.address = token;
  l.topics = {eth::keccak256(std::string_view("Transfer(address,address,uint256)")), word(from), word(to)};
  l.data = eth::to_bytes(U256(amount).to_be_bytes().view());
  l.block_number = block;
  l.block_hash = block_hash(block, fork);
  l.log_index = index;
  return decode_log(Pipeline::erc20, l).value().value();
}

DecodedLog erc721(const Address& token, const Address& from, const Address& to, std::uint64_t id, std::uint64_t block,
                  std::uint64_t index, std::uint8_t fork = 1) {
  rpc::Log l;
  l.address = token;
  l.topics = {eth::keccak256(std::string_view("Transfer(address,address,uint256)")), word(from), word(to),
              U256(id).to_be_bytes()};
  l.block_number = block;
  l.block_hash = block_hash(block, fork);
  l.log_index = index;
  return decode_log(Pipeline::erc721, l).value().value();
}

// A Uniswap V2 factory's PairCreated(token0, token1, pair, index).
DecodedLog pair_created(const Address& factory, const Address& token0, const Address& token1, const Address& pair,
                        std::uint64_t block, std::uint64_t index, std::uint8_t fork = 1) {
  rpc::Log l;
  l.address = factory;
  l.topics = {eth::keccak256(std::string_view("PairCreated(address,address,address,uint256)")), word(token0),
              word(token1)};
  const auto pair_word = word(pair);
  const auto count = U256(index + 1).to_be_bytes();
  l.data.assign(pair_word.bytes.begin(), pair_word.bytes.end());
  l.data.insert(l.data.end(), count.bytes.begin(), count.bytes.end());
  l.block_number = block;
  l.block_hash = block_hash(block, fork);
  l.log_index = index;
  return decode_log(Pipeline::uniswap_v2, l).value().value();
}

class ChainServiceTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<gh::store::MigrationSet>{bus::migrations(), chain::migrations()});
  }

  ApplyOutcome apply(Pipeline p, std::int64_t end, const std::vector<DecodedLog>& logs) {
    return m_db->transact([&](Tx& tx) {
      auto r = apply_range(tx, chain_id, p, 0, end, logs, 1);
      if (!r) throw std::runtime_error(r.error().message);
      return *r;
    });
  }

  std::optional<std::string> balance(const Address& token, const Address& holder) {
    return m_db->transact([&](Tx& tx) {
      ProjectionChange key{
          Projection::erc20_balance, eth::to_lower_hex(token), eth::to_lower_hex(holder), "", ChangeOp::set, ""};
      return storage::read_projection(tx, chain_id, key);
    });
  }

  std::vector<bus::Event> events() {
    return m_db->transact([](Tx& tx) { return bus::read_outbox(tx, 0, 1000); });
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "chain"};
  std::unique_ptr<gh::store::Database> m_db;
  Address m_token = addr(0x10);
  Address m_nft = addr(0x11);
  Address m_alice = addr(1), m_bob = addr(2), m_carol = addr(3);
};

TEST_P(ChainServiceTest, AppliesEachLogOnceAndPublishesOneEventPerLog) {
  const std::vector<DecodedLog> logs{erc20(m_token, Address{}, m_alice, 1000, 1, 0),
                                     erc20(m_token, m_alice, m_bob, 300, 2, 0)};
  auto first = apply(Pipeline::erc20, 2, logs);
  EXPECT_EQ(first.applied, 2);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("700"));
  EXPECT_EQ(balance(m_token, m_bob), std::optional<std::string>("300"));

  // The same logs again (a second collector, a replayed range): nothing changes.
  auto again = apply(Pipeline::erc20, 2, logs);
  EXPECT_EQ(again.applied, 0);
  EXPECT_EQ(again.duplicates, 2);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("700"));

  const auto published = events();
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].topic, "chain.transfer");
  const auto payload = boost::json::parse(published[1].payload).as_object();
  EXPECT_EQ(payload.at("amount").as_string(), "300");
  EXPECT_EQ(payload.at("standard").as_string(), "erc20");
  EXPECT_EQ(payload.at("from").as_string(), eth::to_checksum(m_alice));
}

TEST_P(ChainServiceTest, AFailedApplyLeavesNothingBehind) {
  apply(Pipeline::erc20, 1, {erc20(m_token, Address{}, m_alice, 5, 1, 0)});
  // A balance that would overflow: the whole range rolls back, the checkpoint stays.
  rpc::Log l = erc20(m_token, Address{}, m_alice, 1, 2, 0).log;
  l.data = eth::to_bytes(U256::max().to_be_bytes().view());
  const auto overflow = decode_log(Pipeline::erc20, l).value().value();
  EXPECT_THROW(apply(Pipeline::erc20, 2, {erc20(m_token, Address{}, m_bob, 9, 2, 1), overflow}), std::runtime_error);
  EXPECT_EQ(balance(m_token, m_bob), std::nullopt);
  EXPECT_EQ(events().size(), 1u);
  const auto row = m_db->transact([](Tx& tx) { return storage::pipeline_row(tx, chain_id, Pipeline::erc20); });
  ASSERT_TRUE(row);
  EXPECT_EQ(row->checkpoint, 1);
}

TEST_P(ChainServiceTest, RevertUndoesEveryChangeAboveTheBlockAndAnnouncesIt) {
  apply(Pipeline::erc20, 3,
        {erc20(m_token, Address{}, m_alice, 1000, 1, 0), erc20(m_token, m_alice, m_bob, 100, 2, 0),
         erc20(m_token, m_bob, m_carol, 40, 3, 0), erc20(m_token, m_alice, m_carol, 900, 3, 1)});
  apply(Pipeline::erc721, 3, {erc721(m_nft, Address{}, m_alice, 7, 1, 1), erc721(m_nft, m_alice, m_bob, 7, 3, 2)});
  EXPECT_EQ(balance(m_token, m_alice), std::nullopt);  // spent entirely
  EXPECT_EQ(balance(m_token, m_carol), std::optional<std::string>("940"));

  const auto reverted = m_db->transact([](Tx& tx) { return revert_above(tx, chain_id, 1, true, 2); });
  EXPECT_EQ(reverted, 4);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("1000"));
  EXPECT_EQ(balance(m_token, m_bob), std::nullopt);
  EXPECT_EQ(balance(m_token, m_carol), std::nullopt);
  const auto held = m_db->transact([&](Tx& tx) { return storage::holdings(tx, eth::to_lower_hex(m_alice), chain_id); });
  ASSERT_EQ(held.size(), 2u);
  EXPECT_EQ(held[1].kind, "erc721");
  EXPECT_EQ(held[1].token_id, "7");

  std::size_t reverted_events = 0;
  for (const auto& e : events())
    if (e.topic == "chain.reverted") ++reverted_events;
  EXPECT_EQ(reverted_events, 4u);
  const auto status = ChainService::read_status(*m_db);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].reorgs, 1);
  for (const auto& p : status[0].pipelines) EXPECT_EQ(p.checkpoint, 1) << p.pipeline;

  // The canonical chain's blocks 2-3 (another fork) apply on top.
  apply(Pipeline::erc20, 3, {erc20(m_token, m_alice, m_carol, 10, 2, 0, 2)});
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("990"));
  EXPECT_EQ(balance(m_token, m_carol), std::optional<std::string>("10"));
}

TEST_P(ChainServiceTest, OnePipelineRewindsAlone) {
  apply(Pipeline::erc20, 5, {erc20(m_token, Address{}, m_alice, 10, 4, 0)});
  apply(Pipeline::erc721, 5, {erc721(m_nft, Address{}, m_alice, 1, 4, 1)});
  m_db->transact([](Tx& tx) { revert_pipeline_above(tx, chain_id, Pipeline::erc20, 2, 3); });
  EXPECT_EQ(balance(m_token, m_alice), std::nullopt);
  const auto held =
      m_db->transact([&](Tx& tx) { return storage::holdings(tx, eth::to_lower_hex(m_alice), std::nullopt); });
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].kind, "erc721");
  auto erc20_row = m_db->transact([](Tx& tx) { return storage::pipeline_row(tx, chain_id, Pipeline::erc20); });
  auto erc721_row = m_db->transact([](Tx& tx) { return storage::pipeline_row(tx, chain_id, Pipeline::erc721); });
  EXPECT_EQ(erc20_row->checkpoint, 2);
  EXPECT_EQ(erc721_row->checkpoint, 5);
  // Replaying the range applies the log again, once.
  apply(Pipeline::erc20, 5, {erc20(m_token, Address{}, m_alice, 10, 4, 0)});
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("10"));
}

TEST_P(ChainServiceTest, ARevertedPairCreatedUntracksItsPairUnlessSomethingElseTracksItToo) {
  const Address factory = addr(0x20), orphan = addr(0x21), listed = addr(0x22);
  const auto tracked = [&](const Address& pair) {
    return m_db->transact(
        [&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::uniswap_v2, eth::to_lower_hex(pair)); });
  };
  apply(Pipeline::uniswap_v2, 5,
        {pair_created(factory, m_alice, m_bob, orphan, 3, 0), pair_created(factory, m_alice, m_carol, listed, 4, 0)});
  // The operator lists the second pair as well (configuration, or a gate that refers to it).
  m_db->transact(
      [&](Tx& tx) { storage::track_contract(tx, chain_id, Pipeline::uniswap_v2, eth::to_lower_hex(listed), 4, 2); });
  ASSERT_TRUE(tracked(orphan));
  EXPECT_EQ(tracked(orphan)->start_block, 3u);
  ASSERT_TRUE(tracked(listed));

  // Rewinding another pipeline leaves the factory's pairs alone.
  m_db->transact([](Tx& tx) { revert_pipeline_above(tx, chain_id, Pipeline::erc20, 1, 3); });
  EXPECT_TRUE(tracked(orphan));

  // A reorg removes both PairCreated logs: the pair only the factory tracked goes with its log.
  m_db->transact([](Tx& tx) { revert_above(tx, chain_id, 2, true, 3); });
  EXPECT_FALSE(tracked(orphan));
  ASSERT_TRUE(tracked(listed));
  EXPECT_EQ(tracked(listed)->start_block, 4u);

  // The canonical chain creates the pair at another block: it is tracked from there.
  apply(Pipeline::uniswap_v2, 6, {pair_created(factory, m_alice, m_bob, orphan, 6, 0, 2)});
  ASSERT_TRUE(tracked(orphan));
  EXPECT_EQ(tracked(orphan)->start_block, 6u);
  EXPECT_EQ(tracked(orphan)->backfilled_to, 5);

  // A reindex of the pipeline from block 6 reverts the log and untracks the pair; its replay
  // tracks it again.
  m_db->transact([](Tx& tx) { reindex(tx, chain_id, Pipeline::uniswap_v2, 6, 0, 4); });
  EXPECT_FALSE(tracked(orphan));
  apply(Pipeline::uniswap_v2, 6, {pair_created(factory, m_alice, m_bob, orphan, 6, 0, 2)});
  ASSERT_TRUE(tracked(orphan));
  EXPECT_EQ(tracked(orphan)->start_block, 6u);
}

TEST_P(ChainServiceTest, ARangeThatWouldLeaveAGapAppliesNothing) {
  apply(Pipeline::erc20, 5, {erc20(m_token, Address{}, m_alice, 10, 4, 0)});
  // A reindex rewinds to 1 while a range 6..8 is in flight: that range must not apply.
  m_db->transact([](Tx& tx) { revert_pipeline_above(tx, chain_id, Pipeline::erc20, 1, 3); });
  const auto outcome = m_db->transact([&](Tx& tx) {
    return apply_range(tx, chain_id, Pipeline::erc20, 6, 8, {erc20(m_token, m_alice, m_bob, 1, 7, 0)}, 4);
  });
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->applied, 0);
  EXPECT_EQ(outcome->checkpoint, 1);
  EXPECT_EQ(balance(m_token, m_bob), std::nullopt);
}

TEST_P(ChainServiceTest, ReindexRevertsThroughTheJournalInsideTheWindowAndRebuildsBelowIt) {
  apply(Pipeline::erc20, 9, {erc20(m_token, Address{}, m_alice, 100, 2, 0), erc20(m_token, m_alice, m_bob, 30, 8, 0)});
  apply(Pipeline::erc721, 9, {erc721(m_nft, Address{}, m_alice, 1, 3, 1)});
  m_db->transact([](Tx& tx) {
    std::vector<storage::StoredBlock> window;
    for (std::uint64_t n = 5; n <= 9; ++n)
      window.push_back({n, "0x" + std::to_string(n), "0x" + std::to_string(n - 1), n});
    storage::put_blocks(tx, chain_id, window);
  });
  // Inside the window (5..9): the journal undoes block 8 only, for erc20 only.
  auto inside = m_db->transact([](Tx& tx) { return reindex(tx, chain_id, Pipeline::erc20, 6, 0, 5); });
  EXPECT_FALSE(inside.rebuilt);
  EXPECT_EQ(inside.reverted, 1);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("100"));
  EXPECT_EQ(balance(m_token, m_bob), std::nullopt);
  // Below the window: cleared and replayed from the start block; erc721 untouched.
  auto below = m_db->transact([](Tx& tx) { return reindex(tx, chain_id, Pipeline::erc20, 3, 0, 6); });
  EXPECT_TRUE(below.rebuilt);
  EXPECT_EQ(below.replay_from, 0);
  EXPECT_EQ(balance(m_token, m_alice), std::nullopt);
  const auto row = m_db->transact([](Tx& tx) { return storage::pipeline_row(tx, chain_id, Pipeline::erc20); });
  EXPECT_EQ(row->checkpoint, -1);
  const auto held = m_db->transact([&](Tx& tx) { return storage::holdings(tx, eth::to_lower_hex(m_alice), chain_id); });
  ASSERT_EQ(held.size(), 1u);
  EXPECT_EQ(held[0].kind, "erc721");
  // The replay applies every log again, once.
  apply(Pipeline::erc20, 9, {erc20(m_token, Address{}, m_alice, 100, 2, 0), erc20(m_token, m_alice, m_bob, 30, 8, 0)});
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("70"));
}

TEST_P(ChainServiceTest, ARebuildStartsAtTheFirstBlockThePollingIndexerRecorded) {
  const auto row = [&](Pipeline p) {
    return m_db->transact([&](Tx& tx) { return storage::ensure_pipeline(tx, chain_id, p, std::nullopt, 1); });
  };
  // The webhook path creates a row without a start; the poller records its configured start.
  EXPECT_EQ(row(Pipeline::erc20).start_block, std::nullopt);
  auto polled = m_db->transact([](Tx& tx) { return storage::ensure_pipeline(tx, chain_id, Pipeline::erc20, 3, 2); });
  EXPECT_EQ(polled.start_block, std::optional<std::int64_t>(3));
  EXPECT_EQ(polled.checkpoint, -1);  // an existing row keeps its checkpoint
  auto fresh = m_db->transact([](Tx& tx) { return storage::ensure_pipeline(tx, chain_id, Pipeline::erc721, 4, 2); });
  EXPECT_EQ(fresh.checkpoint, 3);
  EXPECT_EQ(fresh.start_block, std::optional<std::int64_t>(4));
  EXPECT_EQ(row(Pipeline::erc20).start_block, std::optional<std::int64_t>(3));  // no start given: kept

  apply(Pipeline::erc20, 9, {erc20(m_token, Address{}, m_alice, 100, 5, 0)});
  apply(Pipeline::erc721, 9, {erc721(m_nft, Address{}, m_alice, 1, 6, 1)});
  // From a block at or below the first one: a rebuild, each pipeline from its own start.
  auto all = m_db->transact([](Tx& tx) { return reindex(tx, chain_id, std::nullopt, 2, std::nullopt, 3); });
  EXPECT_TRUE(all.rebuilt);
  EXPECT_EQ(all.replay_from, 3);
  EXPECT_EQ(row(Pipeline::erc20).checkpoint, 2);
  EXPECT_EQ(row(Pipeline::erc721).checkpoint, 3);
  EXPECT_EQ(balance(m_token, m_alice), std::nullopt);

  // A start given to the reindex wins over the recorded one.
  apply(Pipeline::erc20, 9, {erc20(m_token, Address{}, m_alice, 100, 5, 0)});
  auto given = m_db->transact([](Tx& tx) { return reindex(tx, chain_id, Pipeline::erc20, 1, 1, 4); });
  EXPECT_TRUE(given.rebuilt);
  EXPECT_EQ(given.replay_from, 1);
  EXPECT_EQ(row(Pipeline::erc20).checkpoint, 0);

  // The poller's configured start moves: the row follows, its checkpoint does not.
  auto moved = m_db->transact([](Tx& tx) { return storage::ensure_pipeline(tx, chain_id, Pipeline::erc20, 8, 5); });
  EXPECT_EQ(moved.start_block, std::optional<std::int64_t>(8));
  EXPECT_EQ(moved.checkpoint, 0);
}

TEST_P(ChainServiceTest, BelowTheReorgWindowLogsApplyOnceWithoutRecordsAndInsideItTheyRevert) {
  const auto mint = erc20(m_token, Address{}, m_alice, 100, 2, 0);
  const auto old_transfer = erc20(m_token, m_alice, m_bob, 10, 3, 0);
  const auto recent = erc20(m_token, m_alice, m_carol, 5, 8, 0);
  // The window starts at block 6: blocks 2 and 3 are backfilled without records; a log listed
  // twice in the range still applies once.
  auto outcome = m_db->transact([&](Tx& tx) {
    return apply_range(tx, chain_id, Pipeline::erc20, 0, 9, {mint, old_transfer, old_transfer, recent}, 1, 6);
  });
  ASSERT_TRUE(outcome);
  EXPECT_EQ(outcome->applied, 3);
  EXPECT_EQ(outcome->duplicates, 1);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("85"));
  EXPECT_EQ(balance(m_token, m_bob), std::optional<std::string>("10"));
  const auto recorded = m_db->transact([](Tx& tx) {
    return std::pair{tx.query_one("SELECT count(*) FROM chain_logs")->get_int(0),
                     tx.query_one("SELECT count(*) FROM chain_journal")->get_int(0)};
  });
  EXPECT_EQ(recorded.first, 1);
  EXPECT_EQ(recorded.second, 2);
  EXPECT_EQ(events().size(), 3u);
  // The same range again: the checkpoint covers it.
  EXPECT_EQ(apply(Pipeline::erc20, 9, {mint, old_transfer, recent}).applied, 0);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("85"));
  // A reorg inside the window undoes the recent change only.
  EXPECT_EQ(m_db->transact([](Tx& tx) { return revert_above(tx, chain_id, 6, true, 2); }), 1);
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("90"));
  EXPECT_EQ(balance(m_token, m_carol), std::nullopt);
  EXPECT_EQ(balance(m_token, m_bob), std::optional<std::string>("10"));
}

// A process killed after a range's statements ran but before its commit (the restart soak's
// SIGKILL): nothing of the range stays, neither its projection rows, records, events, count nor
// checkpoint, and the resumed backfill counts each of its logs once; inside the reorg window
// and below it.
TEST_P(ChainServiceTest, ARangeKilledBeforeItsCommitLeavesNothingAndItsReplayCountsEachLogOnce) {
  struct Killed : std::runtime_error {
    Killed() : std::runtime_error("killed before the commit") {}
  };
  for (const std::int64_t journal_from : {std::int64_t{0}, std::int64_t{100}}) {
    SCOPED_TRACE(journal_from == 0 ? "inside the window" : "below the window");
    const std::int64_t base = journal_from == 0 ? 0 : 5;  // the second case goes on from the first
    const auto first = static_cast<std::uint64_t>(base + 1);
    const auto token = addr(static_cast<std::uint8_t>(0x20 + base));
    auto range = [&](std::int64_t start, std::int64_t end, const std::vector<DecodedLog>& logs) {
      return m_db->transact([&](Tx& tx) {
        auto r = apply_range(tx, chain_id, Pipeline::erc20, start, end, logs, 1, journal_from);
        if (!r) throw std::runtime_error(r.error().message);
        return *r;
      });
    };
    auto state = [&] {
      return m_db->read([&](Tx& tx) {
        const auto row = storage::pipeline_row(tx, chain_id, Pipeline::erc20);
        return std::tuple{row ? row->checkpoint : -2, row ? row->logs_applied : -1,
                          tx.query_one("SELECT count(*) FROM chain_logs")->get_int(0),
                          tx.query_one("SELECT count(*) FROM chain_journal")->get_int(0),
                          bus::read_outbox(tx, 0, 1000).size()};
      });
    };
    const std::vector<DecodedLog> before{erc20(token, Address{}, m_alice, 1000, first, 0),
                                         erc20(token, m_alice, m_bob, 100, first + 1, 0)};
    const std::vector<DecodedLog> killed{erc20(token, m_alice, m_bob, 10, first + 2, 0),
                                         erc20(token, m_bob, m_carol, 30, first + 2, 1),
                                         erc20(token, m_alice, m_carol, 1, first + 3, 0)};
    const auto counted = std::get<1>(state()) < 0 ? 0 : std::get<1>(state());
    EXPECT_EQ(range(base, base + 2, before).applied, 2);
    const auto committed = state();
    EXPECT_EQ(std::get<0>(committed), base + 2);
    EXPECT_EQ(std::get<1>(committed), counted + 2);

    EXPECT_THROW(m_db->transact([&](Tx& tx) {
      auto r = apply_range(tx, chain_id, Pipeline::erc20, base + 3, base + 4, killed, 2, journal_from);
      EXPECT_TRUE(r && r->applied == 3);
      throw Killed();
    }),
                 Killed);
    EXPECT_EQ(state(), committed);
    EXPECT_EQ(balance(token, m_alice), std::optional<std::string>("900"));
    EXPECT_EQ(balance(token, m_bob), std::optional<std::string>("100"));
    EXPECT_EQ(balance(token, m_carol), std::nullopt);

    // The resumed backfill asks for the range after the checkpoint again: applied and counted once.
    const auto replay = range(base + 3, base + 4, killed);
    EXPECT_EQ(replay.applied, 3);
    EXPECT_EQ(replay.checkpoint, base + 4);
    EXPECT_EQ(std::get<1>(state()), counted + 5);
    EXPECT_EQ(balance(token, m_alice), std::optional<std::string>("889"));
    EXPECT_EQ(balance(token, m_bob), std::optional<std::string>("80"));
    EXPECT_EQ(balance(token, m_carol), std::optional<std::string>("31"));
    // A second delivery of the same range (a collector that had it in flight) adds nothing.
    EXPECT_EQ(range(base + 3, base + 4, killed).applied, 0);
    EXPECT_EQ(std::get<1>(state()), counted + 5);
    EXPECT_EQ(balance(token, m_carol), std::optional<std::string>("31"));
  }
}

TEST_P(ChainServiceTest, ATrackedContractBackfillsAloneThenJoinsItsPipeline) {
  const Address other = addr(0x12);
  const std::string token = eth::to_lower_hex(m_token);
  // The pipeline follows `other` up to block 10.
  apply(Pipeline::erc20, 10, {erc20(other, Address{}, m_alice, 5, 9, 0)});
  auto tracked = m_db->transact([&](Tx& tx) {
    storage::track_contract(tx, chain_id, Pipeline::erc20, token, 3, 1);
    // A second call is a no-op; a lower start before anything applied moves it.
    storage::track_contract(tx, chain_id, Pipeline::erc20, token, 7, 1);
    return storage::track_contract(tx, chain_id, Pipeline::erc20, token, 2, 1);
  });
  EXPECT_EQ(tracked.start_block, 2u);
  EXPECT_EQ(tracked.backfilled_to, 1);
  EXPECT_FALSE(tracked.joined);

  auto backfill = [&](std::int64_t from, std::int64_t to, const std::vector<DecodedLog>& logs) {
    return m_db->transact([&](Tx& tx) {
      auto r = apply_contract_range(tx, chain_id, Pipeline::erc20, token, from, to, logs, 2);
      if (!r) throw std::runtime_error(r.error().message);
      return *r;
    });
  };
  // Logs of other contracts in the range do not apply through this contract's backfill.
  auto first = backfill(2, 5,
                        {erc20(m_token, Address{}, m_alice, 100, 2, 0), erc20(other, Address{}, m_bob, 1, 3, 0),
                         erc20(m_token, m_alice, m_bob, 40, 5, 0)});
  EXPECT_EQ(first.applied, 2);
  EXPECT_EQ(first.backfilled_to, 5);
  EXPECT_FALSE(first.joined);
  EXPECT_EQ(balance(other, m_bob), std::nullopt);
  // A range that would leave a gap applies nothing; a replayed one applies nothing twice.
  EXPECT_EQ(backfill(7, 8, {erc20(m_token, m_alice, m_carol, 1, 7, 0)}).applied, 0);
  EXPECT_EQ(backfill(2, 5, {erc20(m_token, Address{}, m_alice, 100, 2, 0)}).applied, 0);
  EXPECT_EQ(balance(m_token, m_carol), std::nullopt);
  // A reorg above 4 undoes the backfill's block 5 and rewinds its cursor.
  m_db->transact([](Tx& tx) { revert_above(tx, chain_id, 4, true, 3); });
  EXPECT_EQ(balance(m_token, m_alice), std::optional<std::string>("100"));
  EXPECT_EQ(balance(m_token, m_bob), std::nullopt);
  auto row = m_db->transact([&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::erc20, token); });
  EXPECT_EQ(row->backfilled_to, 4);
  // The pipeline checkpoint went to 4 as well: the next range reaches it and joins.
  auto last = backfill(5, 6, {erc20(m_token, m_alice, m_carol, 10, 6, 0)});
  EXPECT_TRUE(last.joined);
  EXPECT_EQ(balance(m_token, m_carol), std::optional<std::string>("10"));
  // Once joined, its logs come with the pipeline's ranges only.
  EXPECT_EQ(backfill(7, 8, {erc20(m_token, m_alice, m_carol, 1, 7, 0)}).applied, 0);
  const auto pipe = m_db->transact([](Tx& tx) { return storage::pipeline_row(tx, chain_id, Pipeline::erc20); });
  EXPECT_EQ(pipe->logs_applied, 1 + 2 + 1);  // counted with the pipeline, reverted ones included
  // A rebuild of the pipeline restarts the contract's backfill from its start block.
  m_db->transact([](Tx& tx) { reindex(tx, chain_id, Pipeline::erc20, 0, 0, 4); });
  row = m_db->transact([&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::erc20, token); });
  EXPECT_FALSE(row->joined);
  EXPECT_EQ(row->backfilled_to, 1);
}

TEST_P(ChainServiceTest, TrackContractIsStoredAndCaughtUpFollowsThePipelineAndTheHead) {
  BlockingPool pool{1, 8};
  SystemClock clock;
  ChainService service(*m_db, pool, clock);
  std::vector<std::uint64_t> woken;
  IndexedChain indexed;
  indexed.confirmations = 2;
  indexed.configured[Pipeline::erc20] = {};
  indexed.follow_all = {Pipeline::erc721};
  std::map<std::uint64_t, IndexedChain> chains;
  chains.emplace(chain_id, indexed);
  service.configure(std::move(chains), [&](std::uint64_t id) { woken.push_back(id); });
  boost::asio::io_context ioc;
  auto run = [&](auto task) { return gh::testing::run(ioc, std::move(task)); };

  EXPECT_EQ(run(service.track_contract(1, Pipeline::erc20, m_token, 5)).error().code, "chain_not_indexed");
  ASSERT_TRUE(run(service.track_contract(chain_id, Pipeline::erc20, m_token, 5)));
  EXPECT_EQ(woken, std::vector<std::uint64_t>{chain_id});
  auto list = run(service.tracked(chain_id)).value();
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].contract, eth::to_lower_hex(m_token));
  EXPECT_EQ(list[0].start_block, 5u);

  m_db->transact([](Tx& tx) { storage::set_head(tx, chain_id, 20, 0, 1); });
  apply(Pipeline::erc20, 18, {});
  // Still backfilling: not caught up, however close the pipeline is.
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc20, m_token)).value());
  const std::string token = eth::to_lower_hex(m_token);
  m_db->transact([&](Tx& tx) { storage::advance_tracked(tx, chain_id, Pipeline::erc20, token, 18, 0, true, 2); });
  EXPECT_TRUE(run(service.caught_up(chain_id, Pipeline::erc20, m_token)).value());
  // The head moves beyond the confirmations: behind again.
  m_db->transact([](Tx& tx) { storage::set_head(tx, chain_id, 21, 0, 1); });
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc20, m_token)).value());
  // Untracked on a listed pipeline: no. Any contract on a pipeline following every emitter: its checkpoint.
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc20, m_nft)).value());
  apply(Pipeline::erc721, 19, {});
  EXPECT_TRUE(run(service.caught_up(chain_id, Pipeline::erc721, m_nft)).value());
}

TEST_P(ChainServiceTest, CaughtUpIsFalseWhereHistoryBeforeTheChainsStartBlockIsMissing) {
  BlockingPool pool{1, 8};
  SystemClock clock;
  ChainService service(*m_db, pool, clock);
  IndexedChain indexed;
  indexed.start_block = 10;
  indexed.configured[Pipeline::erc20] = {eth::to_lower_hex(m_token)};
  indexed.follow_all = {Pipeline::erc721};
  std::map<std::uint64_t, IndexedChain> chains;
  chains.emplace(chain_id, indexed);
  service.configure(std::move(chains), [](std::uint64_t) {});
  boost::asio::io_context ioc;
  auto run = [&](auto task) { return gh::testing::run(ioc, std::move(task)); };
  m_db->transact([](Tx& tx) { storage::set_head(tx, chain_id, 20, 0, 1); });
  apply(Pipeline::erc20, 20, {});
  apply(Pipeline::erc721, 20, {});
  // Both pipelines are at the head, but neither has the contracts' logs before block 10.
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc20, m_token)).value());
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc721, m_nft)).value());
  // Tracked from genesis on a pipeline following every emitter: joined at once, still incomplete.
  ASSERT_TRUE(run(service.track_contract(chain_id, Pipeline::erc721, m_nft, 0)));
  const std::string nft = eth::to_lower_hex(m_nft);
  m_db->transact([&](Tx& tx) { storage::advance_tracked(tx, chain_id, Pipeline::erc721, nft, -1, 0, true, 2); });
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc721, m_nft)).value());
  // Tracked from the chain's start block or later: nothing earlier was asked for.
  const auto other = *eth::parse_address("0x00000000000000000000000000000000000000aa");
  ASSERT_TRUE(run(service.track_contract(chain_id, Pipeline::erc721, other, 12)));
  const std::string other_hex = eth::to_lower_hex(other);
  m_db->transact([&](Tx& tx) { storage::advance_tracked(tx, chain_id, Pipeline::erc721, other_hex, 11, 0, true, 2); });
  EXPECT_TRUE(run(service.caught_up(chain_id, Pipeline::erc721, other)).value());
}

// A range larger than one batch statement (hundreds of rows read and written, rows emptied and
// removed, a row changed several times in one block, the same log twice in one call): every
// balance equals a log-by-log model of the transfers, a revert to the middle restores the model
// of the logs below it, and replaying the reverted blocks gives the full model again.
TEST_P(ChainServiceTest, ALargeRangeAppliesAndRevertsLikeTheLogsOneByOne) {
  std::mt19937_64 rng(20261126);
  std::vector<Address> holders;
  for (int i = 0; i < 420; ++i) {
    Address a;
    a.bytes[0] = 0xab;
    a.bytes[18] = static_cast<std::uint8_t>(i >> 8);
    a.bytes[19] = static_cast<std::uint8_t>(i & 0xff);
    holders.push_back(a);
  }
  const Address token = addr(0x42);
  std::map<Address, std::uint64_t> held;  // the model while the logs are generated
  std::vector<DecodedLog> logs;
  std::vector<std::uint64_t> index_in_block(31, 0);
  for (std::uint64_t block = 1; block <= 30; ++block) {
    for (int n = 0; n < 60; ++n) {
      const Address& to = holders[rng() % holders.size()];
      std::vector<Address> funded;
      for (const auto& [a, v] : held) {
        if (v > 0) funded.push_back(a);
      }
      if (funded.empty() || rng() % 4 == 0) {
        const std::uint64_t amount = 1 + rng() % 1000;
        logs.push_back(erc20(token, Address{}, to, amount, block, index_in_block[block]++));
        held[to] += amount;
        continue;
      }
      const Address from = funded[rng() % funded.size()];
      // A third of the transfers empty the sender's balance: its row goes away.
      const std::uint64_t amount = rng() % 3 == 0 ? held[from] : 1 + rng() % held[from];
      logs.push_back(erc20(token, from, to, amount, block, index_in_block[block]++));
      held[from] -= amount;
      held[to] += amount;
    }
  }
  // The balances after the logs up to `last_block`, one by one.
  auto model = [&](std::uint64_t last_block) {
    std::map<Address, std::uint64_t> m;
    for (const auto& l : logs) {
      if (l.log.block_number > last_block) continue;
      const auto& t = std::get<Erc20Transfer>(l.body);
      const auto amount = static_cast<std::uint64_t>(std::stoull(t.amount.to_dec()));
      if (!(t.from == Address{})) m[t.from] -= amount;
      m[t.to] += amount;
    }
    return m;
  };
  auto expect_model = [&](std::uint64_t last_block) {
    const auto want = model(last_block);
    for (const auto& h : holders) {
      auto it = want.find(h);
      const std::uint64_t v = it == want.end() ? 0 : it->second;
      EXPECT_EQ(balance(token, h), v == 0 ? std::nullopt : std::optional<std::string>(std::to_string(v)))
          << eth::to_lower_hex(h) << " after block " << last_block;
    }
  };
  auto with_copies = logs;
  for (std::size_t i = 0; i < logs.size(); i += 7) with_copies.push_back(logs[i]);  // delivered twice
  std::stable_sort(with_copies.begin(), with_copies.end(), [](const DecodedLog& a, const DecodedLog& b) {
    return std::pair{a.log.block_number, a.log.log_index} < std::pair{b.log.block_number, b.log.log_index};
  });

  const auto applied = apply(Pipeline::erc20, 30, with_copies);
  EXPECT_EQ(applied.applied, static_cast<std::int64_t>(logs.size()));
  EXPECT_EQ(applied.duplicates, static_cast<std::int64_t>(with_copies.size() - logs.size()));
  EXPECT_EQ(m_db->transact([](Tx& tx) { return tx.query_one("SELECT count(*) FROM bus_outbox")->get_int(0); }),
            static_cast<std::int64_t>(logs.size()));
  expect_model(30);

  const auto above_15 = std::count_if(logs.begin(), logs.end(), [](const auto& l) { return l.log.block_number > 15; });
  EXPECT_EQ(m_db->transact([](Tx& tx) { return revert_above(tx, chain_id, 15, true, 2); }), above_15);
  expect_model(15);

  std::vector<DecodedLog> replay;
  for (const auto& l : logs) {
    if (l.log.block_number > 15) replay.push_back(l);
  }
  const auto again = m_db->transact([&](Tx& tx) {
    auto r = apply_range(tx, chain_id, Pipeline::erc20, 16, 30, replay, 3);
    if (!r) throw std::runtime_error(r.error().message);
    return *r;
  });
  EXPECT_EQ(again.applied, above_15);
  expect_model(30);
  EXPECT_EQ(m_db->transact([](Tx& tx) { return revert_above(tx, chain_id, 0, true, 4); }),
            static_cast<std::int64_t>(logs.size()));
  expect_model(0);
}

// A database written before migration 6 (SQLite: the tables rebuilt clustered on their keys, the
// journal without AUTOINCREMENT) keeps every projection row, applied log and journal entry: after
// the upgrade, changes go on from there and a revert below both restores the state before them.
class ChainUpgradeTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void apply(gh::store::Database& db, Pipeline p, std::int64_t start, std::int64_t end,
             const std::vector<DecodedLog>& logs) {
    db.transact([&](Tx& tx) {
      auto r = apply_range(tx, chain_id, p, start, end, logs, 1);
      if (!r) throw std::runtime_error(r.error().message);
      return *r;
    });
  }
  static std::optional<std::string> balance(gh::store::Database& db, const Address& token, const Address& holder) {
    return db.read([&](Tx& tx) {
      ProjectionChange key{
          Projection::erc20_balance, eth::to_lower_hex(token), eth::to_lower_hex(holder), "", ChangeOp::set, ""};
      return storage::read_projection(tx, chain_id, key);
    });
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "chain_upgrade"};
};

TEST_P(ChainUpgradeTest, RowsWrittenBeforeMigration6SurviveItAndStillRevert) {
  GH_REQUIRE_DATABASE(m_fresh);
  auto db = m_fresh.open();
  gh::store::MigrationSet before = chain::migrations();
  // Migration 8 stays: today's code, which writes the rows below, reads the column it adds to a
  // table migration 6 does not touch.
  std::erase_if(before.migrations, [](const gh::store::Migration& m) { return m.version >= 6 && m.version != 8; });
  ASSERT_FALSE(before.migrations.empty());
  ASSERT_LT(before.migrations.size(), chain::migrations().migrations.size());
  db->migrate(std::vector<gh::store::MigrationSet>{bus::migrations(), before});

  const Address token = addr(0x10), nft = addr(0x11), alice = addr(1), bob = addr(2), carol = addr(3);
  apply(*db, Pipeline::erc20, 0, 2, {erc20(token, Address{}, alice, 1000, 1, 0), erc20(token, alice, bob, 100, 2, 0)});
  apply(*db, Pipeline::erc721, 0, 2, {erc721(nft, Address{}, alice, 7, 1, 1), erc721(nft, alice, bob, 7, 2, 2)});

  db->migrate(std::vector<gh::store::MigrationSet>{bus::migrations(), chain::migrations()});
  EXPECT_EQ(balance(*db, token, alice), std::optional<std::string>("900"));
  EXPECT_EQ(balance(*db, token, bob), std::optional<std::string>("100"));
  const auto bobs = db->read([&](Tx& tx) { return storage::holdings(tx, eth::to_lower_hex(bob), chain_id); });
  ASSERT_EQ(bobs.size(), 2u);
  EXPECT_EQ(bobs[1].kind, "erc721");

  // A log applied before the upgrade is still known: applying it again changes nothing.
  apply(*db, Pipeline::erc20, 3, 3, {erc20(token, alice, bob, 100, 2, 0), erc20(token, bob, carol, 40, 3, 0)});
  EXPECT_EQ(balance(*db, token, bob), std::optional<std::string>("60"));
  EXPECT_EQ(balance(*db, token, carol), std::optional<std::string>("40"));

  // Journal entries from both sides of the upgrade undo in order, newest first.
  const auto reverted = db->transact([](Tx& tx) { return revert_above(tx, chain_id, 1, true, 2); });
  EXPECT_EQ(reverted, 3);
  EXPECT_EQ(balance(*db, token, alice), std::optional<std::string>("1000"));
  EXPECT_EQ(balance(*db, token, bob), std::nullopt);
  EXPECT_EQ(balance(*db, token, carol), std::nullopt);
  const auto alices = db->read([&](Tx& tx) { return storage::holdings(tx, eth::to_lower_hex(alice), chain_id); });
  ASSERT_EQ(alices.size(), 2u);
  EXPECT_EQ(alices[1].token_id, "7");
}

INSTANTIATE_TEST_SUITE_P(Backends, ChainUpgradeTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& p) { return std::string(gh::store::to_string(p.param)); });

INSTANTIATE_TEST_SUITE_P(Backends, ChainServiceTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& p) { return std::string(gh::store::to_string(p.param)); });

}  // namespace
}  // namespace gh::chain
