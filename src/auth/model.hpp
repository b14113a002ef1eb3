#pragma once
// Plain types and rules of the auth context: limits, device key material and its validation.
// Pure: no I/O, no Asio, no database.
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
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
  std::size_t max_prekeys_per_request = 100;
  std::size_t max_prekeys_per_device = 1000;
  std::size_t low_prekeys = 10;  ///< below this a device gets a keys.low event
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

/// An X25519 one-time prekey (32 bytes, base64 as received).
struct Prekey {
  std::int64_t id = 0;
  std::string key;
};

/// The signed prekey: X25519 key signed by the device's Ed25519 identity key.
struct SignedPrekey {
  std::int64_t id = 0;
  std::string key;
  std::string signature;
};

/// What POST /v1/devices carries, validated.
struct DeviceRegistration {
  std::string name;
  std::string push_provider;  ///< fcm | webpush | webhook | none
  std::string push_token;
  std::string identity_key;
  SignedPrekey signed_prekey;
  std::vector<Prekey> one_time_prekeys;
};

/// Parses and validates a registration: lengths, base64 of 32-byte keys, a valid Ed25519 identity
/// key, the signed prekey's signature, prekey ids unique and in range, at most the request limit.
Result<DeviceRegistration> parse_device_registration(const boost::json::object& body, const AuthSettings& settings);
/// Parses a list of one-time prekeys (replenish), same rules.
Result<std::vector<Prekey>> parse_prekeys(const boost::json::value* list, const AuthSettings& settings);
/// Parses a signed prekey's shape: id, 32-byte key, 64-byte signature (not yet checked).
Result<SignedPrekey> parse_signed_prekey(const boost::json::value* value);
/// Checks a signed prekey's signature against an identity key (base64); 400 invalid_signature.
Result<void> verify_signed_prekey(const SignedPrekey& spk, const std::string& identity_key);

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
  std::int64_t one_time_prekeys = 0;
};

/// The caller's account.
struct Me {
  eth::Address address;
  SystemTime created_at;
  std::vector<DeviceInfo> devices;
};

/// One device's key bundle, as handed to a sender.
struct KeyBundle {
  std::string device_id;
  std::string identity_key;
  SignedPrekey signed_prekey;
  std::optional<Prekey> one_time_prekey;
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

/// Parses a stored comma-separated scope list.
std::vector<std::string> split_scopes(std::string_view joined);

/// True when a device name is 1 to `max_chars` code points of valid UTF-8 with no control
/// characters (C0, DEL, C1), no line or paragraph separators and no bidirectional overrides.
bool valid_device_name(std::string_view name, std::size_t max_chars);

}  // namespace gh::auth
