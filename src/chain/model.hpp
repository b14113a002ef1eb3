#pragma once
// The chain context's plain types and pure rules: which logs each pipeline follows, how a log
// decodes into an event, which projection changes an event makes, and how a change applies to
// a stored value. No I/O, no database, no logging.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "core/result.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/u256.hpp"
#include "rpc/eth_types.hpp"

namespace gh::chain {

/// One event family, indexed with its own checkpoint, error state and backoff.
enum class Pipeline { erc20, erc721, erc1155, staking, multisend, uniswap_v2 };

/// Every pipeline, in a stable order.
inline constexpr Pipeline all_pipelines[] = {Pipeline::erc20,   Pipeline::erc721,    Pipeline::erc1155,
                                             Pipeline::staking, Pipeline::multisend, Pipeline::uniswap_v2};

/// "erc20", "erc721", "erc1155", "staking", "multisend", "uniswap_v2".
const char* to_string(Pipeline pipeline) noexcept;
/// The pipeline of that name.
std::optional<Pipeline> parse_pipeline(std::string_view name) noexcept;

/// The topic-0 values (event signature hashes) a pipeline asks eth_getLogs for.
std::vector<eth::Hash32> pipeline_topics(Pipeline pipeline);

/// ERC-20 Transfer(from, to, value).
struct Erc20Transfer {
  eth::Address from, to;
  eth::U256 amount;
};
/// ERC-721 Transfer(from, to, tokenId).
struct Erc721Transfer {
  eth::Address from, to;
  eth::U256 token_id;
};
/// ERC-1155 TransferSingle / TransferBatch (ids and amounts pairwise).
struct Erc1155Transfer {
  eth::Address operator_address, from, to;
  std::vector<eth::U256> ids, amounts;
  bool batch = false;
};
/// Staking Staked / Unstaked(user, amount, total): `total` is the user's stake afterwards.
struct StakeChange {
  eth::Address user;
  eth::U256 amount, total;
  bool staked = true;
};
/// MultiSender MultiSent(sender, token, count, total, message).
struct MultiSent {
  eth::Address sender, token;
  eth::U256 count, total;
  std::string message;
};
/// Uniswap V2 factory PairCreated(token0, token1, pair, index).
struct PairCreated {
  eth::Address token0, token1, pair;
  eth::U256 index;
};
/// Uniswap V2 pair Sync(reserve0, reserve1).
struct PairSync {
  eth::U256 reserve0, reserve1;
};
/// Uniswap V2 pair Swap(sender, amount0In, amount1In, amount0Out, amount1Out, to).
struct PairSwap {
  eth::Address sender, to;
  eth::U256 amount0_in, amount1_in, amount0_out, amount1_out;
};
/// Uniswap V2 pair Mint(sender, amount0, amount1).
struct PairMint {
  eth::Address sender;
  eth::U256 amount0, amount1;
};
/// Uniswap V2 pair Burn(sender, amount0, amount1, to).
struct PairBurn {
  eth::Address sender, to;
  eth::U256 amount0, amount1;
};

/// What a log says.
using EventBody = std::variant<Erc20Transfer, Erc721Transfer, Erc1155Transfer, StakeChange, MultiSent, PairCreated,
                               PairSync, PairSwap, PairMint, PairBurn>;

/// A log with its decoded meaning and the pipeline that owns it.
struct DecodedLog {
  Pipeline pipeline = Pipeline::erc20;
  rpc::Log log;
  EventBody body;
};

/// Decodes `log` for `pipeline`: nullopt when the log is not this pipeline's (another event, or
/// the other Transfer: ERC-20 has 3 topics, ERC-721 has 4); an error ("log_undecodable") when
/// it claims to be but its topics or data do not decode.
Result<std::optional<DecodedLog>> decode_log(Pipeline pipeline, const rpc::Log& log);

/// The projections the indexer maintains.
enum class Projection { erc20_balance, erc721_owner, erc1155_balance, stake, pair_tokens, pair_reserves };

/// "erc20_balance", ... (stored in the change journal).
const char* to_string(Projection projection) noexcept;
std::optional<Projection> parse_projection(std::string_view name) noexcept;

/// How a change combines with the stored value.
enum class ChangeOp { add, sub, set };

/// One change to one projection row. Keys are lowercase hex (addresses) or decimal (token ids):
/// erc20_balance (contract, holder), erc721_owner (contract, token id), erc1155_balance
/// (contract, token id, holder), stake (contract, staker), pair_tokens and pair_reserves (the
/// pair). `value` is a decimal amount; for erc721_owner the owner's lowercase address ("" removes
/// the row: burnt); for pair_tokens "factory,token0,token1"; for pair_reserves "reserve0,reserve1".
struct ProjectionChange {
  Projection projection = Projection::erc20_balance;
  std::string contract;
  std::string key1;
  std::string key2;
  ChangeOp op = ChangeOp::set;
  std::string value;
  /// `value` parsed, for an amount projection's change made by projection_changes (apply_amount
  /// then has nothing to parse); nullopt otherwise.
  std::optional<eth::U256> amount{};
};

/// The projection changes `log` makes, in order. Transfers from or to the zero address are
/// mints and burns: the zero address holds nothing.
std::vector<ProjectionChange> projection_changes(const DecodedLog& log);

/// The stored value after `change`, from the stored value `current` (nullopt: no row). A
/// balance that reaches zero removes its row. A subtraction below zero (history before the
/// start block) saturates at zero. Errors "amount_invalid" (stored text that is not an amount),
/// "amount_overflow".
Result<std::optional<std::string>> apply_change(const ProjectionChange& change,
                                                const std::optional<std::string>& current);

/// Whether `p` holds an amount (ERC-20 and ERC-1155 balances, stakes): its changes can be applied
/// on parsed values with apply_amount, which a range applying many changes to one row uses to
/// parse and format the row once instead of once per change.
bool holds_amount(Projection p) noexcept;

/// apply_change for an amount projection on parsed values (zero: no row): the same rules
/// (saturating subtraction, "amount_invalid" for a change value that is not an amount,
/// "amount_overflow").
Result<eth::U256> apply_amount(const ProjectionChange& change, const eth::U256& current);

/// The bus topic of an applied log: chain.transfer, chain.stake, chain.multisend, chain.pair_created,
/// chain.sync, chain.swap, chain.mint, chain.burn.
std::string event_topic(const DecodedLog& log);

/// The ordering key of every chain event (chain.reverted included): "<chain id>:<contract>", the
/// contract in lowercase 0x-hex. Events of one contract keep their order; a consumer may also
/// tell by it which contract an event is about without reading the payload.
std::string event_ordering_key(std::uint64_t chain_id, std::string_view contract_lower_hex);

/// The chain id and lowercase contract of an event_ordering_key; nullopt for any other text.
struct EventSubject {
  std::uint64_t chain_id = 0;
  std::string contract;  ///< lowercase 0x-hex
};
std::optional<EventSubject> parse_event_ordering_key(std::string_view key);

/// The EIP-55 text of addresses, remembered (at most max_entries, then it starts over): the events
/// of a range name the same few addresses many times, and each checksum costs a Keccak.
class ChecksumCache {
 public:
  static constexpr std::size_t max_entries = 65'536;
  const std::string& operator()(const eth::Address& address);

 private:
  struct Hash {
    std::size_t operator()(const eth::Address& a) const noexcept;
  };
  std::unordered_map<eth::Address, std::string, Hash> m_names;
};

/// The event payload (a JSON object, serialized) of an applied log, for `chain_id`.
std::string event_payload(std::uint64_t chain_id, const DecodedLog& log);
/// The same, taking addresses' checksums from `names`.
std::string event_payload(std::uint64_t chain_id, const DecodedLog& log, ChecksumCache& names);

/// Lowercase 0x-hex of a hash.
std::string hash_hex(const eth::Hash32& hash);

}  // namespace gh::chain
