// The gate rule language: parse (with the path of the bad node), render back, evaluate with the
// unmet leaves; roles, permissions and names.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "community/model.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;
using eth::U256;

const char* token = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const char* nft = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512";
const char* multi = "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0";
const char* stake = "0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9";

eth::Address address(const char* text) {
  return *eth::parse_address(text);
}

GateNode parse_ok(std::string_view text) {
  auto g = parse_gate(json::parse(text));
  EXPECT_TRUE(g) << text << " -> " << (g ? "" : g.error().message);
  return g ? *g : GateNode{};
}

std::string parse_err(std::string_view text) {
  auto g = parse_gate(json::parse(text));
  EXPECT_FALSE(g) << text;
  if (g) return "";
  EXPECT_EQ(g.error().code, "invalid_gate");
  EXPECT_EQ(g.error().kind, ErrorKind::bad_input);
  return g.error().message;
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string erc20(std::string_view min) {
  return fmt::format(R"({{"erc20":{{"chain_id":31337,"contract":"{}","min":"{}"}}}})", token, min);
}

TEST(Gate, ParsesEveryLeafKindAndRendersBack) {
  const std::string text = fmt::format(
      R"({{"all":[{},{{"any":[{{"erc721":{{"chain_id":31337,"contract":"{}"}}}},{{"erc721":{{"chain_id":31337,"contract":"{}","token_ids":["7","9"],"min":"2"}}}}]}},{{"at_least":2,"of":[{{"erc1155":{{"chain_id":1,"contract":"{}","token_id":"3","min":"5"}}}},{{"staked":{{"chain_id":31337,"contract":"{}","min":"1000"}}}},{}]}}]}})",
      erc20("100"), nft, nft, multi, stake, erc20("1"));
  auto g = parse_ok(text);
  ASSERT_EQ(g.op, GateNode::Op::all);
  ASSERT_EQ(g.children.size(), 3U);
  EXPECT_EQ(g.children[0].leaf.kind, LeafKind::erc20);
  EXPECT_EQ(g.children[0].leaf.min, U256(100));
  EXPECT_EQ(g.children[1].op, GateNode::Op::any);
  EXPECT_EQ(g.children[1].children[0].leaf.min, U256(1));  // erc721 defaults to one token
  EXPECT_EQ(g.children[1].children[1].leaf.token_ids.size(), 2U);
  EXPECT_EQ(g.children[2].op, GateNode::Op::at_least);
  EXPECT_EQ(g.children[2].at_least, 2U);
  EXPECT_EQ(g.children[2].children[0].leaf.token_id, U256(3));
  EXPECT_EQ(g.children[2].children[0].leaf.chain_id, 1U);
  EXPECT_EQ(g.children[2].children[1].leaf.kind, LeafKind::staked);

  // Rendered canonically (checksummed, decimal strings), and stable through another round.
  const auto rendered = render_gate(g);
  auto again = parse_gate(rendered);
  ASSERT_TRUE(again);
  EXPECT_EQ(json::serialize(render_gate(*again)), json::serialize(rendered));
  EXPECT_EQ(rendered.at("all").at(1).at("any").at(0).at("erc721").at("min").as_string(), "1");
  EXPECT_EQ(rendered.at("all").at(2).at("at_least").as_int64(), 2);
}

TEST(Gate, AcceptsNumbersForAmountsAndLowercaseAddresses) {
  auto g = parse_ok(R"({"erc20":{"chain_id":1,"contract":"0x5fbdb2315678afecb367f032d93f642f64180aa3","min":42}})");
  EXPECT_EQ(g.leaf.min, U256(42));
  EXPECT_EQ(json::serialize(render_gate(g)),
            R"({"erc20":{"chain_id":1,"contract":"0x5FbDB2315678afecb367f032d93F642f64180aa3","min":"42"}})");
}

TEST(Gate, NamesThePathOfTheBadNode) {
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"all":[{},{}]}})", erc20("1"), erc20("x"))), "gate.all[1].erc20.min: "));
  EXPECT_TRUE(starts_with(
      parse_err(fmt::format(R"({{"any":[{},{{"all":[{{"erc20":{{"chain_id":1,"contract":"0x12","min":"1"}}}}]}}]}})",
                            erc20("1"))),
      "gate.any[1].all[0].erc20.contract: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"at_least":1,"of":[{},{{"nope":{{}}}}]}})", erc20("1"))),
                          "gate.of[1]: unknown gate node"));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"at_least":3,"of":[{},{}]}})", erc20("1"), erc20("2"))),
                          "gate.at_least: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"at_least":0,"of":[{}]}})", erc20("1"))), "gate.at_least: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"at_least":"1","of":[{}]}})", erc20("1"))), "gate.at_least: "));
  EXPECT_TRUE(starts_with(parse_err(R"({"at_least":1})"), "gate: "));
  EXPECT_TRUE(starts_with(parse_err(R"({"at_least":1,"of":[]})"), "gate.of: must not be empty"));
}

TEST(Gate, RefusesBadShapes) {
  EXPECT_TRUE(starts_with(parse_err("[]"), "gate: a gate node must be an object"));
  EXPECT_TRUE(starts_with(parse_err("{}"), "gate: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"all":[{}],"any":[{}]}})", erc20("1"), erc20("1"))), "gate: "));
  EXPECT_TRUE(starts_with(parse_err(R"({"all":{}})"), "gate.all: must be an array"));
  EXPECT_TRUE(starts_with(parse_err(R"({"all":[]})"), "gate.all: must not be empty"));
  EXPECT_TRUE(starts_with(parse_err(R"({"all":[3]})"), "gate.all[0]: a gate node must be an object"));
  EXPECT_TRUE(starts_with(parse_err(R"({"erc20":"x"})"), "gate.erc20: must be an object"));
}

TEST(Gate, RefusesBadLeaves) {
  const std::string c = fmt::format(R"("contract":"{}")", token);
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{{},"min":"1"}}}})", c)), "gate.erc20.chain_id: is required"));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":0,{},"min":"1"}}}})", c)), "gate.erc20.chain_id: "));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":-3,{},"min":"1"}}}})", c)), "gate.erc20.chain_id: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":"1",{},"min":"1"}}}})", c)),
                          "gate.erc20.chain_id: "));
  EXPECT_TRUE(starts_with(parse_err(R"({"erc20":{"chain_id":1,"min":"1"}})"), "gate.erc20.contract: is required"));
  EXPECT_TRUE(starts_with(parse_err(R"({"erc20":{"chain_id":1,"contract":5,"min":"1"}})"), "gate.erc20.contract: "));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":1,{}}}}})", c)), "gate.erc20.min: is required"));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"staked":{{"chain_id":1,{}}}}})", c)), "gate.staked.min: is required"));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":1,{},"min":"0"}}}})", c)), "gate.erc20.min: "));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":1,{},"min":-1}}}})", c)), "gate.erc20.min: "));
  EXPECT_TRUE(
      starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":1,{},"min":"1.5"}}}})", c)), "gate.erc20.min: "));
  EXPECT_TRUE(starts_with(
      parse_err(fmt::format(R"({{"erc20":{{"chain_id":1,{},"min":"{}"}}}})", c,
                            "115792089237316195423570985008687907853269984665640564039457584007913129639936")),
      "gate.erc20.min: is larger"));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc20":{{"chain_id":1,{},"min":"1","token_id":"1"}}}})", c)),
                          "gate.erc20: unknown field 'token_id'"));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc1155":{{"chain_id":1,{},"min":"1"}}}})", c)),
                          "gate.erc1155.token_id: is required"));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc721":{{"chain_id":1,{},"token_ids":[]}}}})", c)),
                          "gate.erc721.token_ids: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc721":{{"chain_id":1,{},"token_ids":["1","x"]}}}})", c)),
                          "gate.erc721.token_ids[1]: "));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc721":{{"chain_id":1,{},"token_ids":["1","1"]}}}})", c)),
                          "gate.erc721.token_ids[1]: is listed twice"));
  EXPECT_TRUE(starts_with(parse_err(fmt::format(R"({{"erc721":{{"chain_id":1,{},"token_ids":["1"],"min":2}}}})", c)),
                          "gate.erc721.min: "));
}

TEST(Gate, BoundsDepthAndSize) {
  std::string deep = erc20("1");
  for (int i = 0; i < 6; ++i) deep = "{\"all\":[" + deep + "]}";
  EXPECT_NE(parse_err(deep).find("nested deeper"), std::string::npos);
  std::string wide = "{\"any\":[";
  for (int i = 0; i < 33; ++i) wide += (i ? "," : "") + erc20("1");
  wide += "]}";
  EXPECT_TRUE(starts_with(parse_err(wide), "gate.any: has more than 32"));
  std::string many = "{\"all\":[";
  for (int i = 0; i < 3; ++i) {
    many += i ? "," : "";
    many += "{\"any\":[";
    for (int j = 0; j < 30; ++j) many += (j ? "," : "") + erc20("1");
    many += "]}";
  }
  many += "]}";
  EXPECT_NE(parse_err(many).find("more than 64 nodes"), std::string::npos);
}

HoldingKey key(LeafKind kind, const char* contract, std::optional<std::uint64_t> id = std::nullopt) {
  HoldingKey k{kind, 31337, address(contract), std::nullopt};
  if (id) k.token_id = U256(*id);
  return k;
}

TEST(Gate, CollectsTheKeysToRead) {
  auto g = parse_ok(fmt::format(
      R"({{"any":[{},{},{{"erc721":{{"chain_id":31337,"contract":"{}","token_ids":["4","5"]}}}},{{"erc1155":{{"chain_id":31337,"contract":"{}","token_id":"2"}}}}]}})",
      erc20("1"), erc20("5"), nft, multi));
  auto keys = holding_keys(g);
  ASSERT_EQ(keys.size(), 4U);  // the two erc20 leaves share one read
  EXPECT_EQ(keys.count(key(LeafKind::erc20, token)), 1U);
  EXPECT_EQ(keys.count(key(LeafKind::erc721, nft, 4)), 1U);
  EXPECT_EQ(keys.count(key(LeafKind::erc721, nft, 5)), 1U);
  EXPECT_EQ(keys.count(key(LeafKind::erc1155, multi, 2)), 1U);
}

TEST(Gate, EvaluatesLeavesWithRequiredAndHeld) {
  auto g = parse_ok(erc20("100"));
  Holdings h{{key(LeafKind::erc20, token), U256(99)}};
  auto e = evaluate(g, h);
  EXPECT_FALSE(e.passed);
  ASSERT_EQ(e.unmet.size(), 1U);
  EXPECT_EQ(e.unmet[0].path, "gate");
  EXPECT_EQ(e.unmet[0].required, U256(100));
  EXPECT_EQ(e.unmet[0].held, U256(99));
  h[key(LeafKind::erc20, token)] = U256(100);
  EXPECT_TRUE(evaluate(g, h).passed);
  EXPECT_TRUE(evaluate(g, h).unmet.empty());
  EXPECT_FALSE(evaluate(g, Holdings{}).passed);  // nothing read counts as zero

  auto ids = parse_ok(
      fmt::format(R"({{"erc721":{{"chain_id":31337,"contract":"{}","token_ids":["4","5","6"],"min":"2"}}}})", nft));
  Holdings owned{{key(LeafKind::erc721, nft, 4), U256(1)}, {key(LeafKind::erc721, nft, 9), U256(1)}};
  auto ev = evaluate(ids, owned);
  EXPECT_FALSE(ev.passed);
  ASSERT_EQ(ev.unmet.size(), 1U);
  EXPECT_EQ(ev.unmet[0].held, U256(1));
  EXPECT_EQ(ev.unmet[0].token_ids.size(), 3U);
  owned[key(LeafKind::erc721, nft, 6)] = U256(1);
  EXPECT_TRUE(evaluate(ids, owned).passed);

  auto any721 = parse_ok(fmt::format(R"({{"erc721":{{"chain_id":31337,"contract":"{}","min":3}}}})", nft));
  EXPECT_FALSE(evaluate(any721, Holdings{{key(LeafKind::erc721, nft), U256(2)}}).passed);
  EXPECT_TRUE(evaluate(any721, Holdings{{key(LeafKind::erc721, nft), U256(3)}}).passed);

  auto semi =
      parse_ok(fmt::format(R"({{"erc1155":{{"chain_id":31337,"contract":"{}","token_id":"2","min":"5"}}}})", multi));
  auto es = evaluate(
      semi, Holdings{{key(LeafKind::erc1155, multi, 2), U256(4)}, {key(LeafKind::erc1155, multi, 3), U256(9)}});
  EXPECT_FALSE(es.passed);
  ASSERT_EQ(es.unmet.size(), 1U);
  EXPECT_EQ(es.unmet[0].token_id, U256(2));
  EXPECT_TRUE(evaluate(semi, Holdings{{key(LeafKind::erc1155, multi, 2), U256(5)}}).passed);

  auto staked = parse_ok(fmt::format(R"({{"staked":{{"chain_id":31337,"contract":"{}","min":"10"}}}})", stake));
  EXPECT_FALSE(evaluate(staked, Holdings{{key(LeafKind::erc20, stake), U256(50)}}).passed);  // a balance is not a stake
  EXPECT_TRUE(evaluate(staked, Holdings{{key(LeafKind::staked, stake), U256(10)}}).passed);
}

TEST(Gate, CombinatorsReportTheUnmetLeavesOfFailingBranches) {
  const auto nft_leaf = fmt::format(R"({{"erc721":{{"chain_id":31337,"contract":"{}"}}}})", nft);
  const auto stake_leaf = fmt::format(R"({{"staked":{{"chain_id":31337,"contract":"{}","min":"10"}}}})", stake);
  auto all = parse_ok(fmt::format(R"({{"all":[{},{},{}]}})", erc20("5"), nft_leaf, stake_leaf));
  auto any = parse_ok(fmt::format(R"({{"any":[{},{},{}]}})", erc20("5"), nft_leaf, stake_leaf));
  auto two = parse_ok(fmt::format(R"({{"at_least":2,"of":[{},{},{}]}})", erc20("5"), nft_leaf, stake_leaf));

  Holdings none;
  Holdings one{{key(LeafKind::erc721, nft), U256(1)}};
  Holdings two_of{{key(LeafKind::erc721, nft), U256(1)}, {key(LeafKind::staked, stake), U256(10)}};
  Holdings every{{key(LeafKind::erc20, token), U256(5)},
                 {key(LeafKind::erc721, nft), U256(1)},
                 {key(LeafKind::staked, stake), U256(10)}};

  auto e = evaluate(all, one);
  EXPECT_FALSE(e.passed);
  ASSERT_EQ(e.unmet.size(), 2U);
  EXPECT_EQ(e.unmet[0].path, "gate.all[0]");
  EXPECT_EQ(e.unmet[1].path, "gate.all[2]");
  EXPECT_FALSE(evaluate(all, two_of).passed);
  EXPECT_TRUE(evaluate(all, every).passed);

  e = evaluate(any, none);
  EXPECT_FALSE(e.passed);
  EXPECT_EQ(e.unmet.size(), 3U);
  EXPECT_TRUE(evaluate(any, one).passed);

  e = evaluate(two, one);
  EXPECT_FALSE(e.passed);
  ASSERT_EQ(e.unmet.size(), 2U);
  EXPECT_EQ(e.unmet[0].path, "gate.of[0]");
  EXPECT_EQ(e.unmet[1].path, "gate.of[2]");
  EXPECT_TRUE(evaluate(two, two_of).passed);
  EXPECT_TRUE(evaluate(two, every).passed);

  // Nested: a passing inner branch contributes nothing to the report.
  auto nested = parse_ok(fmt::format(R"({{"all":[{{"any":[{},{}]}},{}]}})", erc20("5"), nft_leaf, stake_leaf));
  e = evaluate(nested, one);
  EXPECT_FALSE(e.passed);
  ASSERT_EQ(e.unmet.size(), 1U);
  EXPECT_EQ(e.unmet[0].path, "gate.all[1]");

  auto rendered = render_unmet(evaluate(all, none).unmet);
  ASSERT_EQ(rendered.size(), 3U);
  EXPECT_EQ(rendered[0].at("kind").as_string(), "erc20");
  EXPECT_EQ(rendered[0].at("contract").as_string(), token);
  EXPECT_EQ(rendered[0].at("required").as_string(), "5");
  EXPECT_EQ(rendered[0].at("held").as_string(), "0");
}

TEST(Roles, BuiltinsRankAndPermissions) {
  ASSERT_NE(find_builtin_role("owner"), nullptr);
  EXPECT_GT(find_builtin_role("owner")->rank, find_builtin_role("admin")->rank);
  EXPECT_GT(find_builtin_role("admin")->rank, find_builtin_role("moderator")->rank);
  EXPECT_GT(find_builtin_role("moderator")->rank, custom_role_rank);
  EXPECT_GT(custom_role_rank, find_builtin_role("member")->rank);
  EXPECT_TRUE(has(find_builtin_role("moderator")->permissions, Permission::kick_members));
  EXPECT_TRUE(has(find_builtin_role("moderator")->permissions, Permission::manage_messages));
  EXPECT_FALSE(has(find_builtin_role("moderator")->permissions, Permission::manage_roles));
  EXPECT_EQ(find_builtin_role("member")->permissions, 0U);
  EXPECT_EQ(find_builtin_role("nobody"), nullptr);
  EXPECT_EQ(parse_permission("ban_members"), Permission::ban_members);
  EXPECT_FALSE(parse_permission("root"));
  EXPECT_EQ(parse_permission("manage_messages"), Permission::manage_messages);
  EXPECT_TRUE(has(find_builtin_role("moderator")->permissions, Permission::mention_everyone));
  EXPECT_EQ(parse_permission("mention_everyone"), Permission::mention_everyone);
  EXPECT_TRUE(has(find_builtin_role("moderator")->permissions, Permission::view_audit_log));
  EXPECT_EQ(parse_permission("view_audit_log"), Permission::view_audit_log);
  EXPECT_TRUE(has(find_builtin_role("moderator")->permissions, Permission::pin_messages));
  EXPECT_EQ(parse_permission("pin_messages"), Permission::pin_messages);
  EXPECT_TRUE(has(find_builtin_role("moderator")->permissions, Permission::manage_nicknames));
  EXPECT_EQ(parse_permission("manage_nicknames"), Permission::manage_nicknames);
  EXPECT_EQ(permission_names(all_permissions()).size(), 10U);
}

TEST(Roles, TimeoutsDoNotHoldThoseWhoManageTheCommunity) {
  Standing s;
  s.member = true;
  s.timed_out_until_ms = 2000;
  s.permissions = static_cast<Permissions>(Permission::kick_members);
  EXPECT_TRUE(timed_out(s, 1999));
  EXPECT_FALSE(timed_out(s, 2000));
  // Given manage_community, a timeout set before no longer holds; taken away, it holds again.
  s.permissions |= static_cast<Permissions>(Permission::manage_community);
  EXPECT_FALSE(timed_out(s, 1999));
  s.permissions = 0;
  EXPECT_TRUE(timed_out(s, 1999));
  s.member = false;
  EXPECT_FALSE(timed_out(s, 1999));
}

TEST(Names, SlugsRolesAndNames) {
  EXPECT_TRUE(check_slug("gate-house"));
  EXPECT_FALSE(check_slug("ab"));
  EXPECT_FALSE(check_slug("-abc"));
  EXPECT_FALSE(check_slug("Abc"));
  EXPECT_FALSE(check_slug("a b c"));
  EXPECT_TRUE(check_custom_role_name("whale"));
  EXPECT_FALSE(check_custom_role_name("admin"));
  EXPECT_FALSE(check_custom_role_name("Whale"));
  EXPECT_TRUE(check_name("name", "Café crème"));
  EXPECT_FALSE(check_name("name", ""));
  EXPECT_FALSE(check_name("name", "a\nb"));
  EXPECT_FALSE(check_name("name", std::string(101, 'x')));
}

TEST(Names, CommunityAndChannelNamesDisplayAsWhatTheyAre) {
  // The rule device names follow: no escape sequences, C1 controls (CSI), bidi overrides or
  // isolates, separators or invalid UTF-8 in a name other members see.
  EXPECT_TRUE(check_name("name", "\xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x90\xb3"));  // 日本 🐳
  EXPECT_FALSE(check_name("name", std::string("a\0b", 3)));
  EXPECT_FALSE(check_name("name", "\x1b[31mred\x1b[0m"));
  EXPECT_FALSE(check_name("name",
                          "csi\xc2\x9b"
                          "31m"));
  EXPECT_FALSE(check_name("name",
                          "admins\xe2\x80\xae"
                          "emag"));  // right-to-left override
  EXPECT_FALSE(check_name("name", "\xe2\x81\xa6isolate"));
  EXPECT_FALSE(check_name("name", "line\xe2\x80\xa8sep"));
  EXPECT_FALSE(check_name("name", "bad\xff"));
  EXPECT_FALSE(check_name("name", " padded"));
  EXPECT_EQ(check_name("channel name", "\x1b[2J").error().code, "invalid_field");
}

TEST(Forum, ChannelTypes) {
  EXPECT_EQ(parse_channel_type("text").value(), ChannelType::text);
  EXPECT_EQ(parse_channel_type("forum").value(), ChannelType::forum);
  EXPECT_EQ(parse_channel_type("Forum").error().code, "invalid_field");
  EXPECT_EQ(parse_channel_type("").error().code, "invalid_field");
  EXPECT_EQ(parse_channel_type("category").value(), ChannelType::category);
  EXPECT_EQ(parse_channel_type("categories").error().code, "invalid_field");
  // Each type reads back as itself.
  for (auto type : {ChannelType::text, ChannelType::forum, ChannelType::category}) {
    EXPECT_EQ(parse_channel_type(to_string(type)).value(), type);
  }
  EXPECT_STREQ(to_string(ChannelType::forum), "forum");
}

TEST(Forum, TagsKeepTheirIdsAndNewOnesTakeFreshOnes) {
  int n = 0;
  const auto fresh = [&n] { return "tg_" + std::to_string(++n); };
  auto tags = apply_tag_specs({{std::nullopt, "Bug"}, {std::nullopt, "Solved", "\xe2\x9c\x85", true}}, {}, fresh);
  ASSERT_TRUE(tags) << tags.error().message;
  ASSERT_EQ(tags->size(), 2U);
  EXPECT_EQ((*tags)[0].id, "tg_1");
  EXPECT_EQ((*tags)[1].id, "tg_2");
  EXPECT_TRUE((*tags)[1].moderated);
  // A change names the tags it keeps by id (renamed here), leaves others out and adds new ones.
  auto next = apply_tag_specs({{"tg_2", "Done"}, {std::nullopt, "Idea"}}, *tags, fresh);
  ASSERT_TRUE(next) << next.error().message;
  ASSERT_EQ(next->size(), 2U);
  EXPECT_EQ((*next)[0].id, "tg_2");
  EXPECT_EQ((*next)[0].name, "Done");
  EXPECT_EQ((*next)[1].id, "tg_3");
  // Stored and read back as shown.
  const auto text = boost::json::serialize(tags_json(*next));
  const auto back = tags_from_text(text);
  ASSERT_EQ(back.size(), 2U);
  EXPECT_EQ(back[0].id, "tg_2");
  EXPECT_EQ(back[1].name, "Idea");
  EXPECT_EQ(boost::json::serialize(tags_json(back)), text);
  EXPECT_TRUE(tags_json(back)[1].as_object().at("emoji").is_null());
  EXPECT_TRUE(tags_from_text("junk").empty());
  EXPECT_TRUE(tags_from_text("[1, {\"id\": 2}]").empty());
}

TEST(Forum, ChannelDefaults) {
  EXPECT_TRUE(check_channel_defaults({}));
  EXPECT_TRUE(check_channel_defaults({60, "created", "\xf0\x9f\x91\x8d"}));
  EXPECT_TRUE(check_channel_defaults({10080, "activity", std::string(64, 'x')}));
  for (const auto& bad : std::vector<ChannelDefaults>{{30, "activity", ""},
                                                      {0, "activity", ""},
                                                      {1440, "newest", ""},
                                                      {1440, "", ""},
                                                      {1440, "activity", "a b"},
                                                      {1440, "activity", std::string(65, 'x')},
                                                      {1440, "activity", "\xff"}}) {
    const auto r = check_channel_defaults(bad);
    ASSERT_FALSE(r) << bad.auto_archive_minutes << " " << bad.sort_order << " " << bad.reaction_emoji;
    EXPECT_EQ(r.error().code, "invalid_field");
  }
}

TEST(Forum, BadTagsAreRefused) {
  const auto fresh = [] { return std::string("tg_x"); };
  const std::vector<ForumTag> current{{"tg_a", "A"}};
  const auto refused = [&](std::vector<TagSpec> specs) {
    auto r = apply_tag_specs(specs, current, [n = 0]() mutable { return "tg_n" + std::to_string(++n); });
    return !r && r.error().code == "invalid_tag";
  };
  EXPECT_TRUE(refused({{std::nullopt, ""}}));
  EXPECT_TRUE(refused({{std::nullopt, std::string(21, 'x')}}));
  EXPECT_TRUE(apply_tag_specs({{std::nullopt, std::string(20, 'x')}}, current, fresh));
  EXPECT_TRUE(refused({{std::nullopt, " pad"}}));
  EXPECT_TRUE(refused({{std::nullopt, "a\x1b[2Jb"}}));
  EXPECT_TRUE(refused({{std::nullopt, "Bug"}, {std::nullopt, "bug"}}));
  EXPECT_TRUE(refused({{"tg_missing", "B"}}));
  EXPECT_TRUE(refused({{"tg_a", "A"}, {"tg_a", "B"}}));
  EXPECT_TRUE(refused({{std::nullopt, "A", "has space"}}));
  EXPECT_TRUE(refused({{std::nullopt, "A", std::string(65, 'x')}}));
  EXPECT_TRUE(refused({{std::nullopt, "A", "bad\xff"}}));
  std::vector<TagSpec> many;
  for (int i = 0; i < 21; ++i) many.push_back({std::nullopt, "t" + std::to_string(i)});
  EXPECT_TRUE(refused(many));
  many.pop_back();
  EXPECT_FALSE(refused(many));
}

}  // namespace
}  // namespace gh::community
