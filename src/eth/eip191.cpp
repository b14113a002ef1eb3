#include "eth/eip191.hpp"

#include <string>

#include "eth/keccak.hpp"

namespace gh::eth {

Hash32 personal_message_hash(ByteView message) noexcept {
  // The prefix length is the decimal byte count of the message (not characters), as wallets do.
  std::string prefix =
      "\x19"
      "Ethereum Signed Message:\n" +
      std::to_string(message.size());
  Bytes data(prefix.begin(), prefix.end());
  data.insert(data.end(), message.begin(), message.end());
  return keccak256(ByteView(data));
}

Signature sign_personal_message(const PrivateKey& key, ByteView message) {
  return sign_hash(key, personal_message_hash(message));
}

std::optional<Address> recover_personal_signer(ByteView message, const Signature& signature) noexcept {
  return ecrecover(personal_message_hash(message), signature);
}

Expected<Address, Secp256k1Errc> recover_personal_signer(ByteView message, ByteView signature) {
  auto parsed = parse_signature(signature);
  if (!parsed) return parsed.error();
  const auto signer = recover_personal_signer(message, *parsed);
  if (!signer) return Secp256k1Errc::signature_invalid;
  return *signer;
}

}  // namespace gh::eth
