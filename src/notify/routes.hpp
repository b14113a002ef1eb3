#pragma once
// HTTP binding of the notification center (docs/api/notifications.md): parse, authorize, call
// the service, render.
#include "auth/routes.hpp"
#include "net/router.hpp"
#include "notify/service.hpp"

namespace gh::notify {

/// The API rendering of a notification.
boost::json::object render_notification(const Notification& n);

/// Registers the center's routes. The objects must outlive the router.
void add_notify_routes(net::Router& router, NotifyService& service, auth::RequestAuth& auth);

}  // namespace gh::notify
