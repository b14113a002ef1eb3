#include "eth/transaction.hpp"

#include <algorithm>
#include <string>

#include "eth/keccak.hpp"
#include "eth/rlp.hpp"

namespace gh::eth {
namespace {

constexpr std::uint8_t k_eip1559_type = 0x02;

template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

Bytes encode_to(const std::optional<Address>& to) {
  return to ? rlp::encode_string(to->view()) : rlp::encode_string({});
}

Bytes encode_access_list(const std::vector<AccessListEntry>& list) {
  std::vector<Bytes> entries;
  entries.reserve(list.size());
  for (const AccessListEntry& entry : list) {
    std::vector<Bytes> keys;
    keys.reserve(entry.storage_keys.size());
    for (const Hash32& key : entry.storage_keys) keys.push_back(rlp::encode_string(key.view()));
    const std::vector<Bytes> pair{rlp::encode_string(entry.address.view()), rlp::encode_list(keys)};
    entries.push_back(rlp::encode_list(pair));
  }
  return rlp::encode_list(entries);
}

// r and s are integers in the RLP form of a transaction: minimal big-endian.
Bytes encode_scalar(const FixedBytes<32>& value) {
  const auto as_uint = U256::from_be_bytes(value.view());
  return rlp::encode_uint(*as_uint);
}

std::vector<Bytes> legacy_fields(const LegacyTxn& t) {
  return {rlp::encode_uint(t.nonce), rlp::encode_uint(t.gas_price), rlp::encode_uint(t.gas_limit),
          encode_to(t.to),           rlp::encode_uint(t.value),     rlp::encode_string(t.data)};
}

std::vector<Bytes> eip1559_fields(const Eip1559Txn& t) {
  return {
      rlp::encode_uint(t.chain_id),        rlp::encode_uint(t.nonce),     rlp::encode_uint(t.max_priority_fee_per_gas),
      rlp::encode_uint(t.max_fee_per_gas), rlp::encode_uint(t.gas_limit), encode_to(t.to),
      rlp::encode_uint(t.value),           rlp::encode_string(t.data),    encode_access_list(t.access_list)};
}

Bytes typed(std::uint8_t type, const Bytes& rlp_payload) {
  Bytes out;
  out.reserve(rlp_payload.size() + 1);
  out.push_back(type);
  out.insert(out.end(), rlp_payload.begin(), rlp_payload.end());
  return out;
}

// Field decoders: each returns the field or why it is not one.
Expected<U256, TxnErrc> uint_field(const rlp::Item& item) {
  auto value = rlp::to_uint(item);
  if (!value) return TxnErrc::field_invalid;
  return *value;
}

Expected<std::uint64_t, TxnErrc> u64_field(const rlp::Item& item) {
  auto value = uint_field(item);
  if (!value) return value.error();
  if (!value->fits_u64()) return TxnErrc::field_invalid;
  return value->low_u64();
}

Expected<std::optional<Address>, TxnErrc> to_field(const rlp::Item& item) {
  if (item.is_list) return TxnErrc::field_invalid;
  if (item.bytes.empty()) return std::optional<Address>{};
  if (item.bytes.size() != 20) return TxnErrc::field_invalid;
  Address a;
  std::copy(item.bytes.begin(), item.bytes.end(), a.bytes.begin());
  return std::optional<Address>{a};
}

Expected<Bytes, TxnErrc> bytes_field(const rlp::Item& item) {
  if (item.is_list) return TxnErrc::field_invalid;
  return item.bytes;
}

Expected<FixedBytes<32>, TxnErrc> scalar_field(const rlp::Item& item) {
  auto value = uint_field(item);
  if (!value) return value.error();
  return value->to_be_bytes();
}

Expected<std::vector<AccessListEntry>, TxnErrc> access_list_field(const rlp::Item& item) {
  if (!item.is_list) return TxnErrc::field_invalid;
  std::vector<AccessListEntry> out;
  for (const rlp::Item& entry : item.items) {
    if (!entry.is_list || entry.items.size() != 2) return TxnErrc::field_invalid;
    const rlp::Item& address = entry.items[0];
    const rlp::Item& keys = entry.items[1];
    if (address.is_list || address.bytes.size() != 20) return TxnErrc::field_invalid;
    if (!keys.is_list) return TxnErrc::field_invalid;
    AccessListEntry decoded;
    std::copy(address.bytes.begin(), address.bytes.end(), decoded.address.bytes.begin());
    for (const rlp::Item& key : keys.items) {
      if (key.is_list || key.bytes.size() != 32) return TxnErrc::field_invalid;
      Hash32 k;
      std::copy(key.bytes.begin(), key.bytes.end(), k.bytes.begin());
      decoded.storage_keys.push_back(k);
    }
    out.push_back(std::move(decoded));
  }
  return out;
}

// Collects fields in order and keeps the first error, so decoders read as a list of fields.
class FieldDecoder {
 public:
  template <class T>
  T take(Expected<T, TxnErrc> field) {
    if (field) return std::move(*field);
    if (!m_error) m_error = field.error();
    return T{};
  }
  const std::optional<TxnErrc>& error() const noexcept { return m_error; }

 private:
  std::optional<TxnErrc> m_error;
};

Expected<SignedTxn, TxnErrc> decode_legacy(ByteView raw) {
  auto decoded = rlp::decode(raw);
  if (!decoded) return TxnErrc::not_canonical_rlp;
  const rlp::Item& list = *decoded;
  if (!list.is_list || list.items.size() != 9) return TxnErrc::wrong_shape;
  const auto& f = list.items;
  FieldDecoder d;
  LegacyTxn t;
  t.nonce = d.take(u64_field(f[0]));
  t.gas_price = d.take(uint_field(f[1]));
  t.gas_limit = d.take(uint_field(f[2]));
  t.to = d.take(to_field(f[3]));
  t.value = d.take(uint_field(f[4]));
  t.data = d.take(bytes_field(f[5]));
  const std::uint64_t v = d.take(u64_field(f[6]));
  if (d.error()) return *d.error();
  Signature sig;
  if (v == 27 || v == 28) {
    sig.y_parity = static_cast<std::uint8_t>(v - 27);
  } else if (v >= 37) {
    // EIP-155: v = chain_id * 2 + 35 + parity. v 35/36 would mean chain id 0, which is not a chain.
    t.chain_id = (v - 35) / 2;
    sig.y_parity = static_cast<std::uint8_t>((v - 35) % 2);
  } else {
    return TxnErrc::signature_invalid;
  }
  sig.r = d.take(scalar_field(f[7]));
  sig.s = d.take(scalar_field(f[8]));
  if (d.error()) return *d.error();
  return SignedTxn{t, sig};
}

Expected<SignedTxn, TxnErrc> decode_eip1559(ByteView payload) {
  auto decoded = rlp::decode(payload);
  if (!decoded) return TxnErrc::not_canonical_rlp;
  const rlp::Item& list = *decoded;
  if (!list.is_list || list.items.size() != 12) return TxnErrc::wrong_shape;
  const auto& f = list.items;
  FieldDecoder d;
  Eip1559Txn t;
  t.chain_id = d.take(u64_field(f[0]));
  t.nonce = d.take(u64_field(f[1]));
  t.max_priority_fee_per_gas = d.take(uint_field(f[2]));
  t.max_fee_per_gas = d.take(uint_field(f[3]));
  t.gas_limit = d.take(uint_field(f[4]));
  t.to = d.take(to_field(f[5]));
  t.value = d.take(uint_field(f[6]));
  t.data = d.take(bytes_field(f[7]));
  t.access_list = d.take(access_list_field(f[8]));
  const std::uint64_t parity = d.take(u64_field(f[9]));
  if (d.error()) return *d.error();
  if (parity > 1) return TxnErrc::signature_invalid;
  Signature sig;
  sig.y_parity = static_cast<std::uint8_t>(parity);
  sig.r = d.take(scalar_field(f[10]));
  sig.s = d.take(scalar_field(f[11]));
  if (d.error()) return *d.error();
  return SignedTxn{t, sig};
}

}  // namespace

Bytes encode_unsigned(const UnsignedTxn& txn) {
  return std::visit(
      Overloaded{[](const LegacyTxn& t) {
                   std::vector<Bytes> fields = legacy_fields(t);
                   if (t.chain_id) {
                     fields.push_back(rlp::encode_uint(*t.chain_id));
                     fields.push_back(rlp::encode_uint(0));
                     fields.push_back(rlp::encode_uint(0));
                   }
                   return rlp::encode_list(fields);
                 },
                 [](const Eip1559Txn& t) { return typed(k_eip1559_type, rlp::encode_list(eip1559_fields(t))); }},
      txn);
}

Hash32 signing_hash(const UnsignedTxn& txn) {
  return keccak256(ByteView(encode_unsigned(txn)));
}

SignedTxn sign_txn(const UnsignedTxn& txn, const PrivateKey& key) {
  return SignedTxn{txn, sign_hash(key, signing_hash(txn))};
}

Bytes encode_signed(const SignedTxn& signed_txn) {
  const Signature& sig = signed_txn.signature;
  return std::visit(Overloaded{[&](const LegacyTxn& t) {
                                 std::vector<Bytes> fields = legacy_fields(t);
                                 // The chain id is at most 2^64-1, so v fits a U256 without overflow.
                                 const U256 v = t.chain_id ? U256{*t.chain_id}.wrapping_mul(U256{2}).wrapping_add(
                                                                 U256{35u + sig.y_parity})
                                                           : U256{27u + sig.y_parity};
                                 fields.push_back(rlp::encode_uint(v));
                                 fields.push_back(encode_scalar(sig.r));
                                 fields.push_back(encode_scalar(sig.s));
                                 return rlp::encode_list(fields);
                               },
                               [&](const Eip1559Txn& t) {
                                 std::vector<Bytes> fields = eip1559_fields(t);
                                 fields.push_back(rlp::encode_uint(sig.y_parity));
                                 fields.push_back(encode_scalar(sig.r));
                                 fields.push_back(encode_scalar(sig.s));
                                 return typed(k_eip1559_type, rlp::encode_list(fields));
                               }},
                    signed_txn.txn);
}

Hash32 txn_hash(const SignedTxn& txn) {
  return keccak256(ByteView(encode_signed(txn)));
}

const char* to_string(TxnErrc code) noexcept {
  switch (code) {
    case TxnErrc::empty:
      return "txn_empty";
    case TxnErrc::unsupported_type:
      return "txn_unsupported_type";
    case TxnErrc::not_canonical_rlp:
      return "txn_not_canonical_rlp";
    case TxnErrc::wrong_shape:
      return "txn_wrong_shape";
    case TxnErrc::field_invalid:
      return "txn_field_invalid";
    case TxnErrc::signature_invalid:
      return "txn_signature_invalid";
  }
  return "txn_unknown";
}

Expected<SignedTxn, TxnErrc> decode_signed(ByteView raw) {
  if (raw.empty()) return TxnErrc::empty;
  const std::uint8_t first = raw[0];
  if (first >= 0xc0) return decode_legacy(raw);
  if (first == k_eip1559_type) return decode_eip1559(raw.subspan(1));
  if (first <= 0x7f) return TxnErrc::unsupported_type;
  return TxnErrc::wrong_shape;
}

std::optional<Address> recover_sender(const SignedTxn& txn) noexcept {
  try {
    return ecrecover(signing_hash(txn.txn), txn.signature);
  } catch (...) {
    // Only allocation can throw while encoding; a sender we cannot compute is not recovered.
    return std::nullopt;
  }
}

}  // namespace gh::eth
