#pragma once
// Test support: a fresh, empty database per test on either backend, so every db-labelled suite
// runs the same tests on SQLite and PostgreSQL (one parameterized suite, never two copies).
// PostgreSQL comes from GATEHOUSE_TEST_POSTGRES_URL (scripts/test-services); when it is unset
// the suite is skipped, or fails when GATEHOUSE_REQUIRE_SERVICES=1 (as in `make test`).
#include <libpq-fe.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "store/database.hpp"

namespace gh::store::testing {

/// The value of an environment variable, or "".
inline std::string env_or_empty(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

/// Runs one statement outside any transaction (CREATE/DROP DATABASE cannot run inside one).
inline void admin_exec(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string reason = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("admin connection failed: " + reason);
  }
  PGresult* res = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
  const std::string reason = PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + reason);
}

/// The URL with its database name replaced.
inline std::string with_database(const std::string& url, const std::string& name) {
  const std::size_t authority = url.find("://") + 3;
  const std::size_t slash = url.find('/', authority);
  const std::size_t query = url.find('?', authority);
  const std::string tail = query == std::string::npos ? "" : url.substr(query);
  const std::size_t cut =
      slash != std::string::npos && (query == std::string::npos || slash < query) ? slash : std::min(query, url.size());
  return url.substr(0, cut) + "/" + name + tail;
}

/// A database created for one test and removed afterwards.
class FreshDatabase {
 public:
  /// Why no database could be made: empty when one was.
  std::string unavailable;
  /// True when the absence of the service must fail the test rather than skip it.
  bool required = env_or_empty("GATEHOUSE_REQUIRE_SERVICES") == "1";

  explicit FreshDatabase(Dialect dialect, std::string_view tag = "t") {
    static std::atomic<int> counter{0};
    const int n = counter.fetch_add(1);
    if (dialect == Dialect::postgres) {
      m_admin_url = env_or_empty("GATEHOUSE_TEST_POSTGRES_URL");
      if (m_admin_url.empty()) {
        unavailable = "GATEHOUSE_TEST_POSTGRES_URL is unset (scripts/test-services start)";
        return;
      }
      m_pg_database = fmt::format("gh_{}_{}_{}", tag, getpid(), n);
      admin_exec(m_admin_url, "DROP DATABASE IF EXISTS " + m_pg_database);
      admin_exec(m_admin_url, "CREATE DATABASE " + m_pg_database);
      m_url = with_database(m_admin_url, m_pg_database);
    } else {
      m_dir = std::filesystem::temp_directory_path() / fmt::format("gh-{}-{}-{}", tag, getpid(), n);
      std::filesystem::remove_all(m_dir);
      m_url = "sqlite:" + (m_dir / "gatehouse.db").string();
    }
  }
  ~FreshDatabase() {
    try {
      if (!m_pg_database.empty()) admin_exec(m_admin_url, "DROP DATABASE IF EXISTS " + m_pg_database + " WITH (FORCE)");
      if (!m_dir.empty()) std::filesystem::remove_all(m_dir);
    } catch (...) {
      // Cleanup of a test database must not mask the test's own outcome.
    }
  }
  FreshDatabase(const FreshDatabase&) = delete;
  FreshDatabase& operator=(const FreshDatabase&) = delete;

  /// The URL to open (sqlite:PATH or postgres://...).
  const std::string& url() const noexcept { return m_url; }
  /// The admin URL of the PostgreSQL server ("" for SQLite).
  const std::string& admin_url() const noexcept { return m_admin_url; }
  /// Opens a new connection pool on it.
  std::unique_ptr<Database> open(const DatabaseSettings& settings = {}) const {
    return Database::open(m_url, settings);
  }

 private:
  std::string m_url;
  std::string m_admin_url;
  std::string m_pg_database;
  std::filesystem::path m_dir;
};

}  // namespace gh::store::testing

/// In a test's SetUp: skips, or fails under GATEHOUSE_REQUIRE_SERVICES=1, when no database.
#define GH_REQUIRE_DATABASE(fresh)                               \
  do {                                                           \
    if (!(fresh).unavailable.empty()) {                          \
      if ((fresh).required) GTEST_FAIL() << (fresh).unavailable; \
      GTEST_SKIP() << (fresh).unavailable;                       \
    }                                                            \
  } while (0)
