#include "notify/webpush.hpp"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gh::notify {
namespace {

namespace json = boost::json;

Error invalid_subscription(std::string why) {
  return bad_input("invalid_subscription", std::move(why));
}

std::string string_at(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// The largest plaintext one 4096-byte aes128gcm record carries: 4096 - header (86) - tag (16) -
// delimiter (1).
constexpr std::size_t max_plaintext = 4096 - 86 - 16 - 1;

}  // namespace

Result<WebPushSubscription> parse_subscription(std::string_view json_text) {
  boost::system::error_code ec;
  auto parsed = json::parse(json_text, ec);
  if (ec || !parsed.is_object()) return invalid_subscription("a Web Push token is a PushSubscription JSON object");
  const auto& o = parsed.as_object();
  WebPushSubscription s;
  s.endpoint = string_at(o, "endpoint");
  if (s.endpoint.empty()) return invalid_subscription("the subscription has no endpoint");
  const auto* keys = o.if_contains("keys");
  if (keys == nullptr || !keys->is_object()) return invalid_subscription("the subscription has no keys");
  auto p256dh = base64url_decode(string_at(keys->as_object(), "p256dh"));
  auto auth = base64url_decode(string_at(keys->as_object(), "auth"));
  if (!p256dh || p256dh->size() != 65 || (*p256dh)[0] != 0x04)
    return invalid_subscription("keys.p256dh is not an uncompressed P-256 point in base64url");
  if (!auth || auth->size() != 16) return invalid_subscription("keys.auth is not 16 bytes in base64url");
  s.p256dh = std::move(*p256dh);
  s.auth = std::move(*auth);
  return s;
}

Result<std::shared_ptr<const P256Key>> load_or_create_vapid_key(const std::string& path) {
  std::error_code fs_ec;
  if (std::filesystem::exists(path, fs_ec)) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    std::string content = text.str();
    boost::system::error_code ec;
    auto parsed = json::parse(content, ec);
    if (!ec && parsed.is_object()) content = string_at(parsed.as_object(), "privateKey");
    while (!content.empty() && (content.back() == '\n' || content.back() == '\r' || content.back() == ' '))
      content.pop_back();
    auto scalar = base64url_decode(content);
    if (!scalar) return bad_input("invalid_vapid_key", "the VAPID key file " + path + " is not base64url");
    auto key = P256Key::from_private(*scalar);
    if (!key) return bad_input("invalid_vapid_key", "the VAPID key file " + path + " holds no P-256 private key");
    return std::make_shared<const P256Key>(std::move(*key));
  }
  auto key = P256Key::generate();
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, fs_ec);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    if (!out) return bad_input("invalid_vapid_key", "cannot write the VAPID key file " + path);
    json::object doc{{"privateKey", base64url_encode(key.private_scalar())},
                     {"publicKey", base64url_encode(key.public_point())}};
    out << json::serialize(doc) << "\n";
  }
  ::chmod(path.c_str(), 0600);
  return std::make_shared<const P256Key>(std::move(key));
}

Result<std::string> endpoint_origin(std::string_view endpoint) {
  auto url = boost::urls::parse_absolute_uri(endpoint);
  if (!url || (url->scheme() != "https" && url->scheme() != "http") || url->host().empty())
    return invalid_subscription("the endpoint is not an absolute http(s) URL");
  std::string origin = std::string(url->scheme()) + "://" + std::string(url->encoded_host());
  if (url->has_port()) origin += ":" + std::string(url->port());
  return origin;
}

std::string vapid_authorization(const VapidIdentity& identity, std::string_view audience, SystemTime now) {
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json::object claims{{"aud", audience},
                      {"exp", seconds + std::chrono::seconds(std::chrono::hours(12)).count()},
                      {"sub", identity.subject}};
  return "vapid t=" + es256_jwt(json::serialize(claims), *identity.key) +
         ", k=" + base64url_encode(identity.key->public_point());
}

std::string webpush_topic(std::string_view topic) {
  bool plain = !topic.empty() && topic.size() <= 32;
  for (char c : topic) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0 && c != '-' && c != '_') plain = false;
  }
  if (plain) return std::string(topic);
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(topic.data(), topic.size(), digest, &len, EVP_sha256(), nullptr);
  // 24 bytes of the hash are 32 base64url characters.
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), 24));  // NOLINT
}

std::string webpush_payload(const PushMessage& message) {
  json::value data;
  {
    boost::system::error_code ec;
    data = json::parse(message.data_json.empty() ? std::string_view("{}") : std::string_view(message.data_json), ec);
    if (ec || !data.is_object()) data = json::object{};
  }
  json::object doc{{"notification_id", message.notification_id},
                   {"kind", message.kind},
                   {"title", message.title},
                   {"body", message.body},
                   {"data", data}};
  std::string out = json::serialize(doc);
  std::string body = message.body;
  std::string title = message.title;
  while (out.size() > max_plaintext && (!body.empty() || !title.empty())) {
    const std::size_t over = out.size() - max_plaintext;
    if (!body.empty()) {
      body = truncate_utf8(body, body.size() > over + 8 ? body.size() - over - 8 : 0);
    } else {
      title = truncate_utf8(title, title.size() > over + 8 ? title.size() - over - 8 : 0);
    }
    doc["title"] = title;
    doc["body"] = body;
    out = json::serialize(doc);
  }
  return out;
}

WebPushProvider::WebPushProvider(net::HttpClient& http, const Clock& clock, VapidIdentity identity,
                                 WebPushSettings settings)
    : m_http(http), m_clock(clock), m_identity(std::move(identity)), m_settings(std::move(settings)) {}

std::string WebPushProvider::public_key() const {
  return base64url_encode(m_identity.key->public_point());
}

Task<PushResult> WebPushProvider::send(const PushTarget& target, const PushMessage& message) {
  PushResult refused;
  refused.outcome = PushOutcome::rejected;
  auto subscription = parse_subscription(target.token);
  if (!subscription) {
    // A token that can never work is as good as gone.
    refused.outcome = PushOutcome::token_invalid;
    refused.detail = "invalid_subscription";
    co_return refused;
  }
  auto origin = endpoint_origin(subscription->endpoint);
  if (!origin) {
    refused.outcome = PushOutcome::token_invalid;
    refused.detail = "invalid_subscription";
    co_return refused;
  }
  const std::string plaintext = webpush_payload(message);
  auto body = encrypt_aes128gcm(plaintext, subscription->p256dh, subscription->auth);
  if (!body) {
    refused.outcome = body.error().code == "invalid_subscription" ? PushOutcome::token_invalid : PushOutcome::rejected;
    refused.detail = body.error().code;
    co_return refused;
  }
  const std::string encrypted = std::move(*body);
  const std::string endpoint = subscription->endpoint;
  const std::string audience = *origin;
  std::function<Task<TryResult>()> attempt = [this, &encrypted, &endpoint, &audience, &message]() -> Task<TryResult> {
    net::HttpRequest request;
    request.method = "POST";
    request.url = endpoint;
    request.headers.push_back({"Authorization", vapid_authorization(m_identity, audience, m_clock.now())});
    request.headers.push_back({"Content-Encoding", "aes128gcm"});
    request.headers.push_back({"Content-Type", "application/octet-stream"});
    request.headers.push_back({"TTL", std::to_string(message.ttl.count())});
    request.headers.push_back({"Urgency", message.urgency});
    if (!message.topic.empty()) request.headers.push_back({"Topic", webpush_topic(message.topic)});
    request.body = encrypted;
    request.timeout = m_settings.timeout;
    auto response = co_await m_http.request(std::move(request));
    TryResult out = classify_http(response);
    if (response && (response->status == 404 || response->status == 410))
      out.result.outcome = PushOutcome::token_invalid;
    co_return out;
  };
  co_return co_await with_retries(m_settings.retry, attempt, message.still_wanted);
}

}  // namespace gh::notify
