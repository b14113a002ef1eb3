#pragma once
// The loop that works through queued re-evaluations (chain events on gated contracts, edited
// gates) in batches, on the I/O executor with database work on the blocking pool, so requests
// keep being served while thousands of members are looked at again.
#include <chrono>
#include <memory>

#include "bus/bus.hpp"
#include "community/service.hpp"
#include "core/due_loop.hpp"
#include "core/task.hpp"

namespace gh::community {

/// Runs CommunityService::reevaluate_batch until nothing queued is due, then waits for a wake
/// (what queues an account wakes it: the chain events' consumer, and a gate edit or a join on any
/// node through consumer()), for the earliest queued account to fall due (one deferred while its
/// chain was unreachable), or `idle_poll`.
class Reevaluator {
 public:
  Reevaluator(Executor executor, CommunityService& service,
              std::chrono::milliseconds idle_poll = std::chrono::milliseconds(5'000));
  Reevaluator(const Reevaluator&) = delete;
  Reevaluator& operator=(const Reevaluator&) = delete;

  /// Starts the loop (once).
  void start();
  /// Runs the next batch now instead of waiting. Safe from any thread.
  void wake();
  /// The bus consumer of reevaluation_queued_topic: wakes this loop once such an event is
  /// committed, whichever node queued the re-evaluations. It writes nothing of its own.
  bus::Consumer consumer();

 private:
  /// Its destruction waits (bounded) for a batch in progress: only a batch uses the service.
  std::shared_ptr<DueLoop> m_loop;  // shared: the consumer's wake holds it weakly
};

}  // namespace gh::community
