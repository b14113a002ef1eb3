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
  return {rlp::encode_uint(t.chain_id),
          rlp::encode_uint(t.nonce),
          rlp::encode_uint(t.max_priority_fee_per_gas),
          rlp::encode_uint(t.max_fee_per_gas),
          rlp::encode_uint(t.gas_limit),
          encode_to(t.to),
          rlp::encode_uint(t.value),
          rlp::encode_string(t.data),
          encode_access_list(t.access_list)};
}

Bytes typed(std::uint8_t type, const Bytes& rlp_payload) {
  Bytes out;
  out.reserve(rlp_payload.size() + 1);
  out.push_back(type);
  out.insert(out.end(), rlp_payload.begin(), rlp_payload.end());
  return out;
}

gh::Error invalid(const std::string& why) { return gh::bad_input("txn_invalid", why); }

// Field decoders: each returns the field or an Error naming it.
gh::Result<U256> uint_field(const rlp::Item& item, const char* name) {
  auto value = rlp::to_uint(item);
  if (!value) return invalid(std::string(name) + ": " + value.error().message);
  return *value;
}

gh::Result<std::uint64_t> u64_field(const rlp::Item& item, const char* name) {
  auto value = uint_field(item, name);
  if (!value) return std::move(value).error();
  if (!value->fits_u64()) return invalid(std::string(name) + " exceeds 64 bits");
  return value->low_u64();
}

gh::Result<std::optional<Address>> to_field(const rlp::Item& item) {
  if (item.is_list) return invalid("to: expected bytes, got a list");
  if (item.bytes.empty()) return std::optional<Address>{};
  if (item.bytes.size() != 20) return invalid("to: expected 20 bytes");
  Address a;
  std::copy(item.bytes.begin(), item.bytes.end(), a.bytes.begin());
  return std::optional<Address>{a};
}

gh::Result<Bytes> bytes_field(const rlp::Item& item, const char* name) {
  if (item.is_list) return invalid(std::string(name) + ": expected bytes, got a list");
  return item.bytes;
}

gh::Result<FixedBytes<32>> scalar_field(const rlp::Item& item, const char* name) {
  auto value = uint_field(item, name);
  if (!value) return std::move(value).error();
  return value->to_be_bytes();
}

gh::Result<std::vector<AccessListEntry>> access_list_field(const rlp::Item& item) {
  if (!item.is_list) return invalid("accessList: expected a list");
  std::vector<AccessListEntry> out;
  for (const rlp::Item& entry : item.items) {
    if (!entry.is_list || entry.items.size() != 2) return invalid("accessList entry: expected [address, keys]");
    const rlp::Item& address = entry.items[0];
    const rlp::Item& keys = entry.items[1];
    if (address.is_list || address.bytes.size() != 20) return invalid("accessList address: expected 20 bytes");
    if (!keys.is_list) return invalid("accessList storage keys: expected a list");
    AccessListEntry decoded;
    std::copy(address.bytes.begin(), address.bytes.end(), decoded.address.bytes.begin());
    for (const rlp::Item& key : keys.items) {
      if (key.is_list || key.bytes.size() != 32) return invalid("accessList storage key: expected 32 bytes");
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
  T take(gh::Result<T> field) {
    if (field) return std::move(*field);
    if (!m_error) m_error = std::move(field).error();
    return T{};
  }
  const std::optional<gh::Error>& error() const noexcept { return m_error; }

 private:
  std::optional<gh::Error> m_error;
};

gh::Result<SignedTxn> decode_legacy(ByteView raw) {
  auto decoded = rlp::decode(raw);
  if (!decoded) return std::move(decoded).error();
  const rlp::Item& list = *decoded;
  if (!list.is_list || list.items.size() != 9) return invalid("legacy transaction must be a list of 9 fields");
  const auto& f = list.items;
  FieldDecoder d;
  LegacyTxn t;
  t.nonce = d.take(u64_field(f[0], "nonce"));
  t.gas_price = d.take(uint_field(f[1], "gasPrice"));
  t.gas_limit = d.take(uint_field(f[2], "gasLimit"));
  t.to = d.take(to_field(f[3]));
  t.value = d.take(uint_field(f[4], "value"));
  t.data = d.take(bytes_field(f[5], "data"));
  const std::uint64_t v = d.take(u64_field(f[6], "v"));
  if (d.error()) return *d.error();
  Signature sig;
  if (v == 27 || v == 28) {
    sig.y_parity = static_cast<std::uint8_t>(v - 27);
  } else if (v >= 37) {
    // EIP-155: v = chain_id * 2 + 35 + parity. v 35/36 would mean chain id 0, which is not a chain.
    t.chain_id = (v - 35) / 2;
    sig.y_parity = static_cast<std::uint8_t>((v - 35) % 2);
  } else {
    return invalid("v must be 27, 28 or an EIP-155 value (>= 37), got " + std::to_string(v));
  }
  sig.r = d.take(scalar_field(f[7], "r"));
  sig.s = d.take(scalar_field(f[8], "s"));
  if (d.error()) return *d.error();
  return SignedTxn{t, sig};
}

gh::Result<SignedTxn> decode_eip1559(ByteView payload) {
  auto decoded = rlp::decode(payload);
  if (!decoded) return std::move(decoded).error();
  const rlp::Item& list = *decoded;
  if (!list.is_list || list.items.size() != 12) return invalid("type 2 transaction must be a list of 12 fields");
  const auto& f = list.items;
  FieldDecoder d;
  Eip1559Txn t;
  t.chain_id = d.take(u64_field(f[0], "chainId"));
  t.nonce = d.take(u64_field(f[1], "nonce"));
  t.max_priority_fee_per_gas = d.take(uint_field(f[2], "maxPriorityFeePerGas"));
  t.max_fee_per_gas = d.take(uint_field(f[3], "maxFeePerGas"));
  t.gas_limit = d.take(uint_field(f[4], "gasLimit"));
  t.to = d.take(to_field(f[5]));
  t.value = d.take(uint_field(f[6], "value"));
  t.data = d.take(bytes_field(f[7], "data"));
  t.access_list = d.take(access_list_field(f[8]));
  const std::uint64_t parity = d.take(u64_field(f[9], "yParity"));
  if (d.error()) return *d.error();
  if (parity > 1) return invalid("yParity must be 0 or 1");
  Signature sig;
  sig.y_parity = static_cast<std::uint8_t>(parity);
  sig.r = d.take(scalar_field(f[10], "r"));
  sig.s = d.take(scalar_field(f[11], "s"));
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

Hash32 signing_hash(const UnsignedTxn& txn) { return keccak256(ByteView(encode_unsigned(txn))); }

SignedTxn sign_txn(const UnsignedTxn& txn, const PrivateKey& key) {
  return SignedTxn{txn, sign_hash(key, signing_hash(txn))};
}

Bytes encode_signed(const SignedTxn& signed_txn) {
  const Signature& sig = signed_txn.signature;
  return std::visit(
      Overloaded{[&](const LegacyTxn& t) {
                   std::vector<Bytes> fields = legacy_fields(t);
                   // The chain id is at most 2^64-1, so v fits a U256 without overflow.
                   const U256 v = t.chain_id ? U256{*t.chain_id}
                                                   .wrapping_mul(U256{2})
                                                   .wrapping_add(U256{35u + sig.y_parity})
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

Hash32 txn_hash(const SignedTxn& txn) { return keccak256(ByteView(encode_signed(txn))); }

gh::Result<SignedTxn> decode_signed(ByteView raw) {
  if (raw.empty()) return invalid("empty transaction");
  const std::uint8_t first = raw[0];
  if (first >= 0xc0) return decode_legacy(raw);
  if (first == k_eip1559_type) return decode_eip1559(raw.subspan(1));
  if (first <= 0x7f) {
    return gh::bad_input("txn_unsupported_type", "unsupported transaction type " + std::to_string(first));
  }
  return invalid("transaction is neither an RLP list nor a typed envelope");
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
