#pragma once
// HTTP binding of realtime: GET /v1/ws (API.md "Real time"), authenticated by the session token
// in `Authorization: Bearer` or `?token=`, optionally naming one of the account's devices with
// `?device_id=`.
#include "auth/service.hpp"
#include "net/router.hpp"
#include "realtime/gateway.hpp"

namespace gh::realtime {

/// Registers /v1/ws on the router. The objects must outlive the router.
void add_realtime_routes(net::Router& router, Gateway& gateway, auth::AuthService& auth);

}  // namespace gh::realtime
