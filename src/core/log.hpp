#pragma once
// Structured logging: one JSON object per line on stdout, e.g.
//   {"ts":"2026-11-23T04:28:00.123Z","level":"info","msg":"listening","addr":"127.0.0.1:8080"}
// Secrets never go through here: callers log ids and hashes, not tokens or keys.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace gh::log {

/// Severity, lowest first.
enum class Level { debug = 0, info = 1, warn = 2, error = 3, off = 4 };

/// One key/value of a log line.
struct Field {
  using Value = std::variant<std::string_view, std::int64_t, std::uint64_t, double, bool>;
  std::string_view key;
  Value value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
  template <class I>
  requires(std::is_integral_v<I> && !std::is_same_v<I, bool>) Field(std::string_view k, I v)
      : key(k),
        value(std::is_signed_v<I> ? Value(static_cast<std::int64_t>(v)) : Value(static_cast<std::uint64_t>(v))) {}
};

using Fields = std::initializer_list<Field>;

/// Parses "debug|info|warn|error|off"; false when unknown.
bool parse_level(std::string_view text, Level& out) noexcept;
/// Sets the minimum level written (default info).
void set_level(Level level) noexcept;
/// True when a line of this level would be written.
bool enabled(Level level) noexcept;
/// Renders one line (without writing it); exposed for tests.
std::string format_line(Level level, std::string_view msg, Fields fields);
/// Writes one line if the level is enabled. Thread-safe.
void write(Level level, std::string_view msg, Fields fields = {});

inline void debug(std::string_view msg, Fields fields = {}) {
  write(Level::debug, msg, fields);
}
inline void info(std::string_view msg, Fields fields = {}) {
  write(Level::info, msg, fields);
}
inline void warn(std::string_view msg, Fields fields = {}) {
  write(Level::warn, msg, fields);
}
inline void error(std::string_view msg, Fields fields = {}) {
  write(Level::error, msg, fields);
}

}  // namespace gh::log
