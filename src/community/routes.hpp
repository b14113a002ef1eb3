#pragma once
// HTTP binding of the community context (API.md "Communities, channels, gating" and
// docs/api/communities.md): parse, authenticate with auth's RequestAuth, call the service,
// render. No rules here: the service authorizes every read and write.
#include "auth/routes.hpp"
#include "community/service.hpp"
#include "net/rate_limit.hpp"
#include "net/router.hpp"

namespace gh::community {

/// Rate limits of the routes that ask the chain.
struct CommunityLimits {
  /// Joins per account: each one reads the holdings with eth_calls.
  net::RateLimit join_per_account{0.5, 10.0, 100'000};
};

/// Registers the community routes. The objects must outlive the router.
void add_community_routes(net::Router& router, CommunityService& service, auth::RequestAuth& auth,
                          const CommunityLimits& limits = {});

}  // namespace gh::community
