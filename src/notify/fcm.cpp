#include "notify/fcm.hpp"

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <fstream>
#include <sstream>

namespace gh::notify {
namespace {

namespace json = boost::json;

std::string string_field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string form_escape(std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += hex[u >> 4];
      out += hex[u & 15];
    }
  }
  return out;
}

// FCM's error body: {"error": {"code", "message", "status", "details": [{"@type": ...FcmError,
// "errorCode"}]}}. The FcmError code is the precise one; status the generic fallback.
std::string fcm_error_code(std::string_view body) {
  boost::system::error_code ec;
  auto parsed = json::parse(body, ec);
  if (ec || !parsed.is_object()) return {};
  const auto* error = parsed.as_object().if_contains("error");
  if (error == nullptr || !error->is_object()) return {};
  const auto& e = error->as_object();
  if (const auto* details = e.if_contains("details"); details != nullptr && details->is_array()) {
    for (const auto& d : details->as_array()) {
      if (!d.is_object()) continue;
      auto code = string_field(d.as_object(), "errorCode");
      if (!code.empty()) return code;
    }
  }
  return string_field(e, "status");
}

std::string stringify(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

}  // namespace

Result<ServiceAccount> parse_service_account(std::string_view json_text) {
  boost::system::error_code ec;
  auto parsed = json::parse(json_text, ec);
  if (ec || !parsed.is_object())
    return bad_input("invalid_service_account", "the service account is not a JSON object");
  const auto& o = parsed.as_object();
  ServiceAccount a;
  a.project_id = string_field(o, "project_id");
  a.client_email = string_field(o, "client_email");
  a.private_key_id = string_field(o, "private_key_id");
  a.private_key_pem = string_field(o, "private_key");
  if (auto uri = string_field(o, "token_uri"); !uri.empty()) a.token_uri = uri;
  for (auto [field, value] : {std::pair{"project_id", &a.project_id}, std::pair{"client_email", &a.client_email},
                              std::pair{"private_key", &a.private_key_pem}}) {
    if (value->empty()) return bad_input("invalid_service_account", std::string("the service account has no ") + field);
  }
  return a;
}

Result<ServiceAccount> read_service_account(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return bad_input("invalid_service_account", "cannot read the FCM service account file " + path);
  std::stringstream text;
  text << in.rdbuf();
  return parse_service_account(text.str());
}

Result<std::string> fcm_message_json(const std::string& token, const PushMessage& message) {
  json::object data;
  {
    boost::system::error_code ec;
    auto extra =
        json::parse(message.data_json.empty() ? std::string_view("{}") : std::string_view(message.data_json), ec);
    if (!ec && extra.is_object()) {
      for (const auto& [k, v] : extra.as_object()) data[k] = stringify(v);
    }
  }
  data["notification_id"] = message.notification_id;
  data["kind"] = message.kind;
  const std::size_t fixed = json::serialize(data).size() + 64;  // + the notification object's frame
  if (fixed >= fcm_max_payload)
    return make_error(ErrorKind::too_large, "payload_too_large", "the notification's ids exceed FCM's 4 KiB");
  // The preview gets what the ids leave, title first (short), then the body.
  std::size_t room = fcm_max_payload - fixed;
  // JSON escaping may grow text up to 6x (\u00XX); measure the escaped size and cut until it fits.
  std::string title = truncate_utf8(message.title, std::min<std::size_t>(room / 4, 256));
  std::string body = message.body;
  for (;;) {
    const auto escaped = json::serialize(json::value(title)).size() + json::serialize(json::value(body)).size();
    if (escaped <= room) break;
    const std::size_t over = escaped - room;
    body = truncate_utf8(body, body.size() > over + 8 ? body.size() - over - 8 : 0);
    if (body.empty() && json::serialize(json::value(title)).size() + 2 > room) title.clear();
    if (body.empty()) break;
  }
  json::object notification{{"title", title}, {"body", body}};
  json::object android{{"priority", message.urgency == "high" ? "high" : "normal"},
                       {"ttl", std::to_string(message.ttl.count()) + "s"}};
  if (!message.topic.empty()) android["collapse_key"] = message.topic;
  json::object apns_headers{{"apns-priority", message.urgency == "high" ? "10" : "5"}};
  if (!message.topic.empty()) apns_headers["apns-collapse-id"] = message.topic.substr(0, 64);
  json::object msg{{"token", token},
                   {"notification", std::move(notification)},
                   {"data", std::move(data)},
                   {"android", std::move(android)},
                   {"apns", json::object{{"headers", std::move(apns_headers)}}}};
  json::object root{{"message", std::move(msg)}};
  return json::serialize(root);
}

struct FcmProvider::Cache {
  std::mutex mutex;
  std::string token;
  SystemTime expires_at{};
  bool refreshing = false;
  std::atomic<int> requests{0};
};

FcmProvider::FcmProvider(net::HttpClient& http, const Clock& clock, ServiceAccount account, RsaKey key,
                         FcmSettings settings)
    : m_http(http),
      m_clock(clock),
      m_account(std::move(account)),
      m_settings(std::move(settings)),
      m_key(std::move(key)),
      m_cache(std::make_shared<Cache>()) {}

FcmProvider::~FcmProvider() = default;

int FcmProvider::token_requests() const noexcept {
  return m_cache->requests.load();
}

Result<std::unique_ptr<FcmProvider>> make_fcm_provider(net::HttpClient& http, const Clock& clock,
                                                       ServiceAccount account, FcmSettings settings) {
  auto key = RsaKey::from_pem(account.private_key_pem);
  if (!key) return std::move(key).error();
  return std::make_unique<FcmProvider>(http, clock, std::move(account), std::move(*key), std::move(settings));
}

Task<std::optional<TryResult>> FcmProvider::ensure_token(std::string& token) {
  auto cache = m_cache;
  // One refresh at a time; the others wait for it briefly (the first send after a start or an
  // expiry is the only one that pays).
  for (int waited = 0;; ++waited) {
    {
      std::lock_guard lock(cache->mutex);
      if (!cache->token.empty() && m_clock.now() + m_settings.token_margin < cache->expires_at) {
        token = cache->token;
        co_return std::nullopt;
      }
      if (!cache->refreshing || waited > 500) {
        cache->refreshing = true;
        break;
      }
    }
    co_await sleep_for(std::chrono::milliseconds(10));
  }
  const auto now = m_clock.now();
  const auto iat = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  json::object claims{{"iss", m_account.client_email},
                      {"scope", "https://www.googleapis.com/auth/firebase.messaging"},
                      {"aud", m_account.token_uri},
                      {"iat", iat},
                      {"exp", iat + 3600}};
  const std::string assertion = rs256_jwt(json::serialize(claims), m_key, m_account.private_key_id);
  net::HttpRequest request;
  request.method = "POST";
  request.url = m_account.token_uri;
  request.headers.push_back({"Content-Type", "application/x-www-form-urlencoded"});
  request.body = "grant_type=" + form_escape("urn:ietf:params:oauth:grant-type:jwt-bearer") +
                 "&assertion=" + form_escape(assertion);
  request.timeout = m_settings.timeout;
  ++cache->requests;
  auto response = co_await m_http.request(std::move(request));
  std::optional<TryResult> failure;
  std::string fresh;
  std::int64_t expires_in = 3600;
  if (!response || response->status != 200) {
    failure = classify_http(response);
    if (failure->result.outcome == PushOutcome::delivered) failure->result.outcome = PushOutcome::failed;
    // A refused assertion (400/401: revoked key, wrong clock) is the operator's to fix: final.
    failure->result.detail = "oauth_" + failure->result.detail;
  } else {
    boost::system::error_code ec;
    auto parsed = json::parse(response->body, ec);
    if (!ec && parsed.is_object()) {
      fresh = string_field(parsed.as_object(), "access_token");
      if (const auto* e = parsed.as_object().if_contains("expires_in"); e != nullptr && e->is_int64())
        expires_in = e->as_int64();
    }
    if (fresh.empty()) {
      failure = TryResult{};
      failure->result.outcome = PushOutcome::failed;
      failure->result.status = 200;
      failure->result.detail = "oauth_invalid_response";
    }
  }
  std::lock_guard lock(cache->mutex);
  cache->refreshing = false;
  if (failure) co_return failure;
  cache->token = fresh;
  cache->expires_at = now + std::chrono::seconds(expires_in);
  token = std::move(fresh);
  co_return std::nullopt;
}

Task<TryResult> FcmProvider::try_once(const std::string& body) {
  std::string token;
  auto refused = co_await ensure_token(token);
  if (refused) co_return std::move(*refused);
  net::HttpRequest request;
  request.method = "POST";
  request.url = m_settings.endpoint + "/v1/projects/" + m_account.project_id + "/messages:send";
  request.headers.push_back({"Authorization", "Bearer " + token});
  request.headers.push_back({"Content-Type", "application/json; charset=UTF-8"});
  request.body = body;
  request.timeout = m_settings.timeout;
  auto response = co_await m_http.request(std::move(request));
  TryResult out = classify_http(response);
  if (!response || out.result.outcome == PushOutcome::delivered) co_return out;
  const std::string code = fcm_error_code(response->body);
  if (!code.empty()) out.result.detail = code;
  const unsigned status = response->status;
  if (code == "UNREGISTERED" || status == 404) {
    out.result.outcome = PushOutcome::token_invalid;
  } else if (code == "INVALID_ARGUMENT" || code == "SENDER_ID_MISMATCH" || code == "THIRD_PARTY_AUTH_ERROR") {
    out.result.outcome = PushOutcome::rejected;
  } else if (code == "UNAVAILABLE" || code == "INTERNAL" || code == "QUOTA_EXCEEDED" || status == 429 ||
             status >= 500) {
    out.result.outcome = PushOutcome::failed;
  } else if (status == 401) {
    // The access token was refused (revoked or expired early): fetch a new one on the retry.
    std::lock_guard lock(m_cache->mutex);
    m_cache->token.clear();
    out.result.outcome = PushOutcome::failed;
  }
  co_return out;
}

Task<PushResult> FcmProvider::send(const PushTarget& target, const PushMessage& message) {
  auto body = fcm_message_json(target.token, message);
  if (!body) {
    PushResult r;
    r.outcome = PushOutcome::rejected;
    r.detail = body.error().code;
    co_return r;
  }
  const std::string payload = std::move(*body);
  std::function<Task<TryResult>()> attempt = [this, &payload]() { return try_once(payload); };
  co_return co_await with_retries(m_settings.retry, attempt, message.still_wanted);
}

}  // namespace gh::notify
