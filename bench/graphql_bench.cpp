// Timings of the GraphQL engine on a typical subgraph-style query (a page of pairs with their
// tokens, recent swaps and volume) against the sample API: parse, validate, prepare (parse +
// validate + variables + limits) and full execution with batched resolvers. Each benchmark checks
// its result once before timing, so a broken fixture fails loudly instead of timing an error path.
#include <benchmark/benchmark.h>

#include <stdexcept>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>

#include "graphql/exec/executor.hpp"
#include "graphql/exec/sample_api.hpp"
#include "graphql/parser.hpp"
#include "graphql/request.hpp"
#include "graphql/validation.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

const std::string k_query = R"(
  query TopPairs($first: Int!, $days: Int = 7, $filter: PairFilter) {
    pairs(page: {first: $first}, filter: $filter, order: DESC) {
      id
      reserve0
      reserve1
      fee
      volume(days: $days)
      token0 { ...TokenFields }
      token1 { ...TokenFields }
      swaps(first: 3) { id amountIn amountOut sender }
    }
  }
  fragment TokenFields on Token { id symbol name decimals chain priceUsd }
)";

RequestParams params() {
  return RequestParams{k_query, "TopPairs", json::object{{"first", 8}, {"filter", json::object{{"minReserve", 1}}}}};
}

const Executor& executor() {
  static const auto e = make_sample_executor();
  return *e;
}

json::object execute_once(boost::asio::io_context& ioc) {
  json::object out;
  boost::asio::co_spawn(
      ioc, [&]() -> Task<void> { out = co_await executor().execute(params()); }, boost::asio::detached);
  ioc.run();
  ioc.restart();
  return out;
}

void BM_Parse(benchmark::State& state) {
  if (!parse(k_query)) throw std::runtime_error("the benchmark query does not parse");
  for (auto _ : state) {
    auto r = parse(k_query);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(k_query.size()));
}
BENCHMARK(BM_Parse);

void BM_Validate(benchmark::State& state) {
  const auto doc = parse(k_query);
  if (!validate(executor().schema(), *doc.document).empty()) throw std::runtime_error("the benchmark query is invalid");
  for (auto _ : state) {
    auto errors = validate(executor().schema(), *doc.document);
    benchmark::DoNotOptimize(errors);
  }
}
BENCHMARK(BM_Validate);

void BM_Prepare(benchmark::State& state) {
  const auto p = params();
  if (!prepare(executor().schema(), p, {}).request) throw std::runtime_error("the benchmark query does not prepare");
  for (auto _ : state) {
    auto r = prepare(executor().schema(), p, {});
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_Prepare);

void BM_ParseValidateExecute(benchmark::State& state) {
  boost::asio::io_context ioc;
  const auto first = execute_once(ioc);
  if (first.contains("errors") || first.at("data").at("pairs").as_array().size() != 8) {
    throw std::runtime_error("the benchmark query fails: " + std::string(json::serialize(first)));
  }
  for (auto _ : state) {
    auto r = execute_once(ioc);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_ParseValidateExecute);

}  // namespace
}  // namespace gh::graphql
