#pragma once
// --test-hooks: endpoints and a consumer that let the integration tests prove delivery guarantees
// through the real binary (publish, crash, restart, count effects) and drain a slow request.
// Registered only with --test-hooks; never in production.
#include "context/module.hpp"

namespace gh::app {

/// The test hooks as a context module (tables testhooks_*, topic testhooks.recorded).
context::ContextModule test_hooks_module();

}  // namespace gh::app
