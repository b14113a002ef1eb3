#include "eth/hex.hpp"

#include <string>

namespace gh::eth {
namespace {

constexpr char k_digits[] = "0123456789abcdef";

int nibble(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::string to_hex(ByteView data, bool prefix) {
  std::string out;
  out.reserve(data.size() * 2 + (prefix ? 2 : 0));
  if (prefix) out += "0x";
  for (const std::uint8_t b : data) {
    out += k_digits[b >> 4];
    out += k_digits[b & 0x0f];
  }
  return out;
}

const char* to_string(HexErrc code) noexcept {
  switch (code) {
    case HexErrc::odd_length:
      return "hex_odd_length";
    case HexErrc::invalid_char:
      return "hex_invalid_char";
    case HexErrc::wrong_length:
      return "hex_wrong_length";
  }
  return "hex_unknown";
}

Expected<Bytes, HexErrc> from_hex(std::string_view text) {
  std::size_t offset = 0;
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) offset = 2;
  const std::string_view digits = text.substr(offset);
  if (digits.size() % 2 != 0) return HexErrc::odd_length;
  Bytes out(digits.size() / 2);
  for (std::size_t i = 0; i < digits.size(); i += 2) {
    const int hi = nibble(digits[i]);
    const int lo = nibble(digits[i + 1]);
    if (hi < 0 || lo < 0) return HexErrc::invalid_char;
    out[i / 2] = static_cast<std::uint8_t>((hi << 4) | lo);
  }
  return out;
}

}  // namespace gh::eth
