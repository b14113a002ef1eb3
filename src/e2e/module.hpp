#pragma once
// e2e as a context module: its migrations, its service (built once auth's is there), its routes,
// the consumer that follows auth's devices and the retention purge job.
#include "context/module.hpp"
#include "e2e/model.hpp"
#include "e2e/routes.hpp"

namespace gh::e2e {

/// Everything e2e takes from the process's settings.
struct E2eModuleSettings {
  E2eSettings e2e;
  E2eLimits limits;
  std::string purge_schedule = "17 * * * *";  ///< cron: hourly, off the top of the hour
};

/// The e2e context's module description.
context::ContextModule make_module(E2eModuleSettings settings);

}  // namespace gh::e2e
