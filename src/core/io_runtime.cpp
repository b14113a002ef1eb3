#include "core/io_runtime.hpp"

#include <optional>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace gh {

struct IoRuntime::Impl {
  explicit Impl(std::size_t n) : io(static_cast<int>(n)), threads(n == 0 ? 1 : n), guard(io.get_executor()) {}
  boost::asio::io_context io;
  std::size_t threads;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guard;
  std::vector<std::thread> running;
};

IoRuntime::IoRuntime(std::size_t threads) : m_impl(std::make_unique<Impl>(threads)) {}

IoRuntime::~IoRuntime() {
  stop();
  join();
}

Executor IoRuntime::executor() const {
  return m_impl->io.get_executor();
}

void IoRuntime::start() {
  if (!m_impl->running.empty()) return;
  for (std::size_t i = 0; i < m_impl->threads; ++i) {
    m_impl->running.emplace_back([this] { m_impl->io.run(); });
  }
}

void IoRuntime::release_work_guard() {
  m_impl->guard.reset();
}

void IoRuntime::stop() {
  m_impl->io.stop();
}

void IoRuntime::join() {
  for (auto& t : m_impl->running) {
    if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
  }
  m_impl->running.clear();
}

std::size_t IoRuntime::threads() const noexcept {
  return m_impl->threads;
}

}  // namespace gh
