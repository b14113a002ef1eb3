#include "eth/keccak.hpp"

#include <gtest/gtest.h>

#include "eth/hex.hpp"
#include "eth/testing/vectors.hpp"

namespace gh::eth {
namespace {

struct KeccakAnswer {
  std::string_view input;
  std::string_view hash;
};

// Published keccak-256 values (the Ethereum ones, not NIST SHA3-256).
constexpr KeccakAnswer k_keccak_known[] = {
    {"", "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"},
    {"abc", "0x4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"},
    {"transfer(address,uint256)", "0xa9059cbb2ab09eb219583f4a59a5d0623ade346d962bcd4e46b11da047c9049b"},
    {"Transfer(address,address,uint256)", "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"},
};

TEST(Keccak, KnownAnswers) {
  for (const auto& k : k_keccak_known) {
    EXPECT_EQ(to_hex(keccak256(k.input).view()), k.hash) << '"' << k.input << '"';
    EXPECT_EQ(keccak256(as_bytes(k.input)), keccak256(k.input));
  }
}

TEST(Keccak, MatchesNobleAndJsSha3) {
  const std::uint64_t seed = testing::vector_seed();
  SCOPED_TRACE(testing::replay_hint("keccak", seed));
  const auto vectors = testing::run_vectors("keccak", 1000, seed);
  const auto& cases = testing::cases_of(vectors);
  ASSERT_EQ(cases.size(), 1000u);
  for (const auto& c : cases) {
    const Bytes input = testing::hex_field(c, "input");
    ASSERT_EQ(to_hex(keccak256(input).view()), testing::field(c, "hash")) << "input length " << input.size();
  }
}

}  // namespace
}  // namespace gh::eth
