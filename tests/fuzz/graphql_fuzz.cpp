// GraphQL documents from arbitrary text: the parser never crashes and stays within its limits; a
// syntax error always says where; an accepted document prints to a canonical text that parses
// again and prints identically; and validation, variable coercion and cost analysis of it against
// a schema never crash.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "graphql/parser.hpp"
#include "graphql/printer.hpp"
#include "graphql/request.hpp"
#include "graphql/schema.hpp"
#include "graphql/testing/sample_schema.hpp"
#include "graphql/validation.hpp"

namespace {

const gh::graphql::Schema& schema() {
  static const auto s = gh::graphql::testing::test_schema();
  return *s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  gh::graphql::ParseLimits limits;
  limits.max_bytes = 16 * 1024;
  limits.max_depth = 32;
  const auto parsed = gh::graphql::parse(text, limits);
  if (!parsed) {
    if (parsed.error.code != "DOCUMENT_TOO_LARGE" && parsed.error.locations.empty()) __builtin_trap();
    for (const auto& loc : parsed.error.locations) {
      if (loc.line == 0 || loc.column == 0 || loc.line > size + 1 || loc.column > size + 1) __builtin_trap();
    }
    return 0;
  }
  const auto printed = gh::graphql::print(*parsed.document);
  gh::graphql::ParseLimits loose;
  loose.max_bytes = 1 << 24;
  loose.max_tokens = 1 << 22;
  loose.max_depth = 64;
  const auto again = gh::graphql::parse(printed, loose);
  if (!again) __builtin_trap();
  if (gh::graphql::print(*again.document) != printed) __builtin_trap();

  (void)gh::graphql::validate(schema(), *parsed.document);
  gh::graphql::RequestParams params;
  params.query = std::string(text);
  gh::graphql::RequestLimits request_limits;
  request_limits.parse = limits;
  (void)gh::graphql::prepare(schema(), params, request_limits);
  // The SDL parser shares the lexer; schemas built from fuzzed SDL must not crash either.
  (void)gh::graphql::Schema::from_sdl(text);
  return 0;
}
