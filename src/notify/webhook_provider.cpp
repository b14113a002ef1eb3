#include "notify/webhook_provider.hpp"

#include <openssl/crypto.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "notify/push_crypto.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;

std::int64_t unix_seconds(SystemTime t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string webhook_signature(std::string_view secret, std::string_view body, SystemTime now) {
  const std::string t = std::to_string(unix_seconds(now));
  std::string signed_text = t + "." + std::string(body);
  return "t=" + t + ",v1=" + hmac_sha256_hex(secret, signed_text);
}

bool verify_webhook_signature(std::string_view secret, std::string_view header, std::string_view body, SystemTime now,
                              std::chrono::seconds tolerance) {
  std::string t;
  std::string v1;
  while (!header.empty()) {
    const auto comma = header.find(',');
    const auto part = header.substr(0, comma);
    if (part.starts_with("t=")) t = std::string(part.substr(2));
    if (part.starts_with("v1=")) v1 = std::string(part.substr(3));
    header = comma == std::string_view::npos ? std::string_view() : header.substr(comma + 1);
  }
  if (t.empty() || t.size() > 12 || t.find_first_not_of("0123456789") != std::string::npos || v1.size() != 64)
    return false;
  const std::int64_t at = std::stoll(t);
  const std::int64_t skew = unix_seconds(now) - at;
  if (skew > tolerance.count() || -skew > tolerance.count()) return false;
  const std::string expected = hmac_sha256_hex(secret, t + "." + std::string(body));
  return CRYPTO_memcmp(expected.data(), v1.data(), 64) == 0;
}

std::string webhook_body(const PushMessage& message, SystemTime now) {
  json::value data;
  boost::system::error_code ec;
  data = json::parse(message.data_json.empty() ? std::string_view("{}") : std::string_view(message.data_json), ec);
  if (ec || !data.is_object()) data = json::object{};
  json::object doc{{"notification_id", message.notification_id},
                   {"kind", message.kind},
                   {"title", message.title},
                   {"body", message.body},
                   {"data", data},
                   {"sent_at", format_rfc3339(now)}};
  return json::serialize(doc);
}

WebhookProvider::WebhookProvider(net::HttpClient& http, const Clock& clock, WebhookSettings settings)
    : m_http(http), m_clock(clock), m_settings(std::move(settings)) {}

Task<PushResult> WebhookProvider::send(const PushTarget& target, const PushMessage& message) {
  const std::string url = target.token;
  std::function<Task<TryResult>()> attempt = [this, &url, &message]() -> Task<TryResult> {
    const auto now = m_clock.now();
    net::HttpRequest request;
    request.method = "POST";
    request.url = url;
    request.body = webhook_body(message, now);
    request.headers.push_back({"Content-Type", "application/json"});
    request.headers.push_back({"X-Gatehouse-Signature", webhook_signature(m_settings.secret, request.body, now)});
    request.headers.push_back({"X-Gatehouse-Notification", message.notification_id});
    request.timeout = m_settings.timeout;
    auto response = co_await m_http.request(std::move(request));
    TryResult out = classify_http(response);
    if (response && response->status == 410) out.result.outcome = PushOutcome::token_invalid;
    co_return out;
  };
  co_return co_await with_retries(m_settings.retry, attempt, message.still_wanted);
}

}  // namespace gh::notify
