#include "eth/u256.hpp"

#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

namespace gh::eth {
namespace {

__extension__ using Uint128 = unsigned __int128;

// Divides `value` by a 64-bit divisor in place and returns the remainder; used by to_dec so that
// rendering does not go through the bitwise long division.
std::uint64_t div_small(std::array<std::uint64_t, 4>& limbs, std::uint64_t divisor) noexcept {
  Uint128 rem = 0;
  for (std::size_t i = 4; i-- > 0;) {
    const Uint128 cur = (rem << 64) | limbs[i];
    limbs[i] = static_cast<std::uint64_t>(cur / divisor);
    rem = cur % divisor;
  }
  return static_cast<std::uint64_t>(rem);
}

// Full 256x256 product; `overflow` reports whether any bit landed at or above 2^256.
U256 multiply(const U256& a, const U256& b, bool& overflow) noexcept {
  std::array<std::uint64_t, 8> out{};
  for (unsigned i = 0; i < 4; ++i) {
    std::uint64_t carry = 0;
    for (unsigned j = 0; j < 4; ++j) {
      const Uint128 cur = static_cast<Uint128>(a.limb(i)) * b.limb(j) + out[i + j] + carry;
      out[i + j] = static_cast<std::uint64_t>(cur);
      carry = static_cast<std::uint64_t>(cur >> 64);
    }
    out[i + 4] = carry;
  }
  overflow = (out[4] | out[5] | out[6] | out[7]) != 0;
  return U256::from_limbs(out[0], out[1], out[2], out[3]);
}

// Binary long division; the divisor is not zero.
std::pair<U256, U256> divide(const U256& n, const U256& d) noexcept {
  if (n < d) return {U256{}, n};
  if (n.fits_u64() && d.fits_u64()) return {U256{n.low_u64() / d.low_u64()}, U256{n.low_u64() % d.low_u64()}};
  U256 quotient;
  U256 remainder;
  for (unsigned i = n.bit_length(); i-- > 0;) {
    remainder = (remainder << 1) | ((n >> i) & U256{1});
    if (remainder >= d) {
      remainder = remainder.wrapping_sub(d);
      quotient = quotient | (U256{1} << i);
    }
  }
  return {quotient, remainder};
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

const char* to_string(U256Errc code) noexcept {
  switch (code) {
    case U256Errc::invalid:
      return "u256_invalid";
    case U256Errc::overflow:
      return "u256_overflow";
  }
  return "u256_unknown";
}

Expected<U256, U256Errc> U256::from_dec(std::string_view text) {
  if (text.empty()) return U256Errc::invalid;
  for (const char c : text) {
    if (c < '0' || c > '9') return U256Errc::invalid;
  }
  const auto start = text.find_first_not_of('0');
  if (start == std::string_view::npos) return U256{};
  const std::string_view digits = text.substr(start);
  if (digits.size() > 78) return U256Errc::overflow;  // 2^256 has 78 digits
  // Up to 19 digits at a time (10^19 fits in 64 bits): value = value * 10^n + chunk.
  std::array<std::uint64_t, 4> limbs{};
  std::size_t length = digits.size() % 19 == 0 ? 19 : digits.size() % 19;
  for (std::size_t pos = 0; pos < digits.size(); pos += length, length = 19) {
    std::uint64_t chunk = 0;
    std::uint64_t scale = 1;
    for (std::size_t i = pos; i < pos + length; ++i) {
      chunk = chunk * 10 + static_cast<std::uint64_t>(digits[i] - '0');
      scale *= 10;
    }
    Uint128 carry = chunk;
    for (auto& limb : limbs) {
      const Uint128 cur = static_cast<Uint128>(limb) * scale + carry;
      limb = static_cast<std::uint64_t>(cur);
      carry = cur >> 64;
    }
    if (carry != 0) return U256Errc::overflow;
  }
  return from_limbs(limbs[0], limbs[1], limbs[2], limbs[3]);
}

Expected<U256, U256Errc> U256::from_hex(std::string_view text) {
  if (text.size() < 3 || text[0] != '0' || (text[1] != 'x' && text[1] != 'X')) return U256Errc::invalid;
  std::string_view digits = text.substr(2);
  U256 value;
  unsigned significant = 0;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    const int v = hex_value(digits[i]);
    if (v < 0) return U256Errc::invalid;
    if (significant == 0 && v == 0) continue;
    if (++significant > 64) return U256Errc::overflow;
    value = (value << 4) | U256{static_cast<std::uint64_t>(v)};
  }
  return value;
}

Expected<U256, U256Errc> U256::from_be_bytes(ByteView bytes) {
  if (bytes.size() > 32) return U256Errc::overflow;
  std::array<std::uint64_t, 4> limbs{};
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    const std::size_t bit = (bytes.size() - 1 - i) * 8;  // position of this byte from the end
    limbs[bit / 64] |= static_cast<std::uint64_t>(bytes[i]) << (bit % 64);
  }
  return from_limbs(limbs[0], limbs[1], limbs[2], limbs[3]);
}

FixedBytes<32> U256::to_be_bytes() const noexcept {
  FixedBytes<32> out;
  for (std::size_t i = 0; i < 32; ++i) {
    const std::size_t bit = (31 - i) * 8;
    out.bytes[i] = static_cast<std::uint8_t>(m_limbs[bit / 64] >> (bit % 64));
  }
  return out;
}

std::string U256::to_dec() const {
  if (is_zero()) return "0";
  constexpr std::uint64_t chunk = 10'000'000'000'000'000'000ULL;  // 10^19, the largest power in u64
  std::array<std::uint64_t, 4> limbs = m_limbs;
  std::string out;
  while ((limbs[0] | limbs[1] | limbs[2] | limbs[3]) != 0) {
    std::uint64_t rem = div_small(limbs, chunk);
    const bool last = (limbs[0] | limbs[1] | limbs[2] | limbs[3]) == 0;
    for (int d = 0; d < 19 && (!last || rem != 0); ++d) {
      out += static_cast<char>('0' + rem % 10);
      rem /= 10;
    }
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string U256::to_hex() const {
  constexpr char digits[] = "0123456789abcdef";
  if (is_zero()) return "0x0";
  std::string out = "0x";
  for (unsigned nib = (bit_length() + 3) / 4; nib-- > 0;) {
    out += digits[(m_limbs[nib / 16] >> ((nib % 16) * 4)) & 0x0f];
  }
  return out;
}

std::optional<U256> U256::checked_mul(const U256& o) const noexcept {
  bool overflow = false;
  U256 r = multiply(*this, o, overflow);
  if (overflow) return std::nullopt;
  return r;
}

U256 U256::wrapping_mul(const U256& o) const noexcept {
  bool overflow = false;
  return multiply(*this, o, overflow);
}

std::optional<U256> U256::checked_div(const U256& o) const noexcept {
  if (o.is_zero()) return std::nullopt;
  return divide(*this, o).first;
}

std::optional<U256> U256::checked_mod(const U256& o) const noexcept {
  if (o.is_zero()) return std::nullopt;
  return divide(*this, o).second;
}

}  // namespace gh::eth
