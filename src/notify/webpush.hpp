#pragma once
// Web Push: RFC 8030 delivery (TTL, Urgency, Topic headers) of an RFC 8291 aes128gcm-encrypted
// payload, authenticated with RFC 8292 VAPID (an ES256 JWT for the endpoint's origin and the
// application server's public key). A device's push token is its PushSubscription as JSON:
// {"endpoint", "keys": {"p256dh", "auth"}}. 404 and 410 mean the subscription is gone.
#include <chrono>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "notify/provider.hpp"
#include "notify/push_crypto.hpp"

namespace gh::notify {

/// A parsed PushSubscription.
struct WebPushSubscription {
  std::string endpoint;
  ByteString p256dh;  ///< 65-byte uncompressed P-256 point
  ByteString auth;    ///< 16 bytes
};

/// Parses a PushSubscription JSON; 400 invalid_subscription with the reason.
Result<WebPushSubscription> parse_subscription(std::string_view json_text);

/// The application server's VAPID identity.
struct VapidIdentity {
  std::shared_ptr<const P256Key> key;
  /// The JWT's `sub`: a mailto: or https: contact for the push service's operator.
  std::string subject = "mailto:admin@localhost";
};

/// Loads the VAPID private key (base64url of the 32-byte scalar, as `web-push
/// generate-vapid-keys` prints it, alone or as {"privateKey"} JSON) from `path`, generating and
/// writing one (mode 0600) when the file does not exist.
Result<std::shared_ptr<const P256Key>> load_or_create_vapid_key(const std::string& path);

/// The origin (scheme://host[:port]) of an endpoint URL, the `aud` of its VAPID JWT.
Result<std::string> endpoint_origin(std::string_view endpoint);

/// The Authorization header value `vapid t=<jwt>, k=<public key>` for an endpoint's origin.
std::string vapid_authorization(const VapidIdentity& identity, std::string_view audience, SystemTime now);

/// A Topic header value (at most 32 base64url characters, RFC 8030 §5.4) derived from any topic.
std::string webpush_topic(std::string_view topic);

/// The JSON a service worker receives: {notification_id, kind, title, body, data}; the preview is
/// cut so that the encrypted record fits 4096 bytes.
std::string webpush_payload(const PushMessage& message);

/// How the Web Push provider runs.
struct WebPushSettings {
  std::chrono::milliseconds timeout{10'000};
  RetryPolicy retry;
};

/// The Web Push provider. Its HttpClient should carry the outbound URL policy (endpoints are
/// user-supplied URLs). Thread-safe.
class WebPushProvider final : public PushProvider {
 public:
  WebPushProvider(net::HttpClient& http, const Clock& clock, VapidIdentity identity, WebPushSettings settings);
  std::string_view name() const override { return "webpush"; }
  Task<PushResult> send(const PushTarget& target, const PushMessage& message) override;
  /// The application server key clients subscribe with (base64url of the public point).
  std::string public_key() const;

 private:
  net::HttpClient& m_http;
  const Clock& m_clock;
  VapidIdentity m_identity;
  WebPushSettings m_settings;
};

}  // namespace gh::notify
