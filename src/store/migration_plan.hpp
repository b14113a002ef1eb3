#pragma once
// The pure side of migrations: which SQL a dialect runs, its checksum, and the checks a set must
// pass before anything touches the database.
#include <string>
#include <string_view>

#include "store/database.hpp"

namespace gh::store {

/// The SQL of a migration for a dialect.
const std::string& migration_sql(const Migration& migration, Dialect dialect) noexcept;

/// Hex SHA-256 of the SQL with line endings normalized to "\n" (a checkout with CRLF endings
/// must not look like an edited migration).
std::string migration_checksum(std::string_view sql);

/// "0003_add_index": how migrations are named in files and messages.
std::string migration_label(int version, std::string_view name);

/// Throws MigrationError unless the module name is set and versions are positive, unique and
/// ascending.
void validate_migration_set(const MigrationSet& set);

}  // namespace gh::store
