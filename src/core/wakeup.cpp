#include "core/wakeup.hpp"

#include <thread>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace gh {

namespace asio = boost::asio;

struct Wakeup::State {
  explicit State(const asio::strand<Executor>& s) : strand(s), timer(s) {}
  asio::strand<Executor> strand;
  asio::steady_timer timer;
  std::atomic<bool> woken{false};
};

Wakeup::Wakeup(const asio::strand<Executor>& strand) : m_state(std::make_shared<State>(strand)) {}

void Wakeup::wake() {
  m_state->woken.store(true);
  auto state = m_state;
  asio::post(state->strand, [state] { state->timer.cancel(); });
}

void Wakeup::begin() noexcept {
  m_state->woken.store(false);
}

bool Wakeup::woken() const noexcept {
  return m_state->woken.load();
}

Task<void> Wakeup::rest(std::chrono::milliseconds duration) {
  if (m_state->woken.load()) co_return;
  // On the strand: the cancel a wake posts there runs once this wait has begun.
  auto state = m_state;
  state->timer.expires_after(duration);
  co_await state->timer.async_wait(asio::as_tuple(asio::use_awaitable));
}

void wait_while_busy(const std::atomic<bool>& busy, std::chrono::milliseconds bound) {
  const auto deadline = std::chrono::steady_clock::now() + bound;
  while (busy.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace gh
