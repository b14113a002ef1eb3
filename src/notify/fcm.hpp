#pragma once
// Firebase Cloud Messaging over the HTTP v1 API: a service account's RS256 JWT exchanged for an
// OAuth2 access token at the account's token_uri (cached until shortly before it expires), then
// POST {endpoint}/v1/projects/{project_id}/messages:send. Errors as FCM documents them:
// UNREGISTERED or 404 means the token is gone; INVALID_ARGUMENT, SENDER_ID_MISMATCH and
// THIRD_PARTY_AUTH_ERROR are final; UNAVAILABLE, INTERNAL and QUOTA_EXCEEDED are retried.
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "notify/provider.hpp"
#include "notify/push_crypto.hpp"

namespace gh::notify {

/// The fields of a Google service-account JSON file that FCM needs.
struct ServiceAccount {
  std::string project_id;
  std::string client_email;
  std::string private_key_id;
  std::string private_key_pem;
  std::string token_uri = "https://oauth2.googleapis.com/token";
};

/// Parses a service-account JSON document; 400 invalid_service_account naming the missing field.
Result<ServiceAccount> parse_service_account(std::string_view json_text);

/// How the FCM provider runs.
struct FcmSettings {
  /// Where messages:send lives; tests point it at a loopback fake.
  std::string endpoint = "https://fcm.googleapis.com";
  std::chrono::milliseconds timeout{10'000};
  /// An access token is renewed this long before it expires.
  std::chrono::seconds token_margin{300};
  RetryPolicy retry;
};

/// The largest FCM payload (notification + data), in bytes.
inline constexpr std::size_t fcm_max_payload = 4096;

/// The messages:send body for a token: notification {title, body}, data (every value a string,
/// ids included), android collapse_key/ttl/priority and apns headers. The preview is cut so that
/// the payload stays under fcm_max_payload; 413 payload_too_large when the ids alone exceed it.
Result<std::string> fcm_message_json(const std::string& token, const PushMessage& message);

/// The FCM provider. Thread-safe.
class FcmProvider final : public PushProvider {
 public:
  /// `key` is the account's private key, parsed (see make_fcm_provider).
  FcmProvider(net::HttpClient& http, const Clock& clock, ServiceAccount account, RsaKey key, FcmSettings settings);
  ~FcmProvider() override;

  std::string_view name() const override { return "fcm"; }
  Task<PushResult> send(const PushTarget& target, const PushMessage& message) override;

  /// OAuth token requests made so far (for tests of the cache).
  int token_requests() const noexcept;

 private:
  Task<TryResult> try_once(const std::string& body);
  /// A live access token, fetched when missing or about to expire; an error TryResult otherwise.
  Task<std::optional<TryResult>> ensure_token(std::string& token);

  net::HttpClient& m_http;
  const Clock& m_clock;
  ServiceAccount m_account;
  FcmSettings m_settings;
  RsaKey m_key;
  struct Cache;
  std::shared_ptr<Cache> m_cache;
};

/// Builds an FCM provider from a service account; 400 with the reason when it is unusable.
Result<std::unique_ptr<FcmProvider>> make_fcm_provider(net::HttpClient& http, const Clock& clock,
                                                       ServiceAccount account, FcmSettings settings);
/// Reads and parses a service-account file; 400 with the reason when it is unreadable or invalid.
Result<ServiceAccount> read_service_account(const std::string& path);

}  // namespace gh::notify
