#include "auth/model.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "auth/secrets.hpp"

namespace gh::auth {
namespace {

namespace json = boost::json;

Result<std::string> string_field(const json::object& body, std::string_view name, std::size_t min, std::size_t max) {
  const auto* v = body.if_contains(name);
  if (v == nullptr || !v->is_string()) return bad_input("invalid_field", fmt::format("{} must be a string", name));
  std::string s(v->as_string());
  if (s.size() < min || s.size() > max) {
    return bad_input("invalid_field", fmt::format("{} must be {} to {} bytes", name, min, max));
  }
  return s;
}

Result<std::int64_t> prekey_id(const json::object& o, std::string_view what) {
  const auto* id = o.if_contains("id");
  if (id == nullptr || !id->is_int64() || id->as_int64() < 0 || id->as_int64() > 0x7fffffff) {
    return bad_input("invalid_field", fmt::format("{} id must be an integer 0..2^31-1", what));
  }
  return id->as_int64();
}

Result<std::string> key32(const json::object& o, std::string_view name, std::string_view what) {
  const auto* k = o.if_contains(name);
  if (k == nullptr || !k->is_string()) return bad_input("invalid_key", fmt::format("{} {} must be base64", what, name));
  auto bytes = decode_base64(std::string_view(k->as_string()));
  if (!bytes || bytes->size() != 32) {
    return bad_input("invalid_key", fmt::format("{} {} must be standard base64 of 32 bytes", what, name));
  }
  return std::string(k->as_string());
}

}  // namespace

bool ApiPrincipal::has_scope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

Result<SignedPrekey> parse_signed_prekey(const json::value* value, const std::string& identity_key) {
  if (value == nullptr || !value->is_object()) return bad_input("invalid_field", "signed_prekey must be an object");
  const auto& o = value->as_object();
  auto id = prekey_id(o, "signed_prekey");
  if (!id) return id.error();
  auto key = key32(o, "key", "signed_prekey");
  if (!key) return key.error();
  const auto* sig = o.if_contains("signature");
  if (sig == nullptr || !sig->is_string()) return bad_input("invalid_signature", "signed_prekey signature must be base64");
  auto sig_bytes = decode_base64(std::string_view(sig->as_string()));
  if (!sig_bytes || sig_bytes->size() != 64) {
    return bad_input("invalid_signature", "signed_prekey signature must be standard base64 of 64 bytes");
  }
  auto identity = decode_base64(identity_key);
  auto key_bytes = decode_base64(*key);
  if (!identity || !key_bytes || !verify_ed25519(*sig_bytes, *key_bytes, *identity)) {
    return bad_input("invalid_signature", "signed_prekey signature does not verify with the identity key");
  }
  return SignedPrekey{*id, *key, std::string(sig->as_string())};
}

Result<std::vector<Prekey>> parse_prekeys(const json::value* list, const AuthSettings& settings) {
  std::vector<Prekey> out;
  if (list == nullptr) return out;
  if (!list->is_array()) return bad_input("invalid_field", "one_time_prekeys must be an array");
  const auto& arr = list->as_array();
  if (arr.size() > settings.max_prekeys_per_request) {
    return make_error(ErrorKind::too_large, "too_many_prekeys",
                      fmt::format("at most {} one-time prekeys per request", settings.max_prekeys_per_request));
  }
  std::set<std::int64_t> seen;
  for (const auto& item : arr) {
    if (!item.is_object()) return bad_input("invalid_field", "each one-time prekey must be an object");
    auto id = prekey_id(item.as_object(), "one-time prekey");
    if (!id) return id.error();
    if (!seen.insert(*id).second) return bad_input("duplicate_prekey_id", fmt::format("prekey id {} appears twice", *id));
    auto key = key32(item.as_object(), "key", "one-time prekey");
    if (!key) return key.error();
    out.push_back({*id, *key});
  }
  return out;
}

Result<DeviceRegistration> parse_device_registration(const json::object& body, const AuthSettings& settings) {
  DeviceRegistration r;
  auto name = string_field(body, "name", 1, 64);
  if (!name) return name.error();
  r.name = *name;
  const auto* push = body.if_contains("push");
  if (push == nullptr || !push->is_object()) {
    r.push_provider = "none";
  } else {
    const auto& p = push->as_object();
    auto provider = string_field(p, "provider", 1, 16);
    if (!provider) return provider.error();
    static const std::set<std::string> providers{"fcm", "webpush", "webhook", "none"};
    if (!providers.count(*provider)) return bad_input("invalid_field", "push.provider must be fcm, webpush, webhook or none");
    r.push_provider = *provider;
    if (r.push_provider != "none") {
      auto token = string_field(p, "token", 1, 4096);
      if (!token) return token.error();
      r.push_token = *token;
      if (r.push_provider == "webhook") {
        if (auto allowed = net::check_outbound_url(r.push_token, settings.push_targets); !allowed) return allowed.error();
      }
    }
  }
  const auto* identity = body.if_contains("identity_key");
  if (identity == nullptr || !identity->is_string()) return bad_input("invalid_key", "identity_key must be base64");
  auto identity_bytes = decode_base64(std::string_view(identity->as_string()));
  if (!identity_bytes || identity_bytes->size() != 32) {
    return bad_input("invalid_key", "identity_key must be standard base64 of 32 bytes");
  }
  if (!valid_identity_key(*identity_bytes)) return bad_input("invalid_key", "identity_key is not a usable Ed25519 public key");
  r.identity_key = std::string(identity->as_string());
  auto spk = parse_signed_prekey(body.if_contains("signed_prekey"), r.identity_key);
  if (!spk) return spk.error();
  r.signed_prekey = *spk;
  auto otpks = parse_prekeys(body.if_contains("one_time_prekeys"), settings);
  if (!otpks) return otpks.error();
  r.one_time_prekeys = std::move(*otpks);
  return r;
}

}  // namespace gh::auth
