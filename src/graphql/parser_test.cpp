#include "graphql/parser.hpp"

#include <gtest/gtest.h>

#include "graphql/lexer.hpp"
#include "graphql/printer.hpp"

namespace gh::graphql {
namespace {

const Field& field_at(const SelectionSet& set, std::size_t i) {
  return std::get<Field>(set.at(i).node);
}

TEST(Lexer, TokensValuesAndLocations) {
  Lexer lexer("query {\n  a(x: -1.5e3, y: \"h\\u00e9\\u{1F600}\") # comment\n}");
  std::vector<Token> tokens;
  for (;;) {
    auto t = lexer.next();
    ASSERT_TRUE(t);
    tokens.push_back(*t);
    if (t->kind == TokenKind::end) break;
  }
  ASSERT_EQ(tokens.size(), 13u);
  EXPECT_EQ(tokens[2].value, "a");
  EXPECT_EQ(tokens[2].loc, (Location{2, 3}));
  EXPECT_EQ(tokens[6].kind, TokenKind::float_value);
  EXPECT_EQ(tokens[6].value, "-1.5e3");
  EXPECT_EQ(tokens[9].kind, TokenKind::string_value);
  EXPECT_EQ(tokens[9].value, "h\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(tokens[11].loc, (Location{3, 1}));
}

TEST(Lexer, BlockStringsAreDedented) {
  Lexer lexer("\"\"\"\n    Hello,\n      World!\n\n    Yours, \\\"\"\" GraphQL.\n  \"\"\"");
  auto t = lexer.next();
  ASSERT_TRUE(t);
  EXPECT_EQ(t->kind, TokenKind::block_string);
  EXPECT_EQ(t->value, "Hello,\n  World!\n\nYours, \"\"\" GraphQL.");
}

TEST(Lexer, ErrorsCarryPositions) {
  struct Case {
    const char* source;
    Location loc;
    const char* message;
  };
  const Case cases[] = {
      {"{ a(x: 01) }", {1, 9}, "unexpected digit after 0"},
      {"\n  \"abc", {2, 7}, "Unterminated string"},
      {"{ a(x: 1.) }", {1, 10}, "expected digit"},
      {"{ a(x: 1x) }", {1, 9}, "expected digit"},
      {"{ ? }", {1, 3}, "Unexpected character"},
      {"{ a(x: \"\\q\") }", {1, 9}, "Invalid character escape"},
      {"{ a(x: \"\\uD800\") }", {1, 9}, "Invalid Unicode escape"},
      {"{ a(x: 'x') }", {1, 8}, "single quote"},
      {"{ .. }", {1, 3}, "Unexpected \".\""},
  };
  for (const auto& c : cases) {
    Lexer lexer(c.source);
    bool failed = false;
    for (int i = 0; i < 32; ++i) {
      auto t = lexer.next();
      if (!t) {
        failed = true;
        break;
      }
      if (t->kind == TokenKind::end) break;
    }
    ASSERT_TRUE(failed) << c.source;
    EXPECT_EQ(lexer.error().locations.at(0), c.loc) << c.source;
    EXPECT_NE(lexer.error().message.find(c.message), std::string::npos) << lexer.error().message;
  }
}

TEST(Parser, FullExecutableGrammar) {
  const auto r = parse(R"(
    query Q($id: ID! = "1", $list: [Int!]! = [1, 2] @dir, $o: In = {a: {b: [ENUM, null, true]}}) @op {
      alias: node(id: $id) @include(if: true) {
        ... on User @skip(if: false) { name }
        ... @include(if: $flag) { id }
        ...Frag
        __typename
      }
      b: f(x: """block
        string""")
    }
    fragment Frag on Node { id }
    mutation { m }
    subscription S { s }
    { short }
  )");
  ASSERT_TRUE(r) << r.error.message;
  ASSERT_EQ(r.document->definitions.size(), 5u);
  const auto& q = std::get<OperationDefinition>(r.document->definitions[0].node);
  EXPECT_EQ(q.name, "Q");
  ASSERT_EQ(q.variables.size(), 3u);
  EXPECT_EQ(q.variables[0].type->kind, TypeRef::Kind::non_null);
  EXPECT_EQ(q.variables[0].type->of->name, "ID");
  EXPECT_EQ(q.variables[0].default_value->text, "1");
  EXPECT_EQ(q.variables[1].type->of->kind, TypeRef::Kind::list);
  EXPECT_EQ(q.variables[1].directives.at(0).name, "dir");
  const auto& obj = *q.variables[2].default_value;
  EXPECT_EQ(obj.kind, Value::Kind::object);
  EXPECT_EQ(obj.fields.at(0).second->fields.at(0).second->list.size(), 3u);
  EXPECT_EQ(q.directives.at(0).name, "op");
  const auto& node = field_at(*q.selections, 0);
  EXPECT_EQ(node.alias, "alias");
  EXPECT_EQ(node.name, "node");
  EXPECT_EQ(node.response_key(), "alias");
  EXPECT_EQ(node.loc, (Location{3, 7}));
  ASSERT_EQ(node.selections->size(), 4u);
  const auto& inline1 = std::get<InlineFragment>(node.selections->at(0).node);
  EXPECT_EQ(inline1.type_condition, "User");
  const auto& inline2 = std::get<InlineFragment>(node.selections->at(1).node);
  EXPECT_EQ(inline2.type_condition, "");
  EXPECT_EQ(inline2.directives.at(0).arguments.at(0).value->kind, Value::Kind::variable);
  EXPECT_EQ(std::get<FragmentSpread>(node.selections->at(2).node).name, "Frag");
  EXPECT_EQ(field_at(*q.selections, 1).arguments.at(0).value->text, "block\nstring");
  const auto& frag = std::get<FragmentDefinition>(r.document->definitions[1].node);
  EXPECT_EQ(frag.type_condition, "Node");
  EXPECT_EQ(std::get<OperationDefinition>(r.document->definitions[2].node).operation, OperationType::mutation);
  EXPECT_EQ(std::get<OperationDefinition>(r.document->definitions[3].node).operation, OperationType::subscription);
  EXPECT_EQ(field_at(*std::get<OperationDefinition>(r.document->definitions[4].node).selections, 0).name, "short");
}

TEST(Parser, SyntaxErrorsCarryPositions) {
  struct Case {
    const char* source;
    Location loc;
    const char* message;
  };
  const Case cases[] = {
      {"", {1, 1}, "Unexpected <EOF>"},
      {"{", {1, 2}, "Expected Name, found <EOF>"},
      {"{ a(}", {1, 5}, "Expected Name, found \"}\""},
      {"query {}", {1, 8}, "Unexpected \"}\""},
      {"{ a }\nfoo", {2, 1}, "Unexpected Name \"foo\""},
      {"query Q($a) { a }", {1, 11}, "Expected \":\""},
      {"query Q($a: Int = $b) { a }", {1, 19}, "Unexpected variable \"$b\" in constant value"},
      {"fragment on on T { a }", {1, 10}, "Unexpected Name \"on\""},
      {"{ a(x: 1 }", {1, 10}, "Expected Name"},
      {"type T { a: Int }", {1, 1}, "Unexpected Name \"type\""},
  };
  for (const auto& c : cases) {
    const auto r = parse(c.source);
    ASSERT_FALSE(r) << c.source;
    ASSERT_EQ(r.error.locations.size(), 1u) << c.source;
    EXPECT_EQ(r.error.locations[0], c.loc) << c.source << ": " << r.error.message;
    EXPECT_NE(r.error.message.find(c.message), std::string::npos) << c.source << ": " << r.error.message;
    EXPECT_EQ(r.error.message.rfind("Syntax Error: ", 0), 0u);
  }
}

TEST(Parser, SchemaDefinitionLanguage) {
  const auto r = parse(R"(
    "The root"
    schema { query: Query mutation: Mutation }
    """
    A user.
    """
    type User implements Node & Named @key(fields: "id") {
      "its id"
      id: ID!
      friends(first: Int = 10, after: String): [User!]! @deprecated(reason: "no")
    }
    interface Node { id: ID! }
    union Thing = | User | Pair
    enum Color { RED "green" GREEN }
    input Filter { min: Int = 0, colors: [Color!] }
    scalar BigInt @specifiedBy(url: "https://example.com")
    directive @key(fields: String!) repeatable on OBJECT | INTERFACE
    extend type User { extra: Int }
  )",
                       {}, DocumentKind::type_system);
  ASSERT_TRUE(r) << r.error.message;
  ASSERT_EQ(r.document->definitions.size(), 9u);
  const auto& user = std::get<TypeDefinition>(r.document->definitions[1].node);
  EXPECT_EQ(user.description, "A user.");
  EXPECT_EQ(user.interfaces, (std::vector<std::string>{"Node", "Named"}));
  EXPECT_EQ(user.fields.at(1).arguments.at(0).default_value->text, "10");
  EXPECT_EQ(user.fields.at(0).description, "its id");
  EXPECT_EQ(std::get<TypeDefinition>(r.document->definitions[3].node).members,
            (std::vector<std::string>{"User", "Pair"}));
  EXPECT_EQ(std::get<TypeDefinition>(r.document->definitions[4].node).values.at(1).description, "green");
  const auto& directive = std::get<DirectiveDefinition>(r.document->definitions[7].node);
  EXPECT_TRUE(directive.repeatable);
  EXPECT_EQ(directive.locations, (std::vector<std::string>{"OBJECT", "INTERFACE"}));
  EXPECT_TRUE(std::get<TypeDefinition>(r.document->definitions[8].node).extension);
}

TEST(Parser, LimitsAreEnforcedWithClearErrors) {
  ParseLimits limits;
  limits.max_bytes = 100;
  auto r = parse(std::string(200, ' ') + "{ a }", limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.code, "DOCUMENT_TOO_LARGE");
  EXPECT_NE(r.error.message.find("exceeds the limit of 100 bytes"), std::string::npos);

  limits = {};
  limits.max_tokens = 50;
  std::string wide = "{";
  for (int i = 0; i < 60; ++i) wide += " a" + std::to_string(i);
  r = parse(wide + " }", limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.code, "DOCUMENT_TOO_LARGE");

  limits = {};
  limits.max_depth = 10;
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "{ a ";
  for (int i = 0; i < 20; ++i) deep += "} ";
  r = parse(deep, limits);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.code, "DOCUMENT_TOO_DEEP");
  // Deeply nested list values are bounded the same way (no stack exhaustion).
  r = parse("{ a(x: " + std::string(1000, '[') + ") }");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error.code, "DOCUMENT_TOO_DEEP");
}

}  // namespace
}  // namespace gh::graphql

namespace gh::graphql {
namespace {

TEST(Printer, CanonicalAndStable) {
  const char* source = R"(query Q($a: [Int!]! = [1, 2] @v, $b: In = {x: "q\"\n", y: ENUM}) @op {
    alias: f(x: $a, y: """block""", z: -1.5e3, w: null, t: true) @include(if: $c) { ... on T @skip(if: false) { g } ...F }
    ... @include(if: true) { h }
  }
  { short }
  fragment F on T @d { i })";
  const auto r = parse(source);
  ASSERT_TRUE(r) << r.error.message;
  const auto printed = print(*r.document);
  const auto again = parse(printed);
  ASSERT_TRUE(again) << printed << "\n" << again.error.message;
  EXPECT_EQ(print(*again.document), printed);
  EXPECT_NE(printed.find("query Q($a: [Int!]! = [1, 2] @v, $b: In = {x: \"q\\\"\\n\", y: ENUM}) @op {"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("alias: f(x: $a, y: \"block\", z: -1.5e3, w: null, t: true) @include(if: $c) {"),
            std::string::npos)
      << printed;
  EXPECT_NE(printed.find("\n{\n  short\n}\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("fragment F on T @d {\n  i\n}"), std::string::npos) << printed;
}

}  // namespace
}  // namespace gh::graphql
