#pragma once
// Test support: a small DEX-like schema for the graphql unit tests (not part of the library).
#include <memory>

#include "graphql/schema.hpp"

namespace gh::graphql::testing {

inline constexpr const char* k_test_sdl = R"(
  "Something with an id."
  interface Node { id: ID! }
  type Token implements Node { id: ID! symbol: String! decimals: Int! }
  type Pair implements Node {
    id: ID!
    token0: Token!
    token1: Token!
    reserve0: String
    volume(days: Int = 1): Float
    old: Int @deprecated(reason: "use volume")
  }
  union SearchResult = Token | Pair
  enum Order { ASC DESC }
  input PairFilter { minVolume: Float = 0, tokens: [ID!], order: Order = ASC }
  input Range { min: Int!, max: Int = 100 }
  input Page { first: Int = 5, skip: Int = 0 }
  type Query {
    pairs(first: Int = 10, filter: PairFilter): [Pair!]!
    pair(id: ID!): Pair
    node(id: ID!): Node
    search(text: String!, page: Page): [SearchResult!]!
    echo(value: Int, list: [Int], filter: PairFilter, order: Order, text: String, id: ID, f: Float, range: Range): String
    failing: String
    broken: Int!
  }
  type Mutation { addPair(token0: ID!, token1: ID!): Pair! }
)";

inline std::shared_ptr<const Schema> test_schema() {
  auto schema = Schema::from_sdl(k_test_sdl);
  if (!schema) std::abort();
  return *schema;
}

}  // namespace gh::graphql::testing
