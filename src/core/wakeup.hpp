#pragma once
// A worker loop's wake-up, on the loop's strand: wake() from any thread ends the loop's rest, or,
// when it comes during a step, makes the loop step again instead of resting. The loop calls
// begin() before each step and rest() after one that found nothing to do: a wake that comes
// anywhere between the two is never lost.
#include <atomic>
#include <chrono>
#include <memory>

#include <boost/asio/strand.hpp>

#include "core/task.hpp"

namespace gh {

class Wakeup {
 public:
  explicit Wakeup(const boost::asio::strand<Executor>& strand);

  /// From any thread: ends the rest under way, or makes the next rest() return at once.
  void wake();
  /// Before each step: a wake from here on is for what the step may not see.
  void begin() noexcept;
  /// Whether a wake came since begin().
  bool woken() const noexcept;
  /// On the strand, after a step: waits `duration`, or until a wake; none when one came since
  /// begin().
  Task<void> rest(std::chrono::milliseconds duration);

 private:
  struct State;
  std::shared_ptr<State> m_state;  // a wake's posted cancel keeps the timer alive
};

/// For a loop being stopped, once it is told to stop and woken: waits while `busy` (a step in
/// progress, the only time a loop uses what it borrows; or the loop itself), at most `bound`,
/// since the I/O threads that would finish it may already be gone. Blocks the calling thread.
void wait_while_busy(const std::atomic<bool>& busy, std::chrono::milliseconds bound = std::chrono::seconds(2));

}  // namespace gh
