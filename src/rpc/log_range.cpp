#include "rpc/log_range.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <string>
#include <string_view>

namespace gh::rpc {

namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  return out;
}

bool contains(std::string_view haystack, std::string_view needle) {
  return haystack.find(needle) != std::string_view::npos;
}

/// Parses "0x1a2b" (any case) at the start of `text`; advances `text` past it.
std::optional<std::uint64_t> take_hex(std::string_view& text) {
  while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
  if (text.size() < 3 || text[0] != '0' || text[1] != 'x') return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data() + 2, text.data() + text.size(), value, 16);
  if (ec != std::errc() || end == text.data() + 2) return std::nullopt;
  text.remove_prefix(static_cast<std::size_t>(end - text.data()));
  return value;
}

/// "[0xA, 0xB]" anywhere in a (lowercased) message.
std::optional<std::pair<std::uint64_t, std::uint64_t>> find_suggested_range(std::string_view text) {
  for (auto open = text.find('['); open != std::string_view::npos; open = text.find('[', open + 1)) {
    auto rest = text.substr(open + 1);
    auto from = take_hex(rest);
    if (!from || rest.empty() || rest.front() != ',') continue;
    rest.remove_prefix(1);
    auto to = take_hex(rest);
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (!to || rest.empty() || rest.front() != ']' || *to < *from) continue;
    return std::make_pair(*from, *to);
  }
  return std::nullopt;
}

/// The decimal number (commas allowed, optional K suffix) right after `marker` in `text`.
std::optional<std::uint64_t> number_after(std::string_view text, std::string_view marker) {
  const auto at = text.find(marker);
  if (at == std::string_view::npos) return std::nullopt;
  auto rest = text.substr(at + marker.size());
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  std::uint64_t value = 0;
  bool any = false;
  while (!rest.empty() && (std::isdigit(static_cast<unsigned char>(rest.front())) || rest.front() == ',')) {
    if (rest.front() != ',') {
      value = value * 10 + static_cast<std::uint64_t>(rest.front() - '0');
      any = true;
    }
    rest.remove_prefix(1);
    if (value > 1'000'000'000) return std::nullopt;
  }
  if (!any) return std::nullopt;
  if (!rest.empty() && rest.front() == 'k') value *= 1000;
  return value;
}

}  // namespace

std::optional<LogRangeRefusal> recognize_log_range_refusal(const RpcError& error) {
  // Our own response size limit: a narrower range gives a smaller answer.
  if (error.kind == RpcErrc::too_large) return LogRangeRefusal{};
  if (error.kind != RpcErrc::rpc) return std::nullopt;
  const std::string text = lowercase(error.message + " " + error.data);
  // Too far, not too wide: splitting would not help.
  if (contains(text, "beyond current head")) return std::nullopt;

  const bool recognized = contains(text, "log response size exceeded") || contains(text, "query returned more than") ||
                          contains(text, "block range too large") || contains(text, "range too large") ||
                          contains(text, "block range is too wide") || contains(text, "maximum block range") ||
                          contains(text, "eth_getlogs is limited to") || contains(text, "block range should work") ||
                          contains(text, "try with this block range") || contains(text, "too many logs") ||
                          contains(text, "response size should not") ||
                          // Infura's -32005 is also its rate-limit code: only a size complaint counts.
                          (error.code == -32005 && !contains(text, "rate") && !contains(text, "request count"));
  if (!recognized) return std::nullopt;

  LogRangeRefusal out;
  out.suggested = find_suggested_range(text);
  for (std::string_view marker :
       {"up to a", "limited to a", "maximum block range:", "maximum block range of", "(maximum"}) {
    if (auto span = number_after(text, marker); span && *span > 0) {
      out.max_span = span;
      break;
    }
  }
  return out;
}

}  // namespace gh::rpc
