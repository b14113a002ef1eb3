// The poller against a real anvil with the demo contracts, on both backends: random ERC-20,
// ERC-721, ERC-1155 and staking activity, after which every projection equals what the
// contracts answer; reorgs of depth 1 to 10 made with evm_snapshot/evm_revert and different
// transactions, after which the projections equal the new chain; and a restart that resumes
// from the checkpoints with no log applied twice.
#include <gtest/gtest.h>

// GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <random>
#include <set>
#include <thread>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "chain/migrations.hpp"
#include "chain/poller.hpp"
#include "chain/service.hpp"
#include "chain/store.hpp"
#include "core/io_runtime.hpp"
#include "core/testing/run_task.hpp"
#include "devchain/contract_call.hpp"
#include "devchain/demo_chain.hpp"
#include "devchain/txn_sender.hpp"
#include "eth/abi.hpp"
#include "eth/keccak.hpp"
#include "eth/secp256k1.hpp"
#include "rpc/rpc_client.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::chain {
namespace {

using eth::AbiValue;
using eth::Address;
using eth::U256;
using gh::store::Dialect;
using gh::store::Tx;

Address derived(std::uint32_t i) {
  const auto h = eth::keccak256(std::string_view("gatehouse-indexer-holder-" + std::to_string(i)));
  Address a;
  std::copy(h.bytes.begin(), h.bytes.begin() + 20, a.bytes.begin());
  return a;
}

class PollerChainTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    const auto& chain = devchain::shared_demo_chain();
    ASSERT_TRUE(chain.has_value()) << chain.error().code << ": " << chain.error().message;
    m_demo = &chain.value().deployment;
    m_db = m_fresh.open();
    m_db->migrate(std::vector<gh::store::MigrationSet>{bus::migrations(), chain::migrations()});
    rpc::RpcClientSettings settings;
    settings.endpoints = {chain.value().anvil.rpc_url()};
    m_client.emplace(m_ioc.get_executor(), settings);
    const auto seed = static_cast<unsigned>(std::random_device{}());
    m_rng.seed(seed);
    RecordProperty("seed", std::to_string(seed));
    std::printf("seed %u\n", seed);
    m_user = eth::PrivateKey::from_hex(devchain::anvil_dev_keys[4]).value().address();
    m_holders = {m_user, m_demo->deployer, m_demo->staking, m_demo->multi_sender};
    for (const auto& a : m_demo->test_accounts) m_holders.push_back(a);
    for (const auto& p : m_demo->pairs) m_holders.push_back(p.address);
    for (std::uint32_t i = 0; i < 6; ++i) {
      m_holders.push_back(derived(i));
      m_recipients.push_back(derived(i));
    }
    m_recipients.push_back(m_demo->test_accounts[0]);
    renew_senders();
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  void renew_senders() {
    // A sender keeps its nonce locally: after evm_revert a fresh one reads it again.
    m_sender.emplace(*m_client, eth::PrivateKey::from_hex(devchain::anvil_dev_keys[4]).value());
    m_owner.emplace(*m_client, eth::PrivateKey::from_hex(devchain::anvil_dev_keys[0]).value());
  }

  ChainIndexSettings index_settings(std::uint64_t span = 64) {
    ChainIndexSettings s;
    s.chain_id = m_demo->chain_id;
    s.confirmations = 0;
    s.initial_span = span;
    s.max_span = span * 4;
    s.backoff_initial = std::chrono::milliseconds(1);
    s.backoff_max = std::chrono::milliseconds(1);
    for (const auto& t : m_demo->tokens) s.contracts[Pipeline::erc20].push_back(t.address);
    s.contracts[Pipeline::erc721] = {m_demo->nft};
    s.contracts[Pipeline::erc1155] = {m_demo->multi_token};
    s.contracts[Pipeline::staking] = {m_demo->staking};
    s.contracts[Pipeline::multisend] = {m_demo->multi_sender};
    return s;
  }

  std::unique_ptr<Poller> make_poller(std::uint64_t span = 64) {
    return std::make_unique<Poller>(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry,
                                    index_settings(span));
  }

  std::uint64_t head() { return run(m_client->block_number()).value(); }

  void catch_up(Poller& poller, int max_rounds = 500) {
    const auto wanted = head();
    for (int i = 0; i < max_rounds; ++i) {
      auto r = run(poller.poll_once());
      ASSERT_TRUE(r) << r.error().message;
      ASSERT_TRUE(r->errors.empty()) << r->errors.front();
      if (r->caught_up && r->target && *r->target >= wanted) return;
    }
    FAIL() << "the poller did not catch up in " << max_rounds << " rounds";
  }

  void send(devchain::TxnSender& sender, const Address& to, std::string_view signature, const eth::AbiValues& args) {
    auto data = devchain::encode_call(signature, args);
    ASSERT_TRUE(data) << data.error().message;
    auto receipt = run(sender.send(to, std::move(*data)));
    ASSERT_TRUE(receipt) << signature << ": " << receipt.error().code << " " << receipt.error().message;
  }

  Address pick_recipient() { return m_recipients[m_rng() % m_recipients.size()]; }
  U256 small_amount() { return U256(1 + m_rng() % 1'000'000); }

  /// One random action of the user (account 4), or a mint to them by the owner.
  void random_action() {
    const auto kind = m_rng() % 6;
    if (kind <= 1) {
      const auto& token = m_demo->tokens[m_rng() % 3];  // GTA, GTB, TUSD
      send(*m_sender, token.address, "transfer(address,uint256)",
           {AbiValue::address(pick_recipient()), AbiValue::uint(small_amount())});
    } else if (kind == 2) {
      if (m_staked > 0 && m_rng() % 2 == 0) {
        const U256 amount(1 + m_rng() % m_staked);
        send(*m_sender, m_demo->staking, "unstake(uint256)", {AbiValue::uint(amount)});
        m_staked -= amount.low_u64();
      } else {
        if (!m_approved) {
          send(*m_sender, m_demo->token("GTA")->address, "approve(address,uint256)",
               {AbiValue::address(m_demo->staking), AbiValue::uint(U256::max())});
          m_approved = true;
        }
        const std::uint64_t amount = 1 + m_rng() % 1'000'000;
        send(*m_sender, m_demo->staking, "stake(uint256)", {AbiValue::uint(U256(amount))});
        m_staked += amount;
      }
    } else if (kind == 3) {
      if (m_nfts.empty() || m_rng() % 3 == 0) {
        send(*m_owner, m_demo->nft, "mint(address)", {AbiValue::address(m_user)});
        const auto minted = run(devchain::call_uint(*m_client, m_demo->nft, "totalMinted()"));
        ASSERT_TRUE(minted);
        m_nfts.push_back(*minted);
      } else {
        const auto i = m_rng() % m_nfts.size();
        send(*m_sender, m_demo->nft, "transferFrom(address,address,uint256)",
             {AbiValue::address(m_user), AbiValue::address(pick_recipient()), AbiValue::uint(m_nfts[i])});
        m_nfts.erase(m_nfts.begin() + static_cast<std::ptrdiff_t>(i));
      }
    } else {
      const U256 id(7 + m_rng() % 2);
      if (m_rng() % 4 == 0) {
        send(*m_owner, m_demo->multi_token, "mint(address,uint256,uint256)",
             {AbiValue::address(m_user), AbiValue::uint(id), AbiValue::uint(U256(1000))});
      } else {
        const auto have = run(devchain::call_uint(*m_client, m_demo->multi_token, "balanceOf(address,uint256)",
                                                  {AbiValue::address(m_user), AbiValue::uint(id)}));
        ASSERT_TRUE(have);
        if (have->is_zero()) return;
        send(*m_sender, m_demo->multi_token, "safeTransferFrom(address,address,uint256,uint256,bytes)",
             {AbiValue::address(m_user), AbiValue::address(pick_recipient()), AbiValue::uint(id),
              AbiValue::uint(U256(1 + m_rng() % have->low_u64())), AbiValue::bytes({})});
      }
    }
  }

  std::string projected(Projection p, const Address& contract, const std::string& key1, const std::string& key2 = "") {
    const auto chain_id = m_demo->chain_id;
    ProjectionChange key{p, eth::to_lower_hex(contract), key1, key2, ChangeOp::set, ""};
    auto v = m_db->transact([&](Tx& tx) { return storage::read_projection(tx, chain_id, key); });
    if (!v) return p == Projection::erc721_owner ? "" : "0";
    return *v;
  }

  /// Every projection equals the contracts' answer at the head (the checkpoint, with 0 confirmations).
  void expect_projections_match_chain() {
    for (const auto& token : m_demo->tokens) {
      for (const auto& holder : m_holders) {
        auto onchain =
            run(devchain::call_uint(*m_client, token.address, "balanceOf(address)", {AbiValue::address(holder)}));
        ASSERT_TRUE(onchain);
        EXPECT_EQ(projected(Projection::erc20_balance, token.address, eth::to_lower_hex(holder)), onchain->to_dec())
            << token.symbol << " of " << eth::to_checksum(holder);
      }
    }
    const auto minted = run(devchain::call_uint(*m_client, m_demo->nft, "totalMinted()")).value().low_u64();
    for (std::uint64_t id = 1; id <= minted; ++id) {
      auto owner = run(devchain::call_address(*m_client, m_demo->nft, "ownerOf(uint256)", {AbiValue::uint(U256(id))}));
      ASSERT_TRUE(owner);
      EXPECT_EQ(projected(Projection::erc721_owner, m_demo->nft, std::to_string(id)), eth::to_lower_hex(*owner))
          << "NFT " << id;
    }
    for (std::uint64_t id : {1ULL, 2ULL, 3ULL, 7ULL, 8ULL}) {
      for (const auto& holder : m_holders) {
        auto onchain = run(devchain::call_uint(*m_client, m_demo->multi_token, "balanceOf(address,uint256)",
                                               {AbiValue::address(holder), AbiValue::uint(U256(id))}));
        ASSERT_TRUE(onchain);
        EXPECT_EQ(
            projected(Projection::erc1155_balance, m_demo->multi_token, std::to_string(id), eth::to_lower_hex(holder)),
            onchain->to_dec())
            << "ERC-1155 id " << id << " of " << eth::to_checksum(holder);
      }
    }
    for (const auto& pair : m_demo->pairs) {
      auto reserves = run(devchain::call_view(*m_client, pair.address, "getReserves()", {}, "uint112,uint112,uint32"));
      ASSERT_TRUE(reserves);
      const auto r0 = std::get<eth::AbiInt>((*reserves)[0].data).magnitude.to_dec();
      const auto r1 = std::get<eth::AbiInt>((*reserves)[1].data).magnitude.to_dec();
      EXPECT_EQ(projected(Projection::pair_reserves, pair.address, ""), r0 + "," + r1) << pair.name;
      EXPECT_EQ(projected(Projection::pair_tokens, pair.address, ""), eth::to_lower_hex(m_demo->uniswap_factory) + "," +
                                                                          eth::to_lower_hex(pair.token0) + "," +
                                                                          eth::to_lower_hex(pair.token1))
          << pair.name;
    }
    for (const auto& holder : m_holders) {
      auto onchain =
          run(devchain::call_uint(*m_client, m_demo->staking, "stakedOf(address)", {AbiValue::address(holder)}));
      ASSERT_TRUE(onchain);
      EXPECT_EQ(projected(Projection::stake, m_demo->staking, eth::to_lower_hex(holder)), onchain->to_dec())
          << "stake of " << eth::to_checksum(holder);
    }
  }

  /// Outbox events of applied logs: no (block hash, log index) twice, as many as logs_applied.
  void expect_each_log_published_once() {
    const auto events = m_db->transact([](Tx& tx) { return bus::read_outbox(tx, 0, 1'000'000); });
    std::set<std::string> applied;
    std::int64_t live = 0;
    for (const auto& e : events) {
      const auto o = boost::json::parse(e.payload).as_object();
      const std::string id = std::string(o.at("block_hash").as_string()) + "/" +
                             std::to_string(o.at("log_index").to_number<std::uint64_t>());
      if (e.topic == "chain.reverted") {
        EXPECT_EQ(applied.erase(id), 1u) << "reverted a log never applied: " << id;
        --live;
      } else {
        EXPECT_TRUE(applied.insert(id).second) << "log published twice: " << id;
        ++live;
      }
    }
    std::int64_t stored = 0;
    m_db->transact([&](Tx& tx) {
      for (const auto& p : storage::pipeline_rows(tx, std::nullopt)) stored += p.logs_applied;
    });
    EXPECT_GT(live, 0);
    // logs_applied counts applies, reverted ones included.
    std::int64_t reverted = 0;
    for (const auto& e : events) reverted += e.topic == "chain.reverted" ? 1 : 0;
    EXPECT_EQ(live + reverted, stored);
  }

  std::string snapshot() {
    auto r = run(m_client->call("evm_snapshot", boost::json::array{}));
    EXPECT_TRUE(r);
    return std::string(r->as_string());
  }
  void revert_to(const std::string& id) {
    boost::json::array params;
    params.emplace_back(id);
    auto r = run(m_client->call("evm_revert", std::move(params)));
    ASSERT_TRUE(r);
    ASSERT_TRUE(r->as_bool());
    renew_senders();
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "chainpoll"};
  std::unique_ptr<gh::store::Database> m_db;
  const devchain::DemoDeployment* m_demo = nullptr;
  boost::asio::io_context m_ioc;
  std::optional<rpc::RpcClient> m_client;
  std::optional<devchain::TxnSender> m_sender;
  std::optional<devchain::TxnSender> m_owner;
  BlockingPool m_pool{2, 64};
  SystemClock m_clock;
  metrics::Registry m_registry;
  std::mt19937 m_rng;
  Address m_user;
  std::vector<Address> m_holders;
  std::vector<Address> m_recipients;
  std::vector<U256> m_nfts;
  std::uint64_t m_staked = 0;
  bool m_approved = false;
};

TEST_P(PollerChainTest, ProjectionsEqualTheContractsAfterRandomActivity) {
  auto poller = make_poller();
  catch_up(*poller);
  ASSERT_NO_FATAL_FAILURE(expect_projections_match_chain());
  for (int i = 0; i < 2000; ++i) {
    ASSERT_NO_FATAL_FAILURE(random_action());
    // Poll now and then, so that ranges end at arbitrary blocks.
    if (m_rng() % 100 == 0) {
      ASSERT_TRUE(run(poller->poll_once()));
    }
  }
  catch_up(*poller);
  expect_projections_match_chain();
  expect_each_log_published_once();

  const auto status = ChainService::read_status(*m_db);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_EQ(status[0].pipelines.size(), 6u);
  for (const auto& p : status[0].pipelines) {
    EXPECT_EQ(p.lag_blocks, 0) << p.pipeline;
    EXPECT_FALSE(p.last_error) << p.pipeline;
  }
}

TEST_P(PollerChainTest, ReorgsOfDepthOneToTenEndOnTheNewChain) {
  auto poller = make_poller();
  catch_up(*poller);
  for (int depth = 1; depth <= 10; ++depth) {
    const auto id = snapshot();
    const auto fork_point = head();
    // What the user holds at the fork point, to pick valid actions on the new branch.
    const auto saved_nfts = m_nfts;
    const auto saved_staked = m_staked;
    const auto saved_approved = m_approved;
    // An action may mine nothing (nothing to send): act until `depth` blocks exist.
    while (head() < fork_point + static_cast<std::uint64_t>(depth)) ASSERT_NO_FATAL_FAILURE(random_action());
    catch_up(*poller);
    ASSERT_NO_FATAL_FAILURE(revert_to(id));
    m_nfts = saved_nfts;
    m_staked = saved_staked;
    m_approved = saved_approved;
    ASSERT_EQ(head(), fork_point);
    const int replacement = 1 + static_cast<int>(m_rng() % static_cast<unsigned>(depth + 1));
    while (head() < fork_point + static_cast<std::uint64_t>(replacement)) ASSERT_NO_FATAL_FAILURE(random_action());
    catch_up(*poller);
    ASSERT_NO_FATAL_FAILURE(expect_projections_match_chain()) << "after a reorg of depth " << depth;
  }
  const auto status = ChainService::read_status(*m_db);
  ASSERT_EQ(status.size(), 1u);
  EXPECT_GE(status[0].reorgs, 10);
  expect_each_log_published_once();
}

TEST_P(PollerChainTest, RestartResumesFromTheCheckpointsWithoutApplyingTwice) {
  // Spans start at 4 blocks and grow to at most 16: two polls cover at most 32 blocks, so a chain
  // of 40 or more leaves the first poller behind whatever the random actions mined.
  for (int i = 0; i < 20 || head() < 40; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  {
    // No budget: a round reads one range per pipeline.
    auto settings = index_settings(4);
    settings.backfill_budget = std::chrono::milliseconds(0);
    auto first =
        std::make_unique<Poller>(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
    for (int i = 0; i < 2; ++i) ASSERT_TRUE(run(first->poll_once()));
  }
  const auto middle = ChainService::read_status(*m_db);
  ASSERT_EQ(middle.size(), 1u);
  bool behind = false;
  for (const auto& p : middle[0].pipelines) behind = behind || p.lag_blocks > 0;
  EXPECT_TRUE(behind) << "the first poller should have stopped mid-backfill";
  auto second = make_poller(4);
  catch_up(*second, 2000);
  expect_projections_match_chain();
  expect_each_log_published_once();
}

TEST_P(PollerChainTest, ARoundWithABudgetCatchesEveryPipelineUpRangeAfterRange) {
  for (int i = 0; i < 20 || head() < 40; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  // Spans of 4 to 16 blocks: 40 blocks take several ranges per pipeline, all in one round (each
  // range's successor read while it commits).
  auto settings = index_settings(4);
  settings.backfill_budget = std::chrono::minutes(10);
  auto poller = std::make_unique<Poller>(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
  auto report = run(poller->poll_once());
  ASSERT_TRUE(report) << report.error().message;
  EXPECT_TRUE(report->caught_up);
  EXPECT_TRUE(report->errors.empty());
  for (const auto& p : ChainService::read_status(*m_db)[0].pipelines) {
    EXPECT_EQ(p.lag_blocks, 0) << p.pipeline;
  }
  expect_projections_match_chain();
  expect_each_log_published_once();
  // Nothing left for the next round.
  auto again = run(poller->poll_once());
  ASSERT_TRUE(again);
  EXPECT_EQ(again->applied, 0);
}

TEST_P(PollerChainTest, WebhookLogsJoinThePollersAndApplyOnceOnlyWhenCanonical) {
  auto poller = make_poller();
  catch_up(*poller);
  const auto from = head() + 1;
  for (int i = 0; i < 30; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  // What a webhook would deliver: the same logs, duplicated, reordered and 30% dropped.
  rpc::LogFilter filter;
  filter.from_block = rpc::BlockRef(from);
  filter.to_block = rpc::BlockRef(head());
  auto logs = run(m_client->get_logs(std::move(filter)));
  ASSERT_TRUE(logs);
  ASSERT_FALSE(logs->empty());
  std::vector<rpc::Log> delivered;
  for (const auto& l : *logs) {
    if (m_rng() % 10 < 3) continue;
    delivered.push_back(l);
    if (m_rng() % 2 == 0) delivered.push_back(l);
  }
  std::shuffle(delivered.begin(), delivered.end(), m_rng);
  // And one from a block that is not canonical: it must never apply.
  rpc::Log orphan = logs->back();
  orphan.block_hash.bytes[0] ^= 0xff;
  delivered.push_back(orphan);
  ChainService service(*m_db, m_pool, m_clock);
  auto kept = run(service.ingest(m_demo->chain_id, delivered));
  ASSERT_TRUE(kept);
  EXPECT_EQ(run(service.ingest(m_demo->chain_id, delivered)).value(), 0) << "a delivery seen before is kept once";
  catch_up(*poller);
  expect_projections_match_chain();
  expect_each_log_published_once();
  const auto orphan_hash = hash_hex(orphan.block_hash);
  const auto applied_orphans = m_db->transact([&](Tx& tx) {
    return tx.query_one("SELECT count(*) FROM chain_logs WHERE block_hash = $1", {orphan_hash})->get_int(0);
  });
  EXPECT_EQ(applied_orphans, 0);
}

TEST_P(PollerChainTest, APipelineWhoseLogsDoNotDecodeBacksOffWhileTheOthersKeepUp) {
  // A contract that emits an ERC-721-shaped Transfer (4 topics) carrying 32 bytes of data, which
  // no ERC-721 emits: LOG4(0, 32, Transfer, 1, 2, 7) on every call. Hand-assembled EVM code.
  const auto transfer = eth::keccak256(std::string_view("Transfer(address,address,uint256)"));
  eth::Bytes runtime = {0x60, 0x07, 0x60, 0x02, 0x60, 0x01, 0x7f};
  runtime.insert(runtime.end(), transfer.bytes.begin(), transfer.bytes.end());
  runtime.insert(runtime.end(), {0x60, 0x20, 0x60, 0x00, 0xa4, 0x00});
  const auto size = static_cast<std::uint8_t>(runtime.size());
  eth::Bytes creation = {0x60, size, 0x60, 0x0c, 0x60, 0x00, 0x39, 0x60, size, 0x60, 0x00, 0xf3};
  creation.insert(creation.end(), runtime.begin(), runtime.end());
  auto bad = run(m_owner->deploy(creation));
  ASSERT_TRUE(bad) << bad.error().message;
  auto settings = index_settings();
  settings.contracts[Pipeline::erc721].push_back(*bad);
  settings.backoff_initial = std::chrono::milliseconds(60'000);
  settings.backoff_max = std::chrono::milliseconds(60'000);
  Poller poller(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);

  ASSERT_TRUE(run(m_owner->send(*bad, {})));
  const auto bad_block = head();
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  const auto wanted = head();
  bool reported = false;
  for (int round = 0; round < 500; ++round) {
    auto r = run(poller.poll_once());
    ASSERT_TRUE(r) << r.error().message;
    for (const auto& e : r->errors) reported = reported || e.rfind("erc721: ", 0) == 0;
    const auto status = ChainService::read_status(*m_db);
    bool others_done = status.size() == 1;
    for (const auto& p : status[0].pipelines) {
      if (p.pipeline != "erc721") others_done = others_done && p.checkpoint >= static_cast<std::int64_t>(wanted);
    }
    if (others_done && reported) break;
  }
  EXPECT_TRUE(reported);
  const auto status = ChainService::read_status(*m_db);
  ASSERT_EQ(status.size(), 1u);
  for (const auto& p : status[0].pipelines) {
    if (p.pipeline == "erc721") {
      EXPECT_LT(p.checkpoint, static_cast<std::int64_t>(bad_block));
      ASSERT_TRUE(p.last_error);
      EXPECT_NE(p.last_error->find("ERC-721"), std::string::npos) << *p.last_error;
      EXPECT_GE(p.error_count, 1);
    } else {
      EXPECT_GE(p.checkpoint, static_cast<std::int64_t>(wanted)) << p.pipeline;
      EXPECT_FALSE(p.last_error) << p.pipeline;
    }
  }
  // Backing off: the next rounds leave the failing pipeline alone (no new error).
  auto erc721_errors = [this] {
    // The status must outlive the loop: a range over a member of the temporary's element would
    // dangle (the temporary vector dies before the first iteration).
    const auto now = ChainService::read_status(*m_db);
    for (const auto& p : now.at(0).pipelines) {
      if (p.pipeline == "erc721") return p.error_count;
    }
    return std::int64_t{-1};
  };
  const auto errors_before = erc721_errors();
  ASSERT_TRUE(run(poller.poll_once()));
  EXPECT_EQ(erc721_errors(), errors_before);
}

// The loop as a node runs it, with an hour between polls: each wake (a webhook's logs, a contract
// tracked) starts a round at once, whether it comes while the loop rests or while a round runs. A
// lost wake leaves the checkpoint behind the head and the test waiting.
TEST_P(PollerChainTest, TheLoopRoundsOnEachWakeWithoutPolling) {
  auto settings = index_settings();
  settings.poll_interval = std::chrono::hours(1);
  IoRuntime io(2);
  rpc::RpcClientSettings client_settings;
  client_settings.endpoints = {devchain::shared_demo_chain().value().anvil.rpc_url()};
  rpc::RpcClient client(io.executor(), client_settings);
  Poller poller(io.executor(), client, *m_db, m_pool, m_clock, m_registry, settings);
  const auto chain_id = m_demo->chain_id;
  const auto reached = [&](std::uint64_t block) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    const auto at = [&] {
      return m_db->transact([&](Tx& tx) {
        const auto row = storage::pipeline_row(tx, chain_id, Pipeline::erc20);
        return row && row->checkpoint >= static_cast<std::int64_t>(block);
      });
    };
    while (!at() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return at();
  };
  io.start();
  poller.start();
  EXPECT_TRUE(reached(head()));
  for (int i = 0; i < 5; ++i) {
    ASSERT_NO_FATAL_FAILURE(random_action());
    const auto wanted = head();
    poller.wake();
    // The second wake of a pair may come while the first's round runs.
    if (i % 2 == 1) poller.wake();
    EXPECT_TRUE(reached(wanted)) << "wake " << i;
  }
  poller.stop();
}

TEST_P(PollerChainTest, AContractTrackedAtRunTimeIsBackfilledWhileTheOthersFollowTheHead) {
  for (int i = 0; i < 30 || head() < 60; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  const Address late = m_demo->tokens[2].address;
  auto settings = index_settings(4);
  auto& erc20 = settings.contracts[Pipeline::erc20];
  erc20.erase(std::remove(erc20.begin(), erc20.end(), late), erc20.end());
  // No backfill budget: a round backfills one range (4 blocks at first), and stops mid-backfill.
  settings.backfill_budget = std::chrono::milliseconds(0);
  auto poller = std::make_unique<Poller>(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
  catch_up(*poller, 2000);
  const auto chain_id = m_demo->chain_id;
  const auto lower = eth::to_lower_hex(late);
  auto late_rows = [&] {
    return m_db->transact([&](Tx& tx) {
      return tx.query_one("SELECT count(*) FROM chain_erc20_balances WHERE contract = $1", {lower})->get_int(0);
    });
  };
  EXPECT_EQ(late_rows(), 0) << "an unlisted contract is not indexed";

  ChainService service(*m_db, m_pool, m_clock);
  ASSERT_TRUE(run(service.track_contract(chain_id, Pipeline::erc20, late, 0)));
  EXPECT_FALSE(run(service.caught_up(chain_id, Pipeline::erc20, late)).value());
  // The same poller picks it up; meanwhile the pipeline keeps following the head.
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  const auto wanted = head();
  auto r = run(poller->poll_once());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GT(r->backfilled, 0);
  EXPECT_EQ(r->backfills, 1);
  EXPECT_FALSE(r->caught_up);
  const auto erc20_row = m_db->transact([&](Tx& tx) { return storage::pipeline_row(tx, chain_id, Pipeline::erc20); });
  EXPECT_GE(erc20_row->checkpoint, static_cast<std::int64_t>(wanted));
  auto tracked =
      m_db->transact([&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::erc20, lower); });
  ASSERT_TRUE(tracked);
  EXPECT_FALSE(tracked->joined);
  EXPECT_LT(tracked->backfilled_to, erc20_row->checkpoint);
  EXPECT_GT(late_rows(), 0);

  // A restart in the middle of the backfill resumes from the contract's cursor. With a budget,
  // one round runs the contract's ranges one after the other until it joins: the first round
  // after the restart completes the backfill, more blocks than one range may span.
  const auto resumed_from = tracked->backfilled_to;
  poller.reset();
  for (int i = 0; i < 5; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  settings.backfill_budget = std::chrono::minutes(10);
  auto second = std::make_unique<Poller>(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
  auto resumed = run(second->poll_once());
  ASSERT_TRUE(resumed) << resumed.error().message;
  EXPECT_EQ(resumed->backfills, 0);
  tracked = m_db->transact([&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::erc20, lower); });
  EXPECT_TRUE(tracked->joined);
  EXPECT_GT(tracked->backfilled_to, resumed_from + static_cast<std::int64_t>(settings.max_span))
      << "more than one range in one round";
  catch_up(*second, 2000);
  tracked = m_db->transact([&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::erc20, lower); });
  EXPECT_TRUE(tracked->joined);
  EXPECT_TRUE(run(service.caught_up(chain_id, Pipeline::erc20, late)).value());
  // Joined: it follows the head with the pipeline.
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  catch_up(*second, 2000);
  expect_projections_match_chain();
  expect_each_log_published_once();
}

TEST_P(PollerChainTest, ContractsConfiguredWithTheirOwnStartBlockAreTrackedOnTheFirstRound) {
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  auto settings = index_settings(16);
  // erc20 follows only contracts with a start block of their own.
  settings.contracts[Pipeline::erc20].clear();
  for (const auto& t : m_demo->tokens) settings.tracked.push_back({Pipeline::erc20, t.address, 0});
  Poller poller(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
  catch_up(poller, 2000);
  auto tracked = m_db->transact([&](Tx& tx) { return storage::tracked_contracts(tx, m_demo->chain_id); });
  // The pairs of the factory are tracked too (uniswap_v2 follows every emitter here, so at once joined).
  std::erase_if(tracked, [](const auto& t) { return t.pipeline != "erc20"; });
  ASSERT_EQ(tracked.size(), m_demo->tokens.size());
  for (const auto& t : tracked) EXPECT_TRUE(t.joined) << t.contract;
  expect_projections_match_chain();
  expect_each_log_published_once();
}

TEST_P(PollerChainTest, PairsOfAListedFactoryAreTrackedAndAListedContractIsNeverBackfilledTwice) {
  const auto chain_id = m_demo->chain_id;
  // Empty blocks after the deployment: its logs fall below the reorg window, where nothing but the
  // checkpoint keeps a log from applying twice.
  boost::json::array blocks;
  blocks.emplace_back("0x96");
  ASSERT_TRUE(run(m_client->call("anvil_mine", std::move(blocks))));
  for (int i = 0; i < 20; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  auto settings = index_settings(16);
  // uniswap_v2 lists the factory only: the pairs are the contracts its PairCreated logs refer to.
  settings.contracts[Pipeline::uniswap_v2] = {m_demo->uniswap_factory};
  // A configured contract that something tracks as well (a gate does that): its pipeline applies its
  // logs from the pipeline's start already.
  const auto token = eth::to_lower_hex(m_demo->tokens[0].address);
  m_db->transact([&](Tx& tx) { storage::track_contract(tx, chain_id, Pipeline::erc20, token, 0, 0); });
  Poller poller(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
  catch_up(poller, 2000);
  for (int i = 0; i < 10; ++i) ASSERT_NO_FATAL_FAILURE(random_action());
  catch_up(poller, 2000);
  const auto tracked = m_db->transact([&](Tx& tx) { return storage::tracked_contracts(tx, chain_id); });
  for (const auto& pair : m_demo->pairs) {
    const auto row = std::find_if(tracked.begin(), tracked.end(), [&](const auto& t) {
      return t.pipeline == "uniswap_v2" && t.contract == eth::to_lower_hex(pair.address);
    });
    ASSERT_NE(row, tracked.end()) << pair.name << " is not tracked";
    EXPECT_TRUE(row->joined) << pair.name;
    EXPECT_GT(row->start_block, 0u) << pair.name << " is tracked from its creation block";
    EXPECT_GT(row->logs_applied, 0) << pair.name << " was backfilled from its creation block";
  }
  const auto listed = std::find_if(tracked.begin(), tracked.end(), [&](const auto& t) { return t.contract == token; });
  ASSERT_NE(listed, tracked.end());
  EXPECT_TRUE(listed->joined);
  EXPECT_EQ(listed->logs_applied, 0) << "a configured contract was backfilled a second time";
  expect_projections_match_chain();
  expect_each_log_published_once();
}

TEST_P(PollerChainTest, APairCreatedOnAnOrphanedBranchIsUntrackedThenTrackedFromItsCanonicalBlock) {
  const auto chain_id = m_demo->chain_id;
  // The shared chain is left as it was found: the pair created here exists only inside the test.
  const auto start = snapshot();
  auto settings = index_settings(16);
  settings.contracts[Pipeline::uniswap_v2] = {m_demo->uniswap_factory};
  Poller poller(m_ioc.get_executor(), *m_client, *m_db, m_pool, m_clock, m_registry, settings);
  catch_up(poller);
  const auto gta = m_demo->token("GTA")->address;
  const auto gtb = m_demo->token("GTB")->address;  // GTA/GTB: no demo pair
  const auto create_pair = [&] {
    send(*m_owner, m_demo->uniswap_factory, "createPair(address,address)",
         {AbiValue::address(gta), AbiValue::address(gtb)});
    const auto pair = run(devchain::call_address(*m_client, m_demo->uniswap_factory, "getPair(address,address)",
                                                 {AbiValue::address(gta), AbiValue::address(gtb)}));
    EXPECT_TRUE(pair);
    return std::pair{eth::to_lower_hex(pair.value()), head()};
  };
  const auto tracked = [&](const std::string& pair) {
    return m_db->transact([&](Tx& tx) { return storage::tracked_contract(tx, chain_id, Pipeline::uniswap_v2, pair); });
  };

  const auto fork = snapshot();
  const auto fork_point = head();
  // What the user holds at the fork point, to pick valid actions on the new branch.
  const auto saved_nfts = m_nfts;
  const auto saved_staked = m_staked;
  const auto saved_approved = m_approved;
  const auto [pair, created_at] = create_pair();
  ASSERT_NO_FATAL_FAILURE(random_action());
  catch_up(poller);
  ASSERT_TRUE(tracked(pair)) << "the factory's new pair is tracked";
  EXPECT_EQ(tracked(pair)->start_block, created_at);

  // The branch that created it is orphaned by a longer one that does not.
  ASSERT_NO_FATAL_FAILURE(revert_to(fork));
  m_nfts = saved_nfts;
  m_staked = saved_staked;
  m_approved = saved_approved;
  while (head() < fork_point + 3) ASSERT_NO_FATAL_FAILURE(random_action());
  catch_up(poller);
  EXPECT_FALSE(tracked(pair)) << "a pair created only on an orphaned branch is still tracked";

  // Created on the canonical chain later (CREATE2: the same address), it is tracked from there.
  const auto [again, recreated_at] = create_pair();
  ASSERT_EQ(again, pair);
  ASSERT_GT(recreated_at, created_at);
  catch_up(poller);
  ASSERT_TRUE(tracked(pair));
  EXPECT_EQ(tracked(pair)->start_block, recreated_at);
  EXPECT_TRUE(tracked(pair)->joined);
  for (const auto& demo_pair : m_demo->pairs) {
    EXPECT_TRUE(tracked(eth::to_lower_hex(demo_pair.address))) << demo_pair.name;
  }
  expect_projections_match_chain();
  expect_each_log_published_once();
  ASSERT_NO_FATAL_FAILURE(revert_to(start));
}

INSTANTIATE_TEST_SUITE_P(Backends, PollerChainTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& p) { return std::string(gh::store::to_string(p.param)); });

}  // namespace
}  // namespace gh::chain
