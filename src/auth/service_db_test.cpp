// auth's use cases on both backends, with a clock the test moves and a signature verifier the
// test controls: sessions expire, nonces are single-use and short-lived, EIP-1271 without a
// reachable chain is 503, the device limit holds, MLS key packages are checked, handed out once
// (also concurrently) down to the last-resort one and keys.low is published once per crossing, API
// keys are scoped and revocable, and the per-address sign-in gate only sees live attempts.
#include <gtest/gtest.h>

#include <mutex>
#include <set>
#include <thread>

#include <boost/asio/io_context.hpp>

#include "auth/migrations.hpp"
#include "auth/secrets.hpp"
#include "auth/service.hpp"
#include "auth/testing/keys.hpp"
#include "bus/migrations.hpp"
#include "core/testing/run_task.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
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
    m_settings.low_key_packages = 3;
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

  DeviceRegistration registration(std::string name, int packages, const testing::IdentityKey& id,
                                  const eth::Address& account = alice) {
    DeviceRegistration r;
    r.name = std::move(name);
    r.push_provider = "none";
    r.identity_key = id.public_base64();
    r.key_packages = id.key_packages(account, packages);
    r.last_resort_key_package = id.key_package(account);
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
  // A live attempt whose signature is not by the address's key is charged, before the verifier.
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

TEST_P(AuthServiceTest, ASignatureByTheAddressKeyIsNeverRefusedByTheGate) {
  // Attackers with live nonces may empty an address's bucket; its owner still signs in with its
  // key, decided locally (neither the gate nor the chain verifier is asked).
  auto key = eth::PrivateKey::from_hex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
  ASSERT_TRUE(key);
  int gated = 0;
  AuthService::SignInGate closed = [&](const eth::Address&) -> Result<void> {
    ++gated;
    return rate_limited("slow down", std::chrono::seconds(5));
  };
  auto nonce = run(m_service->issue_nonce());
  ASSERT_TRUE(nonce);
  const auto text = message_for(key->address(), nonce->nonce);
  // A wrong signature with the live nonce is charged, and the closed gate refuses it.
  auto wrong = run(m_service->verify(text, "0x" + std::string(130, '1'), ClientInfo{}, closed));
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().kind, ErrorKind::rate_limited);
  EXPECT_EQ(gated, 1);
  const int calls = m_verifier.calls;
  const auto fixed = eth::serialize_signature(eth::sign_personal_message(*key, eth::as_bytes(text)));
  auto in = run(m_service->verify(text, eth::to_hex(eth::ByteView(fixed.bytes)), ClientInfo{}, closed));
  ASSERT_TRUE(in) << in.error().code;
  EXPECT_EQ(in->address, key->address());
  EXPECT_EQ(gated, 1);
  EXPECT_EQ(m_verifier.calls, calls);
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
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("SELECT count(*) FROM auth_key_packages")->get_int(0); }), 4);
}

TEST_P(AuthServiceTest, KeyPackagesRunOutToTheLastResortAndKeysLowIsPublishedOncePerCrossing) {
  const auto who = principal(alice);
  testing::IdentityKey id;
  auto reg = registration("phone", 5, id);
  const auto last_resort = reg.last_resort_key_package;
  const std::set<std::string> uploaded(reg.key_packages.begin(), reg.key_packages.end());
  auto device = run(m_service->register_device(who, std::move(reg)));
  ASSERT_TRUE(device);
  std::set<std::string> handed;
  for (int i = 0; i < 5; ++i) {
    auto packages = run(m_service->key_packages(alice));
    ASSERT_TRUE(packages);
    ASSERT_EQ(packages->size(), 1U);
    const auto& p = (*packages)[0];
    EXPECT_EQ(p.device_id, *device);
    EXPECT_EQ(p.identity_key, id.public_base64());
    EXPECT_FALSE(p.last_resort);
    EXPECT_TRUE(uploaded.count(p.key_package));
    EXPECT_TRUE(handed.insert(p.key_package).second) << "a key package was handed out twice";
  }
  // 5 -> 0: crossed below 3 once.
  EXPECT_EQ(outbox("keys.low"), 1);
  for (int i = 0; i < 2; ++i) {
    auto empty = run(m_service->key_packages(alice));
    ASSERT_TRUE(empty);
    ASSERT_EQ(empty->size(), 1U);
    EXPECT_TRUE((*empty)[0].last_resort);  // never deleted
    EXPECT_EQ((*empty)[0].key_package, last_resort);
  }
  EXPECT_EQ(outbox("keys.low"), 1);
  // Refilled above the threshold (a package sent twice is kept once), then drained again: a
  // second crossing, a second event.
  auto more = id.key_packages(alice, 4);
  more.push_back(more.front());
  auto held = run(m_service->replenish(who, *device, more, ""));
  ASSERT_TRUE(held) << held.error().message;
  EXPECT_EQ(*held, 4);
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(run(m_service->key_packages(alice)));
  EXPECT_EQ(outbox("keys.low"), 2);
}

TEST_P(AuthServiceTest, LastResortOnlyFetchesTakeNoOneTimePackage) {
  testing::IdentityKey id;
  auto reg = registration("phone", 5, id);
  const auto last_resort = reg.last_resort_key_package;
  ASSERT_TRUE(run(m_service->register_device(principal(alice), std::move(reg))));
  for (int i = 0; i < 5; ++i) {
    auto packages = run(m_service->key_packages(alice, {}, true));
    ASSERT_TRUE(packages);
    ASSERT_EQ(packages->size(), 1U);
    EXPECT_TRUE((*packages)[0].last_resort);
    EXPECT_EQ((*packages)[0].key_package, last_resort);
  }
  EXPECT_EQ(outbox("keys.low"), 0);  // nothing was taken: the device never crossed below 3
  // All five one-time packages are still there for ordinary fetches.
  for (int i = 0; i < 5; ++i) {
    auto packages = run(m_service->key_packages(alice));
    ASSERT_TRUE(packages);
    EXPECT_FALSE((*packages)[0].last_resort);
  }
  EXPECT_TRUE((*run(m_service->key_packages(alice)))[0].last_resort);
}

TEST_P(AuthServiceTest, KeyPackagesAreHandedOutOnceUnderConcurrentFetches) {
  const auto who = principal(alice);
  testing::IdentityKey id;
  auto device = run(m_service->register_device(who, registration("phone", 12, id)));
  ASSERT_TRUE(device);
  // 16 fetches at once on the pool's threads: 12 one-time packages, each handed out once, then
  // the last-resort one.
  std::vector<std::string> one_time;
  int last_resort = 0;
  std::mutex lock;
  std::vector<std::thread> fetchers;
  for (int t = 0; t < 4; ++t) {
    fetchers.emplace_back([&] {
      for (int i = 0; i < 4; ++i) {
        boost::asio::io_context ioc;
        auto got = gh::testing::run(ioc, m_service->key_packages(alice));
        std::lock_guard guard(lock);
        ASSERT_TRUE(got);
        ASSERT_EQ(got->size(), 1U);
        if ((*got)[0].last_resort) {
          ++last_resort;
        } else {
          one_time.push_back((*got)[0].key_package);
        }
      }
    });
  }
  for (auto& f : fetchers) f.join();
  const std::set<std::string> distinct(one_time.begin(), one_time.end());
  EXPECT_EQ(distinct.size(), one_time.size()) << "a key package was handed out twice";
  EXPECT_EQ(one_time.size() + static_cast<std::size_t>(last_resort), 16U);
  // SKIP LOCKED may pass over a package a concurrent fetch holds, never hand it out twice; what
  // was not handed out is still there.
  auto me = run(m_service->me(who));
  ASSERT_TRUE(me);
  EXPECT_EQ(static_cast<std::size_t>(me->devices.at(0).key_packages) + one_time.size(), 12U);
  EXPECT_EQ(outbox("keys.low"), 1);
}

TEST_P(AuthServiceTest, KeyPackagesAreCheckedAgainstTheDeviceAndAFailureKeepsNothing) {
  const auto who = principal(alice);
  testing::IdentityKey id;
  testing::IdentityKey stranger;
  auto device = run(m_service->register_device(who, registration("phone", 1, id)));
  ASSERT_TRUE(device);
  // One package of another identity key spoils the request: nothing of it is kept.
  auto mixed = id.key_packages(alice, 2);
  mixed.push_back(stranger.key_package(alice));
  auto bad = run(m_service->replenish(who, *device, mixed, ""));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "key_package_signature_key");
  EXPECT_NE(bad.error().message.find("key_packages[2]"), std::string::npos);
  // Made for another account's address.
  auto for_bob = run(m_service->replenish(who, *device, {id.key_package(bob)}, ""));
  ASSERT_FALSE(for_bob);
  EXPECT_EQ(for_bob.error().code, "key_package_identity");
  // Expired by the server's clock.
  const auto now_s = std::chrono::duration_cast<std::chrono::seconds>(m_clock.now().time_since_epoch()).count();
  auto expired = id.key_package(alice, [&](auto& f) { f.lifetime = {0, static_cast<std::uint64_t>(now_s) - 3600}; });
  auto old = run(m_service->replenish(who, *device, {}, expired));
  ASSERT_FALSE(old);
  EXPECT_EQ(old.error().code, "key_package_lifetime");
  auto me = run(m_service->me(who));
  ASSERT_TRUE(me);
  EXPECT_EQ(me->devices.at(0).key_packages, 1);
  // A new last-resort package replaces the old one.
  const auto fresh = id.key_package(alice);
  auto good = run(m_service->replenish(who, *device, {}, fresh));
  ASSERT_TRUE(good) << good.error().message;
  ASSERT_TRUE(run(m_service->key_packages(alice)));  // takes the one-time package
  auto last = run(m_service->key_packages(alice));
  ASSERT_TRUE(last);
  EXPECT_TRUE((*last)[0].last_resort);
  EXPECT_EQ((*last)[0].key_package, fresh);
  // A registration with a bad package registers nothing.
  auto reg = registration("laptop", 1, id);
  reg.key_packages.push_back(id.key_package(alice, [](auto& f) { f.corrupt_signature = true; }));
  auto refused = run(m_service->register_device(who, std::move(reg)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "key_package_signature");
  EXPECT_EQ(outbox("auth.device_added"), 1);
  // Someone else's device: 403, and nothing changes.
  const auto intruder = principal(bob);
  auto theirs = run(m_service->replenish(intruder, *device, id.key_packages(bob, 1), ""));
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
