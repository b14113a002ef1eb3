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

  // The type system's own rules (spec 3), each with the problem it names.
  const std::pair<const char*, const char*> broken[] = {
      {"interface I { f(a: Int): Int } type T implements I { f: Int } type Query { t: T }",
       "Interface field argument I.f(a:) expected but T.f does not provide it."},
      {"interface I { f(a: Int): Int } type T implements I { f(a: String): Int } type Query { t: T }",
       "Interface field argument I.f(a:) expects type Int but T.f(a:) is type String."},
      {"interface I { f: Int } type T implements I { f(b: Int!): Int } type Query { t: T }",
       "Object field T.f includes required argument b that is missing from the Interface field I.f."},
      {"interface I { id: ID } interface J implements I { id: ID } type T implements J { id: ID } type Query { t: T }",
       "Type T must implement I because it is implemented by J."},
      {"interface I implements I { id: ID } type Query { a: Int }", "cannot implement itself"},
      {"type Query { a: Int } extend type Query { a: Int }", "Field \"Query.a\" can only be defined once."},
      {"type Query { a(x: Int, x: Int): Int }", "Argument \"Query.a(x:)\" can only be defined once."},
      {"enum E { A A } type Query { a: E }", "Enum value \"E.A\" can only be defined once."},
      {"input In { a: Int, a: Int } type Query { a(x: In): Int }", "Input field \"In.a\" can only be defined once."},
      {"type A { a: Int } union U = A | A type Query { u: U }", "Member A of union type U can only be defined once."},
      {"type Query { __a: Int }", "Name \"__a\" must not begin with \"__\""},
      {"type Query { a(__x: Int): Int }", "Name \"__x\" must not begin with \"__\""},
      {"input In { a: In2! } input In2 { b: In! } type Query { a(x: In): Int }",
       "Cannot reference Input Object \"In\" within itself through a series of non-null fields: \"a.b\"."},
      {"type Query { a: Int @nope }", "Unknown directive \"@nope\"."},
      {"type Query @deprecated { a: Int }", "Directive \"@deprecated\" may not be used on OBJECT."},
      {"type Query { a: Int @deprecated(reason: 1) }", "Argument \"reason\" of \"@deprecated\" is invalid"},
      {"type Query { a: Int @deprecated(why: \"x\") }", "Unknown argument \"why\" on directive \"@deprecated\"."},
      {"type Query { a: Int @deprecated @deprecated }", "can only be used once at this location"},
      {"scalar S @specifiedBy type Query { a: S }", "argument \"url\" of type \"String!\" is required"},
      {"type Query { a(x: Int = \"x\"): Int }", "Default value of Query.a(x:) is invalid"},
      {"input In { a: [Int] = [\"x\"] } type Query { a(x: In): Int }", "Default value of In.a is invalid"},
  };
  for (const auto& [sdl, message] : broken) {
    auto r = Schema::from_sdl(sdl);
    ASSERT_FALSE(r) << sdl;
    EXPECT_NE(r.error().message.find(message), std::string::npos) << sdl << ": " << r.error().message;
  }

  // What the rules allow: covariant fields, optional extra arguments, transitive interfaces
  // declared, extensions, list-guarded input recursion, repeatable directives.
  auto ok = Schema::from_sdl(R"(
    interface Node { id: ID }
    interface Named implements Node { id: ID name(upper: Boolean = false): String }
    type User implements Node & Named { id: ID! name(upper: Boolean = false, locale: String): String }
    input Tree { children: [Tree!]! label: String = "x" }
    directive @tag(name: String!) repeatable on FIELD_DEFINITION
    type Query { user(tree: Tree): User @tag(name: "a") @tag(name: "b") old: Int @deprecated }
    extend type Query { more: [Node] }
  )");
  ASSERT_TRUE(ok) << ok.error().message;
  EXPECT_EQ((*ok)->type("Node")->possible_types, (std::vector<std::string>{"User"}));
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
      {"required input field given", "{ echo(range: {min: 1}) }", ""},
      {"required input field missing", "{ echo(range: {max: 1}) }",
       "Field \"Range.min\" of required type \"Int!\" was not provided."},
      {"required input field null", "{ echo(range: {min: null}) }", "Expected value of type \"Int!\", found null."},
      {"nullable variable for required input field", "query Q($m: Int) { echo(range: {min: $m}) }",
       "Variable \"$m\" of type \"Int\" used in position expecting type \"Int!\"."},
      {"non-null variable for required input field", "query Q($m: Int!) { echo(range: {min: $m}) }", ""},
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
  // JSON has one number type: an ID may arrive as any integral number, printed exactly.
  for (const auto& [given, id] : {std::pair<const char*, const char*>{"18446744073709551615", "18446744073709551615"},
                                  {"-9223372036854775808", "-9223372036854775808"},
                                  {"7.0", "7"},
                                  {"1e3", "1000"}}) {
    auto r = coerce_variable_values(*schema, op, json::parse(std::string(R"({"id": )") + given + "}").as_object());
    ASSERT_TRUE(std::holds_alternative<json::object>(r)) << given;
    EXPECT_EQ(std::get<json::object>(r).at("id"), json::value(id)) << given;
  }

  for (const char* bad : {R"({"id": null})", R"({})", R"({"id": "1", "a": 1.5})", R"({"id": "1", "a": 4294967296})",
                          R"({"id": "1", "b": ["x"]})", R"({"id": "1", "f": {"nope": 1}})", R"({"id": "1", "o": "UP"})",
                          R"({"id": "1", "f": {"tokens": [null]}})", R"({"id": true})", R"({"id": "1", "x": "3"})",
                          R"({"id": 1.5})", R"({"id": 1e300})"}) {
    auto r = coerce_variable_values(*schema, op, json::parse(bad).as_object());
    ASSERT_TRUE(std::holds_alternative<std::vector<GraphQLError>>(r)) << bad;
    const auto& errors = std::get<std::vector<GraphQLError>>(r);
    EXPECT_EQ(errors.at(0).locations.size(), 1u);
    EXPECT_NE(errors.at(0).message.find("Variable \"$"), std::string::npos) << errors.at(0).message;
  }
}

TEST(Coercion, RequiredInputFields) {
  const auto schema = testing::test_schema();
  auto parsed = parse("query Q($r: Range, $m: Int!) { echo(range: $r) e: echo(range: {min: $m}) }");
  ASSERT_TRUE(parsed);
  const auto& op = std::get<OperationDefinition>(parsed.document->definitions[0].node);
  auto ok = coerce_variable_values(*schema, op, json::parse(R"({"r": {"min": 3}, "m": 4})").as_object());
  ASSERT_TRUE(std::holds_alternative<json::object>(ok));
  EXPECT_EQ(std::get<json::object>(ok).at("r"), json::parse(R"({"min": 3, "max": 100})"));
  for (const auto& [bad, message] :
       {std::pair<const char*, const char*>{R"({"r": {"max": 3}, "m": 1})",
                                            "Field \"min\" of required type \"Int!\" was not provided"},
        {R"({"r": {"min": null}, "m": 1})", "Expected non-nullable type \"Int!\" not to be null at \"value.min\""},
        {R"({"r": {"min": 1}})", "Variable \"$m\" of required type \"Int!\" was not provided."}}) {
    auto r = coerce_variable_values(*schema, op, json::parse(bad).as_object());
    ASSERT_TRUE(std::holds_alternative<std::vector<GraphQLError>>(r)) << bad;
    const auto& errors = std::get<std::vector<GraphQLError>>(r);
    EXPECT_NE(errors.at(0).message.find(message), std::string::npos) << errors.at(0).message;
  }
  // Arguments: the literal object gets its defaults; a variable fills the required field.
  const auto* echo = schema->type("Query")->field("echo");
  const auto& second = std::get<Field>(op.selections->at(1).node);
  auto args = coerce_argument_values(*schema, echo->args, second.arguments, json::object{{"m", 5}});
  ASSERT_TRUE(std::holds_alternative<json::object>(args)) << std::get<std::string>(args);
  EXPECT_EQ(std::get<json::object>(args).at("range"), json::parse(R"({"min": 5, "max": 100})"));
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

  // Without a size argument the list counts with the argument's default in the schema
  // (pairs(first: Int = 10)), not the engine-wide default.
  {
    QueryLimits small;
    small.default_list_size = 2;
    auto doc = parse("query Q($n: Int) { a: pairs { token0 { id } } b: pairs(first: $n) { id } }");
    ASSERT_TRUE(doc);
    const auto& op = std::get<OperationDefinition>(doc.document->definitions[0].node);
    // a: 1 + 10 * (1 + 1); b without $n: 1 + 10 * 1
    EXPECT_EQ(measure(*schema, *doc.document, op, {}, small).complexity, 21u + 11u);
    // b with an explicit null: the resolver picks its size, so the engine default applies.
    EXPECT_EQ(measure(*schema, *doc.document, op, json::object{{"n", nullptr}}, small).complexity, 21u + 3u);
    EXPECT_EQ(measure(*schema, *doc.document, op, json::object{{"n", 4}}, small).complexity, 21u + 5u);
    // The size may sit in an input-object argument, with that input type's defaults.
    doc = parse(
        "query Q($p: Page) { a: search(text: \"a\") { __typename } b: search(text: \"b\", page: {}) { __typename } "
        "c: search(text: \"c\", page: {first: 7}) { __typename } d: search(text: \"d\", page: $p) { __typename } }");
    ASSERT_TRUE(doc);
    const auto& op2 = std::get<OperationDefinition>(doc.document->definitions[0].node);
    // a: 1 + 2 (no page: the engine default); b: 1 + 5 (Page.first's default); c: 1 + 7; d: 1 + 9
    const auto page = json::object{{"first", 9}, {"skip", 0}};
    EXPECT_EQ(measure(*schema, *doc.document, op2, json::object{{"p", page}}, small).complexity, 3u + 6u + 8u + 10u);
  }

  // The parse limits apply first.
  limits.parse.max_bytes = 10;
  r = run("{ pairs { id } }");
  ASSERT_FALSE(r.request);
  EXPECT_EQ(r.errors.at(0).code, "DOCUMENT_TOO_LARGE");
}

TEST(Request, SubscriptionsAreValidatedThenRefused) {
  auto schema = Schema::from_sdl("type Query { a: Int } type Subscription { ticks: Int prices: Float }");
  ASSERT_TRUE(schema) << schema.error().message;
  auto errors_for = [&](const std::string& query) {
    auto parsed = parse(query);
    EXPECT_TRUE(parsed) << query;
    return parsed ? validate(**schema, *parsed.document) : std::vector<GraphQLError>{};
  };
  // SingleFieldSubscriptions, fragments expanded.
  auto errors = errors_for("subscription S { ticks ...F } fragment F on Subscription { prices }");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "Subscription \"S\" must select only one top level field.");
  errors = errors_for("subscription { ticks prices }");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "Anonymous Subscription must select only one top level field.");
  errors = errors_for("subscription { __typename }");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].message, "Subscription must not select an introspection top level field.");
  EXPECT_FALSE(errors_for("subscription { t: ticks ticks }").empty());  // two response keys
  EXPECT_TRUE(errors_for("subscription { ticks ticks }").empty());

  // A valid subscription is refused before execution: no transport here serves event streams.
  auto r = prepare(**schema, RequestParams{"subscription { ticks }", "", {}}, {});
  ASSERT_FALSE(r.request);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].code, "OPERATION_NOT_SUPPORTED");
  EXPECT_EQ(r.errors[0].message, "Subscriptions are not served over this transport.");
  // Other operations of the same document still run.
  r = prepare(**schema, RequestParams{"subscription S { ticks } query Q { a }", "Q", {}}, {});
  EXPECT_TRUE(r.request);
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
