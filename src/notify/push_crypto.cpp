#include "notify/push_crypto.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cstring>
#include <stdexcept>

namespace gh::notify {
namespace {

constexpr std::string_view b64url_alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* p) const { EVP_CIPHER_CTX_free(p); }
};
struct BnFree {
  void operator()(BIGNUM* p) const { BN_clear_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using BnPtr = std::unique_ptr<BIGNUM, BnFree>;

[[noreturn]] void crypto_failure(const char* what) {
  throw std::runtime_error(std::string("OpenSSL: ") + what);
}

const unsigned char* bytes_of(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

ByteString hmac_sha256(const ByteString& key, const ByteString& data) {
  ByteString out(32);
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) ==
      nullptr)
    crypto_failure("HMAC");
  return out;
}

// HKDF (RFC 5869) with SHA-256, expand limited to one block (all we need: 32 bytes at most).
ByteString hkdf(const ByteString& salt, const ByteString& ikm, const ByteString& info, std::size_t length) {
  const ByteString prk = hmac_sha256(salt, ikm);
  ByteString t = info;
  t.push_back(1);
  ByteString okm = hmac_sha256(prk, t);
  okm.resize(length);
  return okm;
}

ByteString concat(std::initializer_list<const ByteString*> parts) {
  ByteString out;
  for (const auto* p : parts) out.insert(out.end(), p->begin(), p->end());
  return out;
}

ByteString label(std::string_view text) {
  ByteString out(text.begin(), text.end());
  out.push_back(0);
  return out;
}

// A public-only P-256 key from an uncompressed point, or nullptr when it is not a valid point.
PkeyPtr p256_public(const ByteString& point) {
  if (point.size() != 65 || point[0] != 0x04) return nullptr;
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  const bool built = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                     EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1;
  OSSL_PARAM_free(params);
  PkeyPtr out(built ? pkey : nullptr);
  if (!out) return nullptr;
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> check(EVP_PKEY_CTX_new_from_pkey(nullptr, out.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return nullptr;
  return out;
}

}  // namespace

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  const auto at = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
    out += b64url_alphabet[(v >> 6) & 63];
    out += b64url_alphabet[v & 63];
  }
  if (bytes.size() - i == 1) {
    const std::uint32_t v = at(i) << 16;
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
  } else if (bytes.size() - i == 2) {
    const std::uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    out += b64url_alphabet[(v >> 18) & 63];
    out += b64url_alphabet[(v >> 12) & 63];
    out += b64url_alphabet[(v >> 6) & 63];
  }
  return out;
}

std::string base64url_encode(const ByteString& bytes) {
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()),
                                           bytes.size()));  // NOLINT(cppcoreguidelines-pro-type-reinterpret-cast)
}

std::optional<ByteString> base64url_decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  ByteString out;
  out.reserve(text.size() * 3 / 4);
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = -1;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '-' || c == '+')
      v = 62;
    else if (c == '_' || c == '/')
      v = 63;
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>((acc >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character carries no whole byte
  return out;
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[32];
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), bytes_of(data), data.size(), mac, &len) == nullptr)
    crypto_failure("HMAC");
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += digits[mac[i] >> 4];
    out += digits[mac[i] & 15];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
struct P256Key::Impl {
  PkeyPtr pkey;
};

P256Key::P256Key(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
P256Key::~P256Key() = default;
P256Key::P256Key(P256Key&&) noexcept = default;
P256Key& P256Key::operator=(P256Key&&) noexcept = default;

P256Key P256Key::generate() {
  EVP_PKEY* pkey = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  if (pkey == nullptr) crypto_failure("P-256 key generation");
  auto impl = std::make_unique<Impl>();
  impl->pkey.reset(pkey);
  return P256Key(std::move(impl));
}

Result<P256Key> P256Key::from_private(const ByteString& scalar) {
  if (scalar.size() != 32) return bad_input("invalid_key", "a P-256 private key is 32 bytes");
  BnPtr priv(BN_bin2bn(scalar.data(), 32, nullptr));
  EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  EC_POINT* point = EC_POINT_new(group);
  ByteString pub(65);
  const bool in_range = !BN_is_zero(priv.get()) && BN_cmp(priv.get(), EC_GROUP_get0_order(group)) < 0;
  const bool computed =
      in_range && EC_POINT_mul(group, point, priv.get(), nullptr, nullptr, nullptr) == 1 &&
      EC_POINT_point2oct(group, point, POINT_CONVERSION_UNCOMPRESSED, pub.data(), pub.size(), nullptr) == 65;
  EC_POINT_free(point);
  EC_GROUP_free(group);
  if (!computed) return bad_input("invalid_key", "not a valid P-256 private key");
  OSSL_PARAM_BLD* bld = OSSL_PARAM_BLD_new();
  OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0);
  OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv.get());
  OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub.data(), pub.size());
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  OSSL_PARAM_BLD_free(bld);
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  const bool built = ctx && EVP_PKEY_fromdata_init(ctx.get()) == 1 &&
                     EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_KEYPAIR, params) == 1;
  OSSL_PARAM_free(params);
  if (!built) return bad_input("invalid_key", "not a valid P-256 private key");
  auto impl = std::make_unique<Impl>();
  impl->pkey.reset(pkey);
  return P256Key(std::move(impl));
}

ByteString P256Key::public_point() const {
  ByteString out(65);
  std::size_t len = 0;
  if (EVP_PKEY_get_octet_string_param(m_impl->pkey.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, out.data(), out.size(),
                                      &len) != 1 ||
      len != 65)
    crypto_failure("P-256 public key");
  return out;
}

ByteString P256Key::private_scalar() const {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(m_impl->pkey.get(), OSSL_PKEY_PARAM_PRIV_KEY, &bn) != 1)
    crypto_failure("P-256 private key");
  BnPtr owned(bn);
  ByteString out(32);
  if (BN_bn2binpad(bn, out.data(), 32) != 32) crypto_failure("P-256 private key");
  return out;
}

Result<ByteString> P256Key::shared_secret(const ByteString& peer_point) const {
  PkeyPtr peer = p256_public(peer_point);
  if (!peer) return bad_input("invalid_subscription", "p256dh is not a P-256 public key");
  std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree> ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, m_impl->pkey.get(), nullptr));
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 || EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) != 1)
    return bad_input("invalid_subscription", "ECDH with p256dh failed");
  ByteString out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1) return bad_input("invalid_subscription", "ECDH failed");
  out.resize(len);
  return out;
}

ByteString P256Key::sign_es256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, m_impl->pkey.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, bytes_of(data), data.size()) != 1)
    crypto_failure("ES256 sign");
  ByteString der(len);
  if (EVP_DigestSign(md.get(), der.data(), &len, bytes_of(data), data.size()) != 1) crypto_failure("ES256 sign");
  const unsigned char* p = der.data();
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(len));
  if (sig == nullptr) crypto_failure("ES256 signature");
  ByteString raw(64);
  const bool ok = BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw.data(), 32) == 32 &&
                  BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw.data() + 32, 32) == 32;
  ECDSA_SIG_free(sig);
  if (!ok) crypto_failure("ES256 signature");
  return raw;
}

// ---------------------------------------------------------------------------------------------
Result<std::string> encrypt_aes128gcm(std::string_view plaintext, const ByteString& ua_public,
                                      const ByteString& auth_secret, std::size_t pad_to, const EceRandom& random) {
  if (auth_secret.size() != 16) return bad_input("invalid_subscription", "the auth secret must be 16 bytes");
  std::optional<P256Key> generated;
  if (random.sender == nullptr) generated.emplace(P256Key::generate());
  const P256Key& sender = random.sender != nullptr ? *random.sender : *generated;
  ByteString salt(16);
  if (random.salt) {
    if (random.salt->size() != 16) return bad_input("invalid_salt", "the salt must be 16 bytes");
    salt = *random.salt;
  } else if (RAND_bytes(salt.data(), 16) != 1) {
    crypto_failure("RAND_bytes");
  }
  auto ecdh = sender.shared_secret(ua_public);
  if (!ecdh) return std::move(ecdh).error();
  const ByteString as_public = sender.public_point();

  // RFC 8291 §3.4: the input keying material binds both public keys and the auth secret.
  const ByteString info_label = label("WebPush: info");
  const ByteString key_info = concat({&info_label, &ua_public, &as_public});
  const ByteString ikm = hkdf(auth_secret, *ecdh, key_info, 32);
  const ByteString cek = hkdf(salt, ikm, label("Content-Encoding: aes128gcm"), 16);
  const ByteString nonce = hkdf(salt, ikm, label("Content-Encoding: nonce"), 12);

  // One record: the plaintext, the last-record delimiter 0x02, then zero padding.
  ByteString record(plaintext.begin(), plaintext.end());
  record.push_back(0x02);
  if (pad_to > plaintext.size()) record.resize(pad_to + 1, 0);
  constexpr std::size_t header_size = 16 + 4 + 1 + 65;
  constexpr std::uint32_t record_size = 4096;
  if (header_size + record.size() + 16 > record_size)
    return make_error(ErrorKind::too_large, "payload_too_large", "a Web Push payload is at most 4096 bytes encrypted");

  std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree> ctx(EVP_CIPHER_CTX_new());
  ByteString ciphertext(record.size() + 16);
  int len = 0;
  int total = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, cek.data(), nonce.data()) != 1 ||
      EVP_EncryptUpdate(ctx.get(), ciphertext.data(), &len, record.data(), static_cast<int>(record.size())) != 1)
    crypto_failure("AES-128-GCM");
  total = len;
  if (EVP_EncryptFinal_ex(ctx.get(), ciphertext.data() + total, &len) != 1) crypto_failure("AES-128-GCM");
  total += len;
  if (EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, 16, ciphertext.data() + total) != 1)
    crypto_failure("AES-128-GCM tag");

  std::string out;
  out.reserve(header_size + ciphertext.size());
  out.append(salt.begin(), salt.end());
  out += static_cast<char>((record_size >> 24) & 0xff);
  out += static_cast<char>((record_size >> 16) & 0xff);
  out += static_cast<char>((record_size >> 8) & 0xff);
  out += static_cast<char>(record_size & 0xff);
  out += static_cast<char>(65);
  out.append(as_public.begin(), as_public.end());
  out.append(ciphertext.begin(), ciphertext.end());
  return out;
}

std::string es256_jwt(std::string_view claims_json, const P256Key& key) {
  std::string input =
      base64url_encode(std::string_view(R"({"typ":"JWT","alg":"ES256"})")) + "." + base64url_encode(claims_json);
  const ByteString sig = key.sign_es256(input);
  return input + "." + base64url_encode(sig);
}

// ---------------------------------------------------------------------------------------------
struct RsaKey::Impl {
  PkeyPtr pkey;
};

RsaKey::RsaKey(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
RsaKey::~RsaKey() = default;
RsaKey::RsaKey(RsaKey&&) noexcept = default;
RsaKey& RsaKey::operator=(RsaKey&&) noexcept = default;

Result<RsaKey> RsaKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* pkey = bio != nullptr ? PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr) : nullptr;
  BIO_free(bio);
  PkeyPtr owned(pkey);
  if (!owned || EVP_PKEY_is_a(owned.get(), "RSA") != 1)
    return bad_input("invalid_service_account", "private_key is not an RSA private key in PEM");
  auto impl = std::make_unique<Impl>();
  impl->pkey = std::move(owned);
  return RsaKey(std::move(impl));
}

ByteString RsaKey::sign_rs256(std::string_view data) const {
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> md(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!md || EVP_DigestSignInit(md.get(), nullptr, EVP_sha256(), nullptr, m_impl->pkey.get()) != 1 ||
      EVP_DigestSign(md.get(), nullptr, &len, bytes_of(data), data.size()) != 1)
    crypto_failure("RS256 sign");
  ByteString sig(len);
  if (EVP_DigestSign(md.get(), sig.data(), &len, bytes_of(data), data.size()) != 1) crypto_failure("RS256 sign");
  sig.resize(len);
  return sig;
}

std::string rs256_jwt(std::string_view claims_json, const RsaKey& key, std::string_view key_id) {
  std::string header = R"({"alg":"RS256","typ":"JWT")";
  if (!key_id.empty()) header += R"(,"kid":")" + std::string(key_id) + "\"";
  header += "}";
  std::string input = base64url_encode(header) + "." + base64url_encode(claims_json);
  const ByteString sig = key.sign_rs256(input);
  return input + "." + base64url_encode(sig);
}

}  // namespace gh::notify
