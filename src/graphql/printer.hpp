#pragma once
// Prints executable documents back to GraphQL text, in one canonical form: printing a parse of the
// output gives the same text again (the parser fuzzer checks this), and logs can show what ran.
#include <string>

#include "graphql/ast.hpp"

namespace gh::graphql {

/// The canonical text of the operations and fragments of a document (type system definitions are
/// left out).
std::string print(const Document& document);

}  // namespace gh::graphql
