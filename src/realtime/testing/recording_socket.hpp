#pragma once
// A gateway socket for tests: keeps what the session sends and how it closed the socket.
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "net/websocket.hpp"

namespace gh::realtime::testing {

// Keeps what the session sends, and how it closed the socket.
class RecordingSocket final : public net::WebSocket {
 public:
  explicit RecordingSocket(Executor executor) : m_executor(std::move(executor)) {}

  bool send(const net::SharedFrame& message) override {
    std::lock_guard lock(m_mutex);
    if (m_close_code) return false;
    m_sent.emplace_back(message->bytes());
    return true;
  }
  void close(std::uint16_t code, std::string) override {
    std::lock_guard lock(m_mutex);
    if (!m_close_code) m_close_code = code;
  }
  bool closing() const override {
    std::lock_guard lock(m_mutex);
    return m_close_code.has_value();
  }
  Executor executor() const override { return m_executor; }
  std::size_t queued_messages() const override { return 0; }
  std::size_t queued_bytes() const override { return 0; }
  std::size_t max_queued_messages() const override { return 1000; }
  std::size_t max_queued_bytes() const override { return 1 << 20; }

  std::optional<std::uint16_t> close_code() const {
    std::lock_guard lock(m_mutex);
    return m_close_code;
  }
  // How many frames sent so far hold `text` (the raw frame bytes: header, then the JSON).
  std::size_t sent_with(const std::string& text) const {
    std::lock_guard lock(m_mutex);
    std::size_t n = 0;
    for (const auto& f : m_sent) n += f.find(text) != std::string::npos ? 1U : 0U;
    return n;
  }

 private:
  Executor m_executor;
  mutable std::mutex m_mutex;
  std::vector<std::string> m_sent;
  std::optional<std::uint16_t> m_close_code;
};

}  // namespace gh::realtime::testing
