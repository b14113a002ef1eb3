#pragma once
// Calling contracts by human-readable signature ("balanceOf(address)") through our own ABI code:
// calldata for transactions, and read-only eth_call with typed decoding of the answer.
#include <string_view>

#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/abi.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"

namespace gh::rpc {
class RpcClient;
}

namespace gh::devchain {

/// Calldata for `signature` (e.g. "transfer(address,uint256)") with `args`. Errors: the ABI
/// module's ("abi_signature_invalid", "abi_value_invalid", ...).
Result<eth::Bytes> encode_call(std::string_view signature, const eth::AbiValues& args);

/// eth_call of `signature` on `to` at the latest block, decoding the return data as the
/// comma-separated `return_types` (e.g. "uint112,uint112,uint32"). Errors: the node's (a revert
/// included) and the ABI module's.
Task<Result<eth::AbiValues>> call_view(rpc::RpcClient& client, eth::Address to, std::string_view signature,
                                       eth::AbiValues args, std::string_view return_types);

/// call_view for a function returning one uint: the value. Errors: as call_view.
Task<Result<eth::U256>> call_uint(rpc::RpcClient& client, eth::Address to, std::string_view signature,
                                  eth::AbiValues args = {});

/// call_view for a function returning one address: the value. Errors: as call_view.
Task<Result<eth::Address>> call_address(rpc::RpcClient& client, eth::Address to, std::string_view signature,
                                        eth::AbiValues args = {});

}  // namespace gh::devchain
