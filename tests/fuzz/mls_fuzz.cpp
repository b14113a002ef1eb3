// MLS (RFC 9420) decoding of arbitrary bytes: the decoder never reads past its input, and what it
// accepts is consistent. A key package's TBS is exactly the bytes before its signature (so the
// signature checks cover what was decoded), its leaf's TBS lies inside it, and the general
// MLSMessage decoder and the key package decoder agree. The key package checks run on anything
// that decodes (they must refuse it without crashing: the expected identity key is all zeros).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "mls/codec.hpp"
#include "mls/key_package.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace gh::mls;
  const ByteView input(data, size);
  gh::mls::DecodeLimits limits;
  limits.max_list_items = 8;
  const auto message = decode_message(input, limits);
  const auto kp = decode_key_package_message(input, limits);
  if (kp.has_value() != (message && message->wire_format == WireFormat::key_package)) __builtin_trap();
  if (!kp) return 0;
  // Envelope (4 bytes), TBS, then the signature's length and bytes end the input.
  const auto sig_length = encode_varint(static_cast<std::uint32_t>(kp->signature.size()));
  if (4 + kp->tbs.size() + sig_length.size() + kp->signature.size() != size) __builtin_trap();
  if (!std::equal(kp->tbs.begin(), kp->tbs.end(), input.begin() + 4)) __builtin_trap();
  const auto& leaf = kp->leaf_node.tbs;
  if (std::search(kp->tbs.begin(), kp->tbs.end(), leaf.begin(), leaf.end()) == kp->tbs.end()) __builtin_trap();
  const std::uint8_t zeros[32] = {};
  KeyPackageExpectation e;
  e.identity_key = ByteView(zeros, sizeof zeros);
  e.identity = "0x0000000000000000000000000000000000000000";
  e.now_seconds = 1'800'000'000;
  const auto checked = check_key_package(input, e, limits);
  // Nobody holds the private key of the all-zero point: nothing may pass every check.
  if (checked) __builtin_trap();
  return 0;
}
