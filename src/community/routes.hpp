#pragma once
// HTTP binding of the community context (API.md "Communities, channels, gating" and
// docs/api/communities.md): parse, authenticate with auth's RequestAuth, call the service,
// render. No rules here: the service authorizes every read and write.
#include "auth/routes.hpp"
#include "community/service.hpp"
#include "net/router.hpp"

namespace gh::community {

/// Registers the community routes. The objects must outlive the router.
void add_community_routes(net::Router& router, CommunityService& service, auth::RequestAuth& auth);

}  // namespace gh::community
