// Database::migrate and Database::migrated: versioned migrations per module, recorded in
// store_migrations, each applied in its own transaction together with its bookkeeping row.
#include <map>

#include <fmt/format.h>

#include "core/log.hpp"
#include "store/database.hpp"
#include "store/migration_plan.hpp"

namespace gh::store {
namespace {

// Serializes migrators across processes on PostgreSQL ("ghmigrat" in ASCII). On SQLite every
// write transaction begins IMMEDIATE, which already serializes them.
constexpr std::int64_t migration_lock_key = 0x67686d6967726174;

void lock_migrations(Tx& tx) {
  if (tx.dialect() == Dialect::postgres) tx.query("SELECT pg_advisory_xact_lock($1)", {migration_lock_key});
}

constexpr std::string_view create_table_sqlite = R"sql(
CREATE TABLE IF NOT EXISTS store_migrations (
  module     TEXT    NOT NULL,
  version    INTEGER NOT NULL,
  name       TEXT    NOT NULL,
  checksum   TEXT    NOT NULL,
  applied_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
  PRIMARY KEY (module, version)
))sql";

constexpr std::string_view create_table_postgres = R"sql(
CREATE TABLE IF NOT EXISTS store_migrations (
  module     TEXT        NOT NULL,
  version    INTEGER     NOT NULL,
  name       TEXT        NOT NULL,
  checksum   TEXT        NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  PRIMARY KEY (module, version)
))sql";

bool table_exists(Tx& tx) {
  const auto row =
      tx.dialect() == Dialect::sqlite
          ? tx.query_one("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'store_migrations'")
          : tx.query_one(
                "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename = 'store_migrations' "
                "AND schemaname = current_schema()");
  return row && row->get_int(0) > 0;
}

struct Applied {
  std::string name;
  std::string checksum;
};

std::map<int, Applied> applied_of(Tx& tx, const std::string& module) {
  std::map<int, Applied> out;
  for (const Row& row : tx.query("SELECT version, name, checksum FROM store_migrations WHERE module = $1", {module})) {
    out[static_cast<int>(row.get_int(0))] = Applied{row.get_text(1), row.get_text(2)};
  }
  return out;
}

const Migration* find_version(const MigrationSet& set, int version) {
  for (const auto& m : set.migrations) {
    if (m.version == version) return &m;
  }
  return nullptr;
}

std::string changed_message(const MigrationSet& set, const Migration& m, const std::string& applied,
                            const std::string& binary) {
  return fmt::format(
      "module '{}': migration {} was edited after it was applied (checksum in the database {}, in this binary {}); "
      "restore it and add a new migration instead",
      set.module, migration_label(m.version, m.name), applied.substr(0, 12), binary.substr(0, 12));
}

// Refuses to go on when the database and the binary disagree about the past.
void check_history(const MigrationSet& set, const std::map<int, Applied>& applied, Dialect dialect) {
  for (const auto& [version, row] : applied) {
    const Migration* m = find_version(set, version);
    if (m == nullptr) {
      throw MigrationError(fmt::format(
          "module '{}': the database has migration {} applied, which this binary does not know; it was migrated by a "
          "newer gatehouse (downgrades are not supported)",
          set.module, migration_label(version, row.name)));
    }
    const std::string checksum = migration_checksum(migration_sql(*m, dialect));
    if (checksum != row.checksum) throw MigrationError(changed_message(set, *m, row.checksum, checksum));
  }
}

}  // namespace

void Database::migrate(std::span<const MigrationSet> sets) {
  for (const auto& set : sets) validate_migration_set(set);
  transact([](Tx& tx) {
    lock_migrations(tx);
    tx.execute_script(tx.dialect() == Dialect::sqlite ? create_table_sqlite : create_table_postgres);
  });
  for (const auto& set : sets) {
    const auto applied = read([&](Tx& tx) { return applied_of(tx, set.module); });
    check_history(set, applied, dialect());
    for (const auto& m : set.migrations) {
      if (applied.contains(m.version)) continue;
      const std::string& sql = migration_sql(m, dialect());
      const std::string checksum = migration_checksum(sql);
      const bool ran = transact([&](Tx& tx) {
        lock_migrations(tx);
        // Another process may have applied it since we looked; the lock makes this check final.
        if (auto row = tx.query_one("SELECT checksum FROM store_migrations WHERE module = $1 AND version = $2",
                                    {set.module, std::int64_t{m.version}})) {
          if (row->get_text(0) != checksum) throw MigrationError(changed_message(set, m, row->get_text(0), checksum));
          return false;
        }
        if (!sql.empty()) tx.execute_script(sql);
        tx.exec("INSERT INTO store_migrations (module, version, name, checksum) VALUES ($1, $2, $3, $4)",
                {set.module, std::int64_t{m.version}, m.name, checksum});
        return true;
      });
      if (ran) {
        log::info("migration applied", {{"module", set.module},
                                        {"migration", migration_label(m.version, m.name)},
                                        {"dialect", to_string(dialect())}});
      }
    }
  }
  after_migrations();
}

bool Database::migrated(std::span<const MigrationSet> sets) {
  return read([&](Tx& tx) {
    if (!table_exists(tx)) return false;
    for (const auto& set : sets) {
      const auto applied = applied_of(tx, set.module);
      for (const auto& m : set.migrations) {
        const auto it = applied.find(m.version);
        if (it == applied.end() || it->second.checksum != migration_checksum(migration_sql(m, tx.dialect())))
          return false;
      }
    }
    return true;
  });
}

}  // namespace gh::store
