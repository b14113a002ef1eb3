// auth's pure rules: device names, SIWE message rules (URI scheme and userinfo, domain, chain,
// time), MLS key packages, the EIP-1271 magic value, scopes.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "auth/model.hpp"
#include "auth/testing/keys.hpp"
#include "eth/eip191.hpp"

namespace gh::auth {
namespace {

namespace json = boost::json;

const eth::Address signer = *eth::parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
// 2026-01-01T00:00:00Z
const SystemTime now = SystemTime(std::chrono::seconds(1'767'225'600));
const std::string issued = "2026-01-01T00:00:00.000Z";

AuthSettings settings() {
  AuthSettings s;
  s.siwe_domains = {"app.example.com", "localhost:8080", "dev.test:3000"};
  s.siwe_http_domains = {"dev.test:3000"};
  s.chain_ids = {31337};
  return s;
}

Result<eth::SiweMessage> check(const eth::SiweMessage& fields, const AuthSettings& s = settings(),
                               SystemTime at = now) {
  auto text = eth::build_siwe_message(fields);
  if (!text) return bad_input(eth::to_string(text.error()), "the test message does not build");
  return check_siwe_message(*text, s, at);
}

std::string code_of(const Result<eth::SiweMessage>& r) {
  return r ? "ok" : r.error().code;
}

TEST(DeviceName, AcceptsPrintableUtf8WithinTheLimit) {
  EXPECT_TRUE(valid_device_name("Pixel 8", 64));
  EXPECT_TRUE(valid_device_name("T\xc3\xa9l\xc3\xa9phone de Zo\xc3\xab \xf0\x9f\x93\xb1", 64));  // Téléphone de Zoë 📱
  EXPECT_TRUE(valid_device_name(std::string(64, 'x'), 64));
  EXPECT_TRUE(valid_device_name("\xe6\x97\xa5\xe6\x9c\xac", 2));  // two characters, six bytes
}

TEST(DeviceName, RefusesControlCharactersEscapesAndBadUtf8) {
  EXPECT_FALSE(valid_device_name("", 64));
  EXPECT_FALSE(valid_device_name("   ", 64));
  EXPECT_FALSE(valid_device_name(std::string(65, 'x'), 64));
  EXPECT_FALSE(valid_device_name(std::string("a\0b", 3), 64));  // NUL
  EXPECT_FALSE(valid_device_name("line\nbreak", 64));           // LF
  EXPECT_FALSE(valid_device_name("\x1b[31mred\x1b[0m", 64));    // ANSI escape
  EXPECT_FALSE(valid_device_name("del\x7f", 64));               // DEL
  EXPECT_FALSE(
      valid_device_name("c1\xc2\x9b"
                        "31m",
                        64));                                      // C1 CSI
  EXPECT_FALSE(valid_device_name("evil\xe2\x80\xaegnp.exe", 64));  // right-to-left override
  EXPECT_FALSE(valid_device_name("\xe2\x81\xa6isolate", 64));      // left-to-right isolate
  EXPECT_FALSE(valid_device_name("bad\xff", 64));                  // not UTF-8
  EXPECT_FALSE(valid_device_name("\xc0\xaf", 64));                 // overlong '/'
  EXPECT_FALSE(valid_device_name("\xed\xa0\x80", 64));             // a surrogate
  EXPECT_FALSE(valid_device_name("cut\xe6\x97", 64));              // truncated sequence
  EXPECT_FALSE(valid_device_name("\xe6\x97\xa5\xe6\x9c\xac\xe6\x97\xa5", 2));
}

TEST(DeviceId, OnlyTextThatCouldNameADeviceIsLookedUp) {
  EXPECT_TRUE(device_id_text("0123456789abcdef0123456789abcdef"));
  EXPECT_TRUE(device_id_text("phone-1.a:b_C"));
  EXPECT_TRUE(device_id_text(std::string(64, 'a')));
  for (const std::string& id : {std::string(), std::string(65, 'a'), std::string("\xff\xfe"), std::string("a b"),
                                std::string("a\0b", 3), std::string("caf\xc3\xa9"), std::string("a/b")}) {
    EXPECT_FALSE(device_id_text(id)) << id;
  }
}

TEST(SignedByKey, OnlyTheAddressesOwnKeysSignatureOfThatMessage) {
  auto key = eth::PrivateKey::from_hex("4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318");
  ASSERT_TRUE(key);
  const std::string text = "app.example.com wants you to sign in";
  const auto fixed = eth::serialize_signature(eth::sign_personal_message(*key, eth::as_bytes(text)));
  const eth::Bytes sig(fixed.bytes.begin(), fixed.bytes.end());
  EXPECT_TRUE(signed_by_key(key->address(), text, sig));
  EXPECT_FALSE(signed_by_key(signer, text, sig));  // another address
  EXPECT_FALSE(signed_by_key(key->address(), text + ".", sig));
  EXPECT_FALSE(signed_by_key(key->address(), text, eth::Bytes(65, 0)));
  EXPECT_FALSE(signed_by_key(key->address(), text, eth::Bytes(sig.begin(), sig.begin() + 64)));
}

TEST(PushTarget, WebhooksAndWebPushEndpointsAreUrlsTheServerCalls) {
  EXPECT_EQ(push_target_url("webhook", "https://hooks.example.com/x").value(), "https://hooks.example.com/x");
  EXPECT_EQ(push_target_url("webpush", R"({"endpoint":"https://push.example.com/s/1","keys":{}})").value(),
            "https://push.example.com/s/1");
  EXPECT_FALSE(push_target_url("fcm", "registration-token").value());
  EXPECT_FALSE(push_target_url("none", "").value());
  for (const char* junk : {"not json", "[]", R"({"endpoint":5})", R"({"keys":{}})"}) {
    auto r = push_target_url("webpush", junk);
    ASSERT_FALSE(r) << junk;
    EXPECT_EQ(r.error().code, "invalid_field");
  }
}

TEST(DeviceName, RegistrationWithABadNameIsBadInput) {
  testing::IdentityKey id;
  json::object body{{"name", "\x1b]0;pwned\x07"},
                    {"identity_key", id.public_base64()},
                    {"key_packages", json::array{json::string(id.key_package(signer))}},
                    {"last_resort_key_package", id.key_package(signer)}};
  auto r = parse_device_registration(body, settings());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  EXPECT_EQ(r.error().code, "invalid_field");
  body["name"] = "Laptop";
  EXPECT_TRUE(parse_device_registration(body, settings()));
}

TEST(RequestAddress, EveryMalformedAddressIsA400InvalidAddress) {
  auto ok = parse_request_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  ASSERT_TRUE(ok);
  EXPECT_EQ(*ok, signer);
  for (const char* bad :
       {"", "5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", "0xnot-an-address", "0x5aaeb6053f3e94c9b9a09f33669435e7ef1bea",
        "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"}) {
    auto r = parse_request_address(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input) << bad;
    EXPECT_EQ(r.error().code, "invalid_address") << bad;
    EXPECT_FALSE(r.error().message.empty()) << bad;
  }
  // The message says which rule the text broke.
  EXPECT_NE(parse_request_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD").error().message.find("checksum"),
            std::string::npos);
  EXPECT_NE(parse_request_address("0x1234").error().message.find("40 hex digits"), std::string::npos);
}

TEST(SiweRules, AcceptsAnHttpsMessageForOurDomain) {
  auto r = check(testing::siwe_fields(signer, "app.example.com", "abcdefgh1234", issued));
  ASSERT_TRUE(r) << r.error().code;
  EXPECT_EQ(r->address, signer);
}

TEST(SiweRules, RefusesSchemesOtherThanHttps) {
  auto m = testing::siwe_fields(signer, "app.example.com", "abcdefgh1234", issued);
  m.uri = "ftp://app.example.com/login";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_invalid");
  m.uri = "http://app.example.com/login";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_invalid");
  m.uri = "javascript://app.example.com/%0aalert(1)";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_invalid");
  m.uri = "urn:app.example.com";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_invalid");
}

TEST(SiweRules, AllowsHttpForLoopbackAndConfiguredDevDomainsOnly) {
  auto local = testing::siwe_fields(signer, "localhost:8080", "abcdefgh1234", issued);
  local.uri = "http://localhost:8080/";
  EXPECT_EQ(code_of(check(local)), "ok");
  auto dev = testing::siwe_fields(signer, "dev.test:3000", "abcdefgh1234", issued);
  dev.uri = "http://dev.test:3000/";
  EXPECT_EQ(code_of(check(dev)), "ok");
  auto s = settings();
  s.siwe_http_domains.clear();
  EXPECT_EQ(code_of(check(dev, s)), "siwe_uri_invalid");
  // Loopback means a loopback address, not a name that starts like one.
  s.siwe_domains.push_back("127.0.0.5:8080");
  s.siwe_domains.push_back("127.evil.example");
  s.siwe_domains.push_back("127.0.0.1.nip.io");
  auto literal = testing::siwe_fields(signer, "127.0.0.5:8080", "abcdefgh1234", issued);
  literal.uri = "http://127.0.0.5:8080/";
  EXPECT_EQ(code_of(check(literal, s)), "ok");
  auto lookalike = testing::siwe_fields(signer, "127.evil.example", "abcdefgh1234", issued);
  lookalike.uri = "http://127.evil.example/";
  EXPECT_EQ(code_of(check(lookalike, s)), "siwe_uri_invalid");
  auto dotted = testing::siwe_fields(signer, "127.0.0.1.nip.io", "abcdefgh1234", issued);
  dotted.uri = "http://127.0.0.1.nip.io/";
  EXPECT_EQ(code_of(check(dotted, s)), "siwe_uri_invalid");
  lookalike.uri = "https://127.evil.example/";
  EXPECT_EQ(code_of(check(lookalike, s)), "ok");
}

TEST(SiweRules, RefusesUserinfoInTheUri) {
  auto m = testing::siwe_fields(signer, "app.example.com", "abcdefgh1234", issued);
  m.uri = "https://attacker@app.example.com/login";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_invalid");
  m.uri = "https://app.example.com:x@evil.example/login";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_invalid");
}

TEST(SiweRules, RefusesAnotherAuthorityDomainChainOrTime) {
  auto m = testing::siwe_fields(signer, "app.example.com", "abcdefgh1234", issued);
  m.uri = "https://evil.example/login";
  EXPECT_EQ(code_of(check(m)), "siwe_uri_mismatch");
  auto other = testing::siwe_fields(signer, "evil.example", "abcdefgh1234", issued);
  EXPECT_EQ(code_of(check(other)), "siwe_domain_mismatch");
  auto chain = testing::siwe_fields(signer, "app.example.com", "abcdefgh1234", issued);
  chain.chain_id = 1;
  EXPECT_EQ(code_of(check(chain)), "siwe_chain_unsupported");
  auto old = testing::siwe_fields(signer, "app.example.com", "abcdefgh1234", issued);
  EXPECT_EQ(code_of(check(old, settings(), now + std::chrono::hours(1))), "siwe_expired");
  auto junk = check_siwe_message("x\n0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed", settings(), now);
  ASSERT_FALSE(junk);
  EXPECT_EQ(junk.error().kind, ErrorKind::unauthorized);
}

TEST(SiweRules, SignaturesAre0xHexWithinTheLimit) {
  auto s = settings();
  s.max_signature_bytes = 4;
  const auto parsed = parse_siwe_signature("0x01020304", s);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, (eth::Bytes{1, 2, 3, 4}));
  for (const char* bad : {"01020304", "0x0102030405", "0xzz", "0x123", ""}) {
    const auto refused = parse_siwe_signature(bad, s);
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().code, "siwe_signature_invalid") << bad;
    EXPECT_EQ(refused.error().kind, ErrorKind::unauthorized);
  }
}

TEST(DeviceRegistration, NeedsALastResortKeyPackage) {
  testing::IdentityKey id;
  json::object body{{"name", "Laptop"},
                    {"identity_key", id.public_base64()},
                    {"key_packages", json::array{json::string(id.key_package(signer))}}};
  auto r = parse_device_registration(body, settings());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, "invalid_field");
  body["last_resort_key_package"] = id.key_package(signer);
  EXPECT_TRUE(parse_device_registration(body, settings()));
  body["key_packages"] = "not a list";
  EXPECT_FALSE(parse_device_registration(body, settings()));
}

TEST(KeyPackage, EachCheckIsA400NamingIt) {
  testing::IdentityKey id;
  testing::IdentityKey other;
  const auto key = id.public_base64();
  auto verdict = [&](const std::string& package, const std::string& identity_key = "") {
    return check_key_package(package, identity_key.empty() ? key : identity_key, signer, settings(), now,
                             "key_packages[0]");
  };
  auto good = verdict(id.key_package(signer));
  ASSERT_TRUE(good) << good.error().message;
  EXPECT_EQ(good->ref.size(), 64U);
  auto expect_code = [&](Result<KeyPackage> r, std::string_view code) {
    ASSERT_FALSE(r) << code;
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
    EXPECT_EQ(r.error().code, code);
    EXPECT_NE(r.error().message.find("key_packages[0]"), std::string::npos) << r.error().message;
  };
  expect_code(verdict(id.key_package(signer), other.public_base64()), "key_package_signature_key");
  expect_code(verdict(id.key_package(eth::Address{})), "key_package_identity");
  expect_code(verdict(id.key_package(signer, [](auto& f) { f.suite = 3; })), "key_package_cipher_suite");
  expect_code(verdict(id.key_package(signer, [](auto& f) { f.corrupt_signature = true; })), "key_package_signature");
  expect_code(verdict(id.key_package(signer, [](auto& f) { f.corrupt_leaf_signature = true; })),
              "key_package_leaf_node_signature");
  expect_code(verdict(id.key_package(signer, [](auto& f) { f.lifetime = {0, 1000}; })), "key_package_lifetime");
  expect_code(verdict(id.key_package(signer, [](auto& f) { f.credential_type = mls::credential_x509; })),
              "key_package_credential");
  expect_code(verdict("AAAA"), "key_package_malformed");
  expect_code(verdict("not base64!"), "key_package_malformed");
  // The allowed suites are a setting.
  auto only_xwing = settings();
  only_xwing.mls_cipher_suites = {mls::suite_xwing_aes256gcm_ed25519};
  auto refused = check_key_package(id.key_package(signer), key, signer, only_xwing, now, "last_resort_key_package");
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "key_package_cipher_suite");
}

TEST(Eip1271, OnlyTheExactAbiEncodedMagicPasses) {
  eth::Bytes magic(32, 0);
  magic[0] = 0x16;
  magic[1] = 0x26;
  magic[2] = 0xba;
  magic[3] = 0x7e;
  EXPECT_TRUE(is_eip1271_magic(magic));
  EXPECT_FALSE(is_eip1271_magic(eth::Bytes(magic.begin(), magic.begin() + 4)));  // unpadded bytes4
  auto longer = magic;
  longer.push_back(0);
  EXPECT_FALSE(is_eip1271_magic(longer));
  auto dirty = magic;
  dirty[31] = 1;
  EXPECT_FALSE(is_eip1271_magic(dirty));
  // What a contract that echoes its calldata returns: the selector, then the ABI arguments.
  eth::Bytes echo = magic;
  echo[4] = 0xaa;
  echo.resize(4 + 32 * 4, 0x11);
  EXPECT_FALSE(is_eip1271_magic(echo));
}

TEST(Scopes, SplitSkipsEmptyEntries) {
  EXPECT_EQ(split_scopes("bot.read,bot.write"), (std::vector<std::string>{"bot.read", "bot.write"}));
  EXPECT_EQ(split_scopes(""), std::vector<std::string>{});
  EXPECT_EQ(split_scopes("bot.read,,"), std::vector<std::string>{"bot.read"});
  ApiPrincipal p{"id", "bot", {"bot.read"}};
  EXPECT_TRUE(p.has_scope("bot.read"));
  EXPECT_FALSE(p.has_scope("bot.write"));
}

}  // namespace
}  // namespace gh::auth
