#include "graphql/exec/executor.hpp"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/testing/run_task.hpp"
#include "graphql/testing/sample_schema.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

// In-memory data: `n` pairs over tokens T0..T(n), with per-field call counters.
struct Fixture {
  int pairs_calls = 0;
  int token_batches = 0;
  std::size_t token_parents = 0;
  int volume_calls = 0;
  int add_calls = 0;
  std::vector<std::string> order;
  std::size_t n = 3;
  std::size_t bad_pair = SIZE_MAX;  ///< this pair's token1 is missing, the one before's is null

  Resolvers resolvers() {
    Resolvers r;
    r.sync("Query", "pairs", [this](const ResolveInfo& info, const json::value&) -> FieldResult {
      ++pairs_calls;
      json::array out;
      const auto first = static_cast<std::size_t>(info.args.at("first").as_int64());
      for (std::size_t i = 0; i < std::min(first, n); ++i) {
        // Parents carry only ids; the token fields are loaded in one batch per level.
        out.push_back(json::object{{"id", "P" + std::to_string(i)},
                                   {"token0_id", "T" + std::to_string(i)},
                                   {"token1_id", i == bad_pair       ? std::string("T-missing")
                                                 : i + 1 == bad_pair ? std::string("T-null")
                                                                     : "T" + std::to_string(i + 1)},
                                   {"reserve0", i == 1 ? json::value(nullptr) : json::value(std::to_string(i * 100))}});
      }
      return json::value(std::move(out));
    });
    auto token_loader = [this](const char* key) {
      return [this, key](const ResolveInfo&,
                         const std::vector<const json::value*>& parents) -> Task<std::vector<FieldResult>> {
        ++token_batches;
        token_parents += parents.size();
        // Suspend once, as a database round trip would.
        co_await boost::asio::post(co_await boost::asio::this_coro::executor, boost::asio::use_awaitable);
        std::vector<FieldResult> out;
        for (const auto* p : parents) {
          const auto id = std::string(p->as_object().at(key).as_string());
          if (id == "T-missing") {
            out.emplace_back(bad_input("missing", "token " + id + " is missing"));
          } else if (id == "T-null") {
            out.emplace_back(json::value(nullptr));
          } else {
            out.emplace_back(json::value(json::object{{"id", id}, {"symbol", "S" + id}, {"decimals", 18}}));
          }
        }
        co_return out;
      };
    };
    r.batch("Pair", "token0", token_loader("token0_id"));
    r.batch("Pair", "token1", token_loader("token1_id"));
    r.sync("Pair", "volume", [this](const ResolveInfo& info, const json::value&) -> FieldResult {
      ++volume_calls;
      return json::value(1.5 * static_cast<double>(info.args.at("days").as_int64()));
    });
    r.sync("Query", "pair", [](const ResolveInfo& info, const json::value&) -> FieldResult {
      const auto id = std::string(info.args.at("id").as_string());
      return json::value(
          json::object{{"id", id}, {"token0_id", id == "bad" ? "T-missing" : "T1"}, {"token1_id", "T-null"}});
    });
    r.sync("Query", "node", [](const ResolveInfo& info, const json::value&) -> FieldResult {
      const auto id = std::string(info.args.at("id").as_string());
      if (id.starts_with("T"))
        return json::value(json::object{{"__typename", "Token"}, {"id", id}, {"symbol", "X"}, {"decimals", 6}});
      if (id == "weird") return json::value(json::object{{"id", id}});
      return json::value(json::object{{"id", id}, {"token0_id", "T1"}, {"token1_id", "T2"}});
    });
    r.type_resolver("Node", [](const json::value& v) {
      return v.as_object().contains("token0_id") ? std::string("Pair") : std::string();
    });
    r.sync("Query", "search", [](const ResolveInfo&, const json::value&) -> FieldResult {
      return json::parse(R"([{"__typename": "Token", "id": "T1", "symbol": "A", "decimals": 1},
                             {"__typename": "Pair", "id": "P1", "token0_id": "T1", "token1_id": "T2"}])");
    });
    r.sync("Query", "echo", [](const ResolveInfo& info, const json::value&) -> FieldResult {
      return json::value(json::serialize(info.args));
    });
    r.sync("Query", "failing", [](const ResolveInfo&, const json::value&) -> FieldResult {
      return bad_input("nope", "this field always fails");
    });
    r.sync("Query", "broken", [](const ResolveInfo&, const json::value&) -> FieldResult { return json::value("x"); });
    r.sync("Mutation", "addPair", [this](const ResolveInfo& info, const json::value&) -> FieldResult {
      order.push_back(std::string(info.args.at("token0").as_string()));
      ++add_calls;
      return json::value(json::object{{"id", "new" + std::to_string(add_calls)},
                                      {"token0_id", info.args.at("token0")},
                                      {"token1_id", info.args.at("token1")}});
    });
    return r;
  }

  json::object run(const std::string& query, json::object variables = {}, RequestLimits limits = {}) {
    Executor executor(testing::test_schema(), resolvers(), limits);
    boost::asio::io_context ioc;
    RequestParams params{query, "", std::move(variables)};
    return gh::testing::run(ioc, executor.execute(params));
  }
};

TEST(Executor, ResolvesFieldsAliasesFragmentsAndDirectives) {
  Fixture f;
  const auto r = f.run(R"(query Q($yes: Boolean!, $days: Int) {
    list: pairs(first: 2) {
      id
      ...Tokens
      v: volume(days: $days)
      w: volume
      hidden: id @include(if: $yes) @skip(if: true)
      ... @include(if: $yes) { shown: reserve0 }
    }
    __typename
  }
  fragment Tokens on Pair { token0 { symbol } token1 { symbol decimals } })",
                       json::object{{"yes", true}, {"days", 4}});
  EXPECT_FALSE(r.contains("errors")) << json::serialize(r);
  EXPECT_EQ(r.at("data"), json::parse(R"({"list": [
      {"id": "P0", "token0": {"symbol": "ST0"}, "token1": {"symbol": "ST1", "decimals": 18}, "v": 6.0, "w": 1.5, "shown": "0"},
      {"id": "P1", "token0": {"symbol": "ST1"}, "token1": {"symbol": "ST2", "decimals": 18}, "v": 6.0, "w": 1.5, "shown": null}
    ], "__typename": "Query"})"));
}

TEST(Executor, BatchesOneCallPerLevel) {
  Fixture f;
  f.n = 1000;
  RequestLimits limits;
  limits.query.max_complexity = 10'000;  // 1 + 1,000 * (1 + 2 + 2)
  const auto r = f.run("{ pairs(first: 1000) { id token0 { symbol } token1 { symbol } } }", {}, limits);
  EXPECT_FALSE(r.contains("errors")) << json::serialize(r).substr(0, 300);
  ASSERT_EQ(r.at("data").at("pairs").as_array().size(), 1000u);
  EXPECT_EQ(r.at("data").at("pairs").at(999).at("token1").at("symbol"), json::value("ST1000"));
  EXPECT_EQ(f.pairs_calls, 1);
  EXPECT_EQ(f.token_batches, 2);  // one for token0 and one for token1, each with 1,000 parents
  EXPECT_EQ(f.token_parents, 2000u);
}

TEST(Executor, AbstractTypes) {
  Fixture f;
  const auto r = f.run(R"({
    search(text: "x") { __typename ... on Token { symbol } ... on Pair { token0 { id } } ... on Node { id } }
    t: node(id: "T5") { __typename id ... on Token { decimals } }
    p: node(id: "P5") { __typename id }
    w: node(id: "weird") { id }
  })");
  EXPECT_EQ(r.at("data"), json::parse(R"({
    "search": [{"__typename": "Token", "symbol": "A", "id": "T1"}, {"__typename": "Pair", "token0": {"id": "T1"}, "id": "P1"}],
    "t": {"__typename": "Token", "id": "T5", "decimals": 6},
    "p": {"__typename": "Pair", "id": "P5"},
    "w": null})"));
  ASSERT_EQ(r.at("errors").as_array().size(), 1u);
  EXPECT_EQ(r.at("errors").at(0).at("path"), json::parse(R"(["w"])"));
}

TEST(Executor, ErrorsHavePathsAndDataIsPartial) {
  Fixture f;
  const auto r = f.run(R"({ failing a: pair(id: "1") { id token0 { symbol } } pairs(first: 2) { reserve0 } })");
  EXPECT_EQ(r.at("data"), json::parse(R"({"failing": null, "a": {"id": "1", "token0": {"symbol": "ST1"}},
                                          "pairs": [{"reserve0": "0"}, {"reserve0": null}]})"));
  const auto& errors = r.at("errors").as_array();
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].at("message"), json::value("this field always fails"));
  EXPECT_EQ(errors[0].at("path"), json::parse(R"(["failing"])"));
  EXPECT_EQ(errors[0].at("locations"), json::parse(R"([{"line": 1, "column": 3}])"));
}

TEST(Executor, NullsPropagateToTheNearestNullableParent) {
  Fixture f;
  // token0 is Token! on a nullable Pair: the pair becomes null, the sibling field stays.
  auto r = f.run(R"({ bad: pair(id: "bad") { id token0 { id } } good: pair(id: "1") { id } })");
  EXPECT_EQ(r.at("data"), json::parse(R"({"bad": null, "good": {"id": "1"}})"));
  ASSERT_EQ(r.at("errors").as_array().size(), 1u);
  EXPECT_EQ(r.at("errors").at(0).at("path"), json::parse(R"(["bad", "token0"])"));
  EXPECT_EQ(r.at("errors").at(0).at("message"), json::value("token T-missing is missing"));

  // A null returned without an error gets the spec's message.
  r = f.run(R"({ pair(id: "1") { token1 { id } } })");
  EXPECT_EQ(r.at("data"), json::parse(R"({"pair": null})"));
  EXPECT_EQ(r.at("errors").at(0).at("message"), json::value("Cannot return null for non-nullable field Pair.token1."));
  EXPECT_EQ(r.at("errors").at(0).at("path"), json::parse(R"(["pair", "token1"])"));

  // Inside [Pair!]!: the null climbs through the non-null item and list up to data.
  Fixture g;
  g.n = 99;
  g.bad_pair = 98;
  r = g.run(R"({ pairs(first: 99) { token1 { id } } failing })");
  EXPECT_TRUE(r.at("data").is_null());
  bool found = false;
  for (const auto& e : r.at("errors").as_array()) {
    if (e.at("path") == json::parse(R"(["pairs", 98, "token1"])")) found = true;
  }
  EXPECT_TRUE(found) << json::serialize(r);

  // A non-null leaf that cannot be serialized nulls data too.
  r = f.run("{ broken }");
  EXPECT_TRUE(r.at("data").is_null());
  EXPECT_EQ(r.at("errors").at(0).at("path"), json::parse(R"(["broken"])"));
}

TEST(Executor, ArgumentsAndVariables) {
  Fixture f;
  const auto r = f.run(R"(query Q($l: [Int], $o: Order) {
    a: echo(value: 1, list: $l, order: $o, filter: {tokens: [1, "2"]})
    b: echo(id: 7, f: 2, text: """x""")
    c: echo(list: 3)
  })",
                       json::object{{"l", json::array{1, 2}}, {"o", "DESC"}});
  EXPECT_FALSE(r.contains("errors"));
  EXPECT_EQ(
      json::parse(r.at("data").at("a").as_string()),
      json::parse(
          R"({"value": 1, "list": [1, 2], "filter": {"minVolume": 0.0, "tokens": ["1", "2"], "order": "ASC"}, "order": "DESC"})"));
  EXPECT_EQ(json::parse(r.at("data").at("b").as_string()), json::parse(R"({"text": "x", "id": "7", "f": 2.0})"));
  EXPECT_EQ(json::parse(r.at("data").at("c").as_string()), json::parse(R"({"list": [3]})"));
}

TEST(Executor, RequestErrorsHaveNoData) {
  Fixture f;
  auto r = f.run("{ pairs { id }");
  EXPECT_FALSE(r.contains("data"));
  EXPECT_EQ(r.at("errors").at(0).at("extensions").at("code"), json::value("GRAPHQL_PARSE_FAILED"));
  r = f.run("{ nope }");
  EXPECT_FALSE(r.contains("data"));
  EXPECT_EQ(r.at("errors").at(0).at("extensions").at("code"), json::value("GRAPHQL_VALIDATION_FAILED"));
  r = f.run("query Q($id: ID!) { pair(id: $id) { id } }");
  EXPECT_FALSE(r.contains("data"));
  EXPECT_EQ(r.at("errors").at(0).at("extensions").at("code"), json::value("BAD_USER_INPUT"));
  EXPECT_EQ(f.pairs_calls, 0);
}

TEST(Executor, MutationFieldsRunInOrder) {
  Fixture f;
  const auto r = f.run(R"(mutation {
    a: addPair(token0: "T1", token1: "T2") { id token0 { symbol } }
    b: addPair(token0: "T3", token1: "T4") { id }
    c: addPair(token0: "T5", token1: "T6") { id }
  })");
  EXPECT_FALSE(r.contains("errors"));
  EXPECT_EQ(f.order, (std::vector<std::string>{"T1", "T3", "T5"}));
  EXPECT_EQ(r.at("data").at("c").at("id"), json::value("new3"));
  EXPECT_EQ(r.at("data").at("a").at("token0").at("symbol"), json::value("ST1"));
}

TEST(Executor, Introspection) {
  Fixture f;
  const auto r = f.run(R"({
    __schema { queryType { name } mutationType { name } subscriptionType { name }
               types { name kind } directives { name locations args { name type { kind ofType { name } } } } }
    pair: __type(name: "Pair") {
      kind name interfaces { name }
      fields { name type { kind name ofType { kind name } } args { name defaultValue } }
      all: fields(includeDeprecated: true) { name isDeprecated deprecationReason }
    }
    order: __type(name: "Order") { enumValues { name } }
    filter: __type(name: "PairFilter") { inputFields { name defaultValue type { name kind } } }
    search: __type(name: "SearchResult") { possibleTypes { name } }
    missing: __type(name: "Nope") { name }
  })");
  ASSERT_FALSE(r.contains("errors")) << json::serialize(r);
  const auto& data = r.at("data");
  EXPECT_EQ(data.at("__schema").at("queryType").at("name"), json::value("Query"));
  EXPECT_EQ(data.at("__schema").at("mutationType").at("name"), json::value("Mutation"));
  EXPECT_TRUE(data.at("__schema").at("subscriptionType").is_null());
  bool has_pair = false;
  for (const auto& t : data.at("__schema").at("types").as_array()) has_pair = has_pair || t.at("name") == "Pair";
  EXPECT_TRUE(has_pair);
  EXPECT_EQ(data.at("pair").at("kind"), json::value("OBJECT"));
  EXPECT_EQ(data.at("pair").at("interfaces"), json::parse(R"([{"name": "Node"}])"));
  EXPECT_EQ(data.at("pair").at("fields").as_array().size(), 5u);
  EXPECT_EQ(data.at("pair").at("all").as_array().size(), 6u);
  EXPECT_EQ(data.at("pair").at("all").at(5),
            json::parse(R"({"name": "old", "isDeprecated": true, "deprecationReason": "use volume"})"));
  EXPECT_EQ(data.at("pair").at("fields").at(0).at("type"),
            json::parse(R"({"kind": "NON_NULL", "name": null, "ofType": {"kind": "SCALAR", "name": "ID"}})"));
  EXPECT_EQ(data.at("pair").at("fields").at(4).at("args"), json::parse(R"([{"name": "days", "defaultValue": "1"}])"));
  EXPECT_EQ(data.at("order").at("enumValues"), json::parse(R"([{"name": "ASC"}, {"name": "DESC"}])"));
  EXPECT_EQ(data.at("filter").at("inputFields").at(2),
            json::parse(R"({"name": "order", "defaultValue": "ASC", "type": {"name": "Order", "kind": "ENUM"}})"));
  EXPECT_EQ(data.at("search").at("possibleTypes"), json::parse(R"([{"name": "Token"}, {"name": "Pair"}])"));
  EXPECT_TRUE(data.at("missing").is_null());
}

TEST(Executor, LimitErrorsAreClear) {
  Fixture f;
  RequestLimits limits;
  limits.query.max_depth = 2;
  const auto r = f.run("{ pairs { token0 { id } } }", {}, limits);
  EXPECT_FALSE(r.contains("data"));
  EXPECT_EQ(r.at("errors").at(0).at("extensions").at("code"), json::value("QUERY_TOO_DEEP"));
  EXPECT_EQ(r.at("errors").at(0).at("message"), json::value("Query depth 3 exceeds the maximum depth of 2."));
  EXPECT_EQ(f.pairs_calls, 0);
}

TEST(Executor, ThrowingResolversBecomeFieldErrors) {
  Resolvers r;
  r.batch("Query", "pairs",
          [](const ResolveInfo&, const std::vector<const json::value*>&) -> Task<std::vector<FieldResult>> {
            throw std::runtime_error("database went away");
            co_return std::vector<FieldResult>{};
          });
  r.sync("Query", "failing",
         [](const ResolveInfo&, const json::value&) -> FieldResult { throw std::logic_error("bug"); });
  r.batch("Query", "echo",
          [](const ResolveInfo&, const std::vector<const json::value*>&) -> Task<std::vector<FieldResult>> {
            co_return std::vector<FieldResult>{};  // wrong count
          });
  Executor executor(testing::test_schema(), std::move(r));
  boost::asio::io_context ioc;
  RequestParams params{"{ failing echo pairs { id } }", "", {}};
  const auto out = gh::testing::run(ioc, executor.execute(params));
  EXPECT_TRUE(out.at("data").is_null());  // pairs is non-null
  const auto& errors = out.at("errors").as_array();
  ASSERT_EQ(errors.size(), 3u);
  for (const auto& e : errors) {
    // Internal details stay in the server.
    EXPECT_EQ(e.at("message").as_string().find("database"), json::string::npos);
    EXPECT_NE(e.at("message").as_string().find("Internal error while resolving Query."), json::string::npos);
  }
}

}  // namespace
}  // namespace gh::graphql
