#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "eth/hex.hpp"
#include "rpc/eth_types.hpp"
#include "rpc/json_rpc.hpp"
#include "rpc/log_range.hpp"

namespace gh::rpc {
namespace {

namespace json = boost::json;

TEST(JsonRpc, MakesRequests) {
  auto req = make_request(RpcCall{"eth_getBalance", json::array{"0xabc", "latest"}}, 7);
  EXPECT_EQ(json::serialize(req), R"({"jsonrpc":"2.0","id":7,"method":"eth_getBalance","params":["0xabc","latest"]})");
}

TEST(JsonRpc, ParsesResultsAndErrors) {
  auto ok = parse_response(R"({"jsonrpc":"2.0","id":3,"result":"0x1"})", 3);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->as_string(), "0x1");

  auto null_result = parse_response(R"({"jsonrpc":"2.0","id":3,"result":null})", 3);
  ASSERT_TRUE(null_result);
  EXPECT_TRUE(null_result->is_null());

  auto revert = parse_response(
      R"({"jsonrpc":"2.0","id":3,"error":{"code":3,"message":"execution reverted: no","data":"0x08c379a0"}})", 3);
  ASSERT_FALSE(revert);
  EXPECT_EQ(revert.error().kind, RpcErrc::rpc);
  EXPECT_EQ(revert.error().code, 3);
  EXPECT_EQ(revert.error().message, "execution reverted: no");
  EXPECT_EQ(revert.error().data, "\"0x08c379a0\"");
  const auto as_error = revert.error().to_error();
  EXPECT_EQ(as_error.code, "rpc_error");
  EXPECT_EQ(json::parse(as_error.details_json).at("rpc_data").as_string(), "0x08c379a0");

  // A parse error of the request comes back with id null: still the node's error.
  auto parse_error =
      parse_response(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}})", 3);
  ASSERT_FALSE(parse_error);
  EXPECT_EQ(parse_error.error().kind, RpcErrc::rpc);
  EXPECT_EQ(parse_error.error().code, -32700);
}

TEST(JsonRpc, RejectsWhatIsNotAnAnswer) {
  for (const char* body :
       {"", "<html>502</html>", "[]", R"({"id":3,"result":"0x1"})", R"({"jsonrpc":"1.0","id":3,"result":"0x1"})",
        R"({"jsonrpc":"2.0","id":4,"result":"0x1"})", R"({"jsonrpc":"2.0","id":3})",
        R"({"jsonrpc":"2.0","id":3,"error":"boom"})", R"({"jsonrpc":"2.0","id":3,"error":{"code":"x"}})"}) {
    auto r = parse_response(body, 3);
    ASSERT_FALSE(r) << body;
    EXPECT_EQ(r.error().kind, RpcErrc::bad_response) << body;
  }
}

TEST(JsonRpc, MatchesBatchAnswersById) {
  auto answers = parse_batch_response(
      R"([{"jsonrpc":"2.0","id":12,"result":"c"},
          {"jsonrpc":"2.0","id":10,"result":"a"},
          {"jsonrpc":"2.0","id":99,"result":"stray"},
          {"jsonrpc":"2.0","id":11,"error":{"code":-32000,"message":"header not found"}}])",
      10, 4);
  ASSERT_TRUE(answers);
  ASSERT_EQ(answers->size(), 4u);
  EXPECT_EQ((*answers)[0]->as_string(), "a");
  ASSERT_FALSE((*answers)[1]);
  EXPECT_EQ((*answers)[1].error().message, "header not found");
  EXPECT_EQ((*answers)[2]->as_string(), "c");
  ASSERT_FALSE((*answers)[3]);
  EXPECT_EQ((*answers)[3].error().kind, RpcErrc::bad_response);

  auto refused =
      parse_batch_response(R"({"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}})", 1, 2);
  ASSERT_TRUE(refused);
  for (const auto& r : *refused) {
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "batch too large");
  }
  EXPECT_FALSE(parse_batch_response("nope", 1, 2));
  EXPECT_FALSE(parse_batch_response("42", 1, 2));
}

TEST(JsonRpc, ParsesRetryAfter) {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // 2015-10-21T07:28:00Z
  EXPECT_EQ(parse_retry_after("3", now), std::chrono::milliseconds(3000));
  EXPECT_EQ(parse_retry_after(" 0 ", now), std::chrono::milliseconds(0));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:05 GMT", now), std::chrono::milliseconds(5000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), std::chrono::milliseconds(0));
  EXPECT_FALSE(parse_retry_after("soon", now));
  EXPECT_FALSE(parse_retry_after("-1", now));
  EXPECT_FALSE(parse_retry_after("", now));
}

RpcError node_error(std::int64_t code, std::string message, std::string data = {}) {
  RpcError e;
  e.kind = RpcErrc::rpc;
  e.code = code;
  e.message = std::move(message);
  e.data = std::move(data);
  return e;
}

TEST(LogRange, RecognizesProviderRefusals) {
  // Alchemy: the suggested range is what to use.
  auto alchemy = recognize_log_range_refusal(node_error(
      -32602,
      "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range and no limit on "
      "the response size, or you can request any block range with a cap of 10K logs in the response. Based on your "
      "parameters, this block range should work: [0x10, 0x1f]"));
  ASSERT_TRUE(alchemy);
  ASSERT_TRUE(alchemy->suggested);
  EXPECT_EQ(alchemy->suggested->first, 0x10u);
  EXPECT_EQ(alchemy->suggested->second, 0x1fu);
  EXPECT_EQ(alchemy->max_span, 2000u);

  auto infura = recognize_log_range_refusal(
      node_error(-32005, "query returned more than 10000 results. Try with this block range [0x30D9D7, 0x30DA30]."));
  ASSERT_TRUE(infura);
  ASSERT_TRUE(infura->suggested);
  EXPECT_EQ(infura->suggested->first, 0x30D9D7u);
  EXPECT_EQ(infura->suggested->second, 0x30DA30u);

  auto quicknode = recognize_log_range_refusal(node_error(-32614, "eth_getLogs is limited to a 10,000 range"));
  ASSERT_TRUE(quicknode);
  EXPECT_EQ(quicknode->max_span, 10000u);
  EXPECT_FALSE(quicknode->suggested);

  EXPECT_TRUE(recognize_log_range_refusal(node_error(-32602, "block range too large")));
  EXPECT_TRUE(recognize_log_range_refusal(node_error(-32000, "query returned more than 10000 results")));
  auto geth = recognize_log_range_refusal(node_error(-32000, "exceed maximum block range: 5000"));
  ASSERT_TRUE(geth);
  EXPECT_EQ(geth->max_span, 5000u);
  auto frontier = recognize_log_range_refusal(node_error(-32603, "block range is too wide (maximum 1024)"));
  ASSERT_TRUE(frontier);
  EXPECT_EQ(frontier->max_span, 1024u);
  EXPECT_TRUE(recognize_log_range_refusal(node_error(-32005, "limit exceeded")));
  // An answer larger than our own response limit: a narrower range helps too.
  EXPECT_TRUE(recognize_log_range_refusal(make_rpc_error(RpcErrc::too_large, "response body exceeds the limit")));
}

TEST(LogRange, IgnoresOtherErrors) {
  EXPECT_FALSE(recognize_log_range_refusal(node_error(-32602, "block range extends beyond current head block")));
  EXPECT_FALSE(recognize_log_range_refusal(node_error(-32005, "daily request count exceeded, request rate limited")));
  EXPECT_FALSE(recognize_log_range_refusal(node_error(3, "execution reverted")));
  EXPECT_FALSE(recognize_log_range_refusal(node_error(-32000, "header not found")));
  EXPECT_FALSE(
      recognize_log_range_refusal(make_rpc_error(RpcErrc::transport, "query returned more than 10000 results")));
}

TEST(EthTypes, ParsesQuantitiesStrictly) {
  EXPECT_EQ(*parse_quantity_u64("0x0"), 0u);
  EXPECT_EQ(*parse_quantity_u64("0x1f"), 31u);
  EXPECT_EQ(*parse_quantity_u64("0xFFFFFFFFFFFFFFFF"), UINT64_MAX);
  EXPECT_EQ(parse_quantity("0x" + std::string(64, 'f'))->to_hex(), "0x" + std::string(64, 'f'));
  for (const char* bad : {"", "0x", "0x01", "0x00", "1f", "0X1f", "0x1g", "0x 1", "-0x1", "0x1f "}) {
    auto q = parse_quantity(bad);
    ASSERT_FALSE(q) << bad;
    EXPECT_EQ(q.error().code, "quantity_invalid") << bad;
  }
  EXPECT_EQ(parse_quantity("0x1" + std::string(64, '0')).error().code, "quantity_overflow");
  EXPECT_EQ(parse_quantity_u64("0x10000000000000000").error().code, "quantity_overflow");
  EXPECT_EQ(to_quantity(0), "0x0");
  EXPECT_EQ(to_quantity(255), "0xff");
  EXPECT_TRUE(parse_data("0x"));
  EXPECT_FALSE(parse_data("abcd"));
  EXPECT_FALSE(parse_data("0xabc"));
}

const std::string hash_a = "0x" + std::string(63, '0') + "a";
const std::string hash_b = "0x" + std::string(63, '0') + "b";
const std::string addr = "0x5fbdb2315678afecb367f032d93f642f64180aa3";

TEST(EthTypes, EncodesFilters) {
  LogFilter f;
  f.from_block = std::uint64_t{16};
  f.to_block = BlockTag::latest;
  f.addresses = {*eth::parse_address(addr)};
  f.topics = {std::vector<eth::Hash32>{*eth::fixed_from_hex<32>(hash_a)}, std::nullopt,
              std::vector<eth::Hash32>{*eth::fixed_from_hex<32>(hash_a), *eth::fixed_from_hex<32>(hash_b)}};
  EXPECT_EQ(json::serialize(to_json(f)), R"({"fromBlock":"0x10","toBlock":"latest","address":")" + addr +
                                             R"(","topics":[")" + hash_a + R"(",null,[")" + hash_a + R"(",")" + hash_b +
                                             R"("]]})");
  LogFilter by_hash;
  by_hash.block_hash = *eth::fixed_from_hex<32>(hash_b);
  by_hash.addresses = {*eth::parse_address(addr), *eth::parse_address(addr)};
  EXPECT_EQ(json::serialize(to_json(by_hash)),
            R"({"blockHash":")" + hash_b + R"(","address":[")" + addr + R"(",")" + addr + R"("]})");

  CallRequest call;
  call.to = *eth::parse_address(addr);
  call.data = {0x70, 0xa0};
  call.value = eth::U256(0);
  EXPECT_EQ(json::serialize(to_json(call)), R"({"to":")" + addr + R"(","value":"0x0","data":"0x70a0"})");
}

std::string log_json(const std::string& block_number, const std::string& log_index) {
  return R"({"address":")" + addr + R"(","topics":[")" + hash_a + R"("],"data":"0x0001","blockNumber":")" +
         block_number + R"(","blockHash":")" + hash_b + R"(","transactionHash":")" + hash_a +
         R"(","transactionIndex":"0x0","logIndex":")" + log_index + R"(","removed":false})";
}

TEST(EthTypes, ParsesLogs) {
  auto log = parse_log(json::parse(log_json("0x2a", "0x3")));
  ASSERT_TRUE(log) << log.error().message;
  EXPECT_EQ(eth::to_lower_hex(log->address), addr);
  ASSERT_EQ(log->topics.size(), 1u);
  EXPECT_EQ(eth::to_hex(log->topics[0].view()), hash_a);
  EXPECT_EQ(log->data, (eth::Bytes{0x00, 0x01}));
  EXPECT_EQ(log->block_number, 42u);
  EXPECT_EQ(log->log_index, 3u);
  EXPECT_FALSE(log->removed);

  auto bad_number = parse_log(json::parse(log_json("0x02a", "0x3")));
  ASSERT_FALSE(bad_number);
  EXPECT_NE(bad_number.error().message.find("blockNumber"), std::string::npos);
  EXPECT_FALSE(parse_log(json::parse(log_json("0x2a", "3"))));
  EXPECT_FALSE(parse_logs(json::parse("{}")));
  EXPECT_EQ(parse_logs(json::parse("[" + log_json("0x1", "0x0") + "," + log_json("0x2", "0x0") + "]"))->size(), 2u);
}

TEST(EthTypes, ParsesBlocksReceiptsAndFeeHistory) {
  auto block =
      parse_block_header(json::parse(R"({"number":"0x5","hash":")" + hash_a + R"(","parentHash":")" + hash_b +
                                     R"(","timestamp":"0x6553f100","baseFeePerGas":"0x3b9aca00","transactions":[")" +
                                     hash_b + R"("],"miner":"0x0"})"));
  ASSERT_TRUE(block) << block.error().message;
  EXPECT_EQ(block->number, 5u);
  EXPECT_EQ(block->timestamp, 0x6553f100u);
  EXPECT_EQ(block->base_fee_per_gas->to_dec(), "1000000000");
  ASSERT_EQ(block->transaction_hashes.size(), 1u);
  EXPECT_FALSE(parse_block_header(json::parse(R"({"number":"0x5","hash":"0x12"})")));

  auto receipt = parse_receipt(
      json::parse(R"({"transactionHash":")" + hash_a + R"(","transactionIndex":"0x0","blockHash":")" + hash_b +
                  R"(","blockNumber":"0x7","from":")" + addr + R"(","to":null,"status":"0x1","gasUsed":"0x5208",)" +
                  R"("cumulativeGasUsed":"0x5208","effectiveGasPrice":"0x1","contractAddress":")" + addr +
                  R"(","logs":[)" + log_json("0x7", "0x0") + "]}"));
  ASSERT_TRUE(receipt) << receipt.error().message;
  EXPECT_EQ(receipt->status, true);
  EXPECT_EQ(receipt->gas_used, 21000u);
  EXPECT_FALSE(receipt->to);
  ASSERT_TRUE(receipt->contract_address);
  EXPECT_EQ(receipt->logs.size(), 1u);

  auto fees = parse_fee_history(json::parse(
      R"({"oldestBlock":"0x1","baseFeePerGas":["0x2","0x3","0x4"],"gasUsedRatio":[0.5,0],"reward":[["0x1"],["0x0"]]})"));
  ASSERT_TRUE(fees) << fees.error().message;
  EXPECT_EQ(fees->oldest_block, 1u);
  EXPECT_EQ(fees->base_fee_per_gas.size(), 3u);
  EXPECT_DOUBLE_EQ(fees->gas_used_ratio[0], 0.5);
  EXPECT_EQ(fees->reward.size(), 2u);
}

}  // namespace
}  // namespace gh::rpc
