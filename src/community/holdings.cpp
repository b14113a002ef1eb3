#include "community/holdings.hpp"

#include <map>

#include <fmt/format.h>

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

}  // namespace gh::community
