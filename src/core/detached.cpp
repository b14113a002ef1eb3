#include "core/detached.hpp"

#include "core/log.hpp"

namespace gh {

void LoggedDetached::operator()(const std::exception_ptr& escaped) const {
  if (!escaped) return;
  try {
    std::rethrow_exception(escaped);
  } catch (const std::exception& e) {
    log::error("a coroutine ended by an exception", {{"coroutine", m_name}, {"what", e.what()}});
  } catch (...) {
    log::error("a coroutine ended by an exception", {{"coroutine", m_name}, {"what", "unknown exception"}});
  }
}

}  // namespace gh
