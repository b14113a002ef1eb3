#pragma once
// Exact 256-bit unsigned integers (token amounts, EVM words, gas and fee values). Four 64-bit limbs,
// least significant first. Arithmetic is checked by default; the wrapping forms are named so that
// modular arithmetic is always a visible choice. No floating point anywhere.
#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/expected.hpp"
#include "eth/bytes.hpp"

namespace gh::eth {

/// Why text or bytes are not a 256-bit unsigned integer. `to_string` gives the stable snake_case
/// form ("u256_overflow"); what a failure means to a client is the caller's call.
enum class [[nodiscard]] U256Errc{
    invalid,   ///< empty, a character that is not a digit, or a missing 0x prefix
    overflow,  ///< a value above 2^256-1 (or more than 32 bytes)
};

/// "u256_" followed by the code's name, e.g. "u256_invalid".
const char* to_string(U256Errc code) noexcept;

/// An unsigned 256-bit integer.
class U256 {
 public:
  /// Zero.
  constexpr U256() noexcept = default;
  /// The value v (implicit so that small constants read naturally).
  constexpr U256(std::uint64_t v) noexcept : m_limbs{v, 0, 0, 0} {}  // NOLINT(google-explicit-constructor)
  /// From limbs, least significant first.
  static constexpr U256 from_limbs(std::uint64_t l0, std::uint64_t l1, std::uint64_t l2, std::uint64_t l3) noexcept {
    U256 out;
    out.m_limbs = {l0, l1, l2, l3};
    return out;
  }

  /// Decimal digits only (no sign, no '+', no spaces, not empty); leading zeros allowed. Errors:
  /// invalid, overflow.
  static Expected<U256, U256Errc> from_dec(std::string_view text);
  /// A "0x"-prefixed hex quantity (1 to 64 digits, leading zeros allowed). Errors: invalid,
  /// overflow.
  static Expected<U256, U256Errc> from_hex(std::string_view text);
  /// Big-endian bytes, at most 32 (leading zeros allowed); longer input gives overflow.
  static Expected<U256, U256Errc> from_be_bytes(ByteView bytes);

  /// 32 big-endian bytes (an EVM word).
  FixedBytes<32> to_be_bytes() const noexcept;
  /// Decimal text without leading zeros ("0" for zero).
  std::string to_dec() const;
  /// Minimal JSON-RPC quantity: "0x0", "0x1f", never leading zeros.
  std::string to_hex() const;

  /// this + o, or nullopt on overflow.
  constexpr std::optional<U256> checked_add(const U256& o) const noexcept {
    bool carry = false;
    U256 r = add_carry(o, carry);
    if (carry) return std::nullopt;
    return r;
  }
  /// this - o, or nullopt when o > this.
  constexpr std::optional<U256> checked_sub(const U256& o) const noexcept {
    if (*this < o) return std::nullopt;
    return wrapping_sub(o);
  }
  /// this * o, or nullopt on overflow.
  std::optional<U256> checked_mul(const U256& o) const noexcept;
  /// this / o (truncating), or nullopt when o is zero.
  std::optional<U256> checked_div(const U256& o) const noexcept;
  /// this % o, or nullopt when o is zero.
  std::optional<U256> checked_mod(const U256& o) const noexcept;

  /// (this + o) mod 2^256.
  constexpr U256 wrapping_add(const U256& o) const noexcept {
    bool carry = false;
    return add_carry(o, carry);
  }
  /// (this - o) mod 2^256.
  constexpr U256 wrapping_sub(const U256& o) const noexcept {
    U256 r;
    std::uint64_t borrow = 0;
    for (int i = 0; i < 4; ++i) {
      const std::uint64_t a = m_limbs[idx(i)];
      const std::uint64_t b = o.m_limbs[idx(i)];
      const std::uint64_t d = a - b - borrow;
      borrow = (a < b || (a == b && borrow != 0)) ? 1 : 0;
      r.m_limbs[idx(i)] = d;
    }
    return r;
  }
  /// (this * o) mod 2^256.
  U256 wrapping_mul(const U256& o) const noexcept;
  /// (2^256 - this) mod 2^256: two's complement negation, for signed ABI integers.
  constexpr U256 wrapping_neg() const noexcept { return U256{}.wrapping_sub(*this); }

  /// Bitwise and.
  constexpr U256 operator&(const U256& o) const noexcept {
    return zip(o, [](auto a, auto b) { return a & b; });
  }
  /// Bitwise or.
  constexpr U256 operator|(const U256& o) const noexcept {
    return zip(o, [](auto a, auto b) { return a | b; });
  }
  /// Bitwise exclusive or.
  constexpr U256 operator^(const U256& o) const noexcept {
    return zip(o, [](auto a, auto b) { return a ^ b; });
  }
  /// Bitwise complement.
  constexpr U256 operator~() const noexcept { return from_limbs(~m_limbs[0], ~m_limbs[1], ~m_limbs[2], ~m_limbs[3]); }
  /// Left shift; bits past 2^255 are dropped, a shift of 256 or more gives zero.
  constexpr U256 operator<<(unsigned shift) const noexcept {
    U256 r;
    if (shift >= 256) return r;
    const unsigned limb_shift = shift / 64;
    const unsigned bit_shift = shift % 64;
    for (unsigned i = limb_shift; i < 4; ++i) {
      const unsigned src = i - limb_shift;
      std::uint64_t v = m_limbs[src] << bit_shift;
      if (bit_shift != 0 && src > 0) v |= m_limbs[src - 1] >> (64 - bit_shift);
      r.m_limbs[i] = v;
    }
    return r;
  }
  /// Logical right shift; a shift of 256 or more gives zero.
  constexpr U256 operator>>(unsigned shift) const noexcept {
    U256 r;
    if (shift >= 256) return r;
    const unsigned limb_shift = shift / 64;
    const unsigned bit_shift = shift % 64;
    for (unsigned i = 0; i + limb_shift < 4; ++i) {
      std::uint64_t v = m_limbs[i + limb_shift] >> bit_shift;
      if (bit_shift != 0 && i + limb_shift + 1 < 4) v |= m_limbs[i + limb_shift + 1] << (64 - bit_shift);
      r.m_limbs[i] = v;
    }
    return r;
  }

  /// True when the value is below 2^64.
  constexpr bool fits_u64() const noexcept { return (m_limbs[1] | m_limbs[2] | m_limbs[3]) == 0; }
  /// The value mod 2^64.
  constexpr std::uint64_t low_u64() const noexcept { return m_limbs[0]; }
  /// Limb i (0 = least significant), i < 4.
  constexpr std::uint64_t limb(unsigned i) const noexcept { return m_limbs[i]; }
  /// Number of significant bits (0 for zero, 256 for max()).
  constexpr unsigned bit_length() const noexcept {
    for (unsigned i = 4; i-- > 0;) {
      if (m_limbs[i] != 0) {
        unsigned bits = 0;
        for (std::uint64_t v = m_limbs[i]; v != 0; v >>= 1) ++bits;
        return i * 64 + bits;
      }
    }
    return 0;
  }
  /// True for zero.
  constexpr bool is_zero() const noexcept { return (m_limbs[0] | m_limbs[1] | m_limbs[2] | m_limbs[3]) == 0; }

  /// 2^256 - 1.
  static constexpr U256 max() noexcept { return from_limbs(~0ULL, ~0ULL, ~0ULL, ~0ULL); }

  /// Numeric order.
  constexpr std::strong_ordering operator<=>(const U256& o) const noexcept {
    for (unsigned i = 4; i-- > 0;) {
      if (m_limbs[i] != o.m_limbs[i]) return m_limbs[i] <=> o.m_limbs[i];
    }
    return std::strong_ordering::equal;
  }
  /// Numeric equality.
  constexpr bool operator==(const U256& o) const noexcept { return m_limbs == o.m_limbs; }

 private:
  static constexpr std::size_t idx(int i) noexcept { return static_cast<std::size_t>(i); }
  constexpr U256 add_carry(const U256& o, bool& carry_out) const noexcept {
    U256 r;
    std::uint64_t carry = 0;
    for (std::size_t i = 0; i < 4; ++i) {
      const std::uint64_t s = m_limbs[i] + o.m_limbs[i];
      const std::uint64_t c1 = s < m_limbs[i] ? 1 : 0;
      const std::uint64_t t = s + carry;
      const std::uint64_t c2 = t < s ? 1 : 0;
      r.m_limbs[i] = t;
      carry = c1 | c2;
    }
    carry_out = carry != 0;
    return r;
  }
  template <class F>
  constexpr U256 zip(const U256& o, F f) const noexcept {
    return from_limbs(f(m_limbs[0], o.m_limbs[0]), f(m_limbs[1], o.m_limbs[1]), f(m_limbs[2], o.m_limbs[2]),
                      f(m_limbs[3], o.m_limbs[3]));
  }

  std::array<std::uint64_t, 4> m_limbs{};
};

}  // namespace gh::eth
