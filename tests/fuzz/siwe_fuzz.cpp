// EIP-4361 parsing of arbitrary text: parse_siwe accepts only the canonical serialization of its
// fields (signatures cover the exact text), so an accepted message serializes back to the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "eth/siwe.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto message = gh::eth::parse_siwe(text);
  if (!message) return 0;
  if (gh::eth::to_message(*message) != text) __builtin_trap();
  const auto built = gh::eth::build_siwe_message(*message);
  if (!built || *built != text) __builtin_trap();
  // Every accepted time must be one parse_siwe_time understands (validate_siwe relies on it).
  if (!gh::eth::parse_siwe_time(message->issued_at)) __builtin_trap();
  if (message->expiration_time && !gh::eth::parse_siwe_time(*message->expiration_time)) __builtin_trap();
  if (message->not_before && !gh::eth::parse_siwe_time(*message->not_before)) __builtin_trap();
  return 0;
}
