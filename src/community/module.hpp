#pragma once
// community as a context module: its migrations, its service (provided to the modules after it),
// the consumer that queues re-evaluations on chain events for gated contracts, the re-evaluator
// loop (worker role) and its routes.
#include <chrono>

#include "context/module.hpp"

namespace gh::community {

/// Everything community takes from the process's settings.
struct CommunityModuleSettings {
  /// True on processes running the worker role: the re-evaluator runs there only.
  bool run_reevaluator = true;
  /// How long the re-evaluator waits, with nothing due, when no wake comes. What queues
  /// re-evaluations wakes it: this node's requests at once, and any node's through the bus.
  std::chrono::milliseconds reevaluator_idle_poll{5'000};
};

/// The community context's module description.
context::ContextModule make_module(CommunityModuleSettings settings);

}  // namespace gh::community
