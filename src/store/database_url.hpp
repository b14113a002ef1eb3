#pragma once
// The database URL of --database: which backend, and where.
#include <string>
#include <string_view>

#include "core/result.hpp"
#include "store/database.hpp"

namespace gh::store {

/// A parsed database URL.
struct DatabaseUrl {
  Dialect dialect = Dialect::sqlite;
  /// SQLite: the file path ("" for an in-memory database).
  std::string sqlite_path;
  /// SQLite: true for "sqlite::memory:".
  bool sqlite_memory = false;
  /// PostgreSQL: the URI handed to libpq as is.
  std::string postgres_uri;
};

/// Parses "sqlite:PATH", "sqlite://PATH", "sqlite::memory:", "postgres://..." and
/// "postgresql://..."; the error says in one line what is wrong (without the password).
Result<DatabaseUrl> parse_database_url(std::string_view url);

/// The URL with its password replaced by "***", for logs and error messages.
std::string redact_database_url(std::string_view url);

}  // namespace gh::store
