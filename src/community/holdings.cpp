#include "community/holdings.hpp"

#include <map>

#include <fmt/format.h>

#include "chain/service.hpp"
#include "core/log.hpp"
#include "eth/abi.hpp"
#include "eth/hex.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;

const eth::AbiSignature& signature(std::string_view text) {
  static std::map<std::string, eth::AbiSignature, std::less<>> cache;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  auto it = cache.find(text);
  if (it == cache.end()) it = cache.emplace(std::string(text), *eth::parse_abi_signature(text)).first;
  return it->second;
}

Error chain_unavailable(std::uint64_t chain_id, std::string_view why) {
  return make_error(ErrorKind::unavailable, "chain_unavailable",
                    fmt::format("chain {} cannot be asked for holdings: {}", chain_id, why));
}

// The uint256 (or address) in the first word of return data; empty data reads zero.
eth::U256 first_word(const eth::Bytes& data) {
  if (data.size() < 32) return eth::U256(0);
  return eth::U256::from_be_bytes(eth::ByteView(data.data(), 32)).value();
}

chain::Pipeline pipeline_of(LeafKind kind) {
  switch (kind) {
    case LeafKind::erc20:
      return chain::Pipeline::erc20;
    case LeafKind::erc721:
      return chain::Pipeline::erc721;
    case LeafKind::erc1155:
      return chain::Pipeline::erc1155;
    case LeafKind::staked:
      return chain::Pipeline::staking;
  }
  return chain::Pipeline::erc20;
}

// The value of `key` in the projection's rows for one account and chain.
eth::U256 projected(const HoldingKey& key, const std::vector<chain::storage::Holding>& rows) {
  eth::U256 total(0);
  for (const auto& h : rows) {
    if (h.chain_id != key.chain_id || h.kind != to_string(key.kind)) continue;
    auto contract = eth::parse_address(h.contract);
    if (!contract || *contract != key.contract) continue;
    auto amount = eth::U256::from_dec(h.amount);
    if (!amount) continue;
    if (key.kind == LeafKind::erc721 && !key.token_id) {
      total = total.checked_add(eth::U256(1)).value_or(total);  // a count of tokens
      continue;
    }
    if (key.token_id) {
      auto id = eth::U256::from_dec(h.token_id);
      if (!id || *id != *key.token_id) continue;
    }
    total = total.checked_add(*amount).value_or(total);
  }
  if (key.kind == LeafKind::erc721 && key.token_id && total != eth::U256(0)) return eth::U256(1);
  return total;
}

}  // namespace

eth::Bytes holding_calldata(const HoldingKey& key, const eth::Address& account) {
  switch (key.kind) {
    case LeafKind::erc20:
      return *eth::encode_function_call(signature("balanceOf(address)"), {eth::AbiValue::address(account)});
    case LeafKind::erc721:
      if (key.token_id) {
        return *eth::encode_function_call(signature("ownerOf(uint256)"), {eth::AbiValue::uint(*key.token_id)});
      }
      return *eth::encode_function_call(signature("balanceOf(address)"), {eth::AbiValue::address(account)});
    case LeafKind::erc1155:
      return *eth::encode_function_call(
          signature("balanceOf(address,uint256)"),
          {eth::AbiValue::address(account), eth::AbiValue::uint(key.token_id.value_or(0))});
    case LeafKind::staked:
      return *eth::encode_function_call(signature("stakedOf(address)"), {eth::AbiValue::address(account)});
  }
  return {};
}

Task<Result<Holdings>> ChainHoldings::read(const eth::Address& account, std::vector<HoldingKey> keys) {
  std::map<std::uint64_t, std::vector<HoldingKey>> by_chain;
  for (auto& k : keys) by_chain[k.chain_id].push_back(k);
  Holdings out;
  for (const auto& [chain_id, chain_keys] : by_chain) {
    rpc::RpcClient* client = m_rpc ? m_rpc(chain_id) : nullptr;
    if (client == nullptr) co_return chain_unavailable(chain_id, "the chain is not configured");
    // One block for every call, so a gate sees one consistent state.
    auto head = co_await client->block_number();
    if (!head) co_return chain_unavailable(chain_id, head.error().message);
    const std::string block = eth::U256(*head).to_hex();
    std::vector<rpc::RpcCall> calls;
    calls.reserve(chain_keys.size());
    for (const auto& k : chain_keys) {
      json::object call{{"to", eth::to_lower_hex(k.contract)}, {"data", eth::to_hex(holding_calldata(k, account))}};
      json::array params{call, json::string(block)};
      calls.push_back(rpc::RpcCall{"eth_call", std::move(params)});
    }
    auto answers = co_await client->call_batch(std::move(calls));
    if (!answers) co_return chain_unavailable(chain_id, answers.error().message);
    for (std::size_t i = 0; i < chain_keys.size(); ++i) {
      const auto& k = chain_keys[i];
      const auto& answer = (*answers)[i];
      eth::U256 value(0);
      if (answer) {
        if (!answer->is_string()) co_return chain_unavailable(chain_id, "an eth_call answer is not hex data");
        auto data = eth::from_hex(answer->as_string());
        if (!data) co_return chain_unavailable(chain_id, "an eth_call answer is not hex data");
        value = first_word(*data);
        if (k.kind == LeafKind::erc721 && k.token_id) {
          eth::Address owner;
          if (data->size() >= 32) std::copy(data->begin() + 12, data->begin() + 32, owner.bytes.begin());
          value = eth::U256(owner == account ? 1 : 0);
        }
      } else if (answer.error().kind != rpc::RpcErrc::rpc) {
        co_return chain_unavailable(chain_id, answer.error().message);
      }
      out[k] = value;
    }
  }
  co_return out;
}

Task<Result<Holdings>> IndexedHoldings::read(const eth::Address& account, std::vector<HoldingKey> keys) {
  std::vector<HoldingKey> from_projection;
  std::vector<HoldingKey> from_chain;
  for (auto& k : keys) {
    auto caught_up = co_await m_chain.caught_up(k.chain_id, pipeline_of(k.kind), k.contract);
    if (caught_up && *caught_up) {
      from_projection.push_back(k);
    } else {
      from_chain.push_back(k);
    }
  }
  Holdings out;
  if (!from_chain.empty()) {
    auto read = co_await m_fallback.read(account, std::move(from_chain));
    if (!read) co_return read;
    out = std::move(*read);
  }
  std::map<std::uint64_t, std::vector<chain::storage::Holding>> rows;
  for (const auto& k : from_projection) {
    if (rows.count(k.chain_id) == 0) {
      auto list = co_await m_chain.holdings(account, k.chain_id);
      if (!list) co_return std::move(list).error();
      rows.emplace(k.chain_id, std::move(*list));
    }
    out[k] = projected(k, rows.at(k.chain_id));
  }
  co_return out;
}

Task<void> IndexedHoldings::watch(std::vector<HoldingKey> keys) {
  for (const auto& k : keys) {
    auto tracked = co_await m_chain.track_contract(k.chain_id, pipeline_of(k.kind), k.contract, 0);
    if (!tracked) {
      log::warn("gated contract not tracked by the indexer", {{"chain", std::to_string(k.chain_id)},
                                                              {"contract", eth::to_checksum(k.contract)},
                                                              {"error", tracked.error().message}});
    }
  }
  co_await m_fallback.watch(std::move(keys));
}

}  // namespace gh::community
