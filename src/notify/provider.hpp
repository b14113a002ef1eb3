#pragma once
// The one interface of push providers (FCM, Web Push, signed webhook) and the retry rule they
// share: a transient failure (a dropped connection, a timeout, 429, 5xx) is tried again at most
// `max_retries` times with exponential backoff, honoring Retry-After; anything else is final.
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/task.hpp"
#include "net/http_client.hpp"

namespace gh::notify {

/// What a push carries. The ids (notification, kind, data) are never truncated; the preview
/// (title and body) is, to fit a provider's payload limit.
struct PushMessage {
  std::string notification_id;
  std::string kind;
  std::string title;
  std::string body;
  /// Flat JSON object of string values (community_id, channel_id, ...), serialized.
  std::string data_json = "{}";
  /// Replaces an earlier push with the same topic still queued at the push service.
  std::string topic;
  /// very-low | low | normal | high (RFC 8030 §5.3).
  std::string urgency = "normal";
  std::chrono::seconds ttl{24 * 3600};
  /// Asked before every retry (the router also asks before the first try): false when the
  /// notification was withdrawn meanwhile (its message deleted), and then nothing more is sent.
  /// Unset: always wanted.
  std::function<Task<bool>()> still_wanted;
};

/// Where a push goes: a device and its provider's token (an FCM registration token, a Web Push
/// subscription as JSON, a webhook URL).
struct PushTarget {
  std::string device_id;
  std::string provider;
  std::string token;
};

/// How a delivery ended.
enum class PushOutcome {
  delivered,      ///< the push service accepted it
  token_invalid,  ///< the token or subscription is gone (FCM UNREGISTERED/404, Web Push 404/410): delete it
  rejected,       ///< a permanent refusal (bad payload, wrong sender, auth): not retried
  failed,         ///< transient failures until the retries ran out
  withdrawn,      ///< the notification was withdrawn before a try: not sent (again)
};

/// "delivered", "token_invalid", "rejected", "failed", "withdrawn".
const char* to_string(PushOutcome outcome) noexcept;

/// The result of one delivery, over all its tries.
struct PushResult {
  PushOutcome outcome = PushOutcome::failed;
  int retries = 0;      ///< tries after the first
  unsigned status = 0;  ///< HTTP status of the last try (0: no response)
  std::string detail;   ///< the provider's error code or the network failure; never a secret
};

/// One push provider.
class PushProvider {
 public:
  virtual ~PushProvider() = default;
  /// "fcm", "webpush", "webhook": the device's push.provider value it serves.
  virtual std::string_view name() const = 0;
  /// Delivers `message` to `target`, retrying transient failures itself.
  virtual Task<PushResult> send(const PushTarget& target, const PushMessage& message) = 0;
};

/// The retry rule of the providers.
struct RetryPolicy {
  int max_retries = 3;
  std::chrono::milliseconds backoff_base{500};
  std::chrono::milliseconds backoff_max{30'000};
  /// A longer Retry-After is cut to this (the delivery is not held hostage by a push service).
  std::chrono::milliseconds retry_after_max{60'000};
  /// Waits between tries; tests replace it to record the delays instead of sleeping.
  std::function<Task<void>(std::chrono::milliseconds)> sleep;
};

/// Waits `delay` on the current coroutine's executor.
Task<void> sleep_for(std::chrono::milliseconds delay);

/// The outcome of one try, as a provider classifies it.
struct TryResult {
  PushResult result;  ///< outcome failed means transient: retry if allowed
  std::optional<std::chrono::milliseconds> retry_after;
};

/// Runs `attempt` until it is final or the retries are spent; the delay before retry n (from 1)
/// is backoff_base * 2^(n-1) capped at backoff_max, or the Retry-After it got, capped.
Task<PushResult> with_retries(const RetryPolicy& policy, const std::function<Task<TryResult>()>& attempt,
                              const std::function<Task<bool>()>& still_wanted = {});

/// The delay of a Retry-After header: delta-seconds, or an HTTP-date relative to `now`.
std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now);

/// The generic classification of an HTTP exchange: 2xx delivered, 429/5xx and network failures
/// transient, an outbound-policy refusal or other 4xx rejected. Providers refine it.
TryResult classify_http(const net::HttpResult& result);

/// Cuts `text` to at most `max_bytes` bytes without splitting a UTF-8 sequence, ending with "…"
/// when something was cut.
std::string truncate_utf8(std::string_view text, std::size_t max_bytes);

}  // namespace gh::notify
