#pragma once
// EIP-191 version 0x45 "personal_sign" messages: the form wallets sign for Sign-In with Ethereum.
#include <optional>

#include "core/expected.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/secp256k1.hpp"

namespace gh::eth {

/// keccak256("\x19Ethereum Signed Message:\n" + decimal byte length + message).
Hash32 personal_message_hash(ByteView message) noexcept;

/// Signs a personal message (what a wallet's personal_sign does).
Signature sign_personal_message(const PrivateKey& key, ByteView message);

/// The signer of a personal message, or nullopt when the signature does not recover (high s,
/// out-of-range r or s, no point).
std::optional<Address> recover_personal_signer(ByteView message, const Signature& signature) noexcept;

/// The signer of a personal message from a 65-byte signature (v 27/28 or 0/1). Errors:
/// signature_wrong_length, signature_bad_v, signature_invalid (does not recover).
Expected<Address, Secp256k1Errc> recover_personal_signer(ByteView message, ByteView signature);

}  // namespace gh::eth
