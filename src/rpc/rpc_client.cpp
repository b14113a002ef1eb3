#include "rpc/rpc_client.hpp"

// GCC 12 at -O1 inlines Asio's awaitable frame allocation (aligned_new) and its sized operator
// delete into large coroutines and then reports them as a mismatched pair: a false positive.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <deque>
#include <mutex>
#include <random>

#include "eth/hex.hpp"
#include "rpc/log_range.hpp"

// Inside coroutines, braced lists are never built within a co_await expression: GCC 12 cannot
// keep an initializer_list's backing array alive across the suspension ("array used as
// initializer"). Build the params first, then co_await.

namespace gh::rpc {

namespace asio = boost::asio;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

/// scheme://host[:port] of a URL: provider URLs often carry an API key in the path or user info,
/// which must not reach logs or errors.
std::string redacted(std::string_view url) {
  const auto scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return "endpoint";
  auto rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  return std::string(url.substr(0, scheme_end + 3)) + std::string(rest);
}

struct Endpoint {
  std::string url;
  std::string label;
  SteadyClock::time_point down_until{};
  unsigned consecutive_failures = 0;
  std::uint64_t requests = 0;
  std::uint64_t failures = 0;
};

bool is_json_rpc_answer(const json::value& doc) {
  if (doc.is_array()) return true;
  const auto* obj = doc.if_object();
  return obj && obj->contains("jsonrpc") && (obj->contains("result") || obj->contains("error"));
}

milliseconds min_ms(milliseconds a, milliseconds b) {
  return a < b ? a : b;
}

}  // namespace

struct RpcClient::State {
  State(Executor ex, RpcClientSettings s, std::shared_ptr<net::HttpClient> client)
      : executor(std::move(ex)), settings(std::move(s)), http(std::move(client)), rng(std::random_device{}()) {
    for (const auto& url : settings.endpoints) endpoints.push_back(Endpoint{url, redacted(url)});
  }

  Executor executor;
  RpcClientSettings settings;
  std::shared_ptr<net::HttpClient> http;
  std::atomic<std::uint64_t> next_id{1};

  mutable std::mutex mutex;  // guards endpoints and rng
  std::vector<Endpoint> endpoints;
  std::mt19937_64 rng;

  /// The first endpoint that is up; when all are down, the one that comes back first.
  std::size_t pick() {
    std::lock_guard lock(mutex);
    const auto now = SteadyClock::now();
    std::size_t best = 0;
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      if (endpoints[i].down_until <= now) return i;
      if (endpoints[i].down_until < endpoints[best].down_until) best = i;
    }
    return best;
  }

  bool another_is_up(std::size_t except) const {
    std::lock_guard lock(mutex);
    const auto now = SteadyClock::now();
    for (std::size_t i = 0; i < endpoints.size(); ++i) {
      if (i != except && endpoints[i].down_until <= now) return true;
    }
    return false;
  }

  void mark_success(std::size_t i) {
    std::lock_guard lock(mutex);
    auto& ep = endpoints[i];
    ++ep.requests;
    ep.consecutive_failures = 0;
    ep.down_until = {};
  }

  void mark_failure(std::size_t i, std::optional<milliseconds> retry_after) {
    std::lock_guard lock(mutex);
    auto& ep = endpoints[i];
    ++ep.requests;
    ++ep.failures;
    const unsigned shift = std::min(ep.consecutive_failures, 16u);
    ++ep.consecutive_failures;
    auto down = min_ms(settings.endpoint_down_initial * (std::int64_t{1} << shift), settings.endpoint_down_max);
    if (retry_after) down = std::max(down, min_ms(*retry_after, settings.endpoint_down_max));
    ep.down_until = SteadyClock::now() + down;
  }

  /// Backoff before attempt `attempt + 1`, uniformly drawn in [d/2, d] so that many clients
  /// refused at once do not come back at once.
  milliseconds backoff(unsigned attempt) {
    const unsigned shift = std::min(attempt - 1, 20u);
    const auto d = min_ms(settings.backoff_initial * (std::int64_t{1} << shift), settings.backoff_max);
    std::lock_guard lock(mutex);
    std::uniform_int_distribution<long long> dist(d.count() / 2, d.count());
    return milliseconds(dist(rng));
  }

  /// POSTs `body` until some endpoint gives a JSON-RPC answer, within the attempt and time bounds.
  Task<RpcResult<json::value>> post(std::string body, CallOptions options) {
    const auto start = SteadyClock::now();
    const auto deadline = start + options.total_timeout.value_or(settings.total_timeout);
    const auto attempt_timeout = options.attempt_timeout.value_or(settings.attempt_timeout);
    RpcError last = make_rpc_error(RpcErrc::deadline, "no attempt fit in the call's time budget");
    unsigned attempts = 0;
    if (endpoints.empty()) co_return make_rpc_error(RpcErrc::transport, "no endpoint configured");

    while (attempts < std::max(1u, settings.max_attempts)) {
      const auto now = SteadyClock::now();
      if (now >= deadline) break;
      ++attempts;
      const std::size_t i = pick();
      const std::string& label = endpoints[i].label;  // endpoints never change after construction

      net::HttpRequest request;
      request.method = "POST";
      request.url = endpoints[i].url;
      request.headers = settings.headers;
      request.headers.push_back({"Content-Type", "application/json"});
      request.body = body;
      request.timeout = min_ms(attempt_timeout, std::chrono::duration_cast<milliseconds>(deadline - now));
      auto response = co_await http->request(std::move(request));

      std::optional<milliseconds> retry_after;
      bool give_up = false;
      if (!response && response.failure().code == net::HttpErrc::body_too_large) {
        // The endpoint is healthy and would send the same answer again: no retry, no failover.
        mark_success(i);
        last = make_rpc_error(RpcErrc::too_large, label + ": " + response.failure().message);
        break;
      }
      if (!response) {
        last = make_rpc_error(RpcErrc::transport, label + ": " + net::to_string(response.failure().code) + ": " +
                                                      response.failure().message);
        mark_failure(i, std::nullopt);
      } else if (response->status == 429) {
        if (const auto* value = response->header("retry-after")) {
          retry_after = parse_retry_after(*value, std::chrono::system_clock::now());
        }
        last = make_rpc_error(RpcErrc::http_status, label + ": rate limited (HTTP 429)");
        last.http_status = 429;
        mark_failure(i, retry_after);
      } else if (response->status >= 500) {
        last = make_rpc_error(RpcErrc::http_status, label + ": HTTP " + std::to_string(response->status));
        last.http_status = response->status;
        mark_failure(i, std::nullopt);
      } else {
        boost::system::error_code ec;
        // Into an arena that goes with the answer: an eth_getLogs answer of 10,000 logs is about
        // 150,000 strings, objects and arrays, each its own malloc and free otherwise.
        auto doc = json::parse(response->body, ec, json::make_shared_resource<json::monotonic_resource>());
        // Some providers send a node's error with a 4xx status: the JSON-RPC answer decides.
        if (!ec && is_json_rpc_answer(doc)) {
          mark_success(i);
          co_return doc;
        }
        mark_failure(i, std::nullopt);
        if (response->status >= 200 && response->status < 300) {
          last = make_rpc_error(RpcErrc::bad_response, label + ": answer is not JSON-RPC");
        } else {
          // 401, 403, 404...: this endpoint is misconfigured; only another endpoint can help.
          last = make_rpc_error(RpcErrc::http_status, label + ": HTTP " + std::to_string(response->status));
          last.http_status = response->status;
          give_up = !another_is_up(i);
        }
      }
      if (give_up || attempts >= settings.max_attempts) break;

      milliseconds delay{0};
      if (!another_is_up(i)) {
        delay = backoff(attempts);
        if (retry_after) {
          if (*retry_after > settings.max_retry_after) break;
          delay = std::max(delay, *retry_after);
        }
      }
      if (SteadyClock::now() + delay >= deadline) break;
      if (delay.count() > 0) {
        asio::steady_timer timer(executor, delay);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      }
    }
    last.message += " (after " + std::to_string(attempts) + (attempts == 1 ? " attempt)" : " attempts)");
    co_return last;
  }

  Task<RpcResult<json::value>> call(std::string method, json::array params, CallOptions options) {
    const auto id = next_id.fetch_add(1);
    auto body = json::serialize(make_request(RpcCall{std::move(method), std::move(params)}, id));
    auto doc = co_await post(std::move(body), options);
    if (!doc) co_return std::move(doc).error();
    co_return decode_response(*doc, id);
  }

  /// A typed call: decodes the result with `decode`, a decoding failure being RpcErrc::decode.
  template <class T, class Decode>
  Task<RpcResult<T>> typed(std::string method, json::array params, Decode decode) {
    auto result = co_await call(method, std::move(params), {});
    if (!result) co_return std::move(result).error();
    Result<T> decoded = decode(*result);
    if (!decoded) co_return make_rpc_error(RpcErrc::decode, method + ": " + decoded.error().message);
    co_return std::move(*decoded);
  }

  /// The logs of from..to, split as the provider demands; with `prefix_only`, stops after the
  /// first part the provider answers and reports the last block covered in `*covered`.
  Task<RpcResult<std::vector<Log>>> get_logs_range(const LogFilter& filter, std::uint64_t from, std::uint64_t to,
                                                   bool prefix_only = false, std::uint64_t* covered = nullptr) {
    std::vector<Log> out;
    std::deque<std::pair<std::uint64_t, std::uint64_t>> work{{from, to}};
    std::uint64_t span_limit = settings.max_log_block_span ? settings.max_log_block_span : UINT64_MAX;
    unsigned refusals = 0;
    while (!work.empty()) {
      auto [a, b] = work.front();
      if (b - a >= span_limit) {
        work.front() = {a, a + span_limit - 1};
        work.insert(work.begin() + 1, {a + span_limit, b});
        b = a + span_limit - 1;
      }
      LogFilter part = filter;
      part.from_block = a;
      part.to_block = b;
      json::array params;
      params.push_back(to_json(part));
      auto result = co_await typed<std::vector<Log>>("eth_getLogs", std::move(params), parse_logs);
      if (result) {
        auto& logs = *result;
        out.insert(out.end(), std::make_move_iterator(logs.begin()), std::make_move_iterator(logs.end()));
        work.pop_front();
        if (covered) *covered = b;
        if (prefix_only) break;
        continue;
      }
      const auto refusal = recognize_log_range_refusal(result.error());
      if (!refusal || a == b || ++refusals > settings.max_log_range_refusals) co_return std::move(result).error();
      const std::uint64_t width = b - a + 1;
      std::uint64_t span = width / 2;
      if (refusal->suggested && refusal->suggested->first == a && refusal->suggested->second < b) {
        span = refusal->suggested->second - a + 1;
      } else if (refusal->max_span && *refusal->max_span < width) {
        span = *refusal->max_span;
      }
      // Narrower from now on: the rest of the range is likely as dense.
      span_limit = std::max<std::uint64_t>(1, std::min(span_limit, span));
    }
    co_return out;
  }
};

// Executors are cheap handles, passed by value throughout.
RpcClient::RpcClient(Executor executor, RpcClientSettings settings,  // NOLINT(performance-unnecessary-value-param)
                     net::HttpClientSettings http)
    : RpcClient(executor, std::move(settings), std::make_shared<net::HttpClient>(executor, std::move(http))) {}

RpcClient::RpcClient(Executor executor, RpcClientSettings settings, std::shared_ptr<net::HttpClient> http)
    : m_state(std::make_shared<State>(std::move(executor), std::move(settings), std::move(http))) {}

RpcClient::~RpcClient() = default;

Task<RpcResult<json::value>> RpcClient::call(std::string method, json::array params, CallOptions options) {
  return m_state->call(std::move(method), std::move(params), options);
}

Task<RpcResult<std::vector<RpcResult<json::value>>>> RpcClient::call_batch(std::vector<RpcCall> calls,
                                                                           CallOptions options) {
  auto& state = *m_state;
  std::vector<RpcResult<json::value>> out;
  out.reserve(calls.size());
  const std::size_t chunk = std::max<std::size_t>(1, state.settings.max_batch_size);
  for (std::size_t start = 0; start < calls.size(); start += chunk) {
    const std::size_t count = std::min(chunk, calls.size() - start);
    const auto first_id = state.next_id.fetch_add(count);
    json::array batch;
    for (std::size_t k = 0; k < count; ++k) batch.push_back(make_request(calls[start + k], first_id + k));
    auto doc = co_await state.post(json::serialize(batch), options);
    if (!doc) co_return std::move(doc).error();
    auto answers = decode_batch_response(*doc, first_id, count);
    if (!answers) co_return std::move(answers).error();
    for (auto& answer : *answers) out.push_back(std::move(answer));
  }
  co_return out;
}

Task<RpcResult<std::uint64_t>> RpcClient::chain_id() {
  return m_state->typed<std::uint64_t>("eth_chainId", {}, [](const json::value& v) -> Result<std::uint64_t> {
    if (!v.is_string()) return bad_input("quantity_invalid", "not a string");
    return parse_quantity_u64(v.as_string());
  });
}

Task<RpcResult<std::uint64_t>> RpcClient::block_number() {
  return m_state->typed<std::uint64_t>("eth_blockNumber", {}, [](const json::value& v) -> Result<std::uint64_t> {
    if (!v.is_string()) return bad_input("quantity_invalid", "not a string");
    return parse_quantity_u64(v.as_string());
  });
}

namespace {

Result<std::optional<BlockHeader>> parse_optional_block(const json::value& v) {
  if (v.is_null()) return std::optional<BlockHeader>{};
  auto block = parse_block_header(v);
  if (!block) return block.error();
  return std::optional<BlockHeader>(std::move(*block));
}

Result<std::uint64_t> parse_u64_value(const json::value& v) {
  if (!v.is_string()) return bad_input("quantity_invalid", "not a string");
  return parse_quantity_u64(v.as_string());
}

}  // namespace

Task<RpcResult<std::optional<BlockHeader>>> RpcClient::get_block_by_number(BlockRef block) {
  // `false`: transaction hashes only; full transactions are fetched by hash when needed.
  return m_state->typed<std::optional<BlockHeader>>("eth_getBlockByNumber", json::array{to_json(block), false},
                                                    parse_optional_block);
}

Task<RpcResult<std::optional<BlockHeader>>> RpcClient::get_block_by_hash(eth::Hash32 hash) {
  return m_state->typed<std::optional<BlockHeader>>("eth_getBlockByHash", json::array{eth::to_hex(hash.view()), false},
                                                    parse_optional_block);
}

Task<RpcResult<LogsPrefix>> RpcClient::get_logs_prefix(LogFilter filter, std::uint64_t from, std::uint64_t to) {
  LogsPrefix out;
  out.to = to;
  if (from > to) co_return out;
  auto logs = co_await m_state->get_logs_range(filter, from, to, true, &out.to);
  if (!logs) co_return std::move(logs).error();
  out.logs = std::move(*logs);
  co_return out;
}

Task<RpcResult<std::vector<Log>>> RpcClient::get_logs(LogFilter filter) {
  auto& state = *m_state;
  json::array whole_params;
  whole_params.push_back(to_json(filter));
  if (filter.block_hash) {
    co_return co_await state.typed<std::vector<Log>>("eth_getLogs", std::move(whole_params), parse_logs);
  }
  const auto* from = filter.from_block ? std::get_if<std::uint64_t>(&*filter.from_block) : nullptr;
  const auto* to = filter.to_block ? std::get_if<std::uint64_t>(&*filter.to_block) : nullptr;
  if (from && to) {
    if (*from > *to) co_return std::vector<Log>{};
    co_return co_await state.get_logs_range(filter, *from, *to);
  }
  // A tag in the range: try as is first; only a refusal makes resolving the tags worth a call.
  if (state.settings.max_log_block_span == 0) {
    auto whole = co_await state.typed<std::vector<Log>>("eth_getLogs", std::move(whole_params), parse_logs);
    if (whole || !recognize_log_range_refusal(whole.error())) co_return whole;
  }
  auto resolve = [](const std::optional<BlockRef>& ref) -> std::optional<std::uint64_t> {
    if (!ref) return std::nullopt;  // absent means latest
    if (const auto* n = std::get_if<std::uint64_t>(&*ref)) return *n;
    if (std::get<BlockTag>(*ref) == BlockTag::earliest) return 0;
    return std::nullopt;
  };
  auto resolved_from = resolve(filter.from_block);
  auto resolved_to = resolve(filter.to_block);
  auto is_latest = [](const std::optional<BlockRef>& ref) {
    return !ref || (std::holds_alternative<BlockTag>(*ref) && std::get<BlockTag>(*ref) == BlockTag::latest);
  };
  if ((!resolved_from && !is_latest(filter.from_block)) || (!resolved_to && !is_latest(filter.to_block))) {
    co_return make_rpc_error(RpcErrc::decode, "eth_getLogs: cannot split a range bounded by pending/safe/finalized");
  }
  if (!resolved_from || !resolved_to) {
    auto head = co_await block_number();
    if (!head) co_return std::move(head).error();
    if (!resolved_from) resolved_from = *head;
    if (!resolved_to) resolved_to = *head;
  }
  if (*resolved_from > *resolved_to) co_return std::vector<Log>{};
  co_return co_await state.get_logs_range(filter, *resolved_from, *resolved_to);
}

// The signatures of rpc_client.hpp: calls returning a Task take their parameters by value, since
// the Task may run after the caller's frame is gone.
// NOLINTNEXTLINE(performance-unnecessary-value-param)
Task<RpcResult<eth::Bytes>> RpcClient::eth_call(CallRequest call, BlockRef block) {
  return m_state->typed<eth::Bytes>("eth_call", json::array{to_json(call), to_json(block)}, parse_data_value);
}

Task<RpcResult<std::uint64_t>> RpcClient::estimate_gas(CallRequest call,  // NOLINT(performance-unnecessary-value-param)
                                                       std::optional<BlockRef> block) {
  json::array params{to_json(call)};
  if (block) params.push_back(to_json(*block));
  return m_state->typed<std::uint64_t>("eth_estimateGas", std::move(params), parse_u64_value);
}

Task<RpcResult<std::uint64_t>> RpcClient::get_transaction_count(eth::Address account, BlockRef block) {
  return m_state->typed<std::uint64_t>("eth_getTransactionCount",
                                       json::array{eth::to_lower_hex(account), to_json(block)}, parse_u64_value);
}

Task<RpcResult<eth::Hash32>> RpcClient::send_raw_transaction(eth::Bytes signed_transaction) {
  return m_state->typed<eth::Hash32>("eth_sendRawTransaction", json::array{eth::to_hex(signed_transaction)},
                                     parse_hash_value);
}

Task<RpcResult<std::optional<Receipt>>> RpcClient::get_transaction_receipt(eth::Hash32 hash) {
  return m_state->typed<std::optional<Receipt>>("eth_getTransactionReceipt", json::array{eth::to_hex(hash.view())},
                                                [](const json::value& v) -> Result<std::optional<Receipt>> {
                                                  if (v.is_null()) return std::optional<Receipt>{};
                                                  auto receipt = parse_receipt(v);
                                                  if (!receipt) return receipt.error();
                                                  return std::optional<Receipt>(std::move(*receipt));
                                                });
}

Task<RpcResult<FeeHistory>> RpcClient::fee_history(
    std::uint64_t block_count, BlockRef newest,
    std::vector<double> reward_percentiles) {  // NOLINT(performance-unnecessary-value-param)
  json::array percentiles;
  for (double p : reward_percentiles) percentiles.push_back(p);
  return m_state->typed<FeeHistory>("eth_feeHistory",
                                    json::array{to_quantity(block_count), to_json(newest), std::move(percentiles)},
                                    parse_fee_history);
}

Task<RpcResult<eth::Bytes>> RpcClient::get_code(eth::Address account, BlockRef block) {
  return m_state->typed<eth::Bytes>("eth_getCode", json::array{eth::to_lower_hex(account), to_json(block)},
                                    parse_data_value);
}

Task<RpcResult<eth::U256>> RpcClient::get_balance(eth::Address account, BlockRef block) {
  return m_state->typed<eth::U256>("eth_getBalance", json::array{eth::to_lower_hex(account), to_json(block)},
                                   parse_quantity_value);
}

std::vector<EndpointStatus> RpcClient::endpoints() const {
  std::lock_guard lock(m_state->mutex);
  std::vector<EndpointStatus> out;
  const auto now = SteadyClock::now();
  for (const auto& ep : m_state->endpoints) {
    out.push_back(EndpointStatus{ep.label, ep.down_until <= now, ep.consecutive_failures, ep.requests, ep.failures});
  }
  return out;
}

}  // namespace gh::rpc
