#pragma once
// The loop that works through queued re-evaluations (chain events on gated contracts, edited
// gates) in batches, on the I/O executor with database work on the blocking pool, so requests
// keep being served while thousands of members are looked at again.
#include <chrono>
#include <memory>

#include "community/service.hpp"
#include "core/task.hpp"

namespace gh::community {

/// Runs CommunityService::reevaluate_batch until the queue is empty, then waits for a wake or
/// the poll interval.
class Reevaluator {
 public:
  Reevaluator(Executor executor, CommunityService& service,
              std::chrono::milliseconds poll_interval = std::chrono::milliseconds(250));
  /// Waits (bounded) for a batch in progress: only a batch uses the service.
  ~Reevaluator();
  Reevaluator(const Reevaluator&) = delete;
  Reevaluator& operator=(const Reevaluator&) = delete;

  /// Starts the loop (once).
  void start();
  /// Runs the next batch now instead of at the next poll. Safe from any thread.
  void wake();

 private:
  struct State;
  std::shared_ptr<State> m_state;
};

}  // namespace gh::community
