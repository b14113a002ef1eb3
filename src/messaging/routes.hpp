#pragma once
// HTTP binding of messaging (API.md "Messages" and docs/api/realtime.md): parse, authorize, call
// the service, render. The per-account rate limit of every write (429) lives here.
#include "auth/routes.hpp"
#include "messaging/service.hpp"
#include "net/rate_limit.hpp"
#include "net/router.hpp"

namespace gh::messaging {

/// Registers messaging's routes. The objects must outlive the router. `send_limiter` is the per-account
/// budget of writes, `search_limiter` that of searches.
void add_messaging_routes(net::Router& router, MessagingService& service, auth::RequestAuth& auth,
                          net::RateLimiter& send_limiter, net::RateLimiter& search_limiter,
                          net::RateLimiter& typing_limiter);

/// --test-hooks without a community context: POST /v1/_test/channel-access grants or revokes
/// access in `access`; a revocation publishes community.member_removed like the community context.
void add_test_access_route(net::Router& router, GrantedChannelAccess& access, store::Database& db, BlockingPool& pool,
                           std::function<void()> events_published);

}  // namespace gh::messaging
