// The push providers against loopback fakes that speak each party's protocol, with independent
// oracles: http_ece (under npm web-push) decrypts our Web Push bodies, node's crypto verifies the
// VAPID ES256 and the FCM RS256 JWTs. Retry delays are recorded by a test sleep, never timed.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <mutex>

#include "core/testing/run_task.hpp"
#include "net/testing/loopback_server.hpp"
#include "notify/fcm.hpp"
#include "notify/push_crypto.hpp"
#include "notify/testing/oracle.hpp"
#include "notify/webhook_provider.hpp"
#include "notify/webpush.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;
using net::testing::http_response;
using net::testing::LoopbackServer;
using net::testing::Reply;
using std::chrono::milliseconds;

const SystemTime start_time = SystemTime(std::chrono::seconds(1'767'225'600));

std::string to_hex(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

std::string header_of(const LoopbackServer::Request& request, std::string_view name) {
  auto it = request.find(name);
  return it == request.end() ? std::string() : std::string(it->value());
}

/// A RetryPolicy whose sleeps are recorded and take no time.
struct RecordedSleeps {
  std::mutex mutex;
  std::vector<milliseconds> delays;
  RetryPolicy policy() {
    RetryPolicy p;
    p.backoff_base = milliseconds(100);
    p.sleep = [this](milliseconds d) -> Task<void> {
      {
        std::lock_guard lock(mutex);
        delays.push_back(d);
      }
      co_return;
    };
    return p;
  }
};

PushMessage sample_message() {
  PushMessage m;
  m.notification_id = "n-1";
  m.kind = "mention";
  m.title = "alice mentioned you";
  m.body = "gm @bob, ready for the raid?";
  m.data_json = R"({"community_id":"c-1","channel_id":"ch-9"})";
  m.topic = "channel ch-9";
  m.urgency = "high";
  m.ttl = std::chrono::seconds(3600);
  return m;
}

TEST(PushCrypto, Base64urlRoundTripsAndRejectsJunk) {
  for (std::string s :
       std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00\x01", 4)}) {
    auto decoded = base64url_decode(base64url_encode(s));
    ASSERT_TRUE(decoded);
    EXPECT_EQ(std::string(decoded->begin(), decoded->end()), s);
  }
  EXPECT_EQ(base64url_encode(std::string_view("\xfb\xff", 2)), "-_8");
  EXPECT_FALSE(base64url_decode("ab$c"));
  EXPECT_TRUE(base64url_decode("Zm9vYg=="));  // padded standard base64 is accepted too
}

TEST(PushCrypto, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(hmac_sha256_hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(PushCrypto, TruncationNeverSplitsACodePoint) {
  EXPECT_EQ(truncate_utf8("hello", 10), "hello");
  const std::string cut = truncate_utf8("h\xC3\xA9llo w\xC3\xB6rld", 6);
  EXPECT_LE(cut.size(), 6u);
  EXPECT_EQ(cut, "h\xC3\xA9\xE2\x80\xA6");
}

TEST(PushRetry, RetryAfterAcceptsSecondsAndHttpDates) {
  const auto now = std::chrono::system_clock::from_time_t(1445412480);  // Wed, 21 Oct 2015 07:28:00 GMT
  EXPECT_EQ(parse_retry_after("7", now), milliseconds(7000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now), milliseconds(30000));
  EXPECT_EQ(parse_retry_after("Wed, 21 Oct 2015 07:27:00 GMT", now), milliseconds(0));
  EXPECT_FALSE(parse_retry_after("soon", now));
}

TEST(WebPush, HttpEceDecryptsOurRecord) {
  const auto sub = testing::oracle(json::object{{"op", "subscription"}});
  const auto p256dh = *base64url_decode(std::string(sub.at("p256dh").as_string()));
  const auto auth = *base64url_decode(std::string(sub.at("auth").as_string()));
  for (std::size_t pad : {std::size_t{0}, std::size_t{200}}) {
    const std::string plaintext = R"({"kind":"dm","title":"h\u00e9","body":"new message"})";
    auto body = encrypt_aes128gcm(plaintext, p256dh, auth, pad);
    ASSERT_TRUE(body) << body.error().message;
    EXPECT_EQ(body->size(), 86 + std::max(plaintext.size(), pad) + 1 + 16);
    const auto answer = testing::oracle(json::object{
        {"op", "decrypt"}, {"private", sub.at("private")}, {"auth", sub.at("auth")}, {"body_hex", to_hex(*body)}});
    EXPECT_EQ(answer.at("plaintext").as_string(), plaintext);
    EXPECT_EQ(answer.at("record_size").as_int64(), 4096);
  }
}

TEST(WebPush, RefusesBadKeysAndOversizedPayloads) {
  const auto sub = testing::oracle(json::object{{"op", "subscription"}});
  const auto p256dh = *base64url_decode(std::string(sub.at("p256dh").as_string()));
  ByteString bad_point = p256dh;
  bad_point[40] ^= 0x01;  // off the curve
  EXPECT_EQ(encrypt_aes128gcm("x", bad_point, ByteString(16, 1)).error().code, "invalid_subscription");
  EXPECT_EQ(encrypt_aes128gcm("x", p256dh, ByteString(15, 1)).error().code, "invalid_subscription");
  EXPECT_EQ(encrypt_aes128gcm(std::string(4000, 'a'), p256dh, ByteString(16, 1)).error().code, "payload_too_large");
  // The payload builder cuts the preview so the record always fits.
  PushMessage big = sample_message();
  big.body = std::string(10'000, 'z');
  EXPECT_TRUE(encrypt_aes128gcm(webpush_payload(big), p256dh, ByteString(16, 1)));
  EXPECT_NE(webpush_payload(big).find("\"notification_id\":\"n-1\""), std::string::npos);
}

TEST(WebPush, VapidKeyFileIsCreatedOnceAndReloaded) {
  const auto path = std::filesystem::temp_directory_path() / ("gh-vapid-" + std::to_string(getpid())) / "vapid.json";
  std::filesystem::remove_all(path.parent_path());
  auto first = load_or_create_vapid_key(path.string());
  ASSERT_TRUE(first);
  auto second = load_or_create_vapid_key(path.string());
  ASSERT_TRUE(second);
  EXPECT_EQ((*first)->public_point(), (*second)->public_point());
  EXPECT_EQ(std::filesystem::status(path).permissions() & std::filesystem::perms::others_read,
            std::filesystem::perms::none);
  std::filesystem::remove_all(path.parent_path());
}

TEST(WebPush, ProviderSendsRfc8030HeadersVapidAndADecryptableBody) {
  const auto sub = testing::oracle(json::object{{"op", "subscription"}});
  std::mutex mutex;
  std::vector<LoopbackServer::Request> seen;
  LoopbackServer server([&](const LoopbackServer::Request& r, int index) {
    {
      std::lock_guard lock(mutex);
      seen.push_back(r);
    }
    if (r.target() == "/push/gone") return Reply{http_response(410, "text/plain", "gone")};
    if (index == 1) return Reply{http_response(503, "text/plain", "busy", "Retry-After: 2\r\n")};
    return Reply{http_response(201, "text/plain", "")};
  });
  boost::asio::io_context ioc;
  net::HttpClient http(ioc.get_executor());
  ManualClock clock(start_time);
  RecordedSleeps sleeps;
  WebPushSettings settings;
  settings.retry = sleeps.policy();
  auto key = std::make_shared<const P256Key>(P256Key::generate());
  WebPushProvider provider(http, clock, VapidIdentity{key, "mailto:ops@example.com"}, settings);
  json::object subscription{{"endpoint", server.url("/push/abc")},
                            {"keys", json::object{{"p256dh", sub.at("p256dh")}, {"auth", sub.at("auth")}}}};
  PushTarget target{"d-1", "webpush", json::serialize(subscription)};

  auto sent = gh::testing::run(ioc, provider.send(target, sample_message()));
  EXPECT_EQ(sent.outcome, PushOutcome::delivered);
  EXPECT_EQ(sent.retries, 0);
  ASSERT_EQ(seen.size(), 1u);
  const auto& r = seen[0];
  EXPECT_EQ(header_of(r, "Content-Encoding"), "aes128gcm");
  EXPECT_EQ(header_of(r, "TTL"), "3600");
  EXPECT_EQ(header_of(r, "Urgency"), "high");
  const std::string topic = header_of(r, "Topic");
  EXPECT_EQ(topic.size(), 32u);  // "channel ch-9" has a space: hashed to 32 base64url characters
  EXPECT_EQ(topic.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos);
  // Authorization: vapid t=<jwt>, k=<key>; the JWT verifies independently for this origin.
  const std::string authorization = header_of(r, "Authorization");
  ASSERT_TRUE(authorization.starts_with("vapid t="));
  const auto comma = authorization.find(", k=");
  ASSERT_NE(comma, std::string::npos);
  const std::string jwt = authorization.substr(8, comma - 8);
  const std::string k = authorization.substr(comma + 4);
  EXPECT_EQ(k, provider.public_key());
  const auto verified = testing::oracle(json::object{{"op", "verify_es256"}, {"jwt", jwt}, {"public_key", k}});
  EXPECT_TRUE(verified.at("ok").as_bool());
  EXPECT_EQ(verified.at("claims").at("aud").as_string(), server.url());
  EXPECT_EQ(verified.at("claims").at("sub").as_string(), "mailto:ops@example.com");
  EXPECT_EQ(verified.at("claims").at("exp").as_int64(), 1'767'225'600 + 12 * 3600);
  // A tampered JWT fails the same check: the oracle can say no.
  std::string tampered = jwt;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(
      testing::oracle(json::object{{"op", "verify_es256"}, {"jwt", tampered}, {"public_key", k}}).at("ok").as_bool());
  const auto decrypted = testing::oracle(json::object{
      {"op", "decrypt"}, {"private", sub.at("private")}, {"auth", sub.at("auth")}, {"body_hex", to_hex(r.body())}});
  const auto payload = json::parse(decrypted.at("plaintext").as_string()).as_object();
  EXPECT_EQ(payload.at("notification_id").as_string(), "n-1");
  EXPECT_EQ(payload.at("body").as_string(), "gm @bob, ready for the raid?");
  EXPECT_EQ(payload.at("data").at("channel_id").as_string(), "ch-9");

  // The second request gets a 503 with Retry-After: 2 and is retried after 2 s.
  auto retried = gh::testing::run(ioc, provider.send(target, sample_message()));
  EXPECT_EQ(retried.outcome, PushOutcome::delivered);
  EXPECT_EQ(retried.retries, 1);
  ASSERT_EQ(sleeps.delays.size(), 1u);
  EXPECT_EQ(sleeps.delays[0], milliseconds(2000));

  // 410: the subscription is gone, not retried.
  subscription["endpoint"] = server.url("/push/gone");
  auto gone = gh::testing::run(
      ioc, provider.send(PushTarget{"d-1", "webpush", json::serialize(subscription)}, sample_message()));
  EXPECT_EQ(gone.outcome, PushOutcome::token_invalid);
  EXPECT_EQ(gone.retries, 0);
  EXPECT_EQ(gone.status, 410u);
  // A token that is not a subscription never reaches the network.
  const auto before = server.requests();
  auto junk = gh::testing::run(ioc, provider.send(PushTarget{"d-1", "webpush", "not json"}, sample_message()));
  EXPECT_EQ(junk.outcome, PushOutcome::token_invalid);
  EXPECT_EQ(server.requests(), before);
}

/// A fake of Google's OAuth token endpoint and FCM's messages:send, answering each send with the
/// next scripted error (or success).
struct FakeFcm {
  std::mutex mutex;
  std::vector<std::string> assertions;
  std::vector<std::string> sends;
  std::vector<std::string> bearer;
  std::vector<std::string> script;  ///< per send: "" = 200, else "STATUS CODE [retry-after]"
  int token_requests = 0;
  LoopbackServer server{[this](const LoopbackServer::Request& r) { return handle(r); }};

  static std::string error_body(unsigned status, const std::string& code) {
    const bool fcm_code = code == "UNREGISTERED" || code == "SENDER_ID_MISMATCH" || code == "QUOTA_EXCEEDED" ||
                          code == "THIRD_PARTY_AUTH_ERROR";
    json::object error{{"code", status}, {"message", "scripted"}, {"status", fcm_code ? "NOT_FOUND" : code}};
    if (fcm_code) {
      error["details"] = json::array{
          json::object{{"@type", "type.googleapis.com/google.firebase.fcm.v1.FcmError"}, {"errorCode", code}}};
    }
    return json::serialize(json::object{{"error", error}});
  }

  Reply handle(const LoopbackServer::Request& r) {
    std::lock_guard lock(mutex);
    if (r.target() == "/token") {
      ++token_requests;
      const std::string body = r.body();
      const auto at = body.find("assertion=");
      assertions.push_back(at == std::string::npos ? "" : body.substr(at + 10));
      if (body.find("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer") == std::string::npos)
        return Reply{http_response(400, "application/json", R"({"error":"unsupported_grant_type"})")};
      return Reply{http_response(200, "application/json",
                                 R"({"access_token":"ya29.token-)" + std::to_string(token_requests) +
                                     R"(","expires_in":3600,"token_type":"Bearer"})")};
    }
    if (r.target() != "/v1/projects/demo-project/messages:send")
      return Reply{http_response(404, "text/plain", "no such route")};
    sends.push_back(r.body());
    bearer.push_back(header_of(r, "Authorization"));
    std::string step;
    if (!script.empty()) {
      step = script.front();
      script.erase(script.begin());
    }
    if (step.empty())
      return Reply{http_response(200, "application/json", R"({"name":"projects/demo-project/messages/1"})")};
    const auto space = step.find(' ');
    const unsigned status = static_cast<unsigned>(std::stoul(step.substr(0, space)));
    std::string rest = step.substr(space + 1);
    std::string extra;
    if (const auto sp = rest.find(' '); sp != std::string::npos) {
      extra = "Retry-After: " + rest.substr(sp + 1) + "\r\n";
      rest = rest.substr(0, sp);
    }
    return Reply{http_response(status, "application/json", error_body(status, rest), extra)};
  }
};

class FcmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    m_rsa = testing::oracle(json::object{{"op", "rsa_key"}});
    ServiceAccount account;
    account.project_id = "demo-project";
    account.client_email = "push@demo-project.iam.gserviceaccount.com";
    account.private_key_id = "k1";
    account.private_key_pem = std::string(m_rsa.at("private").as_string());
    account.token_uri = m_fake.server.url("/token");
    FcmSettings settings;
    settings.endpoint = m_fake.server.url();
    settings.retry = m_sleeps.policy();
    auto provider = make_fcm_provider(m_http, m_clock, account, settings);
    ASSERT_TRUE(provider) << provider.error().message;
    m_provider = std::move(*provider);
  }
  PushResult send(const PushMessage& m = sample_message()) {
    return gh::testing::run(m_ioc, m_provider->send(PushTarget{"d-1", "fcm", "registration-token-1"}, m));
  }

  json::object m_rsa;
  FakeFcm m_fake;
  boost::asio::io_context m_ioc;
  net::HttpClient m_http{m_ioc.get_executor()};
  ManualClock m_clock{start_time};
  RecordedSleeps m_sleeps;
  std::unique_ptr<FcmProvider> m_provider;
};

TEST(Fcm, ServiceAccountNeedsItsFields) {
  EXPECT_EQ(parse_service_account("[]").error().code, "invalid_service_account");
  auto missing = parse_service_account(R"({"project_id":"p","client_email":"e"})");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().message.find("private_key"), std::string::npos);
  auto fine = parse_service_account(R"({"type":"service_account","project_id":"p","client_email":"e",
      "private_key":"-----BEGIN PRIVATE KEY-----","token_uri":"https://t.example/token"})");
  ASSERT_TRUE(fine);
  EXPECT_EQ(fine->token_uri, "https://t.example/token");
  EXPECT_EQ(RsaKey::from_pem("not a key").error().code, "invalid_service_account");
}

TEST_F(FcmTest, ExchangesAnIndependentlyVerifiedRs256AssertionAndCachesTheToken) {
  EXPECT_EQ(send().outcome, PushOutcome::delivered);
  EXPECT_EQ(send().outcome, PushOutcome::delivered);
  ASSERT_EQ(m_fake.token_requests, 1);  // cached
  ASSERT_EQ(m_fake.bearer.size(), 2u);
  EXPECT_EQ(m_fake.bearer[0], "Bearer ya29.token-1");
  EXPECT_EQ(m_fake.bearer[1], "Bearer ya29.token-1");

  const auto verified = testing::oracle(
      json::object{{"op", "verify_rs256"}, {"jwt", m_fake.assertions[0]}, {"public_pem", m_rsa.at("public")}});
  EXPECT_TRUE(verified.at("ok").as_bool());
  EXPECT_EQ(verified.at("header").at("alg").as_string(), "RS256");
  EXPECT_EQ(verified.at("header").at("kid").as_string(), "k1");
  const auto& claims = verified.at("claims").as_object();
  EXPECT_EQ(claims.at("iss").as_string(), "push@demo-project.iam.gserviceaccount.com");
  EXPECT_EQ(claims.at("aud").as_string(), m_fake.server.url("/token"));
  EXPECT_EQ(claims.at("scope").as_string(), "https://www.googleapis.com/auth/firebase.messaging");
  EXPECT_EQ(claims.at("exp").as_int64() - claims.at("iat").as_int64(), 3600);

  // Close to expiry (inside the 5-minute margin) the token is renewed.
  m_clock.advance(std::chrono::seconds(3600 - 200));
  EXPECT_EQ(send().outcome, PushOutcome::delivered);
  EXPECT_EQ(m_fake.token_requests, 2);
  EXPECT_EQ(m_fake.bearer.back(), "Bearer ya29.token-2");

  const auto sent = json::parse(m_fake.sends[0]).as_object().at("message").as_object();
  EXPECT_EQ(sent.at("token").as_string(), "registration-token-1");
  EXPECT_EQ(sent.at("notification").at("title").as_string(), "alice mentioned you");
  EXPECT_EQ(sent.at("data").at("notification_id").as_string(), "n-1");
  EXPECT_EQ(sent.at("data").at("channel_id").as_string(), "ch-9");
  EXPECT_EQ(sent.at("android").at("ttl").as_string(), "3600s");
}

TEST_F(FcmTest, UnregisteredAnd404MeanTheTokenIsGone) {
  m_fake.script = {"404 UNREGISTERED", "404 NOT_FOUND"};
  auto first = send();
  EXPECT_EQ(first.outcome, PushOutcome::token_invalid);
  EXPECT_EQ(first.detail, "UNREGISTERED");
  EXPECT_EQ(first.retries, 0);
  EXPECT_EQ(send().outcome, PushOutcome::token_invalid);
  EXPECT_EQ(m_fake.sends.size(), 2u);
}

TEST_F(FcmTest, InvalidArgumentAndSenderMismatchAreNotRetried) {
  m_fake.script = {"400 INVALID_ARGUMENT", "403 SENDER_ID_MISMATCH"};
  auto invalid = send();
  EXPECT_EQ(invalid.outcome, PushOutcome::rejected);
  EXPECT_EQ(invalid.detail, "INVALID_ARGUMENT");
  auto mismatch = send();
  EXPECT_EQ(mismatch.outcome, PushOutcome::rejected);
  EXPECT_EQ(mismatch.detail, "SENDER_ID_MISMATCH");
  EXPECT_EQ(m_fake.sends.size(), 2u);
  EXPECT_TRUE(m_sleeps.delays.empty());
}

TEST_F(FcmTest, TransientErrorsAreRetriedWithBackoffHonoringRetryAfterAtMostThreeTimes) {
  m_fake.script = {"503 UNAVAILABLE", "500 INTERNAL 7", "429 QUOTA_EXCEEDED", ""};
  auto recovered = send();
  EXPECT_EQ(recovered.outcome, PushOutcome::delivered);
  EXPECT_EQ(recovered.retries, 3);
  ASSERT_EQ(m_sleeps.delays.size(), 3u);
  EXPECT_EQ(m_sleeps.delays[0], milliseconds(100));   // base
  EXPECT_EQ(m_sleeps.delays[1], milliseconds(7000));  // Retry-After: 7
  EXPECT_EQ(m_sleeps.delays[2], milliseconds(400));   // base * 2^2

  m_sleeps.delays.clear();
  m_fake.script = {"503 UNAVAILABLE", "503 UNAVAILABLE", "503 UNAVAILABLE", "503 UNAVAILABLE", ""};
  const auto before = m_fake.sends.size();
  auto exhausted = send();
  EXPECT_EQ(exhausted.outcome, PushOutcome::failed);
  EXPECT_EQ(exhausted.retries, 3);
  EXPECT_EQ(exhausted.detail, "UNAVAILABLE");
  EXPECT_EQ(m_fake.sends.size() - before, 4u);  // the first try and 3 retries
}

// A notification withdrawn while a push waits to be retried is not sent again.
TEST_F(FcmTest, AWithdrawnNotificationIsNotRetried) {
  m_fake.script = {"503 UNAVAILABLE", "503 UNAVAILABLE", ""};
  PushMessage m = sample_message();
  int asked = 0;
  m.still_wanted = [&asked]() -> Task<bool> { co_return ++asked < 2; };  // withdrawn after the first retry
  const auto before = m_fake.sends.size();
  auto gone = send(m);
  EXPECT_EQ(gone.outcome, PushOutcome::withdrawn);
  EXPECT_EQ(to_string(gone.outcome), std::string("withdrawn"));
  EXPECT_EQ(gone.retries, 1);
  EXPECT_EQ(asked, 2);
  EXPECT_EQ(m_fake.sends.size() - before, 2u);  // the first try and one retry
  // Still wanted: retried as before.
  m_fake.script = {"503 UNAVAILABLE", ""};
  m.still_wanted = []() -> Task<bool> { co_return true; };
  EXPECT_EQ(send(m).outcome, PushOutcome::delivered);
}

TEST_F(FcmTest, PayloadStaysUnder4KiBCuttingOnlyThePreview) {
  PushMessage big = sample_message();
  big.body = std::string(3000, 'x') + std::string(2000, '"');  // quotes double when escaped
  big.title = std::string(1000, 't');
  EXPECT_EQ(send(big).outcome, PushOutcome::delivered);
  const auto message = json::parse(m_fake.sends.back()).as_object().at("message").as_object();
  const auto size = json::serialize(message.at("notification")).size() + json::serialize(message.at("data")).size();
  EXPECT_LE(size, fcm_max_payload);
  EXPECT_EQ(message.at("data").at("notification_id").as_string(), "n-1");
  EXPECT_EQ(message.at("data").at("community_id").as_string(), "c-1");
  EXPECT_LT(message.at("notification").at("body").as_string().size(), big.body.size());

  PushMessage ids_too_big = sample_message();
  ids_too_big.data_json = R"({"blob":")" + std::string(5000, 'i') + "\"}";
  auto refused = send(ids_too_big);
  EXPECT_EQ(refused.outcome, PushOutcome::rejected);
  EXPECT_EQ(refused.detail, "payload_too_large");
}

TEST(Webhook, SignsTheBodyWithATimestampedHmac) {
  const auto now = start_time;
  const std::string body = R"({"kind":"system"})";
  const std::string header = webhook_signature("s3cret", body, now);
  EXPECT_TRUE(header.starts_with("t=1767225600,v1="));
  EXPECT_EQ(header.substr(16), hmac_sha256_hex("s3cret", "1767225600." + body));
  EXPECT_TRUE(verify_webhook_signature("s3cret", header, body, now + std::chrono::seconds(60)));
  EXPECT_FALSE(verify_webhook_signature("other", header, body, now));
  EXPECT_FALSE(verify_webhook_signature("s3cret", header, body + " ", now));
  EXPECT_FALSE(verify_webhook_signature("s3cret", header, body, now + std::chrono::seconds(301)));  // replay
}

TEST(Webhook, ProviderPostsSignedJsonAndTreats410AsGone) {
  std::mutex mutex;
  std::vector<LoopbackServer::Request> seen;
  LoopbackServer server([&](const LoopbackServer::Request& r) {
    std::lock_guard lock(mutex);
    seen.push_back(r);
    if (r.target() == "/retired") return Reply{http_response(410, "text/plain", "")};
    return Reply{http_response(204, "text/plain", "")};
  });
  boost::asio::io_context ioc;
  net::HttpClient http(ioc.get_executor());
  ManualClock clock(start_time);
  RecordedSleeps sleeps;
  WebhookSettings settings;
  settings.secret = "bot-secret";
  settings.retry = sleeps.policy();
  WebhookProvider provider(http, clock, settings);
  auto sent = gh::testing::run(ioc, provider.send(PushTarget{"d-2", "webhook", server.url("/hook")}, sample_message()));
  EXPECT_EQ(sent.outcome, PushOutcome::delivered);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(
      verify_webhook_signature("bot-secret", header_of(seen[0], "X-Gatehouse-Signature"), seen[0].body(), start_time));
  const auto body = json::parse(seen[0].body()).as_object();
  EXPECT_EQ(body.at("notification_id").as_string(), "n-1");
  EXPECT_EQ(body.at("data").at("community_id").as_string(), "c-1");
  auto gone =
      gh::testing::run(ioc, provider.send(PushTarget{"d-2", "webhook", server.url("/retired")}, sample_message()));
  EXPECT_EQ(gone.outcome, PushOutcome::token_invalid);
}

}  // namespace
}  // namespace gh::notify
