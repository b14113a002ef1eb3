#pragma once
// HTTP binding of auth (API.md "Auth" and "Devices and keys"): parse, authorize, call the
// service, render. Also the request authentication other contexts' routes use.
#include <memory>

#include "auth/service.hpp"
#include "net/http.hpp"
#include "net/rate_limit.hpp"
#include "net/router.hpp"

namespace gh::auth {

/// Rate limits of sign-in, per client IP and per signing address.
struct SignInLimits {
  net::RateLimit nonce_per_ip{1.0, 30.0, 100'000};
  net::RateLimit verify_per_ip{1.0, 30.0, 100'000};
  net::RateLimit verify_per_address{0.2, 10.0, 100'000};
};

/// Rate limits of key package fetches (each one hands out one-time key packages): per signed-in
/// caller, and per target account so that no number of callers can drain one account's keys.
struct KeyFetchLimits {
  net::RateLimit per_caller{1.0, 30.0, 100'000};
  net::RateLimit per_target{0.2, 20.0, 100'000};
};

/// Authenticates requests: a session from `Authorization: Bearer`, a bot from `X-Api-Key`.
class RequestAuth {
 public:
  explicit RequestAuth(AuthService& service) : m_service(service) {}
  /// The signed-in caller; 401 when the header is missing or the session is not valid.
  Task<Result<Principal>> session(const net::Request& request);
  /// The calling bot, holding `scope`; 401 without a valid key, 403 without the scope.
  Task<Result<ApiPrincipal>> api_key(const net::Request& request, std::string_view scope);

 private:
  AuthService& m_service;
};

/// Registers auth's routes on the router. The objects must outlive the router.
void add_auth_routes(net::Router& router, AuthService& service, RequestAuth& auth, const SignInLimits& sign_in,
                     const KeyFetchLimits& key_fetch);

}  // namespace gh::auth
