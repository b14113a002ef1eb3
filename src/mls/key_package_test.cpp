#include "mls/key_package.hpp"

#include <gtest/gtest.h>

#include "eth/testing/vectors.hpp"
#include "mls/testing/builder.hpp"

namespace gh::mls {
namespace {

const std::string member_identity = "0x52908400098527886e0f7030069857d2e4169ee7";
constexpr std::uint64_t now = 1'790'000'000;

class KeyPackageChecks : public ::testing::Test {
 protected:
  KeyPackageChecks() { fields.identity = member_identity; }

  KeyPackageExpectation expectation() const {
    KeyPackageExpectation e;
    e.identity_key = key.public_key();
    e.identity = member_identity;
    e.now_seconds = now;
    return e;
  }
  // The check that fails for the current fields, or nullopt when the package passes.
  std::optional<KeyPackageCheck> verdict(const KeyPackageExpectation& e) const {
    auto checked = check_key_package(testing::key_package_message(fields, key), e);
    if (checked) return std::nullopt;
    return checked.error().check;
  }
  std::optional<KeyPackageCheck> verdict() const { return verdict(expectation()); }

  testing::SigningKey key;
  testing::KeyPackageFields fields;
};

TEST_F(KeyPackageChecks, AcceptsAValidPackage) {
  EXPECT_EQ(verdict(), std::nullopt);
}

TEST_F(KeyPackageChecks, IdentityMatchesInAnyLetterCase) {
  fields.identity = "0x52908400098527886E0F7030069857D2E4169EE7";
  EXPECT_EQ(verdict(), std::nullopt);
  fields.identity = "52908400098527886e0f7030069857d2e4169ee7";
  EXPECT_EQ(verdict(), KeyPackageCheck::identity);
  fields.identity = "0x52908400098527886e0f7030069857d2e4169ee8";
  EXPECT_EQ(verdict(), KeyPackageCheck::identity);
}

TEST_F(KeyPackageChecks, NamesEachFailedCheck) {
  auto broken = [&](auto change, KeyPackageCheck expected) {
    auto saved = fields;
    change(fields);
    EXPECT_EQ(verdict(), expected) << to_string(expected);
    fields = saved;
  };
  broken([](auto& f) { f.version = 2; }, KeyPackageCheck::version);
  broken([](auto& f) { f.suite = 0x0003; }, KeyPackageCheck::cipher_suite);
  broken([](auto& f) { f.suite = 0x0002; }, KeyPackageCheck::cipher_suite);
  broken([](auto& f) { f.credential_type = credential_x509; }, KeyPackageCheck::credential);
  broken([](auto& f) { f.leaf_source = 2; }, KeyPackageCheck::leaf_node_source);
  broken([](auto& f) { f.capabilities.cipher_suites = {0x0053}; }, KeyPackageCheck::capabilities);
  broken([](auto& f) { f.capabilities.versions = {}; }, KeyPackageCheck::capabilities);
  broken([](auto& f) { f.capabilities.credentials = {credential_x509}; }, KeyPackageCheck::capabilities);
  broken([](auto& f) { f.init_key = f.encryption_key; }, KeyPackageCheck::init_key);
  broken([](auto& f) { f.init_key = {}; }, KeyPackageCheck::init_key);
  broken([](auto& f) { f.corrupt_leaf_signature = true; }, KeyPackageCheck::leaf_node_signature);
  broken([](auto& f) { f.corrupt_signature = true; }, KeyPackageCheck::key_package_signature);
  broken([](auto& f) { f.lifetime = {0, now - 1000}; }, KeyPackageCheck::lifetime);
  broken([](auto& f) { f.lifetime = {now + 1000, now + 2000}; }, KeyPackageCheck::lifetime);
  broken([](auto& f) { f.lifetime = {now + 10, now - 10}; }, KeyPackageCheck::lifetime);
}

TEST_F(KeyPackageChecks, ToleratesClockSkewOnLifetime) {
  fields.lifetime = {now + 60, now + 3600};
  EXPECT_EQ(verdict(), std::nullopt);
  fields.lifetime = {0, now - 60};
  EXPECT_EQ(verdict(), std::nullopt);
  auto strict = expectation();
  strict.clock_skew_seconds = 0;
  EXPECT_EQ(verdict(strict), KeyPackageCheck::lifetime);
}

TEST_F(KeyPackageChecks, SignatureKeyMustBeTheDevicesIdentityKey) {
  testing::SigningKey other;
  auto e = expectation();
  e.identity_key = other.public_key();
  EXPECT_EQ(verdict(e), KeyPackageCheck::signature_key);
}

TEST_F(KeyPackageChecks, AllowedSuitesAreConfigurable) {
  auto e = expectation();
  e.allowed_suites = {suite_xwing_aes256gcm_ed25519};
  EXPECT_EQ(verdict(e), KeyPackageCheck::cipher_suite);
  fields.suite = 0x0003;
  fields.capabilities.cipher_suites = {0x0003};
  e.allowed_suites = {0x0003};
  EXPECT_EQ(verdict(e), std::nullopt);
}

TEST_F(KeyPackageChecks, MalformedCarriesTheDecodeError) {
  auto bytes = testing::key_package_message(fields, key);
  bytes.pop_back();
  auto checked = check_key_package(bytes, expectation());
  ASSERT_FALSE(checked);
  EXPECT_EQ(checked.error().check, KeyPackageCheck::malformed);
  EXPECT_EQ(checked.error().decode_error, MlsErrc::truncated);
}

TEST(KeyPackageCheckNames, AreStableCodes) {
  EXPECT_STREQ(to_string(KeyPackageCheck::lifetime), "key_package_lifetime");
  EXPECT_STREQ(to_string(KeyPackageCheck::key_package_signature), "key_package_signature");
  EXPECT_STREQ(to_string(KeyPackageCheck::leaf_node_signature), "key_package_leaf_node_signature");
}

// Packages made by ts-mls (an independent RFC 9420 implementation): accepted when valid, and each
// corrupted one refused by the check its generator names.
TEST(KeyPackageVectors, AgreeWithTsMls) {
  const auto seed = eth::testing::vector_seed();
  SCOPED_TRACE(eth::testing::replay_hint("mls_key_package", seed));
  const auto vectors = eth::testing::run_vectors("mls_key_package", 20, seed);
  std::size_t accepted = 0;
  for (const auto& c : eth::testing::cases_of(vectors)) {
    const auto kind = std::string(eth::testing::field(c, "kind"));
    SCOPED_TRACE(kind);
    const auto message = eth::testing::hex_field(c, "message");
    const auto identity_key = eth::testing::hex_field(c, "identity_key");
    const auto expected_identity = std::string(eth::testing::field(c, "identity"));
    KeyPackageExpectation e;
    e.identity_key = identity_key;
    e.identity = expected_identity;
    e.now_seconds = std::stoull(std::string(eth::testing::field(c, "now")));
    auto checked = check_key_package(message, e);
    const auto expect = std::string(eth::testing::field(c, "expect"));
    if (expect == "ok") {
      ASSERT_TRUE(checked) << to_string(checked.error().check);
      ++accepted;
    } else {
      ASSERT_FALSE(checked);
      EXPECT_EQ(to_string(checked.error().check), expect);
    }
  }
  EXPECT_EQ(accepted, 4u);  // two of each valid kind (suite 0x0001 and X-Wing) in 20 cases
}

}  // namespace
}  // namespace gh::mls
