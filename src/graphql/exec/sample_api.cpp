#include "graphql/exec/sample_api.hpp"

#include <algorithm>
#include <cstdlib>
#include <map>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "graphql/exec/http_binding.hpp"
#include "net/json.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

// tests/integration/graphql.test.mjs implements the same resolvers in graphql-js over the same
// data (fetched from /v1/_test/graphql/sample): keep the two in step.
constexpr std::string_view k_sdl = R"("""
A sample API over fixed data, served under --test-hooks to check the GraphQL engine against
graphql-js.
"""
schema {
  query: Query
  mutation: Mutation
}

"A decimal amount, rendered as a string."
scalar BigDecimal @specifiedBy(url: "https://example.com/decimal")

"Chains the sample data lives on."
enum Chain {
  ETHEREUM
  BASE
  "Arbitrum One"
  ARBITRUM
  POLYGON @deprecated(reason: "not indexed any more")
}

enum SortOrder {
  ASC
  DESC
}

"Anything with an id."
interface Node {
  id: ID!
}

interface Asset implements Node {
  id: ID!
  symbol: String!
  decimals: Int!
}

type Token implements Node & Asset {
  id: ID!
  symbol: String!
  name: String
  decimals: Int!
  chain: Chain!
  priceUsd: BigDecimal
  "Pairs this token trades in."
  pairs(first: Int = 10): [Pair!]!
  legacyId: Int @deprecated(reason: "use id")
}

type Pair implements Node {
  id: ID!
  token0: Token!
  token1: Token!
  reserve0: BigDecimal!
  reserve1: BigDecimal!
  volume("Window in days." days: Int = 1): Float
  fee: Int
  swaps(first: Int = 3, order: SortOrder = DESC): [Swap!]!
  "Fails for pairs whose oracle is broken."
  price: Float
  strictPrice: Float!
}

type Swap {
  id: ID!
  amountIn: String!
  amountOut: String!
  sender: String!
  pair: Pair!
}

union SearchResult = Token | Pair

input PairFilter {
  minReserve: Float = 0
  symbols: [String!]
  chain: Chain
}

input Page {
  first: Int = 10
  skip: Int = 0
}

type FilterEcho {
  minReserve: Float
  symbols: [String!]
  chain: Chain
}

"The arguments it was given."
type Echo {
  int: Int
  float: Float
  string: String
  boolean: Boolean
  id: ID
  chain: Chain
  list: [Int]
  nested: [[String!]]
  filter: FilterEcho
}

type Level {
  n: Int!
  next: Level
  fail: String
  failNonNull: Int!
}

type Quote {
  pair: Pair!
  amountOut: Float
}

type Query {
  token(id: ID!): Token
  tokens(chain: Chain, first: Int = 10): [Token!]!
  pair(id: ID!): Pair
  pairs(filter: PairFilter, page: Page, order: SortOrder = ASC): [Pair!]!
  node(id: ID!): Node
  search(text: String!): [SearchResult!]!
  echo(
    int: Int
    float: Float
    string: String
    boolean: Boolean
    id: ID
    chain: Chain
    list: [Int]
    nested: [[String!]]
    filter: PairFilter
  ): Echo
  failing: String
  failingNonNull: String!
  nullableList: [Int]
  nonNullItems: [Int!]
  deep: Level
}

type Mutation {
  quote(pairId: ID!, amountIn: Float!): Quote!
}
)";

constexpr std::string_view k_data = R"({
  "tokens": [
    {"__typename": "Token", "id": "T1", "symbol": "WETH", "name": "Wrapped Ether", "decimals": 18, "chain": "ETHEREUM", "priceUsd": "3120.55", "legacyId": 1},
    {"__typename": "Token", "id": "T2", "symbol": "USDC", "name": "USD Coin", "decimals": 6, "chain": "ETHEREUM", "priceUsd": "1.00", "legacyId": 2},
    {"__typename": "Token", "id": "T3", "symbol": "DAI", "name": "Dai", "decimals": 18, "chain": "ETHEREUM", "priceUsd": "0.999", "legacyId": null},
    {"__typename": "Token", "id": "T4", "symbol": "WBTC", "name": "Wrapped BTC", "decimals": 8, "chain": "ETHEREUM", "priceUsd": "97000.1", "legacyId": 4},
    {"__typename": "Token", "id": "T5", "symbol": "ARB", "name": null, "decimals": 18, "chain": "ARBITRUM", "priceUsd": null, "legacyId": 5},
    {"__typename": "Token", "id": "T6", "symbol": "DOG", "name": "Base Dog", "decimals": 9, "chain": "BASE", "priceUsd": "0.00012", "legacyId": 6},
    {"__typename": "Token", "id": "T7", "symbol": "POL", "name": "Polygon", "decimals": 18, "chain": "POLYGON", "priceUsd": "0.5", "legacyId": 7}
  ],
  "pairs": [
    {"__typename": "Pair", "id": "P1", "token0_id": "T1", "token1_id": "T2", "reserve0": "1200.5", "reserve1": "3746220.25", "volumeBase": 5000000.5, "fee": 30, "broken": false,
     "swaps": [{"id": "S1", "amountIn": "1.5", "amountOut": "4680.1", "sender": "0xaa"}, {"id": "S2", "amountIn": "0.2", "amountOut": "624.0", "sender": "0xbb"},
               {"id": "S3", "amountIn": "10", "amountOut": "31150", "sender": "0xaa"}, {"id": "S4", "amountIn": "3", "amountOut": "9350.5", "sender": "0xcc"}]},
    {"__typename": "Pair", "id": "P2", "token0_id": "T1", "token1_id": "T3", "reserve0": "800", "reserve1": "2499000", "volumeBase": 1250000.25, "fee": 30, "broken": false,
     "swaps": [{"id": "S5", "amountIn": "2", "amountOut": "6240", "sender": "0xdd"}, {"id": "S6", "amountIn": "0.5", "amountOut": "1559", "sender": "0xaa"}]},
    {"__typename": "Pair", "id": "P3", "token0_id": "T4", "token1_id": "T1", "reserve0": "10.25", "reserve1": "318.7", "volumeBase": 640000, "fee": 5, "broken": false,
     "swaps": [{"id": "S7", "amountIn": "0.01", "amountOut": "0.31", "sender": "0xee"}]},
    {"__typename": "Pair", "id": "P4", "token0_id": "T2", "token1_id": "T3", "reserve0": "500000", "reserve1": "499800", "volumeBase": 80000.75, "fee": 1, "broken": false, "swaps": []},
    {"__typename": "Pair", "id": "P5", "token0_id": "T5", "token1_id": "T1", "reserve0": "90000", "reserve1": "25.5", "volumeBase": 12000, "fee": null, "broken": true,
     "swaps": [{"id": "S8", "amountIn": "100", "amountOut": "0.028", "sender": "0xff"}]},
    {"__typename": "Pair", "id": "P6", "token0_id": "T6", "token1_id": "T2", "reserve0": "1000000000", "reserve1": "120000", "volumeBase": 3000.5, "fee": 100, "broken": true,
     "swaps": [{"id": "S9", "amountIn": "5000", "amountOut": "0.6", "sender": "0xaa"}, {"id": "S10", "amountIn": "20000", "amountOut": "2.4", "sender": "0xbb"}]},
    {"__typename": "Pair", "id": "P7", "token0_id": "T7", "token1_id": "T1", "reserve0": "2000", "reserve1": "0.3", "volumeBase": 10, "fee": 30, "broken": false, "swaps": []},
    {"__typename": "Pair", "id": "P8", "token0_id": "T4", "token1_id": "T2", "reserve0": "3.5", "reserve1": "339500", "volumeBase": 990000, "fee": 30, "broken": false,
     "swaps": [{"id": "S11", "amountIn": "0.1", "amountOut": "9700", "sender": "0xcc"}]}
  ]
})";

/// The data with lookups by id.
struct SampleStore {
  json::value data;
  std::map<std::string, json::object, std::less<>> tokens;
  std::map<std::string, json::object, std::less<>> pairs;

  SampleStore() : data(json::parse(k_data)) {
    for (const auto& t : data.at("tokens").as_array()) tokens[std::string(t.at("id").as_string())] = t.as_object();
    for (const auto& p : data.at("pairs").as_array()) pairs[std::string(p.at("id").as_string())] = p.as_object();
  }
  json::value token(std::string_view id) const {
    auto it = tokens.find(id);
    return it == tokens.end() ? json::value(nullptr) : json::value(it->second);
  }
  json::value pair(std::string_view id) const {
    auto it = pairs.find(id);
    return it == pairs.end() ? json::value(nullptr) : json::value(it->second);
  }
  const json::array& pair_list() const { return data.at("pairs").as_array(); }
  const json::array& token_list() const { return data.at("tokens").as_array(); }
};

const SampleStore& store() {
  static const SampleStore s;
  return s;
}

double number_of(const json::value& v) {
  if (v.is_string()) return std::strtod(std::string(v.get_string()).c_str(), nullptr);
  if (v.is_int64()) return static_cast<double>(v.get_int64());
  if (v.is_double()) return v.get_double();
  return 0;
}

std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.get_string()) : std::string();
}

const json::value* arg(const ResolveInfo& info, std::string_view name) {
  const auto* v = info.args.if_contains(name);
  return v == nullptr || v->is_null() ? nullptr : v;
}

std::int64_t int_arg(const ResolveInfo& info, std::string_view name, std::int64_t fallback) {
  const auto* v = arg(info, name);
  return v != nullptr && v->is_int64() ? v->get_int64() : fallback;
}

FieldResult price_of(const json::value& parent) {
  const auto& pair = parent.as_object();
  if (pair.at("broken").as_bool()) return bad_input("oracle", "oracle unavailable for " + text(pair.at("id")));
  return json::value(number_of(pair.at("reserve1")) / number_of(pair.at("reserve0")));
}

// Token loads by an id property, one call per level (what a database-backed loader would do with
// one `WHERE id IN (...)`).
BatchResolver load_tokens(std::string key) {
  return [key](const ResolveInfo&, const std::vector<const json::value*>& parents) -> Task<std::vector<FieldResult>> {
    std::vector<FieldResult> out;
    out.reserve(parents.size());
    for (const auto* p : parents) out.emplace_back(store().token(text(p->as_object().at(key))));
    co_return out;
  };
}

Resolvers sample_resolvers() {
  Resolvers r;
  r.sync("Query", "token", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    return store().token(text(info.args.at("id")));
  });
  r.sync("Query", "tokens", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    const auto* chain = arg(info, "chain");
    const auto first = int_arg(info, "first", 10);
    json::array out;
    for (const auto& t : store().token_list()) {
      if (static_cast<std::int64_t>(out.size()) >= first) break;
      if (chain != nullptr && t.at("chain") != *chain) continue;
      out.push_back(t);
    }
    return json::value(std::move(out));
  });
  r.sync("Query", "pair", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    return store().pair(text(info.args.at("id")));
  });
  r.sync("Query", "pairs", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    std::vector<json::value> list;
    const auto* filter = arg(info, "filter");
    for (const auto& p : store().pair_list()) {
      if (filter != nullptr) {
        const auto& f = filter->as_object();
        const auto token0 = store().token(text(p.at("token0_id")));
        const auto token1 = store().token(text(p.at("token1_id")));
        if (const auto* min = f.if_contains("minReserve"); min != nullptr && !min->is_null()) {
          if (number_of(p.at("reserve0")) < number_of(*min)) continue;
        }
        if (const auto* symbols = f.if_contains("symbols"); symbols != nullptr && !symbols->is_null()) {
          const auto& s = symbols->as_array();
          if (std::find(s.begin(), s.end(), token0.at("symbol")) == s.end() &&
              std::find(s.begin(), s.end(), token1.at("symbol")) == s.end()) {
            continue;
          }
        }
        if (const auto* chain = f.if_contains("chain"); chain != nullptr && !chain->is_null()) {
          if (token0.at("chain") != *chain) continue;
        }
      }
      list.push_back(p);
    }
    if (text(info.args.at("order")) == "DESC") std::reverse(list.begin(), list.end());
    std::int64_t first = 10;
    std::int64_t skip = 0;
    if (const auto* page = arg(info, "page")) {
      const auto& pg = page->as_object();
      if (const auto* v = pg.if_contains("first"); v != nullptr && v->is_int64()) first = v->get_int64();
      if (const auto* v = pg.if_contains("skip"); v != nullptr && v->is_int64()) skip = v->get_int64();
    }
    if (first < 0 || skip < 0) return bad_input("page", "page bounds must not be negative");
    json::array out;
    for (auto i = static_cast<std::size_t>(skip); i < list.size() && static_cast<std::int64_t>(out.size()) < first;
         ++i) {
      out.push_back(list[i]);
    }
    return json::value(std::move(out));
  });
  r.sync("Query", "node", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    const auto id = text(info.args.at("id"));
    auto t = store().token(id);
    return t.is_null() ? store().pair(id) : t;
  });
  r.sync("Query", "search", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    const auto needle = text(info.args.at("text"));
    json::array out;
    for (const auto& t : store().token_list()) {
      if (text(t.at("symbol")).find(needle) != std::string::npos) out.push_back(t);
    }
    for (const auto& p : store().pair_list()) {
      const auto s0 = text(store().token(text(p.at("token0_id"))).at("symbol"));
      const auto s1 = text(store().token(text(p.at("token1_id"))).at("symbol"));
      if (s0.find(needle) != std::string::npos || s1.find(needle) != std::string::npos) out.push_back(p);
    }
    return json::value(std::move(out));
  });
  r.sync("Query", "echo",
         [](const ResolveInfo& info, const json::value&) -> FieldResult { return json::value(info.args); });
  r.sync("Query", "failing", [](const ResolveInfo&, const json::value&) -> FieldResult {
    return bad_input("failing", "failing on purpose");
  });
  r.sync("Query", "failingNonNull", [](const ResolveInfo&, const json::value&) -> FieldResult {
    return bad_input("failing", "failing on purpose");
  });
  r.sync("Query", "nullableList", [](const ResolveInfo&, const json::value&) -> FieldResult {
    return json::value(json::array{1, nullptr, 3});
  });
  r.sync("Query", "nonNullItems", [](const ResolveInfo&, const json::value&) -> FieldResult {
    return json::value(json::array{1, nullptr, 3});
  });
  r.sync("Query", "deep", [](const ResolveInfo&, const json::value&) -> FieldResult {
    return json::value(json::object{{"n", 1}});
  });
  r.sync("Level", "next", [](const ResolveInfo&, const json::value& parent) -> FieldResult {
    const auto n = parent.at("n").as_int64();
    return n < 4 ? json::value(json::object{{"n", n + 1}}) : json::value(nullptr);
  });
  r.sync("Level", "fail", [](const ResolveInfo&, const json::value& parent) -> FieldResult {
    return bad_input("failing", "level " + std::to_string(parent.at("n").as_int64()) + " fails");
  });
  r.sync("Level", "failNonNull", [](const ResolveInfo&, const json::value&) -> FieldResult {
    return bad_input("failing", "non-null level field fails");
  });
  r.batch("Pair", "token0", load_tokens("token0_id"));
  r.batch("Pair", "token1", load_tokens("token1_id"));
  r.batch(
      "Token", "pairs",
      [](const ResolveInfo& info, const std::vector<const json::value*>& parents) -> Task<std::vector<FieldResult>> {
        const auto first = int_arg(info, "first", 10);
        std::vector<FieldResult> out;
        for (const auto* parent : parents) {
          const auto id = text(parent->at("id"));
          json::array list;
          for (const auto& p : store().pair_list()) {
            if (static_cast<std::int64_t>(list.size()) >= first) break;
            if (text(p.at("token0_id")) == id || text(p.at("token1_id")) == id) list.push_back(p);
          }
          out.emplace_back(json::value(std::move(list)));
        }
        co_return out;
      });
  r.sync("Pair", "volume", [](const ResolveInfo& info, const json::value& parent) -> FieldResult {
    const auto days = int_arg(info, "days", 1);
    if (days <= 0) return bad_input("days", "days must be positive");
    return json::value(number_of(parent.at("volumeBase")) * static_cast<double>(days));
  });
  r.sync("Pair", "swaps", [](const ResolveInfo& info, const json::value& parent) -> FieldResult {
    std::vector<json::object> swaps;
    for (const auto& s : parent.at("swaps").as_array()) {
      auto swap = s.as_object();
      swap["pair_id"] = parent.at("id");
      swaps.push_back(std::move(swap));
    }
    const bool desc = text(info.args.at("order")) == "DESC";
    std::sort(swaps.begin(), swaps.end(), [desc](const json::object& a, const json::object& b) {
      return desc ? text(a.at("id")) > text(b.at("id")) : text(a.at("id")) < text(b.at("id"));
    });
    const auto first = int_arg(info, "first", 3);
    json::array out;
    for (auto& s : swaps) {
      if (static_cast<std::int64_t>(out.size()) >= first) break;
      out.push_back(std::move(s));
    }
    return json::value(std::move(out));
  });
  r.sync("Pair", "price", [](const ResolveInfo&, const json::value& parent) { return price_of(parent); });
  r.sync("Pair", "strictPrice", [](const ResolveInfo&, const json::value& parent) { return price_of(parent); });
  r.batch("Swap", "pair",
          [](const ResolveInfo&, const std::vector<const json::value*>& parents) -> Task<std::vector<FieldResult>> {
            std::vector<FieldResult> out;
            out.reserve(parents.size());
            for (const auto* p : parents) out.emplace_back(store().pair(text(p->at("pair_id"))));
            co_return out;
          });
  r.sync("Mutation", "quote", [](const ResolveInfo& info, const json::value&) -> FieldResult {
    auto pair = store().pair(text(info.args.at("pairId")));
    if (pair.is_null()) return bad_input("unknown_pair", "unknown pair " + text(info.args.at("pairId")));
    const double in = number_of(info.args.at("amountIn"));
    const double r0 = number_of(pair.at("reserve0"));
    const double r1 = number_of(pair.at("reserve1"));
    return json::value(json::object{{"pair", pair}, {"amountOut", (in * r1) / (r0 + in)}});
  });
  return r;
}

}  // namespace

std::string_view sample_sdl() {
  return k_sdl;
}

const json::value& sample_data() {
  return store().data;
}

std::shared_ptr<const Executor> make_sample_executor(RequestLimits limits) {
  auto schema = Schema::from_sdl(k_sdl);
  if (!schema) throw std::logic_error("the sample GraphQL schema is invalid: " + schema.error().message);
  return std::make_shared<const Executor>(*schema, sample_resolvers(), limits);
}

void add_sample_graphql_routes(net::Router& router) {
  add_graphql_routes(router, "/v1/_test/graphql", make_sample_executor());
  router.add("GET", "/v1/_test/graphql/sample", [](net::Request&) -> Task<Result<net::Response>> {
    json::object body{{"sdl", sample_sdl()}, {"data", sample_data()}};
    co_return net::json_response(200, body);
  });
}

}  // namespace gh::graphql
