#include "rpc/rpc_client.hpp"

#include <gtest/gtest.h>

#include "core/testing/run_task.hpp"
#include "net/testing/loopback_server.hpp"

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <functional>
#include <mutex>
#include <thread>

#include "eth/hex.hpp"

namespace gh::rpc {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

using net::testing::Reply;

Reply http_reply(unsigned status, const std::string& body, const std::string& extra_headers = {}) {
  return Reply{net::testing::http_response(status, "application/json", body, extra_headers)};
}

/// The JSON-RPC answer to a single request `req` with `result`.
Reply answer(const json::value& req, const json::value& result) {
  return http_reply(200, json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", req.at("id")}, {"result", result}}));
}

Reply node_error(const json::value& req, std::int64_t code, std::string_view message) {
  return http_reply(200,
                    json::serialize(json::object{
                        {"jsonrpc", "2.0"}, {"id", req.at("id")}, {"error", {{"code", code}, {"message", message}}}}));
}

/// A fake JSON-RPC provider on the loopback test server: it parses and records each request
/// body, and the test's handler decides the answer.
class FakeProvider {
 public:
  /// Gets the parsed request body and how many requests came before it.
  using Handler = std::function<Reply(const json::value& body, int index)>;

  explicit FakeProvider(Handler handler)
      : m_handler(std::move(handler)), m_server([this](const net::testing::LoopbackServer::Request& req, int index) {
          const auto body = json::parse(req.body());
          {
            std::lock_guard lock(m_mutex);
            m_bodies.push_back(body);
          }
          return m_handler(body, index);
        }) {}

  std::string url() const { return m_server.url("/v2/secret-key"); }
  int requests() const { return m_server.requests(); }
  std::vector<json::value> bodies() const {
    std::lock_guard lock(m_mutex);
    return m_bodies;
  }

 private:
  Handler m_handler;
  mutable std::mutex m_mutex;
  std::vector<json::value> m_bodies;
  net::testing::LoopbackServer m_server;  // last: its thread stops before the members above go
};

using gh::testing::run;

RpcClientSettings fast_settings(std::vector<std::string> endpoints) {
  RpcClientSettings s;
  s.endpoints = std::move(endpoints);
  s.attempt_timeout = 2s;
  s.total_timeout = 10s;
  s.max_attempts = 4;
  s.backoff_initial = 10ms;
  s.backoff_max = 50ms;
  s.endpoint_down_initial = 50ms;
  return s;
}

std::string dead_url() {
  asio::io_context ioc;
  tcp::acceptor probe(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return "http://127.0.0.1:" + std::to_string(probe.local_endpoint().port()) + "/";
}

TEST(RpcClient, ReturnsTypedResults) {
  FakeProvider provider([](const json::value& req, int) {
    const auto method = req.at("method").as_string();
    if (method == "eth_chainId") return answer(req, "0x7a69");
    if (method == "eth_getBalance") return answer(req, "0xde0b6b3a7640000");
    return answer(req, "0x10");
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  auto id = run(ioc, client.chain_id());
  ASSERT_TRUE(id) << id.error().message;
  EXPECT_EQ(*id, 31337u);
  EXPECT_EQ(*run(ioc, client.block_number()), 16u);
  auto balance = run(ioc, client.get_balance(*eth::parse_address("0x5fbdb2315678afecb367f032d93f642f64180aa3")));
  ASSERT_TRUE(balance);
  EXPECT_EQ(balance->to_dec(), "1000000000000000000");
  EXPECT_EQ(provider.requests(), 3);
}

TEST(RpcClient, NodeErrorsAreValuesAndNotRetried) {
  FakeProvider provider([](const json::value& req, int) {
    return http_reply(200, json::serialize(json::object{
                               {"jsonrpc", "2.0"},
                               {"id", req.at("id")},
                               {"error", {{"code", 3}, {"message", "execution reverted"}, {"data", "0x08c379a0"}}}}));
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  CallRequest call;
  call.to = *eth::parse_address("0x5fbdb2315678afecb367f032d93f642f64180aa3");
  auto r = run(ioc, client.eth_call(call));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, RpcErrc::rpc);
  EXPECT_EQ(r.error().code, 3);
  EXPECT_EQ(r.error().data, "\"0x08c379a0\"");
  EXPECT_EQ(provider.requests(), 1);
}

TEST(RpcClient, HonoursRetryAfterOn429) {
  FakeProvider provider([](const json::value& req, int index) {
    if (index == 0) return http_reply(429, R"({"error":"rate limited"})", "Retry-After: 1\r\n");
    return answer(req, "0x1");
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  const auto start = std::chrono::steady_clock::now();
  auto r = run(ioc, client.block_number());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 950ms);
  EXPECT_EQ(provider.requests(), 2);
}

TEST(RpcClient, GivesUpWhenRetryAfterExceedsTheCap) {
  FakeProvider provider([](const json::value&, int) { return http_reply(429, "{}", "Retry-After: 3600\r\n"); });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  auto r = run(ioc, client.block_number());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, RpcErrc::http_status);
  EXPECT_EQ(r.error().http_status, 429u);
  EXPECT_EQ(provider.requests(), 1);
}

TEST(RpcClient, Retries5xxWithinTheAttemptBound) {
  FakeProvider provider([](const json::value& req, int index) {
    if (index < 2) return http_reply(503, "<html>busy</html>");
    return answer(req, "0x2");
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  auto r = run(ioc, client.block_number());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 2u);
  EXPECT_EQ(provider.requests(), 3);

  FakeProvider always_down([](const json::value&, int) { return http_reply(502, "bad gateway"); });
  RpcClient failing(ioc.get_executor(), fast_settings({always_down.url()}));
  auto f = run(ioc, failing.block_number());
  ASSERT_FALSE(f);
  EXPECT_EQ(f.error().kind, RpcErrc::http_status);
  EXPECT_EQ(f.error().http_status, 502u);
  EXPECT_EQ(always_down.requests(), 4);
  // The API key in the URL path never reaches an error message.
  EXPECT_EQ(f.error().message.find("secret-key"), std::string::npos) << f.error().message;
}

TEST(RpcClient, RetriesTimeoutsTruncationAndInvalidJson) {
  FakeProvider provider([](const json::value& req, int index) {
    switch (index) {
      case 0:
        return Reply{"", false, true};  // never answers
      case 1:
        return Reply{"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n{\"jsonrpc\":", true};
      case 2:
        return http_reply(200, "this is not json");
      default:
        return answer(req, "0x3");
    }
  });
  asio::io_context ioc;
  auto settings = fast_settings({provider.url()});
  settings.attempt_timeout = 200ms;
  RpcClient client(ioc.get_executor(), settings);
  auto r = run(ioc, client.block_number());
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(*r, 3u);
  EXPECT_EQ(provider.requests(), 4);
}

TEST(RpcClient, BoundsTheTotalTimeOfACall) {
  FakeProvider provider([](const json::value&, int) { return Reply{"", false, true}; });
  asio::io_context ioc;
  auto settings = fast_settings({provider.url()});
  // Each attempt may take ten minutes: only the 300 ms total bound can end the call in time.
  settings.attempt_timeout = 10min;
  settings.total_timeout = 300ms;
  RpcClient client(ioc.get_executor(), settings);
  const auto start = std::chrono::steady_clock::now();
  auto r = run(ioc, client.block_number());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, RpcErrc::transport);
  EXPECT_NE(r.error().message.find("timeout"), std::string::npos) << r.error().message;
  EXPECT_LT(elapsed, 5min);  // far from any scheduling delay, far below one attempt's deadline

  CallOptions quick;
  quick.total_timeout = 100ms;
  auto q = run(ioc, client.call("eth_blockNumber", {}, quick));
  EXPECT_FALSE(q);
}

TEST(RpcClient, DoesNotRetryAMisconfiguredEndpoint) {
  FakeProvider provider([](const json::value&, int) { return http_reply(401, "unauthorized"); });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  auto r = run(ioc, client.block_number());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().http_status, 401u);
  EXPECT_EQ(provider.requests(), 1);

  // A node error sent with a 4xx status is still the node's answer.
  FakeProvider strict([](const json::value& req, int) {
    return http_reply(400, json::serialize(json::object{{"jsonrpc", "2.0"},
                                                        {"id", req.at("id")},
                                                        {"error", {{"code", -32602}, {"message", "invalid params"}}}}));
  });
  RpcClient client2(ioc.get_executor(), fast_settings({strict.url()}));
  auto e = run(ioc, client2.block_number());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().kind, RpcErrc::rpc);
  EXPECT_EQ(e.error().code, -32602);
}

TEST(RpcClient, FailsOverFromADeadEndpoint) {
  FakeProvider live([](const json::value& req, int) { return answer(req, "0x7"); });
  asio::io_context ioc;
  auto settings = fast_settings({dead_url(), live.url()});
  settings.endpoint_down_initial = 10s;
  RpcClient client(ioc.get_executor(), settings);
  for (int i = 0; i < 3; ++i) {
    auto r = run(ioc, client.block_number());
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, 7u);
  }
  EXPECT_EQ(live.requests(), 3);
  const auto status = client.endpoints();
  ASSERT_EQ(status.size(), 2u);
  EXPECT_FALSE(status[0].up);
  EXPECT_EQ(status[0].failures, 1u);  // marked down: not tried again on the next calls
  EXPECT_TRUE(status[1].up);
  EXPECT_EQ(status[1].requests, 3u);
}

TEST(RpcClient, BatchesAndMatchesAnswersById) {
  FakeProvider provider([](const json::value& body, int) {
    json::array out;
    const auto& calls = body.as_array();
    // Answers in reverse order; the second call fails; the last one is missing.
    for (std::size_t k = calls.size(); k-- > 0;) {
      const auto& c = calls[k];
      if (k == calls.size() - 1 && calls.size() > 2) continue;
      if (k == 1) {
        out.push_back(
            {{"jsonrpc", "2.0"}, {"id", c.at("id")}, {"error", {{"code", -32000}, {"message", "header not found"}}}});
      } else {
        out.push_back({{"jsonrpc", "2.0"}, {"id", c.at("id")}, {"result", c.at("params").as_array().at(0)}});
      }
    }
    return http_reply(200, json::serialize(out));
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  std::vector<RpcCall> calls;
  for (int k = 0; k < 4; ++k) calls.push_back(RpcCall{"echo", json::array{k}});
  auto r = run(ioc, client.call_batch(calls));
  ASSERT_TRUE(r) << r.error().message;
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0]->as_int64(), 0);
  ASSERT_FALSE((*r)[1]);
  EXPECT_EQ((*r)[1].error().kind, RpcErrc::rpc);
  EXPECT_EQ((*r)[1].error().message, "header not found");
  EXPECT_EQ((*r)[2]->as_int64(), 2);
  ASSERT_FALSE((*r)[3]);
  EXPECT_EQ((*r)[3].error().kind, RpcErrc::bad_response);
  EXPECT_EQ(provider.requests(), 1);
  EXPECT_TRUE(provider.bodies().at(0).is_array());

  auto empty = run(ioc, client.call_batch({}));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(RpcClient, SplitsBatchesAboveTheLimit) {
  FakeProvider provider([](const json::value& body, int) {
    json::array out;
    for (const auto& c : body.as_array())
      out.push_back({{"jsonrpc", "2.0"}, {"id", c.at("id")}, {"result", c.at("params").as_array().at(0)}});
    return http_reply(200, json::serialize(out));
  });
  asio::io_context ioc;
  auto settings = fast_settings({provider.url()});
  settings.max_batch_size = 3;
  RpcClient client(ioc.get_executor(), settings);
  std::vector<RpcCall> calls;
  for (int k = 0; k < 7; ++k) calls.push_back(RpcCall{"echo", json::array{k}});
  auto r = run(ioc, client.call_batch(calls));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->size(), 7u);
  for (int k = 0; k < 7; ++k) EXPECT_EQ((*r)[static_cast<std::size_t>(k)]->as_int64(), k);
  EXPECT_EQ(provider.requests(), 3);
}

// --- eth_getLogs range splitting -------------------------------------------------------------

std::uint64_t hex_number(const json::value& v) {
  return std::stoull(std::string(v.as_string()).substr(2), nullptr, 16);
}

std::string hex(std::uint64_t n) {
  return to_quantity(n);
}

/// One synthetic log per block, so that completeness and order are easy to check.
json::array logs_for(std::uint64_t from, std::uint64_t to) {
  json::array out;
  for (auto b = from; b <= to; ++b) {
    const std::string block_hash = "0x" + std::string(48, '0') + [&] {
      char buf[17];
      std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(b));
      return std::string(buf);
    }();
    out.push_back({{"address", "0x5fbdb2315678afecb367f032d93f642f64180aa3"},
                   {"topics", json::array{}},
                   {"data", "0x"},
                   {"blockNumber", hex(b)},
                   {"blockHash", block_hash},
                   {"transactionHash", block_hash},
                   {"transactionIndex", "0x0"},
                   {"logIndex", "0x0"},
                   {"removed", false}});
  }
  return out;
}

/// A provider refusing ranges wider than `limit` blocks with `refusal(from, to)`.
FakeProvider::Handler range_limited(std::uint64_t limit,
                                    std::function<Reply(const json::value&, std::uint64_t, std::uint64_t)> refusal) {
  return [limit, refusal](const json::value& req, int) {
    const auto& filter = req.at("params").as_array().at(0);
    const auto from = hex_number(filter.at("fromBlock"));
    const auto to = hex_number(filter.at("toBlock"));
    if (to - from + 1 > limit) return refusal(req, from, to);
    return answer(req, logs_for(from, to));
  };
}

void expect_complete(const RpcResult<std::vector<Log>>& logs, std::uint64_t from, std::uint64_t to) {
  ASSERT_TRUE(logs) << logs.error().message;
  ASSERT_EQ(logs->size(), to - from + 1);
  for (std::uint64_t k = 0; k < logs->size(); ++k) EXPECT_EQ((*logs)[k].block_number, from + k);
}

LogFilter range(std::uint64_t from, std::uint64_t to) {
  LogFilter f;
  f.from_block = from;
  f.to_block = to;
  return f;
}

struct ProviderRefusal {
  const char* name;
  std::function<Reply(const json::value&, std::uint64_t, std::uint64_t)> refusal;
};

TEST(RpcClientLogs, SplitsRangesEachProviderRefuses) {
  constexpr std::uint64_t limit = 10;
  const std::vector<ProviderRefusal> providers = {
      {"alchemy",
       [](const json::value& req, std::uint64_t from, std::uint64_t) {
         return node_error(
             req, -32602,
             "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range "
             "and no limit on the response size, or you can request any block range with a cap of 10K logs "
             "in the response. Based on your parameters, this block range should work: [" +
                 hex(from) + ", " + hex(from + limit - 1) + "]");
       }},
      {"infura", [](const json::value& req, std::uint64_t,
                    std::uint64_t) { return node_error(req, -32005, "query returned more than 10000 results"); }},
      {"quicknode-limit",
       [](const json::value& req, std::uint64_t, std::uint64_t) {
         return node_error(req, -32614, "eth_getLogs is limited to a 10 range");
       }},
      {"quicknode-too-large", [](const json::value& req, std::uint64_t,
                                 std::uint64_t) { return node_error(req, -32602, "block range too large"); }},
      {"geth-results", [](const json::value& req, std::uint64_t,
                          std::uint64_t) { return node_error(req, -32000, "query returned more than 10000 results"); }},
      {"geth-range", [](const json::value& req, std::uint64_t,
                        std::uint64_t) { return node_error(req, -32000, "exceed maximum block range: 10"); }},
      {"code-only",
       [](const json::value& req, std::uint64_t, std::uint64_t) { return node_error(req, -32005, "limit exceeded"); }},
  };
  for (const auto& p : providers) {
    SCOPED_TRACE(p.name);
    FakeProvider provider(range_limited(limit, p.refusal));
    asio::io_context ioc;
    RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
    auto logs = run(ioc, client.get_logs(range(100, 199)));
    expect_complete(logs, 100, 199);
    // Refusals narrow the span for the rest of the range: far fewer requests than bisection alone.
    EXPECT_LE(provider.requests(), 30);
  }
}

TEST(RpcClientLogs, UsesTheSuggestedRange) {
  FakeProvider provider(range_limited(7, [](const json::value& req, std::uint64_t from, std::uint64_t) {
    return node_error(req, -32005,
                      "query returned more than 10000 results. Try with this block range [" + hex(from) + ", " +
                          hex(from + 6) + "].");
  }));
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  auto logs = run(ioc, client.get_logs(range(0, 69)));
  expect_complete(logs, 0, 69);
  EXPECT_EQ(provider.requests(), 1 + 10);  // one refusal, then ten ranges of seven blocks
}

TEST(RpcClientLogs, SplitsARangeWhoseAnswerExceedsTheResponseLimit) {
  // No refusal from the provider: the answer of a wide range is just larger than the client takes.
  FakeProvider provider([](const json::value& req, int) {
    const auto& filter = req.at("params").as_array().at(0);
    return answer(req, logs_for(hex_number(filter.at("fromBlock")), hex_number(filter.at("toBlock"))));
  });
  asio::io_context ioc;
  net::HttpClientSettings http;
  http.max_response_body = 4096;  // about 10 logs
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}), http);
  auto logs = run(ioc, client.get_logs(range(0, 99)));
  expect_complete(logs, 0, 99);
  // Never retried as is (the same request gets the same answer): halved, and the rest of the
  // range goes at the narrower span.
  EXPECT_LE(provider.requests(), 30);
  const auto endpoints = client.endpoints();
  EXPECT_EQ(endpoints.at(0).failures, 0u);

  // A single block too large for the limit is an error, without retries.
  FakeProvider dense([](const json::value& req, int) { return answer(req, logs_for(0, 99)); });
  RpcClient one(ioc.get_executor(), fast_settings({dense.url()}), http);
  auto refused = run(ioc, one.get_logs(range(5, 5)));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, RpcErrc::too_large);
  EXPECT_EQ(dense.requests(), 1);
}

TEST(RpcClientLogs, StartsWithTheConfiguredSpan) {
  FakeProvider provider(range_limited(1000, [](const json::value& req, std::uint64_t, std::uint64_t) {
    return node_error(req, -32000, "query returned more than 10000 results");
  }));
  asio::io_context ioc;
  auto settings = fast_settings({provider.url()});
  settings.max_log_block_span = 25;
  RpcClient client(ioc.get_executor(), settings);
  auto logs = run(ioc, client.get_logs(range(0, 99)));
  expect_complete(logs, 0, 99);
  EXPECT_EQ(provider.requests(), 4);
}

TEST(RpcClientLogs, ReturnsOtherErrorsAsIs) {
  FakeProvider provider([](const json::value& req, int) {
    return node_error(req, -32602, "block range extends beyond current head block");
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  auto logs = run(ioc, client.get_logs(range(0, 99)));
  ASSERT_FALSE(logs);
  EXPECT_EQ(logs.error().message, "block range extends beyond current head block");
  EXPECT_EQ(provider.requests(), 1);

  // A single block still too large cannot be split further.
  FakeProvider dense(
      [](const json::value& req, int) { return node_error(req, -32005, "query returned more than 10000 results"); });
  RpcClient client2(ioc.get_executor(), fast_settings({dense.url()}));
  auto none = run(ioc, client2.get_logs(range(5, 8)));
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, -32005);
  EXPECT_EQ(dense.requests(), 3);  // [5,8] -> [5,6] -> [5,5]
}

TEST(RpcClientLogs, ResolvesLatestOnlyWhenSplitting) {
  FakeProvider provider([](const json::value& req, int) {
    if (req.at("method").as_string() == "eth_blockNumber") return answer(req, "0x13");  // 19
    const auto& filter = req.at("params").as_array().at(0);
    if (!filter.at("toBlock").as_string().starts_with("0x")) return node_error(req, -32602, "block range too large");
    const auto from = hex_number(filter.at("fromBlock"));
    const auto to = hex_number(filter.at("toBlock"));
    if (to - from + 1 > 5) return node_error(req, -32602, "block range too large");
    return answer(req, logs_for(from, to));
  });
  asio::io_context ioc;
  RpcClient client(ioc.get_executor(), fast_settings({provider.url()}));
  LogFilter f;
  f.from_block = std::uint64_t{0};
  f.to_block = BlockTag::latest;
  auto logs = run(ioc, client.get_logs(f));
  expect_complete(logs, 0, 19);
}

}  // namespace
}  // namespace gh::rpc
