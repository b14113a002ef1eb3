#pragma once
// The demo contract set of the dev chain, deployed with our own signing and JSON-RPC code: test
// tokens, a WETH-like token, an ERC-721, an ERC-1155, staking, multi-sender, points, an EIP-1271
// wallet, and Uniswap V2 pairs holding liquidity at fixed prices. `gatehouse dev-chain` writes the
// result as JSON; the chain tests use it directly.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/address.hpp"
#include "eth/u256.hpp"

namespace gh::rpc {
class RpcClient;
}

namespace gh::devchain {

/// anvil's default accounts 0..4 (mnemonic "test test test test test test test test test test
/// test junk"): public, well-known dev keys, funded by anvil, worthless anywhere else.
inline constexpr std::array<std::string_view, 5> anvil_dev_keys = {
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
};

/// What deploy_demo needs besides a client.
struct DemoSettings {
  /// Directory of the artifacts (build/contracts under the project root).
  std::string artifacts_dir;
  /// Recorded in the result, and the chain id every transaction is signed for.
  std::uint64_t chain_id = 31337;
  /// Recorded in the result (the client already knows where to send).
  std::string rpc_url;
};

/// A deployed ERC-20.
struct DemoToken {
  std::string symbol;
  std::string name;
  std::uint8_t decimals = 18;
  eth::Address address;
};

/// A Uniswap V2 pair and the reserves its first liquidity set (token0 < token1 by address).
struct DemoPair {
  std::string name;  ///< "GTA/WETH": the two symbols as listed in the demo, not token0/token1
  eth::Address address;
  eth::Address token0;
  eth::Address token1;
  eth::U256 reserve0;
  eth::U256 reserve1;
};

/// Where everything is. Addresses of contracts and accounts; keys only as anvil_dev_keys.
struct DemoDeployment {
  std::uint64_t chain_id = 0;
  std::string rpc_url;
  /// anvil account 0: deploys and owns every contract.
  eth::Address deployer;
  /// anvil accounts 1..4, funded with the demo tokens.
  std::vector<eth::Address> test_accounts;
  /// GTA, GTB, TUSD, WETH in this order.
  std::vector<DemoToken> tokens;
  eth::Address nft;                 ///< TestNFT "Gate Pass" (GPASS)
  eth::Address multi_token;         ///< TestMultiToken
  eth::Address staking;             ///< Staking over GTA
  eth::Address multi_sender;        ///< MultiSender
  eth::Address points;              ///< Points
  eth::Address smart_wallet;        ///< SmartWallet owned by smart_wallet_owner
  eth::Address smart_wallet_owner;  ///< test account 1
  eth::Address echo_fallback;       ///< EchoFallback: returns its calldata, must never pass EIP-1271
  eth::Address uniswap_factory;
  /// GTA/WETH, GTB/WETH, WETH/TUSD, GTA/TUSD in this order.
  std::vector<DemoPair> pairs;
  /// The head once everything is deployed: where an indexer may start.
  std::uint64_t deployed_at_block = 0;

  /// The token with `symbol`, or nullptr.
  const DemoToken* token(std::string_view symbol) const noexcept;
  /// The pair named `name` ("GTA/WETH"), or nullptr.
  const DemoPair* pair(std::string_view name) const noexcept;
};

/// Deploys and seeds the demo set on a fresh chain whose first accounts are anvil's (see
/// anvil_dev_keys). Errors carry the step that failed: "artifact_*", the node's, "txn_reverted".
Task<Result<DemoDeployment>> deploy_demo(rpc::RpcClient& client, DemoSettings settings);

/// The deployment as a JSON document (EIP-55 addresses, amounts as decimal strings).
std::string deployment_json(const DemoDeployment& deployment);

/// Writes deployment_json to `path` (creating its directory), atomically. Error: "write_failed".
Result<void> write_deployment_json(const DemoDeployment& deployment, const std::string& path);

}  // namespace gh::devchain
