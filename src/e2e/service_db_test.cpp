// The delivery service on SQLite and PostgreSQL: DMs are unique per pair, a group's log has a
// gapless seq and at most one commit per epoch (also under concurrent commits), welcomes are
// queued per device of member accounts, consent hides what a denied peer writes, deleted devices
// lose their queues and read nothing more, and retention purges old ciphertext.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "auth/migrations.hpp"
#include "auth/secrets.hpp"
#include "auth/service.hpp"
#include "auth/testing/keys.hpp"
#include "bus/migrations.hpp"
#include "core/testing/run_task.hpp"
#include "e2e/migrations.hpp"
#include "e2e/service.hpp"
#include "mls/testing/builder.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::e2e {
namespace {

using mls::ContentType;
using store::Dialect;
using store::Tx;
namespace json = boost::json;

const SystemTime start_time = SystemTime(std::chrono::seconds(1'767'225'600));
const eth::Address alice = *eth::parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
const eth::Address bob = *eth::parse_address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359");
const eth::Address carol = *eth::parse_address("0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb");

class YesVerifier final : public auth::SignatureVerifier {
 public:
  Task<Result<void>> verify(std::uint64_t, const eth::Address&, std::string_view, const eth::Bytes&) override {
    co_return ok();
  }
};

class E2eServiceTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    auth::init_crypto();
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations(), auth::migrations(), e2e::migrations()});
    auth::AuthSettings a;
    a.siwe_domains = {"app.example.com"};
    a.chain_ids = {31337};
    m_auth = std::make_unique<auth::AuthService>(*m_db, m_pool, m_clock, a, m_verifier, [] {});
    m_service = std::make_unique<E2eService>(*m_db, m_pool, m_clock, E2eSettings{}, *m_auth, [] {});
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  // A signed-in account with one registered device.
  Caller device_of(const eth::Address& who) {
    auto nonce = run(m_auth->issue_nonce());
    EXPECT_TRUE(nonce);
    auto text = eth::build_siwe_message(
        auth::testing::siwe_fields(who, "app.example.com", nonce->nonce, format_rfc3339(m_clock.now())));
    auto in = run(m_auth->verify(*text, "0x00", auth::ClientInfo{"127.0.0.1", "test"}));
    EXPECT_TRUE(in) << in.error().message;
    auth::Principal principal{who, in->session_id};
    auth::DeviceRegistration reg;
    reg.name = "phone";
    reg.push_provider = "none";
    reg.identity_key = m_key.public_base64();
    reg.last_resort_key_package = m_key.key_package(who);
    auto device = run(m_auth->register_device(principal, std::move(reg)));
    EXPECT_TRUE(device) << device.error().message;
    return Caller{principal, *device};
  }

  GroupId group_id(std::string_view seed) {
    auto id = parse_group_id(encode_base64(mls::Bytes(seed.begin(), seed.end())));
    EXPECT_TRUE(id);
    return *id;
  }

  Result<GroupInfo> create(const Caller& c, const GroupId& id, GroupKind kind, std::vector<eth::Address> members) {
    NewGroup g{id, kind, std::move(members)};
    return run(m_service->create_group(c.principal, std::move(g)));
  }

  // Posts a message of `type` at `epoch` (a PrivateMessage), optionally with member changes and
  // welcomes.
  Result<std::int64_t> post(const Caller& c, const GroupId& id, std::uint64_t epoch, ContentType type,
                            std::string client_id = "", std::vector<eth::Address> add = {},
                            std::vector<WelcomeFor> welcomes = {}) {
    json::object body{{"message", encode_base64(mls::testing::private_message(id.bytes, epoch, type))}};
    if (!client_id.empty()) body["client_id"] = client_id;
    json::array adds;
    for (const auto& a : add) adds.push_back(json::string(eth::to_checksum(a)));
    body["add_members"] = adds;
    json::array ws;
    for (const auto& w : welcomes) ws.push_back(json::object{{"device_id", w.device_id}, {"welcome", w.welcome}});
    body["welcomes"] = ws;
    auto parsed = parse_post(body, id, m_service->settings());
    if (!parsed) return parsed.error();
    return run(m_service->post(c, id.id, std::move(*parsed)));
  }

  std::vector<std::int64_t> seqs(const Caller& c, const GroupId& id, std::int64_t after = 0) {
    auto list = run(m_service->messages(c, id.id, after, 100));
    EXPECT_TRUE(list) << list.error().code;
    std::vector<std::int64_t> out;
    if (list)
      for (const auto& m : *list) out.push_back(m.seq);
    return out;
  }

  std::int64_t outbox(const std::string& topic) {
    return m_db->read(
        [&](Tx& tx) { return tx.query_one("SELECT count(*) FROM bus_outbox WHERE topic = $1", {topic})->get_int(0); });
  }

  std::string welcome() { return encode_base64(mls::testing::welcome_message(1, {mls::Bytes(32, 7)})); }

  store::testing::FreshDatabase m_fresh{GetParam(), "e2e"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 64};
  boost::asio::io_context m_ioc;
  ManualClock m_clock{start_time};
  YesVerifier m_verifier;
  auth::testing::IdentityKey m_key;
  std::unique_ptr<auth::AuthService> m_auth;
  std::unique_ptr<E2eService> m_service;
};

TEST_P(E2eServiceTest, ADmIsUniquePerPairOfAccounts) {
  const auto a = device_of(alice);
  const auto b = device_of(bob);
  auto made = create(a, group_id("dm-1"), GroupKind::dm, {bob});
  ASSERT_TRUE(made) << made.error().message;
  EXPECT_EQ(made->members.size(), 2U);
  for (const auto& [who, other] : {std::pair{a, bob}, std::pair{b, alice}}) {
    auto again = create(who, group_id("dm-2"), GroupKind::dm, {other});
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, "dm_exists");
    EXPECT_EQ(json::parse(again.error().details_json).at("group_id").as_string(), group_id("dm-1").id);
  }
  auto taken = create(b, group_id("dm-1"), GroupKind::group, {});
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().code, "group_exists");
  EXPECT_EQ(outbox("e2e.group_created"), 1);
}

TEST_P(E2eServiceTest, SeqIsGaplessAndOneCommitWinsEachEpoch) {
  const auto a = device_of(alice);
  const auto b = device_of(bob);
  const auto g = group_id("group-1");
  ASSERT_TRUE(create(a, g, GroupKind::group, {bob}));
  EXPECT_EQ(*post(a, g, 0, ContentType::commit), 1);
  auto stale = post(b, g, 0, ContentType::commit);
  ASSERT_FALSE(stale);
  EXPECT_EQ(stale.error().code, "stale_epoch");
  EXPECT_EQ(json::parse(stale.error().details_json).at("epoch").as_int64(), 1);
  // Application messages and proposals must be for the current epoch too.
  EXPECT_EQ(post(b, g, 0, ContentType::application).error().code, "stale_epoch");
  EXPECT_EQ(post(b, g, 2, ContentType::application).error().code, "stale_epoch");
  EXPECT_EQ(*post(b, g, 1, ContentType::application), 2);
  EXPECT_EQ(*post(a, g, 1, ContentType::proposal), 3);
  EXPECT_EQ(*post(a, g, 1, ContentType::application, "c-1"), 4);
  // A retry with the same client id returns the first seq and stores nothing.
  EXPECT_EQ(*post(a, g, 1, ContentType::application, "c-1"), 4);
  EXPECT_EQ(*post(b, g, 1, ContentType::commit), 5);
  EXPECT_EQ(seqs(a, g), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(seqs(b, g, 3), (std::vector<std::int64_t>{4, 5}));
  auto info = run(m_service->group(a.principal, g.id));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->epoch, 2);
  EXPECT_EQ(info->last_seq, 5);
  EXPECT_EQ(outbox("e2e.message_posted"), 5);
}

// A stored sender that is not an address (a row written by hand, or corrupted) fails the read as
// the database's failure, rather than showing another sender.
TEST_P(E2eServiceTest, AMessageRowWhoseSenderIsNotAnAddressFailsItsReadAsTheDatabases) {
  const auto a = device_of(alice);
  const auto g = group_id("group-1");
  ASSERT_TRUE(create(a, g, GroupKind::group, {bob}));
  ASSERT_EQ(*post(a, g, 0, ContentType::commit), 1);
  ASSERT_EQ(seqs(a, g), std::vector<std::int64_t>{1});
  m_db->transact([&](store::Tx& tx) { tx.exec("UPDATE e2e_messages SET sender = 'not an address'"); });
  try {
    (void)run(m_service->messages(a, g.id, 0, 100));
    ADD_FAILURE() << "the read succeeded";
  } catch (const store::DbError& e) {
    EXPECT_EQ(e.kind(), store::DbErrorKind::other);
  }
}

TEST_P(E2eServiceTest, ConcurrentCommitsForOneEpochOneWins) {
  const auto a = device_of(alice);
  const auto b = device_of(bob);
  const auto g = group_id("group-race");
  ASSERT_TRUE(create(a, g, GroupKind::group, {bob}));
  for (std::uint64_t epoch = 0; epoch < 5; ++epoch) {
    std::mutex lock;
    int won = 0;
    int stale = 0;
    std::vector<std::thread> committers;
    for (const auto* c : {&a, &b, &a, &b}) {
      committers.emplace_back([&, c] {
        json::object body{
            {"message", encode_base64(mls::testing::private_message(g.bytes, epoch, ContentType::commit))}};
        auto parsed = parse_post(body, g, m_service->settings());
        ASSERT_TRUE(parsed);
        boost::asio::io_context ioc;
        auto r = gh::testing::run(ioc, m_service->post(*c, g.id, std::move(*parsed)));
        std::lock_guard guard(lock);
        if (r) {
          ++won;
        } else {
          EXPECT_EQ(r.error().code, "stale_epoch");
          ++stale;
        }
      });
    }
    for (auto& t : committers) t.join();
    EXPECT_EQ(won, 1) << "epoch " << epoch;
    EXPECT_EQ(stale, 3) << "epoch " << epoch;
  }
  EXPECT_EQ(seqs(a, g), (std::vector<std::int64_t>{1, 2, 3, 4, 5}));
}

TEST_P(E2eServiceTest, OnlyMembersAndTheirOwnDevicesReadOrPost) {
  const auto a = device_of(alice);
  const auto c = device_of(carol);
  const auto g = group_id("group-2");
  ASSERT_TRUE(create(a, g, GroupKind::group, {bob}));
  auto outsider = post(c, g, 0, ContentType::commit);
  ASSERT_FALSE(outsider);
  EXPECT_EQ(outsider.error().code, "not_member");
  auto read = run(m_service->messages(c, g.id, 0, 10));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().kind, ErrorKind::forbidden);
  // A device of another account, or no device at all, is not the caller's.
  auto borrowed = run(m_service->caller(a.principal, c.device_id));
  ASSERT_FALSE(borrowed);
  EXPECT_EQ(borrowed.error().code, "unknown_device");
  EXPECT_EQ(run(m_service->caller(a.principal, "")).error().code, "device_required");
  EXPECT_TRUE(run(m_service->caller(a.principal, a.device_id)));
  EXPECT_EQ(run(m_service->group(c.principal, g.id)).error().code, "not_member");
  EXPECT_EQ(run(m_service->group(c.principal, group_id("nope").id)).error().kind, ErrorKind::not_found);
}

TEST_P(E2eServiceTest, WelcomesGoToDevicesOfMemberAccountsWithTheCommitThatAddsThem) {
  const auto a = device_of(alice);
  const auto c = device_of(carol);
  const auto g = group_id("group-3");
  ASSERT_TRUE(create(a, g, GroupKind::group, {}));
  // Carol is not a member and the commit does not add her: her device gets no welcome.
  auto refused = post(a, g, 0, ContentType::commit, "", {}, {{c.device_id, welcome()}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "welcome_not_member");
  EXPECT_EQ(outbox("e2e.message_posted"), 0);
  auto unknown = post(a, g, 0, ContentType::commit, "", {carol}, {{"no-such-device", welcome()}});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "unknown_device");
  auto added = post(a, g, 0, ContentType::commit, "", {carol}, {{c.device_id, welcome()}});
  ASSERT_TRUE(added) << added.error().message;
  auto queued = run(m_service->welcomes(c));
  ASSERT_TRUE(queued);
  ASSERT_EQ(queued->size(), 1U);
  EXPECT_EQ((*queued)[0].group_id, g.id);
  EXPECT_EQ((*queued)[0].seq, *added);
  EXPECT_EQ((*queued)[0].welcome, welcome());
  EXPECT_EQ(outbox("e2e.welcome_queued"), 1);
  // Carol is a member now and reads from the commit on.
  EXPECT_EQ(seqs(c, g), std::vector<std::int64_t>{1});
  EXPECT_TRUE(run(m_service->ack(c, g.id, 1)));
  EXPECT_EQ(run(m_service->ack(c, g.id, 2)).error().code, "invalid_seq");
  EXPECT_TRUE(run(m_service->delete_welcome(c, (*queued)[0].id)));
  EXPECT_TRUE(run(m_service->welcomes(c))->empty());
  EXPECT_EQ(run(m_service->delete_welcome(c, (*queued)[0].id)).error().kind, ErrorKind::not_found);
  // Member changes and welcomes travel with commits only.
  json::object body{{"message", encode_base64(mls::testing::private_message(g.bytes, 1, ContentType::application))},
                    {"add_members", json::array{json::string(eth::to_checksum(bob))}}};
  EXPECT_EQ(parse_post(body, g, m_service->settings()).error().code, "member_change_without_commit");
}

TEST_P(E2eServiceTest, ADeniedPeersMessagesAreDroppedForTheRecipientOnly) {
  const auto a = device_of(alice);
  const auto b = device_of(bob);
  const auto g = group_id("dm-consent");
  ASSERT_TRUE(create(a, g, GroupKind::dm, {bob}));
  ASSERT_TRUE(post(a, g, 0, ContentType::commit));
  ASSERT_TRUE(post(a, g, 1, ContentType::application));
  // A request for Bob until he decides; never one for Alice, who started it.
  auto requests = run(m_service->dm_requests(b.principal));
  ASSERT_TRUE(requests);
  ASSERT_EQ(requests->size(), 1U);
  EXPECT_EQ((*requests)[0].id, g.id);
  EXPECT_TRUE(run(m_service->dm_requests(a.principal))->empty());
  ASSERT_TRUE(run(m_service->set_consent(b.principal, g.id, Consent::denied)));
  EXPECT_TRUE(run(m_service->dm_requests(b.principal))->empty());
  // Alice is not told: her post succeeds and she reads it; Bob never sees it.
  auto hidden = post(a, g, 1, ContentType::application);
  ASSERT_TRUE(hidden);
  EXPECT_EQ(seqs(a, g), (std::vector<std::int64_t>{1, 2, 3}));
  EXPECT_EQ(seqs(b, g), (std::vector<std::int64_t>{1, 2}));
  // Allowed again: what follows reaches Bob.
  ASSERT_TRUE(run(m_service->set_consent(b.principal, g.id, Consent::allowed)));
  ASSERT_TRUE(post(a, g, 1, ContentType::application));
  EXPECT_EQ(seqs(b, g), (std::vector<std::int64_t>{1, 2, 4}));
  // Blocked: dropped, and the DM leaves Bob's list of groups.
  ASSERT_TRUE(run(m_service->set_consent(b.principal, g.id, Consent::blocked)));
  ASSERT_TRUE(post(a, g, 1, ContentType::application));
  EXPECT_EQ(seqs(b, g), (std::vector<std::int64_t>{1, 2, 4}));
  EXPECT_TRUE(run(m_service->groups(b.principal))->empty());
  EXPECT_EQ(run(m_service->groups(a.principal))->size(), 1U);
  // The live log (the realtime gateway's history) keeps the sequence whole for Bob: the messages
  // withheld from him come without their ciphertext.
  auto source = m_service->topic_source();
  auto frames = run(source.history(bob, g.id, 0, 100));
  ASSERT_TRUE(frames);
  ASSERT_EQ(frames->size(), 5U);
  for (const auto& f : *frames) {
    auto frame = json::parse(f.frame).as_object();
    const bool withheld = f.seq == 3 || f.seq == 5;
    EXPECT_EQ(frame.contains("withheld"), withheld) << f.seq;
    EXPECT_EQ(frame.contains("message"), !withheld) << f.seq;
  }
  EXPECT_TRUE(run(source.authorize(bob, g.id)).value());
  EXPECT_FALSE(run(source.authorize(carol, g.id)).value());
  EXPECT_EQ(run(source.head(g.id)).value().seq, 5);
  // Consent is about DMs.
  const auto group = group_id("not-a-dm");
  ASSERT_TRUE(create(a, group, GroupKind::group, {bob}));
  EXPECT_EQ(run(m_service->set_consent(b.principal, group.id, Consent::denied)).error().code, "not_a_dm");
}

TEST_P(E2eServiceTest, DeviceEventsAreAnnouncedToGroupsAndARemovedDeviceLosesItsQueue) {
  const auto a = device_of(alice);
  const auto c = device_of(carol);
  const auto g = group_id("group-devices");
  ASSERT_TRUE(create(a, g, GroupKind::group, {carol}));
  ASSERT_TRUE(post(a, g, 0, ContentType::commit, "", {}, {{c.device_id, welcome()}}));
  auto consumer = m_service->device_consumer();
  auto apply = [&](const std::string& topic, const eth::Address& who, const std::string& device) {
    bus::Event e;
    e.topic = topic;
    e.payload = json::serialize(json::object{{"address", eth::to_checksum(who)}, {"device_id", device}});
    m_db->transact([&](Tx& tx) { consumer.apply(tx, e); });
  };
  apply("auth.device_added", carol, "carols-laptop");
  EXPECT_EQ(outbox("e2e.device_added"), 1);
  // auth deletes the device, then its event drops the queue.
  ASSERT_TRUE(run(m_auth->delete_device(c.principal, c.device_id)));
  apply("auth.device_removed", carol, c.device_id);
  EXPECT_EQ(outbox("e2e.device_removed"), 1);
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("SELECT count(*) FROM e2e_welcomes")->get_int(0); }), 0);
  // The deleted device reads nothing more.
  EXPECT_EQ(run(m_service->caller(c.principal, c.device_id)).error().code, "unknown_device");
  // The group lists the devices its leaves should be: Alice's, and no longer Carol's old one.
  auto devices = run(m_service->group_devices(a.principal, g.id));
  ASSERT_TRUE(devices);
  ASSERT_EQ(devices->size(), 1U);
  EXPECT_EQ((*devices)[0].device_id, a.device_id);
  EXPECT_EQ((*devices)[0].identity_key, m_key.public_base64());
}

TEST_P(E2eServiceTest, RetentionPurgesOldCiphertextAndWelcomes) {
  const auto a = device_of(alice);
  const auto c = device_of(carol);
  const auto g = group_id("group-old");
  ASSERT_TRUE(create(a, g, GroupKind::group, {carol}));
  ASSERT_TRUE(post(a, g, 0, ContentType::commit, "", {}, {{c.device_id, welcome()}}));
  m_clock.advance(std::chrono::hours(24 * 60));
  ASSERT_TRUE(post(a, g, 1, ContentType::application));
  m_clock.advance(std::chrono::hours(24 * 31));
  // 91 days after the first post: it is no longer served, then purged; the second stays.
  EXPECT_EQ(seqs(a, g), std::vector<std::int64_t>{2});
  auto gone = run(m_service->purge());
  ASSERT_TRUE(gone);
  EXPECT_EQ(*gone, 2);  // the commit and its welcome
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("SELECT count(*) FROM e2e_messages")->get_int(0); }), 1);
  EXPECT_TRUE(run(m_service->welcomes(c))->empty());
  // seq goes on from where it was.
  EXPECT_EQ(*post(a, g, 1, ContentType::application), 3);
}

INSTANTIATE_TEST_SUITE_P(Backends, E2eServiceTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::e2e
