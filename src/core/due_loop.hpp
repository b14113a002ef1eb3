#pragma once
// A worker loop over work that falls due: it runs its step back to back while the step reports
// more, then rests until the earliest item falls due (next_due), at most `idle_poll`, or until a
// wake. Steps run one at a time on the loop's strand; the work itself (database reads, writes) is
// the step's, on whatever it awaits.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.hpp"
#include "core/task.hpp"

namespace gh {

class DueLoop {
 public:
  /// One step: how many items it did; the loop steps again at once after one that did any. A
  /// failure is logged under the loop's name, and the loop rests as after an empty step.
  using Step = std::function<Task<Result<std::size_t>>()>;
  /// How long until the earliest item falls due (zero when one is); none when nothing waits. A
  /// failure is logged, and the loop rests for its idle poll.
  using NextDue = std::function<Task<Result<std::optional<std::chrono::milliseconds>>>()>;

  /// A NextDue's answer from the earliest due time (unix ms) of a read: how long from `now_ms`
  /// (zero when past), none when nothing waits.
  static std::optional<std::chrono::milliseconds> due_in(std::optional<std::int64_t> due_ms, std::int64_t now_ms);

  /// `name` names the loop in its logs.
  DueLoop(Executor executor, std::string name, std::chrono::milliseconds idle_poll, Step step, NextDue next_due);
  /// Stops the loop and waits (bounded) for a step in progress: only a step uses what the
  /// callables borrow.
  ~DueLoop();
  DueLoop(const DueLoop&) = delete;
  DueLoop& operator=(const DueLoop&) = delete;

  /// Starts the loop (once).
  void start();
  /// Runs the next step now instead of resting; a wake during a step makes the loop step again.
  /// Safe from any thread.
  void wake();

 private:
  struct State;
  std::shared_ptr<State> m_state;
};

}  // namespace gh
