#include "eth/abi.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <random>

#include "eth/hex.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

AbiType type(std::string_view text) {
  auto t = parse_abi_type(text);
  EXPECT_TRUE(t) << text << ": " << (t ? "" : to_string(t.error()));
  return t ? *t : AbiType{};
}

Hash32 h32(std::string_view text) {
  return *fixed_from_hex<32>(text);
}

TEST(Abi, ParsesTypeGrammar) {
  EXPECT_EQ(type("(uint8,(bool,string)[2])[]").canonical(), "(uint8,(bool,string)[2])[]");
  EXPECT_TRUE(type("(uint8,(bool,string)[2])[]").is_dynamic());
  EXPECT_EQ(type("uint").canonical(), "uint256");
  EXPECT_EQ(type("int").canonical(), "int256");
  EXPECT_EQ(type("bytes32[3][]").canonical(), "bytes32[3][]");
  EXPECT_EQ(type("(uint256,address)[2]").head_size(), 128U);
  EXPECT_FALSE(type("(uint256,address)[2]").is_dynamic());
  EXPECT_EQ(type("()").canonical(), "()");
  EXPECT_EQ(type("tuple(uint256,tuple(bool)[])[2]").canonical(), "(uint256,(bool)[])[2]");
  for (std::string_view bad : {"", "uint7", "uint264", "int0", "bytes0", "bytes33", "uint08", "tuple", "(uint256",
                               "(uint256,)", "uint256[", "uint256[0]", "uint256[01]", "uint256]", "address payable",
                               "string[2000000]", "uint256[1048576][1048576]", "Uint256"}) {
    auto t = parse_abi_type(bad);
    EXPECT_FALSE(t) << bad;
    if (!t) {
      EXPECT_EQ(t.error(), AbiErrc::type_invalid);
    }
  }
  std::string deep;
  for (int i = 0; i < 40; ++i) deep += "(";
  deep += "uint8";
  for (int i = 0; i < 40; ++i) deep += ")";
  EXPECT_FALSE(parse_abi_type(deep));
}

TEST(Abi, EncodesSignedIntegersInTwosComplement) {
  auto enc = abi_encode({type("int8"), type("int256")}, {AbiValue::sint(128, true), AbiValue::sint(1, true)});
  ASSERT_TRUE(enc);
  EXPECT_EQ(to_hex(*enc), "0x" + std::string(62, 'f') + "80" + std::string(64, 'f'));
  auto back = abi_decode({type("int8"), type("int256")}, *enc);
  ASSERT_TRUE(back);
  EXPECT_EQ((*back)[0], AbiValue::sint(128, true));
  EXPECT_EQ(abi_encode({type("int8")}, {AbiValue::sint(128, false)}).error(), AbiErrc::value_out_of_range);
  EXPECT_EQ(abi_encode({type("int8")}, {AbiValue::sint(129, true)}).error(), AbiErrc::value_out_of_range);
  EXPECT_EQ(abi_encode({type("uint8")}, {AbiValue::uint(256)}).error(), AbiErrc::value_out_of_range);
  EXPECT_EQ(abi_encode({type("uint8")}, {AbiValue::sint(1, true)}).error(), AbiErrc::value_out_of_range);
  EXPECT_EQ(abi_encode({type("uint8")}, {AbiValue::boolean(true)}).error(), AbiErrc::value_invalid);
  EXPECT_EQ(abi_encode({type("bytes2")}, {AbiValue::bytes({1})}).error(), AbiErrc::value_invalid);
}

TEST(Abi, DecodeRejectsHostileData) {
  const std::string offset = "0000000000000000000000000000000000000000000000000000000000000020";
  const auto decode = [](std::string_view types, std::string_view hex) {
    auto t = parse_abi_signature(std::string("f(") + std::string(types) + ")");
    auto data = from_hex(hex);
    auto r = abi_decode(t->types(), *data);
    return r ? std::string("ok") : std::string(to_string(r.error()));
  };
  // A length of 2^53-1 and a length of 2^256-1 are refused before any allocation.
  EXPECT_EQ(decode("bytes", offset + "00000000000000000000000000000000000000000000000000" + "1fffffffffffff"),
            "abi_out_of_bounds");
  EXPECT_EQ(decode("uint256[]", offset + std::string(64, 'f')), "abi_offset_invalid");
  EXPECT_EQ(decode("uint256[]", offset + std::string(62, '0') + "03" + std::string(64, '0')), "abi_length_invalid");
  EXPECT_EQ(decode("bool", std::string(62, '0') + "02"), "abi_non_canonical");
  EXPECT_EQ(decode("address", std::string(64, '1')), "abi_non_canonical");
  EXPECT_EQ(decode("uint8", std::string(60, '0') + "0100"), "abi_non_canonical");
  EXPECT_EQ(decode("int8", std::string(62, '0') + "80"), "abi_non_canonical");
  EXPECT_EQ(decode("bytes1", "01" + std::string(60, '0') + "01"), "abi_non_canonical");
  EXPECT_EQ(decode("string", offset + std::string(62, '0') + "01" + "ff" + std::string(62, '0')), "abi_invalid_utf8");
  EXPECT_EQ(decode("string", offset + std::string(62, '0') + "01" + "61" + std::string(61, '0') + "1"),
            "abi_non_canonical");
  EXPECT_EQ(decode("uint256", std::string(62, '0')), "abi_out_of_bounds");
  // 300 offsets aliasing one 300-element array would decode to far more than the input.
  const auto word_hex = [](std::size_t v) {
    std::string h = to_hex(U256(v).to_be_bytes().view(), false);
    return h;
  };
  const std::size_t n = 300;
  std::string hostile = word_hex(32) + word_hex(n);
  for (std::size_t i = 0; i < n; ++i) hostile += word_hex(32 * n);  // all point at the inner array
  hostile += word_hex(n) + std::string(64 * n, '0');
  EXPECT_EQ(decode("uint256[][]", hostile), "abi_too_large");
}

TEST(Abi, SelectorsAndTopics) {
  EXPECT_EQ(to_hex(function_selector("transfer(address,uint256)")->view()), "0xa9059cbb");
  EXPECT_EQ(to_hex(function_selector("function transfer(address to, uint amount)")->view()), "0xa9059cbb");
  EXPECT_EQ(to_hex(event_topic("Transfer(address indexed from, address indexed to, uint256 value)")->view()),
            "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
  auto sig = parse_abi_signature("f((uint256 a, bool b)[] items, string memory s)");
  ASSERT_TRUE(sig) << to_string(sig.error());
  EXPECT_EQ(sig->canonical(), "f((uint256,bool)[],string)");
  EXPECT_EQ(sig->params[0].name, "items");
  EXPECT_EQ(sig->params[0].type.components.front().names[1], "b");
  EXPECT_FALSE(parse_abi_signature("f(uint256 a b c)"));
  EXPECT_FALSE(parse_abi_signature("f(uint256"));
  EXPECT_FALSE(parse_abi_signature("(uint256)"));

  auto call = encode_function_call(
      *parse_abi_signature("transfer(address,uint256)"),
      {AbiValue::address(*parse_address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")), AbiValue::uint(1000)});
  ASSERT_TRUE(call);
  EXPECT_EQ(to_hex(*call),
            "0xa9059cbb000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2"
            "00000000000000000000000000000000000000000000000000000000000003e8");
}

TEST(Abi, DecodesUniswapV2Swap) {
  // Log computed by ethers 6 Interface.encodeEventLog.
  auto swap = parse_abi_signature(
      "Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, uint amount1Out, "
      "address indexed to)");
  ASSERT_TRUE(swap);
  EXPECT_EQ(to_hex(event_topic(*swap).view()), "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822");
  const std::vector<Hash32> topics{h32("0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822"),
                                   h32("0x0000000000000000000000007a250d5630b4cf539739df2c5dacb4c659f2488d"),
                                   h32("0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")};
  const auto data = *from_hex(
      "0x0000000000000000000000000000000000000000000000000de0b6b3a7640000"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000000000000"
      "0000000000000000000000000000000000000000000000000000000095d04e95");
  auto log = decode_event_log(*swap, topics, data);
  ASSERT_TRUE(log) << to_string(log.error());
  ASSERT_EQ(log->size(), 6U);
  EXPECT_EQ((*log)[0].name, "sender");
  EXPECT_EQ((*log)[0].value, AbiValue::address(*parse_address("0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D")));
  EXPECT_EQ((*log)[1].value, AbiValue::uint(*U256::from_dec("1000000000000000000")));
  EXPECT_EQ((*log)[4].value, AbiValue::uint(2513456789));
  EXPECT_EQ((*log)[5].value, AbiValue::address(*parse_address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")));

  auto wrong_count = decode_event_log(*swap, {topics[0], topics[1]}, data);
  ASSERT_FALSE(wrong_count);
  EXPECT_EQ(wrong_count.error(), AbiErrc::log_mismatch);
  auto wrong_topic = decode_event_log(*swap, {topics[1], topics[1], topics[2]}, data);
  ASSERT_FALSE(wrong_topic);
  EXPECT_EQ(wrong_topic.error(), AbiErrc::log_mismatch);

  // The same event as an ABI JSON fragment.
  auto fragment = boost::json::parse(R"({"type":"event","name":"Swap","anonymous":false,"inputs":[
      {"indexed":true,"name":"sender","type":"address"},{"indexed":false,"name":"amount0In","type":"uint256"},
      {"indexed":false,"name":"amount1In","type":"uint256"},{"indexed":false,"name":"amount0Out","type":"uint256"},
      {"indexed":false,"name":"amount1Out","type":"uint256"},{"indexed":true,"name":"to","type":"address"}]})");
  auto from_json = abi_signature_from_json(fragment);
  ASSERT_TRUE(from_json);
  EXPECT_EQ(from_json->canonical(), swap->canonical());
  auto again = decode_event_log(*from_json, topics, data);
  ASSERT_TRUE(again);
  EXPECT_EQ((*again)[4].value, AbiValue::uint(2513456789));
}

TEST(Abi, RendersValuesAsJson) {
  const auto t = type("(int16,address,bytes2,string,bool[])");
  auto v = abi_value_from_json(
      t,
      boost::json::parse(R"(["-300", "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2", "0xbeef", "hi", [true, false]])"));
  ASSERT_TRUE(v) << to_string(v.error());
  EXPECT_EQ(boost::json::serialize(abi_value_to_json(t, *v)),
            R"(["-300","0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2","0xbeef","hi",[true,false]])");
  EXPECT_FALSE(abi_value_from_json(type("int8"), boost::json::parse("\"-129\"")));
  EXPECT_FALSE(abi_value_from_json(type("uint8[2]"), boost::json::parse("[1]")));
}

// Random corruptions of type strings and of data: whatever is accepted is consistent with the
// encoder (a parsed type re-parses from its canonical text to the same type; decoded values encode
// and decode back to themselves), and both outcomes occur, so the loop exercises something. Runs
// under ASan/UBSan in the debug build; tests/fuzz/abi_fuzz.cpp explores the same much further.
TEST(Abi, RandomInputIsRejectedOrConsistent) {
  std::mt19937_64 rng(12345);
  const std::vector<std::string> type_texts{"(uint8,(bool,string)[2])[]", "bytes[][3]", "(string,(bytes,uint256[])[])",
                                            "int24[]", "address"};
  int types_accepted = 0, types_rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text = type_texts[rng() % type_texts.size()];
    for (int k = static_cast<int>(rng() % 3); k >= 0; --k) {
      text[rng() % text.size()] = "()[],0123456789abcdeintuyg "[rng() % 27];
    }
    const auto parsed = parse_abi_type(text);
    if (!parsed) {
      ++types_rejected;
      continue;
    }
    ++types_accepted;
    const auto again = parse_abi_type(parsed->canonical());
    ASSERT_TRUE(again) << text << " -> " << parsed->canonical();
    EXPECT_EQ(*again, *parsed) << text;
    const auto signature = parse_abi_signature("f(" + text + " x)");
    ASSERT_TRUE(signature) << text;
    EXPECT_EQ(signature->canonical(), "f(" + parsed->canonical() + ")");
  }
  EXPECT_GT(types_accepted, 0);
  EXPECT_GT(types_rejected, 0);

  // Data: a valid encoding with a few bytes overwritten, sometimes truncated or extended.
  const auto types = parse_abi_signature("f((uint8,(bool,string)[2])[],bytes,int24[3])")->types();
  const auto inner = [](std::uint64_t n, const std::string& text) {
    return AbiValue::list(
        {AbiValue::uint(n), AbiValue::list({AbiValue::list({AbiValue::boolean(true), AbiValue::string(text)}),
                                            AbiValue::list({AbiValue::boolean(false), AbiValue::string("")})})});
  };
  const auto valid = abi_encode(
      types, {AbiValue::list({inner(7, "hello"), inner(255, "gatehouse")}), AbiValue::bytes({1, 2, 3}),
              AbiValue::list({AbiValue::sint(5, true), AbiValue::sint(0, false), AbiValue::sint(8388607, false)})});
  ASSERT_TRUE(valid);
  int decoded = 0, failed = 0;
  for (int i = 0; i < 3000; ++i) {
    Bytes data = *valid;
    for (int k = static_cast<int>(rng() % 4); k > 0; --k) data[rng() % data.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 8 == 0) data.resize(rng() % (data.size() + 64));
    const auto values = abi_decode(types, data);
    if (!values) {
      ++failed;
      continue;
    }
    ++decoded;
    const auto encoded = abi_encode(types, *values);
    ASSERT_TRUE(encoded) << to_hex(data);
    const auto back = abi_decode(types, *encoded);
    ASSERT_TRUE(back) << to_hex(*encoded);
    EXPECT_EQ(*back, *values) << to_hex(data);
  }
  EXPECT_GT(failed, 0);
  EXPECT_GT(decoded, 0);
}

// ---- conformance against ethers (tests/vectors/families/abi.mjs) ---------------------------------

std::vector<AbiType> types_of(const boost::json::value& list) {
  std::vector<AbiType> out;
  for (const auto& t : list.as_array()) out.push_back(type(t.as_string()));
  return out;
}

TEST(AbiVectors, MatchEthers) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("abi", seed));
  const auto vectors = testing::run_vectors("abi", 1500, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_GE(cases.size(), 1000U);
  std::map<std::string, int> seen;
  for (const auto& item : cases) {
    const auto& c = item.as_object();
    const std::string kind(c.at("kind").as_string());
    const std::string context = boost::json::serialize(c).substr(0, 3000);
    ++seen[kind];
    if (kind == "encode") {
      const auto types = types_of(c.at("types"));
      AbiValues values;
      const auto& json_values = c.at("values").as_array();
      for (std::size_t i = 0; i < types.size(); ++i) {
        auto v = abi_value_from_json(types[i], json_values[i]);
        ASSERT_TRUE(v) << to_string(v.error()) << "\n" << context;
        values.push_back(std::move(*v));
      }
      auto encoded = abi_encode(types, values);
      ASSERT_TRUE(encoded) << to_string(encoded.error()) << "\n" << context;
      EXPECT_EQ(to_hex(*encoded), c.at("encoded").as_string()) << context;
      auto decoded = abi_decode(types, *encoded);
      ASSERT_TRUE(decoded) << to_string(decoded.error()) << "\n" << context;
      EXPECT_EQ(*decoded, values) << context;
    } else if (kind == "decode") {
      const auto types = types_of(c.at("types"));
      const auto data = *from_hex(c.at("data").as_string());
      const std::string expect(c.at("expect").as_string());
      auto decoded = abi_decode(types, data);
      ++seen["decode:" + expect];
      if (expect == "reject") {
        EXPECT_FALSE(decoded) << context;
        continue;
      }
      if (!decoded) {
        EXPECT_EQ(expect, "ok_or_strict") << to_string(decoded.error()) << "\n" << context;
        EXPECT_EQ(decoded.error(), AbiErrc::non_canonical) << to_string(decoded.error()) << "\n" << context;
        continue;
      }
      auto again = abi_encode(types, *decoded);
      ASSERT_TRUE(again) << context;
      EXPECT_EQ(to_hex(*again), c.at("canonical").as_string()) << context;
    } else if (kind == "signature") {
      auto sig = parse_abi_signature(c.at("signature").as_string());
      ASSERT_TRUE(sig) << to_string(sig.error()) << "\n" << context;
      EXPECT_EQ(sig->canonical(), c.at("canonical").as_string()) << context;
      EXPECT_EQ(to_hex(function_selector(*sig).view()), c.at("selector").as_string()) << context;
      EXPECT_EQ(to_hex(event_topic(*sig).view()), c.at("topic").as_string()) << context;
    } else if (kind == "log") {
      auto from_text = parse_abi_signature(c.at("event").as_string());
      ASSERT_TRUE(from_text) << to_string(from_text.error()) << "\n" << context;
      auto event = abi_signature_from_json(c.at("fragment"));
      ASSERT_TRUE(event) << to_string(event.error()) << "\n" << context;
      EXPECT_EQ(event->canonical(), from_text->canonical()) << context;
      EXPECT_EQ(event->anonymous, from_text->anonymous) << context;
      std::vector<Hash32> topics;
      for (const auto& t : c.at("topics").as_array()) topics.push_back(h32(t.as_string()));
      auto log = decode_event_log(*event, topics, *from_hex(c.at("data").as_string()));
      ASSERT_TRUE(log) << to_string(log.error()) << "\n" << context;
      const auto& values = c.at("values").as_array();
      std::size_t topic = event->anonymous ? 0 : 1;
      for (std::size_t i = 0; i < event->params.size(); ++i) {
        const auto& p = event->params[i];
        const auto& got = (*log)[i];
        if (got.hashed) {
          EXPECT_EQ(got.value, AbiValue::bytes(to_bytes(topics[topic].view()))) << context;
        } else {
          auto want = abi_value_from_json(p.type, values[i]);
          ASSERT_TRUE(want) << context;
          EXPECT_EQ(got.value, *want) << context;
        }
        if (p.indexed) ++topic;
      }
    }
  }
  EXPECT_GT(seen["encode"], 300);
  EXPECT_GT(seen["decode:reject"], 100);
  EXPECT_GT(seen["decode:ok"], 50);
  EXPECT_GT(seen["signature"], 50);
  EXPECT_GT(seen["log"], 50);
}

TEST(Abi, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(AbiErrc::type_invalid), "abi_type_invalid");
  EXPECT_STREQ(to_string(AbiErrc::signature_invalid), "abi_signature_invalid");
  EXPECT_STREQ(to_string(AbiErrc::value_invalid), "abi_value_invalid");
  EXPECT_STREQ(to_string(AbiErrc::value_out_of_range), "abi_value_out_of_range");
  EXPECT_STREQ(to_string(AbiErrc::too_large), "abi_too_large");
  EXPECT_STREQ(to_string(AbiErrc::out_of_bounds), "abi_out_of_bounds");
  EXPECT_STREQ(to_string(AbiErrc::offset_invalid), "abi_offset_invalid");
  EXPECT_STREQ(to_string(AbiErrc::length_invalid), "abi_length_invalid");
  EXPECT_STREQ(to_string(AbiErrc::invalid_utf8), "abi_invalid_utf8");
  EXPECT_STREQ(to_string(AbiErrc::non_canonical), "abi_non_canonical");
  EXPECT_STREQ(to_string(AbiErrc::log_mismatch), "abi_log_mismatch");
}

}  // namespace
}  // namespace gh::eth
