#pragma once
// Plain types and rules of the auth context: limits, device key material and its validation.
// Pure: no I/O, no Asio, no database.
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "eth/address.hpp"
#include "eth/bytes.hpp"
#include "eth/siwe.hpp"
#include "net/outbound_policy.hpp"

namespace gh::auth {

/// Limits and lifetimes of auth, every one explicit.
struct AuthSettings {
  std::vector<std::string> siwe_domains;  ///< authorities accepted in a message's domain line
  /// Development domains whose message URI may use plain http (loopback hosts always may).
  std::vector<std::string> siwe_http_domains;
  std::set<std::uint64_t> chain_ids;  ///< chains a message may name
  std::chrono::seconds session_ttl{30 * 24 * 3600};
  /// How long an expired or revoked session is kept (it shows what signed in, from where, for an
  /// incident review) before the auth.sessions_purge job deletes it.
  std::chrono::seconds session_retention{30 * 24 * 3600};
  std::chrono::seconds nonce_ttl{600};
  std::chrono::seconds clock_skew{60};
  std::size_t max_devices = 10;
  std::size_t max_key_packages_per_request = 100;
  std::size_t max_key_packages_per_device = 1000;
  std::size_t low_key_packages = 10;          ///< below this a device gets a keys.low event
  std::size_t max_key_package_bytes = 16384;  ///< one TLS-encoded MLSMessage (X-Wing: about 2.7 KB)
  /// MLS cipher suites a key package may use (0x0001, and X-Wing 0x0053); Ed25519 suites only.
  std::vector<std::uint16_t> mls_cipher_suites{0x0001, 0x0053};
  std::chrono::seconds key_package_clock_skew{300};  ///< tolerated on a key package's lifetime
  std::size_t max_signature_bytes = 4096;
  std::size_t max_sessions_listed = 100;
  std::size_t max_device_name_chars = 64;  ///< printable characters (code points) in a device name
  net::OutboundPolicy push_targets;        ///< where webhook push targets may point
};

/// The signed-in caller of a request.
struct Principal {
  eth::Address address;
  std::string session_id;
};

/// A bot authenticated by API key.
struct ApiPrincipal {
  std::string key_id;
  std::string name;
  std::vector<std::string> scopes;
  bool has_scope(std::string_view scope) const;
};

/// The API key scopes there are.
inline const std::set<std::string>& known_scopes() {
  static const std::set<std::string> scopes{"bot.read", "bot.write"};
  return scopes;
}

/// An MLS key package as uploaded (the base64 of a TLS-encoded MLSMessage), once checked.
struct KeyPackage {
  std::string ref;   ///< SHA-256 of the bytes, hex: the package's identity in the directory
  std::string data;  ///< standard base64, as received
  SystemTime expires_at;
};

/// What POST /v1/devices carries, its shape validated (the key packages are checked against the
/// account and the identity key by check_key_packages).
struct DeviceRegistration {
  std::string name;
  std::string push_provider;  ///< fcm | webpush | webhook | none
  std::string push_token;
  std::string identity_key;               ///< base64 of the Ed25519 public key
  std::vector<std::string> key_packages;  ///< base64, unchecked
  std::string last_resort_key_package;    ///< base64, unchecked
};

/// True when `id` could name a device: 1 to 64 of [A-Za-z0-9._:-] (this server makes 32 hex
/// digits). Anything else names none without a lookup: a header may carry any byte.
bool device_id_text(std::string_view id);

/// Parses a registration: the name, the push target, a valid Ed25519 identity key (base64 of 32
/// bytes), 0 to max_key_packages_per_request key packages and one last-resort package (strings).
Result<DeviceRegistration> parse_device_registration(const boost::json::object& body, const AuthSettings& settings);
/// Parses a replenishment: `key_packages` (may be empty) and an optional
/// `last_resort_key_package` (empty when absent); at least one of them.
Result<std::pair<std::vector<std::string>, std::string>> parse_key_package_upload(const boost::json::object& body,
                                                                                  const AuthSettings& settings);
/// Checks one key package (base64 of an MLSMessage) for a device of `account` whose identity key
/// is `identity_key` (base64), at `now`: every check of RFC 9420 §10.1 that a directory can make
/// (mls/key_package.hpp). A failure is a 400 whose code names the check (key_package_lifetime,
/// key_package_signature, ...); `what` says which package in the message ("key_packages[3]").
Result<KeyPackage> check_key_package(std::string_view base64, const std::string& identity_key,
                                     const eth::Address& account, const AuthSettings& settings, SystemTime now,
                                     std::string_view what);

/// An account address from a request (a path parameter or a body field). Every failure is a 400
/// `invalid_address` whose message says what is wrong with the text.
Result<eth::Address> parse_request_address(std::string_view text);

/// Parses an EIP-4361 message and checks everything about it that needs no storage and no chain:
/// the domain is one of ours, the URI is https (http only for loopback hosts and configured dev
/// domains), has no userinfo and names the same authority, the chain is served, and the times
/// hold at `now`. Every failure is a 401 with the siwe_* code that says why.
Result<eth::SiweMessage> check_siwe_message(std::string_view text, const AuthSettings& settings, SystemTime now);

/// The signature of a sign-in: 0x-prefixed hex of at most `max_signature_bytes` bytes (65 for
/// a key, longer for some contract wallets). Every failure is a 401 siwe_signature_invalid.
/// With check_siwe_message, everything verify does before its database and chain work.
Result<eth::Bytes> parse_siwe_signature(std::string_view hex, const AuthSettings& settings);

/// A session as its owner sees it.
struct SessionInfo {
  std::string id;
  SystemTime created_at;
  SystemTime expires_at;
  std::string ip;
  std::string user_agent;
  bool current = false;
};

/// A device as its owner sees it.
struct DeviceInfo {
  std::string id;
  std::string name;
  std::string push_provider;
  SystemTime created_at;
  std::int64_t key_packages = 0;  ///< one-time key packages left
};

/// The caller's account.
struct Me {
  eth::Address address;
  SystemTime created_at;
  std::vector<DeviceInfo> devices;
};

/// One device's key package, as handed to someone who adds the device to a group.
struct DeviceKeyPackage {
  std::string device_id;
  std::string identity_key;
  std::string key_package;  ///< base64 MLSMessage
  bool last_resort = false;
};

/// A device's id and identity key (its MLS signature key), as other contexts see it.
struct DevicePublicKey {
  std::string device_id;
  std::string identity_key;
};

/// A bot API key as the operator sees it (never its secret).
struct ApiKeyInfo {
  std::string id;
  std::string name;
  std::vector<std::string> scopes;
  SystemTime created_at;
  std::optional<SystemTime> revoked_at;
};

/// True when the return data of EIP-1271's isValidSignature is exactly the ABI encoding of the
/// bytes4 magic value 0x1626ba7e: the magic followed by 28 zero bytes, 32 bytes in all.
bool is_eip1271_magic(const eth::Bytes& returned) noexcept;

/// True when `signature` is a personal_sign of `message` by the key of `address` itself (an
/// externally owned account): decided locally, without asking the chain.
bool signed_by_key(const eth::Address& address, std::string_view message, const eth::Bytes& signature) noexcept;

/// Parses a stored comma-separated scope list.
std::vector<std::string> split_scopes(std::string_view joined);

/// True when a device name is 1 to `max_chars` code points of valid UTF-8 with no control
/// characters (C0, DEL, C1), no line or paragraph separators and no bidirectional overrides.
bool valid_device_name(std::string_view name, std::size_t max_chars);

/// The URL the server will call for a device's push registration: the webhook target itself, or
/// the `endpoint` of a Web Push subscription (a PushSubscription JSON object); nullopt for
/// providers whose endpoint the operator configures (fcm, none). 400 invalid_field for a Web Push
/// token that is not a subscription with a string endpoint.
Result<std::optional<std::string>> push_target_url(std::string_view provider, std::string_view token);

}  // namespace gh::auth
