#include "eth/keccak.hpp"

#include <cryptopp/keccak.h>

namespace gh::eth {

Hash32 keccak256(ByteView data) noexcept {
  // Keccak_256 is Crypto++'s original-padding Keccak (0x01), which is what Ethereum uses; SHA3_256
  // (0x06 padding) would give different hashes.
  CryptoPP::Keccak_256 hasher;
  static_assert(CryptoPP::Keccak_256::DIGESTSIZE == Hash32::size());
  hasher.Update(data.data(), data.size());
  Hash32 out;
  hasher.Final(out.data());
  return out;
}

Hash32 keccak256(std::string_view text) noexcept {
  return keccak256(as_bytes(text));
}

}  // namespace gh::eth
