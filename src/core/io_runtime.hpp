#pragma once
// The process's I/O threads: one io_context run by N threads. Components receive its executor; the
// io_context itself stays out of headers.
#include <cstddef>
#include <memory>

#include "core/task.hpp"

namespace gh {

/// Owns the io_context and the threads that run it.
class IoRuntime {
 public:
  explicit IoRuntime(std::size_t threads);
  ~IoRuntime();
  IoRuntime(const IoRuntime&) = delete;
  IoRuntime& operator=(const IoRuntime&) = delete;

  /// The executor of the shared io_context.
  Executor executor() const;
  /// Starts the threads (idempotent).
  void start();
  /// Lets run() return once no work is left, instead of running forever.
  void release_work_guard();
  /// Stops the io_context at once: pending handlers are not run.
  void stop();
  /// Waits for the threads to finish.
  void join();
  std::size_t threads() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> m_impl;
};

}  // namespace gh
