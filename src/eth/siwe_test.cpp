#include "eth/siwe.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include <map>
#include <random>
#include <string>

#include "eth/address.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

using namespace std::chrono_literals;

// The example message of EIP-4361.
constexpr std::string_view eip_example =
    "service.invalid wants you to sign in with your Ethereum account:\n"
    "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2\n"
    "\n"
    "I accept the ServiceOrg Terms of Service: https://service.invalid/tos\n"
    "\n"
    "URI: https://service.invalid/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: 32891756\n"
    "Issued At: 2021-09-30T16:25:24Z\n"
    "Resources:\n"
    "- ipfs://bafybeiemxf5abjwjbikoz4mc3a3dla6ual3jsgpdr4cjr3oz3evfyavhwq/\n"
    "- https://example.com/my-web2-claim.json";

std::string replace(std::string_view text, std::string_view from, std::string_view to) {
  std::string out(text);
  const auto at = out.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) out.replace(at, from.size(), to);
  return out;
}

std::string code_of(std::string_view text) {
  auto parsed = parse_siwe(text);
  return parsed ? std::string("ok") : std::string(to_string(parsed.error()));
}

SiweTime at(std::string_view rfc3339) {
  auto t = parse_siwe_time(rfc3339);
  EXPECT_TRUE(t) << rfc3339;
  return t ? *t : SiweTime{};
}

TEST(Siwe, ParsesTheEipExample) {
  auto m = parse_siwe(eip_example);
  ASSERT_TRUE(m) << to_string(m.error());
  EXPECT_FALSE(m->scheme);
  EXPECT_EQ(m->domain, "service.invalid");
  EXPECT_EQ(to_checksum(m->address), "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2");
  EXPECT_EQ(m->statement, "I accept the ServiceOrg Terms of Service: https://service.invalid/tos");
  EXPECT_EQ(m->uri, "https://service.invalid/login");
  EXPECT_EQ(m->chain_id, 1U);
  EXPECT_EQ(m->nonce, "32891756");
  EXPECT_EQ(m->issued_at, "2021-09-30T16:25:24Z");
  ASSERT_TRUE(m->resources);
  ASSERT_EQ(m->resources->size(), 2U);
  EXPECT_EQ((*m->resources)[1], "https://example.com/my-web2-claim.json");
  EXPECT_EQ(to_message(*m), eip_example);
}

TEST(Siwe, SchemeStatementVariantsRoundTrip) {
  const std::string with_scheme = "https://" + std::string(eip_example);
  auto m = parse_siwe(with_scheme);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->scheme, "https");
  EXPECT_EQ(m->domain, "service.invalid");

  const std::string no_statement =
      replace(eip_example, "I accept the ServiceOrg Terms of Service: https://service.invalid/tos\n", "");
  m = parse_siwe(no_statement);
  ASSERT_TRUE(m) << to_string(m.error());
  EXPECT_FALSE(m->statement);
  EXPECT_EQ(to_message(*m), no_statement);

  const std::string empty_statement =
      replace(eip_example, "I accept the ServiceOrg Terms of Service: https://service.invalid/tos", "");
  m = parse_siwe(empty_statement);
  ASSERT_TRUE(m) << to_string(m.error());
  EXPECT_EQ(m->statement, "");
  EXPECT_EQ(to_message(*m), empty_statement);
}

TEST(Siwe, RejectsEachKindOfBadField) {
  EXPECT_EQ(code_of(replace(eip_example, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2",
                            "0xc02aaa39b223fe8d0a0e5c4f27ead9083c756cc2")),
            "siwe_address_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2", "0xC02a")),
            "siwe_address_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "Nonce: 32891756", "Nonce: 1234567")), "siwe_nonce_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "Version: 1", "Version: 2")), "siwe_version_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "Chain ID: 1", "Chain ID: x")), "siwe_chain_id_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "Chain ID: 1", "Chain ID: 01")), "siwe_chain_id_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "Chain ID: 1", "Chain ID: 9007199254740992")), "siwe_chain_id_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "URI: https", "URI: 1https")), "siwe_uri_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "URI: https:", "URI: https")), "siwe_uri_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "2021-09-30T16:25:24Z", "2021-02-30T16:25:24Z")), "siwe_time_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "2021-09-30T16:25:24Z", "2021-09-30 16:25:24Z")), "siwe_time_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "- https://", "* https://")), "siwe_resources_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "- https://", "- 9https://")), "siwe_resources_invalid");
  EXPECT_EQ(code_of(std::string(eip_example) + "\n"), "siwe_resources_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "service.invalid wants", " wants")), "siwe_domain_invalid");
  EXPECT_EQ(code_of(replace(eip_example, "Version: 1\n", "")), "siwe_malformed");
  EXPECT_EQ(
      code_of(replace(eip_example, "Issued At: 2021-09-30T16:25:24Z", "Issued At: 2021-09-30T16:25:24Z\nRequest ID: ")),
      "siwe_malformed");
  EXPECT_EQ(code_of(""), "siwe_domain_invalid");  // the reference reports the empty domain first
  EXPECT_EQ(code_of("a wants"), "siwe_malformed");
}

TEST(Siwe, EnforcesSizeLimits) {
  std::string big(eip_example);
  big += std::string(siwe_max_message_bytes, 'a');
  EXPECT_EQ(code_of(big), "siwe_too_large");

  std::string many(eip_example);
  for (std::size_t i = 0; i < siwe_max_resources; ++i) many += "\n- https://r.example/" + std::to_string(i);
  EXPECT_EQ(code_of(many), "siwe_resources_invalid");
}

TEST(Siwe, AcceptsIpHostsLikeTheReference) {
  for (std::string_view host : {"[::1]", "[2001:db8::1]", "[1:2:3:4:5:6:7:8]", "[::ffff:1.2.3.4]", "[v1.x:y]",
                                "127.0.0.1:8080", "user:pw@host"}) {
    const std::string text = replace(eip_example, "service.invalid wants", std::string(host) + " wants");
    EXPECT_EQ(code_of(text), "ok") << host;
  }
  for (std::string_view host : {"[1:2:3:4:5:6:7:8:9]", "[::1:2:3:4:5:6:7:8]", "[1:2:3:4:5:6:7]"}) {
    const std::string text = replace(eip_example, "service.invalid wants", std::string(host) + " wants");
    EXPECT_EQ(code_of(text), "siwe_domain_invalid") << host;
  }
}

TEST(Siwe, ValidatesBindingsAndTimes) {
  std::string text = replace(eip_example, "Issued At: 2021-09-30T16:25:24Z",
                             "Issued At: 2021-09-30T16:25:24Z\n"
                             "Expiration Time: 2021-09-30T17:25:24.500+01:00\n"
                             "Not Before: 2021-09-30T16:20:00Z");
  auto m = parse_siwe(text);
  ASSERT_TRUE(m) << to_string(m.error());
  SiweExpectations e;
  e.domain = "service.invalid";
  e.nonce = "32891756";
  e.now = at("2021-09-30T16:25:24.200Z");
  EXPECT_TRUE(validate_siwe(*m, e));

  auto fails = [&](SiweExpectations x) {
    auto r = validate_siwe(*m, x);
    return r ? std::string("ok") : std::string(to_string(r.error()));
  };
  SiweExpectations x = e;
  x.domain = "evil.example";
  EXPECT_EQ(fails(x), "siwe_domain_mismatch");
  x = e;
  x.nonce = "00000000";
  EXPECT_EQ(fails(x), "siwe_nonce_mismatch");
  x = e;
  x.scheme = "https";
  EXPECT_EQ(fails(x), "siwe_scheme_mismatch");
  x = e;
  x.uri = "https://service.invalid/login";
  x.chain_ids = {10, 1};
  EXPECT_EQ(fails(x), "ok");
  x.uri = "https://service.invalid/";
  EXPECT_EQ(fails(x), "siwe_uri_mismatch");
  x = e;
  x.chain_ids = {10};
  EXPECT_EQ(fails(x), "siwe_chain_id_mismatch");
  x = e;
  x.now = at("2021-09-30T16:25:24.500Z");  // the expiry, written with a +01:00 offset
  EXPECT_EQ(fails(x), "siwe_expired");
  x.now = at("2021-09-30T16:25:24.499Z");
  EXPECT_EQ(fails(x), "ok");
  x.now = at("2021-09-30T16:25:25Z");
  x.clock_skew = 2s;
  EXPECT_EQ(fails(x), "ok");
  x = e;
  x.now = at("2021-09-30T16:19:59.999Z");
  x.reject_future_issued_at = false;
  EXPECT_EQ(fails(x), "siwe_not_yet_valid");
  x.clock_skew = 1ms;
  EXPECT_EQ(fails(x), "ok");
  x = e;
  x.max_age = 100ms;
  EXPECT_EQ(fails(x), "siwe_expired");
  x = e;
  x.now = at("2021-09-30T16:25:00Z");
  EXPECT_EQ(fails(x), "siwe_not_yet_valid");  // issued in the future
}

// Random corruptions of a valid message must fail cleanly (run under ASan/UBSan).
TEST(Siwe, SurvivesRandomInput) {
  std::mt19937_64 rng(4361);
  const std::string alphabet = "\n :/[]@%.-0123456789abcdefABCDEFxTZ\xff";
  for (int i = 0; i < 5000; ++i) {
    std::string text(eip_example);
    for (int k = static_cast<int>(rng() % 4); k >= 0; --k) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.erase(at, 1 + rng() % 8);
          break;
        default:
          text.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
      if (text.empty()) break;
    }
    auto parsed = parse_siwe(text);
    if (parsed) {
      EXPECT_EQ(to_message(*parsed), text);
    }
  }
}

TEST(Siwe, ParsesRfc3339Times) {
  EXPECT_EQ(at("1970-01-01T00:00:00Z").time_since_epoch().count(), 0);
  EXPECT_EQ(at("1970-01-01t00:00:01.9999z").time_since_epoch().count(), 1999);
  EXPECT_EQ(at("1970-01-01T01:00:00+01:00").time_since_epoch().count(), 0);
  EXPECT_EQ(at("2000-02-29T00:00:00Z").time_since_epoch().count(), 951782400000);
  EXPECT_FALSE(parse_siwe_time("1900-02-29T00:00:00Z"));
  EXPECT_FALSE(parse_siwe_time("2021-01-01T24:00:00Z"));
  EXPECT_FALSE(parse_siwe_time("2021-01-01T00:00:00+24:00"));
  EXPECT_FALSE(parse_siwe_time("2021-01-01T00:00:00"));
}

TEST(Siwe, BuildChecksFields) {
  auto m = parse_siwe(eip_example);
  ASSERT_TRUE(m);
  SiweMessage copy = *m;
  auto built = build_siwe_message(copy);
  ASSERT_TRUE(built);
  EXPECT_EQ(*built, eip_example);
  copy.statement = "line\nbreak";
  EXPECT_FALSE(build_siwe_message(copy));
  copy = *m;
  copy.nonce = "short";
  auto bad = build_siwe_message(copy);
  ASSERT_FALSE(bad);
  EXPECT_EQ(std::string(to_string(bad.error())), "siwe_nonce_invalid");
}

// ---- conformance against the siwe package (tests/vectors/families/siwe.mjs) ---------------------

std::optional<std::string> opt_string(const boost::json::object& o, std::string_view key) {
  if (const auto* v = o.if_contains(key)) return std::string(v->as_string());
  return std::nullopt;
}

Expected<SiweMessage, AddressErrc> fields_to_message(const boost::json::object& f) {
  SiweMessage m;
  m.scheme = opt_string(f, "scheme");
  m.domain = std::string(f.at("domain").as_string());
  auto address = parse_address(std::string(f.at("address").as_string()));
  if (!address) return address.error();
  m.address = *address;
  m.statement = opt_string(f, "statement");
  m.uri = std::string(f.at("uri").as_string());
  m.version = std::string(f.at("version").as_string());
  m.chain_id = boost::json::value_to<std::uint64_t>(f.at("chainId"));
  m.nonce = std::string(f.at("nonce").as_string());
  m.issued_at = std::string(f.at("issuedAt").as_string());
  m.expiration_time = opt_string(f, "expirationTime");
  m.not_before = opt_string(f, "notBefore");
  m.request_id = opt_string(f, "requestId");
  if (const auto* r = f.if_contains("resources")) {
    m.resources.emplace();
    for (const auto& item : r->as_array()) m.resources->emplace_back(item.as_string());
  }
  return m;
}

// Compares what we parsed with what siwe's parser read, field by field (not through our own
// serializer, which would hide a field both sides lose or mangle the same way).
void expect_fields_of_siwe(const SiweMessage& got, const boost::json::object& want) {
  const std::string where = boost::json::serialize(want);
  EXPECT_EQ(got.scheme, opt_string(want, "scheme")) << where;
  EXPECT_EQ(got.domain, want.at("domain").as_string()) << where;
  EXPECT_EQ(to_checksum(got.address), want.at("address").as_string()) << where;
  EXPECT_EQ(got.statement, opt_string(want, "statement")) << where;
  EXPECT_EQ(got.uri, want.at("uri").as_string()) << where;
  EXPECT_EQ(got.version, want.at("version").as_string()) << where;
  EXPECT_EQ(got.chain_id, boost::json::value_to<std::uint64_t>(want.at("chainId"))) << where;
  EXPECT_EQ(got.nonce, want.at("nonce").as_string()) << where;
  EXPECT_EQ(got.issued_at, want.at("issuedAt").as_string()) << where;
  EXPECT_EQ(got.expiration_time, opt_string(want, "expirationTime")) << where;
  EXPECT_EQ(got.not_before, opt_string(want, "notBefore")) << where;
  EXPECT_EQ(got.request_id, opt_string(want, "requestId")) << where;
  std::optional<std::vector<std::string>> resources;
  if (const auto* r = want.if_contains("resources")) {
    resources.emplace();
    for (const auto& item : r->as_array()) resources->emplace_back(item.as_string());
  }
  EXPECT_EQ(got.resources, resources) << where;
}

TEST(SiweVectors, MatchTheSiwePackage) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("siwe", seed));
  const auto vectors = testing::run_vectors("siwe", 1200, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_GE(cases.size(), 1000U);
  int checked = 0;
  std::map<std::string, int> verdicts;
  for (const auto& item : cases) {
    const auto& c = item.as_object();
    const std::string kind(c.at("kind").as_string());
    const std::string want = c.contains("code") ? std::string(c.at("code").as_string()) : "ok";
    if (kind == "build") {
      auto m = fields_to_message(c.at("fields").as_object());
      ASSERT_TRUE(m) << boost::json::serialize(c);
      auto text = build_siwe_message(*m);
      if (c.contains("text")) {
        ASSERT_TRUE(text) << std::string(to_string(text.error())) << " " << boost::json::serialize(c);
        EXPECT_EQ(*text, c.at("text").as_string()) << boost::json::serialize(c);
      } else {
        EXPECT_EQ(text ? std::string("ok") : std::string(to_string(text.error())), want) << boost::json::serialize(c);
      }
    } else if (kind == "parse") {
      const std::string text(c.at("text").as_string());
      auto parsed = parse_siwe(text);
      EXPECT_EQ(parsed ? std::string("ok") : std::string(to_string(parsed.error())), want)
          << (parsed ? std::string() : to_string(parsed.error())) << "\n"
          << text;
      if (parsed && want == "ok") expect_fields_of_siwe(*parsed, c.at("fields").as_object());
    } else {
      auto parsed = parse_siwe(std::string(c.at("text").as_string()));
      ASSERT_TRUE(parsed) << boost::json::serialize(c);
      const auto& e = c.at("expect").as_object();
      SiweExpectations expect;
      expect.scheme = opt_string(e, "scheme");
      expect.domain = opt_string(e, "domain");
      expect.nonce = opt_string(e, "nonce");
      auto now = parse_siwe_time(std::string(e.at("time").as_string()));
      ASSERT_TRUE(now);
      expect.now = *now;
      expect.reject_future_issued_at = false;  // siwe does not check issued-at
      // The verdict of the whole check, as the server makes it: bindings and time, then the
      // signature (siwe's verify() checks in the same order).
      std::string got = "ok";
      if (auto r = validate_siwe(*parsed, expect); !r) {
        got = std::string(to_string(r.error()));
      } else {
        const std::string text(c.at("text").as_string());
        auto signature = from_hex(std::string(c.at("signature").as_string()));
        ASSERT_TRUE(signature);
        auto signer = recover_personal_signer(as_bytes(text), *signature);
        if (!signer || *signer != parsed->address) got = "siwe_signature_invalid";
      }
      EXPECT_EQ(got, want) << boost::json::serialize(c);
      ++verdicts[want];
    }
    ++checked;
  }
  // Every verdict occurs, so each check was exercised against the reference.
  for (const char* code : {"ok", "siwe_signature_invalid", "siwe_expired", "siwe_not_yet_valid", "siwe_domain_mismatch",
                           "siwe_nonce_mismatch"}) {
    EXPECT_GT(verdicts[code], 0) << code;
  }
  EXPECT_GE(checked, 1000);
}

}  // namespace
}  // namespace gh::eth
