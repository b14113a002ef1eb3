// The pure rules of the indexer: decoding each event family, telling the two Transfers apart,
// the projection changes of each event, and how a change combines with a stored value.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "chain/model.hpp"
#include "eth/abi.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"

namespace gh::chain {
namespace {

using eth::Address;
using eth::Hash32;
using eth::U256;

Address addr(std::uint8_t last) {
  Address a;
  a.bytes[19] = last;
  a.bytes[0] = 0xab;
  return a;
}

Hash32 topic_of(const Address& a) {
  Hash32 h;
  std::copy(a.bytes.begin(), a.bytes.end(), h.bytes.begin() + 12);
  return h;
}

Hash32 topic_of(const U256& v) {
  return v.to_be_bytes();
}

Hash32 sig(std::string_view text) {
  return eth::keccak256(text);
}

eth::Bytes encode(std::string_view types, const eth::AbiValues& values) {
  std::vector<eth::AbiType> parsed;
  std::size_t start = 0;
  while (true) {
    auto comma = types.find(',', start);
    parsed.push_back(
        eth::parse_abi_type(types.substr(start, comma == std::string_view::npos ? comma : comma - start)).value());
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return eth::abi_encode(parsed, values).value();
}

rpc::Log make_log(std::vector<Hash32> topics, eth::Bytes data) {
  rpc::Log l;
  l.address = addr(0x77);
  l.topics = std::move(topics);
  l.data = std::move(data);
  l.block_number = 12;
  l.block_hash.bytes[0] = 1;
  l.log_index = 3;
  return l;
}

// The outbox payload of each event kind, read back by a JSON parser: the common fields, EIP-55
// addresses (the same through a shared ChecksumCache), decimal amounts, and a MultiSent message
// with characters JSON must escape.
TEST(ChainModel, EventPayloadsAreJsonObjectsWithEveryField) {
  namespace json = boost::json;
  auto log = make_log({}, {});
  log.transaction_hash.bytes[31] = 9;
  auto payload = [&](EventBody body, ChecksumCache* names = nullptr) {
    DecodedLog d{Pipeline::erc20, log, std::move(body)};
    const auto text = names ? event_payload(5, d, *names) : event_payload(5, d);
    boost::system::error_code ec;
    auto v = json::parse(text, ec);
    EXPECT_FALSE(ec) << text;
    return v.as_object();
  };
  const auto cs = [](const Address& a) { return json::value(eth::to_checksum(a)); };
  const U256 big = U256::max();
  ChecksumCache names;
  for (ChecksumCache* cache : {static_cast<ChecksumCache*>(nullptr), &names, &names}) {
    auto t = payload(Erc20Transfer{addr(1), addr(2), big}, cache);
    EXPECT_EQ(t.at("chain_id"), json::value(5));
    EXPECT_EQ(t.at("contract"), cs(addr(0x77)));
    EXPECT_EQ(t.at("block_number"), json::value(12));
    EXPECT_EQ(t.at("block_hash"), json::value(hash_hex(log.block_hash)));
    EXPECT_EQ(t.at("log_index"), json::value(3));
    EXPECT_EQ(t.at("txn_hash"), json::value(hash_hex(log.transaction_hash)));
    EXPECT_EQ(t.at("standard"), json::value("erc20"));
    EXPECT_EQ(t.at("from"), cs(addr(1)));
    EXPECT_EQ(t.at("to"), cs(addr(2)));
    EXPECT_EQ(t.at("amount"), json::value(big.to_dec()));
    EXPECT_EQ(t.size(), 10u);
  }
  auto nft = payload(Erc721Transfer{addr(1), Address{}, U256(7)});
  EXPECT_EQ(nft.at("standard"), json::value("erc721"));
  EXPECT_EQ(nft.at("to"), cs(Address{}));
  EXPECT_EQ(nft.at("token_ids"), json::value(json::array{"7"}));
  auto multi = payload(Erc1155Transfer{addr(3), addr(1), addr(2), {U256(1), U256(2)}, {U256(10), U256(20)}, true});
  EXPECT_EQ(multi.at("standard"), json::value("erc1155"));
  EXPECT_EQ(multi.at("operator"), cs(addr(3)));
  EXPECT_EQ(multi.at("token_ids"), json::value(json::array{"1", "2"}));
  EXPECT_EQ(multi.at("amounts"), json::value(json::array{"10", "20"}));
  auto stake = payload(StakeChange{addr(4), U256(5), U256(15), false});
  EXPECT_EQ(stake.at("kind"), json::value("unstaked"));
  EXPECT_EQ(stake.at("account"), cs(addr(4)));
  EXPECT_EQ(stake.at("amount"), json::value("5"));
  EXPECT_EQ(stake.at("total"), json::value("15"));
  const std::string message = "say \"hi\" \\ \n\t\x01 caf\xc3\xa9";
  auto sent = payload(MultiSent{addr(5), addr(6), U256(2), U256(30), message});
  EXPECT_EQ(sent.at("sender"), cs(addr(5)));
  EXPECT_EQ(sent.at("token"), cs(addr(6)));
  EXPECT_EQ(sent.at("count"), json::value("2"));
  EXPECT_EQ(sent.at("total"), json::value("30"));
  EXPECT_EQ(sent.at("message"), json::value(message));
  auto created = payload(PairCreated{addr(1), addr(2), addr(3), U256(1)});
  EXPECT_EQ(created.at("pair"), cs(addr(3)));
  EXPECT_EQ(created.at("index"), json::value("1"));
  auto sync = payload(PairSync{U256(100), U256(200)});
  EXPECT_EQ(sync.at("reserve0"), json::value("100"));
  EXPECT_EQ(sync.at("reserve1"), json::value("200"));
  auto swap = payload(PairSwap{addr(1), addr(2), U256(1), U256(0), U256(0), U256(3)});
  EXPECT_EQ(swap.at("amount0_in"), json::value("1"));
  EXPECT_EQ(swap.at("amount1_out"), json::value("3"));
  EXPECT_EQ(swap.at("to"), cs(addr(2)));
  auto burn = payload(PairBurn{addr(1), addr(2), U256(4), U256(6)});
  EXPECT_EQ(burn.at("amount0"), json::value("4"));
  EXPECT_EQ(burn.at("to"), cs(addr(2)));
}

TEST(ChainModel, Erc20TransferDecodesAndMovesBalances) {
  auto log = make_log({sig("Transfer(address,address,uint256)"), topic_of(addr(1)), topic_of(addr(2))},
                      encode("uint256", {eth::AbiValue::uint(500)}));
  auto d = decode_log(Pipeline::erc20, log);
  ASSERT_TRUE(d && *d);
  const auto& t = std::get<Erc20Transfer>((*d)->body);
  EXPECT_EQ(t.from, addr(1));
  EXPECT_EQ(t.to, addr(2));
  EXPECT_EQ(t.amount, U256(500));
  // The same log is not the ERC-721 pipeline's.
  auto other = decode_log(Pipeline::erc721, log);
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);

  auto changes = projection_changes(**d);
  ASSERT_EQ(changes.size(), 2u);
  EXPECT_EQ(changes[0].op, ChangeOp::sub);
  EXPECT_EQ(changes[0].key1, eth::to_lower_hex(addr(1)));
  EXPECT_EQ(changes[1].op, ChangeOp::add);
  EXPECT_EQ(changes[1].value, "500");
  EXPECT_EQ(event_topic(**d), "chain.transfer");
  EXPECT_NE(event_payload(1, **d).find("\"amount\":\"500\""), std::string::npos);
}

TEST(ChainModel, MintsAndBurnsLeaveTheZeroAddressOut) {
  auto mint = make_log({sig("Transfer(address,address,uint256)"), topic_of(Address{}), topic_of(addr(2))},
                       encode("uint256", {eth::AbiValue::uint(7)}));
  auto d = decode_log(Pipeline::erc20, mint);
  ASSERT_TRUE(d && *d);
  auto changes = projection_changes(**d);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].op, ChangeOp::add);
}

TEST(ChainModel, Erc721TransferSetsTheOwnerAndBurnRemovesIt) {
  auto log = make_log(
      {sig("Transfer(address,address,uint256)"), topic_of(addr(1)), topic_of(addr(2)), topic_of(U256(42))}, {});
  EXPECT_FALSE(*decode_log(Pipeline::erc20, log));
  auto d = decode_log(Pipeline::erc721, log);
  ASSERT_TRUE(d && *d);
  auto changes = projection_changes(**d);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].key1, "42");
  EXPECT_EQ(changes[0].value, eth::to_lower_hex(addr(2)));

  auto burn = make_log(
      {sig("Transfer(address,address,uint256)"), topic_of(addr(2)), topic_of(Address{}), topic_of(U256(42))}, {});
  auto b = decode_log(Pipeline::erc721, burn);
  ASSERT_TRUE(b && *b);
  auto next = apply_change(projection_changes(**b)[0], eth::to_lower_hex(addr(2)));
  ASSERT_TRUE(next);
  EXPECT_FALSE(*next);
}

TEST(ChainModel, Erc1155BatchDecodesPairwise) {
  auto log = make_log(
      {sig("TransferBatch(address,address,address,uint256[],uint256[])"), topic_of(addr(9)), topic_of(addr(1)),
       topic_of(addr(2))},
      encode("uint256[],uint256[]", {eth::AbiValue::list({eth::AbiValue::uint(1), eth::AbiValue::uint(2)}),
                                     eth::AbiValue::list({eth::AbiValue::uint(10), eth::AbiValue::uint(20)})}));
  auto d = decode_log(Pipeline::erc1155, log);
  ASSERT_TRUE(d && *d);
  auto changes = projection_changes(**d);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[2].key1, "2");
  EXPECT_EQ(changes[2].key2, eth::to_lower_hex(addr(1)));
  EXPECT_EQ(changes[2].value, "20");
}

TEST(ChainModel, StakeEventsSetTheTotal) {
  auto log = make_log({sig("Unstaked(address,uint256,uint256)"), topic_of(addr(4))},
                      encode("uint256,uint256", {eth::AbiValue::uint(5), eth::AbiValue::uint(95)}));
  auto d = decode_log(Pipeline::staking, log);
  ASSERT_TRUE(d && *d);
  EXPECT_FALSE(std::get<StakeChange>((*d)->body).staked);
  auto changes = projection_changes(**d);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].op, ChangeOp::set);
  EXPECT_EQ(changes[0].value, "95");
  EXPECT_EQ(event_topic(**d), "chain.stake");
}

TEST(ChainModel, UniswapEventsDecode) {
  auto swap = make_log(
      {sig("Swap(address,uint256,uint256,uint256,uint256,address)"), topic_of(addr(1)), topic_of(addr(2))},
      encode("uint256,uint256,uint256,uint256",
             {eth::AbiValue::uint(1), eth::AbiValue::uint(0), eth::AbiValue::uint(0), eth::AbiValue::uint(3)}));
  auto d = decode_log(Pipeline::uniswap_v2, swap);
  ASSERT_TRUE(d && *d);
  EXPECT_EQ(std::get<PairSwap>((*d)->body).amount1_out, U256(3));
  EXPECT_EQ(event_topic(**d), "chain.swap");
  EXPECT_TRUE(projection_changes(**d).empty());

  auto sync = make_log({sig("Sync(uint112,uint112)")},
                       encode("uint112,uint112", {eth::AbiValue::uint(8), eth::AbiValue::uint(9)}));
  auto s = decode_log(Pipeline::uniswap_v2, sync);
  ASSERT_TRUE(s && *s);
  EXPECT_EQ(std::get<PairSync>((*s)->body).reserve1, U256(9));
  auto reserves = projection_changes(**s);
  ASSERT_EQ(reserves.size(), 1u);
  EXPECT_EQ(reserves[0].projection, Projection::pair_reserves);
  EXPECT_EQ(reserves[0].value, "8,9");
  EXPECT_EQ(event_topic(**s), "chain.sync");

  auto multi =
      make_log({sig("MultiSent(address,address,uint256,uint256,string)"), topic_of(addr(1)), topic_of(addr(2))},
               encode("uint256,uint256,string",
                      {eth::AbiValue::uint(2), eth::AbiValue::uint(30), eth::AbiValue::string("welcome")}));
  auto m = decode_log(Pipeline::multisend, multi);
  ASSERT_TRUE(m && *m);
  EXPECT_EQ(std::get<MultiSent>((*m)->body).message, "welcome");
  EXPECT_EQ(event_topic(**m), "chain.multisend");
}

TEST(ChainModel, MalformedLogsAreErrorsNotSilence) {
  // A Transfer with 3 topics but 31 bytes of data.
  auto bad =
      make_log({sig("Transfer(address,address,uint256)"), topic_of(addr(1)), topic_of(addr(2))}, eth::Bytes(31, 0));
  auto d = decode_log(Pipeline::erc20, bad);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().code, "log_undecodable");
  // An address topic with high bytes set.
  Hash32 dirty = topic_of(addr(1));
  dirty.bytes[0] = 1;
  auto bad2 = make_log({sig("Staked(address,uint256,uint256)"), dirty},
                       encode("uint256,uint256", {eth::AbiValue::uint(1), eth::AbiValue::uint(1)}));
  EXPECT_FALSE(decode_log(Pipeline::staking, bad2));
  // Truncated Sync data.
  auto bad3 = make_log({sig("Sync(uint112,uint112)")}, eth::Bytes(40, 0));
  EXPECT_FALSE(decode_log(Pipeline::uniswap_v2, bad3));
}

TEST(ChainModel, ChangesCombineWithStoredValues) {
  ProjectionChange add{Projection::erc20_balance, "c", "h", "", ChangeOp::add, "5"};
  EXPECT_EQ(*apply_change(add, std::nullopt), std::optional<std::string>("5"));
  EXPECT_EQ(*apply_change(add, std::string("10")), std::optional<std::string>("15"));
  ProjectionChange sub{Projection::erc20_balance, "c", "h", "", ChangeOp::sub, "10"};
  EXPECT_EQ(*apply_change(sub, std::string("10")), std::optional<std::string>());  // zero removes the row
  EXPECT_EQ(*apply_change(sub, std::string("3")), std::optional<std::string>());   // saturates
  ProjectionChange big{Projection::erc20_balance, "c", "h", "", ChangeOp::add, U256::max().to_dec()};
  auto overflow = apply_change(big, std::string("1"));
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.error().code, "amount_overflow");
  EXPECT_FALSE(apply_change(add, std::string("x1")));
}

TEST(ChainModel, AmountChangesFollowTheSameRulesOnParsedValues) {
  ProjectionChange add{Projection::erc20_balance, "c", "h", "", ChangeOp::add, "5"};
  ProjectionChange sub{Projection::erc20_balance, "c", "h", "", ChangeOp::sub, "10"};
  ProjectionChange set{Projection::stake, "c", "h", "", ChangeOp::set, "7"};
  EXPECT_EQ(*apply_amount(add, U256{}), U256::from_dec("5").value());
  EXPECT_EQ(*apply_amount(add, U256::from_dec("10").value()), U256::from_dec("15").value());
  EXPECT_TRUE(apply_amount(sub, U256::from_dec("10").value())->is_zero());
  EXPECT_TRUE(apply_amount(sub, U256::from_dec("3").value())->is_zero());  // saturates
  EXPECT_EQ(*apply_amount(set, U256::from_dec("100").value()), U256::from_dec("7").value());
  ProjectionChange big{Projection::erc20_balance, "c", "h", "", ChangeOp::add, U256::max().to_dec()};
  auto overflow = apply_amount(big, U256::from_dec("1").value());
  ASSERT_FALSE(overflow);
  EXPECT_EQ(overflow.error().code, "amount_overflow");
  ProjectionChange bad{Projection::erc20_balance, "c", "h", "", ChangeOp::add, "x1"};
  EXPECT_FALSE(apply_amount(bad, U256{}));
  EXPECT_TRUE(holds_amount(Projection::erc20_balance));
  EXPECT_TRUE(holds_amount(Projection::erc1155_balance));
  EXPECT_TRUE(holds_amount(Projection::stake));
  EXPECT_FALSE(holds_amount(Projection::erc721_owner));
  EXPECT_FALSE(holds_amount(Projection::pair_reserves));
}

TEST(ChainModel, PipelineNamesRoundTrip) {
  for (auto p : all_pipelines) EXPECT_EQ(parse_pipeline(to_string(p)), p);
  EXPECT_FALSE(parse_pipeline("erc777"));
  EXPECT_EQ(pipeline_topics(Pipeline::uniswap_v2).size(), 5u);
}

TEST(ChainModel, EventOrderingKeysNameChainAndContractAndParseBack) {
  const std::string contract = "0x00000000000000000000000000000000deadbeef";
  const auto key = event_ordering_key(31337, contract);
  EXPECT_EQ(key, "31337:" + contract);
  const auto subject = parse_event_ordering_key(key);
  ASSERT_TRUE(subject);
  EXPECT_EQ(subject->chain_id, 31337u);
  EXPECT_EQ(subject->contract, contract);
  const auto biggest = parse_event_ordering_key("18446744073709551615:" + contract);
  ASSERT_TRUE(biggest);
  EXPECT_EQ(biggest->chain_id, UINT64_MAX);
  for (const std::string& bad : std::vector<std::string>{
           std::string(), ":" + contract, "1" + contract, "x1:" + contract, "18446744073709551616:" + contract,
           "1:0x00000000000000000000000000000000DEADBEEF", "1:" + contract.substr(0, 41), "1:" + contract + "0",
           "1:1x" + contract.substr(2), "1:0x0000000000000000000000000000000000deadbeeg"}) {
    EXPECT_FALSE(parse_event_ordering_key(bad)) << bad;
  }
}

}  // namespace
}  // namespace gh::chain
