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

#include "core/result.hpp"
#include "eth/address.hpp"
#include "net/outbound_policy.hpp"

namespace gh::auth {

/// Limits and lifetimes of auth, every one explicit.
struct AuthSettings {
  std::vector<std::string> siwe_domains;  ///< authorities accepted in a message's domain line
  std::set<std::uint64_t> chain_ids;      ///< chains a message may name
  std::chrono::seconds session_ttl{30 * 24 * 3600};
  std::chrono::seconds nonce_ttl{600};
  std::chrono::seconds clock_skew{60};
  std::size_t max_devices = 10;
  std::size_t max_prekeys_per_request = 100;
  std::size_t max_prekeys_per_device = 1000;
  std::size_t low_prekeys = 10;  ///< below this a device gets a keys.low event
  std::size_t max_signature_bytes = 4096;
  std::size_t max_sessions_listed = 100;
  net::OutboundPolicy push_targets;  ///< where webhook push targets may point
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
/// Parses and checks a signed prekey against the identity key (base64).
Result<SignedPrekey> parse_signed_prekey(const boost::json::value* value, const std::string& identity_key);

}  // namespace gh::auth
