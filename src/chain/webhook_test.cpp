// The webhook's pure part: HMAC-SHA256 signatures (RFC 4231 vector, constant-time compare that
// refuses anything else) and the logs of Alchemy's Address Activity and Custom payloads.
#include <gtest/gtest.h>

#include "chain/webhook.hpp"
#include "eth/hex.hpp"

namespace gh::chain {
namespace {

TEST(ChainWebhook, SignatureIsHmacSha256OfTheRawBody) {
  // RFC 4231, test case 2.
  EXPECT_EQ(alchemy_signature("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  const std::string body = R"({"event":{}})";
  const auto good = alchemy_signature("whsec_test", body);
  EXPECT_TRUE(verify_alchemy_signature("whsec_test", body, good));
  std::string upper = good;
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_TRUE(verify_alchemy_signature("whsec_test", body, upper));
  EXPECT_FALSE(verify_alchemy_signature("whsec_other", body, good));
  EXPECT_FALSE(verify_alchemy_signature("whsec_test", body + " ", good));
  EXPECT_FALSE(verify_alchemy_signature("whsec_test", body, good.substr(0, 63)));
  EXPECT_FALSE(verify_alchemy_signature("whsec_test", body, ""));
  EXPECT_FALSE(verify_alchemy_signature("", body, alchemy_signature("", body)));
}

constexpr const char* activity_payload = R"({
  "webhookId": "wh_1", "id": "whevt_1", "createdAt": "2026-11-25T10:00:00.000Z", "type": "ADDRESS_ACTIVITY",
  "event": {"network": "ETH_MAINNET", "activity": [
    {"fromAddress": "0x1", "toAddress": "0x2", "category": "external", "value": 1, "hash": "0xab"},
    {"category": "token", "log": {
      "address": "0x7f39c581f595b53c5cb19bd0b3f8da6c935e2ca0",
      "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef",
                 "0x000000000000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                 "0x000000000000000000000000bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"],
      "data": "0x00000000000000000000000000000000000000000000000000000000000003e8",
      "blockNumber": "0x10", "transactionHash": "0x1111111111111111111111111111111111111111111111111111111111111111",
      "transactionIndex": "0x1", "blockHash": "0x2222222222222222222222222222222222222222222222222222222222222222",
      "logIndex": "0x5", "removed": false}}]}})";

TEST(ChainWebhook, AddressActivityCarriesItsLogs) {
  auto d = parse_alchemy_payload(activity_payload);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->chain_id, std::optional<std::uint64_t>(1));
  ASSERT_EQ(d->logs.size(), 1u);  // the native transfer has no log
  EXPECT_EQ(d->logs[0].block_number, 16u);
  EXPECT_EQ(d->logs[0].log_index, 5u);
  EXPECT_EQ(d->logs[0].topics.size(), 3u);
  EXPECT_EQ(eth::to_hex(d->logs[0].block_hash.view()),
            "0x2222222222222222222222222222222222222222222222222222222222222222");
}

TEST(ChainWebhook, CustomGraphqlBlockCarriesItsLogs) {
  const std::string body = R"({"webhookId": "wh_2", "type": "GRAPHQL", "event": {"sequenceNumber": "1",
    "network": "BASE_MAINNET", "data": {"block": {
      "hash": "0x3333333333333333333333333333333333333333333333333333333333333333", "number": 99, "timestamp": 1,
      "logs": [{"data": "0x", "index": 2,
                "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],
                "account": {"address": "0x7f39c581f595b53c5cb19bd0b3f8da6c935e2ca0"},
                "transaction": {"hash": "0x4444444444444444444444444444444444444444444444444444444444444444", "index": 3}}]}}}})";
  auto d = parse_alchemy_payload(body);
  ASSERT_TRUE(d) << d.error().message;
  EXPECT_EQ(d->chain_id, std::optional<std::uint64_t>(8453));
  ASSERT_EQ(d->logs.size(), 1u);
  EXPECT_EQ(d->logs[0].block_number, 99u);
  EXPECT_EQ(d->logs[0].log_index, 2u);
  EXPECT_EQ(d->logs[0].transaction_index, 3u);
  EXPECT_TRUE(d->logs[0].data.empty());
}

TEST(ChainWebhook, MalformedPayloadsAreRefused) {
  for (const char* body : {"", "[]", "{}", R"({"event": {}})", R"({"event": {"activity": [1]}})",
                           R"({"event": {"activity": [{"log": {"address": "0x1"}}]}})",
                           R"({"event": {"data": {"block": {"hash": "0x12", "number": 1}}}})"}) {
    auto d = parse_alchemy_payload(body);
    ASSERT_FALSE(d) << body;
    EXPECT_EQ(d.error().code, "webhook_payload_invalid") << body;
  }
  EXPECT_FALSE(alchemy_network_chain_id("NOT_A_NETWORK"));
}

}  // namespace
}  // namespace gh::chain
