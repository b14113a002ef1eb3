#pragma once
// The one database interface of gatehouse: a Database opened from a URL (SQLite or PostgreSQL),
// transactions run by Database::transact (committed when the function returns a value, rolled
// back when it returns an error Result or throws, retried whole on a busy database or a
// serialization failure), read-only ones by Database::read, and versioned migrations per module.
// SQL uses $1, $2, ... placeholders on both backends.
//
// Portable SQL conventions the backends rely on:
// - Integers are int64 (INTEGER / BIGINT); flags are integers 0/1 (SQLite has no boolean and
//   PostgreSQL receives int64 parameters typed as bigint).
// - 256-bit amounts are decimal strings: NUMERIC(78,0) on PostgreSQL, TEXT on SQLite. Bind and
//   read them as text. SQLite compares and sums TEXT as text, so never rely on SQL arithmetic or
//   ordering of amounts; do it in C++ (eth::U256).
// - A statement that fails inside a transaction poisons it on both backends (PostgreSQL aborts
//   the transaction; we make SQLite behave the same): use INSERT ... ON CONFLICT DO NOTHING, or
//   catch the DbError outside transact, rather than catching it inside and carrying on.
// Blocking: every call blocks its thread. Callers run them on gh::BlockingPool.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "core/error.hpp"
#include "core/result.hpp"

namespace gh::store {

/// The SQL dialect of a backend; DDL and the rare dialect-specific query branch on it.
enum class Dialect { sqlite, postgres };

/// "sqlite" or "postgres".
const char* to_string(Dialect dialect) noexcept;

/// Binary column and parameter data.
using Blob = std::vector<std::uint8_t>;

/// A bound parameter or a column value. Text is UTF-8; amounts are decimal text.
using Value = std::variant<std::nullptr_t, std::int64_t, double, std::string, Blob>;

/// What went wrong, as far as callers need to decide: only unique_violation is meant to be
/// caught by business code; busy and serialization_failure are retried by transact.
enum class DbErrorKind { unique_violation, serialization_failure, busy, connection, constraint, other };

/// Human name of a kind, for logs and messages.
const char* to_string(DbErrorKind kind) noexcept;

/// A database failure. The message names the failing statement (its SQL, never its parameters).
class DbError : public ServiceFailure {
 public:
  /// `sqlstate` is PostgreSQL's code, or its closest equivalent on SQLite ("" when none).
  DbError(DbErrorKind kind, std::string sqlstate, const std::string& message);
  /// A connection failure: the database is out of reach for now.
  bool unreachable() const noexcept override { return m_kind == DbErrorKind::connection; }
  /// The class of the failure.
  DbErrorKind kind() const noexcept { return m_kind; }
  /// The five-character SQLSTATE, e.g. "23505"; may be empty.
  const std::string& sqlstate() const noexcept { return m_sqlstate; }
  /// True when running the whole transaction again may succeed (busy, serialization, deadlock).
  bool retryable() const noexcept;

 private:
  DbErrorKind m_kind;
  std::string m_sqlstate;
};

/// Thrown by migrate() when the applied migrations disagree with the binary's.
class MigrationError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One result row: values by column index or name. Accessors throw DbError (other) when the
/// column is missing or its value has another type; PostgreSQL NUMERIC results read as text and,
/// when integral and in range, as int.
class Row {
 public:
  Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values);

  /// Number of columns.
  std::size_t size() const noexcept { return m_values.size(); }
  /// Column names, in order.
  const std::vector<std::string>& columns() const noexcept { return *m_columns; }
  /// The raw value of column i.
  const Value& value(std::size_t i) const;
  /// The raw value of the named column.
  const Value& value(std::string_view column) const;

  /// True when the column is SQL NULL.
  bool is_null(std::size_t i) const { return std::holds_alternative<std::nullptr_t>(value(i)); }
  bool is_null(std::string_view column) const { return std::holds_alternative<std::nullptr_t>(value(column)); }

  /// An integer (also accepts integral decimal text, e.g. PostgreSQL sum() results).
  std::int64_t get_int(std::size_t i) const { return as_int(i, value(i)); }
  std::int64_t get_int(std::string_view column) const { return as_int(index_of(column), value(column)); }
  /// A floating-point number (also accepts an integer).
  double get_double(std::size_t i) const { return as_double(i, value(i)); }
  double get_double(std::string_view column) const { return as_double(index_of(column), value(column)); }
  /// Text (an integer reads as its decimal form).
  std::string get_text(std::size_t i) const { return as_text(i, value(i)); }
  std::string get_text(std::string_view column) const { return as_text(index_of(column), value(column)); }
  /// Binary data.
  Blob get_blob(std::size_t i) const { return as_blob(i, value(i)); }
  Blob get_blob(std::string_view column) const { return as_blob(index_of(column), value(column)); }

  /// The same accessors, with std::nullopt for NULL.
  std::optional<std::int64_t> opt_int(std::size_t i) const {
    return is_null(i) ? std::nullopt : std::optional(get_int(i));
  }
  std::optional<std::int64_t> opt_int(std::string_view c) const {
    return is_null(c) ? std::nullopt : std::optional(get_int(c));
  }
  std::optional<double> opt_double(std::size_t i) const {
    return is_null(i) ? std::nullopt : std::optional(get_double(i));
  }
  std::optional<double> opt_double(std::string_view c) const {
    return is_null(c) ? std::nullopt : std::optional(get_double(c));
  }
  std::optional<std::string> opt_text(std::size_t i) const {
    return is_null(i) ? std::nullopt : std::optional(get_text(i));
  }
  std::optional<std::string> opt_text(std::string_view c) const {
    return is_null(c) ? std::nullopt : std::optional(get_text(c));
  }
  std::optional<Blob> opt_blob(std::size_t i) const { return is_null(i) ? std::nullopt : std::optional(get_blob(i)); }
  std::optional<Blob> opt_blob(std::string_view c) const {
    return is_null(c) ? std::nullopt : std::optional(get_blob(c));
  }

  /// Index of a column by name; throws DbError when there is none.
  std::size_t index_of(std::string_view column) const;

 private:
  std::int64_t as_int(std::size_t i, const Value& v) const;
  double as_double(std::size_t i, const Value& v) const;
  std::string as_text(std::size_t i, const Value& v) const;
  Blob as_blob(std::size_t i, const Value& v) const;
  [[noreturn]] void type_mismatch(std::size_t i, const char* wanted) const;

  std::shared_ptr<const std::vector<std::string>> m_columns;
  std::vector<Value> m_values;
};

/// The rows of a query, with their column names.
class Rows {
 public:
  Rows() = default;
  Rows(std::vector<std::string> columns, std::vector<Row> rows);
  /// Column names, in order (also present when there are no rows).
  const std::vector<std::string>& columns() const noexcept { return m_columns; }
  std::size_t size() const noexcept { return m_rows.size(); }
  bool empty() const noexcept { return m_rows.empty(); }
  const Row& operator[](std::size_t i) const { return m_rows[i]; }
  /// Row i with bounds checking.
  const Row& at(std::size_t i) const { return m_rows.at(i); }
  auto begin() const noexcept { return m_rows.begin(); }
  auto end() const noexcept { return m_rows.end(); }

 private:
  std::vector<std::string> m_columns;
  std::vector<Row> m_rows;
};

/// How much a transaction sees of concurrent ones. SQLite is always serializable.
enum class Isolation { read_committed, serializable };

/// How to run one transaction. Whether it may write is not an option: Database::transact
/// writes, Database::read only reads.
struct TxOptions {
  Isolation isolation = Isolation::read_committed;
  /// Runs of the whole function on busy/serialization failures before the error propagates.
  int max_attempts = 8;
};

/// One open transaction. Statements take $1, $2, ... placeholders (reusable, in any order).
/// Not thread-safe: one transaction belongs to the thread running the transact function.
class Tx {
 public:
  virtual ~Tx() = default;
  /// The dialect of the backend, for the rare statement that differs.
  virtual Dialect dialect() const noexcept = 0;

  /// Runs one statement and returns its rows.
  Rows query(std::string_view sql, std::span<const Value> params = {});
  Rows query(std::string_view sql, std::initializer_list<Value> params) {
    return query(sql, std::span<const Value>(params.begin(), params.size()));
  }
  /// Runs one statement and returns its first row, if any.
  std::optional<Row> query_one(std::string_view sql, std::span<const Value> params = {});
  std::optional<Row> query_one(std::string_view sql, std::initializer_list<Value> params) {
    return query_one(sql, std::span<const Value>(params.begin(), params.size()));
  }
  /// Runs one statement and returns the number of rows it changed (rows returned, for a query).
  std::int64_t exec(std::string_view sql, std::span<const Value> params = {});
  std::int64_t exec(std::string_view sql, std::initializer_list<Value> params) {
    return exec(sql, std::span<const Value>(params.begin(), params.size()));
  }
  /// One statement of query_all.
  struct Statement {
    std::string_view sql;
    std::span<const Value> params;
  };
  /// Runs statements that do not depend on one another's results and returns their rows, in
  /// order: PostgreSQL sends them in one round trip (with the deferred statements waiting), SQLite
  /// runs them one after another. The first failure throws.
  std::vector<Rows> query_all(std::span<const Statement> statements);
  /// Runs a statement whose outcome the caller does not need (an insert nothing later depends
  /// on failing or not): PostgreSQL sends it with the transaction's next statement, or with its
  /// COMMIT, in one round trip, and its failure fails that statement or the commit; SQLite runs
  /// it at once. Statements still run in the order they were given.
  void exec_deferred(std::string_view sql, std::span<const Value> params = {});
  void exec_deferred(std::string_view sql, std::initializer_list<Value> params) {
    exec_deferred(sql, std::span<const Value>(params.begin(), params.size()));
  }
  /// Runs several ;-separated statements without parameters (migrations, DDL).
  void execute_script(std::string_view sql);

  /// True once a statement of this transaction failed; it can then only roll back.
  bool failed() const noexcept { return m_failed; }

  Tx(const Tx&) = delete;
  Tx& operator=(const Tx&) = delete;

 protected:
  Tx() = default;

 private:
  virtual Rows do_query(std::string_view sql, std::span<const Value> params) = 0;
  virtual std::int64_t do_exec(std::string_view sql, std::span<const Value> params) = 0;
  virtual void do_exec_deferred(std::string_view sql, std::span<const Value> params) { do_exec(sql, params); }
  virtual std::vector<Rows> do_query_all(std::span<const Statement> statements) {
    std::vector<Rows> out;
    out.reserve(statements.size());
    for (const auto& s : statements) out.push_back(do_query(s.sql, s.params));
    return out;
  }
  virtual void do_execute_script(std::string_view sql) = 0;

  bool m_failed = false;
};

/// An open transaction owned by transact: commits explicitly, rolls back and releases its
/// connection when destroyed uncommitted.
class TxSession : public Tx {
 public:
  /// Commits; throws DbError (the transaction is then rolled back).
  virtual void commit() = 0;
};

/// Connection pool figures, for /metrics.
struct PoolStats {
  std::size_t size = 0;              ///< connections open
  std::size_t in_use = 0;            ///< connections running a transaction
  std::size_t idle = 0;              ///< connections open and free
  std::uint64_t waits_total = 0;     ///< acquisitions that had to wait for a connection
  std::uint64_t acquired_total = 0;  ///< acquisitions
  std::uint64_t timeouts_total = 0;  ///< acquisitions that gave up after acquire_timeout
  std::uint64_t retries_total = 0;   ///< transactions run again after busy/serialization failure
};

/// How to open a database.
struct DatabaseSettings {
  /// PostgreSQL: connections at most. SQLite: reader connections (plus one writer).
  std::size_t pool_size = 8;
  /// SQLite: how long a statement waits for another process's lock before failing busy.
  std::chrono::milliseconds busy_timeout{5000};
  /// How long a transaction waits for a free connection (or SQLite's writer) before failing.
  std::chrono::milliseconds acquire_timeout{5000};
  /// PostgreSQL: statements each connection keeps prepared (a text is prepared the second time it
  /// runs; the least recently used go first). 0 prepares none, for a pooler that cannot keep
  /// them.
  std::size_t statement_cache = 256;
  /// PostgreSQL: connect timeout of a new connection (whole seconds, at least 1).
  std::chrono::milliseconds connect_timeout{5000};
  /// Retry pauses grow from this base (doubled per attempt, jittered) up to backoff_max.
  std::chrono::milliseconds backoff_base{5};
  std::chrono::milliseconds backoff_max{250};
};

/// One migration of a module: SQL per dialect (the same text when no variant file exists).
struct Migration {
  int version = 0;
  std::string name;
  std::string sqlite_sql;
  std::string postgres_sql;
};

/// The migrations of one module, in version order (generated by gatehouse_migrations()).
struct MigrationSet {
  std::string module;
  std::vector<Migration> migrations;
};

/// A SQLite or PostgreSQL database with its connections. Thread-safe.
class Database {
 public:
  virtual ~Database() = default;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  /// Opens "sqlite:PATH" (creates the file and its directory), "sqlite::memory:" (one private
  /// in-memory database, for tests), or "postgres://..." / "postgresql://..." (libpq URI).
  /// Throws std::invalid_argument with a one-line reason for a bad URL, DbError when the
  /// database cannot be opened.
  static std::unique_ptr<Database> open(std::string_view url, const DatabaseSettings& settings = {});

  /// The dialect of this backend.
  virtual Dialect dialect() const noexcept = 0;

  /// Runs f(Tx&) in a transaction and commits, unless f returns an error Result: then the
  /// transaction rolls back (nothing f wrote stays) and the error is returned. On busy, serialization failure or
  /// deadlock it rolls back and runs the WHOLE of f again (with a jittered pause), up to max_attempts; any other
  /// exception rolls back and propagates. f must therefore have no effect outside the database that a second run would
  /// repeat. Nested transact on the same Database throws std::logic_error.
  template <class F>
  auto transact(F&& f, TxOptions options = {}) -> std::invoke_result_t<F&, Tx&> {
    return run(std::forward<F>(f), options, TxAccess::read_write);
  }
  /// Runs f(Tx&) in a read-only transaction: on SQLite a reader connection that never takes the
  /// writer lock; on PostgreSQL read-only statements outside a transaction block at read committed
  /// (each statement sees what was committed when it began, as inside one), a READ ONLY
  /// transaction when serializable. A write in f fails with DbError. Same retry rules.
  template <class F>
  auto read(F&& f, TxOptions options = {}) -> std::invoke_result_t<F&, Tx&> {
    return run(std::forward<F>(f), options, TxAccess::read_only);
  }

  /// True when the database answers a trivial query (for /readyz).
  virtual bool ping() = 0;
  /// Pool figures (for /metrics).
  PoolStats stats() const;

  /// Applies the pending migrations of each set, each in its own transaction with its
  /// bookkeeping row in store_migrations. Safe when several processes migrate at once. Throws
  /// MigrationError when an applied migration's checksum differs from the binary's or when the
  /// database has versions this binary does not know (it was downgraded).
  void migrate(std::span<const MigrationSet> sets);
  /// True when every migration of the sets is applied with the binary's checksum (for /readyz).
  bool migrated(std::span<const MigrationSet> sets);

 protected:
  Database() = default;
  /// Whether a transaction may write.
  enum class TxAccess { read_write, read_only };
  /// Opens a transaction; the session rolls back on destruction unless committed.
  virtual std::unique_ptr<TxSession> begin(const TxOptions& options, TxAccess access) = 0;
  /// Pool figures of the backend (retries_total is filled in by stats()).
  virtual PoolStats pool_stats() const = 0;
  /// The settings the database was opened with.
  virtual const DatabaseSettings& settings() const noexcept = 0;
  /// Called when migrate() has applied every set: settings of a backend that migrations must not
  /// run under.
  virtual void after_migrations() {}

 private:
  /// Marks this thread as inside a transaction of this database; refuses nesting.
  class NestingGuard {
   public:
    explicit NestingGuard(const Database& db);
    ~NestingGuard();
    NestingGuard(const NestingGuard&) = delete;
    NestingGuard& operator=(const NestingGuard&) = delete;

   private:
    const Database* m_previous;
  };
  template <class F>
  auto run(F&& f, TxOptions options, TxAccess access) -> std::invoke_result_t<F&, Tx&>;
  /// Counts the retry and sleeps a jittered, growing pause before attempt `attempt + 1`.
  void pause_before_retry(int attempt);

  std::atomic<std::uint64_t> m_retries{0};
};

namespace detail {
template <class R>
struct is_result : std::false_type {};
template <class T>
struct is_result<Result<T>> : std::true_type {};
}  // namespace detail

template <class F>
auto Database::run(F&& f, TxOptions options, TxAccess access) -> std::invoke_result_t<F&, Tx&> {
  using R = std::invoke_result_t<F&, Tx&>;
  NestingGuard nesting(*this);
  for (int attempt = 1;; ++attempt) {
    try {
      std::unique_ptr<TxSession> session = begin(options, access);
      if constexpr (std::is_void_v<R>) {
        f(*session);
        session->commit();
        return;
      } else {
        R result = f(*session);
        // An error Result is a decision not to change anything: the session rolls back when it
        // goes out of scope, uncommitted.
        if constexpr (detail::is_result<R>::value) {
          if (!result.has_value()) return result;
        }
        session->commit();
        return result;
      }
    } catch (const DbError& e) {
      // The session is gone (rolled back, connection released) before we pause.
      if (!e.retryable() || attempt >= options.max_attempts) throw;
    }
    pause_before_retry(attempt);
  }
}

}  // namespace gh::store
