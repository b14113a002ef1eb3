// Holdings for gates read from a real anvil with the demo contracts: one batch of eth_calls
// gives, for every leaf kind, what the contracts answer to single calls; a gate over every kind
// under all / any / at_least passes for the demo holder and names the unmet leaves of another
// account; an address without code reads zero; a chain that is not configured is a 503.
#include <gtest/gtest.h>
// GCC 12 reports Asio's coroutine frame allocator as mismatched new/delete (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>

#include "community/holdings.hpp"
#include "core/testing/run_task.hpp"
#include "devchain/contract_call.hpp"
#include "devchain/demo_chain.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::community {
namespace {

using eth::AbiValue;
using eth::Address;
using eth::U256;

class HoldingsChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& chain = devchain::shared_demo_chain();
    ASSERT_TRUE(chain.has_value()) << chain.error().code << ": " << chain.error().message;
    m_demo = &chain.value().deployment;
    rpc::RpcClientSettings settings;
    settings.endpoints = {chain.value().anvil.rpc_url()};
    m_client.emplace(m_ioc.get_executor(), settings);
    m_holdings.emplace(
        [this](std::uint64_t id) -> rpc::RpcClient* { return id == m_demo->chain_id ? &*m_client : nullptr; });
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  HoldingKey key(LeafKind kind, const Address& contract, std::optional<std::uint64_t> id = std::nullopt) {
    HoldingKey k{kind, m_demo->chain_id, contract, std::nullopt};
    if (id) k.token_id = U256(*id);
    return k;
  }

  // What one plain eth_call answers for `k` (the reference for the batched read).
  U256 single(const HoldingKey& k, const Address& who) {
    switch (k.kind) {
      case LeafKind::erc20:
        return run(devchain::call_uint(*m_client, k.contract, "balanceOf(address)", {AbiValue::address(who)})).value();
      case LeafKind::erc721: {
        if (!k.token_id) {
          return run(devchain::call_uint(*m_client, k.contract, "balanceOf(address)", {AbiValue::address(who)}))
              .value();
        }
        auto owner =
            run(devchain::call_address(*m_client, k.contract, "ownerOf(uint256)", {AbiValue::uint(*k.token_id)}));
        return U256(owner && *owner == who ? 1 : 0);  // a revert: no such token
      }
      case LeafKind::erc1155:
        return run(devchain::call_uint(*m_client, k.contract, "balanceOf(address,uint256)",
                                       {AbiValue::address(who), AbiValue::uint(*k.token_id)}))
            .value();
      case LeafKind::staked:
        return run(devchain::call_uint(*m_client, k.contract, "stakedOf(address)", {AbiValue::address(who)})).value();
    }
    return U256(0);
  }

  boost::asio::io_context m_ioc;
  const devchain::DemoDeployment* m_demo = nullptr;
  std::optional<rpc::RpcClient> m_client;
  std::optional<ChainHoldings> m_holdings;
};

TEST_F(HoldingsChainTest, OneBatchReadsWhatTheContractsAnswer) {
  const Address gta = m_demo->tokens.at(0).address;
  std::vector<HoldingKey> keys = {key(LeafKind::erc20, gta), key(LeafKind::erc20, m_demo->tokens.at(1).address),
                                  key(LeafKind::erc721, m_demo->nft), key(LeafKind::staked, m_demo->staking)};
  for (std::uint64_t id : {1U, 2U, 3U, 4U, 999U}) keys.push_back(key(LeafKind::erc721, m_demo->nft, id));
  for (std::uint64_t id : {1U, 2U, 3U}) keys.push_back(key(LeafKind::erc1155, m_demo->multi_token, id));

  for (const Address& who : {m_demo->test_accounts.at(0), m_demo->test_accounts.at(1), m_demo->deployer}) {
    auto read = run(m_holdings->read(who, keys));
    ASSERT_TRUE(read) << read.error().message;
    ASSERT_EQ(read->size(), keys.size());
    for (const auto& k : keys) {
      EXPECT_EQ(read->at(k), single(k, who))
          << eth::to_checksum(who) << " " << to_string(k.kind) << " " << (k.token_id ? k.token_id->to_dec() : "");
    }
  }
  // The demo holder (test account 1) holds NFTs 1 and 3, ten of 1155 id 1, and a stake.
  auto holder = run(m_holdings->read(m_demo->test_accounts.at(0), keys)).value();
  EXPECT_EQ(holder.at(key(LeafKind::erc721, m_demo->nft)), U256(2));
  EXPECT_EQ(holder.at(key(LeafKind::erc721, m_demo->nft, 3)), U256(1));
  EXPECT_EQ(holder.at(key(LeafKind::erc721, m_demo->nft, 2)), U256(0));
  EXPECT_EQ(holder.at(key(LeafKind::erc1155, m_demo->multi_token, 1)), U256(10));
  EXPECT_NE(holder.at(key(LeafKind::staked, m_demo->staking)), U256(0));
}

TEST_F(HoldingsChainTest, AGateOverEveryKindUnderEveryCombinator) {
  const auto c = [](const Address& a) { return eth::to_checksum(a); };
  const std::string text = fmt::format(
      R"({{"all":[
        {{"erc20":{{"chain_id":{0},"contract":"{1}","min":"1"}}}},
        {{"any":[{{"erc721":{{"chain_id":{0},"contract":"{2}","token_ids":["1","3"],"min":2}}}},
                 {{"erc1155":{{"chain_id":{0},"contract":"{3}","token_id":"2","min":"5"}}}}]}},
        {{"at_least":2,"of":[{{"staked":{{"chain_id":{0},"contract":"{4}","min":"1"}}}},
                            {{"erc721":{{"chain_id":{0},"contract":"{2}"}}}},
                            {{"erc1155":{{"chain_id":{0},"contract":"{3}","token_id":"1","min":"10"}}}}]}}]}})",
      m_demo->chain_id, c(m_demo->tokens.at(0).address), c(m_demo->nft), c(m_demo->multi_token), c(m_demo->staking));
  auto gate = parse_gate(boost::json::parse(text));
  ASSERT_TRUE(gate) << gate.error().message;
  const auto keys = holding_keys(*gate);
  const std::vector<HoldingKey> list(keys.begin(), keys.end());

  // Test account 1: GTA, NFTs 1 and 3, a stake, ten of id 1.
  auto holder = run(m_holdings->read(m_demo->test_accounts.at(0), list));
  ASSERT_TRUE(holder) << holder.error().message;
  auto verdict = evaluate(*gate, *holder);
  EXPECT_TRUE(verdict.passed);

  // Test account 2: NFT 2 and five of id 2 (the any passes by the 1155), no stake, no id 1:
  // the at_least fails with one of three.
  auto other = run(m_holdings->read(m_demo->test_accounts.at(1), list));
  ASSERT_TRUE(other) << other.error().message;
  verdict = evaluate(*gate, *other);
  EXPECT_FALSE(verdict.passed);
  std::vector<std::string> paths;
  for (const auto& u : verdict.unmet) paths.push_back(u.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"gate.all[2].of[0]", "gate.all[2].of[2]"}));
}

TEST_F(HoldingsChainTest, NoCodeReadsZeroAndAnUnknownChainIsUnavailable) {
  const Address nobody = m_demo->test_accounts.at(3);  // an account, not a contract
  auto read = run(
      m_holdings->read(m_demo->test_accounts.at(0), {key(LeafKind::erc20, nobody), key(LeafKind::erc721, nobody, 1)}));
  ASSERT_TRUE(read) << read.error().message;
  for (const auto& entry : *read) EXPECT_EQ(entry.second, U256(0));

  HoldingKey elsewhere{LeafKind::erc20, 1, m_demo->tokens.at(0).address, std::nullopt};
  auto unknown = run(m_holdings->read(m_demo->test_accounts.at(0), {elsewhere}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(unknown.error().code, "chain_unavailable");
}

}  // namespace
}  // namespace gh::community
