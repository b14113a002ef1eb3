#include "eth/eip712.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <random>

#include "eth/hex.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

// The example of EIP-712 (its reference implementation's Example.js and the EIP text).
constexpr std::string_view mail_json = R"({
  "types": {
    "EIP712Domain": [{"name": "name", "type": "string"}, {"name": "version", "type": "string"},
                     {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
    "Person": [{"name": "name", "type": "string"}, {"name": "wallet", "type": "address"}],
    "Mail": [{"name": "from", "type": "Person"}, {"name": "to", "type": "Person"}, {"name": "contents", "type": "string"}]
  },
  "primaryType": "Mail",
  "domain": {"name": "Ether Mail", "version": "1", "chainId": 1,
             "verifyingContract": "0xCcCCccccCCCCcCCCCCCcCcCccCcCCCcCcccccccC"},
  "message": {"from": {"name": "Cow", "wallet": "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD826"},
              "to": {"name": "Bob", "wallet": "0xbBbBBBBbbBBBbbbBbbBbbbbBBbBbbbbBbBbbBBbB"},
              "contents": "Hello, Bob!"}
})";

Eip712TypedData mail() {
  auto parsed = parse_typed_data(boost::json::parse(mail_json));
  EXPECT_TRUE(parsed) << to_string(parsed.error());
  return *parsed;
}

std::string hex32(const Expected<Hash32, Eip712Errc>& h) {
  return h ? to_hex(h->view()) : std::string("error: ") + to_string(h.error());
}

TEST(Eip712, HashesTheMailExampleOfTheEip) {
  const auto data = mail();
  EXPECT_EQ(*eip712_encode_type(data.types, "Mail"),
            "Mail(Person from,Person to,string contents)Person(string name,address wallet)");
  EXPECT_EQ(hex32(eip712_type_hash(data.types, "Mail")),
            "0xa0cedeb2dc280ba39b857546d74f5549c3a1d7bdc2dd96bf881f76108e23dac2");
  EXPECT_EQ(hex32(eip712_hash_struct(data.types, "Mail", data.message)),
            "0xc52c0ee5d84264471806290a3f2c4cecfc5490626bf912d01f240d7a274b371e");
  EXPECT_EQ(hex32(eip712_domain_separator(data)), "0xf2cee375fa42b42143804025fc449deafd50cc031ca257e0b194a650a912090f");
  EXPECT_EQ(hex32(eip712_digest(data)), "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");

  // Without an EIP712Domain type the domain type is derived from the keys present.
  auto derived = data;
  derived.types.erase("EIP712Domain");
  EXPECT_EQ(hex32(eip712_digest(derived)), "0xbe609aee343fb3c4b28e1df9e632fca64fcfaede20f02e86244efddf30957bd2");
}

TEST(Eip712, ReportsErrors) {
  auto data = mail();
  data.message.as_object().erase("contents");
  EXPECT_EQ(hex32(eip712_digest(data)), "error: eip712_field_missing");

  data = mail();
  data.message.as_object()["from"].as_object()["wallet"] = "0xCD2a3d9F938E13CD947Ec05AbC7FE734Df8DD827";
  EXPECT_EQ(hex32(eip712_digest(data)), "error: eip712_value_invalid");

  data = mail();
  data.types["Mail"].push_back({"extra", "Missing"});
  EXPECT_EQ(hex32(eip712_digest(data)), "error: eip712_type_unknown");

  data = mail();
  data.types["Person"].push_back({"friend", "Mail[]"});
  EXPECT_EQ(hex32(eip712_digest(data)), "error: eip712_types_invalid");

  data = mail();
  data.types["Person"].push_back({"name", "string"});
  EXPECT_EQ(hex32(eip712_digest(data)), "error: eip712_types_invalid");

  Eip712Types small{{"T", {{"a", "uint8"}, {"b", "int8"}, {"c", "bytes2"}, {"d", "uint8[2]"}}}};
  const auto value = [](std::string_view json) { return boost::json::parse(json); };
  EXPECT_TRUE(eip712_hash_struct(small, "T", value(R"({"a": 255, "b": "-128", "c": "0x0102", "d": [1, "0x2"]})")));
  EXPECT_EQ(eip712_hash_struct(small, "T", value(R"({"a": 256, "b": 0, "c": "0x0102", "d": [1, 2]})")).error(),
            Eip712Errc::value_invalid);
  EXPECT_EQ(eip712_hash_struct(small, "T", value(R"({"a": 1, "b": -129, "c": "0x0102", "d": [1, 2]})")).error(),
            Eip712Errc::value_invalid);
  EXPECT_EQ(eip712_hash_struct(small, "T", value(R"({"a": 1, "b": 0, "c": "0x01", "d": [1, 2]})")).error(),
            Eip712Errc::value_invalid);
  EXPECT_EQ(eip712_hash_struct(small, "T", value(R"({"a": 1, "b": 0, "c": "0x0102", "d": [1]})")).error(),
            Eip712Errc::value_invalid);
  EXPECT_EQ(eip712_hash_struct(Eip712Types{{"T", {{"a", "uint7"}}}}, "T", value(R"({"a": 1})")).error(),
            Eip712Errc::types_invalid);
  EXPECT_FALSE(parse_typed_data(value(R"({"types": {}, "primaryType": "X", "domain": {}, "message": {}})")));
  auto bad_domain = mail();
  bad_domain.types.erase("EIP712Domain");
  bad_domain.domain["color"] = "red";
  EXPECT_EQ(hex32(eip712_digest(bad_domain)), "error: eip712_malformed");
}

// Random corruptions of the Mail document must fail cleanly or hash (run under ASan/UBSan).
TEST(Eip712, SurvivesRandomInput) {
  std::mt19937_64 rng(712);
  const std::string alphabet = "[]0123456789{}\":,uintbytesPersonMail ";
  int parsed_ok = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text(mail_json);
    for (int k = static_cast<int>(rng() % 3); k >= 0; --k)
      text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    boost::system::error_code ec;
    auto json = boost::json::parse(text, ec);
    if (ec) continue;
    auto doc = parse_typed_data(json);
    if (!doc) continue;
    ++parsed_ok;
    (void)eip712_digest(*doc);
  }
  EXPECT_GT(parsed_ok, 10);
}

// ---- conformance against ethers' TypedDataEncoder (tests/vectors/families/eip712.mjs) ---------

TEST(Eip712Vectors, MatchEthersTypedDataEncoder) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("eip712", seed));
  const auto vectors = testing::run_vectors("eip712", 1200, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_GE(cases.size(), 1000U);
  std::map<std::string, int> seen;
  for (const auto& item : cases) {
    const auto& c = item.as_object();
    const std::string context = boost::json::serialize(c).substr(0, 4000);
    auto doc = parse_typed_data(c.at("doc"));
    if (const auto* code = c.if_contains("code")) {
      ++seen[std::string(code->as_string())];
      Expected<Hash32, Eip712Errc> digest = doc ? eip712_digest(*doc) : Expected<Hash32, Eip712Errc>(doc.error());
      ASSERT_FALSE(digest) << context;
      EXPECT_EQ(std::string(to_string(digest.error())), code->as_string()) << context;
      continue;
    }
    ++seen["ok"];
    ASSERT_TRUE(doc) << to_string(doc.error()) << "\n" << context;
    auto encode_type = eip712_encode_type(doc->types, doc->primary_type);
    ASSERT_TRUE(encode_type) << to_string(encode_type.error()) << "\n" << context;
    EXPECT_EQ(*encode_type, c.at("encodeType").as_string()) << context;
    EXPECT_EQ(hex32(eip712_type_hash(doc->types, doc->primary_type)), c.at("typeHash").as_string()) << context;
    EXPECT_EQ(hex32(eip712_hash_struct(doc->types, doc->primary_type, doc->message)), c.at("hashStruct").as_string())
        << context;
    EXPECT_EQ(hex32(eip712_domain_separator(*doc)), c.at("domainSeparator").as_string()) << context;
    EXPECT_EQ(hex32(eip712_digest(*doc)), c.at("digest").as_string()) << context;
  }
  EXPECT_GT(seen["ok"], 500);
  EXPECT_GT(seen["eip712_value_invalid"], 50);
  EXPECT_GT(seen["eip712_field_missing"], 20);
  EXPECT_GT(seen["eip712_type_unknown"], 20);
  EXPECT_GT(seen["eip712_types_invalid"], 20);
}

TEST(Eip712, EachKindOfBadDocumentHasItsCode) {
  EXPECT_EQ(parse_typed_data(boost::json::parse(R"({"types": {}})")).error(), Eip712Errc::malformed);
  EXPECT_EQ(parse_typed_data(boost::json::parse(R"({"types": {"T": [{"name": "a", "type": "Nope"}]},
      "primaryType": "T", "domain": {}, "message": {}})"))
                .error(),
            Eip712Errc::type_unknown);
  EXPECT_EQ(parse_typed_data(boost::json::parse(R"({"types": {"T": [{"name": "a", "type": "uint8"}]},
      "primaryType": "U", "domain": {}, "message": {}})"))
                .error(),
            Eip712Errc::type_unknown);
  const Eip712Types t{{"T", {{"a", "uint8"}, {"b", "string"}}}};
  EXPECT_EQ(eip712_hash_struct(t, "T", boost::json::parse(R"({"a": 1})")).error(), Eip712Errc::field_missing);
  EXPECT_EQ(eip712_check_types(Eip712Types{{"T", {{"a", "uint8"}, {"a", "uint8"}}}}).error(),
            Eip712Errc::types_invalid);
  EXPECT_EQ(eip712_check_types(Eip712Types{{"T", {{"a", "T"}}}}).error(), Eip712Errc::types_invalid);
}

TEST(Eip712, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(Eip712Errc::malformed), "eip712_malformed");
  EXPECT_STREQ(to_string(Eip712Errc::type_unknown), "eip712_type_unknown");
  EXPECT_STREQ(to_string(Eip712Errc::types_invalid), "eip712_types_invalid");
  EXPECT_STREQ(to_string(Eip712Errc::field_missing), "eip712_field_missing");
  EXPECT_STREQ(to_string(Eip712Errc::value_invalid), "eip712_value_invalid");
}

}  // namespace
}  // namespace gh::eth
