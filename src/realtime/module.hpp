#pragma once
// realtime as a context module: the gateway of this node (provided to later modules as
// realtime::Gateway), the /v1/ws endpoint, and the consumer that closes the sockets of revoked
// sessions.
#include "context/module.hpp"
#include "realtime/gateway.hpp"

namespace gh::realtime {

/// The realtime context's module description.
context::ContextModule make_module(GatewaySettings settings);

}  // namespace gh::realtime
