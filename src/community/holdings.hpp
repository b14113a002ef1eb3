#pragma once
// Holdings read from the chain for gates: one JSON-RPC batch of eth_calls per chain, all at the
// same recent block (balanceOf for ERC-20 and ERC-721 counts, ownerOf for given ERC-721 ids,
// balanceOf(account, id) for ERC-1155, stakedOf for our staking contract).
#include <cstdint>
#include <functional>

#include "community/service.hpp"

namespace gh::rpc {
class RpcClient;
}
namespace gh::chain {
class ChainService;
}

namespace gh::community {

/// The eth_call calldata that reads `key` for `account`.
eth::Bytes holding_calldata(const HoldingKey& key, const eth::Address& account);

/// Reads holdings with eth_call through the chains' JSON-RPC clients.
class ChainHoldings final : public HoldingsSource {
 public:
  /// The RPC client of a chain, or nullptr when the chain is not configured.
  using RpcLookup = std::function<rpc::RpcClient*(std::uint64_t chain_id)>;
  explicit ChainHoldings(RpcLookup rpc) : m_rpc(std::move(rpc)) {}

  /// 503 chain_unavailable when a chain is not configured or does not answer. A call the node
  /// refuses (a revert: ownerOf of a burnt token, a contract without the function) reads zero.
  Task<Result<Holdings>> read(const eth::Address& account, std::vector<HoldingKey> keys) override;
  bool serves_chain(std::uint64_t chain_id) const override { return m_rpc && m_rpc(chain_id) != nullptr; }

 private:
  RpcLookup m_rpc;
};

/// Reads from the chain context's holdings projection the keys whose contract the indexer has
/// caught up with (ChainService::caught_up), the others through `fallback` (eth_call). Gated
/// contracts are tracked by the indexer from block 0 (ChainService::track_contract), so their
/// events reach the re-evaluation and, once backfilled, their holdings come from the projection.
class IndexedHoldings final : public HoldingsSource {
 public:
  IndexedHoldings(chain::ChainService& chain, HoldingsSource& fallback) : m_chain(chain), m_fallback(fallback) {}

  Task<Result<Holdings>> read(const eth::Address& account, std::vector<HoldingKey> keys) override;
  Task<void> watch(std::vector<HoldingKey> keys) override;
  bool serves_chain(std::uint64_t chain_id) const override { return m_fallback.serves_chain(chain_id); }

 private:
  chain::ChainService& m_chain;
  HoldingsSource& m_fallback;
};

}  // namespace gh::community
