// The demo set deployed on a real anvil, checked through our own ABI and RPC code and, separately,
// through ethers (tests/chain/check-demo-deployment.mjs) so that a bug shared by our encoder and
// decoder cannot hide.
#include <gtest/gtest.h>

// GCC 12 inlines Asio's awaitable frame allocation and its sized operator delete into coroutines
// and reports them as a mismatched pair: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <unistd.h>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include "devchain/contract_call.hpp"
#include "devchain/demo_chain.hpp"
#include "devchain/txn_sender.hpp"
#include "eth/abi.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::devchain {
namespace {

namespace fs = std::filesystem;
using eth::AbiValue;
using eth::Address;
using eth::U256;

U256 units(std::uint64_t whole, unsigned decimals) {
  U256 v = whole;
  for (unsigned i = 0; i < decimals; ++i) v = v.checked_mul(10).value();
  return v;
}

Address address_of(std::string_view hex) {
  return eth::PrivateKey::from_hex(hex).value().address();
}

/// One io_context and client per test; tasks run to completion on the test thread.
class DemoChainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto& chain = shared_demo_chain();
    ASSERT_TRUE(chain.has_value()) << chain.error().code << ": " << chain.error().message;
    m_chain = &chain.value();
    rpc::RpcClientSettings settings;
    settings.endpoints = {m_chain->anvil.rpc_url()};
    m_client.emplace(m_ioc.get_executor(), settings);
  }

  template <class T>
  T run(Task<T> task) {
    std::optional<T> out;
    boost::asio::co_spawn(
        m_ioc, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    m_ioc.run();
    m_ioc.restart();
    return std::move(*out);
  }

  U256 balance_of(const Address& token, const Address& owner) {
    auto v = run(call_uint(*m_client, token, "balanceOf(address)", {AbiValue::address(owner)}));
    EXPECT_TRUE(v.has_value()) << v.error().message;
    return v ? *v : U256{};
  }

  /// A sender for anvil account 4 (test_accounts[3]), the one account tests may spend from.
  TxnSender spender() {
    TxnSenderSettings s;
    s.chain_id = m_chain->deployment.chain_id;
    return TxnSender(*m_client, eth::PrivateKey::from_hex(anvil_dev_keys[4]).value(), s);
  }

  const DemoDeployment& d() const { return m_chain->deployment; }

  const DemoChain* m_chain = nullptr;
  boost::asio::io_context m_ioc;
  std::optional<rpc::RpcClient> m_client;
};

TEST_F(DemoChainTest, AccountsAndKeysAreAnvilsDefaults) {
  EXPECT_EQ(eth::to_lower_hex(d().deployer), anvil_default_account);
  ASSERT_EQ(d().test_accounts.size(), 4u);
  for (std::size_t i = 0; i < d().test_accounts.size(); ++i) {
    EXPECT_EQ(d().test_accounts[i], address_of(anvil_dev_keys[i + 1]));
  }
  EXPECT_EQ(d().chain_id, m_chain->anvil.chain_id());
  EXPECT_GT(d().deployed_at_block, 0u);
}

TEST_F(DemoChainTest, TokensHaveTheirMetadataAndSeededBalances) {
  ASSERT_EQ(d().tokens.size(), 4u);
  for (const auto& [symbol, decimals] :
       {std::pair{"GTA", 18u}, std::pair{"GTB", 18u}, std::pair{"TUSD", 6u}, std::pair{"WETH", 18u}}) {
    const DemoToken* t = d().token(symbol);
    ASSERT_NE(t, nullptr) << symbol;
    auto got = run(call_uint(*m_client, t->address, "decimals()"));
    ASSERT_TRUE(got.has_value()) << got.error().message;
    EXPECT_EQ(*got, U256(decimals)) << symbol;
    auto name = run(call_view(*m_client, t->address, "symbol()", {}, "string"));
    ASSERT_TRUE(name.has_value());
    EXPECT_EQ(std::get<std::string>(name->at(0).data), symbol);
  }
  const auto& a = d().test_accounts;
  // Account 1 staked 100 of its 1000 GTA at deployment.
  EXPECT_EQ(balance_of(d().token("GTA")->address, a[0]), units(900, 18));
  EXPECT_EQ(balance_of(d().token("GTA")->address, a[1]), units(1000, 18));
  EXPECT_EQ(balance_of(d().token("GTB")->address, a[2]), units(1000, 18));
  EXPECT_EQ(balance_of(d().token("TUSD")->address, a[1]), units(5000, 6));
  EXPECT_EQ(balance_of(d().token("GTA")->address, d().smart_wallet), units(100, 18));
  auto staked = run(call_uint(*m_client, d().staking, "stakedOf(address)", {AbiValue::address(a[0])}));
  ASSERT_TRUE(staked.has_value());
  EXPECT_EQ(*staked, units(100, 18));
}

TEST_F(DemoChainTest, PairReservesEqualTheLiquidityAdded) {
  struct Leg {
    const char* symbol;
    std::uint64_t whole;
  };
  struct Expected {
    const char* name;
    Leg a, b;
  };
  // Restated here rather than shared with the deployer, so a wrong plan there fails here.
  const Expected expected[] = {{"GTA/WETH", {"GTA", 20'000}, {"WETH", 10}},
                               {"GTB/WETH", {"GTB", 40'000}, {"WETH", 5}},
                               {"WETH/TUSD", {"WETH", 20}, {"TUSD", 40'000}},
                               {"GTA/TUSD", {"GTA", 10'000}, {"TUSD", 10'000}}};
  ASSERT_EQ(d().pairs.size(), 4u);
  for (const auto& e : expected) {
    const DemoPair* p = d().pair(e.name);
    ASSERT_NE(p, nullptr) << e.name;
    const DemoToken* a = d().token(e.a.symbol);
    const DemoToken* b = d().token(e.b.symbol);
    auto token0 = run(call_address(*m_client, p->address, "token0()"));
    ASSERT_TRUE(token0.has_value());
    EXPECT_EQ(*token0, p->token0);
    auto reserves = run(call_view(*m_client, p->address, "getReserves()", {}, "uint112,uint112,uint32"));
    ASSERT_TRUE(reserves.has_value()) << reserves.error().message;
    const U256 r0 = std::get<eth::AbiInt>(reserves->at(0).data).magnitude;
    const U256 r1 = std::get<eth::AbiInt>(reserves->at(1).data).magnitude;
    const U256 amount_a = units(e.a.whole, a->decimals);
    const U256 amount_b = units(e.b.whole, b->decimals);
    if (*token0 == a->address) {
      EXPECT_EQ(r0, amount_a) << e.name;
      EXPECT_EQ(r1, amount_b) << e.name;
    } else {
      EXPECT_EQ(*token0, b->address) << e.name;
      EXPECT_EQ(r0, amount_b) << e.name;
      EXPECT_EQ(r1, amount_a) << e.name;
    }
    EXPECT_EQ(p->reserve0, r0);
    EXPECT_EQ(p->reserve1, r1);
    // The deployer holds the liquidity tokens (all but the 1000 the pair locks forever).
    EXPECT_FALSE(balance_of(p->address, d().deployer).is_zero());
  }
}

TEST_F(DemoChainTest, SmartWalletAcceptsOnlyItsOwnersSignature) {
  EXPECT_EQ(d().smart_wallet_owner, address_of(anvil_dev_keys[1]));
  const auto owner = eth::PrivateKey::from_hex(anvil_dev_keys[1]).value();
  const auto other = eth::PrivateKey::from_hex(anvil_dev_keys[2]).value();
  // The hash a SIWE verifier passes: the EIP-191 hash of the message.
  const std::string message = "gatehouse wants you to sign in";
  const eth::Hash32 hash = eth::personal_message_hash(eth::as_bytes(message));
  auto answer = [&](eth::Bytes signature) {
    auto v =
        run(call_view(*m_client, d().smart_wallet, "isValidSignature(bytes32,bytes)",
                      {AbiValue::bytes(eth::to_bytes(hash.view())), AbiValue::bytes(std::move(signature))}, "bytes4"));
    EXPECT_TRUE(v.has_value()) << (v ? "" : v.error().message);
    return v ? eth::to_hex(std::get<eth::Bytes>(v->at(0).data)) : std::string();
  };
  auto signature_by = [&](const eth::PrivateKey& key) {
    return eth::to_bytes(eth::serialize_signature(eth::sign_hash(key, hash)).view());
  };
  EXPECT_EQ(answer(signature_by(owner)), "0x1626ba7e");
  EXPECT_EQ(answer(signature_by(other)), "0xffffffff");
  eth::Bytes truncated = signature_by(owner);
  truncated.resize(64);
  EXPECT_EQ(answer(truncated), "0xffffffff");  // refused, not reverted
}

TEST_F(DemoChainTest, MultiSenderBatchEmitsExactlyOneEvent) {
  TxnSender sender = spender();
  const Address gta = d().token("GTA")->address;
  const Address recipients[] = {address_of("0x" + std::string(63, '0') + "7"),
                                address_of("0x" + std::string(63, '0') + "8"),
                                address_of("0x" + std::string(63, '0') + "9")};
  const U256 each = units(3, 18);
  const U256 before = balance_of(gta, recipients[0]);
  auto approve =
      encode_call("approve(address,uint256)", {AbiValue::address(d().multi_sender), AbiValue::uint(units(9, 18))});
  ASSERT_TRUE(run(sender.send(gta, *approve)).has_value());
  auto data = encode_call("multiSend(address,address[],uint256[],string)",
                          {AbiValue::address(gta),
                           AbiValue::list({AbiValue::address(recipients[0]), AbiValue::address(recipients[1]),
                                           AbiValue::address(recipients[2])}),
                           AbiValue::list({AbiValue::uint(each), AbiValue::uint(each), AbiValue::uint(each)}),
                           AbiValue::string("gm frens")});
  ASSERT_TRUE(data.has_value());
  auto receipt = run(sender.send(d().multi_sender, *data));
  ASSERT_TRUE(receipt.has_value()) << receipt.error().message;

  auto event = eth::parse_abi_signature(
      "MultiSent(address indexed sender, address indexed token, uint256 count, uint256 total, string message)");
  ASSERT_TRUE(event.has_value());
  const eth::Hash32 topic = eth::event_topic(*event);
  const eth::Hash32 transfer = eth::event_topic("Transfer(address,address,uint256)").value();
  int multi_sent = 0;
  int transfers = 0;
  for (const auto& log : receipt->logs) {
    if (log.address == d().multi_sender && !log.topics.empty() && log.topics[0] == topic) {
      ++multi_sent;
      auto values = eth::decode_event_log(*event, log.topics, log.data);
      ASSERT_TRUE(values.has_value()) << eth::to_string(values.error());
      EXPECT_EQ(std::get<Address>(values->at(0).value.data), sender.address());
      EXPECT_EQ(std::get<Address>(values->at(1).value.data), gta);
      EXPECT_EQ(std::get<eth::AbiInt>(values->at(2).value.data).magnitude, U256(3));
      EXPECT_EQ(std::get<eth::AbiInt>(values->at(3).value.data).magnitude, units(9, 18));
      EXPECT_EQ(std::get<std::string>(values->at(4).value.data), "gm frens");
    }
    if (log.address == gta && !log.topics.empty() && log.topics[0] == transfer) ++transfers;
  }
  EXPECT_EQ(multi_sent, 1);
  EXPECT_EQ(transfers, 3);
  EXPECT_EQ(balance_of(gta, recipients[0]), before.checked_add(each).value());

  // An empty batch is refused with the contract's own error, before any gas is spent.
  auto empty = encode_call("multiSend(address,address[],uint256[],string)",
                           {AbiValue::address(gta), AbiValue::list({}), AbiValue::list({}), AbiValue::string("")});
  auto refused = run(sender.send(d().multi_sender, *empty));
  ASSERT_FALSE(refused.has_value());
  const std::string empty_batch = eth::to_hex(eth::keccak256(std::string_view("EmptyBatch()")).view()).substr(0, 10);
  // The revert data (the custom error's selector) travels in the error's details.
  const std::string reported = refused.error().message + " " + refused.error().details_json;
  EXPECT_NE(reported.find(empty_batch), std::string::npos) << reported;
}

TEST_F(DemoChainTest, StakedEventsAppearInLogs) {
  TxnSender sender = spender();
  const Address gta = d().token("GTA")->address;
  const U256 amount = units(5, 18);
  ASSERT_TRUE(run(sender.send(gta, *encode_call("approve(address,uint256)",
                                                {AbiValue::address(d().staking), AbiValue::uint(amount)})))
                  .has_value());
  const U256 before =
      run(call_uint(*m_client, d().staking, "stakedOf(address)", {AbiValue::address(sender.address())})).value();
  auto receipt = run(sender.send(d().staking, *encode_call("stake(uint256)", {AbiValue::uint(amount)})));
  ASSERT_TRUE(receipt.has_value()) << receipt.error().message;

  auto event = eth::parse_abi_signature("Staked(address indexed user, uint256 amount, uint256 total)").value();
  rpc::LogFilter filter;
  filter.from_block = std::uint64_t{0};
  filter.to_block = receipt->block_number;
  filter.addresses = {d().staking};
  filter.topics = {std::vector<eth::Hash32>{eth::event_topic(event)}};
  auto logs = run(m_client->get_logs(filter));
  ASSERT_TRUE(logs.has_value());
  bool deployment_stake = false;
  bool our_stake = false;
  for (const auto& log : *logs) {
    auto values = eth::decode_event_log(event, log.topics, log.data);
    ASSERT_TRUE(values.has_value()) << eth::to_string(values.error());
    const Address user = std::get<Address>(values->at(0).value.data);
    const U256 staked = std::get<eth::AbiInt>(values->at(1).value.data).magnitude;
    const U256 total = std::get<eth::AbiInt>(values->at(2).value.data).magnitude;
    if (user == d().test_accounts[0] && staked == units(100, 18) && total == units(100, 18)) deployment_stake = true;
    if (user == sender.address() && log.transaction_hash == receipt->transaction_hash) {
      EXPECT_EQ(staked, amount);
      EXPECT_EQ(total, before.checked_add(amount).value());
      our_stake = true;
    }
  }
  EXPECT_TRUE(deployment_stake);
  EXPECT_TRUE(our_stake);
}

TEST_F(DemoChainTest, EthersSeesTheSameDeployment) {
  const fs::path file = fs::temp_directory_path() / ("gh-demo-" + std::to_string(::getpid()) + ".json");
  ASSERT_TRUE(write_deployment_json(d(), file.string()).has_value());
  const std::string command = "node " +
                              (fs::path(GATEHOUSE_SOURCE_DIR) / "tests/chain/check-demo-deployment.mjs").string() +
                              " " + file.string() + " 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe)) output += buffer;
  const int status = ::pclose(pipe);
  fs::remove(file);
  EXPECT_EQ(status, 0) << output;
  EXPECT_NE(output.find("\"ok\":true"), std::string::npos) << output;
}

}  // namespace
}  // namespace gh::devchain
