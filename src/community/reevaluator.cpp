#include "community/reevaluator.hpp"

#include <atomic>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>

#include "core/log.hpp"
#include "core/wakeup.hpp"

namespace gh::community {

namespace asio = boost::asio;

struct Reevaluator::State {
  // Executors are cheap handles, passed by value throughout.
  // NOLINTNEXTLINE(performance-unnecessary-value-param)
  State(Executor ex, CommunityService& s, std::chrono::milliseconds interval)
      : strand(asio::make_strand(ex)), wakeup(strand), service(s), idle_poll(interval) {}

  Task<void> run(std::shared_ptr<State> self) {
    while (!stopping.load()) {
      wakeup.begin();
      bool more = false;
      // With nothing due: until the earliest queued account falls due, at most idle_poll.
      auto rest = idle_poll;
      in_batch.store(true);
      try {
        auto done = co_await service.reevaluate_batch();
        if (!done) {
          log::warn("community re-evaluation failed", {{"error", done.error().message}});
        } else {
          more = *done > 0;
        }
        if (!more) {
          auto next = co_await service.next_reevaluation_in();
          if (next && *next) rest = std::min(rest, **next);
        }
      } catch (const std::exception& e) {
        log::error("community re-evaluation failed", {{"error", e.what()}});
      }
      in_batch.store(false);
      if (stopping.load()) break;
      if (more) continue;
      co_await wakeup.rest(rest);
    }
    (void)self;
  }

  asio::strand<Executor> strand;
  Wakeup wakeup;
  CommunityService& service;
  std::chrono::milliseconds idle_poll;
  std::atomic<bool> stopping{false};
  std::atomic<bool> running{false};
  std::atomic<bool> in_batch{false};
};

Reevaluator::Reevaluator(Executor executor, CommunityService& service, std::chrono::milliseconds idle_poll)
    : m_state(std::make_shared<State>(std::move(executor), service, idle_poll)) {}

Reevaluator::~Reevaluator() {
  m_state->stopping.store(true);
  wake();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (m_state->in_batch.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

void Reevaluator::start() {
  if (m_state->running.exchange(true)) return;
  asio::co_spawn(m_state->strand, m_state->run(m_state), asio::detached);
}

void Reevaluator::wake() {
  m_state->wakeup.wake();
}

bus::Consumer Reevaluator::consumer() {
  std::weak_ptr<State> weak = m_state;
  bus::Consumer c;
  c.name = "community.reevaluation_wakes";
  c.topics = {std::string(reevaluation_queued_topic)};
  // The queue rows came with the event, in its transaction: there is nothing to write.
  c.apply = [](store::Tx&, const bus::Event&) {};
  c.committed = [weak] {
    if (auto state = weak.lock()) state->wakeup.wake();
  };
  return c;
}

}  // namespace gh::community
