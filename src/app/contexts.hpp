#pragma once
// The list of context modules this product is made of. Adding a context is one line in
// contexts.cpp (and its settings mapping, if it has settings).
#include <vector>

#include "app/settings.hpp"
#include "community/module.hpp"
#include "context/module.hpp"
#include "messaging/module.hpp"
#include "notify/module.hpp"

namespace gh::app {

/// Every context module the process runs, in start order (a module may use the services of
/// those before it). The test hooks are one of them only with --test-hooks.
std::vector<context::ContextModule> context_modules(const Settings& settings);

/// What messaging, notify and community take from the settings: among them, whether this node runs
/// the poll results' loop, the router and the re-evaluator (with the worker role).
messaging::MessagingModuleSettings messaging_settings(const Settings& settings);
notify::NotifyModuleSettings notify_settings(const Settings& settings);
community::CommunityModuleSettings community_settings(const Settings& settings);

/// Every module's migrations, in the order they apply: the bus's and the job scheduler's, then
/// each context's.
std::vector<store::MigrationSet> all_migrations(const std::vector<context::ContextModule>& modules);

}  // namespace gh::app
