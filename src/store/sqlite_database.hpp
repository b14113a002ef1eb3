#pragma once
// The SQLite backend (private to store): one writer connection serialized by a mutex, write
// transactions opened with BEGIN IMMEDIATE, a bounded pool of query_only reader connections
// for read-only transactions (WAL lets them read while the writer writes), and for a file
// database a background thread with its own connection that checkpoints the WAL, so that the
// writer's commits do not.
#include <memory>

#include "store/database.hpp"
#include "store/database_url.hpp"

namespace gh::store {

/// WAL pages after a commit from which the background checkpointer is woken: SQLite's own
/// auto-checkpoint threshold, which the writer's WAL hook replaces.
inline constexpr int sqlite_checkpoint_wal_pages = 1000;

/// WAL pages after a commit from which the writer checkpoints the WAL itself (PASSIVE, as
/// SQLite's default hook does) because the background checkpointer has fallen behind. A long WAL
/// costs disk space, readers' lookups of every page they read, and recovery time after a crash;
/// this keeps it to about this many pages (64 MiB at SQLite's default 4 KiB pages). Not while a
/// read transaction holds an old snapshot: no checkpoint can copy what was committed after it
/// began, nor the WAL start over, until it ends; the WAL grows meanwhile, as it did with SQLite's
/// auto-checkpoint.
inline constexpr int sqlite_writer_checkpoint_wal_pages = 16 * sqlite_checkpoint_wal_pages;

/// Opens (and creates) the SQLite database of `url`.
std::unique_ptr<Database> open_sqlite(const DatabaseUrl& url, const DatabaseSettings& settings);

}  // namespace gh::store
