#pragma once
// Ethereum transactions ("txn"): legacy (optionally EIP-155 replay-protected) and EIP-1559 (type 2)
// with access lists. Encoding, signing hash, signing, hashing, and decoding a signed raw
// transaction back with its sender.
#include <cstdint>
#include <optional>
#include <variant>
#include <vector>

#include "core/expected.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/secp256k1.hpp"
#include "eth/u256.hpp"

namespace gh::eth {

/// A pre-EIP-2718 transaction. With a chain id it is signed per EIP-155.
struct LegacyTxn {
  std::uint64_t nonce = 0;
  U256 gas_price;
  U256 gas_limit;
  std::optional<Address> to;  ///< nullopt creates a contract
  U256 value;
  Bytes data;
  std::optional<std::uint64_t> chain_id;  ///< nullopt: pre-EIP-155 (no replay protection)
  /// Field-wise equality.
  bool operator==(const LegacyTxn&) const = default;
};

/// One EIP-2930 access list entry.
struct AccessListEntry {
  Address address;
  std::vector<Hash32> storage_keys;
  /// Field-wise equality.
  bool operator==(const AccessListEntry&) const = default;
};

/// An EIP-1559 (type 2) transaction.
struct Eip1559Txn {
  std::uint64_t chain_id = 1;
  std::uint64_t nonce = 0;
  U256 max_priority_fee_per_gas;
  U256 max_fee_per_gas;
  U256 gas_limit;
  std::optional<Address> to;  ///< nullopt creates a contract
  U256 value;
  Bytes data;
  std::vector<AccessListEntry> access_list;
  /// Field-wise equality.
  bool operator==(const Eip1559Txn&) const = default;
};

/// Why raw bytes are not a signed transaction we decode. `to_string` gives the stable snake_case
/// form ("txn_field_invalid"); what a failure means to a client is the caller's call.
enum class [[nodiscard]] TxnErrc{
    empty,              ///< no bytes at all
    unsupported_type,   ///< an EIP-2718 type other than 2
    not_canonical_rlp,  ///< the body is not exactly one canonical RLP item
    wrong_shape,        ///< not a list of 9 (legacy) or 12 (type 2) fields, or neither a list nor a type
    field_invalid,      ///< a field of the wrong kind or width (a list for bytes, a 21-byte `to`, ...)
    signature_invalid,  ///< v is not 27, 28 or EIP-155 (>= 37), or yParity is not 0 or 1
};

/// "txn_" followed by the code's name, e.g. "txn_wrong_shape".
const char* to_string(TxnErrc code) noexcept;

/// Any transaction we can sign or decode.
using UnsignedTxn = std::variant<LegacyTxn, Eip1559Txn>;

/// A transaction with its signature.
struct SignedTxn {
  UnsignedTxn txn;
  Signature signature;
  /// Field-wise equality.
  bool operator==(const SignedTxn&) const = default;
};

/// The bytes that are hashed for signing: RLP of the fields (legacy, with chain id, 0, 0 under
/// EIP-155) or 0x02 || RLP(fields) for type 2.
Bytes encode_unsigned(const UnsignedTxn& txn);
/// keccak256 of encode_unsigned.
Hash32 signing_hash(const UnsignedTxn& txn);
/// Signs a transaction with `key`.
SignedTxn sign_txn(const UnsignedTxn& txn, const PrivateKey& key);
/// The raw signed transaction, as sent with eth_sendRawTransaction.
Bytes encode_signed(const SignedTxn& txn);
/// The transaction hash: keccak256 of encode_signed.
Hash32 txn_hash(const SignedTxn& txn);
/// Decodes a raw signed transaction (legacy or type 2), canonical RLP only. Errors: every TxnErrc.
Expected<SignedTxn, TxnErrc> decode_signed(ByteView raw);
/// The sender recovered from the signature, or nullopt if it does not recover.
std::optional<Address> recover_sender(const SignedTxn& txn) noexcept;

}  // namespace gh::eth
