#pragma once
// HTTP binding of e2e (API.md "E2E messaging"): parse, authorize, call the service, render.
// Device-scoped calls name the calling device in the X-Device-Id header.
#include "core/task.hpp"
#include "net/rate_limit.hpp"

namespace gh::net {
class Router;
}
namespace gh::auth {
class RequestAuth;
}

namespace gh::e2e {

class E2eService;

/// Per-account rate limits of the delivery service.
struct E2eLimits {
  net::RateLimit post_per_account{20.0, 200.0, 100'000};  ///< messages posted
  net::RateLimit create_per_account{1.0, 30.0, 100'000};  ///< groups created
};

/// Registers the e2e routes.
void add_e2e_routes(net::Router& router, E2eService& service, auth::RequestAuth& auth, const E2eLimits& limits);

}  // namespace gh::e2e
