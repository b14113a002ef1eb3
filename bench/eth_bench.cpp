// Timings of the eth hot paths. Every input here is byte for byte the input of bench/reference.mjs
// (ethers v6, siwe 3), and every benchmark produces what its reference counterpart produces (hex
// digests, checksummed addresses, decoded log arguments as strings, a sign-in verdict), so that
// scripts/run-bench compares the same work; each benchmark checks its result once before timing,
// so a broken fixture fails loudly instead of timing an error path. The "native/" benchmarks time
// the C libraries our hot paths wrap (Crypto++'s Keccak, libsecp256k1's recovery) on the same
// input, so that our overhead over them shows.
#include <benchmark/benchmark.h>
#include <cryptopp/keccak.h>
#include <secp256k1.h>
#include <secp256k1_recovery.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/value.hpp>
#include <map>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "auth/service.hpp"
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

// ---- keccak-256: bytes in, 0x-prefixed hex out (ethers' keccak256 returns hex) --------------------

void bm_keccak256(benchmark::State& state) {
  const Bytes input = counting_bytes(static_cast<std::size_t>(state.range(0)));
  for (auto _ : state) {
    std::string digest = to_hex(keccak256(ByteView(input)).view());
    benchmark::DoNotOptimize(digest);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_keccak256)->Name("keccak256")->Arg(32);
BENCHMARK(bm_keccak256)->Name("keccak256")->Arg(1024);

// Crypto++ alone: the raw 32-byte digest, no hex.
void bm_native_keccak(benchmark::State& state) {
  const Bytes input = counting_bytes(static_cast<std::size_t>(state.range(0)));
  std::array<std::uint8_t, 32> digest{};
  for (auto _ : state) {
    CryptoPP::Keccak_256 hasher;
    hasher.Update(input.data(), input.size());
    hasher.Final(digest.data());
    benchmark::DoNotOptimize(digest);
  }
}
BENCHMARK(bm_native_keccak)->Name("native/keccak256 (Crypto++)")->Arg(32);
BENCHMARK(bm_native_keccak)->Name("native/keccak256 (Crypto++)")->Arg(1024);

// ---- ecrecover: digest and signature in, checksummed address out (ethers' recoverAddress) -----------

void bm_ecrecover(benchmark::State& state) {
  const auto digest = fixed_from_hex<32>(ecrecover_digest);
  const auto sig_bytes = from_hex(ecrecover_signature);
  if (!digest || !sig_bytes) return state.SkipWithError("bad fixture");
  const auto signature = parse_signature(*sig_bytes);
  if (!signature) return state.SkipWithError("bad fixture signature");
  const Hash32 hash = *digest;
  const auto recovered = ecrecover(hash, *signature);
  if (!recovered || to_checksum(*recovered) != signer_address) return state.SkipWithError("ecrecover: wrong signer");

  for (auto _ : state) {
    std::optional<Address> signer = ecrecover(hash, *signature);
    std::string text = signer ? to_checksum(*signer) : std::string();
    benchmark::DoNotOptimize(text);
  }
}
BENCHMARK(bm_ecrecover)->Name("ecrecover");

// libsecp256k1 alone: parse the compact signature and recover the public key (no Keccak of the
// key, no address, no checksum).
void bm_native_ecrecover(benchmark::State& state) {
  const auto digest = fixed_from_hex<32>(ecrecover_digest);
  const auto sig_bytes = from_hex(ecrecover_signature);
  if (!digest || !sig_bytes || sig_bytes->size() != 65) return state.SkipWithError("bad fixture");
  secp256k1_context* ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  const int recid = (*sig_bytes)[64] - 27;
  secp256k1_pubkey key;
  for (auto _ : state) {
    secp256k1_ecdsa_recoverable_signature sig;
    int ok = secp256k1_ecdsa_recoverable_signature_parse_compact(ctx, &sig, sig_bytes->data(), recid);
    ok &= secp256k1_ecdsa_recover(ctx, &key, &sig, digest->data());
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(key);
  }
  secp256k1_context_destroy(ctx);
}
BENCHMARK(bm_native_ecrecover)->Name("native/ecrecover (libsecp256k1)");

// ---- event logs: a log in, looked up by topic 0 among the contract's events, arguments out ---------

// The events of a Uniswap V2 pair, as ethers' Interface holds them in reference.mjs.
constexpr std::string_view pair_events[] = {
    "Approval(address indexed owner, address indexed spender, uint value)",
    "Transfer(address indexed from, address indexed to, uint value)",
    "Mint(address indexed sender, uint amount0, uint amount1)",
    "Burn(address indexed sender, uint amount0, uint amount1, address indexed to)",
    swap_event,
    "Sync(uint112 reserve0, uint112 reserve1)",
};

// The decoded arguments as ethers renders them through String(): addresses EIP-55, integers in
// decimal.
std::optional<std::vector<std::string>> parse_log(const std::map<Hash32, AbiSignature>& events,
                                                  const std::vector<Hash32>& topics, ByteView data) {
  if (topics.empty()) return std::nullopt;
  const auto event = events.find(topics[0]);
  if (event == events.end()) return std::nullopt;
  auto values = decode_event_log(event->second, topics, data);
  if (!values) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(values->size());
  for (std::size_t i = 0; i < values->size(); ++i) {
    const auto json = abi_value_to_json(event->second.params[i].type, (*values)[i].value);
    out.emplace_back(json.as_string());
  }
  return out;
}

void bm_decode_swap_log(benchmark::State& state) {
  std::map<Hash32, AbiSignature> events;
  for (const std::string_view text : pair_events) {
    auto event = parse_abi_signature(text);
    if (!event) return state.SkipWithError("bad fixture event");
    events.emplace(event_topic(*event), std::move(*event));
  }
  const auto data = from_hex(swap_data);
  if (!data) return state.SkipWithError("bad fixture");
  std::vector<Hash32> topics;
  for (const std::string_view topic : swap_topics) {
    const auto parsed = fixed_from_hex<32>(topic);
    if (!parsed) return state.SkipWithError("bad fixture topic");
    topics.push_back(*parsed);
  }
  const auto check = parse_log(events, topics, *data);
  if (!check || check->size() != 6 || (*check)[1] != "1000000000000000000" || (*check)[4] != "2513456789") {
    return state.SkipWithError("parse_log failed");
  }

  for (auto _ : state) {
    auto values = parse_log(events, topics, *data);
    benchmark::DoNotOptimize(values);
  }
}
BENCHMARK(bm_decode_swap_log)->Name("decode_swap_log");

// ---- SIWE: message and signature text in, verdict out ------------------------------------------------

// What AuthService::verify does apart from its database work (the nonce lookup and the session
// write): the service's own pure checks of the message (auth::check_siwe_message: parse, domain
// and URI bindings, chain, times) and of the signature text (auth::parse_siwe_signature), then the
// signature through the server's SignatureVerifier (which recovers the signer; contract wallets
// would ask the chain). The same functions the service calls, with the service's settings.
struct SignInChecks {
  auth::AuthSettings settings;
  SystemTime now;
  auth::ChainSignatureVerifier verifier{[](std::uint64_t) -> rpc::RpcClient* { return nullptr; }};
  boost::asio::io_context io;

  SignInChecks() {
    settings.siwe_domains = {std::string(siwe_domain)};
    settings.chain_ids = {1};
  }

  bool verify(std::string_view text, std::string_view signature_hex) {
    const auto message = auth::check_siwe_message(text, settings, now);
    if (!message) return false;
    const auto signature = auth::parse_siwe_signature(signature_hex, settings);
    if (!signature) return false;
    auto done = boost::asio::co_spawn(io, verifier.verify(message->chain_id, message->address, text, *signature),
                                      boost::asio::use_future);
    io.restart();
    io.run();
    return done.get().has_value();
  }
};

void bm_siwe_verify(benchmark::State& state) {
  const auto now = parse_siwe_time(siwe_now);
  if (!now) return state.SkipWithError("bad fixture time");
  SignInChecks checks;
  checks.now = *now;
  if (!checks.verify(siwe_text, siwe_signature)) return state.SkipWithError("siwe verification failed");
  std::string tampered(siwe_signature);
  tampered[10] = tampered[10] == 'a' ? 'b' : 'a';
  if (checks.verify(siwe_text, tampered)) return state.SkipWithError("a tampered signature verified");

  for (auto _ : state) {
    bool verified = checks.verify(siwe_text, siwe_signature);
    benchmark::DoNotOptimize(verified);
  }
}
BENCHMARK(bm_siwe_verify)->Name("siwe_verify");

}  // namespace
}  // namespace gh::eth
