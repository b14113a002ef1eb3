#include "devchain/demo_deployment.hpp"

// GCC 12 inlines Asio's awaitable frame allocation and its sized operator delete into coroutines
// and reports them as a mismatched pair: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <unistd.h>
#include <array>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <utility>

#include "devchain/contract_artifact.hpp"
#include "devchain/contract_call.hpp"
#include "devchain/txn_sender.hpp"
#include "eth/abi.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::devchain {
namespace {

namespace fs = std::filesystem;
using eth::AbiValue;
using eth::AbiValues;
using eth::Address;
using eth::U256;

/// `whole` tokens in base units of a token with `decimals`.
U256 units(std::uint64_t whole, unsigned decimals) {
  U256 value = whole;
  // The demo amounts are far below 2^256: an overflow here is a typo in this file.
  for (unsigned i = 0; i < decimals; ++i) value = value.checked_mul(10).value();
  return value;
}

/// The arguments of a call as a vector. Coroutines use this instead of braced lists: GCC 12
/// cannot keep an initializer_list's backing array in a coroutine frame ("array used as
/// initializer").
template <class... V>
AbiValues values(V&&... v) {
  AbiValues out;
  out.reserve(sizeof...(v));
  (out.push_back(std::forward<V>(v)), ...);
  return out;
}

/// The failure with the step it happened in, so "txn_reverted" says which transaction.
Error in_step(Error error, std::string_view step) {
  error.message = std::string(step) + ": " + error.message;
  return error;
}

/// One liquidity position of the demo: prices follow from the amounts (ETH = 2000 USD,
/// GTA = 1 USD, GTB = 0.25 USD), so the DEX service has sensible quotes to compute.
struct PairPlan {
  std::string_view a;
  std::uint64_t a_whole;
  std::string_view b;
  std::uint64_t b_whole;
};
constexpr std::array<PairPlan, 4> pair_plans = {{
    {"GTA", 20'000, "WETH", 10},
    {"GTB", 40'000, "WETH", 5},
    {"WETH", 20, "TUSD", 40'000},
    {"GTA", 10'000, "TUSD", 10'000},
}};

/// The demo ERC-20s. The owner can mint more later; these supplies only need to cover the pairs
/// and the grants.
struct TokenPlan {
  std::string_view symbol, name;
  std::uint8_t decimals;
  std::uint64_t supply_whole;
};
constexpr std::array<TokenPlan, 3> token_plans = {{
    {"GTA", "Gate Alpha", 18, 1'000'000},
    {"GTB", "Gate Beta", 18, 1'000'000},
    {"TUSD", "Test USD", 6, 1'000'000},
}};

/// Each test account receives this much of GTA, GTB and TUSD (whole tokens).
constexpr std::uint64_t grant_gta = 1'000;
constexpr std::uint64_t grant_gtb = 1'000;
constexpr std::uint64_t grant_tusd = 5'000;
struct Grant {
  std::string_view symbol;
  std::uint64_t whole;
};
// A namespace-scope table, not a braced list in the coroutine (see values()).
constexpr std::array<Grant, 3> grants = {{{"GTA", grant_gta}, {"GTB", grant_gtb}, {"TUSD", grant_tusd}}};
/// Test account 1 stakes this much GTA so Staked logs exist from block one.
constexpr std::uint64_t initial_stake_gta = 100;
/// ETH wrapped into WETH by the deployer for the pairs (35 are used).
constexpr std::uint64_t wrapped_eth = 50;

/// The procedure's state: the client, the artifacts, the senders and what is deployed so far.
class DemoDeployer {
 public:
  DemoDeployer(rpc::RpcClient& client, DemoSettings settings, TxnSender deployer)
      : m_client(client), m_settings(std::move(settings)), m_deployer(std::move(deployer)) {}

  /// Deploys artifact `name` with constructor arguments of `types` ("string,uint8", may be empty).
  Task<Result<Address>> deploy(std::string_view name, std::string_view types, AbiValues args) {
    const std::string step = "deploying " + std::string(name);
    auto artifact =
        load_contract_artifact((fs::path(m_settings.artifacts_dir) / (std::string(name) + ".json")).string());
    if (!artifact) co_return in_step(std::move(artifact).error(), step);
    auto signature = eth::parse_abi_signature("constructor(" + std::string(types) + ")");
    if (!signature) co_return in_step(abi_error(signature.error(), "parsing the constructor types"), step);
    auto code = creation_code(*artifact, signature->types(), args);
    if (!code) co_return in_step(std::move(code).error(), step);
    auto address = co_await m_deployer.deploy(std::move(*code));
    if (!address) co_return in_step(std::move(address).error(), step);
    co_return *address;
  }

  /// Sends `signature(args)` to `to` from `sender`.
  Task<Result<void>> transact(TxnSender& sender, Address to, std::string_view signature, AbiValues args,
                              U256 value = {}) {
    const std::string step = std::string(signature) + " on " + eth::to_checksum(to);
    auto data = encode_call(signature, args);
    if (!data) co_return in_step(std::move(data).error(), step);
    auto receipt = co_await sender.send(to, std::move(*data), value);
    if (!receipt) co_return in_step(std::move(receipt).error(), step);
    co_return ok();
  }

  /// transact from the deployer.
  Task<Result<void>> transact(Address to, std::string_view signature, AbiValues args, U256 value = {}) {
    return transact(m_deployer, to, signature, std::move(args), value);
  }

  Task<Result<DemoDeployment>> run();

 private:
  Task<Result<void>> deploy_tokens(DemoDeployment& out);
  Task<Result<void>> deploy_pairs(DemoDeployment& out);
  Task<Result<void>> deploy_collections(DemoDeployment& out);
  Task<Result<void>> deploy_services(DemoDeployment& out);
  Task<Result<void>> seed_accounts(DemoDeployment& out);

  rpc::RpcClient& m_client;
  DemoSettings m_settings;
  TxnSender m_deployer;
  std::vector<TxnSender> m_users;
};

Task<Result<void>> DemoDeployer::deploy_tokens(DemoDeployment& out) {
  for (const auto& p : token_plans) {
    auto address =
        co_await deploy("TestToken", "string,string,uint8,uint256",
                        values(AbiValue::string(std::string(p.name)), AbiValue::string(std::string(p.symbol)),
                               AbiValue::uint(p.decimals), AbiValue::uint(units(p.supply_whole, p.decimals))));
    if (!address) co_return std::move(address).error();
    out.tokens.push_back({std::string(p.symbol), std::string(p.name), p.decimals, *address});
  }
  auto weth = co_await deploy("WrappedEther", "", {});
  if (!weth) co_return std::move(weth).error();
  out.tokens.push_back({"WETH", "Wrapped Ether", 18, *weth});
  co_return co_await transact(*weth, "deposit()", {}, units(wrapped_eth, 18));
}

Task<Result<void>> DemoDeployer::deploy_pairs(DemoDeployment& out) {
  auto factory = co_await deploy("UniswapV2Factory", "address", values(AbiValue::address(out.deployer)));
  if (!factory) co_return std::move(factory).error();
  out.uniswap_factory = *factory;
  for (const auto& plan : pair_plans) {
    const DemoToken* a = out.token(plan.a);
    const DemoToken* b = out.token(plan.b);
    const std::string name = std::string(plan.a) + "/" + std::string(plan.b);
    if (auto r = co_await transact(*factory, "createPair(address,address)",
                                   values(AbiValue::address(a->address), AbiValue::address(b->address)));
        !r) {
      co_return r;
    }
    auto pair = co_await call_address(m_client, *factory, "getPair(address,address)",
                                      values(AbiValue::address(a->address), AbiValue::address(b->address)));
    if (!pair) co_return in_step(std::move(pair).error(), "getPair " + name);
    // No router in v2-core: a pair mints liquidity for whatever it holds above its reserves, so
    // fund it directly and call mint, exactly what the router does inside one transaction.
    const U256 amount_a = units(plan.a_whole, a->decimals);
    const U256 amount_b = units(plan.b_whole, b->decimals);
    if (auto r = co_await transact(a->address, "transfer(address,uint256)",
                                   values(AbiValue::address(*pair), AbiValue::uint(amount_a)));
        !r) {
      co_return r;
    }
    if (auto r = co_await transact(b->address, "transfer(address,uint256)",
                                   values(AbiValue::address(*pair), AbiValue::uint(amount_b)));
        !r) {
      co_return r;
    }
    if (auto r = co_await transact(*pair, "mint(address)", values(AbiValue::address(out.deployer))); !r) co_return r;
    // Uniswap orders a pair's tokens by address.
    const bool a_first = a->address < b->address;
    out.pairs.push_back({name, *pair, a_first ? a->address : b->address, a_first ? b->address : a->address,
                         a_first ? amount_a : amount_b, a_first ? amount_b : amount_a});
  }
  co_return ok();
}

Task<Result<void>> DemoDeployer::deploy_collections(DemoDeployment& out) {
  auto nft = co_await deploy("TestNFT", "string,string,string",
                             values(AbiValue::string("Gate Pass"), AbiValue::string("GPASS"),
                                    AbiValue::string("https://gatehouse.invalid/nft/")));
  if (!nft) co_return std::move(nft).error();
  out.nft = *nft;
  // Ids 1..3 go to test accounts 1, 2 and 1 (someone holding two), id 4 to the smart wallet,
  // so NFT gates can be tested with an EOA and with an EIP-1271 wallet.
  const std::vector<Address> nft_holders = {out.test_accounts[0], out.test_accounts[1], out.test_accounts[0],
                                            out.smart_wallet};
  for (const Address& to : nft_holders) {
    if (auto r = co_await transact(out.nft, "mint(address)", values(AbiValue::address(to))); !r) co_return r;
  }

  auto multi = co_await deploy("TestMultiToken", "string",
                               values(AbiValue::string("https://gatehouse.invalid/multi/{id}.json")));
  if (!multi) co_return std::move(multi).error();
  out.multi_token = *multi;
  if (auto r =
          co_await transact(out.multi_token, "mint(address,uint256,uint256)",
                            values(AbiValue::address(out.test_accounts[0]), AbiValue::uint(1), AbiValue::uint(10)));
      !r) {
    co_return r;
  }
  if (auto r = co_await transact(out.multi_token, "mint(address,uint256,uint256)",
                                 values(AbiValue::address(out.test_accounts[1]), AbiValue::uint(2), AbiValue::uint(5)));
      !r) {
    co_return r;
  }
  co_return co_await transact(
      out.multi_token, "mintBatch(address,uint256[],uint256[])",
      values(AbiValue::address(out.deployer),
             AbiValue::list(values(AbiValue::uint(1), AbiValue::uint(2), AbiValue::uint(3))),
             AbiValue::list(values(AbiValue::uint(100), AbiValue::uint(100), AbiValue::uint(100)))));
}

Task<Result<void>> DemoDeployer::deploy_services(DemoDeployment& out) {
  auto staking = co_await deploy("Staking", "address", values(AbiValue::address(out.token("GTA")->address)));
  if (!staking) co_return std::move(staking).error();
  out.staking = *staking;
  auto multi_sender = co_await deploy("MultiSender", "", {});
  if (!multi_sender) co_return std::move(multi_sender).error();
  out.multi_sender = *multi_sender;
  auto points = co_await deploy("Points", "", {});
  if (!points) co_return std::move(points).error();
  out.points = *points;
  out.smart_wallet_owner = out.test_accounts[0];
  auto wallet = co_await deploy("SmartWallet", "address", values(AbiValue::address(out.smart_wallet_owner)));
  if (!wallet) co_return std::move(wallet).error();
  out.smart_wallet = *wallet;
  auto echo = co_await deploy("EchoFallback", "", {});
  if (!echo) co_return std::move(echo).error();
  out.echo_fallback = *echo;
  co_return ok();
}

Task<Result<void>> DemoDeployer::seed_accounts(DemoDeployment& out) {
  // One MultiSent batch per token: the accounts get their balances and the indexer gets
  // multi-sender events to show.
  AbiValues recipients;
  for (const Address& a : out.test_accounts) recipients.push_back(AbiValue::address(a));
  for (const Grant& grant : grants) {
    const DemoToken* token = out.token(grant.symbol);
    const U256 each = units(grant.whole, token->decimals);
    const U256 total = each.checked_mul(out.test_accounts.size()).value();
    AbiValues amounts(out.test_accounts.size(), AbiValue::uint(each));
    if (auto r = co_await transact(token->address, "approve(address,uint256)",
                                   values(AbiValue::address(out.multi_sender), AbiValue::uint(total)));
        !r) {
      co_return r;
    }
    if (auto r = co_await transact(
            out.multi_sender, "multiSend(address,address[],uint256[],string)",
            values(AbiValue::address(token->address), AbiValue::list(recipients), AbiValue::list(std::move(amounts)),
                   AbiValue::string("Welcome to the gatehouse dev chain")));
        !r) {
      co_return r;
    }
  }

  const Address gta = out.token("GTA")->address;
  // The smart wallet holds GTA too, so token gates can be tested with a contract wallet.
  if (auto r = co_await transact(gta, "transfer(address,uint256)",
                                 values(AbiValue::address(out.smart_wallet), AbiValue::uint(units(100, 18))));
      !r) {
    co_return r;
  }

  // Test account 1 stakes: Staked logs exist before anyone uses the chain.
  TxnSender& user = m_users.at(0);
  const U256 stake = units(initial_stake_gta, 18);
  if (auto r = co_await transact(user, gta, "approve(address,uint256)",
                                 values(AbiValue::address(out.staking), AbiValue::uint(stake)));
      !r) {
    co_return r;
  }
  if (auto r = co_await transact(user, out.staking, "stake(uint256)", values(AbiValue::uint(stake))); !r) co_return r;

  if (auto r = co_await transact(out.points, "grant(address,uint256)",
                                 values(AbiValue::address(out.test_accounts[0]), AbiValue::uint(100)));
      !r) {
    co_return r;
  }
  co_return co_await transact(out.points, "grant(address,uint256)",
                              values(AbiValue::address(out.test_accounts[1]), AbiValue::uint(50)));
}

Task<Result<DemoDeployment>> DemoDeployer::run() {
  DemoDeployment out;
  out.chain_id = m_settings.chain_id;
  out.rpc_url = m_settings.rpc_url;
  out.deployer = m_deployer.address();
  TxnSenderSettings sender_settings;
  sender_settings.chain_id = m_settings.chain_id;
  for (std::size_t i = 1; i < anvil_dev_keys.size(); ++i) {
    // The keys are compile-time constants: a parse failure is a bug in this file.
    auto key = eth::PrivateKey::from_hex(anvil_dev_keys[i]);
    m_users.emplace_back(m_client, key.value(), sender_settings);
    out.test_accounts.push_back(m_users.back().address());
  }

  // Order matters: the smart wallet must exist before NFTs are minted to it, the tokens before
  // the pairs, staking and the grants.
  if (auto r = co_await deploy_tokens(out); !r) co_return std::move(r).error();
  if (auto r = co_await deploy_pairs(out); !r) co_return std::move(r).error();
  if (auto r = co_await deploy_services(out); !r) co_return std::move(r).error();
  if (auto r = co_await deploy_collections(out); !r) co_return std::move(r).error();
  if (auto r = co_await seed_accounts(out); !r) co_return std::move(r).error();

  auto head = co_await m_client.block_number();
  if (!head) co_return head.error().to_error();
  out.deployed_at_block = *head;
  co_return out;
}

}  // namespace

const DemoToken* DemoDeployment::token(std::string_view symbol) const noexcept {
  for (const auto& t : tokens) {
    if (t.symbol == symbol) return &t;
  }
  return nullptr;
}

const DemoPair* DemoDeployment::pair(std::string_view name) const noexcept {
  for (const auto& p : pairs) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

Task<Result<DemoDeployment>> deploy_demo(rpc::RpcClient& client, DemoSettings settings) {
  auto key = eth::PrivateKey::from_hex(anvil_dev_keys[0]);
  if (!key) co_return make_error(ErrorKind::internal, eth::to_string(key.error()), "the deployer's dev key is invalid");
  TxnSenderSettings sender_settings;
  sender_settings.chain_id = settings.chain_id;
  DemoDeployer deployer(client, std::move(settings), TxnSender(client, *key, sender_settings));
  co_return co_await deployer.run();
}

std::string deployment_json(const DemoDeployment& d) {
  namespace json = boost::json;
  auto addr = [](const Address& a) { return json::value(eth::to_checksum(a)); };
  json::object doc;
  doc["chain_id"] = d.chain_id;
  doc["rpc_url"] = d.rpc_url;
  doc["deployed_at_block"] = d.deployed_at_block;
  doc["deployer"] = addr(d.deployer);
  json::array accounts;
  for (const auto& a : d.test_accounts) accounts.push_back(addr(a));
  doc["test_accounts"] = std::move(accounts);
  // The keys are anvil's public defaults, listed so wallets and scripts can import them; never
  // put a real key in this file.
  json::array keys;
  for (const auto hex : anvil_dev_keys) {
    auto key = eth::PrivateKey::from_hex(hex);
    keys.push_back(json::object{{"address", eth::to_checksum(key.value().address())}, {"private_key", hex}});
  }
  doc["dev_keys"] = std::move(keys);
  json::object tokens;
  for (const auto& t : d.tokens) {
    tokens[t.symbol] = json::object{{"address", eth::to_checksum(t.address)},
                                    {"name", t.name},
                                    {"symbol", t.symbol},
                                    {"decimals", static_cast<std::uint64_t>(t.decimals)}};
  }
  doc["tokens"] = std::move(tokens);
  doc["contracts"] = json::object{
      {"TestNFT", addr(d.nft)},
      {"TestMultiToken", addr(d.multi_token)},
      {"Staking", addr(d.staking)},
      {"MultiSender", addr(d.multi_sender)},
      {"Points", addr(d.points)},
      {"SmartWallet", addr(d.smart_wallet)},
      {"EchoFallback", addr(d.echo_fallback)},
      {"UniswapV2Factory", addr(d.uniswap_factory)},
  };
  doc["smart_wallet_owner"] = addr(d.smart_wallet_owner);
  json::object pairs;
  for (const auto& p : d.pairs) {
    pairs[p.name] = json::object{{"address", eth::to_checksum(p.address)},
                                 {"token0", eth::to_checksum(p.token0)},
                                 {"token1", eth::to_checksum(p.token1)},
                                 {"reserve0", p.reserve0.to_dec()},
                                 {"reserve1", p.reserve1.to_dec()}};
  }
  doc["pairs"] = std::move(pairs);
  return json::serialize(doc) + "\n";
}

Result<void> write_deployment_json(const DemoDeployment& deployment, const std::string& path) {
  auto failed = [&](const std::string& why) {
    return make_error(ErrorKind::internal, "write_failed", "cannot write " + path + ": " + why);
  };
  std::error_code ec;
  const fs::path target(path);
  if (target.has_parent_path()) {
    fs::create_directories(target.parent_path(), ec);
    if (ec) return failed(ec.message());
  }
  // Written beside and renamed: a reader polling for the file never sees half of it.
  const fs::path tmp = target.string() + "." + std::to_string(::getpid()) + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << deployment_json(deployment);
    if (!out.flush()) return failed("write error");
  }
  fs::rename(tmp, target, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return failed(ec.message());
  }
  return ok();
}

}  // namespace gh::devchain
