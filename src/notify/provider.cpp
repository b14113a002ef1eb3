#include "notify/provider.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <ctime>

namespace gh::notify {

const char* to_string(PushOutcome outcome) noexcept {
  switch (outcome) {
    case PushOutcome::delivered:
      return "delivered";
    case PushOutcome::token_invalid:
      return "token_invalid";
    case PushOutcome::rejected:
      return "rejected";
    case PushOutcome::failed:
      return "failed";
    case PushOutcome::withdrawn:
      return "withdrawn";
  }
  return "failed";
}

Task<void> sleep_for(std::chrono::milliseconds delay) {
  auto executor = co_await boost::asio::this_coro::executor;
  boost::asio::steady_timer timer(executor, delay);
  co_await timer.async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
}

Task<PushResult> with_retries(const RetryPolicy& policy, const std::function<Task<TryResult>()>& attempt,
                              const std::function<Task<bool>()>& still_wanted) {
  int retries = 0;
  for (;;) {
    TryResult tried = co_await attempt();
    tried.result.retries = retries;
    if (tried.result.outcome != PushOutcome::failed || retries >= policy.max_retries) co_return tried.result;
    std::chrono::milliseconds delay = policy.backoff_base * (std::int64_t{1} << retries);
    if (delay > policy.backoff_max) delay = policy.backoff_max;
    if (tried.retry_after) delay = std::min(*tried.retry_after, policy.retry_after_max);
    ++retries;
    if (policy.sleep) {
      co_await policy.sleep(delay);
    } else {
      co_await sleep_for(delay);
    }
    if (still_wanted) {
      const bool wanted = co_await still_wanted();
      if (!wanted) {
        PushResult gone = tried.result;
        gone.outcome = PushOutcome::withdrawn;
        gone.retries = retries - 1;
        gone.detail = "withdrawn before a retry";
        co_return gone;
      }
    }
  }
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  if (value.empty()) return std::nullopt;
  if (value.find_first_not_of("0123456789") == std::string_view::npos) {
    if (value.size() > 9) return std::chrono::milliseconds(std::chrono::hours(24));
    std::int64_t seconds = 0;
    for (char c : value) seconds = seconds * 10 + (c - '0');
    return std::chrono::milliseconds(seconds * 1000);
  }
  // IMF-fixdate, e.g. "Wed, 21 Oct 2015 07:28:00 GMT".
  std::tm tm{};
  const std::string text(value);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const auto at = std::chrono::system_clock::from_time_t(timegm(&tm));
  if (at <= now) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(at - now);
}

TryResult classify_http(const net::HttpResult& result) {
  TryResult out;
  if (!result) {
    const auto code = result.failure().code;
    out.result.detail = net::to_string(code);
    const bool permanent = code == net::HttpErrc::forbidden_destination || code == net::HttpErrc::invalid_url ||
                           code == net::HttpErrc::resolve_failed || code == net::HttpErrc::tls_failed;
    out.result.outcome = permanent ? PushOutcome::rejected : PushOutcome::failed;
    return out;
  }
  const unsigned status = result->status;
  out.result.status = status;
  out.result.detail = "http_" + std::to_string(status);
  if (status >= 200 && status < 300) {
    out.result.outcome = PushOutcome::delivered;
  } else if (status == 429 || status >= 500 || status == 408) {
    out.result.outcome = PushOutcome::failed;
    if (const auto* h = result->header("Retry-After"))
      out.retry_after = parse_retry_after(*h, std::chrono::system_clock::now());
  } else {
    out.result.outcome = PushOutcome::rejected;
  }
  return out;
}

std::string truncate_utf8(std::string_view text, std::size_t max_bytes) {
  if (text.size() <= max_bytes) return std::string(text);
  static constexpr std::string_view ellipsis = "\xE2\x80\xA6";
  if (max_bytes < ellipsis.size()) return {};
  std::size_t cut = max_bytes - ellipsis.size();
  // Back up over continuation bytes so no code point is split.
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return std::string(text.substr(0, cut)) + std::string(ellipsis);
}

}  // namespace gh::notify
