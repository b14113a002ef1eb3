#include "rpc/eth_types.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include "eth/hex.hpp"

namespace gh::rpc {

namespace json = boost::json;

namespace {

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

Error field_error(std::string_view field, const Error& cause) {
  return bad_input(cause.code, std::string(field) + ": " + cause.message);
}

/// The string member `name`, or an error naming it.
Result<std::string_view> string_member(const json::object& obj, std::string_view name) {
  const auto* v = obj.if_contains(name);
  if (!v || !v->is_string()) return bad_input("field_missing", std::string(name) + ": missing or not a string");
  return std::string_view(v->as_string());
}

/// Runs a parser of text on member `name`, prefixing errors with the field name.
template <class Parse>
auto member(const json::object& obj, std::string_view name, Parse parse) -> decltype(parse(std::string_view{})) {
  auto text = string_member(obj, name);
  if (!text) return text.error();
  auto parsed = parse(*text);
  if (!parsed) return field_error(name, parsed.error());
  return parsed;
}

/// Like member(), but absent or null gives nullopt.
template <class Parse>
auto optional_member(const json::object& obj, std::string_view name, Parse parse)
    -> Result<std::optional<typename decltype(parse(std::string_view{}))::value_type>> {
  using T = typename decltype(parse(std::string_view{}))::value_type;
  const auto* v = obj.if_contains(name);
  if (!v || v->is_null()) return std::optional<T>{};
  auto parsed = member(obj, name, parse);
  if (!parsed) return parsed.error();
  return std::optional<T>(std::move(*parsed));
}

// A pure decoder's code as the error it is here, in a node's response: the code's stable name,
// and what was being read.
template <class Errc>
Error malformed(Errc code, std::string_view what) {
  return bad_input(eth::to_string(code), std::string(what) + " is malformed (" + eth::to_string(code) + ")");
}

Result<eth::Hash32> parse_hash(std::string_view text) {
  if (text.size() != 66 || text[0] != '0' || text[1] != 'x')
    return bad_input("hash_invalid", "expected 0x and 64 hex digits");
  auto hash = eth::fixed_from_hex<32>(text);
  if (!hash) return malformed(hash.error(), "hash");
  return *hash;
}

Result<eth::Address> parse_addr(std::string_view text) {
  auto address = eth::parse_address(text);
  if (!address) return malformed(address.error(), "address");
  return *address;
}

const char* tag_name(BlockTag tag) {
  switch (tag) {
    case BlockTag::latest:
      return "latest";
    case BlockTag::pending:
      return "pending";
    case BlockTag::safe:
      return "safe";
    case BlockTag::finalized:
      return "finalized";
    case BlockTag::earliest:
      return "earliest";
  }
  return "latest";
}

}  // namespace

Result<eth::U256> parse_quantity(std::string_view text) {
  if (text.size() < 3 || text[0] != '0' || text[1] != 'x')
    return bad_input("quantity_invalid", "quantity must be 0x followed by hex digits");
  for (std::size_t i = 2; i < text.size(); ++i) {
    if (!is_hex_digit(text[i])) return bad_input("quantity_invalid", "invalid hex digit in quantity");
  }
  if (text[2] == '0' && text.size() > 3) return bad_input("quantity_invalid", "quantity has leading zeros");
  auto value = eth::U256::from_hex(text);
  if (!value) return bad_input("quantity_overflow", "quantity exceeds 256 bits");
  return *value;
}

Result<std::uint64_t> parse_quantity_u64(std::string_view text) {
  auto value = parse_quantity(text);
  if (!value) return value.error();
  if (!value->fits_u64()) return bad_input("quantity_overflow", "quantity exceeds 64 bits");
  return value->low_u64();
}

std::string to_quantity(std::uint64_t value) {
  return eth::U256(value).to_hex();
}

Result<eth::Bytes> parse_data(std::string_view text) {
  if (text.size() < 2 || text[0] != '0' || text[1] != 'x') return bad_input("data_invalid", "data must start with 0x");
  auto data = eth::from_hex(text);
  if (!data) return malformed(data.error(), "data");
  return std::move(*data);
}

json::value to_json(const BlockRef& block) {
  if (const auto* number = std::get_if<std::uint64_t>(&block)) return json::value(to_quantity(*number));
  return json::value(tag_name(std::get<BlockTag>(block)));
}

json::value to_json(const LogFilter& filter) {
  json::object out;
  if (filter.block_hash) {
    out["blockHash"] = eth::to_hex(filter.block_hash->view());
  } else {
    if (filter.from_block) out["fromBlock"] = to_json(*filter.from_block);
    if (filter.to_block) out["toBlock"] = to_json(*filter.to_block);
  }
  if (filter.addresses.size() == 1) {
    out["address"] = eth::to_lower_hex(filter.addresses.front());
  } else if (!filter.addresses.empty()) {
    json::array addresses;
    for (const auto& a : filter.addresses) addresses.emplace_back(eth::to_lower_hex(a));
    out["address"] = std::move(addresses);
  }
  if (!filter.topics.empty()) {
    json::array topics;
    for (const auto& position : filter.topics) {
      if (!position) {
        topics.emplace_back(nullptr);
      } else if (position->size() == 1) {
        topics.emplace_back(eth::to_hex(position->front().view()));
      } else {
        json::array any;
        for (const auto& t : *position) any.emplace_back(eth::to_hex(t.view()));
        topics.emplace_back(std::move(any));
      }
    }
    out["topics"] = std::move(topics);
  }
  return out;
}

json::value to_json(const CallRequest& call) {
  json::object out;
  if (call.from) out["from"] = eth::to_lower_hex(*call.from);
  if (call.to) out["to"] = eth::to_lower_hex(*call.to);
  if (call.gas) out["gas"] = to_quantity(*call.gas);
  if (call.gas_price) out["gasPrice"] = call.gas_price->to_hex();
  if (call.max_fee_per_gas) out["maxFeePerGas"] = call.max_fee_per_gas->to_hex();
  if (call.max_priority_fee_per_gas) out["maxPriorityFeePerGas"] = call.max_priority_fee_per_gas->to_hex();
  if (call.value) out["value"] = call.value->to_hex();
  if (!call.data.empty()) out["data"] = eth::to_hex(call.data);
  return out;
}

Result<eth::U256> parse_quantity_value(const json::value& value) {
  if (!value.is_string()) return bad_input("quantity_invalid", "quantity is not a string");
  return parse_quantity(value.as_string());
}

Result<eth::Hash32> parse_hash_value(const json::value& value) {
  if (!value.is_string()) return bad_input("hash_invalid", "hash is not a string");
  return parse_hash(value.as_string());
}

Result<eth::Bytes> parse_data_value(const json::value& value) {
  if (!value.is_string()) return bad_input("data_invalid", "data is not a string");
  return parse_data(value.as_string());
}

Result<BlockHeader> parse_block_header(const json::value& value) {
  const auto* obj = value.if_object();
  if (!obj) return bad_input("block_invalid", "block is not an object");
  BlockHeader out;
  auto number = member(*obj, "number", parse_quantity_u64);
  if (!number) return number.error();
  out.number = *number;
  auto hash = member(*obj, "hash", parse_hash);
  if (!hash) return hash.error();
  out.hash = *hash;
  auto parent = member(*obj, "parentHash", parse_hash);
  if (!parent) return parent.error();
  out.parent_hash = *parent;
  auto timestamp = member(*obj, "timestamp", parse_quantity_u64);
  if (!timestamp) return timestamp.error();
  out.timestamp = *timestamp;
  auto base_fee = optional_member(*obj, "baseFeePerGas", parse_quantity);
  if (!base_fee) return base_fee.error();
  out.base_fee_per_gas = *base_fee;
  if (const auto* txs = obj->if_contains("transactions")) {
    const auto* list = txs->if_array();
    if (!list) return bad_input("block_invalid", "transactions: not an array");
    for (const auto& tx : *list) {
      // Hashes when the block was asked without full transactions, objects otherwise.
      const json::value* hash_value = &tx;
      if (const auto* tx_obj = tx.if_object()) hash_value = tx_obj->if_contains("hash");
      if (!hash_value) return bad_input("block_invalid", "transactions: entry without hash");
      auto tx_hash = parse_hash_value(*hash_value);
      if (!tx_hash) return field_error("transactions", tx_hash.error());
      out.transaction_hashes.push_back(*tx_hash);
    }
  }
  return out;
}

Result<Log> parse_log(const json::value& value) {
  const auto* obj = value.if_object();
  if (!obj) return bad_input("log_invalid", "log is not an object");
  Log out;
  auto address = member(*obj, "address", parse_addr);
  if (!address) return address.error();
  out.address = *address;
  const auto* topics = obj->if_contains("topics");
  if (!topics || !topics->is_array()) return bad_input("log_invalid", "topics: missing or not an array");
  if (topics->as_array().size() > 4) return bad_input("log_invalid", "topics: more than 4");
  for (const auto& t : topics->as_array()) {
    auto topic = parse_hash_value(t);
    if (!topic) return field_error("topics", topic.error());
    out.topics.push_back(*topic);
  }
  auto data = member(*obj, "data", parse_data);
  if (!data) return data.error();
  out.data = std::move(*data);
  auto block_number = member(*obj, "blockNumber", parse_quantity_u64);
  if (!block_number) return block_number.error();
  out.block_number = *block_number;
  auto block_hash = member(*obj, "blockHash", parse_hash);
  if (!block_hash) return block_hash.error();
  out.block_hash = *block_hash;
  auto tx_hash = member(*obj, "transactionHash", parse_hash);
  if (!tx_hash) return tx_hash.error();
  out.transaction_hash = *tx_hash;
  auto tx_index = member(*obj, "transactionIndex", parse_quantity_u64);
  if (!tx_index) return tx_index.error();
  out.transaction_index = *tx_index;
  auto log_index = member(*obj, "logIndex", parse_quantity_u64);
  if (!log_index) return log_index.error();
  out.log_index = *log_index;
  if (const auto* removed = obj->if_contains("removed"); removed && !removed->is_null()) {
    if (!removed->is_bool()) return bad_input("log_invalid", "removed: not a boolean");
    out.removed = removed->as_bool();
  }
  return out;
}

Result<std::vector<Log>> parse_logs(const json::value& value) {
  const auto* list = value.if_array();
  if (!list) return bad_input("logs_invalid", "logs are not an array");
  std::vector<Log> out;
  out.reserve(list->size());
  for (const auto& item : *list) {
    auto log = parse_log(item);
    if (!log) return log.error();
    out.push_back(std::move(*log));
  }
  return out;
}

Result<Receipt> parse_receipt(const json::value& value) {
  const auto* obj = value.if_object();
  if (!obj) return bad_input("receipt_invalid", "receipt is not an object");
  Receipt out;
  auto tx_hash = member(*obj, "transactionHash", parse_hash);
  if (!tx_hash) return tx_hash.error();
  out.transaction_hash = *tx_hash;
  auto tx_index = member(*obj, "transactionIndex", parse_quantity_u64);
  if (!tx_index) return tx_index.error();
  out.transaction_index = *tx_index;
  auto block_hash = member(*obj, "blockHash", parse_hash);
  if (!block_hash) return block_hash.error();
  out.block_hash = *block_hash;
  auto block_number = member(*obj, "blockNumber", parse_quantity_u64);
  if (!block_number) return block_number.error();
  out.block_number = *block_number;
  auto from = member(*obj, "from", parse_addr);
  if (!from) return from.error();
  out.from = *from;
  auto to = optional_member(*obj, "to", parse_addr);
  if (!to) return to.error();
  out.to = *to;
  auto status = optional_member(*obj, "status", parse_quantity_u64);
  if (!status) return status.error();
  if (*status) {
    if (**status > 1) return bad_input("receipt_invalid", "status: neither 0x0 nor 0x1");
    out.status = **status == 1;
  }
  auto gas_used = member(*obj, "gasUsed", parse_quantity_u64);
  if (!gas_used) return gas_used.error();
  out.gas_used = *gas_used;
  auto cumulative = member(*obj, "cumulativeGasUsed", parse_quantity_u64);
  if (!cumulative) return cumulative.error();
  out.cumulative_gas_used = *cumulative;
  auto price = optional_member(*obj, "effectiveGasPrice", parse_quantity);
  if (!price) return price.error();
  out.effective_gas_price = *price;
  auto contract = optional_member(*obj, "contractAddress", parse_addr);
  if (!contract) return contract.error();
  out.contract_address = *contract;
  const auto* logs = obj->if_contains("logs");
  if (!logs) return bad_input("receipt_invalid", "logs: missing");
  auto parsed_logs = parse_logs(*logs);
  if (!parsed_logs) return field_error("logs", parsed_logs.error());
  out.logs = std::move(*parsed_logs);
  return out;
}

Result<FeeHistory> parse_fee_history(const json::value& value) {
  const auto* obj = value.if_object();
  if (!obj) return bad_input("fee_history_invalid", "fee history is not an object");
  FeeHistory out;
  auto oldest = member(*obj, "oldestBlock", parse_quantity_u64);
  if (!oldest) return oldest.error();
  out.oldest_block = *oldest;
  const auto* base_fees = obj->if_contains("baseFeePerGas");
  if (!base_fees || !base_fees->is_array()) return bad_input("fee_history_invalid", "baseFeePerGas: not an array");
  for (const auto& fee : base_fees->as_array()) {
    auto parsed = parse_quantity_value(fee);
    if (!parsed) return field_error("baseFeePerGas", parsed.error());
    out.base_fee_per_gas.push_back(*parsed);
  }
  const auto* ratios = obj->if_contains("gasUsedRatio");
  if (!ratios || !ratios->is_array()) return bad_input("fee_history_invalid", "gasUsedRatio: not an array");
  for (const auto& ratio : ratios->as_array()) {
    if (!ratio.is_number()) return bad_input("fee_history_invalid", "gasUsedRatio: not a number");
    out.gas_used_ratio.push_back(ratio.to_number<double>());
  }
  if (const auto* rewards = obj->if_contains("reward"); rewards && !rewards->is_null()) {
    if (!rewards->is_array()) return bad_input("fee_history_invalid", "reward: not an array");
    for (const auto& block : rewards->as_array()) {
      if (!block.is_array()) return bad_input("fee_history_invalid", "reward: entry not an array");
      std::vector<eth::U256> row;
      for (const auto& r : block.as_array()) {
        auto parsed = parse_quantity_value(r);
        if (!parsed) return field_error("reward", parsed.error());
        row.push_back(*parsed);
      }
      out.reward.push_back(std::move(row));
    }
  }
  return out;
}

}  // namespace gh::rpc
