#pragma once
// notify as a context module: its migrations, the center's routes, the router (worker role) and
// its push providers, built from the process's settings.
#include <chrono>
#include <string>

#include "context/module.hpp"
#include "net/outbound_policy.hpp"
#include "notify/router.hpp"

namespace gh::notify {

/// Everything notify takes from the process's settings.
struct NotifyModuleSettings {
  /// Run the router (worker role).
  bool run_router = true;
  /// A Google service-account JSON file; empty: no FCM.
  std::string fcm_service_account_file;
  std::string fcm_endpoint = "https://fcm.googleapis.com";
  /// The VAPID private key file, created when missing.
  std::string vapid_key_file;
  std::string vapid_subject = "mailto:admin@localhost";
  /// The webhook signing secret; empty: read or created in `webhook_secret_file`.
  std::string webhook_secret;
  std::string webhook_secret_file;
  std::chrono::milliseconds push_timeout{10'000};
  RetryPolicy retry;
  RouterSettings router;
  /// Where Web Push endpoints and webhook URLs (user-supplied) may point.
  net::OutboundPolicy outbound;
};

/// The notify context's module description.
context::ContextModule make_module(NotifyModuleSettings settings);

}  // namespace gh::notify
