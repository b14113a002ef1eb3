#include "auth/model.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <boost/json/parse.hpp>

#include "auth/secrets.hpp"
#include "core/display_name.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "mls/key_package.hpp"

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

// A list of base64 strings (key packages), each at most `max_chars` long.
Result<std::vector<std::string>> base64_list(const json::value* list, std::string_view name, std::size_t max_items,
                                             std::size_t max_chars) {
  std::vector<std::string> out;
  if (list == nullptr) return out;
  if (!list->is_array()) return bad_input("invalid_field", fmt::format("{} must be an array of base64 strings", name));
  const auto& arr = list->as_array();
  if (arr.size() > max_items) {
    return make_error(ErrorKind::too_large, "too_many_key_packages",
                      fmt::format("at most {} key packages per request", max_items));
  }
  for (const auto& item : arr) {
    if (!item.is_string()) return bad_input("invalid_field", fmt::format("each of {} must be a base64 string", name));
    if (item.as_string().size() > max_chars) {
      return make_error(ErrorKind::too_large, "key_package_too_large",
                        fmt::format("a key package is at most {} characters of base64", max_chars));
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

std::size_t base64_chars(std::size_t bytes) {
  return (bytes + 2) / 3 * 4;
}

Error unauthorized(std::string code, std::string message) {
  return make_error(ErrorKind::unauthorized, std::move(code), std::move(message));
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// The host of an authority ("host:port", "[::1]:port"), lowercase.
std::string host_of(std::string_view authority) {
  std::string_view host = authority;
  if (!host.empty() && host.front() == '[') {
    host = host.substr(0, host.find(']') + 1);
  } else if (auto colon = host.rfind(':'); colon != std::string_view::npos) {
    host = host.substr(0, colon);
  }
  std::string out(host);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// localhost, or a loopback address literal (127.0.0.0/8, [::1]); "127.example.com" is a name.
bool loopback_host(const std::string& host) {
  if (host == "localhost" || host == "[::1]") return true;
  // Four decimal octets, the first 127.
  std::vector<std::string_view> parts;
  std::string_view rest = host;
  for (;;) {
    const auto dot = rest.find('.');
    parts.push_back(rest.substr(0, dot));
    if (dot == std::string_view::npos) break;
    rest.remove_prefix(dot + 1);
  }
  const auto octet = [](std::string_view p) {
    return !p.empty() && p.size() <= 3 &&
           std::all_of(p.begin(), p.end(), [](char c) { return c >= '0' && c <= '9'; }) &&
           std::stoi(std::string(p)) <= 255;
  };
  return parts.size() == 4 && parts[0] == "127" && std::all_of(parts.begin(), parts.end(), octet);
}

// A message's URI: https, or http for loopback and configured dev domains; no userinfo; the
// same authority as the domain line; the same scheme as the domain line's, when it has one.
Result<void> check_siwe_uri(const eth::SiweMessage& m, const AuthSettings& settings) {
  const std::string_view uri = m.uri;
  const auto colon = uri.find(':');
  if (colon == std::string_view::npos || uri.substr(colon + 1, 2) != "//") {
    return unauthorized("siwe_uri_invalid", "the message's URI must be an https:// URL");
  }
  std::string scheme(uri.substr(0, colon));
  for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto rest = uri.substr(colon + 3);
  const auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return unauthorized("siwe_uri_invalid", "the message's URI must not carry user information");
  }
  if (scheme != "https") {
    const bool dev_domain = std::any_of(settings.siwe_http_domains.begin(), settings.siwe_http_domains.end(),
                                        [&](const std::string& d) { return iequals(d, authority); });
    if (scheme != "http" || !(loopback_host(host_of(authority)) || dev_domain)) {
      return unauthorized("siwe_uri_invalid",
                          "the message's URI must use https (http only for loopback and configured dev domains)");
    }
  }
  if (!iequals(authority, m.domain) || (m.scheme && !iequals(*m.scheme, scheme))) {
    return unauthorized("siwe_uri_mismatch", "the message's URI does not belong to its domain");
  }
  return ok();
}

// The edge where eth's SIWE failure codes become API errors: all 401s, with the code's stable
// name and a message a client developer can act on.
Error siwe_refusal(eth::SiweErrc code) {
  using eth::SiweErrc;
  const char* message = "the sign-in message was refused";
  switch (code) {
    case SiweErrc::too_large:
      message = "the message is too large";
      break;
    case SiweErrc::malformed:
      message = "the message is not an EIP-4361 message in canonical form";
      break;
    case SiweErrc::domain_invalid:
      message = "the message's domain is not a valid authority";
      break;
    case SiweErrc::address_invalid:
      message = "the message's address must be 0x-hex and EIP-55 checksummed";
      break;
    case SiweErrc::uri_invalid:
      message = "the message's URI is not a valid URI";
      break;
    case SiweErrc::version_invalid:
      message = "the message's version must be 1";
      break;
    case SiweErrc::chain_id_invalid:
      message = "the message's chain id is not a valid chain id";
      break;
    case SiweErrc::nonce_invalid:
      message = "the message's nonce must be at least 8 letters or digits";
      break;
    case SiweErrc::time_invalid:
      message = "a time in the message is not an RFC 3339 date-time";
      break;
    case SiweErrc::resources_invalid:
      message = "the message's resources are not a list of URIs";
      break;
    case SiweErrc::scheme_mismatch:
      message = "the message's scheme is not the expected one";
      break;
    case SiweErrc::domain_mismatch:
      message = "the message is for another domain";
      break;
    case SiweErrc::nonce_mismatch:
      message = "the message's nonce is not the one issued";
      break;
    case SiweErrc::uri_mismatch:
      message = "the message is for another URI";
      break;
    case SiweErrc::chain_id_mismatch:
      message = "the message's chain is not accepted";
      break;
    case SiweErrc::expired:
      message = "the message has expired or was issued too long ago";
      break;
    case SiweErrc::not_yet_valid:
      message = "the message is not valid yet";
      break;
  }
  return unauthorized(eth::to_string(code), message);
}

// The edge where eth's address failure codes become API errors: API.md has one code for all of
// them, the message tells the client which rule the text broke.
const char* address_problem(eth::AddressErrc code) {
  using eth::AddressErrc;
  switch (code) {
    case AddressErrc::missing_prefix:
      return "the address must start with 0x";
    case AddressErrc::wrong_length:
      return "the address must have 40 hex digits after 0x";
    case AddressErrc::invalid_char:
      return "the address contains a character that is not a hex digit";
    case AddressErrc::bad_checksum:
      return "the address is mixed case but not a valid EIP-55 checksum";
  }
  return "the address is not valid";
}

}  // namespace

Result<eth::Address> parse_request_address(std::string_view text) {
  auto address = eth::parse_address(text);
  if (!address) return bad_input("invalid_address", address_problem(address.error()));
  return *address;
}

Result<eth::SiweMessage> check_siwe_message(std::string_view text, const AuthSettings& settings, SystemTime now) {
  auto parsed = eth::parse_siwe(text);
  if (!parsed) return siwe_refusal(parsed.error());
  const auto& m = *parsed;
  if (std::none_of(settings.siwe_domains.begin(), settings.siwe_domains.end(),
                   [&](const std::string& d) { return iequals(d, m.domain); })) {
    return unauthorized("siwe_domain_mismatch", "the message is for another domain: " + m.domain);
  }
  if (auto uri = check_siwe_uri(m, settings); !uri) return uri.error();
  if (!settings.chain_ids.count(m.chain_id)) {
    return unauthorized("siwe_chain_unsupported", fmt::format("chain {} is not served here", m.chain_id));
  }
  eth::SiweExpectations expect;
  expect.now = std::chrono::time_point_cast<std::chrono::milliseconds>(now);
  expect.clock_skew = settings.clock_skew;
  expect.max_age = settings.nonce_ttl;
  expect.reject_future_issued_at = true;
  if (auto valid = eth::validate_siwe(m, expect); !valid) return siwe_refusal(valid.error());
  return std::move(*parsed);
}

Result<eth::Bytes> parse_siwe_signature(std::string_view hex, const AuthSettings& settings) {
  if (hex.size() > 2 + 2 * settings.max_signature_bytes) {
    return unauthorized("siwe_signature_invalid", "the signature is too long");
  }
  auto signature = eth::from_hex(hex);
  if (!signature || hex.rfind("0x", 0) != 0) {
    return unauthorized("siwe_signature_invalid", "the signature must be 0x-prefixed hex");
  }
  return std::move(*signature);
}

bool signed_by_key(const eth::Address& address, std::string_view message, const eth::Bytes& signature) noexcept {
  if (signature.size() != 65) return false;
  auto signer = eth::recover_personal_signer(eth::as_bytes(message), eth::ByteView(signature.data(), signature.size()));
  return signer && *signer == address;
}

bool is_eip1271_magic(const eth::Bytes& returned) noexcept {
  if (returned.size() != 32) return false;
  if (returned[0] != 0x16 || returned[1] != 0x26 || returned[2] != 0xba || returned[3] != 0x7e) return false;
  return std::all_of(returned.begin() + 4, returned.end(), [](std::uint8_t b) { return b == 0; });
}

std::vector<std::string> split_scopes(std::string_view joined) {
  std::vector<std::string> out;
  for (std::size_t start = 0; start < joined.size();) {
    const auto comma = joined.find(',', start);
    const auto end = comma == std::string_view::npos ? joined.size() : comma;
    if (end > start) out.emplace_back(joined.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

bool valid_device_name(std::string_view name, std::size_t max_chars) {
  return is_display_name(name, max_chars);
}

Result<std::optional<std::string>> push_target_url(std::string_view provider, std::string_view token) {
  if (provider == "webhook") return std::optional<std::string>(std::string(token));
  if (provider != "webpush") return std::optional<std::string>();
  boost::system::error_code ec;
  const auto parsed = json::parse(token, ec);
  const auto* endpoint = (!ec && parsed.is_object()) ? parsed.as_object().if_contains("endpoint") : nullptr;
  if (endpoint == nullptr || !endpoint->is_string()) {
    return bad_input("invalid_field", "a webpush token is a PushSubscription JSON object with an endpoint URL");
  }
  return std::optional<std::string>(std::string(endpoint->as_string()));
}

bool ApiPrincipal::has_scope(std::string_view scope) const {
  return std::find(scopes.begin(), scopes.end(), scope) != scopes.end();
}

Result<std::pair<std::vector<std::string>, std::string>> parse_key_package_upload(const json::object& body,
                                                                                  const AuthSettings& settings) {
  const auto max_chars = base64_chars(settings.max_key_package_bytes);
  auto list =
      base64_list(body.if_contains("key_packages"), "key_packages", settings.max_key_packages_per_request, max_chars);
  if (!list) return list.error();
  std::string last_resort;
  if (const auto* lr = body.if_contains("last_resort_key_package"); lr != nullptr && !lr->is_null()) {
    if (!lr->is_string()) return bad_input("invalid_field", "last_resort_key_package must be a base64 string");
    if (lr->as_string().size() > max_chars) {
      return make_error(ErrorKind::too_large, "key_package_too_large",
                        fmt::format("a key package is at most {} characters of base64", max_chars));
    }
    last_resort = std::string(lr->as_string());
  }
  if (list->empty() && last_resort.empty()) {
    return bad_input("invalid_field", "send key_packages, a last_resort_key_package, or both");
  }
  return std::make_pair(std::move(*list), std::move(last_resort));
}

Result<KeyPackage> check_key_package(std::string_view base64, const std::string& identity_key,
                                     const eth::Address& account, const AuthSettings& settings, SystemTime now,
                                     std::string_view what) {
  if (base64.size() > base64_chars(settings.max_key_package_bytes)) {
    return make_error(ErrorKind::too_large, "key_package_too_large",
                      fmt::format("{}: a key package is at most {} bytes", what, settings.max_key_package_bytes));
  }
  auto bytes = decode_base64(base64);
  if (!bytes) return bad_input("key_package_malformed", fmt::format("{} is not standard base64", what));
  auto key = decode_base64(identity_key);
  if (!key) return internal_error("stored identity key is not base64");
  const auto address = eth::to_lower_hex(account);
  mls::KeyPackageExpectation expect;
  expect.allowed_suites = settings.mls_cipher_suites;
  expect.identity_key = *key;
  expect.identity = address;
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  expect.now_seconds = static_cast<std::uint64_t>(std::max<std::int64_t>(seconds, 0));
  expect.clock_skew_seconds = static_cast<std::uint64_t>(settings.key_package_clock_skew.count());
  auto checked = mls::check_key_package(*bytes, expect);
  if (!checked) {
    const auto& failure = checked.error();
    std::string message = fmt::format("{}: {}", what, mls::describe(failure.check));
    if (failure.decode_error) message += fmt::format(" ({})", mls::to_string(*failure.decode_error));
    return bad_input(mls::to_string(failure.check), std::move(message));
  }
  // A time point holds nanoseconds up to the year 2262: later ends (ts-mls's default is 2^63 - 1
  // seconds) are clamped to 2255, which means "never expires" here.
  constexpr std::uint64_t max_seconds = 9'000'000'000ULL;
  const auto not_after = std::min(checked->leaf_node.lifetime->not_after, max_seconds);
  return KeyPackage{sha256_hex(std::string_view(reinterpret_cast<const char*>(bytes->data()), bytes->size())),
                    std::string(base64), SystemTime(std::chrono::seconds(static_cast<std::int64_t>(not_after)))};
}

bool device_id_text(std::string_view id) {
  return !id.empty() && id.size() <= 64 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

Result<DeviceRegistration> parse_device_registration(const json::object& body, const AuthSettings& settings) {
  DeviceRegistration r;
  const auto* name = body.if_contains("name");
  if (name == nullptr || !name->is_string() ||
      !valid_device_name(std::string_view(name->as_string()), settings.max_device_name_chars)) {
    return bad_input("invalid_field",
                     fmt::format("name must be 1 to {} printable characters (UTF-8, no control characters)",
                                 settings.max_device_name_chars));
  }
  r.name = std::string(name->as_string());
  const auto* push = body.if_contains("push");
  if (push == nullptr || !push->is_object()) {
    r.push_provider = "none";
  } else {
    const auto& p = push->as_object();
    auto provider = string_field(p, "provider", 1, 16);
    if (!provider) return provider.error();
    static const std::set<std::string> providers{"fcm", "webpush", "webhook", "none"};
    if (!providers.count(*provider))
      return bad_input("invalid_field", "push.provider must be fcm, webpush, webhook or none");
    r.push_provider = *provider;
    if (r.push_provider != "none") {
      auto token = string_field(p, "token", 1, 4096);
      if (!token) return token.error();
      r.push_token = *token;
    }
  }
  const auto* identity = body.if_contains("identity_key");
  if (identity == nullptr || !identity->is_string()) return bad_input("invalid_key", "identity_key must be base64");
  auto identity_bytes = decode_base64(std::string_view(identity->as_string()));
  if (!identity_bytes || identity_bytes->size() != 32) {
    return bad_input("invalid_key", "identity_key must be standard base64 of 32 bytes");
  }
  if (!valid_identity_key(*identity_bytes))
    return bad_input("invalid_key", "identity_key is not a usable Ed25519 public key");
  r.identity_key = std::string(identity->as_string());
  auto packages = parse_key_package_upload(body, settings);
  if (!packages) return packages.error();
  if (packages->second.empty()) {
    return bad_input("invalid_field", "last_resort_key_package is required: it is handed out when no other is left");
  }
  r.key_packages = std::move(packages->first);
  r.last_resort_key_package = std::move(packages->second);
  return r;
}

}  // namespace gh::auth
