#include "eth/transaction.hpp"

#include <gtest/gtest.h>

#include "eth/hex.hpp"
#include "eth/rlp.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

Bytes unhex(std::string_view text) {
  auto bytes = from_hex(text);
  if (!bytes) throw std::runtime_error("bad test hex");
  return *bytes;
}

// The worked example of EIP-155 itself.
constexpr std::string_view k_eip155_key = "0x4646464646464646464646464646464646464646464646464646464646464646";
constexpr std::string_view k_eip155_signing_data =
    "0xec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080";
constexpr std::string_view k_eip155_signing_hash = "0xdaf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53";
constexpr std::string_view k_eip155_signed =
    "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc"
    "2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb196"
    "6a3b6d83";

LegacyTxn eip155_example() {
  LegacyTxn t;
  t.nonce = 9;
  t.gas_price = U256{20'000'000'000ULL};
  t.gas_limit = U256{21000};
  t.to = *parse_address("0x3535353535353535353535353535353535353535");
  t.value = U256{1'000'000'000'000'000'000ULL};
  t.chain_id = 1;
  return t;
}

TEST(Transaction, Eip155Example) {
  const UnsignedTxn txn = eip155_example();
  EXPECT_EQ(to_hex(encode_unsigned(txn)), k_eip155_signing_data);
  EXPECT_EQ(to_hex(signing_hash(txn).view()), k_eip155_signing_hash);
  const SignedTxn signed_txn = sign_txn(txn, *PrivateKey::from_hex(k_eip155_key));
  EXPECT_EQ(to_hex(encode_signed(signed_txn)), k_eip155_signed);

  auto decoded = decode_signed(unhex(k_eip155_signed));
  ASSERT_TRUE(decoded) << to_string(decoded.error());
  EXPECT_EQ(*decoded, signed_txn);
  EXPECT_EQ(recover_sender(*decoded), PrivateKey::from_hex(k_eip155_key)->address());
}

TEST(Transaction, RejectsMalformedRawTransactions) {
  EXPECT_EQ(decode_signed(Bytes{}).error(), TxnErrc::empty);
  EXPECT_EQ(decode_signed(unhex("0x01c0")).error(), TxnErrc::unsupported_type);
  EXPECT_EQ(decode_signed(unhex("0x03c0")).error(), TxnErrc::unsupported_type);
  EXPECT_EQ(decode_signed(unhex("0x8180")).error(), TxnErrc::wrong_shape);
  EXPECT_EQ(decode_signed(unhex("0x02c0")).error(), TxnErrc::wrong_shape);
  EXPECT_EQ(decode_signed(unhex("0xc0")).error(), TxnErrc::wrong_shape);

  Bytes trailing = unhex(k_eip155_signed);
  trailing.push_back(0);
  EXPECT_EQ(decode_signed(trailing).error(), TxnErrc::not_canonical_rlp);

  // Rebuild the EIP-155 example with one field made non-canonical or out of range.
  auto with_fields = [](auto mutate) {
    const auto item = rlp::decode(unhex(k_eip155_signed));
    std::vector<rlp::Item> fields = item->items;
    mutate(fields);
    return rlp::encode(rlp::Item::list(std::move(fields)));
  };
  const auto nonce_leading_zero = with_fields([](auto& f) { f[0] = rlp::Item::string(Bytes{0x00, 0x09}); });
  EXPECT_EQ(decode_signed(nonce_leading_zero).error(), TxnErrc::field_invalid);
  const auto v_35 = with_fields([](auto& f) { f[6] = rlp::Item::string(Bytes{35}); });
  EXPECT_EQ(decode_signed(v_35).error(), TxnErrc::signature_invalid);
  const auto short_to = with_fields([](auto& f) { f[3] = rlp::Item::string(Bytes(19, 0x35)); });
  EXPECT_EQ(decode_signed(short_to).error(), TxnErrc::field_invalid);
  const auto eight_fields = with_fields([](auto& f) { f.pop_back(); });
  EXPECT_EQ(decode_signed(eight_fields).error(), TxnErrc::wrong_shape);
  const auto r_33_bytes = with_fields([](auto& f) { f[7] = rlp::Item::string(Bytes(33, 1)); });
  EXPECT_EQ(decode_signed(r_33_bytes).error(), TxnErrc::field_invalid);
}

TEST(Transaction, Eip1559RoundTripAndParity) {
  Eip1559Txn t;
  t.chain_id = 1;
  t.nonce = 7;
  t.max_priority_fee_per_gas = U256{2'000'000'000};
  t.max_fee_per_gas = U256{100'000'000'000ULL};
  t.gas_limit = U256{60000};
  t.value = U256{1};
  t.data = Bytes{0xa9, 0x05, 0x9c, 0xbb};
  t.access_list = {AccessListEntry{*parse_address("0x3535353535353535353535353535353535353535"), {Hash32{}}}};
  const auto key = *PrivateKey::from_hex(k_eip155_key);
  const SignedTxn s = sign_txn(t, key);
  const Bytes raw = encode_signed(s);
  EXPECT_EQ(raw[0], 0x02);
  auto decoded = decode_signed(raw);
  ASSERT_TRUE(decoded) << to_string(decoded.error());
  EXPECT_EQ(*decoded, s);
  EXPECT_EQ(recover_sender(*decoded), key.address());
  EXPECT_EQ(txn_hash(*decoded), txn_hash(s));

  auto item = rlp::decode(ByteView(raw).subspan(1));
  std::vector<rlp::Item> fields = item->items;
  fields[9] = rlp::Item::string(Bytes{2});
  Bytes bad_parity{0x02};
  const Bytes body = rlp::encode(rlp::Item::list(fields));
  bad_parity.insert(bad_parity.end(), body.begin(), body.end());
  EXPECT_EQ(decode_signed(bad_parity).error(), TxnErrc::signature_invalid);
}

TEST(Transaction, ErrorCodesHaveStableNames) {
  EXPECT_STREQ(to_string(TxnErrc::empty), "txn_empty");
  EXPECT_STREQ(to_string(TxnErrc::unsupported_type), "txn_unsupported_type");
  EXPECT_STREQ(to_string(TxnErrc::not_canonical_rlp), "txn_not_canonical_rlp");
  EXPECT_STREQ(to_string(TxnErrc::wrong_shape), "txn_wrong_shape");
  EXPECT_STREQ(to_string(TxnErrc::field_invalid), "txn_field_invalid");
  EXPECT_STREQ(to_string(TxnErrc::signature_invalid), "txn_signature_invalid");
}

U256 dec(const boost::json::value& c, std::string_view key) {
  auto v = U256::from_dec(testing::field(c, key));
  if (!v) throw std::runtime_error("bad vector integer " + std::string(key));
  return *v;
}

std::uint64_t dec_u64(const boost::json::value& c, std::string_view key) {
  const U256 v = dec(c, key);
  if (!v.fits_u64()) throw std::runtime_error("vector integer exceeds 64 bits: " + std::string(key));
  return v.low_u64();
}

std::optional<Address> to_of(const boost::json::value& c) {
  if (c.at("to").is_null()) return std::nullopt;
  return *parse_address(testing::field(c, "to"));
}

UnsignedTxn txn_of(const boost::json::value& c) {
  const std::string_view kind = testing::field(c, "kind");
  if (kind == "eip1559") {
    Eip1559Txn t;
    t.chain_id = dec_u64(c, "chain_id");
    t.nonce = dec_u64(c, "nonce");
    t.max_priority_fee_per_gas = dec(c, "max_priority_fee_per_gas");
    t.max_fee_per_gas = dec(c, "max_fee_per_gas");
    t.gas_limit = dec(c, "gas_limit");
    t.to = to_of(c);
    t.value = dec(c, "value");
    t.data = testing::hex_field(c, "data");
    for (const auto& entry : c.at("access_list").as_array()) {
      AccessListEntry e;
      e.address = *parse_address(testing::field(entry, "address"));
      for (const auto& key : entry.at("storageKeys").as_array()) {
        e.storage_keys.push_back(*fixed_from_hex<32>(key.as_string()));
      }
      t.access_list.push_back(std::move(e));
    }
    return t;
  }
  LegacyTxn t;
  t.nonce = dec_u64(c, "nonce");
  t.gas_price = dec(c, "gas_price");
  t.gas_limit = dec(c, "gas_limit");
  t.to = to_of(c);
  t.value = dec(c, "value");
  t.data = testing::hex_field(c, "data");
  if (kind == "eip155") t.chain_id = dec_u64(c, "chain_id");
  return t;
}

TEST(Transaction, MatchesEthersSignedTransactions) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("tx", seed));
  const auto vectors = testing::run_vectors("tx", 1000, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_EQ(cases.size(), 1000u);
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& c = cases[i];
    SCOPED_TRACE("case " + std::to_string(i) + " (" + std::string(testing::field(c, "kind")) + ")");
    const UnsignedTxn txn = txn_of(c);
    ASSERT_EQ(to_hex(encode_unsigned(txn)), testing::field(c, "unsigned"));
    ASSERT_EQ(to_hex(signing_hash(txn).view()), testing::field(c, "signing_hash"));
    auto key = PrivateKey::from_hex(testing::field(c, "key"));
    ASSERT_TRUE(key);
    const SignedTxn signed_txn = sign_txn(txn, *key);
    ASSERT_EQ(to_hex(encode_signed(signed_txn)), testing::field(c, "raw"));
    ASSERT_EQ(to_hex(txn_hash(signed_txn).view()), testing::field(c, "hash"));

    auto decoded = decode_signed(testing::hex_field(c, "raw"));
    ASSERT_TRUE(decoded) << to_string(decoded.error());
    ASSERT_EQ(*decoded, signed_txn);
    const auto sender = recover_sender(*decoded);
    ASSERT_TRUE(sender);
    ASSERT_EQ(to_checksum(*sender), testing::field(c, "from"));
  }
}

}  // namespace
}  // namespace gh::eth
