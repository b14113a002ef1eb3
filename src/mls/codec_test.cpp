#include "mls/codec.hpp"

#include <gtest/gtest.h>

#include "mls/testing/builder.hpp"

namespace gh::mls {
namespace {

using testing::Writer;

const std::string identity = "0x52908400098527886e0f7030069857d2e4169ee7";

TEST(MlsVarint, EncodesMinimally) {
  EXPECT_EQ(encode_varint(0), Bytes{0x00});
  EXPECT_EQ(encode_varint(63), Bytes{0x3f});
  EXPECT_EQ(encode_varint(64), (Bytes{0x40, 0x40}));
  EXPECT_EQ(encode_varint(16383), (Bytes{0x7f, 0xff}));
  EXPECT_EQ(encode_varint(16384), (Bytes{0x80, 0x00, 0x40, 0x00}));
  EXPECT_EQ(encode_varint(0x3fffffff), (Bytes{0xbf, 0xff, 0xff, 0xff}));
}

// A PrivateMessage whose group id length is spelled `length` (its body is then 2 bytes).
Bytes private_with_group_length(Bytes length) {
  Writer w;
  w.u16(1).u16(2).raw(length).raw(Bytes{0x01, 0x02}).u64(3).u8(1);
  w.opaque(Bytes{}).opaque(Bytes{}).opaque(Bytes{});
  return w.out;
}

TEST(MlsVarint, RejectsNonMinimalAndReservedLengths) {
  EXPECT_TRUE(decode_message(private_with_group_length({0x02})));
  EXPECT_EQ(decode_message(private_with_group_length({0x40, 0x02})).error(), MlsErrc::non_minimal_varint);
  EXPECT_EQ(decode_message(private_with_group_length({0x80, 0x00, 0x00, 0x02})).error(), MlsErrc::non_minimal_varint);
  EXPECT_EQ(decode_message(private_with_group_length({0xc0})).error(), MlsErrc::invalid_varint);
  // A length past the end of the input.
  EXPECT_EQ(decode_message(private_with_group_length({0x3f})).error(), MlsErrc::truncated);
}

TEST(MlsMessage, ReadsPrivateMessageHeader) {
  const Bytes group{1, 2, 3, 4};
  auto m = decode_message(testing::private_message(group, 7, ContentType::application));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->wire_format, WireFormat::private_message);
  ASSERT_TRUE(m->header);
  EXPECT_EQ(m->header->group_id, group);
  EXPECT_EQ(m->header->epoch, 7u);
  EXPECT_EQ(m->header->content_type, ContentType::application);
  EXPECT_FALSE(m->header->sender_type);
}

TEST(MlsMessage, ReadsPublicMessageHeader) {
  const Bytes group{9, 9};
  auto m = decode_message(testing::public_message(group, 0x0102030405060708ull, ContentType::commit, 5));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->wire_format, WireFormat::public_message);
  EXPECT_EQ(m->header->group_id, group);
  EXPECT_EQ(m->header->epoch, 0x0102030405060708ull);
  EXPECT_EQ(m->header->content_type, ContentType::commit);
  EXPECT_EQ(m->header->sender_type, SenderType::member);
  EXPECT_EQ(m->header->sender_index, 5u);
}

TEST(MlsMessage, ReadsWelcome) {
  const std::vector<Bytes> refs{Bytes(32, 0x0a), Bytes(32, 0x0b)};
  auto m = decode_message(testing::welcome_message(1, refs));
  ASSERT_TRUE(m);
  ASSERT_TRUE(m->welcome);
  EXPECT_EQ(m->welcome->cipher_suite, 1);
  EXPECT_EQ(m->welcome->new_members, refs);
}

TEST(MlsMessage, RejectsBadEnvelopesAndFields) {
  EXPECT_EQ(decode_message(Bytes{}).error(), MlsErrc::truncated);
  EXPECT_EQ(decode_message(Bytes{0x00, 0x02, 0x00, 0x02}).error(), MlsErrc::unsupported_version);
  EXPECT_EQ(decode_message(Bytes{0x00, 0x01, 0x00, 0x06}).error(), MlsErrc::unknown_wire_format);
  EXPECT_EQ(decode_message(Bytes{0x00, 0x01, 0x00, 0x00}).error(), MlsErrc::unknown_wire_format);
  auto bad_type = testing::private_message(Bytes{1}, 1, ContentType::application);
  bad_type[4 + 2 + 8] = 4;  // after version, wire format, group id (1 + 1) and epoch
  EXPECT_EQ(decode_message(bad_type).error(), MlsErrc::invalid_content_type);
  auto trailing = testing::private_message(Bytes{1}, 1, ContentType::application);
  trailing.push_back(0);
  EXPECT_EQ(decode_message(trailing).error(), MlsErrc::trailing_bytes);
  auto bad_sender = testing::public_message(Bytes{1}, 1, ContentType::commit);
  bad_sender[4 + 2 + 8] = 9;
  EXPECT_EQ(decode_message(bad_sender).error(), MlsErrc::invalid_sender_type);
  DecodeLimits small;
  small.max_group_id_bytes = 3;
  EXPECT_EQ(decode_message(testing::private_message(Bytes(4, 1), 1, ContentType::application), small).error(),
            MlsErrc::too_long);
}

TEST(MlsKeyPackage, DecodesEveryField) {
  testing::SigningKey key;
  testing::KeyPackageFields f;
  f.identity = identity;
  f.lifetime = {100, 200};
  f.extensions = {{0x000a, Bytes{1, 2, 3}}};
  const auto bytes = testing::key_package_message(f, key);
  auto kp = decode_key_package_message(bytes);
  ASSERT_TRUE(kp) << to_string(kp.error());
  EXPECT_EQ(kp->version, protocol_mls10);
  EXPECT_EQ(kp->cipher_suite, suite_x25519_aes128gcm_ed25519);
  EXPECT_EQ(kp->init_key, f.init_key);
  EXPECT_EQ(kp->leaf_node.encryption_key, f.encryption_key);
  EXPECT_EQ(kp->leaf_node.signature_key, Bytes(key.pk.begin(), key.pk.end()));
  EXPECT_EQ(kp->leaf_node.credential.type, credential_basic);
  EXPECT_EQ(std::string(kp->leaf_node.credential.identity.begin(), kp->leaf_node.credential.identity.end()), identity);
  EXPECT_EQ(kp->leaf_node.capabilities.cipher_suites, f.capabilities.cipher_suites);
  ASSERT_TRUE(kp->leaf_node.lifetime);
  EXPECT_EQ(kp->leaf_node.lifetime->not_before, 100u);
  EXPECT_EQ(kp->leaf_node.lifetime->not_after, 200u);
  ASSERT_EQ(kp->leaf_node.extensions.size(), 1u);
  EXPECT_EQ(kp->leaf_node.extensions[0].type, 0x000a);
  EXPECT_EQ(kp->leaf_node.signature.size(), 64u);
  EXPECT_EQ(kp->signature.size(), 64u);
  // The TBS is the package minus its signature: 4 envelope bytes, then up to the last 66 (a
  // 64-byte signature takes a 2-byte length).
  EXPECT_EQ(kp->tbs, Bytes(bytes.begin() + 4, bytes.end() - 66));
}

TEST(MlsKeyPackage, EveryTruncationIsRefused) {
  testing::SigningKey key;
  testing::KeyPackageFields f;
  f.identity = identity;
  const auto bytes = testing::key_package_message(f, key);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    auto kp = decode_key_package_message(ByteView(bytes.data(), n));
    ASSERT_FALSE(kp) << "prefix of " << n << " bytes";
    EXPECT_EQ(kp.error(), MlsErrc::truncated) << "prefix of " << n << " bytes";
  }
}

TEST(MlsKeyPackage, RejectsOtherWireFormatsAndCredentials) {
  EXPECT_EQ(decode_key_package_message(testing::private_message(Bytes{1}, 1, ContentType::application)).error(),
            MlsErrc::wrong_wire_format);
  testing::SigningKey key;
  testing::KeyPackageFields f;
  f.identity = identity;
  f.credential_type = 0x7a7a;  // a GREASE-like type whose data we cannot delimit
  EXPECT_EQ(decode_key_package_message(testing::key_package_message(f, key)).error(), MlsErrc::unsupported_credential);
  f.credential_type = credential_basic;
  f.leaf_source = 9;
  EXPECT_EQ(decode_key_package_message(testing::key_package_message(f, key)).error(), MlsErrc::invalid_leaf_source);
  f.leaf_source = 1;
  const auto two_suites = testing::key_package_message(f, key);
  EXPECT_TRUE(decode_key_package_message(two_suites));
  DecodeLimits few;
  few.max_list_items = 1;
  EXPECT_EQ(decode_key_package_message(two_suites, few).error(), MlsErrc::too_long);
}

}  // namespace
}  // namespace gh::mls
