#include "notify/module.hpp"

#include <openssl/rand.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "auth/routes.hpp"
#include "auth/service.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "net/http_client.hpp"
#include "net/json.hpp"
#include "notify/fcm.hpp"
#include "notify/migrations.hpp"
#include "notify/routes.hpp"
#include "notify/webhook_provider.hpp"
#include "notify/webpush.hpp"
#if defined(GATEHOUSE_HAS_REALTIME)
#include "realtime/gateway.hpp"
#include "realtime/service.hpp"
#endif
#if defined(GATEHOUSE_HAS_COMMUNITY)
#include <algorithm>

#include "community/service.hpp"
#endif
#if defined(GATEHOUSE_HAS_MESSAGING)
#include "messaging/notify_settings.hpp"
#include "messaging/service.hpp"
#endif

namespace gh::notify {
namespace {

// Devices and push tokens come from auth.
class AuthDeviceDirectory final : public DeviceDirectory {
 public:
  explicit AuthDeviceDirectory(auth::AuthService& auth) : m_auth(auth) {}
  Task<Result<std::map<std::string, std::vector<PushTarget>>>> devices(
      const std::vector<std::string>& accounts) override {
    auto found = co_await m_auth.push_registrations(accounts);
    if (!found) co_return std::move(found).error();
    std::map<std::string, std::vector<PushTarget>> out;
    for (auto& entry : *found) {
      auto& list = out[entry.first];
      for (auto& r : entry.second) {
        list.push_back(PushTarget{std::move(r.device_id), std::move(r.provider), std::move(r.token)});
      }
    }
    co_return out;
  }
  Task<void> forget_push_token(const std::string& device_id) override {
    auto done = co_await m_auth.clear_push_token(device_id);
    if (!done) log::warn("notify: could not clear a push token", {{"error", done.error().message}});
  }

 private:
  auth::AuthService& m_auth;
};

#if defined(GATEHOUSE_HAS_REALTIME)
// Live sockets on this node come from realtime's gateway.
class GatewayDelivery final : public OnlineDelivery {
 public:
  GatewayDelivery(realtime::Gateway& gateway, realtime::PresenceService* presence)
      : m_gateway(gateway), m_presence(presence) {}
  bool device_online(const std::string& device_id) override { return m_gateway.device_online(device_id); }
  std::size_t send_to_device(const std::string& device_id, const std::string& frame_json) override {
    return m_gateway.send_to_device(device_id, frame_json);
  }
  std::size_t send_to_account(const std::string& account, const std::string& frame_json) override {
    auto address = eth::parse_address(account);
    return address ? m_gateway.send_to_account(*address, frame_json) : 0;
  }
  // The status the account chose lasts across its sockets, devices and nodes (realtime's presence).
  Task<bool> do_not_disturb(const std::string& account) override {
    if (!m_presence) {
      auto address = eth::parse_address(account);
      co_return address.has_value() && m_gateway.status_of(*address) == "dnd";
    }
    auto dnd = co_await m_presence->do_not_disturb(account);
    if (!dnd) {
      // Pushing past a status we could not read beats holding every notification back.
      log::warn("notify: could not read an account's presence", {{"error", dnd.error().message}});
      co_return false;
    }
    co_return *dnd;
  }

 private:
  realtime::Gateway& m_gateway;
  realtime::PresenceService* m_presence;
};
#endif

#if defined(GATEHOUSE_HAS_COMMUNITY)
// Community audiences come from community's member list. It is read once per expansion (the
// first page) and paged here; the router calls this from its strand only.
class CommunityAudience final : public AudienceSource {
 public:
  explicit CommunityAudience(community::CommunityService& service) : m_service(service) {}
  Task<Result<std::vector<std::string>>> members(const std::string& community_id, const std::string& after,
                                                 std::size_t limit) override {
    if (after.empty() || community_id != m_community) {
      std::string id = community_id;
      std::string role = "member";
      auto found = co_await m_service.members_with_role(std::move(id), std::move(role));
      if (!found) co_return std::move(found).error();
      m_members.clear();
      for (const auto& a : *found) m_members.push_back(eth::to_lower_hex(a));
      std::sort(m_members.begin(), m_members.end());
      m_community = community_id;
    }
    std::vector<std::string> page;
    auto it = std::upper_bound(m_members.begin(), m_members.end(), after);
    for (; it != m_members.end() && page.size() < limit; ++it) page.push_back(*it);
    co_return page;
  }

 private:
  community::CommunityService& m_service;
  std::string m_community;
  std::vector<std::string> m_members;
};
#endif

// A secret read from `path`, or generated there (mode 0600) when the file does not exist.
std::string read_or_create_secret(const std::string& path) {
  if (std::ifstream in(path); in) {
    std::stringstream text;
    text << in.rdbuf();
    std::string s = text.str();
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    if (!s.empty()) return s;
  }
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("RAND_bytes failed");
  std::string secret =
      "whsec_" + base64url_encode(std::string_view(reinterpret_cast<const char*>(bytes), 32));  // NOLINT
  std::error_code ec;
  const auto parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  {
    std::ofstream out(path, std::ios::trunc);
    if (!out) throw std::runtime_error("cannot write the webhook secret file " + path);
    out << secret << "\n";
  }
  ::chmod(path.c_str(), 0600);
  return secret;
}

// The objects of a running notify context, alive for the process's lifetime.
#if defined(GATEHOUSE_HAS_MESSAGING)
// The channels' unread mention counts leave out the mentions an account suppresses (its settings
// here), as its notifications do; a post tells those following its channel.
class MessagingNotifySettings final : public messaging::NotifySettings {
 public:
  explicit MessagingNotifySettings(NotifyService& service) : m_service(service) {}
  Task<Result<messaging::MentionSuppression>> suppression(const eth::Address& account) override {
    auto settings = co_await m_service.settings(account);
    if (!settings) co_return std::move(settings).error();
    co_return messaging::MentionSuppression{std::move(settings->suppress_everyone),
                                            std::move(settings->suppress_roles)};
  }
  Task<Result<std::vector<eth::Address>>> channel_followers(std::string channel_id, std::string community_id,
                                                            std::size_t limit) override {
    auto found = co_await m_service.channel_followers(std::move(channel_id), std::move(community_id), limit);
    std::vector<eth::Address> out;
    out.reserve(found.size());
    for (const auto& hex : found) {
      if (auto a = eth::parse_address(hex)) out.push_back(*a);
    }
    co_return out;
  }

 private:
  NotifyService& m_service;
};
#endif

struct NotifyRuntime {
  NotifyModuleSettings settings;
  std::unique_ptr<NotifyService> service;
  std::unique_ptr<net::HttpClient> fcm_http;
  std::unique_ptr<net::HttpClient> user_http;
  std::unique_ptr<FcmProvider> fcm;
  std::unique_ptr<WebPushProvider> webpush;
  std::unique_ptr<WebhookProvider> webhook;
  std::unique_ptr<AuthDeviceDirectory> directory;
  std::unique_ptr<OnlineDelivery> online;
  std::unique_ptr<AudienceSource> audience;
  std::unique_ptr<Router> router;
  auth::RequestAuth* request_auth = nullptr;
#if defined(GATEHOUSE_HAS_MESSAGING)
  std::unique_ptr<MessagingNotifySettings> messaging_settings;
#endif
};

}  // namespace

context::ContextModule make_module(NotifyModuleSettings settings) {
  auto runtime = context::make_runtime<NotifyRuntime>(std::move(settings));
  context::ContextModule m("notify", {migrations()});
  m.start = [runtime](context::ContextEnv& env) {
    auto& s = runtime->settings;
    runtime->service = std::make_unique<NotifyService>(env.db, env.pool, env.clock);
    runtime->request_auth = env.services.find<auth::RequestAuth>();

    net::HttpClientSettings operator_http;
    operator_http.request_timeout = s.push_timeout;
    runtime->fcm_http = std::make_unique<net::HttpClient>(env.executor, operator_http);
    net::HttpClientSettings user_http = operator_http;
    user_http.outbound_policy = s.outbound;
    runtime->user_http = std::make_unique<net::HttpClient>(env.executor, user_http);

    runtime->router =
        std::make_unique<Router>(env.executor, *runtime->service, env.pool, env.clock, env.registry, s.router);
    runtime->service->set_on_reads([router = runtime->router.get()] { router->wake(); });
    if (!s.fcm_service_account_file.empty()) {
      auto account = read_service_account(s.fcm_service_account_file);
      if (!account) throw std::runtime_error(account.error().message);
      FcmSettings fcm;
      fcm.endpoint = s.fcm_endpoint;
      fcm.timeout = s.push_timeout;
      fcm.retry = s.retry;
      auto provider = make_fcm_provider(*runtime->fcm_http, env.clock, std::move(*account), fcm);
      if (!provider) throw std::runtime_error(provider.error().message);
      runtime->fcm = std::move(*provider);
      runtime->router->add_provider(*runtime->fcm);
    }
    auto vapid = load_or_create_vapid_key(s.vapid_key_file);
    if (!vapid) throw std::runtime_error(vapid.error().message);
    WebPushSettings wp;
    wp.timeout = s.push_timeout;
    wp.retry = s.retry;
    runtime->webpush =
        std::make_unique<WebPushProvider>(*runtime->user_http, env.clock, VapidIdentity{*vapid, s.vapid_subject}, wp);
    runtime->router->add_provider(*runtime->webpush);
    WebhookSettings wh;
    wh.secret = s.webhook_secret.empty() ? read_or_create_secret(s.webhook_secret_file) : s.webhook_secret;
    wh.timeout = s.push_timeout;
    wh.retry = s.retry;
    runtime->webhook = std::make_unique<WebhookProvider>(*runtime->user_http, env.clock, wh);
    runtime->router->add_provider(*runtime->webhook);

    if (auto* auth = env.services.find<auth::AuthService>()) {
      runtime->directory = std::make_unique<AuthDeviceDirectory>(*auth);
      runtime->router->set_directory(runtime->directory.get());
    }
#if defined(GATEHOUSE_HAS_REALTIME)
    if (auto* gateway = env.services.find<realtime::Gateway>()) {
      runtime->online = std::make_unique<GatewayDelivery>(*gateway, env.services.find<realtime::PresenceService>());
      runtime->router->set_online(runtime->online.get());
    }
#endif
#if defined(GATEHOUSE_HAS_COMMUNITY)
    if (auto* communities = env.services.find<community::CommunityService>()) {
      runtime->audience = std::make_unique<CommunityAudience>(*communities);
      runtime->router->set_audience(runtime->audience.get());
    }
#endif
#if defined(GATEHOUSE_HAS_MESSAGING)
    if (auto* messages = env.services.find<messaging::MessagingService>()) {
      runtime->messaging_settings = std::make_unique<MessagingNotifySettings>(*runtime->service);
      messages->set_notify_settings(runtime->messaging_settings.get());
    }
#endif
    if (!runtime->audience) log::info("notify: no community service; community audiences are not expanded");
    if (!runtime->online) log::info("notify: no real-time gateway on this node; every device gets push");
    env.services.provide(*runtime->service);
    if (s.run_router) runtime->router->start();
  };
  m.consumers = [runtime]() { return std::vector<bus::Consumer>{runtime->router->consumer()}; };
  m.jobs = [runtime]() {
    std::vector<context::Job> out;
    out.push_back({"notify.purge", "@hourly", "deletes old delivery attempts, finished jobs and old notifications",
                   [runtime]() -> Task<Result<void>> {
                     const auto deleted = co_await runtime->service->purge();
                     if (deleted > 0) log::info("notify: purged old rows", {{"rows", std::to_string(deleted)}});
                     co_return ok();
                   }});
    return out;
  };
  m.routes = [runtime](net::Router& router) {
    if (runtime->request_auth == nullptr) {
      log::warn("notify: no request authentication (auth context missing); the center is not served");
      return;
    }
    add_notify_routes(router, *runtime->service, *runtime->request_auth);
    auto* webpush = runtime->webpush.get();
    auto* auth = runtime->request_auth;
    // The VAPID application server key browsers subscribe with.
    router.add("GET", "/v1/notifications/webpush-key",
               [webpush, auth](net::Request& req) -> Task<Result<net::Response>> {
                 auto who = co_await auth->session(req);
                 if (!who) co_return who.error();
                 co_return net::json_response(200, boost::json::object{{"public_key", webpush->public_key()}});
               });
  };
  return m;
}

}  // namespace gh::notify
