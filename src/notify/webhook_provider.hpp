#pragma once
// The signed webhook provider, for bots and integrations: the notification is POSTed as JSON to
// the device's URL with `X-Gatehouse-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
// "<t>.<body>">` under the server's webhook secret. Receivers check the HMAC and refuse stale
// timestamps (replays). 410 Gone means the endpoint is retired.
#include <chrono>
#include <string>

#include "core/clock.hpp"
#include "notify/provider.hpp"

namespace gh::notify {

/// The signature header's value for `body` sent at `now`.
std::string webhook_signature(std::string_view secret, std::string_view body, SystemTime now);

/// True when `header` signs `body` under `secret` with a timestamp within `tolerance` of `now`
/// (what a receiver checks; constant-time comparison).
bool verify_webhook_signature(std::string_view secret, std::string_view header, std::string_view body, SystemTime now,
                              std::chrono::seconds tolerance = std::chrono::seconds(300));

/// The JSON body of a webhook push: {notification_id, kind, title, body, data, sent_at}.
std::string webhook_body(const PushMessage& message, SystemTime now);

/// How the webhook provider runs.
struct WebhookSettings {
  std::string secret;
  std::chrono::milliseconds timeout{10'000};
  RetryPolicy retry;
};

/// The webhook provider. Its HttpClient should carry the outbound URL policy. Thread-safe.
class WebhookProvider final : public PushProvider {
 public:
  WebhookProvider(net::HttpClient& http, const Clock& clock, WebhookSettings settings);
  std::string_view name() const override { return "webhook"; }
  Task<PushResult> send(const PushTarget& target, const PushMessage& message) override;

 private:
  net::HttpClient& m_http;
  const Clock& m_clock;
  WebhookSettings m_settings;
};

}  // namespace gh::notify
