#pragma once
// The typed shapes of the eth_* calls we use, and their strict JSON codecs. Pure: no I/O. Decoders
// reject what the spec does not allow (quantities with leading zeros or without 0x, odd hex, wrong
// lengths) so that a misbehaving provider cannot slip garbage into the indexer.
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/u256.hpp"

namespace gh::rpc {

/// A named block.
enum class BlockTag { latest, pending, safe, finalized, earliest };

/// A block by number or by tag, as a call parameter.
using BlockRef = std::variant<std::uint64_t, BlockTag>;

/// The header fields gatehouse needs, plus the transaction hashes when asked for.
struct BlockHeader {
  std::uint64_t number = 0;
  eth::Hash32 hash;
  eth::Hash32 parent_hash;
  std::uint64_t timestamp = 0;
  /// Absent before London.
  std::optional<eth::U256> base_fee_per_gas;
  std::vector<eth::Hash32> transaction_hashes;
};

/// One event log of a mined transaction.
struct Log {
  eth::Address address;
  std::vector<eth::Hash32> topics;
  eth::Bytes data;
  std::uint64_t block_number = 0;
  eth::Hash32 block_hash;
  eth::Hash32 transaction_hash;
  std::uint64_t transaction_index = 0;
  std::uint64_t log_index = 0;
  /// True when a reorg removed the log (filters and subscriptions only).
  bool removed = false;
};

/// eth_getLogs filter. Either a block range or a block hash.
struct LogFilter {
  std::optional<BlockRef> from_block;
  std::optional<BlockRef> to_block;
  /// EIP-234: logs of exactly this block (then from/to must be empty).
  std::optional<eth::Hash32> block_hash;
  /// Any of these emitters; empty = any address.
  std::vector<eth::Address> addresses;
  /// Per position: nullopt matches anything, otherwise any of the listed topics.
  std::vector<std::optional<std::vector<eth::Hash32>>> topics;
};

/// eth_call / eth_estimateGas transaction object.
struct CallRequest {
  std::optional<eth::Address> from;
  std::optional<eth::Address> to;
  std::optional<std::uint64_t> gas;
  std::optional<eth::U256> gas_price;
  std::optional<eth::U256> max_fee_per_gas;
  std::optional<eth::U256> max_priority_fee_per_gas;
  std::optional<eth::U256> value;
  eth::Bytes data;
};

/// A transaction receipt.
struct Receipt {
  eth::Hash32 transaction_hash;
  std::uint64_t transaction_index = 0;
  eth::Hash32 block_hash;
  std::uint64_t block_number = 0;
  eth::Address from;
  std::optional<eth::Address> to;
  /// true = success; absent on pre-Byzantium receipts (they carry a state root instead).
  std::optional<bool> status;
  std::uint64_t gas_used = 0;
  std::uint64_t cumulative_gas_used = 0;
  std::optional<eth::U256> effective_gas_price;
  /// The address of the contract a creation deployed.
  std::optional<eth::Address> contract_address;
  std::vector<Log> logs;
};

/// eth_feeHistory answer.
struct FeeHistory {
  std::uint64_t oldest_block = 0;
  /// One more entry than blocks: the last is the next block's base fee.
  std::vector<eth::U256> base_fee_per_gas;
  /// Gas used / gas limit per block (a ratio, not an amount: a double is fine here).
  std::vector<double> gas_used_ratio;
  /// Per block, the priority fee at each requested percentile (empty when none requested).
  std::vector<std::vector<eth::U256>> reward;
};

/// A quantity per the spec: "0x0" or "0x" + hex digits without a leading zero. Errors
/// "quantity_invalid", "quantity_overflow".
gh::Result<eth::U256> parse_quantity(std::string_view text);
/// A quantity that must fit 64 bits (block numbers, gas, indexes).
gh::Result<std::uint64_t> parse_quantity_u64(std::string_view text);
/// "0x" + minimal lowercase hex.
std::string to_quantity(std::uint64_t value);
/// Hex data that must start with "0x" and have an even number of digits.
gh::Result<eth::Bytes> parse_data(std::string_view text);

/// The JSON form of a block reference: a quantity or "latest", "pending", ...
boost::json::value to_json(const BlockRef& block);
/// The JSON filter object of eth_getLogs.
boost::json::value to_json(const LogFilter& filter);
/// The JSON transaction object of eth_call and eth_estimateGas.
boost::json::value to_json(const CallRequest& call);

/// Decoders of node answers; errors name the offending field.
gh::Result<BlockHeader> parse_block_header(const boost::json::value& value);
gh::Result<Log> parse_log(const boost::json::value& value);
gh::Result<std::vector<Log>> parse_logs(const boost::json::value& value);
gh::Result<Receipt> parse_receipt(const boost::json::value& value);
gh::Result<FeeHistory> parse_fee_history(const boost::json::value& value);
/// A quantity result (string) of the JSON value.
gh::Result<eth::U256> parse_quantity_value(const boost::json::value& value);
/// A 32-byte hash result.
gh::Result<eth::Hash32> parse_hash_value(const boost::json::value& value);
/// A hex data result.
gh::Result<eth::Bytes> parse_data_value(const boost::json::value& value);

}  // namespace gh::rpc
