#pragma once
// The PostgreSQL backend (private to store): libpq's synchronous API over a bounded pool of
// connections. Broken connections are dropped and replaced; a transaction whose first statement
// finds its pooled connection dead moves to a fresh one, so a database restart costs no request.
#include <memory>

#include "store/database.hpp"
#include "store/database_url.hpp"

namespace gh::store {

/// Checks the URI with libpq, connects once (to fail early) and returns the pooled database.
std::unique_ptr<Database> open_postgres(const DatabaseUrl& url, const DatabaseSettings& settings);

}  // namespace gh::store
