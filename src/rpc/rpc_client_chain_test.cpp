// RpcClient against a real anvil (label chain): the typed calls decode what a real node sends,
// and eth_getLogs splitting returns every log in order.
#include <gtest/gtest.h>

#include "core/testing/run_task.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <thread>

#include "devchain/anvil.hpp"
#include "eth/hex.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::rpc {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using namespace std::chrono_literals;

// Hand-assembled contracts, so that the test needs no compiler:
//   emitter runtime: mstore(0, number()); log1(0, 32, 0x01); stop
//   reverter runtime: revert(0, 0)
// each behind init code that copies the runtime into memory and returns it.
constexpr const char* emitter_init = "0x600c600c600039600c6000f343600052600160206000a100";
constexpr const char* emitter_runtime = "0x43600052600160206000a100";
constexpr const char* reverter_init = "0x6005600c60003960056000f360006000fd";

using gh::testing::run;

eth::Hash32 topic_one() {
  eth::Hash32 t;
  t.bytes[31] = 1;
  return t;
}

class RpcClientChain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    devchain::AnvilSettings settings;
    settings.chain_id = 31338;
    auto started = devchain::AnvilProcess::start(settings);
    ASSERT_TRUE(started) << started.error().message;
    s_anvil = new devchain::AnvilProcess(std::move(*started));
  }
  static void TearDownTestSuite() {
    delete s_anvil;
    s_anvil = nullptr;
  }

  RpcClientSettings settings() const {
    RpcClientSettings s;
    s.endpoints = {s_anvil->rpc_url()};
    s.total_timeout = 10s;
    return s;
  }

  /// eth_sendTransaction from anvil's unlocked account, then its receipt (automine: mined at once).
  Receipt send(RpcClient& client, std::optional<eth::Address> to, const std::string& data) {
    json::object tx{{"from", devchain::anvil_default_account}, {"data", data}};
    if (to) tx["to"] = eth::to_lower_hex(*to);
    auto hash = run(m_ioc, client.call("eth_sendTransaction", json::array{tx}));
    EXPECT_TRUE(hash) << hash.error().message;
    if (!hash) return {};
    auto parsed = parse_hash_value(*hash);
    EXPECT_TRUE(parsed);
    // Automine answers with the hash as soon as the transaction is pooled: poll for the receipt.
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      auto receipt = run(m_ioc, client.get_transaction_receipt(*parsed));
      EXPECT_TRUE(receipt) << receipt.error().message;
      if (!receipt) return {};
      if (*receipt) return **receipt;
      if (std::chrono::steady_clock::now() > deadline) {
        ADD_FAILURE() << "transaction not mined in time";
        return {};
      }
      std::this_thread::sleep_for(10ms);
    }
  }

  inline static devchain::AnvilProcess* s_anvil = nullptr;
  asio::io_context m_ioc;
};

TEST_F(RpcClientChain, ReadsChainIdBlocksBalanceAndFees) {
  RpcClient client(m_ioc.get_executor(), settings());
  auto id = run(m_ioc, client.chain_id());
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 31338u);

  const auto sender = *eth::parse_address(devchain::anvil_default_account);
  auto balance = run(m_ioc, client.get_balance(sender));
  ASSERT_TRUE(balance) << balance.error().message;
  EXPECT_FALSE(balance->is_zero());

  send(client, sender, "0x");  // a self-transfer mines one block
  auto head = run(m_ioc, client.block_number());
  ASSERT_TRUE(head);
  ASSERT_GE(*head, 1u);

  auto by_number = run(m_ioc, client.get_block_by_number(*head));
  ASSERT_TRUE(by_number) << by_number.error().message;
  ASSERT_TRUE(*by_number);
  const auto& block = **by_number;
  EXPECT_EQ(block.number, *head);
  EXPECT_GT(block.timestamp, 1'600'000'000u);
  EXPECT_TRUE(block.base_fee_per_gas);
  EXPECT_EQ(block.transaction_hashes.size(), 1u);

  auto by_hash = run(m_ioc, client.get_block_by_hash(block.hash));
  ASSERT_TRUE(by_hash) << by_hash.error().message;
  ASSERT_TRUE(*by_hash);
  EXPECT_EQ((*by_hash)->number, block.number);
  auto parent = run(m_ioc, client.get_block_by_number(BlockRef{*head - 1}));
  ASSERT_TRUE(parent && *parent);
  EXPECT_EQ((*parent)->hash, block.parent_hash);

  auto missing = run(m_ioc, client.get_block_by_number(BlockRef{*head + 1000}));
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);

  auto nonce = run(m_ioc, client.get_transaction_count(sender, BlockTag::latest));
  ASSERT_TRUE(nonce);
  EXPECT_GE(*nonce, 1u);

  auto fees = run(m_ioc, client.fee_history(2, BlockTag::latest, {25.0, 75.0}));
  ASSERT_TRUE(fees) << fees.error().message;
  EXPECT_EQ(fees->base_fee_per_gas.size(), fees->gas_used_ratio.size() + 1);
  EXPECT_EQ(fees->reward.size(), fees->gas_used_ratio.size());
}

TEST_F(RpcClientChain, DeploysCallsAndSplitsLogRanges) {
  RpcClient client(m_ioc.get_executor(), settings());
  const auto deployed = send(client, std::nullopt, emitter_init);
  ASSERT_EQ(deployed.status, true);
  ASSERT_TRUE(deployed.contract_address);
  const auto emitter = *deployed.contract_address;
  EXPECT_GT(deployed.gas_used, 21000u);

  auto code = run(m_ioc, client.get_code(emitter));
  ASSERT_TRUE(code) << code.error().message;
  EXPECT_EQ(eth::to_hex(*code), emitter_runtime);

  CallRequest call;
  call.from = *eth::parse_address(devchain::anvil_default_account);
  call.to = emitter;
  auto returned = run(m_ioc, client.eth_call(call));
  ASSERT_TRUE(returned) << returned.error().message;
  EXPECT_TRUE(returned->empty());
  auto gas = run(m_ioc, client.estimate_gas(call));
  ASSERT_TRUE(gas) << gas.error().message;
  EXPECT_GT(*gas, 21000u);

  // One log per block over 30 blocks.
  constexpr int emits = 30;
  std::uint64_t first_block = 0;
  std::uint64_t last_block = 0;
  for (int i = 0; i < emits; ++i) {
    const auto receipt = send(client, emitter, "0x");
    ASSERT_EQ(receipt.status, true);
    ASSERT_EQ(receipt.logs.size(), 1u);
    EXPECT_EQ(receipt.logs[0].address, emitter);
    if (i == 0) first_block = receipt.block_number;
    last_block = receipt.block_number;
  }

  auto narrow = settings();
  narrow.max_log_block_span = 4;  // forces eight requests over the range
  RpcClient splitting(m_ioc.get_executor(), narrow);
  LogFilter filter;
  filter.from_block = std::uint64_t{0};
  filter.to_block = last_block;
  filter.addresses = {emitter};
  filter.topics = {std::vector<eth::Hash32>{eth::Hash32{}, topic_one()}};
  auto logs = run(m_ioc, splitting.get_logs(filter));
  ASSERT_TRUE(logs) << logs.error().message;
  ASSERT_EQ(logs->size(), static_cast<std::size_t>(emits));
  for (std::size_t k = 0; k < logs->size(); ++k) {
    const auto& log = (*logs)[k];
    EXPECT_EQ(log.block_number, first_block + k);
    EXPECT_EQ(log.topics.size(), 1u);
    // The emitter logs its block number as data.
    auto number = eth::U256::from_be_bytes(log.data);
    ASSERT_TRUE(number);
    EXPECT_EQ(number->low_u64(), log.block_number);
    EXPECT_FALSE(log.removed);
  }

  // The same through one request, with a null topic position and a tag bound.
  LogFilter wide;
  wide.from_block = BlockTag::earliest;
  wide.to_block = BlockTag::latest;
  wide.topics = {std::nullopt};
  auto all = run(m_ioc, client.get_logs(wide));
  ASSERT_TRUE(all) << all.error().message;
  EXPECT_EQ(all->size(), static_cast<std::size_t>(emits));

  // By block hash (EIP-234).
  LogFilter one;
  one.block_hash = (*logs)[3].block_hash;
  auto single = run(m_ioc, client.get_logs(one));
  ASSERT_TRUE(single) << single.error().message;
  ASSERT_EQ(single->size(), 1u);
  EXPECT_EQ((*single)[0].transaction_hash, (*logs)[3].transaction_hash);

  // A batch of reads in one request.
  std::vector<RpcCall> calls = {{"eth_blockNumber", {}},
                                {"eth_getBalance", json::array{eth::to_lower_hex(emitter), "latest"}},
                                {"eth_no_such_method", {}}};
  auto batch = run(m_ioc, client.call_batch(calls));
  ASSERT_TRUE(batch) << batch.error().message;
  ASSERT_EQ(batch->size(), 3u);
  EXPECT_TRUE((*batch)[0]);
  EXPECT_TRUE((*batch)[1]);
  ASSERT_FALSE((*batch)[2]);
  EXPECT_EQ((*batch)[2].error().kind, RpcErrc::rpc);
}

TEST_F(RpcClientChain, RevertsAndBadTransactionsComeBackAsValues) {
  RpcClient client(m_ioc.get_executor(), settings());
  const auto deployed = send(client, std::nullopt, reverter_init);
  ASSERT_TRUE(deployed.contract_address);
  CallRequest call;
  call.to = *deployed.contract_address;
  auto reverted = run(m_ioc, client.eth_call(call));
  ASSERT_FALSE(reverted);
  EXPECT_EQ(reverted.error().kind, RpcErrc::rpc);
  EXPECT_NE(reverted.error().message.find("revert"), std::string::npos) << reverted.error().message;

  auto rejected = run(m_ioc, client.send_raw_transaction(eth::Bytes{0x02, 0xc0}));
  ASSERT_FALSE(rejected);
  EXPECT_EQ(rejected.error().kind, RpcErrc::rpc);

  auto unknown = run(m_ioc, client.get_transaction_receipt(eth::Hash32{}));
  ASSERT_TRUE(unknown) << unknown.error().message;
  EXPECT_FALSE(*unknown);
}

}  // namespace
}  // namespace gh::rpc
