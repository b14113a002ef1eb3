#include "core/log.hpp"

#include <atomic>
#include <cmath>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

#include "core/clock.hpp"

namespace gh::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};

const char* level_name(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
    case Level::off:
      return "off";
  }
  return "info";
}

void append_string(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string_view(s.data(), s.size()));
}

spdlog::logger& sink() {
  // spdlog gives us a thread-safe, flushed stdout sink; the JSON line is built by format_line.
  static auto logger = [] {
    auto l = std::make_shared<spdlog::logger>("gatehouse", std::make_shared<spdlog::sinks::stdout_sink_mt>());
    l->set_pattern("%v");
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

}  // namespace

bool parse_level(std::string_view text, Level& out) noexcept {
  for (auto level : {Level::debug, Level::info, Level::warn, Level::error, Level::off}) {
    if (text == level_name(level)) {
      out = level;
      return true;
    }
  }
  return false;
}

void set_level(Level level) noexcept {
  g_level.store(static_cast<int>(level));
}

bool enabled(Level level) noexcept {
  return level != Level::off && static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

std::string format_line(Level level, std::string_view msg, Fields fields) {
  std::string out;
  out.reserve(128);
  out += R"({"ts":")";
  out += format_rfc3339(std::chrono::system_clock::now());
  out += R"(","level":")";
  out += level_name(level);
  out += R"(","msg":)";
  append_string(out, msg);
  for (const auto& f : fields) {
    out += ',';
    append_string(out, f.key);
    out += ':';
    std::visit(
        [&out](const auto& v) {
          using V = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<V, std::string_view>) {
            append_string(out, v);
          } else if constexpr (std::is_same_v<V, bool>) {
            out += v ? "true" : "false";
          } else if constexpr (std::is_same_v<V, double>) {
            out += std::isfinite(v) ? fmt::format("{}", v) : std::string("null");
          } else {
            out += fmt::format("{}", v);
          }
        },
        f.value);
  }
  out += '}';
  return out;
}

void write(Level level, std::string_view msg, Fields fields) {
  if (!enabled(level)) return;
  sink().info(format_line(level, msg, fields));
}

}  // namespace gh::log
