// U256 arithmetic against a reference: boost::multiprecision's 256-bit unsigned integer (checked
// for overflow where ours is checked, wrapping modulo 2^256 where ours wraps). Two 32-byte
// operands and a shift count come from the input; every operation must agree with the reference,
// as must the decimal and hex renderings and the big-endian bytes.
#include <algorithm>
#include <array>
#include <boost/multiprecision/cpp_int.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "eth/u256.hpp"

namespace {

namespace mp = boost::multiprecision;
using Ref = mp::uint256_t;   // wraps modulo 2^256
using Wide = mp::uint512_t;  // holds any exact sum or product of two 256-bit values

const Wide two_256 = Wide(1) << 256;

void check(bool ok) {
  if (!ok) __builtin_trap();
}

gh::eth::U256 ours(const std::uint8_t* bytes) {
  auto v = gh::eth::U256::from_be_bytes(gh::eth::ByteView(bytes, 32));
  check(v.has_value());
  return *v;
}

Ref reference(const std::uint8_t* bytes) {
  Ref r = 0;
  for (std::size_t i = 0; i < 32; ++i) r = (r << 8) | bytes[i];
  return r;
}

// Independent renderings of the reference value.
std::string ref_dec(const Ref& r) {
  return r.str();
}
std::string ref_hex(const Ref& r) {
  if (r == 0) return "0x0";
  std::string digits;
  Ref v = r;
  while (v != 0) {
    digits.insert(digits.begin(), "0123456789abcdef"[static_cast<unsigned>(v & 15)]);
    v >>= 4;
  }
  return "0x" + digits;
}

bool same(const gh::eth::U256& a, const Ref& r) {
  return a.to_dec() == ref_dec(r);
}

void expect_checked(const std::optional<gh::eth::U256>& got, const std::optional<Ref>& want) {
  check(got.has_value() == want.has_value());
  if (got) check(same(*got, *want));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 65) return 0;
  const auto a = ours(data);
  const auto b = ours(data + 32);
  const unsigned shift = data[64];  // 0..255; also tries 256+ below
  const Ref ra = reference(data);
  const Ref rb = reference(data + 32);
  const Wide wa = ra, wb = rb;

  // Renderings and bytes.
  check(a.to_dec() == ref_dec(ra));
  check(a.to_hex() == ref_hex(ra));
  {
    const auto be = a.to_be_bytes();
    check(std::equal(be.bytes.begin(), be.bytes.end(), data));
    const auto dec = gh::eth::U256::from_dec(ref_dec(ra));
    check(dec.has_value() && *dec == a);
    const auto hex = gh::eth::U256::from_hex(ref_hex(ra));
    check(hex.has_value() && *hex == a);
  }

  // Comparison.
  check((a == b) == (ra == rb));
  check((a < b) == (ra < rb));
  check((a > b) == (ra > rb));

  // Wrapping arithmetic: modulo 2^256.
  check(same(a.wrapping_add(b), ra + rb));
  check(same(a.wrapping_sub(b), ra - rb));
  check(same(a.wrapping_mul(b), ra * rb));
  check(same(a.wrapping_neg(), Ref(0) - ra));

  // Checked arithmetic: empty exactly when the exact result does not fit (or division by zero).
  const Wide sum = wa + wb;
  expect_checked(a.checked_add(b), sum < two_256 ? std::optional<Ref>(Ref(sum)) : std::nullopt);
  expect_checked(a.checked_sub(b), ra >= rb ? std::optional<Ref>(ra - rb) : std::nullopt);
  const Wide product = wa * wb;
  expect_checked(a.checked_mul(b), product < two_256 ? std::optional<Ref>(Ref(product)) : std::nullopt);
  expect_checked(a.checked_div(b), rb != 0 ? std::optional<Ref>(ra / rb) : std::nullopt);
  expect_checked(a.checked_mod(b), rb != 0 ? std::optional<Ref>(ra % rb) : std::nullopt);

  // Bitwise and shifts (a shift of 256 or more gives zero).
  check(same(a & b, ra & rb));
  check(same(a | b, ra | rb));
  check(same(a ^ b, ra ^ rb));
  check(same(~a, ~ra));
  check(same(a << shift, ra << shift));
  check(same(a >> shift, ra >> shift));
  check((a << (shift + 256U)).is_zero());
  check((a >> (shift + 256U)).is_zero());

  // Queries.
  check(a.bit_length() == (ra == 0 ? 0U : static_cast<unsigned>(mp::msb(ra)) + 1U));
  check(a.fits_u64() == (ra <= Ref(UINT64_MAX)));
  check(a.low_u64() == static_cast<std::uint64_t>(ra & Ref(UINT64_MAX)));
  return 0;
}
