#include "core/due_loop.hpp"

#include <algorithm>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/strand.hpp>

#include "core/detached.hpp"
#include "core/log.hpp"
#include "core/wakeup.hpp"

namespace gh {

namespace asio = boost::asio;

struct DueLoop::State {
  // Executors are cheap handles, passed by value throughout.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  State(Executor ex, std::string n, std::chrono::milliseconds idle, Step s, NextDue d)
      : strand(asio::make_strand(ex)),
        wakeup(strand),
        name(std::move(n)),
        idle_poll(idle),
        step(std::move(s)),
        next_due(std::move(d)) {}

  Task<void> run(std::shared_ptr<State> self) {
    while (!stopping.load()) {
      wakeup.begin();
      bool more = false;
      // With nothing left now: until the earliest item falls due, at most idle_poll.
      auto rest = idle_poll;
      in_step.store(true);
      // Read after in_step is set: a destructor that saw no step under way stops this one.
      if (stopping.load()) break;
      try {
        auto done = co_await step();
        if (!done) {
          log::warn("worker loop step failed", {{"loop", name}, {"error", done.error().message}});
        } else {
          more = *done > 0;
        }
        if (!more) {
          auto next = co_await next_due();
          if (!next) {
            log::warn("worker loop could not read its next due time",
                      {{"loop", name}, {"error", next.error().message}});
          } else if (*next) {
            rest = std::min(rest, std::max(**next, std::chrono::milliseconds(0)));
          }
        }
      } catch (const std::exception& e) {
        log::error("worker loop step failed", {{"loop", name}, {"error", e.what()}});
      }
      in_step.store(false);
      if (stopping.load()) break;
      if (more) continue;
      co_await wakeup.rest(rest);
    }
    in_step.store(false);
    (void)self;
  }

  asio::strand<Executor> strand;
  Wakeup wakeup;
  std::string name;
  std::chrono::milliseconds idle_poll;
  Step step;
  NextDue next_due;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  std::atomic<bool> in_step{false};
};

std::optional<std::chrono::milliseconds> DueLoop::due_in(std::optional<std::int64_t> due_ms, std::int64_t now_ms) {
  if (!due_ms) return std::nullopt;
  return std::chrono::milliseconds(std::max<std::int64_t>(0, *due_ms - now_ms));
}

DueLoop::DueLoop(Executor executor, std::string name, std::chrono::milliseconds idle_poll, Step step, NextDue next_due)
    : m_state(std::make_shared<State>(std::move(executor), std::move(name), idle_poll, std::move(step),
                                      std::move(next_due))) {}

DueLoop::~DueLoop() {
  m_state->stopping.store(true);
  wake();
  wait_while_busy(m_state->in_step);
}

void DueLoop::start() {
  if (m_state->running.exchange(true)) return;
  asio::co_spawn(m_state->strand, m_state->run(m_state), LoggedDetached("due_loop"));
}

void DueLoop::wake() {
  m_state->wakeup.wake();
}

}  // namespace gh
