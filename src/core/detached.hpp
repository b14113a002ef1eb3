#pragma once
// The completion of a coroutine spawned to run on its own (asio::co_spawn). asio::detached drops an
// exception that escapes the coroutine without a word; this logs it at error level under the
// coroutine's name, so that a loop or a catch-up that a failure ended does not end unseen.
#include <exception>

namespace gh {

class LoggedDetached {
 public:
  /// `name`: a string literal naming the coroutine in the log ("bus.poll").
  explicit LoggedDetached(const char* name) noexcept : m_name(name) {}
  void operator()(const std::exception_ptr& escaped) const;

 private:
  const char* m_name;
};

}  // namespace gh
