#pragma once
// The SQLite backend (private to store): one writer connection serialized by a mutex, write
// transactions opened with BEGIN IMMEDIATE, and a bounded pool of query_only reader connections
// for read-only transactions (WAL lets them read while the writer writes).
#include <memory>

#include "store/database.hpp"
#include "store/database_url.hpp"

namespace gh::store {

/// Opens (and creates) the SQLite database of `url`.
std::unique_ptr<Database> open_sqlite(const DatabaseUrl& url, const DatabaseSettings& settings);

}  // namespace gh::store
