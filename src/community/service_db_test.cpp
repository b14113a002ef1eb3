// community's use cases on both backends, with holdings the test sets: join against the gate
// (403 with each unmet leaf), roles and their ranks, kick and ban, channels restricted by role
// or gate and archived, the member list's cursor, re-evaluation on chain events (removal,
// regain of community, role and channel) and a gate edit over 5,000 members in batches while
// other requests are served.
#include <gtest/gtest.h>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <atomic>
#include <set>
#include <thread>

#include "bus/bus.hpp"
#include "bus/migrations.hpp"
#include "chain/model.hpp"
#include "community/migrations.hpp"
#include "community/reevaluator.hpp"
#include "community/service.hpp"
#include "community/store.hpp"
#include "core/io_runtime.hpp"
#include "core/testing/run_task.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::community {
namespace {

namespace json = boost::json;
using eth::U256;
using store::Dialect;
using store::Tx;

const SystemTime start_time = SystemTime(std::chrono::seconds(1'767'225'600));
const eth::Address token = *eth::parse_address("0x5FbDB2315678afecb367f032d93F642f64180aa3");
const eth::Address nft = *eth::parse_address("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512");

eth::Address account(std::uint32_t n) {
  eth::Address a;
  a.bytes[0] = 0xaa;
  a.bytes[16] = static_cast<std::uint8_t>(n >> 24);
  a.bytes[17] = static_cast<std::uint8_t>(n >> 16);
  a.bytes[18] = static_cast<std::uint8_t>(n >> 8);
  a.bytes[19] = static_cast<std::uint8_t>(n);
  return a;
}

const eth::Address owner = account(1);
const eth::Address bob = account(2);
const eth::Address carol = account(3);
const eth::Address dave = account(4);

HoldingKey erc20_key() {
  return HoldingKey{LeafKind::erc20, 31337, token, std::nullopt};
}
HoldingKey nft_key() {
  return HoldingKey{LeafKind::erc721, 31337, nft, std::nullopt};
}

/// Holdings as the test sets them; counts the reads.
class FakeHoldings final : public HoldingsSource {
 public:
  std::map<eth::Address, Holdings> held;
  std::optional<Error> failure;
  std::set<eth::Address> unreachable;  ///< reads for these fail
  int reads = 0;
  bool serves_chain(std::uint64_t chain_id) const override { return chain_id == 31337; }
  Task<Result<Holdings>> read(const eth::Address& who, std::vector<HoldingKey> keys) override {
    ++reads;
    if (failure) co_return *failure;
    if (unreachable.count(who) != 0) co_return make_error(ErrorKind::unavailable, "chain_unavailable", "down");
    Holdings out;
    auto it = held.find(who);
    for (const auto& k : keys) {
      if (it != held.end()) {
        if (auto h = it->second.find(k); h != it->second.end()) out[k] = h->second;
      }
    }
    co_return out;
  }
  void set(const eth::Address& who, const HoldingKey& key, std::uint64_t amount) { held[who][key] = U256(amount); }
};

GateNode gate(std::string_view text) {
  return *parse_gate(json::parse(text));
}
GateNode erc20_gate(std::uint64_t min) {
  return gate(
      fmt::format(R"({{"erc20":{{"chain_id":31337,"contract":"{}","min":"{}"}}}})", eth::to_checksum(token), min));
}
GateNode nft_gate() {
  return gate(fmt::format(R"({{"erc721":{{"chain_id":31337,"contract":"{}"}}}})", eth::to_checksum(nft)));
}

class CommunityServiceTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations(), community::migrations()});
    m_service = std::make_unique<CommunityService>(*m_db, m_pool, m_clock, m_holdings, [this] { ++m_wakes; });
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  std::string create(std::optional<GateNode> g = std::nullopt, std::string slug = "gate-house") {
    NewCommunity spec{"Gate House", std::move(slug), std::move(g)};
    auto c = run(m_service->create_community(owner, std::move(spec)));
    EXPECT_TRUE(c) << c.error().message;
    return c ? c->id : "";
  }

  std::string channel(const std::string& community, std::string name, std::optional<GateNode> g = std::nullopt,
                      std::vector<std::string> roles = {}) {
    NewChannel spec;
    spec.name = std::move(name);
    spec.gate = std::move(g);
    spec.roles = std::move(roles);
    auto ch = run(m_service->create_channel(owner, community, std::move(spec)));
    EXPECT_TRUE(ch) << ch.error().message;
    return ch ? ch->id : "";
  }

  bool can_read(const eth::Address& who, const std::string& ch) { return *run(m_service->can_read_channel(who, ch)); }

  std::vector<bus::Event> events(const std::string& topic) {
    return m_db->read([&](Tx& tx) {
      std::vector<bus::Event> out;
      for (auto& e : bus::read_outbox(tx, 0, 100'000)) {
        if (e.topic == topic) out.push_back(std::move(e));
      }
      return out;
    });
  }

  // Queues what a chain.transfer of the token from `from` to `to` affects, as the consumer does.
  void transfer_event(const eth::Address& from, const eth::Address& to, const eth::Address& contract = token) {
    bus::Event e;
    e.topic = "chain.transfer";
    e.payload = json::serialize(json::object{{"chain_id", 31337},
                                             {"contract", eth::to_checksum(contract)},
                                             {"from", eth::to_checksum(from)},
                                             {"to", eth::to_checksum(to)},
                                             {"amount", "1"}});
    m_db->transact([&](Tx& tx) { CommunityService::queue_for_chain_event(tx, e, unix_millis(m_clock.now())); });
  }

  void reevaluate_all() {
    for (int i = 0; i < 1000; ++i) {
      auto n = run(m_service->reevaluate_batch());
      ASSERT_TRUE(n) << n.error().message;
      if (*n == 0) return;
    }
    FAIL() << "the re-evaluation queue never emptied";
  }

  /// Waits (at most 20 s) until `done` holds, for loops that run on their own.
  static bool eventually(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
  }

  bool member(const std::string& community, const eth::Address& who) {
    return m_db->read([&](Tx& tx) { return sql::is_member(tx, community, eth::to_lower_hex(who)); });
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "community"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 256};
  boost::asio::io_context m_ioc;
  ManualClock m_clock{start_time};
  FakeHoldings m_holdings;
  int m_wakes = 0;
  std::unique_ptr<CommunityService> m_service;
};

TEST_P(CommunityServiceTest, CreateJoinLeaveAndSee) {
  const auto id = create();
  auto dup = run(m_service->create_community(bob, NewCommunity{"Other", "gate-house", std::nullopt}));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().code, "slug_taken");
  auto bad = run(m_service->create_community(bob, NewCommunity{"Other", "No Slug", std::nullopt}));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "invalid_slug");

  auto seen = run(m_service->community(bob, id));
  ASSERT_TRUE(seen);
  EXPECT_FALSE(seen->caller.member);
  EXPECT_EQ(seen->member_count, 1);
  EXPECT_EQ(seen->owner, owner);

  auto joined = run(m_service->join(bob, id));
  ASSERT_TRUE(joined) << joined.error().message;
  EXPECT_TRUE(joined->caller.member);
  EXPECT_EQ(joined->member_count, 2);
  EXPECT_TRUE(run(m_service->join(bob, id)));               // again: nothing changes
  EXPECT_EQ(events("community.member_joined").size(), 2U);  // the owner's and bob's
  EXPECT_GE(m_wakes, 2);

  auto mine = run(m_service->my_communities(bob));
  ASSERT_TRUE(mine);
  ASSERT_EQ(mine->size(), 1U);
  EXPECT_EQ((*mine)[0].id, id);

  auto owner_leaves = run(m_service->leave(owner, id));
  ASSERT_FALSE(owner_leaves);
  EXPECT_EQ(owner_leaves.error().code, "owner_cannot_leave");
  ASSERT_TRUE(run(m_service->leave(bob, id)));
  EXPECT_FALSE(member(id, bob));
  auto removed = events("community.member_removed");
  ASSERT_EQ(removed.size(), 1U);
  auto payload = json::parse(removed[0].payload);
  EXPECT_EQ(payload.at("account").as_string(), eth::to_checksum(bob));
  EXPECT_EQ(payload.at("community_id").as_string(), id);
  EXPECT_EQ(payload.at("reason").as_string(), "left");
  EXPECT_TRUE(run(m_service->my_communities(bob))->empty());

  auto missing = run(m_service->community(bob, "c_nope"));
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().kind, ErrorKind::not_found);
}

TEST_P(CommunityServiceTest, JoinIsRefusedWithTheUnmetLeavesUntilTheHoldingsPass) {
  const auto id = create(gate(fmt::format(R"({{"all":[{},{}]}})", json::serialize(render_gate(erc20_gate(100))),
                                          json::serialize(render_gate(nft_gate())))));
  m_holdings.set(bob, erc20_key(), 40);
  auto refused = run(m_service->join(bob, id));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::forbidden);
  EXPECT_EQ(refused.error().code, "gate_not_satisfied");
  auto details = json::parse(refused.error().details_json);
  const auto& unmet = details.at("unmet").as_array();
  ASSERT_EQ(unmet.size(), 2U);
  EXPECT_EQ(unmet[0].at("path").as_string(), "gate.all[0]");
  EXPECT_EQ(unmet[0].at("kind").as_string(), "erc20");
  EXPECT_EQ(unmet[0].at("contract").as_string(), eth::to_checksum(token));
  EXPECT_EQ(unmet[0].at("required").as_string(), "100");
  EXPECT_EQ(unmet[0].at("held").as_string(), "40");
  EXPECT_EQ(unmet[1].at("kind").as_string(), "erc721");
  EXPECT_FALSE(member(id, bob));

  m_holdings.set(bob, erc20_key(), 100);
  m_holdings.set(bob, nft_key(), 1);
  EXPECT_TRUE(run(m_service->join(bob, id)));
  EXPECT_TRUE(member(id, bob));

  // A chain that cannot be asked is a 503, not a refusal.
  m_holdings.failure = make_error(ErrorKind::unavailable, "chain_unavailable", "down");
  auto down = run(m_service->join(carol, id));
  ASSERT_FALSE(down);
  EXPECT_EQ(down.error().code, "chain_unavailable");

  // An ungated community with a gated channel: the join goes through, the channel follows.
  const auto open = create(std::nullopt, "open-house");
  const auto holders = channel(open, "holders", erc20_gate(10));
  m_holdings.failure.reset();
  reevaluate_all();  // the owner, queued by the gated channel
  m_holdings.failure = make_error(ErrorKind::unavailable, "chain_unavailable", "down");
  m_holdings.set(carol, erc20_key(), 10);
  ASSERT_TRUE(run(m_service->join(carol, open)));
  EXPECT_FALSE(can_read(carol, holders));
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 1);
  m_holdings.failure.reset();
  reevaluate_all();
  EXPECT_TRUE(can_read(carol, holders));
}

TEST_P(CommunityServiceTest, RolesRanksKickAndBan) {
  const auto id = create();
  for (const auto& who : {bob, carol, dave}) ASSERT_TRUE(run(m_service->join(who, id)));

  // A plain member can do nothing to others.
  auto kick = run(m_service->kick(bob, id, carol));
  ASSERT_FALSE(kick);
  EXPECT_EQ(kick.error().code, "missing_permission");
  auto assign = run(m_service->assign_role(bob, id, carol, "moderator"));
  ASSERT_FALSE(assign);
  EXPECT_EQ(assign.error().code, "missing_permission");

  ASSERT_TRUE(run(m_service->assign_role(owner, id, bob, "moderator")));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, dave, "admin")));
  EXPECT_EQ(events("community.role_changed").size(), 2U);
  auto owner_role = run(m_service->assign_role(owner, id, carol, "owner"));
  ASSERT_FALSE(owner_role);
  EXPECT_EQ(owner_role.error().code, "invalid_role");
  // An admin cannot make another admin, nor act on the owner.
  auto peer = run(m_service->assign_role(dave, id, carol, "admin"));
  ASSERT_FALSE(peer);
  EXPECT_EQ(peer.error().code, "outranked");
  auto up = run(m_service->kick(dave, id, owner));
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().code, "outranked");
  // A moderator kicks members but not an admin.
  auto mod_on_admin = run(m_service->kick(bob, id, dave));
  ASSERT_FALSE(mod_on_admin);
  EXPECT_EQ(mod_on_admin.error().code, "outranked");
  ASSERT_TRUE(run(m_service->kick(bob, id, carol)));
  EXPECT_FALSE(member(id, carol));
  ASSERT_TRUE(run(m_service->join(carol, id)));  // a kick is not a ban

  ASSERT_TRUE(run(m_service->ban(bob, id, carol, "spam")));
  EXPECT_FALSE(member(id, carol));
  auto rejoin = run(m_service->join(carol, id));
  ASSERT_FALSE(rejoin);
  EXPECT_EQ(rejoin.error().code, "banned");
  // A ban also works on someone who is not a member yet.
  const auto eve = account(5);
  ASSERT_TRUE(run(m_service->ban(dave, id, eve, "")));
  EXPECT_EQ(run(m_service->join(eve, id)).error().code, "banned");
  ASSERT_TRUE(run(m_service->unban(dave, id, carol)));
  EXPECT_TRUE(run(m_service->join(carol, id)));

  // Custom roles: permissions no wider than the creator's, assigned below one's rank.
  auto wide = run(m_service->create_role(bob, id, "helper", static_cast<Permissions>(Permission::kick_members), {}));
  ASSERT_FALSE(wide);
  EXPECT_EQ(wide.error().code, "missing_permission");
  auto helper = run(m_service->create_role(dave, id, "helper", static_cast<Permissions>(Permission::kick_members), {}));
  ASSERT_TRUE(helper) << helper.error().message;
  EXPECT_EQ(run(m_service->create_role(dave, id, "helper", 0, {})).error().code, "role_exists");
  EXPECT_EQ(run(m_service->create_role(dave, id, "admin", 0, {})).error().code, "invalid_role");
  ASSERT_TRUE(run(m_service->assign_role(dave, id, carol, "helper")));
  auto roles = run(m_service->roles(carol, id));
  ASSERT_TRUE(roles);
  EXPECT_EQ(roles->size(), 5U);  // four built-in, one custom
  auto holders = run(m_service->members_with_role(id, "helper"));
  ASSERT_TRUE(holders);
  ASSERT_EQ(holders->size(), 1U);
  EXPECT_EQ((*holders)[0], carol);
  EXPECT_EQ(run(m_service->members_with_role(id, "member"))->size(), 4U);
  // The helper (rank below moderator) cannot kick the moderator.
  EXPECT_EQ(run(m_service->kick(carol, id, bob)).error().code, "outranked");
  ASSERT_TRUE(run(m_service->unassign_role(dave, id, carol, "helper")));
  EXPECT_TRUE(run(m_service->members_with_role(id, "helper"))->empty());
  EXPECT_EQ(run(m_service->kick(carol, id, bob)).error().code, "missing_permission");
}

TEST_P(CommunityServiceTest, TheAuditLogKeepsEntriesForItsRetentionThenThePruneDeletesThem) {
  const auto id = create();
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, bob, "moderator")));
  ASSERT_TRUE(run(m_service->join(carol, id)));
  m_clock.advance(std::chrono::hours(24 * 60));
  ASSERT_TRUE(run(m_service->kick(bob, id, carol)));
  auto page = run(m_service->audit_log(bob, id, {}));
  ASSERT_TRUE(page) << page.error().message;
  ASSERT_EQ(page->entries.size(), 2U);
  EXPECT_EQ(page->entries[0].action, "member_kick");
  EXPECT_EQ(page->entries[1].action, "member_role_add");
  // A member without view_audit_log reads nothing.
  ASSERT_TRUE(run(m_service->join(carol, id)));
  EXPECT_EQ(run(m_service->audit_log(carol, id, {})).error().code, "missing_permission");

  // 91 days after the role was given, 31 after the kick: the role's entry goes, the kick's stays.
  m_clock.advance(std::chrono::hours(24 * 31));
  auto pruned = run(m_service->prune_audit_log());
  ASSERT_TRUE(pruned) << pruned.error().message;
  EXPECT_EQ(*pruned, 1U);
  page = run(m_service->audit_log(bob, id, {}));
  ASSERT_EQ(page->entries.size(), 1U);
  EXPECT_EQ(page->entries[0].action, "member_kick");
  EXPECT_EQ(*run(m_service->prune_audit_log()), 0U);
  m_clock.advance(std::chrono::hours(24 * 60));
  EXPECT_EQ(*run(m_service->prune_audit_log()), 1U);
  EXPECT_TRUE(run(m_service->audit_log(bob, id, {}))->entries.empty());
}

TEST_P(CommunityServiceTest, AutomodRulesApplyByRevisionAlsoWhenTheCacheCannotHoldThem) {
  // A cache too small for any rule: every read compiles again, and the answers stay right.
  CommunitySettings tiny;
  tiny.automod_cache_bytes = 1;
  m_service = std::make_unique<CommunityService>(
      *m_db, m_pool, m_clock, m_holdings, [] {}, tiny);
  const auto id = create();
  const auto ch = channel(id, "general");
  ASSERT_TRUE(run(m_service->join(bob, id)));
  AutomodRulePatch patch;
  patch.name = "words";
  AutomodTriggerSpec trigger;
  trigger.keywords = {"scam"};
  patch.trigger = trigger;
  auto rule = run(m_service->create_automod_rule(owner, id, patch));
  ASSERT_TRUE(rule) << rule.error().message;
  const auto matched = [&](const eth::Address& who, const std::string& text) -> std::optional<std::string> {
    auto rules = run(m_service->post_rules(who, ch));
    EXPECT_TRUE(rules);
    for (const auto& r : rules->automod) {
      if (auto hit = r->matcher.match(automod_text(text), 0)) return hit;
    }
    return std::nullopt;
  };
  for (int i = 0; i < 3; ++i) EXPECT_EQ(matched(bob, "a scam"), "scam");
  EXPECT_FALSE(matched(owner, "a scam"));  // manage_community: exempt
  // A write with no text (typing, a reaction) asks without the content rules: the same right, no rules.
  auto plain = run(m_service->post_rules(bob, ch, false));
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->can_post);
  EXPECT_TRUE(plain->automod.empty());
  AutomodRulePatch change;
  trigger.keywords = {"rug"};
  change.trigger = trigger;
  ASSERT_TRUE(run(m_service->update_automod_rule(owner, id, rule->id, change)));
  EXPECT_FALSE(matched(bob, "a scam"));
  EXPECT_EQ(matched(bob, "a rug"), "rug");
  ASSERT_TRUE(run(m_service->delete_automod_rule(owner, id, rule->id)));
  EXPECT_FALSE(matched(bob, "a rug"));
}

TEST_P(CommunityServiceTest, ChannelsByRoleGateAndArchive) {
  const auto id = create();
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->join(carol, id)));
  ASSERT_TRUE(run(m_service->create_role(owner, id, "vip", 0, {})));
  const auto general = channel(id, "general");
  const auto vip = channel(id, "vip lounge", std::nullopt, {"vip"});
  const auto holders = channel(id, "holders", erc20_gate(10));
  EXPECT_EQ(run(m_service->create_channel(bob, id, NewChannel{"x", std::nullopt, {}})).error().code,
            "missing_permission");
  EXPECT_EQ(run(m_service->create_channel(owner, id, NewChannel{"x", std::nullopt, {"nobody"}})).error().code,
            "invalid_role");

  EXPECT_TRUE(can_read(bob, general));
  EXPECT_FALSE(can_read(bob, vip));
  EXPECT_FALSE(can_read(bob, holders));
  EXPECT_FALSE(can_read(dave, general));  // not a member
  EXPECT_TRUE(can_read(owner, vip));      // managers see everything
  ASSERT_TRUE(run(m_service->assign_role(owner, id, bob, "vip")));
  EXPECT_TRUE(can_read(bob, vip));
  EXPECT_FALSE(can_read(carol, vip));
  auto access = events("community.channel_access_changed");
  ASSERT_EQ(access.size(), 1U);
  EXPECT_EQ(json::parse(access[0].payload).at("granted").at(0).as_string(), vip);

  // The gated channel follows holdings through the re-evaluator (queued when the channel was made).
  m_holdings.set(carol, erc20_key(), 10);
  reevaluate_all();
  EXPECT_TRUE(can_read(carol, holders));
  EXPECT_FALSE(can_read(bob, holders));
  auto visible = run(m_service->channels(carol, id));
  ASSERT_TRUE(visible);
  ASSERT_EQ(visible->size(), 2U);
  EXPECT_EQ((*visible)[0].id, general);
  EXPECT_EQ((*visible)[1].id, holders);
  EXPECT_EQ(run(m_service->channels(owner, id))->size(), 3U);
  EXPECT_EQ(run(m_service->channels(dave, id)).error().code, "not_member");
  auto readable = run(m_service->readable_channels(carol));
  ASSERT_TRUE(readable);
  EXPECT_EQ(readable->size(), 2U);
  EXPECT_EQ(run(m_service->channel(carol, vip)).error().kind, ErrorKind::not_found);
  EXPECT_EQ(*run(m_service->community_of_channel(vip)), id);
  EXPECT_EQ(run(m_service->community_of_channel("ch_nope")).error().kind, ErrorKind::not_found);

  // Rename and archive: still readable, no longer open for posts.
  ChannelUpdate rename;
  rename.name = "lobby";
  auto renamed = run(m_service->update_channel(owner, general, rename));
  ASSERT_TRUE(renamed);
  EXPECT_EQ(renamed->name, "lobby");
  EXPECT_EQ(run(m_service->update_channel(bob, general, rename)).error().code, "missing_permission");
  EXPECT_TRUE(*run(m_service->can_post_channel(bob, general)));
  ChannelUpdate archive;
  archive.archived = true;
  ASSERT_TRUE(run(m_service->update_channel(owner, general, archive)));
  EXPECT_TRUE(can_read(bob, general));
  EXPECT_FALSE(*run(m_service->can_post_channel(bob, general)));
  EXPECT_FALSE(*run(m_service->can_post_channel(bob, "ch_nope")));

  // Deleting others' messages: manage_messages where the member can read.
  EXPECT_FALSE(*run(m_service->can_moderate_channel(bob, general)));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "moderator")));
  EXPECT_TRUE(*run(m_service->can_moderate_channel(carol, general)));  // archived: still readable
  EXPECT_FALSE(*run(m_service->can_moderate_channel(carol, vip)));     // cannot read it
  EXPECT_TRUE(*run(m_service->can_moderate_channel(owner, vip)));
  ASSERT_TRUE(
      run(m_service->create_role(owner, id, "janitor", static_cast<Permissions>(Permission::manage_messages), {})));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, bob, "janitor")));
  EXPECT_TRUE(*run(m_service->can_moderate_channel(bob, general)));
  EXPECT_FALSE(*run(m_service->can_moderate_channel(dave, general)));  // not a member
  // Mentioning everyone: moderators and up, or a role granting it.
  const auto everyone = [&](const eth::Address& who, const std::string& channel) {
    return run(m_service->mentionable_roles(who, channel, {"member"}))->size() == 1;
  };
  EXPECT_TRUE(everyone(carol, general));
  EXPECT_FALSE(everyone(bob, general));  // the janitor only deletes
  EXPECT_TRUE(everyone(owner, vip));
  EXPECT_FALSE(everyone(carol, vip));  // cannot read it
  EXPECT_FALSE(*run(m_service->can_moderate_channel(owner, "ch_nope")));
}

TEST_P(CommunityServiceTest, MentionAudiencesAreBoundedAndCheckedInOneRead) {
  const auto id = create();
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->join(carol, id)));
  ASSERT_TRUE(run(m_service->create_role(owner, id, "vip", 0, {})));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "vip")));
  const auto vip = channel(id, "vip lounge", std::nullopt, {"vip"});

  auto everyone = run(m_service->members_with_role(id, "member"));
  ASSERT_TRUE(everyone);
  ASSERT_EQ(everyone->size(), 3U);
  auto two = run(m_service->members_with_role(id, "member", 2));
  ASSERT_TRUE(two);
  ASSERT_EQ(two->size(), 2U);
  EXPECT_EQ((*two)[0], (*everyone)[0]);
  EXPECT_EQ((*two)[1], (*everyone)[1]);
  EXPECT_EQ(run(m_service->members_with_role(id, "vip", 1))->size(), 1U);
  EXPECT_TRUE(run(m_service->members_with_role(id, "vip", 0))->empty());

  // Readers among the given accounts, in their order: the vip and the owner (a manager).
  auto readers = run(m_service->channel_readers(vip, {bob, carol, dave, owner}));
  ASSERT_TRUE(readers);
  EXPECT_EQ(*readers, (std::vector<eth::Address>{carol, owner}));
  EXPECT_TRUE(run(m_service->channel_readers("ch_nope", {owner}))->empty());
}

// The readers among many accounts (a followed channel's 1,000) are read a statement per 500
// accounts: the members among strangers past the first 500, their roles, a gated channel's access;
// each channel's rule holds for each, and the answer keeps the order it was asked in.
TEST_P(CommunityServiceTest, ReadersAmongManyAccountsFollowEachChannelsRule) {
  const auto id = create();
  for (const auto& who : {bob, carol, dave}) ASSERT_TRUE(run(m_service->join(who, id)));
  ASSERT_TRUE(run(m_service->create_role(owner, id, "vip", 0, {})));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "vip")));
  const auto plain = channel(id, "chat");
  const auto vip = channel(id, "vip lounge", std::nullopt, {"vip"});
  const auto holders = channel(id, "holders", erc20_gate(10));
  m_holdings.set(bob, erc20_key(), 10);
  reevaluate_all();
  ASSERT_TRUE(can_read(bob, holders));
  ASSERT_FALSE(can_read(dave, holders));

  std::vector<eth::Address> asked;
  for (std::uint32_t n = 0; n < 505; ++n) asked.push_back(account(1000 + n));
  asked.push_back(dave);
  asked.push_back(bob);
  for (std::uint32_t n = 505; n < 1000; ++n) asked.push_back(account(1000 + n));
  asked.push_back(carol);
  asked.push_back(owner);
  const auto readers = [&](const std::string& ch) {
    auto r = run(m_service->channel_readers(ch, asked));
    EXPECT_TRUE(r);
    return r ? *r : std::vector<eth::Address>{};
  };
  EXPECT_EQ(readers(plain), (std::vector<eth::Address>{dave, bob, carol, owner}));
  EXPECT_EQ(readers(vip), (std::vector<eth::Address>{carol, owner}));    // the role, or the owner's rights
  EXPECT_EQ(readers(holders), (std::vector<eth::Address>{bob, owner}));  // the gate, or the owner's rights
  // A member who leaves reads no more.
  ASSERT_TRUE(run(m_service->leave(bob, id)));
  EXPECT_EQ(readers(plain), (std::vector<eth::Address>{dave, carol, owner}));
  EXPECT_EQ(readers(holders), (std::vector<eth::Address>{owner}));
}

TEST_P(CommunityServiceTest, RolesInChannelsAreTheMembersRolesByChannel) {
  const auto id = create();
  const auto other = create(std::nullopt, "other-house");
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->create_role(owner, id, "ops", 0, {})));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, bob, "ops")));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, bob, "moderator")));
  const auto general = channel(id, "general");
  const auto lounge = channel(id, "lounge");
  const auto elsewhere = channel(other, "elsewhere");
  auto roles = run(m_service->roles_in_channels(bob, {general, lounge, elsewhere, "ch_nope"}));
  ASSERT_TRUE(roles);
  // Channels of a community bob is not in, and unknown channels, are left out.
  ASSERT_EQ(roles->size(), 2U);
  auto held = roles->at(general).roles;
  std::sort(held.begin(), held.end());
  EXPECT_EQ(held, (std::vector<std::string>{"member", "moderator", "ops"}));
  EXPECT_EQ(roles->at(general).community_id, id);
  EXPECT_EQ(roles->at(lounge).roles, roles->at(general).roles);
  EXPECT_EQ(roles->at(lounge).community_id, id);
  EXPECT_TRUE(run(m_service->roles_in_channels(dave, {general}))->empty());
  auto owners = run(m_service->roles_in_channels(owner, {general, elsewhere}));
  ASSERT_TRUE(owners);
  EXPECT_EQ(owners->size(), 2U);
  const auto& theirs = owners->at(elsewhere);
  EXPECT_EQ(theirs.community_id, other);
  EXPECT_NE(std::find(theirs.roles.begin(), theirs.roles.end(), "owner"), theirs.roles.end());
}

TEST_P(CommunityServiceTest, MembersPageWithACursor) {
  const auto id = create();
  for (std::uint32_t i = 10; i < 15; ++i) ASSERT_TRUE(run(m_service->join(account(i), id)));
  EXPECT_EQ(run(m_service->members(account(99), id, "", 2)).error().code, "not_member");
  std::vector<eth::Address> seen;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto page = run(m_service->members(owner, id, cursor, 2));
    ASSERT_TRUE(page);
    ++pages;
    for (const auto& m : page->members) seen.push_back(m.account);
    if (!page->next_cursor) break;
    cursor = *page->next_cursor;
  }
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 6U);
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_EQ(std::count(seen.begin(), seen.end(), owner), 1);
}

// A stored account that is not an address (a row written by hand, or corrupted) fails the read as
// the database's failure, rather than listing an address that is not the row's.
TEST_P(CommunityServiceTest, AMemberRowWhoseAccountIsNotAnAddressFailsTheListAsTheDatabases) {
  const auto id = create();
  ASSERT_TRUE(run(m_service->join(account(10), id)));
  ASSERT_TRUE(run(m_service->members(owner, id, "", 10)));
  m_db->transact([&](store::Tx& tx) {
    tx.exec("UPDATE community_members SET account = 'not an address' WHERE community_id = $1 AND account = $2",
            {id, eth::to_lower_hex(account(10))});
  });
  try {
    (void)run(m_service->members(owner, id, "", 10));
    ADD_FAILURE() << "the list succeeded";
  } catch (const store::DbError& e) {
    EXPECT_EQ(e.kind(), store::DbErrorKind::other);
  }
}

TEST_P(CommunityServiceTest, MembershipFollowsHoldings) {
  const auto id = create(erc20_gate(10));
  ASSERT_TRUE(run(m_service->create_role(owner, id, "whale", 0, erc20_gate(1000))));
  const auto whales = channel(id, "whales", std::nullopt, {"whale"});
  const auto nft_holders = channel(id, "nft", nft_gate());
  m_holdings.set(bob, erc20_key(), 5000);
  m_holdings.set(bob, nft_key(), 1);
  ASSERT_TRUE(run(m_service->join(bob, id)));
  EXPECT_TRUE(can_read(bob, whales));  // the gated role was granted at join
  EXPECT_TRUE(can_read(bob, nft_holders));

  // Bob sends most tokens away: he keeps the community, loses the role and its channel.
  m_holdings.set(bob, erc20_key(), 50);
  transfer_event(bob, carol);
  reevaluate_all();
  EXPECT_TRUE(member(id, bob));
  EXPECT_FALSE(can_read(bob, whales));
  auto changed = events("community.role_changed");
  ASSERT_FALSE(changed.empty());
  EXPECT_EQ(json::parse(changed.back().payload).at("removed").at(0).as_string(), "whale");
  auto revoked = events("community.channel_access_changed");
  ASSERT_FALSE(revoked.empty());
  EXPECT_EQ(json::parse(revoked.back().payload).at("revoked").at(0).as_string(), whales);

  // An unrelated contract's event queues nobody.
  transfer_event(bob, carol, *eth::parse_address("0x0000000000000000000000000000000000000bad"));
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 0);

  // Then the rest: removed from the community.
  m_holdings.set(bob, erc20_key(), 0);
  transfer_event(bob, carol);
  reevaluate_all();
  EXPECT_FALSE(member(id, bob));
  auto removed = events("community.member_removed");
  ASSERT_EQ(removed.size(), 1U);
  auto payload = json::parse(removed[0].payload);
  EXPECT_EQ(payload.at("reason").as_string(), "gate");
  EXPECT_EQ(payload.at("channel_ids").as_array().size(), 1U);  // only the nft channel was left to lose

  // Tokens back: the community, the role and the role's channel come back by themselves.
  m_holdings.set(bob, erc20_key(), 2000);
  transfer_event(carol, bob);
  reevaluate_all();
  EXPECT_TRUE(member(id, bob));
  EXPECT_TRUE(can_read(bob, whales));
  EXPECT_TRUE(can_read(bob, nft_holders));
  auto rejoined = events("community.member_joined");
  EXPECT_EQ(json::parse(rejoined.back().payload).at("reason").as_string(), "gate_regained");

  // A revert names no account: every member of a community gated on the contract is queued.
  bus::Event revert;
  revert.topic = "chain.reverted";
  revert.payload = json::serialize(json::object{{"chain_id", 31337}, {"contract", eth::to_lower_hex(token)}});
  m_db->transact([&](Tx& tx) { CommunityService::queue_for_chain_event(tx, revert, unix_millis(m_clock.now())); });
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 2);  // owner and bob
  // The owner holds nothing but is never removed by a gate.
  reevaluate_all();
  EXPECT_TRUE(member(id, owner));

  // Someone who left on their own is not brought back by holdings.
  ASSERT_TRUE(run(m_service->leave(bob, id)));
  transfer_event(carol, bob);
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 0);
}

TEST_P(CommunityServiceTest, ARoleChangesItsGateAndPermissionsAndGoesOnceNothingNamesIt) {
  const auto id = create(erc20_gate(10));
  ASSERT_TRUE(run(m_service->create_role(owner, id, "whale", 0, erc20_gate(1000))));
  const auto whales = channel(id, "whales", std::nullopt, {"whale"});
  const auto staff = channel(id, "staff", std::nullopt, {"moderator"});
  m_holdings.set(bob, erc20_key(), 5000);
  m_holdings.set(carol, erc20_key(), 50);
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->join(carol, id)));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "whale")));  // held by assignment
  EXPECT_TRUE(can_read(bob, whales));

  // Who may change a role, and which.
  EXPECT_EQ(run(m_service->update_role(bob, id, "whale", RoleChange{.permissions = Permissions{0}})).error().code,
            "missing_permission");
  EXPECT_EQ(run(m_service->update_role(owner, id, "moderator", RoleChange{.permissions = Permissions{0}})).error().code,
            "invalid_role");
  EXPECT_EQ(run(m_service->update_role(owner, id, "nobody", RoleChange{.permissions = Permissions{0}})).error().code,
            "role_not_found");

  // A higher gate: every member is evaluated again, and Bob's gate-given role goes with its channel.
  auto raised =
      run(m_service->update_role(owner, id, "whale", RoleChange{.gate = std::optional<GateNode>(erc20_gate(10000))}));
  ASSERT_TRUE(raised) << raised.error().message;
  ASSERT_TRUE(raised->gate);
  reevaluate_all();
  EXPECT_FALSE(can_read(bob, whales));
  EXPECT_TRUE(can_read(carol, whales));  // an assignment is not the gate's
  // Lower again: it comes back.
  ASSERT_TRUE(
      run(m_service->update_role(owner, id, "whale", RoleChange{.gate = std::optional<GateNode>(erc20_gate(100))})));
  reevaluate_all();
  EXPECT_TRUE(can_read(bob, whales));
  // No gate: what the gate gave goes; the assignment stays.
  auto ungated = run(m_service->update_role(
      owner, id, "whale", RoleChange{.gate = std::optional<std::optional<GateNode>>(std::optional<GateNode>())}));
  ASSERT_TRUE(ungated);
  EXPECT_FALSE(ungated->gate);
  reevaluate_all();
  EXPECT_FALSE(can_read(bob, whales));
  EXPECT_TRUE(can_read(carol, whales));
  EXPECT_EQ(json::parse(events("community.role_changed").back().payload).at("removed").at(0).as_string(), "whale");

  // Permissions: reading every channel comes and goes with the role, and sockets are told to check.
  const auto rechecks = [&] { return events("community.channel_access_changed").size(); };
  const auto before = rechecks();
  auto widened = run(m_service->update_role(
      owner, id, "whale", RoleChange{.permissions = static_cast<Permissions>(Permission::manage_channels)}));
  ASSERT_TRUE(widened);
  EXPECT_EQ(widened->permissions, static_cast<Permissions>(Permission::manage_channels));
  EXPECT_TRUE(can_read(carol, staff));
  ASSERT_TRUE(run(m_service->update_role(owner, id, "whale", RoleChange{.permissions = Permissions{0}})));
  EXPECT_FALSE(can_read(carol, staff));
  EXPECT_EQ(rechecks(), before + 2);
  const auto recheck = json::parse(events("community.channel_access_changed").back().payload).as_object();
  EXPECT_FALSE(recheck.contains("account"));
  EXPECT_EQ(recheck.at("channel_ids").as_array().size(), 2U);
  // The same permissions again tell no one.
  ASSERT_TRUE(run(m_service->update_role(owner, id, "whale", RoleChange{.permissions = Permissions{0}})));
  EXPECT_EQ(rechecks(), before + 2);

  // A role a channel names is not deleted (the channel would open to everyone); others are, with
  // every holding.
  EXPECT_EQ(run(m_service->delete_role(owner, id, "whale")).error().code, "role_in_use");
  EXPECT_TRUE(can_read(carol, whales));
  ASSERT_TRUE(
      run(m_service->create_role(owner, id, "temp", static_cast<Permissions>(Permission::manage_channels), {})));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "temp")));
  EXPECT_TRUE(can_read(carol, staff));
  EXPECT_EQ(run(m_service->delete_role(bob, id, "temp")).error().code, "missing_permission");
  ASSERT_TRUE(run(m_service->delete_role(owner, id, "temp")));
  EXPECT_FALSE(can_read(carol, staff));
  EXPECT_EQ(run(m_service->delete_role(owner, id, "temp")).error().code, "role_not_found");
  const auto roles = run(m_service->roles(owner, id));
  EXPECT_TRUE(std::none_of(roles->begin(), roles->end(), [](const RoleInfo& r) { return r.name == "temp"; }));
  // The name is free again, and the new role is held by no one.
  ASSERT_TRUE(run(m_service->create_role(owner, id, "temp", 0, {})));
  EXPECT_TRUE(m_db->read([&](Tx& tx) { return sql::members_with_role(tx, id, "temp", 10).empty(); }));
}

TEST_P(CommunityServiceTest, RolesRankInAHierarchyAreRenamedWhereverNamedAndMayBeClosedToMentions) {
  const auto id = create(std::nullopt);
  for (const auto& who : {bob, carol, dave}) ASSERT_TRUE(run(m_service->join(who, id)));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "moderator")));
  // A role placed above the moderators: its holder acts on them, and they not on it.
  const auto kick = static_cast<Permissions>(Permission::kick_members);
  auto senior =
      run(m_service->create_role(owner, id, "senior", kick, erc20_gate(100),
                                 RoleDetails{.rank = 60, .mentionable = false, .color = 0x3498db, .hoist = true}));
  ASSERT_TRUE(senior) << senior.error().message;
  EXPECT_TRUE(senior->hoist);
  EXPECT_EQ(senior->rank, 60);
  EXPECT_FALSE(senior->mentionable);
  EXPECT_EQ(senior->color, 0x3498db);
  EXPECT_EQ(run(m_service->create_role(owner, id, "x", 0, {}, RoleDetails{.rank = 80})).error().code, "invalid_field");
  EXPECT_EQ(run(m_service->create_role(owner, id, "x", 0, {}, RoleDetails{.rank = 0})).error().code, "invalid_field");
  EXPECT_EQ(run(m_service->create_role(owner, id, "x", 0, {}, RoleDetails{.color = 0x1000000})).error().code,
            "invalid_field");
  m_holdings.set(bob, erc20_key(), 500);
  reevaluate_all();  // bob holds senior by the gate
  const auto timeout = [&](const eth::Address& who, const eth::Address& target) {
    auto r = run(m_service->timeout(who, id, target, std::chrono::seconds(60), ""));
    if (r) {
      EXPECT_TRUE(run(m_service->lift_timeout(owner, id, target)));
    }
    return r ? std::string("ok") : r.error().code;
  };
  EXPECT_EQ(timeout(bob, carol), "ok");
  EXPECT_EQ(timeout(carol, bob), "outranked");
  // The hierarchy lists highest first.
  auto listed = run(m_service->roles(owner, id));
  ASSERT_TRUE(listed);
  EXPECT_TRUE(std::is_sorted(listed->begin(), listed->end(),
                             [](const RoleInfo& a, const RoleInfo& b) { return a.rank > b.rank; }));
  const auto count_of = [&](const std::vector<RoleInfo>& roles, const std::string& name) {
    const auto it = std::find_if(roles.begin(), roles.end(), [&](const RoleInfo& r) { return r.name == name; });
    return it == roles.end() ? -1 : it->member_count;
  };
  EXPECT_EQ(count_of(*listed, "senior"), 1);  // bob, by the gate
  EXPECT_EQ(count_of(*listed, "moderator"), 1);
  EXPECT_EQ(count_of(*listed, "owner"), 1);
  EXPECT_EQ(count_of(*listed, "member"), 4);

  // A moderator with manage_roles places roles below itself only, and changes none above it.
  ASSERT_TRUE(
      run(m_service->create_role(owner, id, "keepers", static_cast<Permissions>(Permission::manage_roles), {})));
  ASSERT_TRUE(run(m_service->assign_role(owner, id, carol, "keepers")));
  EXPECT_EQ(run(m_service->create_role(carol, id, "peers", 0, {}, RoleDetails{.rank = 50})).error().code, "outranked");
  ASSERT_TRUE(run(m_service->create_role(carol, id, "helpers", 0, {}, RoleDetails{.rank = 49})));
  EXPECT_EQ(run(m_service->update_role(carol, id, "helpers", RoleChange{.details = {.rank = 55}})).error().code,
            "outranked");
  EXPECT_EQ(run(m_service->update_role(carol, id, "senior", RoleChange{.details = {.rank = 10}})).error().code,
            "outranked");
  EXPECT_EQ(run(m_service->assign_role(carol, id, dave, "senior")).error().code, "outranked");
  // Lowered below the moderators, the order turns.
  ASSERT_TRUE(run(m_service->update_role(owner, id, "senior", RoleChange{.details = {.rank = 40}})));
  EXPECT_EQ(timeout(carol, bob), "ok");
  EXPECT_EQ(timeout(bob, carol), "outranked");

  // A rename follows the role wherever the community names it: holdings by gate and by hand, the
  // channels' roles and post roles, the AutoMod rules' exemptions.
  const auto lounge = channel(id, "lounge", std::nullopt, {"senior"});
  ASSERT_TRUE(run(m_service->assign_role(owner, id, dave, "senior")));
  EXPECT_TRUE(can_read(bob, lounge));
  EXPECT_TRUE(can_read(dave, lounge));
  EXPECT_EQ(run(m_service->update_role(owner, id, "senior", RoleChange{.name = "keepers"})).error().code,
            "role_exists");
  EXPECT_EQ(run(m_service->update_role(owner, id, "senior", RoleChange{.name = "admin"})).error().code, "invalid_role");
  const auto changed_before = events("community.role_changed").size();
  auto renamed = run(m_service->update_role(owner, id, "senior", RoleChange{.name = "elder"}));
  ASSERT_TRUE(renamed) << renamed.error().message;
  EXPECT_EQ(renamed->name, "elder");
  EXPECT_TRUE(renamed->gate);
  EXPECT_EQ(renamed->rank, 40);
  EXPECT_TRUE(renamed->hoist);          // a rename keeps what it does not change
  EXPECT_EQ(renamed->member_count, 2);  // bob by the gate, dave by hand
  EXPECT_EQ(renamed->color, 0x3498db);
  EXPECT_TRUE(can_read(bob, lounge));
  EXPECT_TRUE(can_read(dave, lounge));
  EXPECT_FALSE(can_read(carol, lounge));
  reevaluate_all();  // the gate still gives it, under its new name: nothing is taken or given
  EXPECT_TRUE(can_read(bob, lounge));
  EXPECT_EQ(events("community.role_changed").size(), changed_before);
  EXPECT_EQ(m_db->read([&](Tx& tx) { return sql::members_with_role(tx, id, "elder", 10).size(); }), 2U);
  EXPECT_TRUE(m_db->read([&](Tx& tx) { return sql::members_with_role(tx, id, "senior", 10).empty(); }));
  EXPECT_EQ(run(m_service->update_role(owner, id, "senior", RoleChange{.details = {.rank = 30}})).error().code,
            "role_not_found");
  const auto updated = events("community.role_updated");
  ASSERT_FALSE(updated.empty());
  const auto last = json::parse(updated.back().payload).as_object();
  EXPECT_EQ(last.at("role").as_string(), "elder");
  EXPECT_EQ(last.at("previous").as_string(), "senior");
  EXPECT_EQ(last.at("change").as_string(), "updated");

  // Mentions: a role closed to them counts only from those who may mention everyone.
  using Names = std::vector<std::string>;
  EXPECT_EQ(*run(m_service->mentionable_roles(dave, lounge, {"elder", "member", "nobody"})), (Names{"nobody"}));
  EXPECT_EQ(*run(m_service->mentionable_roles(owner, lounge, {"elder", "member"})), (Names{"elder", "member"}));
  EXPECT_EQ(*run(m_service->mentionable_roles(carol, lounge, {"elder"})), Names{});  // cannot read it
  ASSERT_TRUE(run(m_service->update_role(owner, id, "elder", RoleChange{.details = {.mentionable = true}})));
  EXPECT_EQ(*run(m_service->mentionable_roles(dave, lounge, {"elder", "member"})), (Names{"elder"}));
}

TEST_P(CommunityServiceTest, TheChainConsumerKeepsOnlyEventsOfGatedContracts) {
  auto event = [](std::string key) {
    bus::Event e;
    e.topic = "chain.transfer";
    e.ordering_key = std::move(key);
    return e;
  };
  const auto token_key = chain::event_ordering_key(31337, eth::to_lower_hex(token));
  const auto nft_key_text = chain::event_ordering_key(31337, eth::to_lower_hex(nft));
  const auto other_chain = chain::event_ordering_key(1, eth::to_lower_hex(token));
  auto kept = [&] {
    std::vector<bus::Event> batch{event(token_key),   event(nft_key_text), event(other_chain),
                                  event("not a key"), event(token_key),    event("31337:0xABC")};
    m_db->read([&](Tx& tx) { CommunityService::keep_gated_chain_events(tx, batch); });
    std::vector<std::string> out;
    for (const auto& e : batch) out.push_back(e.ordering_key);
    return out;
  };
  using V = std::vector<std::string>;
  // No gate anywhere: only the events whose contract cannot be told stay, for the apply to judge.
  EXPECT_EQ(kept(), (V{"not a key", "31337:0xABC"}));
  const auto id = create(erc20_gate(10));
  EXPECT_EQ(kept(), (V{token_key, "not a key", token_key, "31337:0xABC"}));
  // A channel's gate counts as well; a gate edit that drops the token drops its events.
  channel(id, "nft", nft_gate());
  EXPECT_EQ(kept(), (V{token_key, nft_key_text, "not a key", token_key, "31337:0xABC"}));
  ASSERT_TRUE(run(m_service->update_community(owner, id, std::nullopt, std::optional<GateNode>{})));
  EXPECT_EQ(kept(), (V{nft_key_text, "not a key", "31337:0xABC"}));
}

TEST_P(CommunityServiceTest, GateEditReevaluatesFiveThousandMembersInBatches) {
  const auto id = create();
  constexpr std::uint32_t n = 5000;
  const auto now = unix_millis(m_clock.now());
  m_db->transact([&](Tx& tx) {
    for (std::uint32_t i = 0; i < n; ++i) sql::insert_member(tx, id, eth::to_lower_hex(account(1000 + i)), now);
  });
  for (std::uint32_t i = 0; i < n; i += 2) m_holdings.set(account(1000 + i), erc20_key(), 10);

  auto edited = run(m_service->update_community(owner, id, std::nullopt, std::optional<GateNode>(erc20_gate(10))));
  ASSERT_TRUE(edited) << edited.error().message;
  EXPECT_EQ(edited->member_count, n + 1);  // the edit returns before anyone is re-evaluated
  EXPECT_EQ(*run(m_service->pending_reevaluations()), n + 1);

  // One batch, then other requests are served between batches.
  ASSERT_TRUE(run(m_service->reevaluate_batch()));
  const auto left = *run(m_service->pending_reevaluations());
  EXPECT_GT(left, 0);
  EXPECT_LT(left, n + 1);
  m_holdings.set(bob, erc20_key(), 10);
  EXPECT_TRUE(run(m_service->join(bob, id)));
  EXPECT_TRUE(run(m_service->community(carol, id)));

  reevaluate_all();
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 0);
  auto after = run(m_service->community(owner, id));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->member_count, n / 2 + 2);  // holders, the owner and bob
  EXPECT_TRUE(member(id, account(1000)));
  EXPECT_FALSE(member(id, account(1001)));
  EXPECT_EQ(events("community.member_removed").size(), n / 2);
}

TEST_P(CommunityServiceTest, StakesCountAndAnUnreachableChainHoldsUpNobody) {
  const auto staking = *eth::parse_address("0xCf7Ed3AccA5a467e9e704C703E8D87F634fB0Fc9");
  const HoldingKey stake_key{LeafKind::staked, 31337, staking, std::nullopt};
  const auto id =
      create(gate(fmt::format(R"({{"any":[{},{{"staked":{{"chain_id":31337,"contract":"{}","min":"10"}}}}]}})",
                              json::serialize(render_gate(erc20_gate(10))), eth::to_checksum(staking))));
  m_holdings.set(bob, stake_key, 10);
  m_holdings.set(carol, stake_key, 10);
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->join(carol, id)));

  // A gate on a chain this server does not know is refused when written.
  auto elsewhere = run(m_service->create_channel(
      owner, id,
      NewChannel{
          "mainnet",
          gate(fmt::format(R"({{"erc20":{{"chain_id":1,"contract":"{}","min":"1"}}}})", eth::to_checksum(token))),
          {}}));
  ASSERT_FALSE(elsewhere);
  EXPECT_EQ(elsewhere.error().code, "invalid_gate");

  // Both unstake; carol's holdings cannot be read right now.
  m_holdings.set(bob, stake_key, 0);
  m_holdings.set(carol, stake_key, 0);
  m_holdings.unreachable.insert(carol);
  for (const auto& who : {bob, carol}) {
    bus::Event e;
    e.topic = "chain.stake";
    e.payload = json::serialize(json::object{{"chain_id", 31337},
                                             {"contract", eth::to_checksum(staking)},
                                             {"kind", "unstaked"},
                                             {"account", eth::to_checksum(who)},
                                             {"amount", "10"},
                                             {"total", "0"}});
    m_db->transact([&](Tx& tx) { CommunityService::queue_for_chain_event(tx, e, unix_millis(m_clock.now())); });
  }
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 2);
  reevaluate_all();
  EXPECT_FALSE(member(id, bob));   // done
  EXPECT_TRUE(member(id, carol));  // left as she was, for later
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 1);
  EXPECT_EQ(*run(m_service->reevaluate_batch()), 0U);  // not due yet
  m_holdings.unreachable.clear();
  m_clock.advance(std::chrono::seconds(31));
  reevaluate_all();
  EXPECT_FALSE(member(id, carol));
  EXPECT_EQ(*run(m_service->pending_reevaluations()), 0);
}

/// Nobody holds anything; the first `failures` reads of `flaky` fail as an unreachable chain's.
/// Safe to read from the re-evaluator's thread while the test waits.
class FlakyHoldings final : public HoldingsSource {
 public:
  explicit FlakyHoldings(eth::Address flaky, int failures) : m_flaky(flaky), m_failures(failures) {}
  bool serves_chain(std::uint64_t chain_id) const override { return chain_id == 31337; }
  Task<Result<Holdings>> read(const eth::Address& who, std::vector<HoldingKey>) override {
    if (who == m_flaky && m_failures.fetch_sub(1) > 0) {
      co_return make_error(ErrorKind::unavailable, "chain_unavailable", "down");
    }
    co_return Holdings{};
  }

 private:
  eth::Address m_flaky;
  std::atomic<int> m_failures;
};

// The re-evaluator as a node runs it, with no polling (an hour): a gate edit's commit wakes it,
// and an account deferred while its chain could not be read is taken up when it falls due.
TEST_P(CommunityServiceTest, TheReevaluatorRunsOnAGateEditAndWhenADeferredAccountFallsDue) {
  FlakyHoldings flaky(carol, 1);
  CommunitySettings settings;
  settings.reevaluation_retry = std::chrono::milliseconds(200);
  CommunityService service(
      *m_db, m_pool, m_clock, m_holdings, [] {}, settings, &flaky);
  IoRuntime io(1);
  Reevaluator reevaluator(io.executor(), service, std::chrono::hours(1));
  service.set_on_queued([&reevaluator] { reevaluator.wake(); });
  io.start();
  reevaluator.start();
  auto created = run(service.create_community(owner, NewCommunity{"Gate House", "gate-house", std::nullopt}));
  ASSERT_TRUE(created) << created.error().message;
  const auto id = created->id;
  ASSERT_TRUE(run(service.join(bob, id)));
  ASSERT_TRUE(run(service.join(carol, id)));
  const auto pending = [&] { return m_db->read([](Tx& tx) { return sql::queued_reevaluations(tx); }); };

  // Nobody holds the token the new gate asks for: bob lapses at once; carol's chain cannot be
  // read, so she stays, queued again for later.
  ASSERT_TRUE(run(service.update_community(owner, id, std::nullopt, std::optional<GateNode>(erc20_gate(10)))));
  EXPECT_TRUE(eventually([&] { return !member(id, bob) && pending() == 1; }));
  EXPECT_TRUE(member(id, carol));
  // Her retry falls due (the service's clock) with no wake: the re-evaluator waited for it.
  m_clock.advance(std::chrono::seconds(1));
  EXPECT_TRUE(eventually([&] { return !member(id, carol) && pending() == 0; }));
  EXPECT_TRUE(member(id, owner));
}

// A node that serves the API without a re-evaluator (roles api alone) edits a gate: the
// re-evaluators of the other nodes hear of it through the bus, with no poll (an hour's rest). The
// dispatcher finds the event as it finds another process's, by its probe. Three edits in turn, each
// waited for: the loop rests between them, so a lost wake leaves the test waiting.
TEST_P(CommunityServiceTest, AGateEditedOnANodeWithoutAReevaluatorReachesTheReevaluatorsThroughTheBus) {
  // The worker node's service runs the loop; m_service, which nothing wakes, takes the requests.
  CommunityService worker(*m_db, m_pool, m_clock, m_holdings, [] {});
  IoRuntime io(2);
  Reevaluator reevaluator(io.executor(), worker, std::chrono::hours(1));
  bus::DispatcherSettings probing{100, std::chrono::milliseconds(20)};
  probing.consumer_poll = std::chrono::hours(1);
  metrics::Registry registry;
  bus::Dispatcher dispatcher(io.executor(), *m_db, m_pool, registry, probing);
  dispatcher.add(reevaluator.consumer());
  io.start();
  dispatcher.start();
  reevaluator.start();
  const auto id = create();
  ASSERT_TRUE(run(m_service->join(bob, id)));
  ASSERT_TRUE(run(m_service->join(carol, id)));
  const auto pending = [&] { return m_db->read([](Tx& tx) { return sql::queued_reevaluations(tx); }); };
  const auto gate = [&](std::optional<GateNode> g) {
    auto updated = run(m_service->update_community(owner, id, std::nullopt, std::make_optional(std::move(g))));
    ASSERT_TRUE(updated) << updated.error().message;
  };
  // Nobody holds the token: both lapse. Without a gate they are members again; with it, not.
  gate(erc20_gate(10));
  EXPECT_TRUE(eventually([&] { return !member(id, bob) && !member(id, carol) && pending() == 0; }));
  gate(std::nullopt);
  EXPECT_TRUE(eventually([&] { return member(id, bob) && member(id, carol) && pending() == 0; }));
  gate(erc20_gate(10));
  EXPECT_TRUE(eventually([&] { return !member(id, bob) && !member(id, carol) && pending() == 0; }));
  EXPECT_TRUE(member(id, owner));
  dispatcher.stop(std::chrono::seconds(5));
  EXPECT_EQ(events(std::string(reevaluation_queued_topic)).size(), 3u);
}

INSTANTIATE_TEST_SUITE_P(Backends, CommunityServiceTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::community
