#pragma once
// The Ethereum JSON-RPC client of one chain: several provider endpoints with failover, retries
// with jittered exponential backoff on transport errors, 429 and 5xx (never on a node's own
// JSON-RPC error, such as a revert), batching, and eth_getLogs range splitting.
#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/task.hpp"
#include "net/http_client.hpp"
#include "rpc/eth_types.hpp"
#include "rpc/json_rpc.hpp"

namespace gh::rpc {

/// How one chain's providers are reached.
struct RpcClientSettings {
  /// Provider URLs, most preferred first. At least one.
  std::vector<std::string> endpoints;
  /// Extra headers sent with every request (e.g. a provider's auth header).
  std::vector<net::HttpHeader> headers;
  /// Bound on one HTTP attempt.
  std::chrono::milliseconds attempt_timeout{10'000};
  /// Bound on a whole call, retries and backoff included.
  std::chrono::milliseconds total_timeout{30'000};
  /// HTTP attempts per call (the first one included).
  unsigned max_attempts = 5;
  /// Backoff before retry n is uniformly drawn in [d/2, d], d = min(initial * 2^(n-1), max).
  std::chrono::milliseconds backoff_initial{100};
  std::chrono::milliseconds backoff_max{5'000};
  /// A failed endpoint is skipped for initial * 2^(failures-1), at most max (or Retry-After).
  std::chrono::milliseconds endpoint_down_initial{1'000};
  std::chrono::milliseconds endpoint_down_max{60'000};
  /// A provider asking for more than this in Retry-After is left for another one / the caller.
  std::chrono::milliseconds max_retry_after{30'000};
  /// Largest batch sent in one HTTP request; call_batch splits bigger ones.
  std::size_t max_batch_size = 100;
  /// Our own bound on the block span of one eth_getLogs request (0 = none): providers refuse wide
  /// spans anyway, and starting narrower saves the refusals.
  std::uint64_t max_log_block_span = 0;
  /// Refusals tolerated within one get_logs before giving up.
  unsigned max_log_range_refusals = 64;
};

/// Per-call overrides.
struct CallOptions {
  /// Bound on one HTTP attempt of this call.
  std::optional<std::chrono::milliseconds> attempt_timeout;
  /// Bound on this call, retries included.
  std::optional<std::chrono::milliseconds> total_timeout;
};

/// The logs of the first part of a block range (get_logs_prefix).
struct LogsPrefix {
  std::vector<Log> logs;  ///< in chain order
  std::uint64_t to = 0;   ///< the last block covered: the range's end unless the provider refused it
};

/// A provider endpoint's health, for status pages and tests.
struct EndpointStatus {
  std::string url;
  bool up = true;
  unsigned consecutive_failures = 0;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
};

/// JSON-RPC client of one chain. Thread-safe; the caller keeps it alive while calls run.
class RpcClient {
 public:
  /// A client with its own HttpClient on `executor`.
  RpcClient(Executor executor, RpcClientSettings settings, net::HttpClientSettings http = {});
  /// A client sharing `http` (connection pools) with others.
  RpcClient(Executor executor, RpcClientSettings settings, std::shared_ptr<net::HttpClient> http);
  ~RpcClient();
  RpcClient(const RpcClient&) = delete;
  RpcClient& operator=(const RpcClient&) = delete;

  /// One call; the node's result or the reason there is none.
  Task<RpcResult<boost::json::value>> call(std::string method, boost::json::array params, CallOptions options = {});

  /// Several calls in as few HTTP requests as max_batch_size allows; element i answers calls[i].
  /// The outer error means no answer at all; a call the node failed carries its own error.
  Task<RpcResult<std::vector<RpcResult<boost::json::value>>>> call_batch(std::vector<RpcCall> calls,
                                                                         CallOptions options = {});

  /// eth_chainId.
  Task<RpcResult<std::uint64_t>> chain_id();
  /// eth_blockNumber.
  Task<RpcResult<std::uint64_t>> block_number();
  /// eth_getBlockByNumber (header and transaction hashes); nullopt when the node has no such
  /// block (yet).
  Task<RpcResult<std::optional<BlockHeader>>> get_block_by_number(BlockRef block);
  /// eth_getBlockByHash (header and transaction hashes); nullopt when unknown (e.g. orphaned).
  Task<RpcResult<std::optional<BlockHeader>>> get_block_by_hash(eth::Hash32 hash);
  /// eth_getLogs, split into narrower ranges as providers demand; logs in chain order.
  Task<RpcResult<std::vector<Log>>> get_logs(LogFilter filter);
  /// eth_getLogs of `filter` over from..to, or, when the provider refuses that range (or its answer
  /// exceeds the response limit), over the first narrower range it accepts: a backfill applies
  /// that part now and sizes its next range from it, holding one bounded answer at a time.
  Task<RpcResult<LogsPrefix>> get_logs_prefix(LogFilter filter, std::uint64_t from, std::uint64_t to);
  /// eth_call; the return data (a revert comes back as an RpcErrc::rpc error with its data).
  Task<RpcResult<eth::Bytes>> eth_call(CallRequest call, BlockRef block = BlockTag::latest);
  /// eth_estimateGas.
  Task<RpcResult<std::uint64_t>> estimate_gas(CallRequest call, std::optional<BlockRef> block = std::nullopt);
  /// eth_getTransactionCount (the account's nonce at `block`).
  Task<RpcResult<std::uint64_t>> get_transaction_count(eth::Address account, BlockRef block = BlockTag::pending);
  /// eth_sendRawTransaction; the transaction hash.
  Task<RpcResult<eth::Hash32>> send_raw_transaction(eth::Bytes signed_transaction);
  /// eth_getTransactionReceipt; nullopt while the transaction is not mined.
  Task<RpcResult<std::optional<Receipt>>> get_transaction_receipt(eth::Hash32 hash);
  /// eth_feeHistory over `block_count` blocks ending at `newest`, with reward percentiles.
  Task<RpcResult<FeeHistory>> fee_history(std::uint64_t block_count, BlockRef newest,
                                          std::vector<double> reward_percentiles = {});
  /// eth_getCode.
  Task<RpcResult<eth::Bytes>> get_code(eth::Address account, BlockRef block = BlockTag::latest);
  /// eth_getBalance.
  Task<RpcResult<eth::U256>> get_balance(eth::Address account, BlockRef block = BlockTag::latest);

  /// Health of each endpoint, in preference order.
  std::vector<EndpointStatus> endpoints() const;

 private:
  struct State;
  std::shared_ptr<State> m_state;
};

}  // namespace gh::rpc
