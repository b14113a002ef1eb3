// auth's use cases on both backends, with a clock the test moves and a signature verifier the
// test controls: sessions expire, nonces are single-use and short-lived, EIP-1271 without a
// reachable chain is 503, the device limit holds, one-time prekeys run out and keys.low is
// published once per crossing, rotated signed prekeys are checked in the same transaction, API
// keys are scoped and revocable, and the per-address sign-in gate only sees live attempts.
#include <gtest/gtest.h>

#include <set>

#include <boost/asio/io_context.hpp>

#include "auth/migrations.hpp"
#include "auth/secrets.hpp"
#include "auth/service.hpp"
#include "auth/testing/keys.hpp"
#include "bus/migrations.hpp"
#include "core/testing/run_task.hpp"
#include "rpc/rpc_client.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::auth {
namespace {

using store::Dialect;
using store::Tx;

// 2026-01-01T00:00:00Z
const SystemTime start_time = SystemTime(std::chrono::seconds(1'767'225'600));
const eth::Address alice = *eth::parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
const eth::Address bob = *eth::parse_address("0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359");

/// Says yes or no as the test tells it, and counts the questions.
class FakeVerifier final : public SignatureVerifier {
 public:
  std::optional<Error> answer;  ///< nullopt: the signature is good
  int calls = 0;
  Task<Result<void>> verify(std::uint64_t, const eth::Address&, std::string_view, const eth::Bytes&) override {
    ++calls;
    if (answer) co_return *answer;
    co_return ok();
  }
};

class AuthServiceTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    init_crypto();
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{bus::migrations(), auth::migrations()});
    m_settings.siwe_domains = {"app.example.com"};
    m_settings.chain_ids = {31337};
    m_settings.max_devices = 2;
    m_settings.low_prekeys = 3;
    m_service = make_service(m_verifier);
  }

  std::unique_ptr<AuthService> make_service(SignatureVerifier& verifier) {
    return std::make_unique<AuthService>(*m_db, m_pool, m_clock, m_settings, verifier, [this] { ++m_wakes; });
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  // A message by `who` for our domain with a fresh nonce, issued now.
  std::string message_for(const eth::Address& who, std::string nonce) {
    const auto issued = format_rfc3339(m_clock.now());
    auto text = eth::build_siwe_message(testing::siwe_fields(who, "app.example.com", std::move(nonce), issued));
    EXPECT_TRUE(text);
    return *text;
  }

  Result<SignedIn> sign_in(const eth::Address& who, AuthService::SignInGate gate = {}) {
    auto nonce = run(m_service->issue_nonce());
    EXPECT_TRUE(nonce);
    return run(m_service->verify(message_for(who, nonce->nonce), "0x00", ClientInfo{"127.0.0.1", "test"}, gate));
  }

  Principal principal(const eth::Address& who) {
    auto in = sign_in(who);
    EXPECT_TRUE(in) << in.error().code;
    return Principal{who, in->session_id};
  }

  DeviceRegistration registration(std::string name, int prekeys, const testing::IdentityKey& id) {
    DeviceRegistration r;
    r.name = std::move(name);
    r.push_provider = "none";
    r.identity_key = id.public_base64();
    r.signed_prekey = id.signed_prekey(1);
    for (int i = 0; i < prekeys; ++i) r.one_time_prekeys.push_back(testing::one_time_prekey(i));
    return r;
  }

  std::int64_t outbox(const std::string& topic) {
    return m_db->read(
        [&](Tx& tx) { return tx.query_one("SELECT count(*) FROM bus_outbox WHERE topic = $1", {topic})->get_int(0); });
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "auth"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 64};
  boost::asio::io_context m_ioc;
  ManualClock m_clock{start_time};
  AuthSettings m_settings;
  FakeVerifier m_verifier;
  int m_wakes = 0;
  std::unique_ptr<AuthService> m_service;
};

TEST_P(AuthServiceTest, SessionsLastTheirTtlAndNoLonger) {
  auto in = sign_in(alice);
  ASSERT_TRUE(in) << in.error().code;
  EXPECT_TRUE(in->new_account);
  EXPECT_EQ(outbox("auth.signed_in"), 1);
  EXPECT_GE(m_wakes, 1);
  EXPECT_TRUE(run(m_service->authenticate(in->token)));
  m_clock.advance(m_settings.session_ttl - std::chrono::seconds(1));
  EXPECT_TRUE(run(m_service->authenticate(in->token)));
  m_clock.advance(std::chrono::seconds(1));
  auto expired = run(m_service->authenticate(in->token));
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, "invalid_session");
  // A tampered secret is refused even while the session lives.
  auto again = sign_in(alice);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->new_account);
  auto tampered = again->token;
  tampered.back() = tampered.back() == 'a' ? 'b' : 'a';
  EXPECT_FALSE(run(m_service->authenticate(tampered)));
}

TEST_P(AuthServiceTest, LogoutAndRevocationEndASessionAtOnce) {
  auto in = sign_in(alice);
  ASSERT_TRUE(in);
  auto who = run(m_service->authenticate(in->token));
  ASSERT_TRUE(who);
  auto other = sign_in(bob);
  ASSERT_TRUE(other);
  // Not bob's to revoke.
  auto refused = run(m_service->revoke_session(Principal{bob, other->session_id}, in->session_id));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::forbidden);
  EXPECT_TRUE(run(m_service->logout(*who)));
  EXPECT_FALSE(run(m_service->authenticate(in->token)));
}

TEST_P(AuthServiceTest, NoncesAreSingleUseAndExpire) {
  auto nonce = run(m_service->issue_nonce());
  ASSERT_TRUE(nonce);
  const auto message = message_for(alice, nonce->nonce);
  EXPECT_TRUE(run(m_service->verify(message, "0x00", ClientInfo{}, {})));
  auto replay = run(m_service->verify(message, "0x00", ClientInfo{}, {}));
  ASSERT_FALSE(replay);
  EXPECT_EQ(replay.error().code, "siwe_nonce_invalid");

  auto stale = run(m_service->issue_nonce());
  ASSERT_TRUE(stale);
  m_clock.advance(m_settings.nonce_ttl + std::chrono::seconds(1));
  // A message issued now (so its own times are fine) with a nonce past its lifetime.
  auto late = run(m_service->verify(message_for(alice, stale->nonce), "0x00", ClientInfo{}, {}));
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "siwe_nonce_invalid");
  auto unknown = run(m_service->verify(message_for(alice, "neverissued1"), "0x00", ClientInfo{}, {}));
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "siwe_nonce_invalid");
}

TEST_P(AuthServiceTest, TheAddressGateSeesOnlyLiveAttemptsAndItsRefusalStoresNothing) {
  std::vector<eth::Address> gated;
  AuthService::SignInGate gate = [&](const eth::Address& a) -> Result<void> {
    gated.push_back(a);
    return ok();
  };
  // Junk naming alice, and a well-formed message without a live nonce: the gate never hears.
  EXPECT_FALSE(run(m_service->verify("x\n0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "", ClientInfo{}, gate)));
  EXPECT_FALSE(run(m_service->verify(message_for(alice, "neverissued1"), "0x00", ClientInfo{}, gate)));
  EXPECT_TRUE(gated.empty());
  EXPECT_EQ(m_verifier.calls, 0);
  // A live attempt is charged, before the signature is checked.
  ASSERT_TRUE(sign_in(alice, gate));
  ASSERT_EQ(gated.size(), 1U);
  EXPECT_EQ(gated[0], alice);
  // A refusing gate ends the attempt: no signature check, the nonce stays usable.
  auto nonce = run(m_service->issue_nonce());
  ASSERT_TRUE(nonce);
  const auto message = message_for(alice, nonce->nonce);
  const int calls = m_verifier.calls;
  AuthService::SignInGate closed = [](const eth::Address&) -> Result<void> {
    return rate_limited("slow down", std::chrono::seconds(5));
  };
  auto limited = run(m_service->verify(message, "0x00", ClientInfo{}, closed));
  ASSERT_FALSE(limited);
  EXPECT_EQ(limited.error().kind, ErrorKind::rate_limited);
  EXPECT_EQ(limited.error().retry_after, std::chrono::seconds(5));
  EXPECT_EQ(m_verifier.calls, calls);
  EXPECT_TRUE(run(m_service->verify(message, "0x00", ClientInfo{}, {})));
}

TEST_P(AuthServiceTest, AContractWalletWithoutAReachableChainIs503) {
  // Nothing listens on port 1: the chain cannot be asked whether the contract signed.
  rpc::RpcClientSettings rpc_settings;
  rpc_settings.endpoints = {"http://127.0.0.1:1"};
  rpc_settings.max_attempts = 1;
  rpc_settings.attempt_timeout = std::chrono::milliseconds(2000);
  rpc_settings.total_timeout = std::chrono::milliseconds(3000);
  rpc::RpcClient client(m_ioc.get_executor(), rpc_settings);
  ChainSignatureVerifier chain([&](std::uint64_t id) { return id == 31337 ? &client : nullptr; });
  m_service = make_service(chain);
  auto nonce = run(m_service->issue_nonce());
  ASSERT_TRUE(nonce);
  const std::string zeros = "0x" + std::string(130, '0');
  auto r = run(m_service->verify(message_for(alice, nonce->nonce), zeros, ClientInfo{}, {}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::unavailable);
  EXPECT_EQ(r.error().code, "chain_unavailable");
  // Nothing was stored, and the nonce is still there for a retry.
  EXPECT_EQ(outbox("auth.signed_in"), 0);
  m_service = make_service(m_verifier);
  EXPECT_TRUE(run(m_service->verify(message_for(alice, nonce->nonce), "0x00", ClientInfo{}, {})));
}

TEST_P(AuthServiceTest, TheDeviceLimitHoldsAndARefusalWritesNothing) {
  const auto who = principal(alice);
  testing::IdentityKey id;
  ASSERT_TRUE(run(m_service->register_device(who, registration("one", 2, id))));
  ASSERT_TRUE(run(m_service->register_device(who, registration("two", 2, id))));
  auto third = run(m_service->register_device(who, registration("three", 2, id)));
  ASSERT_FALSE(third);
  EXPECT_EQ(third.error().code, "too_many_devices");
  auto me = run(m_service->me(who));
  ASSERT_TRUE(me);
  EXPECT_EQ(me->devices.size(), 2U);
  EXPECT_EQ(outbox("auth.device_added"), 2);
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("SELECT count(*) FROM auth_prekeys")->get_int(0); }), 4);
}

TEST_P(AuthServiceTest, PrekeysRunOutAndKeysLowIsPublishedOncePerCrossing) {
  const auto who = principal(alice);
  const auto fetcher = principal(bob);
  (void)fetcher;
  testing::IdentityKey id;
  auto device = run(m_service->register_device(who, registration("phone", 5, id)));
  ASSERT_TRUE(device);
  std::set<std::int64_t> handed;
  for (int i = 0; i < 5; ++i) {
    auto bundles = run(m_service->key_bundles(alice));
    ASSERT_TRUE(bundles);
    ASSERT_EQ(bundles->size(), 1U);
    ASSERT_TRUE((*bundles)[0].one_time_prekey);
    EXPECT_TRUE(handed.insert((*bundles)[0].one_time_prekey->id).second) << "a prekey was handed out twice";
  }
  // 5 -> 0: crossed below 3 once.
  EXPECT_EQ(outbox("keys.low"), 1);
  auto empty = run(m_service->key_bundles(alice));
  ASSERT_TRUE(empty);
  ASSERT_EQ(empty->size(), 1U);
  EXPECT_FALSE((*empty)[0].one_time_prekey);  // the signed prekey alone
  EXPECT_EQ(outbox("keys.low"), 1);
  // Refilled above the threshold, then drained again: a second crossing, a second event.
  std::vector<Prekey> more;
  for (int i = 10; i < 14; ++i) more.push_back(testing::one_time_prekey(i));
  auto held = run(m_service->replenish(who, *device, more, std::nullopt));
  ASSERT_TRUE(held);
  EXPECT_EQ(*held, 4);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(run(m_service->key_bundles(alice)));
  EXPECT_EQ(outbox("keys.low"), 2);
}

TEST_P(AuthServiceTest, ARotatedSignedPrekeyIsCheckedInTheSameTransactionAsItsWrite) {
  const auto who = principal(alice);
  testing::IdentityKey id;
  testing::IdentityKey stranger;
  auto device = run(m_service->register_device(who, registration("phone", 1, id)));
  ASSERT_TRUE(device);
  std::vector<Prekey> more{testing::one_time_prekey(50)};
  // Signed by another identity: refused, and the prekeys of the same request are not kept.
  auto bad = run(m_service->replenish(who, *device, more, stranger.signed_prekey(2)));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "invalid_signature");
  auto me = run(m_service->me(who));
  ASSERT_TRUE(me);
  EXPECT_EQ(me->devices.at(0).one_time_prekeys, 1);
  // Signed by the device's identity: both kept.
  auto good = run(m_service->replenish(who, *device, more, id.signed_prekey(2)));
  ASSERT_TRUE(good) << good.error().code;
  EXPECT_EQ(*good, 2);
  auto bundles = run(m_service->key_bundles(alice));
  ASSERT_TRUE(bundles);
  EXPECT_EQ((*bundles)[0].signed_prekey.id, 2);
  // Someone else's device: 403, and nothing changes.
  const auto intruder = principal(bob);
  auto theirs = run(m_service->replenish(intruder, *device, {}, id.signed_prekey(3)));
  ASSERT_FALSE(theirs);
  EXPECT_EQ(theirs.error().kind, ErrorKind::forbidden);
}

TEST_P(AuthServiceTest, ApiKeysAreScopedAndRevocable) {
  auto key = AuthService::create_api_key(*m_db, m_clock, "discord-bot", {"bot.read"});
  ASSERT_TRUE(key);
  EXPECT_FALSE(AuthService::create_api_key(*m_db, m_clock, "x", {"admin"}));
  auto bot = run(m_service->authenticate_api_key(*key));
  ASSERT_TRUE(bot);
  EXPECT_EQ(bot->name, "discord-bot");
  EXPECT_TRUE(bot->has_scope("bot.read"));
  EXPECT_FALSE(bot->has_scope("bot.write"));
  auto listed = AuthService::list_api_keys(*m_db);
  ASSERT_EQ(listed.size(), 1U);
  EXPECT_EQ(listed[0].id, bot->key_id);
  EXPECT_FALSE(listed[0].revoked_at);
  ASSERT_TRUE(AuthService::revoke_api_key(*m_db, m_clock, bot->key_id));
  auto revoked = run(m_service->authenticate_api_key(*key));
  ASSERT_FALSE(revoked);
  EXPECT_EQ(revoked.error().code, "invalid_api_key");
  EXPECT_TRUE(AuthService::list_api_keys(*m_db)[0].revoked_at);
  // Revoking twice, or an unknown id, says so.
  EXPECT_FALSE(AuthService::revoke_api_key(*m_db, m_clock, bot->key_id));
  EXPECT_FALSE(AuthService::revoke_api_key(*m_db, m_clock, "nope"));
}

// Retention: used and expired nonces go, live ones stay; sessions go once expired or revoked
// longer than the retention ago, live ones and recently ended ones stay.
TEST_P(AuthServiceTest, RetentionDeletesUsedAndExpiredNonces) {
  auto used = run(m_service->issue_nonce());
  ASSERT_TRUE(used);
  ASSERT_TRUE(run(m_service->verify(message_for(alice, used->nonce), "0x00", ClientInfo{"127.0.0.1", "t"})));
  auto expiring = run(m_service->issue_nonce());
  ASSERT_TRUE(expiring);
  m_clock.advance(m_settings.nonce_ttl);  // `expiring` expires now
  auto live = run(m_service->issue_nonce());
  ASSERT_TRUE(live);
  const auto nonces = [&] {
    return m_db->read([](Tx& tx) {
      std::set<std::string> out;
      for (const auto& row : tx.query("SELECT nonce FROM auth_nonces")) out.insert(row.get_text(0));
      return out;
    });
  };
  ASSERT_EQ(nonces().size(), 3u);
  auto purged = run(m_service->purge_nonces());
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 2);
  EXPECT_EQ(nonces(), (std::set<std::string>{live->nonce}));
  // The live one still signs in; the purged ones are refused as before.
  EXPECT_TRUE(run(m_service->verify(message_for(bob, live->nonce), "0x00", ClientInfo{"127.0.0.1", "t"})));
  auto again = run(m_service->verify(message_for(bob, used->nonce), "0x00", ClientInfo{"127.0.0.1", "t"}));
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code, "siwe_nonce_invalid");
}

TEST_P(AuthServiceTest, RetentionDeletesSessionsLongExpiredOrRevoked) {
  m_settings.session_ttl = std::chrono::hours(24);
  m_settings.session_retention = std::chrono::hours(48);
  m_service = make_service(m_verifier);
  auto expired = sign_in(alice);  // expires at day 1
  ASSERT_TRUE(expired);
  auto revoked = sign_in(alice);
  ASSERT_TRUE(revoked);
  ASSERT_TRUE(run(m_service->logout(Principal{alice, revoked->session_id})));  // revoked at day 0
  m_clock.advance(std::chrono::hours(30));
  auto recent = sign_in(bob);  // expires at day 2.25
  ASSERT_TRUE(recent);
  m_clock.advance(std::chrono::hours(36));  // day 2.75: `recent` expired half a day ago
  auto live = sign_in(bob);
  ASSERT_TRUE(live);
  const auto sessions = [&] {
    return m_db->read([](Tx& tx) {
      std::set<std::string> out;
      for (const auto& row : tx.query("SELECT id FROM auth_sessions")) out.insert(row.get_text(0));
      return out;
    });
  };
  ASSERT_EQ(sessions().size(), 4u);
  // Day 2.75: the revoked one ended 2.75 days ago (past 2), the expired one 1.75 days ago.
  auto purged = run(m_service->purge_sessions());
  ASSERT_TRUE(purged);
  EXPECT_EQ(*purged, 1);
  EXPECT_EQ(sessions(), (std::set<std::string>{expired->session_id, recent->session_id, live->session_id}));
  m_clock.advance(std::chrono::hours(6));  // day 3: the expired one ended 2 days ago, not before
  EXPECT_EQ(*run(m_service->purge_sessions()), 0);
  m_clock.advance(std::chrono::milliseconds(1));
  EXPECT_EQ(*run(m_service->purge_sessions()), 1);
  EXPECT_EQ(sessions(), (std::set<std::string>{recent->session_id, live->session_id}));
  EXPECT_TRUE(run(m_service->authenticate(live->token)));
}

INSTANTIATE_TEST_SUITE_P(Backends, AuthServiceTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::auth
