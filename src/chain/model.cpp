#include "chain/model.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "eth/abi.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"

namespace gh::chain {
namespace {

namespace json = boost::json;
using eth::Address;
using eth::Hash32;
using eth::U256;

// Event signature hashes, computed once.
struct Topics {
  Hash32 transfer = eth::keccak256(std::string_view("Transfer(address,address,uint256)"));
  Hash32 transfer_single = eth::keccak256(std::string_view("TransferSingle(address,address,address,uint256,uint256)"));
  Hash32 transfer_batch =
      eth::keccak256(std::string_view("TransferBatch(address,address,address,uint256[],uint256[])"));
  Hash32 staked = eth::keccak256(std::string_view("Staked(address,uint256,uint256)"));
  Hash32 unstaked = eth::keccak256(std::string_view("Unstaked(address,uint256,uint256)"));
  Hash32 multi_sent = eth::keccak256(std::string_view("MultiSent(address,address,uint256,uint256,string)"));
  Hash32 pair_created = eth::keccak256(std::string_view("PairCreated(address,address,address,uint256)"));
  Hash32 sync = eth::keccak256(std::string_view("Sync(uint112,uint112)"));
  Hash32 swap = eth::keccak256(std::string_view("Swap(address,uint256,uint256,uint256,uint256,address)"));
  Hash32 mint = eth::keccak256(std::string_view("Mint(address,uint256,uint256)"));
  Hash32 burn = eth::keccak256(std::string_view("Burn(address,uint256,uint256,address)"));
};

const Topics& topics() {
  static const Topics t;
  return t;
}

Error undecodable(const rpc::Log& log, std::string_view why) {
  return make_error(ErrorKind::bad_input, "log_undecodable",
                    "log " + std::to_string(log.log_index) + " of block " + std::to_string(log.block_number) +
                        " from " + eth::to_lower_hex(log.address) + ": " + std::string(why));
}

// An indexed address topic: 12 zero bytes, then the address.
std::optional<Address> topic_address(const Hash32& topic) {
  for (std::size_t i = 0; i < 12; ++i) {
    if (topic.bytes[i] != 0) return std::nullopt;
  }
  Address a;
  std::copy(topic.bytes.begin() + 12, topic.bytes.end(), a.bytes.begin());
  return a;
}

U256 topic_uint(const Hash32& topic) {
  return U256::from_be_bytes(topic.view()).value();
}

// Decodes the data of a log as `types` (comma-separated ABI types).
Result<eth::AbiValues> decode_data(const rpc::Log& log, std::string_view types_text) {
  std::vector<eth::AbiType> types;
  std::size_t start = 0;
  while (start <= types_text.size()) {
    const auto comma = types_text.find(',', start);
    const auto piece =
        types_text.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    auto type = eth::parse_abi_type(piece);
    if (!type) return undecodable(log, eth::to_string(type.error()));
    types.push_back(std::move(*type));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  auto values = eth::abi_decode(types, log.data);
  if (!values) return undecodable(log, eth::to_string(values.error()));
  return std::move(*values);
}

U256 as_uint(const eth::AbiValue& v) {
  return std::get<eth::AbiInt>(v.data).magnitude;
}
Address as_address(const eth::AbiValue& v) {
  return std::get<Address>(v.data);
}
std::vector<U256> as_uints(const eth::AbiValue& v) {
  std::vector<U256> out;
  for (const auto& e : std::get<eth::AbiValues>(v.data)) out.push_back(as_uint(e));
  return out;
}

// Topics 1..n as addresses; nullopt when one is not an address.
std::optional<std::vector<Address>> topic_addresses(const rpc::Log& log, std::size_t first, std::size_t count) {
  std::vector<Address> out;
  for (std::size_t i = first; i < first + count; ++i) {
    auto a = topic_address(log.topics[i]);
    if (!a) return std::nullopt;
    out.push_back(*a);
  }
  return out;
}

Result<std::optional<EventBody>> decode_body(Pipeline pipeline, const rpc::Log& log) {
  if (log.topics.empty()) return std::optional<EventBody>();
  const auto& t0 = log.topics[0];
  const auto& t = topics();
  const std::size_t n = log.topics.size();
  switch (pipeline) {
    case Pipeline::erc20: {
      if (t0 != t.transfer || n != 3) return std::optional<EventBody>();
      auto who = topic_addresses(log, 1, 2);
      if (!who || log.data.size() != 32)
        return undecodable(log, "an ERC-20 Transfer has two address topics and 32 bytes of data");
      auto amount = U256::from_be_bytes(log.data);
      if (!amount) return undecodable(log, eth::to_string(amount.error()));
      return std::optional<EventBody>(Erc20Transfer{(*who)[0], (*who)[1], *amount});
    }
    case Pipeline::erc721: {
      if (t0 != t.transfer || n != 4) return std::optional<EventBody>();
      auto who = topic_addresses(log, 1, 2);
      if (!who || !log.data.empty())
        return undecodable(log, "an ERC-721 Transfer has two address topics, a token id and no data");
      return std::optional<EventBody>(Erc721Transfer{(*who)[0], (*who)[1], topic_uint(log.topics[3])});
    }
    case Pipeline::erc1155: {
      const bool single = t0 == t.transfer_single;
      if ((!single && t0 != t.transfer_batch)) return std::optional<EventBody>();
      if (n != 4) return undecodable(log, "an ERC-1155 transfer has three address topics");
      auto who = topic_addresses(log, 1, 3);
      if (!who) return undecodable(log, "an ERC-1155 transfer has three address topics");
      Erc1155Transfer e{(*who)[0], (*who)[1], (*who)[2], {}, {}, !single};
      if (single) {
        auto values = decode_data(log, "uint256,uint256");
        if (!values) return values.error();
        e.ids.push_back(as_uint((*values)[0]));
        e.amounts.push_back(as_uint((*values)[1]));
      } else {
        auto values = decode_data(log, "uint256[],uint256[]");
        if (!values) return values.error();
        e.ids = as_uints((*values)[0]);
        e.amounts = as_uints((*values)[1]);
        if (e.ids.size() != e.amounts.size()) return undecodable(log, "ids and values differ in length");
      }
      return std::optional<EventBody>(std::move(e));
    }
    case Pipeline::staking: {
      const bool staked = t0 == t.staked;
      if (!staked && t0 != t.unstaked) return std::optional<EventBody>();
      if (n != 2) return undecodable(log, "a stake event has one address topic");
      auto who = topic_addresses(log, 1, 1);
      if (!who) return undecodable(log, "a stake event has one address topic");
      auto values = decode_data(log, "uint256,uint256");
      if (!values) return values.error();
      return std::optional<EventBody>(StakeChange{(*who)[0], as_uint((*values)[0]), as_uint((*values)[1]), staked});
    }
    case Pipeline::multisend: {
      if (t0 != t.multi_sent) return std::optional<EventBody>();
      if (n != 3) return undecodable(log, "MultiSent has two address topics");
      auto who = topic_addresses(log, 1, 2);
      if (!who) return undecodable(log, "MultiSent has two address topics");
      auto values = decode_data(log, "uint256,uint256,string");
      if (!values) return values.error();
      return std::optional<EventBody>(MultiSent{(*who)[0], (*who)[1], as_uint((*values)[0]), as_uint((*values)[1]),
                                                std::get<std::string>((*values)[2].data)});
    }
    case Pipeline::uniswap_v2: {
      if (t0 == t.pair_created) {
        auto who = n == 3 ? topic_addresses(log, 1, 2) : std::nullopt;
        if (!who) return undecodable(log, "PairCreated has two address topics");
        auto values = decode_data(log, "address,uint256");
        if (!values) return values.error();
        return std::optional<EventBody>(
            PairCreated{(*who)[0], (*who)[1], as_address((*values)[0]), as_uint((*values)[1])});
      }
      if (t0 == t.sync) {
        if (n != 1) return undecodable(log, "Sync has no indexed topics");
        auto values = decode_data(log, "uint112,uint112");
        if (!values) return values.error();
        return std::optional<EventBody>(PairSync{as_uint((*values)[0]), as_uint((*values)[1])});
      }
      if (t0 == t.swap) {
        auto who = n == 3 ? topic_addresses(log, 1, 2) : std::nullopt;
        if (!who) return undecodable(log, "Swap has two address topics");
        auto values = decode_data(log, "uint256,uint256,uint256,uint256");
        if (!values) return values.error();
        return std::optional<EventBody>(PairSwap{(*who)[0], (*who)[1], as_uint((*values)[0]), as_uint((*values)[1]),
                                                 as_uint((*values)[2]), as_uint((*values)[3])});
      }
      if (t0 == t.mint) {
        auto who = n == 2 ? topic_addresses(log, 1, 1) : std::nullopt;
        if (!who) return undecodable(log, "Mint has one address topic");
        auto values = decode_data(log, "uint256,uint256");
        if (!values) return values.error();
        return std::optional<EventBody>(PairMint{(*who)[0], as_uint((*values)[0]), as_uint((*values)[1])});
      }
      if (t0 == t.burn) {
        auto who = n == 3 ? topic_addresses(log, 1, 2) : std::nullopt;
        if (!who) return undecodable(log, "Burn has two address topics");
        auto values = decode_data(log, "uint256,uint256");
        if (!values) return values.error();
        return std::optional<EventBody>(PairBurn{(*who)[0], (*who)[1], as_uint((*values)[0]), as_uint((*values)[1])});
      }
      return std::optional<EventBody>();
    }
  }
  return std::optional<EventBody>();
}

bool is_zero(const Address& a) {
  return a == Address{};
}

std::string hex(const Address& a) {
  return eth::to_lower_hex(a);
}

}  // namespace

const char* to_string(Pipeline pipeline) noexcept {
  switch (pipeline) {
    case Pipeline::erc20:
      return "erc20";
    case Pipeline::erc721:
      return "erc721";
    case Pipeline::erc1155:
      return "erc1155";
    case Pipeline::staking:
      return "staking";
    case Pipeline::multisend:
      return "multisend";
    case Pipeline::uniswap_v2:
      return "uniswap_v2";
  }
  return "unknown";
}

std::optional<Pipeline> parse_pipeline(std::string_view name) noexcept {
  for (auto p : all_pipelines) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

std::vector<eth::Hash32> pipeline_topics(Pipeline pipeline) {
  const auto& t = topics();
  switch (pipeline) {
    case Pipeline::erc20:
    case Pipeline::erc721:
      return {t.transfer};
    case Pipeline::erc1155:
      return {t.transfer_single, t.transfer_batch};
    case Pipeline::staking:
      return {t.staked, t.unstaked};
    case Pipeline::multisend:
      return {t.multi_sent};
    case Pipeline::uniswap_v2:
      return {t.pair_created, t.sync, t.swap, t.mint, t.burn};
  }
  return {};
}

Result<std::optional<DecodedLog>> decode_log(Pipeline pipeline, const rpc::Log& log) {
  auto body = decode_body(pipeline, log);
  if (!body) return body.error();
  if (!*body) return std::optional<DecodedLog>();
  return std::optional<DecodedLog>(DecodedLog{pipeline, log, std::move(**body)});
}

const char* to_string(Projection projection) noexcept {
  switch (projection) {
    case Projection::erc20_balance:
      return "erc20_balance";
    case Projection::erc721_owner:
      return "erc721_owner";
    case Projection::erc1155_balance:
      return "erc1155_balance";
    case Projection::stake:
      return "stake";
    case Projection::pair_tokens:
      return "pair_tokens";
    case Projection::pair_reserves:
      return "pair_reserves";
  }
  return "unknown";
}

std::optional<Projection> parse_projection(std::string_view name) noexcept {
  for (auto p : {Projection::erc20_balance, Projection::erc721_owner, Projection::erc1155_balance, Projection::stake,
                 Projection::pair_tokens, Projection::pair_reserves}) {
    if (name == to_string(p)) return p;
  }
  return std::nullopt;
}

std::vector<ProjectionChange> projection_changes(const DecodedLog& log) {
  std::vector<ProjectionChange> out;
  const std::string contract = hex(log.log.address);
  if (const auto* e = std::get_if<Erc20Transfer>(&log.body)) {
    if (e->amount.is_zero() || e->from == e->to) return out;
    const auto amount = e->amount.to_dec();
    if (!is_zero(e->from))
      out.push_back({Projection::erc20_balance, contract, hex(e->from), "", ChangeOp::sub, amount, e->amount});
    if (!is_zero(e->to))
      out.push_back({Projection::erc20_balance, contract, hex(e->to), "", ChangeOp::add, amount, e->amount});
  } else if (const auto* e721 = std::get_if<Erc721Transfer>(&log.body)) {
    out.push_back({Projection::erc721_owner, contract, e721->token_id.to_dec(), "", ChangeOp::set,
                   is_zero(e721->to) ? std::string() : hex(e721->to)});
  } else if (const auto* e1155 = std::get_if<Erc1155Transfer>(&log.body)) {
    if (e1155->from == e1155->to) return out;
    for (std::size_t i = 0; i < e1155->ids.size(); ++i) {
      const auto& amount = e1155->amounts[i];
      if (amount.is_zero()) continue;
      const auto id = e1155->ids[i].to_dec();
      if (!is_zero(e1155->from))
        out.push_back(
            {Projection::erc1155_balance, contract, id, hex(e1155->from), ChangeOp::sub, amount.to_dec(), amount});
      if (!is_zero(e1155->to))
        out.push_back(
            {Projection::erc1155_balance, contract, id, hex(e1155->to), ChangeOp::add, amount.to_dec(), amount});
    }
  } else if (const auto* created = std::get_if<PairCreated>(&log.body)) {
    out.push_back({Projection::pair_tokens, hex(created->pair), "", "", ChangeOp::set,
                   contract + "," + hex(created->token0) + "," + hex(created->token1)});
  } else if (const auto* sync = std::get_if<PairSync>(&log.body)) {
    out.push_back({Projection::pair_reserves, contract, "", "", ChangeOp::set,
                   sync->reserve0.to_dec() + "," + sync->reserve1.to_dec()});
  } else if (const auto* s = std::get_if<StakeChange>(&log.body)) {
    out.push_back({Projection::stake, contract, hex(s->user), "", ChangeOp::set, s->total.to_dec(), s->total});
  }
  return out;
}

Result<std::optional<std::string>> apply_change(const ProjectionChange& change,
                                                const std::optional<std::string>& current) {
  if (change.projection == Projection::erc721_owner || change.projection == Projection::pair_tokens ||
      change.projection == Projection::pair_reserves) {
    if (change.value.empty()) return std::optional<std::string>();
    return std::optional<std::string>(change.value);
  }
  auto value = U256::from_dec(change.value);
  if (!value) return make_error(ErrorKind::internal, "amount_invalid", "not an amount: " + change.value);
  U256 next = *value;
  if (change.op != ChangeOp::set) {
    U256 now;
    if (current) {
      auto parsed = U256::from_dec(*current);
      if (!parsed)
        return make_error(ErrorKind::internal, "amount_invalid", "stored value is not an amount: " + *current);
      now = *parsed;
    }
    if (change.op == ChangeOp::add) {
      auto sum = now.checked_add(*value);
      if (!sum) return make_error(ErrorKind::internal, "amount_overflow", "a balance would exceed 2^256-1");
      next = *sum;
    } else {
      next = now.checked_sub(*value).value_or(U256{});
    }
  }
  if (next.is_zero()) return std::optional<std::string>();
  return std::optional<std::string>(next.to_dec());
}

bool holds_amount(Projection p) noexcept {
  return p == Projection::erc20_balance || p == Projection::erc1155_balance || p == Projection::stake;
}

Result<U256> apply_amount(const ProjectionChange& change, const U256& current) {
  std::optional<U256> value = change.amount;
  if (!value) {
    auto parsed = U256::from_dec(change.value);
    if (!parsed) return make_error(ErrorKind::internal, "amount_invalid", "not an amount: " + change.value);
    value = *parsed;
  }
  switch (change.op) {
    case ChangeOp::set:
      return *value;
    case ChangeOp::add: {
      auto sum = current.checked_add(*value);
      if (!sum) return make_error(ErrorKind::internal, "amount_overflow", "a balance would exceed 2^256-1");
      return *sum;
    }
    case ChangeOp::sub:
      return current.checked_sub(*value).value_or(U256{});
  }
  return *value;
}

std::string event_ordering_key(std::uint64_t chain_id, std::string_view contract_lower_hex) {
  std::string key = std::to_string(chain_id);
  key += ':';
  key += contract_lower_hex;
  return key;
}

std::optional<EventSubject> parse_event_ordering_key(std::string_view key) {
  const auto colon = key.find(':');
  if (colon == std::string_view::npos || colon == 0 || colon > 20) return std::nullopt;
  EventSubject out;
  for (char c : key.substr(0, colon)) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (out.chain_id > (UINT64_MAX - digit) / 10) return std::nullopt;
    out.chain_id = out.chain_id * 10 + digit;
  }
  const auto contract = key.substr(colon + 1);
  if (contract.size() != 42 || contract[0] != '0' || contract[1] != 'x') return std::nullopt;
  for (char c : contract.substr(2)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  out.contract = std::string(contract);
  return out;
}

std::string event_topic(const DecodedLog& log) {
  return std::visit(
      [](const auto& e) -> std::string {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, StakeChange>)
          return "chain.stake";
        else if constexpr (std::is_same_v<T, MultiSent>)
          return "chain.multisend";
        else if constexpr (std::is_same_v<T, PairCreated>)
          return "chain.pair_created";
        else if constexpr (std::is_same_v<T, PairSync>)
          return "chain.sync";
        else if constexpr (std::is_same_v<T, PairSwap>)
          return "chain.swap";
        else if constexpr (std::is_same_v<T, PairMint>)
          return "chain.mint";
        else if constexpr (std::is_same_v<T, PairBurn>)
          return "chain.burn";
        else
          return "chain.transfer";
      },
      log.body);
}

std::string hash_hex(const eth::Hash32& hash) {
  return eth::to_hex(hash.view());
}

std::size_t ChecksumCache::Hash::operator()(const eth::Address& a) const noexcept {
  // A hash of all 20 bytes, not a slice of them: addresses in logs are chosen by whoever emits them.
  const std::string_view bytes(reinterpret_cast<const char*>(a.bytes.data()), a.bytes.size());
  return std::hash<std::string_view>{}(bytes);
}

const std::string& ChecksumCache::operator()(const eth::Address& address) {
  auto it = m_names.find(address);
  if (it != m_names.end()) return it->second;
  if (m_names.size() >= max_entries) m_names.clear();  // bounded: start over rather than grow
  return m_names.emplace(address, eth::to_checksum(address)).first->second;
}

namespace {

// The payload's JSON, written directly: every value is a number, a hex or decimal string, or (a
// MultiSent message) a string serialized by Boost.JSON, so nothing else needs escaping.
class PayloadWriter {
 public:
  explicit PayloadWriter(ChecksumCache& names) : m_names(names) { m_out.reserve(512); }

  PayloadWriter& number(std::string_view key, std::uint64_t value) {
    field(key);
    m_out += std::to_string(value);
    return *this;
  }
  PayloadWriter& text(std::string_view key, std::string_view value) {
    field(key);
    m_out += '"';
    m_out += value;
    m_out += '"';
    return *this;
  }
  PayloadWriter& address(std::string_view key, const Address& a) { return text(key, m_names(a)); }
  PayloadWriter& amount(std::string_view key, const U256& v) { return text(key, v.to_dec()); }
  PayloadWriter& amounts(std::string_view key, const std::vector<U256>& values) {
    field(key);
    m_out += '[';
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) m_out += ',';
      m_out += '"';
      m_out += values[i].to_dec();
      m_out += '"';
    }
    m_out += ']';
    return *this;
  }
  PayloadWriter& any_text(std::string_view key, const std::string& value) {
    field(key);
    m_out += json::serialize(json::string(value));
    return *this;
  }
  std::string finish() {
    m_out += '}';
    return std::move(m_out);
  }

 private:
  void field(std::string_view key) {
    m_out += m_out.empty() ? '{' : ',';
    m_out += '"';
    m_out += key;
    m_out += "\":";
  }

  ChecksumCache& m_names;
  std::string m_out;
};

}  // namespace

std::string event_payload(std::uint64_t chain_id, const DecodedLog& log) {
  ChecksumCache names;
  return event_payload(chain_id, log, names);
}

std::string event_payload(std::uint64_t chain_id, const DecodedLog& log, ChecksumCache& names) {
  PayloadWriter o(names);
  o.number("chain_id", chain_id)
      .address("contract", log.log.address)
      .number("block_number", log.log.block_number)
      .text("block_hash", hash_hex(log.log.block_hash))
      .number("log_index", log.log.log_index)
      .text("txn_hash", hash_hex(log.log.transaction_hash));
  std::visit(
      [&o](const auto& e) {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, Erc20Transfer>) {
          o.text("standard", "erc20").address("from", e.from).address("to", e.to).amount("amount", e.amount);
        } else if constexpr (std::is_same_v<T, Erc721Transfer>) {
          o.text("standard", "erc721").address("from", e.from).address("to", e.to);
          o.amounts("token_ids", std::vector<U256>{e.token_id});
        } else if constexpr (std::is_same_v<T, Erc1155Transfer>) {
          o.text("standard", "erc1155")
              .address("operator", e.operator_address)
              .address("from", e.from)
              .address("to", e.to)
              .amounts("token_ids", e.ids)
              .amounts("amounts", e.amounts);
        } else if constexpr (std::is_same_v<T, StakeChange>) {
          o.text("kind", e.staked ? "staked" : "unstaked")
              .address("account", e.user)
              .amount("amount", e.amount)
              .amount("total", e.total);
        } else if constexpr (std::is_same_v<T, MultiSent>) {
          o.address("sender", e.sender)
              .address("token", e.token)
              .amount("count", e.count)
              .amount("total", e.total)
              .any_text("message", e.message);
        } else if constexpr (std::is_same_v<T, PairCreated>) {
          o.address("token0", e.token0).address("token1", e.token1).address("pair", e.pair).amount("index", e.index);
        } else if constexpr (std::is_same_v<T, PairSync>) {
          o.amount("reserve0", e.reserve0).amount("reserve1", e.reserve1);
        } else if constexpr (std::is_same_v<T, PairSwap>) {
          o.address("sender", e.sender)
              .address("to", e.to)
              .amount("amount0_in", e.amount0_in)
              .amount("amount1_in", e.amount1_in)
              .amount("amount0_out", e.amount0_out)
              .amount("amount1_out", e.amount1_out);
        } else if constexpr (std::is_same_v<T, PairMint>) {
          o.address("sender", e.sender).amount("amount0", e.amount0).amount("amount1", e.amount1);
        } else if constexpr (std::is_same_v<T, PairBurn>) {
          o.address("sender", e.sender).address("to", e.to).amount("amount0", e.amount0).amount("amount1", e.amount1);
        }
      },
      log.body);
  return o.finish();
}

}  // namespace gh::chain
