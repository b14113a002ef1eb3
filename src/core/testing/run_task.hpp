#pragma once
// Test support: runs one coroutine to completion on an io_context and returns its value,
// rethrowing what it threw. The io_context is restarted so a test can run several in turn.
#include <exception>
#include <optional>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "core/task.hpp"

namespace gh::testing {

/// Runs `task` on `ioc` until it finishes; returns its value.
template <class T>
T run(boost::asio::io_context& ioc, Task<T> task) {
  std::optional<T> out;
  boost::asio::co_spawn(
      ioc, [&]() -> Task<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  ioc.restart();
  return std::move(*out);
}

}  // namespace gh::testing
