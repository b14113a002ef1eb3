#pragma once
// HTTP binding of realtime: GET /v1/ws (API.md "Real time"), authenticated by the session token
// in `Authorization: Bearer` or `?token=`, optionally naming one of the account's devices with
// `?device_id=`; and the caller's presence, GET and PUT /v1/me/presence.
#include "auth/routes.hpp"
#include "auth/service.hpp"
#include "net/router.hpp"
#include "realtime/gateway.hpp"
#include "realtime/service.hpp"

namespace gh::realtime {

/// Registers /v1/ws and /v1/me/presence on the router. The objects must outlive the router.
void add_realtime_routes(net::Router& router, Gateway& gateway, PresenceService& presence, auth::AuthService& auth,
                         auth::RequestAuth& request_auth);

}  // namespace gh::realtime
