#include "devchain/contract_call.hpp"

// GCC 12 inlines Asio's awaitable frame allocation and its sized operator delete into coroutines
// and reports them as a mismatched pair: a false positive (GCC PR 109224).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "devchain/contract_artifact.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::devchain {
namespace {

/// The types of "a,b,c" as a tuple, reusing the signature parser so nested types work.
Result<std::vector<eth::AbiType>> parse_type_list(std::string_view types) {
  auto parsed = eth::parse_abi_signature("r(" + std::string(types) + ")");
  if (!parsed) return abi_error(parsed.error(), "parsing the types " + std::string(types));
  return parsed->types();
}

}  // namespace

Result<eth::Bytes> encode_call(std::string_view signature, const eth::AbiValues& args) {
  auto parsed = eth::parse_abi_signature(signature);
  if (!parsed) return abi_error(parsed.error(), "parsing " + std::string(signature));
  auto data = eth::encode_function_call(*parsed, args);
  if (!data) return abi_error(data.error(), "encoding a call of " + std::string(signature));
  return std::move(*data);
}

Task<Result<eth::AbiValues>> call_view(rpc::RpcClient& client, eth::Address to, std::string_view signature,
                                       eth::AbiValues args, std::string_view return_types) {
  auto data = encode_call(signature, args);
  if (!data) co_return std::move(data).error();
  auto types = parse_type_list(return_types);
  if (!types) co_return std::move(types).error();
  rpc::CallRequest call;
  call.to = to;
  call.data = std::move(*data);
  auto answer = co_await client.eth_call(std::move(call));
  if (!answer) co_return answer.error().to_error();
  auto values = eth::abi_decode(*types, *answer);
  if (!values) co_return abi_error(values.error(), "decoding the answer of an eth_call");
  co_return std::move(*values);
}

Task<Result<eth::U256>> call_uint(rpc::RpcClient& client, eth::Address to, std::string_view signature,
                                  eth::AbiValues args) {
  auto values = co_await call_view(client, to, signature, std::move(args), "uint256");
  if (!values) co_return std::move(values).error();
  co_return std::get<eth::AbiInt>(values->at(0).data).magnitude;
}

Task<Result<eth::Address>> call_address(rpc::RpcClient& client, eth::Address to, std::string_view signature,
                                        eth::AbiValues args) {
  auto values = co_await call_view(client, to, signature, std::move(args), "address");
  if (!values) co_return std::move(values).error();
  co_return std::get<eth::Address>(values->at(0).data);
}

}  // namespace gh::devchain
