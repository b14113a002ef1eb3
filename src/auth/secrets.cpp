#include "auth/secrets.hpp"

#include <sodium.h>

#include <algorithm>
#include <mutex>
#include <stdexcept>

namespace gh::auth {

void init_crypto() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (sodium_init() < 0) throw std::runtime_error("libsodium failed to initialize");
  });
}

std::string random_hex(std::size_t bytes) {
  init_crypto();
  std::vector<unsigned char> buf(bytes);
  randombytes_buf(buf.data(), buf.size());
  std::string out(bytes * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), buf.data(), buf.size());
  out.pop_back();
  return out;
}

std::string random_alnum(std::size_t n) {
  init_crypto();
  static constexpr std::string_view alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  std::string out(n, '\0');
  for (auto& c : out) c = alphabet[randombytes_uniform(static_cast<std::uint32_t>(alphabet.size()))];
  return out;
}

std::string sha256_hex(std::string_view data) {
  init_crypto();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(data.data()), data.size());
  std::string out(sizeof digest * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), digest, sizeof digest);
  out.pop_back();
  return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::pair<std::string, Credential> make_credential(std::string_view prefix) {
  Credential c{random_hex(16), random_hex(32)};
  return {std::string(prefix) + c.id + "_" + c.secret, c};
}

std::optional<Credential> parse_credential(std::string_view text, std::string_view prefix) {
  if (text.size() != prefix.size() + 32 + 1 + 64 || text.substr(0, prefix.size()) != prefix) return std::nullopt;
  text.remove_prefix(prefix.size());
  if (text[32] != '_') return std::nullopt;
  const auto hex = [](std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char ch) { return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'); });
  };
  auto id = text.substr(0, 32);
  auto secret = text.substr(33);
  if (!hex(id) || !hex(secret)) return std::nullopt;
  return Credential{std::string(id), std::string(secret)};
}

std::optional<std::vector<std::uint8_t>> decode_base64(std::string_view text) {
  init_crypto();
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), nullptr, &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.resize(len);
  // Reject non-canonical encodings (non-zero padding bits) by re-encoding.
  if (encode_base64(out) != text) return std::nullopt;
  return out;
}

std::string encode_base64(const std::vector<std::uint8_t>& bytes) {
  init_crypto();
  std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
  out.pop_back();
  return out;
}

bool valid_identity_key(const std::vector<std::uint8_t>& key) {
  init_crypto();
  if (key.size() != crypto_sign_PUBLICKEYBYTES) return false;
  unsigned char x25519[crypto_scalarmult_curve25519_BYTES];
  // Fails for encodings that are not points and for small-order points.
  return crypto_sign_ed25519_pk_to_curve25519(x25519, key.data()) == 0;
}

bool verify_ed25519(const std::vector<std::uint8_t>& signature, const std::vector<std::uint8_t>& message,
                    const std::vector<std::uint8_t>& public_key) {
  init_crypto();
  if (signature.size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) return false;
  return crypto_sign_verify_detached(signature.data(), message.data(), message.size(), public_key.data()) == 0;
}

}  // namespace gh::auth
