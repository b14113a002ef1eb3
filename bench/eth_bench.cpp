// Timings of the eth hot paths. Every input here is byte for byte the input of bench/reference.mjs
// (ethers v6, siwe 3), so that scripts/run-bench can print meaningful ratios; each benchmark checks
// its result once before timing, so a broken fixture fails loudly instead of timing an error path.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "eth/abi.hpp"
#include "eth/address.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/keccak.hpp"
#include "eth/secp256k1.hpp"
#include "eth/siwe.hpp"

namespace gh::eth {
namespace {

// Anvil's first dev account: a public test key, used only to produce the fixed signatures below.
constexpr std::string_view signer_address = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

// keccak256("gatehouse benchmark: ecrecover") and the signer's signature over it (r || s || v).
constexpr std::string_view ecrecover_digest = "0x96d6b660247b927c73840903512067919b8cc743ed0641b11cf51c7ce9365868";
constexpr std::string_view ecrecover_signature =
    "0x9d05081857a77c5296016de577ca27b570f803ef4b3c51593c6f2466703f73f3"
    "3ebabcafd759d153ddf6c4d7ed5e1d698db084a8513f45d1f076b798866fe4671b";

// A Uniswap V2 Pair Swap log (1 WETH in through the router), as ethers' encodeEventLog writes it.
constexpr std::string_view swap_event =
    "Swap(address indexed sender, uint amount0In, uint amount1In, uint amount0Out, uint amount1Out, "
    "address indexed to)";
constexpr std::string_view swap_topics[] = {
    "0xd78ad95fa46c994b6551d0da85fc275fe613ce37657fb8d5e3d130840159d822",
    "0x0000000000000000000000007a250d5630b4cf539739df2c5dacb4c659f2488d",
    "0x000000000000000000000000c02aaa39b223fe8d0a0e5c4f27ead9083c756cc2",
};
constexpr std::string_view swap_data =
    "0x0000000000000000000000000000000000000000000000000de0b6b3a7640000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000095d04e95";

// A SIWE message from the signer and its personal_sign signature (as a wallet returns it, in hex).
constexpr std::string_view siwe_text =
    "app.gatehouse.example wants you to sign in with your Ethereum account:\n"
    "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\n"
    "\n"
    "Sign in to gatehouse.\n"
    "\n"
    "URI: https://app.gatehouse.example/login\n"
    "Version: 1\n"
    "Chain ID: 1\n"
    "Nonce: k3J9vQ2xL8mZ4tRw\n"
    "Issued At: 2025-01-15T12:00:00.000Z\n"
    "Expiration Time: 2025-01-15T12:10:00.000Z";
constexpr std::string_view siwe_signature =
    "0xa92e97964e399dfcd7fa2b068b8008d092af2f9614e394fe0227584aaf20117f"
    "58dfec3207954db0572dc519f171f46efb29b4e5a9ac6a81f4370239ba6b96dd1b";
constexpr std::string_view siwe_domain = "app.gatehouse.example";
constexpr std::string_view siwe_nonce = "k3J9vQ2xL8mZ4tRw";
constexpr std::string_view siwe_now = "2025-01-15T12:05:00.000Z";

// Byte i is i mod 256, as in reference.mjs.
Bytes counting_bytes(std::size_t n) {
  Bytes out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i & 0xffU);
  return out;
}

void bm_keccak256(benchmark::State& state) {
  const Bytes input = counting_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    Hash32 digest = keccak256(ByteView(input));
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_keccak256)->Name("keccak256")->Arg(32);
BENCHMARK(bm_keccak256)->Name("keccak256")->Arg(1024);

void bm_ecrecover(benchmark::State& state) {
  const auto digest = fixed_from_hex<32>(ecrecover_digest);
  const auto sig_bytes = from_hex(ecrecover_signature);
  const auto expected = parse_address(signer_address);
  if (!digest || !sig_bytes || !expected) return state.SkipWithError("bad fixture");
  const auto signature = parse_signature(*sig_bytes);
  if (!signature) return state.SkipWithError("bad fixture signature");
  const Hash32 hash = *digest;
  if (ecrecover(hash, *signature) != *expected) return state.SkipWithError("ecrecover: wrong signer");

  for (auto _ : state) {
    std::optional<Address> signer = ecrecover(hash, *signature);
    benchmark::DoNotOptimize(signer);
  }
}
BENCHMARK(bm_ecrecover)->Name("ecrecover");

void bm_decode_swap_log(benchmark::State& state) {
  const auto event = parse_abi_signature(swap_event);
  const auto data = from_hex(swap_data);
  if (!event || !data) return state.SkipWithError("bad fixture");
  std::vector<Hash32> topics;
  for (const std::string_view topic : swap_topics) {
    const auto parsed = fixed_from_hex<32>(topic);
    if (!parsed) return state.SkipWithError("bad fixture topic");
    topics.push_back(*parsed);
  }
  const auto check = decode_event_log(*event, topics, *data);
  if (!check || check->size() != 6) return state.SkipWithError("decode_event_log failed");

  for (auto _ : state) {
    auto values = decode_event_log(*event, topics, *data);
    benchmark::DoNotOptimize(values);
  }
}
BENCHMARK(bm_decode_swap_log)->Name("decode_swap_log");

// What a sign-in costs from the wire: parse, check against the expectations, hash the received
// text (EIP-191) and recover the signer from the hex signature, then compare with the claimed one.
bool verify_siwe(std::string_view text, std::string_view signature_hex, const SiweExpectations& expect) {
  const auto message = parse_siwe(text);
  if (!message) return false;
  if (!validate_siwe(*message, expect)) return false;
  const auto signature = from_hex(signature_hex);
  if (!signature) return false;
  const auto signer = recover_personal_signer(as_bytes(text), ByteView(*signature));
  return signer && *signer == message->address;
}

void bm_siwe_verify(benchmark::State& state) {
  const auto now = parse_siwe_time(siwe_now);
  if (!now) return state.SkipWithError("bad fixture time");
  SiweExpectations expect;
  expect.domain = std::string(siwe_domain);
  expect.nonce = std::string(siwe_nonce);
  expect.now = *now;
  if (!verify_siwe(siwe_text, siwe_signature, expect)) return state.SkipWithError("siwe verification failed");

  for (auto _ : state) {
    bool verified = verify_siwe(siwe_text, siwe_signature, expect);
    benchmark::DoNotOptimize(verified);
  }
}
BENCHMARK(bm_siwe_verify)->Name("siwe_verify");

}  // namespace
}  // namespace gh::eth
