#include "auth/routes.hpp"

#include <boost/json/serialize.hpp>

#include "auth/model.hpp"
#include "eth/address.hpp"
#include "net/json.hpp"

namespace gh::auth {
namespace {

namespace json = boost::json;
using net::Request;
using net::Response;

// A rate limit's refusal; net::error_response turns retry_after into the Retry-After header.
Error limited(const net::RateDecision& d, std::string message = "too many sign-in attempts; slow down") {
  return rate_limited(std::move(message), d.retry_after);
}

json::object render_device(const DeviceInfo& d) {
  return {{"device_id", d.id},
          {"name", d.name},
          {"push_provider", d.push_provider},
          {"created_at", format_rfc3339(d.created_at)},
          {"key_packages", d.key_packages}};
}

struct Limiters {
  Limiters(const SignInLimits& l, const KeyFetchLimits& k)
      : nonce_ip(l.nonce_per_ip),
        verify_ip(l.verify_per_ip),
        verify_address(l.verify_per_address),
        keys_caller(k.per_caller),
        keys_target(k.per_target) {}
  net::RateLimiter nonce_ip;
  net::RateLimiter verify_ip;
  net::RateLimiter verify_address;
  net::RateLimiter keys_caller;
  net::RateLimiter keys_target;
};

}  // namespace

Task<Result<Principal>> RequestAuth::session(const Request& request) {
  auto header = request.header("authorization");
  if (!header)
    co_return make_error(ErrorKind::unauthorized, "unauthenticated", "sign in first: Authorization: Bearer <token>");
  constexpr std::string_view bearer = "Bearer ";
  if (header->size() <= bearer.size() || header->substr(0, bearer.size()) != bearer) {
    co_return make_error(ErrorKind::unauthorized, "unauthenticated",
                         "the Authorization header must be 'Bearer <token>'");
  }
  co_return co_await m_service.authenticate(header->substr(bearer.size()));
}

Task<Result<ApiPrincipal>> RequestAuth::api_key(const Request& request, std::string_view scope) {
  auto header = request.header("x-api-key");
  if (!header) co_return make_error(ErrorKind::unauthorized, "unauthenticated", "an X-Api-Key header is required");
  auto principal = co_await m_service.authenticate_api_key(*header);
  if (!principal) co_return principal;
  if (!principal->has_scope(scope)) {
    co_return make_error(ErrorKind::forbidden, "missing_scope", "the API key lacks the scope " + std::string(scope));
  }
  co_return principal;
}

void add_auth_routes(net::Router& router, AuthService& service, RequestAuth& auth, const SignInLimits& sign_in,
                     const KeyFetchLimits& key_fetch) {
  auto limiters = std::make_shared<Limiters>(sign_in, key_fetch);

  router.add("POST", "/v1/auth/nonce", [&service, limiters](Request& req) -> Task<Result<Response>> {
    if (auto d = limiters->nonce_ip.take(req.remote_ip); !d.allowed) co_return limited(d);
    auto issued = co_await service.issue_nonce();
    if (!issued) co_return issued.error();
    co_return net::json_response(
        200, json::object{{"nonce", issued->nonce}, {"expires_at", format_rfc3339(issued->expires_at)}});
  });

  router.add("POST", "/v1/auth/verify", [&service, limiters](Request& req) -> Task<Result<Response>> {
    if (auto d = limiters->verify_ip.take(req.remote_ip); !d.allowed) co_return limited(d);
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const auto* message = body->if_contains("message");
    const auto* signature = body->if_contains("signature");
    if (message == nullptr || !message->is_string() || signature == nullptr || !signature->is_string()) {
      co_return bad_input("invalid_field", "message and signature must be strings");
    }
    auto ua = req.header("user-agent");
    // Built before the co_await: GCC 12 miscompiles braced temporaries inside co_await expressions.
    ClientInfo client{req.remote_ip, ua ? std::string(*ua) : std::string()};
    auto text = std::string(message->as_string());
    auto signature_text = std::string(signature->as_string());
    // Charged by the service only once the message is for us and carries a live nonce.
    AuthService::SignInGate gate = [limiters](const eth::Address& address) -> Result<void> {
      auto d = limiters->verify_address.take(eth::to_lower_hex(address));
      if (!d.allowed) return limited(d, "too many sign-in attempts for this address; slow down");
      return ok();
    };
    auto signed_in =
        co_await service.verify(std::move(text), std::move(signature_text), std::move(client), std::move(gate));
    if (!signed_in) co_return signed_in.error();
    co_return net::json_response(200, json::object{{"token", signed_in->token},
                                                   {"address", eth::to_checksum(signed_in->address)},
                                                   {"session_id", signed_in->session_id},
                                                   {"expires_at", format_rfc3339(signed_in->expires_at)},
                                                   {"new_account", signed_in->new_account}});
  });

  router.add("POST", "/v1/auth/logout", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto r = co_await service.logout(*who); !r) co_return r.error();
    co_return Response::text(204, "", "application/json");
  });

  router.add("GET", "/v1/me", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto me = co_await service.me(*who);
    if (!me) co_return me.error();
    json::array devices;
    for (const auto& d : me->devices) devices.push_back(render_device(d));
    co_return net::json_response(200, json::object{{"address", eth::to_checksum(me->address)},
                                                   {"created_at", format_rfc3339(me->created_at)},
                                                   {"session_id", who->session_id},
                                                   {"devices", devices}});
  });

  router.add("GET", "/v1/sessions", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto list = co_await service.sessions(*who);
    if (!list) co_return list.error();
    json::array sessions;
    for (const auto& s : *list) {
      sessions.push_back(json::object{{"id", s.id},
                                      {"created_at", format_rfc3339(s.created_at)},
                                      {"expires_at", format_rfc3339(s.expires_at)},
                                      {"ip", s.ip},
                                      {"user_agent", s.user_agent},
                                      {"current", s.current}});
    }
    co_return net::json_response(200, json::object{{"sessions", sessions}});
  });

  router.add("DELETE", "/v1/sessions/{id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto r = co_await service.revoke_session(*who, std::string(req.param("id"))); !r) co_return r.error();
    co_return Response::text(204, "", "application/json");
  });

  router.add("POST", "/v1/devices", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    auto registration = parse_device_registration(*body, service.settings());
    if (!registration) co_return registration.error();
    auto id = co_await service.register_device(*who, std::move(*registration));
    if (!id) co_return id.error();
    co_return net::json_response(201, json::object{{"device_id", *id}});
  });

  router.add("POST", "/v1/devices/{device_id}/key-packages", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto body = net::parse_json_object(req);
    if (!body) co_return body.error();
    const std::string device_id(req.param("device_id"));
    auto upload = parse_key_package_upload(*body, service.settings());
    if (!upload) co_return upload.error();
    auto held = co_await service.replenish(*who, device_id, std::move(upload->first), std::move(upload->second));
    if (!held) co_return held.error();
    co_return net::json_response(200, json::object{{"device_id", device_id}, {"key_packages", *held}});
  });

  router.add("DELETE", "/v1/devices/{device_id}", [&service, &auth](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    if (auto r = co_await service.delete_device(*who, std::string(req.param("device_id"))); !r) co_return r.error();
    co_return Response::text(204, "", "application/json");
  });

  router.add("GET", "/v1/keys/{address}", [&service, &auth, limiters](Request& req) -> Task<Result<Response>> {
    auto who = co_await auth.session(req);
    if (!who) co_return who.error();
    auto address = parse_request_address(req.param("address"));
    if (!address) co_return address.error();
    // Each fetch hands out one-time key packages: bound it per caller and per target account.
    if (auto d = limiters->keys_caller.take(eth::to_lower_hex(who->address)); !d.allowed) {
      co_return limited(d, "too many key fetches; slow down");
    }
    // Past the per-target limit the account stays reachable through its last-resort packages,
    // while its one-time packages (forward secrecy) cannot be drained: no 429 that an attacker
    // could keep a victim behind.
    const bool last_resort_only = !limiters->keys_target.take(eth::to_lower_hex(*address)).allowed;
    // ?devices=ID,ID: only those devices (a group member adding the devices it lacks).
    std::vector<std::string> only;
    if (auto list = req.query_param("devices")) {
      std::string_view rest = *list;
      while (!rest.empty() && only.size() <= service.settings().max_devices) {
        const auto comma = rest.find(',');
        if (comma != 0) only.emplace_back(rest.substr(0, comma));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      if (only.empty() || only.size() > service.settings().max_devices) {
        co_return bad_input("invalid_query", "devices is a comma-separated list of up to max_devices device ids");
      }
    }
    auto handed = co_await service.key_packages(*address, std::move(only), last_resort_only);
    if (!handed) co_return handed.error();
    json::array devices;
    for (const auto& p : *handed) {
      devices.push_back(json::object{{"device_id", p.device_id},
                                     {"identity_key", p.identity_key},
                                     {"key_package", p.key_package},
                                     {"last_resort", p.last_resort}});
    }
    co_return net::json_response(200, json::object{{"address", eth::to_checksum(*address)}, {"devices", devices}});
  });

  router.add("GET", "/v1/bot/whoami", [&auth](Request& req) -> Task<Result<Response>> {
    auto bot = co_await auth.api_key(req, "bot.read");
    if (!bot) co_return bot.error();
    json::array scopes;
    for (const auto& s : bot->scopes) scopes.push_back(json::string(s));
    co_return net::json_response(200, json::object{{"key_id", bot->key_id}, {"name", bot->name}, {"scopes", scopes}});
  });
}

}  // namespace gh::auth
