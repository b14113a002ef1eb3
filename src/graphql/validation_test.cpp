#include "graphql/validation.hpp"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include "graphql/coercion.hpp"
#include "graphql/parser.hpp"
#include "graphql/request.hpp"
#include "graphql/testing/sample_schema.hpp"

namespace gh::graphql {
namespace {

namespace json = boost::json;

std::vector<GraphQLError> errors_of(const std::string& query) {
  static const auto schema = testing::test_schema();
  auto parsed = parse(query);
  EXPECT_TRUE(parsed) << query << ": " << parsed.error.message;
  if (!parsed) return {};
  return validate(*schema, *parsed.document);
}

TEST(Schema, BuildsFromSdlAndRejectsBrokenOnes) {
  auto schema = testing::test_schema();
  const auto* pair = schema->type("Pair");
  ASSERT_NE(pair, nullptr);
  EXPECT_EQ(pair->interfaces, (std::vector<std::string>{"Node"}));
  EXPECT_TRUE(pair->field("old")->deprecated);
  EXPECT_EQ(pair->field("old")->deprecation_reason, "use volume");
  EXPECT_EQ(schema->type("Node")->possible_types, (std::vector<std::string>{"Token", "Pair"}));
  EXPECT_EQ(schema->root(OperationType::mutation)->name, "Mutation");
  EXPECT_EQ(schema->root(OperationType::subscription), nullptr);
  EXPECT_NE(schema->type("__Schema"), nullptr);

  for (const char* bad : {
           "type Query { a: Missing }",
           "type Query { a(x: Query): Int }",
           "type Query { a: Int } type Query { b: Int }",
           "type Query { a: Int } type T implements Query { a: Int }",
           "interface I { id: ID! } type Query implements I { a: Int }",
           "type Mutation { a: Int }",
           "type Query { a: Int } union U = Int",
           "type Query { a: Int } type __Bad { a: Int }",
           "type Query { a: Int",
       }) {
    auto r = Schema::from_sdl(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_schema");
  }
}

TEST(Schema, DirectiveDefinitionsNameKnownLocations) {
  auto good = Schema::from_sdl(
      "type Query { a: Int } directive @tag(name: String) on FIELD_DEFINITION | OBJECT | INPUT_FIELD_DEFINITION");
  ASSERT_TRUE(good) << good.error().message;
  auto bad = Schema::from_sdl("type Query { a: Int } directive @tag on QUERY | NOWHERE");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, "invalid_schema");
  EXPECT_NE(bad.error().message.find("Unknown directive location \"NOWHERE\"."), std::string::npos)
      << bad.error().message;
  EXPECT_EQ(bad.error().message.find("QUERY"), std::string::npos) << bad.error().message;
}

struct RuleCase {
  const char* name;
  const char* query;
  const char* message;  // empty: valid
};

TEST(Validation, SpecRules) {
  const RuleCase cases[] = {
      {"valid", "query Q($f: PairFilter, $n: Int = 3) { pairs(first: $n, filter: $f) { id token0 { symbol } } }", ""},
      {"valid fragments", "{ node(id: 1) { ...N ... on Pair { volume(days: 2) } } } fragment N on Node { id }", ""},
      {"unknown field", "{ pairs { nope } }", "Cannot query field \"nope\" on type \"Pair\"."},
      {"unknown root field", "{ nope }", "Cannot query field \"nope\" on type \"Query\"."},
      {"leaf with selection", "{ pairs { id { x } } }", "must not have a selection"},
      {"object without selection", "{ pairs }", "must have a selection of subfields"},
      {"unknown argument", "{ pairs(last: 1) { id } }", "Unknown argument \"last\" on field \"Query.pairs\"."},
      {"duplicate argument", "{ pairs(first: 1, first: 2) { id } }", "There can be only one argument named \"first\"."},
      {"missing required argument", "{ pair { id } }", "argument \"id\" of type \"ID!\" is required"},
      {"wrong literal type", "{ pairs(first: \"x\") { id } }", "Int cannot represent non-integer value"},
      {"int out of range", "{ pairs(first: 3000000000) { id } }", "non 32-bit signed integer"},
      {"bad enum", "{ echo(order: UP) }", "does not exist in \"Order\" enum"},
      {"enum as string", "{ echo(order: \"ASC\") }", "cannot represent non-enum value"},
      {"unknown input field", "{ echo(filter: {nope: 1}) }", "Field \"nope\" is not defined by type \"PairFilter\"."},
      {"duplicate input field", "{ echo(filter: {minVolume: 1, minVolume: 2}) }", "only one input field named"},
      {"null for non-null", "{ pair(id: null) { id } }", "found null"},
      {"undefined variable", "{ pairs(first: $n) { id } }", "Variable \"$n\" is not defined."},
      {"unused variable", "query Q($n: Int) { pairs { id } }", "Variable \"$n\" is never used in operation \"Q\"."},
      {"duplicate variable", "query Q($n: Int, $n: Int) { pairs(first: $n) { id } }", "only one variable named"},
      {"non-input variable", "query Q($n: Pair) { pairs { id } }", "cannot be non-input type"},
      {"unknown variable type", "query Q($n: Nope) { pairs { id } }", "Unknown type \"Nope\"."},
      {"variable in wrong position", "query Q($t: String) { pairs(first: $t) { id } }",
       "Variable \"$t\" of type \"String\" used in position expecting type \"Int\"."},
      {"nullable variable for non-null", "query Q($t: ID) { pair(id: $t) { id } }", "expecting type \"ID!\""},
      {"nullable variable with default ok", "query Q($t: ID = \"1\") { pair(id: $t) { id } }", ""},
      {"list variable item", "query Q($t: [String]) { echo(filter: {tokens: $t}) }", "expecting type \"[ID!]\""},
      {"bad default value", "query Q($n: Int = \"x\") { pairs(first: $n) { id } }", "Int cannot represent"},
      {"unknown fragment", "{ pairs { ...Nope } }", "Unknown fragment \"Nope\"."},
      {"unused fragment", "{ pairs { id } } fragment F on Pair { id }", "Fragment \"F\" is never used."},
      {"duplicate fragment", "{ pairs { ...F } } fragment F on Pair { id } fragment F on Pair { id }",
       "only one fragment named \"F\""},
      {"fragment on scalar", "{ pairs { ...F } } fragment F on Int { id }", "cannot condition on non composite type"},
      {"fragment on unknown type", "{ pairs { ...F } } fragment F on Nope { id }", "Unknown type \"Nope\"."},
      {"impossible spread", "{ pairs { ...F } } fragment F on Token { id }",
       "objects of type \"Pair\" can never be of type \"Token\""},
      {"impossible inline", "{ pairs { ... on Token { id } } }", "can never be of type \"Token\""},
      {"spread on union member ok", "{ search(text: \"a\") { ... on Token { symbol } ... on Node { id } } }", ""},
      {"fragment cycle", "{ pairs { ...A } } fragment A on Pair { ...B } fragment B on Pair { ...A }",
       "Cannot spread fragment \"A\" within itself via \"B\"."},
      {"self cycle", "{ pairs { ...A } } fragment A on Pair { id ...A }",
       "Cannot spread fragment \"A\" within itself."},
      {"unknown directive", "{ pairs @nope { id } }", "Unknown directive \"@nope\"."},
      {"misplaced directive", "query @include(if: true) { pairs { id } }", "may not be used on QUERY"},
      {"duplicate directive", "{ pairs @skip(if: true) @skip(if: false) { id } }", "can only be used once"},
      {"directive missing argument", "{ pairs @include { id } }", "argument \"if\" of type \"Boolean!\" is required"},
      {"conflicting fields", "{ pairs { x: id x: reserve0 } }", "\"id\" and \"reserve0\" are different fields"},
      {"conflicting arguments", "{ pairs { volume(days: 1) volume(days: 2) } }", "differing arguments"},
      {"conflicting types across union",
       "{ search(text: \"a\") { ... on Token { v: decimals } ... on Pair { v: reserve0 } } }", "conflicting types"},
      {"same field merges", "{ pairs { id id ... on Pair { id } } }", ""},
      {"conflicting subfields", "{ pairs { token0 { x: id } token0 { x: symbol } } }", "subfields \"x\" conflict"},
      {"duplicate operation", "query A { pairs { id } } query A { failing }", "only one operation named \"A\""},
      {"lone anonymous", "{ failing } query A { failing }", "must be the only defined operation"},
      {"no subscription type is an execution error", "subscription { failing }", ""},
      {"introspection fields", "{ __schema { types { name } } __type(name: \"Pair\") { name } __typename }", ""},
      {"__typename on union", "{ search(text: \"a\") { __typename } }", ""},
      {"__schema not on Pair", "{ pairs { __schema { types { name } } } }", "Cannot query field \"__schema\""},
  };
  for (const auto& c : cases) {
    const auto errors = errors_of(c.query);
    if (std::string(c.message).empty()) {
      EXPECT_TRUE(errors.empty()) << c.name << ": " << (errors.empty() ? "" : errors[0].message);
      continue;
    }
    ASSERT_FALSE(errors.empty()) << c.name;
    bool found = false;
    for (const auto& e : errors) {
      found = found || e.message.find(c.message) != std::string::npos;
      EXPECT_FALSE(e.locations.empty()) << c.name << ": " << e.message;
      EXPECT_EQ(e.code, "GRAPHQL_VALIDATION_FAILED");
    }
    EXPECT_TRUE(found) << c.name << ": got " << errors[0].message;
  }
}

TEST(Validation, ErrorCountIsBounded) {
  std::string query = "{";
  for (int i = 0; i < 500; ++i) query += " x" + std::to_string(i);
  const auto errors = errors_of(query + " }");
  ASSERT_EQ(errors.size(), 101u);
  EXPECT_EQ(errors.back().message, "Too many validation errors, error limit reached. Validation aborted.");
}

TEST(Validation, ErrorsPointAtTheOffendingNode) {
  const auto errors = errors_of("{\n  pairs {\n    nope\n  }\n}");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].locations.at(0), (Location{3, 5}));
}

TEST(Coercion, VariablesFromJson) {
  const auto schema = testing::test_schema();
  auto parsed = parse(
      "query Q($a: Int, $b: [Int], $f: PairFilter, $id: ID!, $o: Order, $x: Float, $d: Int = 7) "
      "{ echo(value: $a, list: $b, filter: $f, id: $id, order: $o, f: $x) e: echo(value: $d) }");
  ASSERT_TRUE(parsed);
  const auto& op = std::get<OperationDefinition>(parsed.document->definitions[0].node);
  auto ok = coerce_variable_values(
      *schema, op, json::parse(R"({"a": 1, "b": 2, "f": {"tokens": [5]}, "id": 12, "o": "DESC", "x": 3})").as_object());
  ASSERT_TRUE(std::holds_alternative<json::object>(ok));
  const auto& vars = std::get<json::object>(ok);
  EXPECT_EQ(vars.at("a"), json::value(1));
  EXPECT_EQ(vars.at("b"), json::parse("[2]"));  // a single value becomes a list
  EXPECT_EQ(vars.at("f"), json::parse(R"({"minVolume": 0.0, "tokens": ["5"], "order": "ASC"})"));
  EXPECT_EQ(vars.at("id"), json::value("12"));
  EXPECT_EQ(vars.at("x"), json::value(3.0));
  EXPECT_EQ(vars.at("d"), json::value(7));

  for (const char* bad : {R"({"id": null})", R"({})", R"({"id": "1", "a": 1.5})", R"({"id": "1", "a": 4294967296})",
                          R"({"id": "1", "b": ["x"]})", R"({"id": "1", "f": {"nope": 1}})", R"({"id": "1", "o": "UP"})",
                          R"({"id": "1", "f": {"tokens": [null]}})", R"({"id": true})", R"({"id": "1", "x": "3"})"}) {
    auto r = coerce_variable_values(*schema, op, json::parse(bad).as_object());
    ASSERT_TRUE(std::holds_alternative<std::vector<GraphQLError>>(r)) << bad;
    const auto& errors = std::get<std::vector<GraphQLError>>(r);
    EXPECT_EQ(errors.at(0).locations.size(), 1u);
    EXPECT_NE(errors.at(0).message.find("Variable \"$"), std::string::npos) << errors.at(0).message;
  }
}

TEST(Coercion, ArgumentsFromLiteralsAndVariables) {
  const auto schema = testing::test_schema();
  const auto* pairs = schema->type("Query")->field("pairs");
  auto parsed = parse("{ pairs(filter: {tokens: [$t, \"2\"], order: DESC}) { id } }");
  ASSERT_TRUE(parsed);
  const auto& op = std::get<OperationDefinition>(parsed.document->definitions[0].node);
  const auto& field = std::get<Field>(op.selections->at(0).node);
  auto vars = json::parse(R"({"t": "1"})").as_object();
  auto args = coerce_argument_values(*schema, pairs->args, field.arguments, vars);
  ASSERT_TRUE(std::holds_alternative<json::object>(args)) << std::get<std::string>(args);
  EXPECT_EQ(json::value(std::get<json::object>(args)),
            json::parse(R"({"first": 10, "filter": {"minVolume": 0.0, "tokens": ["1", "2"], "order": "DESC"}})"));
  // A variable the request did not give cannot fill a non-null list item.
  auto none = coerce_argument_values(*schema, pairs->args, field.arguments, json::object{});
  ASSERT_TRUE(std::holds_alternative<std::string>(none));
  // A missing variable leaves an argument absent: its default applies.
  parsed = parse("query Q($n: Int) { pairs(first: $n) { id } }");
  ASSERT_TRUE(parsed);
  const auto& op2 = std::get<OperationDefinition>(parsed.document->definitions[0].node);
  const auto& field2 = std::get<Field>(op2.selections->at(0).node);
  auto defaulted = coerce_argument_values(*schema, pairs->args, field2.arguments, json::object{});
  ASSERT_TRUE(std::holds_alternative<json::object>(defaulted));
  EXPECT_EQ(std::get<json::object>(defaulted).at("first"), json::value(10));
}

TEST(Limits, DepthAliasesAndComplexity) {
  const auto schema = testing::test_schema();
  RequestLimits limits;
  limits.query.max_depth = 3;
  limits.query.max_aliases = 2;
  limits.query.max_complexity = 100;
  auto run = [&](const std::string& query) { return prepare(*schema, RequestParams{query, "", {}}, limits); };
  EXPECT_TRUE(run("{ pairs(first: 5) { token0 { id } } }").request);

  auto r = run("{ pairs { token0 { id } } } ");
  EXPECT_TRUE(r.request);  // depth 3, complexity 1 + 10 * (1 + 1) = 21
  r = run("{ node(id: 1) { ... on Pair { token0 { id } } } }");
  EXPECT_TRUE(r.request);
  r = run("{ pairs { ...F } } fragment F on Pair { token0 { ... on Token { id } } token1 { id } }");
  EXPECT_TRUE(r.request);

  limits.query.max_depth = 2;
  r = run("{ pairs { ...F } } fragment F on Pair { token0 { id } }");
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).code, "QUERY_TOO_DEEP");
  limits.query.max_depth = 15;

  r = run("{ a: failing b: failing c: failing }");
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).code, "TOO_MANY_ALIASES");
  // Aliases count once per expansion of the fragment.
  r = run("{ pairs(first: 1) { ...F } pair(id: 1) { ...F } } fragment F on Pair { a: id b: id }");
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).code, "TOO_MANY_ALIASES");

  r = run("{ pairs(first: 50) { token0 { id } } }");  // 1 + 50 * (1 + 1) = 101
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).code, "QUERY_TOO_COMPLEX");
  EXPECT_NE(r.errors.at(0).message.find("101"), std::string::npos) << r.errors.at(0).message;
  // The list size may come from a variable.
  r = prepare(*schema,
              RequestParams{"query Q($n: Int) { pairs(first: $n) { token0 { id } } }", "", json::object{{"n", 49}}},
              limits);
  EXPECT_TRUE(r.request);
  r = prepare(*schema,
              RequestParams{"query Q($n: Int) { pairs(first: $n) { token0 { id } } }", "", json::object{{"n", 50}}},
              limits);
  EXPECT_FALSE(r.request);

  // The parse limits apply first.
  limits.parse.max_bytes = 10;
  r = run("{ pairs { id } }");
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).code, "DOCUMENT_TOO_LARGE");
}

TEST(Request, OperationSelection) {
  const auto schema = testing::test_schema();
  const std::string two = "query A { failing } query B { broken }";
  auto r = prepare(*schema, RequestParams{two, "", {}}, {});
  ASSERT_FALSE(r.request);
  EXPECT_NE(r.errors.at(0).message.find("Must provide operation name"), std::string::npos);
  r = prepare(*schema, RequestParams{two, "C", {}}, {});
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).message, "Unknown operation named \"C\".");
  r = prepare(*schema, RequestParams{two, "B", {}}, {});
  ASSERT_TRUE(r.request);
  EXPECT_EQ(r.request->operation->name, "B");

  RequestParams params;
  EXPECT_TRUE(params_from_json(json::parse(R"({"query": "{ a }", "operationName": null, "variables": {"x": 1}})"),
                               params) == std::nullopt);
  EXPECT_EQ(params.variables.at("x"), json::value(1));
  EXPECT_TRUE(params_from_json(json::parse(R"({"query": 1})"), params));
  EXPECT_TRUE(params_from_json(json::parse(R"({"query": "{a}", "variables": [1]})"), params));
  EXPECT_TRUE(params_from_json(json::parse(R"([1])"), params));
}

}  // namespace
}  // namespace gh::graphql
