#pragma once
// PostgreSQL's $N placeholders for SQLite. SQLite reads "$1" as a *named* parameter numbered by
// first appearance, so "$2 ... $1" would bind the wrong values; "?NNN" is SQLite's numbered form.
#include <cstddef>
#include <string>
#include <string_view>

namespace gh::store {

/// Rewrites every $N placeholder to ?N, leaving string literals, quoted identifiers, comments and
/// identifiers that contain '$' (e.g. a$1) untouched.
std::string rewrite_placeholders_for_sqlite(std::string_view sql);

/// The highest N of the $N placeholders (0 when there are none), found by the same rules: the
/// number of parameters the statement takes.
std::size_t highest_placeholder(std::string_view sql);

/// The first 160 characters of a statement on one line ("..." when cut), for error messages.
std::string sql_excerpt(std::string_view sql);

}  // namespace gh::store
