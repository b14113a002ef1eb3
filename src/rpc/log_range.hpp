#pragma once
// Recognizes a provider's refusal of an eth_getLogs block range, and what it suggests instead.
// Providers say it in prose, not in a standard code, so the known messages are matched here:
//   Alchemy   "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block
//              range ... this block range should work: [0x0, 0x12a7]"
//   Infura    -32005 "query returned more than 10000 results. Try with this block range [0x.., 0x..]."
//   QuickNode "eth_getLogs is limited to a 10,000 range", "block range too large"
//   geth      "query returned more than 10000 results", "exceed maximum block range: 5000"
//   others    "block range is too wide (maximum 1024)", "range too large", -32005 "limit exceeded"
// A message about the range being past the head ("block range extends beyond current head
// block") is not a refusal of its size and is not matched.
#include <cstdint>
#include <optional>

#include "rpc/json_rpc.hpp"

namespace gh::rpc {

/// What a range refusal tells us.
struct LogRangeRefusal {
  /// The provider's suggested [from, to] (Alchemy, Infura), when it gave one.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> suggested;
  /// The provider's maximum span in blocks ("up to a 2K block range", "limited to a 10,000
  /// range", "maximum block range: 5000"), when it said one.
  std::optional<std::uint64_t> max_span;
};

/// The refusal carried by `error`, or nullopt when the error is anything else.
std::optional<LogRangeRefusal> recognize_log_range_refusal(const RpcError& error);

}  // namespace gh::rpc
