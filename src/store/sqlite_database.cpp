#include "store/sqlite_database.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/log.hpp"
#include "core/utf8.hpp"
#include "store/connection_pool.hpp"
#include "store/sql_placeholders.hpp"

namespace gh::store {
namespace {

// Maps SQLite's extended result code to our kinds, with PostgreSQL's SQLSTATE where one fits so
// that callers can treat both backends alike.
[[noreturn]] void throw_sqlite(sqlite3* db, int rc, std::string_view sql) {
  const int extended = db != nullptr ? sqlite3_extended_errcode(db) : rc;
  const char* message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  DbErrorKind kind = DbErrorKind::other;
  std::string sqlstate;
  switch (extended) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
      kind = DbErrorKind::unique_violation;
      sqlstate = "23505";
      break;
    case SQLITE_CONSTRAINT_NOTNULL:
      kind = DbErrorKind::constraint;
      sqlstate = "23502";
      break;
    case SQLITE_CONSTRAINT_FOREIGNKEY:
      kind = DbErrorKind::constraint;
      sqlstate = "23503";
      break;
    case SQLITE_CONSTRAINT_CHECK:
      kind = DbErrorKind::constraint;
      sqlstate = "23514";
      break;
    default:
      switch (extended & 0xff) {
        case SQLITE_CONSTRAINT:
          kind = DbErrorKind::constraint;
          sqlstate = "23000";
          break;
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
          kind = DbErrorKind::busy;
          sqlstate = "55P03";
          break;
        case SQLITE_READONLY:
          sqlstate = "25006";
          break;
        case SQLITE_CANTOPEN:
        case SQLITE_NOTADB:
          kind = DbErrorKind::connection;
          sqlstate = "08006";
          break;
        default:
          break;
      }
  }
  throw DbError(
      kind, std::move(sqlstate),
      sql.empty() ? fmt::format("sqlite: {}", message) : fmt::format("sqlite: {} (in: {})", message, sql_excerpt(sql)));
}

// One sqlite3 handle. Opened in multi-thread mode: we never share a handle between threads at
// the same time, so SQLite's per-connection mutex would be wasted.
class SqliteConnection {
 public:
  SqliteConnection(const std::string& path, int flags, const DatabaseSettings& settings) {
    const int rc = sqlite3_open_v2(path.c_str(), &m_db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
    if (rc != SQLITE_OK) {
      const std::string reason = m_db != nullptr ? sqlite3_errmsg(m_db) : sqlite3_errstr(rc);
      sqlite3_close_v2(m_db);
      throw DbError(DbErrorKind::connection, "08006", fmt::format("sqlite: cannot open {}: {}", path, reason));
    }
    sqlite3_extended_result_codes(m_db, 1);
    sqlite3_busy_timeout(m_db, static_cast<int>(std::min<std::int64_t>(settings.busy_timeout.count(), 1 << 30)));
  }
  ~SqliteConnection() {
    for (auto& entry : m_statements) sqlite3_finalize(entry.second);
    sqlite3_close_v2(m_db);
  }
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;

  sqlite3* get() const noexcept { return m_db; }

  void execute_script(std::string_view sql) {
    const std::string text(sql);
    char* error = nullptr;
    const int rc = sqlite3_exec(m_db, text.c_str(), nullptr, nullptr, &error);
    sqlite3_free(error);
    if (rc != SQLITE_OK) throw_sqlite(m_db, rc, sql);
  }

  Rows run(std::string_view sql, std::span<const Value> params, std::int64_t* changes) {
    Prepared stmt(prepared(sql));
    const int expected = sqlite3_bind_parameter_count(stmt.get());
    if (static_cast<std::size_t>(expected) != params.size()) {
      throw DbError(DbErrorKind::other, "08P01",
                    fmt::format("sqlite: statement takes {} parameters, {} given (in: {})", expected, params.size(),
                                sql_excerpt(sql)));
    }
    for (std::size_t i = 0; i < params.size(); ++i) bind(stmt.get(), static_cast<int>(i + 1), params[i], sql);

    const int columns = sqlite3_column_count(stmt.get());
    auto names = std::make_shared<std::vector<std::string>>();
    if (changes == nullptr) {  // exec() reads no rows: no names either
      names->reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) {
        const char* name = sqlite3_column_name(stmt.get(), c);
        names->emplace_back(name != nullptr ? name : "");
      }
    }
    std::vector<Row> rows;
    std::int64_t returned = 0;
    for (;;) {
      const int rc = sqlite3_step(stmt.get());
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) throw_sqlite(m_db, rc, sql);
      ++returned;
      if (changes != nullptr) continue;  // exec(): rows are not wanted
      std::vector<Value> values;
      values.reserve(static_cast<std::size_t>(columns));
      for (int c = 0; c < columns; ++c) values.push_back(read(stmt.get(), c));
      rows.emplace_back(names, std::move(values));
    }
    // Like PostgreSQL's command tag: rows changed, or rows returned by a query run through exec().
    if (changes != nullptr) *changes = sqlite3_stmt_readonly(stmt.get()) != 0 ? returned : sqlite3_changes64(m_db);
    return Rows(*names, std::move(rows));
  }

 private:
  // Prepared statements are kept per connection, by SQL text: parsing and planning a statement
  // costs more than running it for the short statements of a transaction (the indexer runs the
  // same few thousands of times per range). SQLite re-prepares them itself after a schema change.
  static constexpr std::size_t max_cached_statements = 256;

  // A cached statement in use: reset and unbound when the call ends, however it ends.
  class Prepared {
   public:
    explicit Prepared(sqlite3_stmt* stmt) : m_stmt(stmt) {}
    ~Prepared() {
      sqlite3_reset(m_stmt);
      sqlite3_clear_bindings(m_stmt);
    }
    Prepared(const Prepared&) = delete;
    Prepared& operator=(const Prepared&) = delete;
    sqlite3_stmt* get() const noexcept { return m_stmt; }

   private:
    sqlite3_stmt* m_stmt;
  };

  sqlite3_stmt* prepared(std::string_view sql) {
    if (auto it = m_statements.find(sql); it != m_statements.end()) return it->second;
    std::string key(sql);
    Statement fresh(m_db, rewrite_placeholders_for_sqlite(sql), sql);
    if (m_statements.size() >= max_cached_statements) {
      for (auto& entry : m_statements) sqlite3_finalize(entry.second);
      m_statements.clear();
    }
    sqlite3_stmt* stmt = fresh.release();
    m_statements.emplace(std::move(key), stmt);
    return stmt;
  }

  class Statement {
   public:
    Statement(sqlite3* db, const std::string& sql, std::string_view original) {
      const char* tail = nullptr;
      const int rc = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size() + 1), &m_stmt, &tail);
      if (rc != SQLITE_OK) throw_sqlite(db, rc, original);
      if (m_stmt == nullptr) {
        throw DbError(DbErrorKind::other, "42601",
                      fmt::format("sqlite: empty statement (in: {})", sql_excerpt(original)));
      }
      // PostgreSQL refuses several statements with parameters; refuse them here too.
      if (tail != nullptr && *tail != '\0') {
        sqlite3_stmt* next = nullptr;
        const int tail_rc = sqlite3_prepare_v2(db, tail, -1, &next, nullptr);
        sqlite3_finalize(next);
        if (tail_rc != SQLITE_OK || next != nullptr) {
          sqlite3_finalize(m_stmt);
          throw DbError(DbErrorKind::other, "42601",
                        fmt::format("sqlite: one statement per call, use execute_script for several (in: {})",
                                    sql_excerpt(original)));
        }
      }
    }
    ~Statement() { sqlite3_finalize(m_stmt); }
    sqlite3_stmt* release() noexcept { return std::exchange(m_stmt, nullptr); }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    sqlite3_stmt* get() const noexcept { return m_stmt; }

   private:
    sqlite3_stmt* m_stmt = nullptr;
  };

  void bind(sqlite3_stmt* stmt, int index, const Value& value, std::string_view sql) {
    // Parameters outlive the statement (both live in run()), so SQLite need not copy them:
    // a null destructor is SQLITE_STATIC.
    int rc = SQLITE_OK;
    if (std::holds_alternative<std::nullptr_t>(value)) {
      rc = sqlite3_bind_null(stmt, index);
    } else if (const auto* n = std::get_if<std::int64_t>(&value)) {
      rc = sqlite3_bind_int64(stmt, index, *n);
    } else if (const auto* d = std::get_if<double>(&value)) {
      rc = sqlite3_bind_double(stmt, index, *d);
    } else if (const auto* s = std::get_if<std::string>(&value)) {
      // As PostgreSQL, whose text holds UTF-8 without NUL: a backend never stores what the other
      // refuses.
      if (!valid_text(*s)) {
        throw DbError(DbErrorKind::other, "22021", "sqlite: text parameter is not UTF-8 without NUL (use a blob)");
      }
      rc = sqlite3_bind_text64(stmt, index, s->data(), s->size(), nullptr, SQLITE_UTF8);
    } else if (const auto* b = std::get_if<Blob>(&value)) {
      // A null pointer would bind NULL; an empty blob must stay an empty blob.
      rc = b->empty() ? sqlite3_bind_zeroblob(stmt, index, 0)
                      : sqlite3_bind_blob64(stmt, index, b->data(), b->size(), nullptr);
    }
    if (rc != SQLITE_OK) throw_sqlite(m_db, rc, sql);
  }

  static Value read(sqlite3_stmt* stmt, int c) {
    switch (sqlite3_column_type(stmt, c)) {
      case SQLITE_INTEGER:
        return sqlite3_column_int64(stmt, c);
      case SQLITE_FLOAT:
        return sqlite3_column_double(stmt, c);
      case SQLITE_TEXT: {
        const auto* text = sqlite3_column_text(stmt, c);
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, c));
        return std::string(reinterpret_cast<const char*>(text), size);
      }
      case SQLITE_BLOB: {
        const auto* data = static_cast<const std::uint8_t*>(sqlite3_column_blob(stmt, c));
        const auto size = static_cast<std::size_t>(sqlite3_column_bytes(stmt, c));
        return data == nullptr ? Blob{} : Blob(data, data + size);
      }
      default:
        return nullptr;
    }
  }

  sqlite3* m_db = nullptr;
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>>
      m_statements;  // by SQL text, found without a copy
};

// Checkpoints the WAL of a file database on a thread and connection of its own. SQLite's default
// (wal_autocheckpoint, 1000 pages) runs the checkpoint inside the COMMIT that leaves the WAL at
// or past the threshold: the pages are copied to the database file and the file synced on the
// writer's thread, the one the indexer's backfill waits on (about 7% of that thread's time). The
// writer's WAL hook, which replaces the auto-checkpoint, only wakes this thread instead; its
// PASSIVE checkpoints never wait for the writer or for readers, so the writer goes on committing
// while the pages are copied.
class WalCheckpointer {
 public:
  /// Opens the checkpointer's connection to `path` (already in WAL mode) and starts its thread.
  WalCheckpointer(const std::string& path, const DatabaseSettings& settings)
      : m_path(path), m_conn(open_connection(path, settings)), m_thread([this] { run(); }) {}
  ~WalCheckpointer() { stop(); }
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  /// Makes `writer` hand its checkpoints to this thread. Replaces SQLite's auto-checkpoint on that
  /// connection (a later PRAGMA wal_autocheckpoint would replace this hook in turn). This object
  /// must outlive the connection.
  void attach(sqlite3* writer) noexcept { sqlite3_wal_hook(writer, &WalCheckpointer::after_commit, this); }

  /// Ends and joins the thread; a checkpoint under way finishes first. Commits after this leave
  /// the WAL to the writer's own checkpoint past the hard limit and to the close.
  void stop() noexcept {
    {
      const std::lock_guard lock(m_mutex);
      m_stopping = true;
    }
    m_wake.notify_one();
    if (m_thread.joinable()) m_thread.join();
  }

 private:
  static std::unique_ptr<SqliteConnection> open_connection(const std::string& path, const DatabaseSettings& settings) {
    // READWRITE: a checkpoint writes the database file. A connection opens the WAL at its first
    // read, and a checkpoint on one that has not read yet does nothing (SQLite 3.40 reports -1
    // frames): read once now.
    auto conn = std::make_unique<SqliteConnection>(path, SQLITE_OPEN_READWRITE, settings);
    conn->execute_script("SELECT count(*) FROM sqlite_schema");
    return conn;
  }

  // The WAL hook, run on the writer's thread after each of its commits (the write lock already
  // released). It must return SQLITE_OK, or the commit, which happened, would report an error;
  // and nothing may be thrown through SQLite's C frames.
  static int after_commit(void* self, sqlite3* writer, const char* db_name, int wal_pages) noexcept {
    auto& checkpointer = *static_cast<WalCheckpointer*>(self);
    if (wal_pages < sqlite_writer_checkpoint_wal_pages) {
      checkpointer.m_writer_checkpointing.store(false, std::memory_order_relaxed);
      if (wal_pages >= sqlite_checkpoint_wal_pages) checkpointer.wake();
      return SQLITE_OK;
    }
    // Fallen behind (or starved of CPU): the writer checkpoints as SQLite's default hook would.
    // SQLITE_BUSY means the thread is checkpointing right now; the next commit tries again.
    sqlite3_wal_checkpoint_v2(writer, db_name, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    if (!checkpointer.m_writer_checkpointing.exchange(true, std::memory_order_relaxed)) {
      // Once per crossing of the limit, not per commit past it.
      try {
        log::warn("sqlite WAL past its limit; the writer checkpoints it after its commits",
                  {{"path", checkpointer.m_path},
                   {"wal_pages", wal_pages},
                   {"limit_pages", sqlite_writer_checkpoint_wal_pages}});
      } catch (...) {
        // A lost log line must not fail the commit.
      }
    }
    return SQLITE_OK;
  }

  void wake() noexcept {
    try {
      const std::lock_guard lock(m_mutex);
      m_wanted = true;
    } catch (...) {
      // std::mutex throws only when the system fails; the next commit wakes the thread again,
      // and past the hard limit the writer checkpoints itself.
      return;
    }
    m_wake.notify_one();
  }

  void run() {
    using namespace std::chrono_literals;
    std::unique_lock lock(m_mutex);
    std::chrono::milliseconds retry{0};  // after a partial checkpoint: the wait before the next try
    for (;;) {
      if (retry == 0ms) {
        m_wake.wait(lock, [this] { return m_wanted || m_stopping; });
      } else {
        m_wake.wait_for(lock, retry, [this] { return m_wanted || m_stopping; });
      }
      if (m_stopping) return;
      // Wakes during the checkpoint are folded into one more run after it.
      const bool woken = m_wanted;
      m_wanted = false;
      lock.unlock();
      const bool partial = checkpoint();
      lock.lock();
      // A reader's older snapshot held frames back: they are copied once it ends, without waiting
      // for the next commit (which, past the hard limit, would copy them on the writer's thread).
      if (!partial) {
        retry = 0ms;
      } else {
        retry = woken ? partial_retry_first : std::min(retry * 2, partial_retry_max);
      }
    }
  }

  /// Runs one PASSIVE checkpoint; true when it left frames behind for readers of older snapshots.
  bool checkpoint() noexcept {
    int wal_frames = -1;
    int checkpointed = -1;
    const int rc =
        sqlite3_wal_checkpoint_v2(m_conn->get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &checkpointed);
    // SQLITE_BUSY: another connection (the writer past the limit, another process) holds the
    // checkpoint lock and is doing this work. A partial checkpoint (checkpointed < wal_frames) is
    // readers still reading older snapshots: tried again shortly (see run).
    const bool failed = rc != SQLITE_OK && rc != SQLITE_BUSY;
    try {
      if (failed && m_failures++ == 0) {
        // Once per run of failures (a full disk would fail every wake): the data is safe in the
        // WAL, which grows until checkpoints work again.
        log::error("sqlite WAL checkpoint failed; retried after later commits",
                   {{"path", m_path}, {"code", rc}, {"error", sqlite3_errmsg(m_conn->get())}});
      } else if (!failed && m_failures > 0) {
        log::info("sqlite WAL checkpoints work again", {{"path", m_path}, {"failed_checkpoints", m_failures}});
        m_failures = 0;
      }
    } catch (...) {
      // A lost log line must not end the thread.
    }
    return rc == SQLITE_OK && checkpointed >= 0 && checkpointed < wal_frames;
  }

  /// After a partial checkpoint, the first wait before trying again, doubled per try up to the
  /// second while readers keep frames back.
  static constexpr std::chrono::milliseconds partial_retry_first{2};
  static constexpr std::chrono::milliseconds partial_retry_max{100};

  std::string m_path;
  std::unique_ptr<SqliteConnection> m_conn;  ///< used by the thread only, until it is joined
  std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_wanted = false;         ///< a commit left the WAL past the threshold (guarded by m_mutex)
  bool m_stopping = false;       ///< guarded by m_mutex
  std::uint64_t m_failures = 0;  ///< consecutive failed checkpoints (the thread's own)
  /// Whether the writer's last commit left the WAL past the hard limit (for logging once per
  /// crossing). Only the connection holding the writer lease touches it, one at a time.
  std::atomic<bool> m_writer_checkpointing{false};
  std::thread m_thread;  ///< last: starts once everything it uses exists
};

class SqliteDatabase;

class SqliteTx final : public TxSession {
 public:
  SqliteTx(SqliteDatabase& db, std::unique_ptr<SqliteConnection> conn, bool writer, bool query_only_toggle)
      : m_db(db),
        m_owned(std::move(conn)),
        m_conn(*m_owned),
        m_writer(writer),
        m_query_only_toggle(query_only_toggle) {}
  ~SqliteTx() override;
  SqliteTx(const SqliteTx&) = delete;
  SqliteTx& operator=(const SqliteTx&) = delete;

  void start() {
    if (m_query_only_toggle) m_conn.execute_script("PRAGMA query_only=ON");
    m_conn.execute_script(m_writer && !m_query_only_toggle ? "BEGIN IMMEDIATE" : "BEGIN");
    m_open = true;
  }

  Dialect dialect() const noexcept override { return Dialect::sqlite; }

  void commit() override {
    if (failed()) {
      throw DbError(DbErrorKind::other, "25P02",
                    "sqlite: transaction had a failed statement; rolled back instead of committed");
    }
    m_conn.execute_script("COMMIT");
    m_open = false;
  }

 private:
  Rows do_query(std::string_view sql, std::span<const Value> params) override {
    return m_conn.run(sql, params, nullptr);
  }
  std::int64_t do_exec(std::string_view sql, std::span<const Value> params) override {
    std::int64_t changes = 0;
    m_conn.run(sql, params, &changes);
    return changes;
  }
  void do_execute_script(std::string_view sql) override { m_conn.execute_script(sql); }

  SqliteDatabase& m_db;
  std::unique_ptr<SqliteConnection> m_owned;  ///< on loan from the database's pool until the destructor
  SqliteConnection& m_conn;
  bool m_writer;
  bool m_query_only_toggle;
  bool m_open = false;
};

class SqliteDatabase final : public Database {
 public:
  SqliteDatabase(const DatabaseUrl& url, const DatabaseSettings& settings)
      : m_settings(settings), m_memory(url.sqlite_memory) {
    if (sqlite3_threadsafe() == 0)
      throw DbError(DbErrorKind::connection, "", "sqlite: library built without thread support");
    if (m_memory) {
      m_path = ":memory:";
    } else {
      m_path = url.sqlite_path;
      const std::filesystem::path parent = std::filesystem::path(m_path).parent_path();
      std::error_code ec;
      if (!parent.empty()) std::filesystem::create_directories(parent, ec);
      if (ec) {
        throw DbError(DbErrorKind::connection, "08006",
                      fmt::format("sqlite: cannot create directory {}: {}", parent.string(), ec.message()));
      }
      // A path handed to SQLITE_OPEN_URI that starts with "file:" would be parsed as a URI.
      if (m_path.rfind("file:", 0) == 0) m_path = "./" + m_path;
    }
    auto writer = std::make_unique<SqliteConnection>(m_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, m_settings);
    if (!m_memory) {
      auto mode = writer->run("PRAGMA journal_mode=WAL", {}, nullptr);
      if (mode.empty() || mode[0].get_text(0) != "wal") {
        throw DbError(DbErrorKind::connection, "", fmt::format("sqlite: cannot switch {} to WAL mode", m_path));
      }
    }
    // The writer's page cache: 64 MiB instead of SQLite's 2 MiB default, so that a large write
    // transaction (an indexer backfill range: projection rows, outbox) reads its pages from memory
    // rather than back from the file. Pages are allocated as used.
    writer->execute_script("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;");
    if (!m_memory) {
      m_checkpointer = std::make_unique<WalCheckpointer>(m_path, m_settings);
      m_checkpointer->attach(writer->get());
    }
    m_writer.adopt(std::move(writer));
  }

  ~SqliteDatabase() override {
    // The checkpointer's thread ends before any connection closes (the members below go first,
    // in reverse order); the checkpointer itself outlives the writer, whose hook points at it.
    if (m_checkpointer) m_checkpointer->stop();
  }

  Dialect dialect() const noexcept override { return Dialect::sqlite; }

  bool ping() override {
    try {
      return read([](Tx& tx) { return tx.query_one("SELECT 1").has_value(); }, TxOptions{.max_attempts = 1});
    } catch (const std::exception&) {
      return false;
    }
  }

  /// Statement journals (the pages a statement changes, kept to undo that statement alone) in
  /// memory from here on, instead of a temporary file written a page at a time: a multi-row insert
  /// into a table with several indexes (a round of notifications) journals every page it touches.
  /// Only once the migrations ran: one rewriting a large table would journal all of it.
  void after_migrations() override {
    auto lease = m_writer.acquire();
    try {
      lease.connection->execute_script("PRAGMA temp_store=MEMORY");
    } catch (...) {
      m_writer.release(std::move(lease.connection), true);
      throw;
    }
    m_writer.release(std::move(lease.connection), true);
  }

  /// Returns a connection to its pool. The writer is never dropped: it is the only one.
  void release(std::unique_ptr<SqliteConnection> conn, bool writer) {
    if (writer) {
      m_writer.release(std::move(conn), true);
    } else {
      m_readers.release(std::move(conn), true);
    }
  }

 protected:
  // SQLite is always serializable: no option of TxOptions changes how a transaction begins.
  std::unique_ptr<TxSession> begin(const TxOptions& /*options*/, TxAccess access) override {
    const bool read_only = access == TxAccess::read_only;
    const bool use_reader = read_only && !m_memory;
    auto lease = use_reader ? m_readers.acquire() : m_writer.acquire();
    // In memory there are no reader connections: a read-only transaction borrows the writer and
    // is kept honest by query_only.
    auto tx = std::make_unique<SqliteTx>(*this, std::move(lease.connection), !use_reader, read_only && m_memory);
    tx->start();
    return tx;
  }

  PoolStats pool_stats() const override {
    const PoolStats w = m_writer.stats();
    const PoolStats r = m_readers.stats();
    PoolStats s;
    s.size = w.size + r.size;
    s.in_use = w.in_use + r.in_use;
    s.idle = w.idle + r.idle;
    s.waits_total = w.waits_total + r.waits_total;
    s.acquired_total = w.acquired_total + r.acquired_total;
    s.timeouts_total = w.timeouts_total + r.timeouts_total;
    return s;
  }

  const DatabaseSettings& settings() const noexcept override { return m_settings; }

 private:
  std::unique_ptr<SqliteConnection> open_reader() const {
    auto conn = std::make_unique<SqliteConnection>(m_path, SQLITE_OPEN_READWRITE, m_settings);
    conn->execute_script("PRAGMA foreign_keys=ON; PRAGMA query_only=ON;");
    return conn;
  }

  DatabaseSettings m_settings;
  bool m_memory;
  std::string m_path;
  /// File databases only (an in-memory one has no WAL). Declared before the pools so that it is
  /// destroyed after them: the writer connection's WAL hook points at it.
  std::unique_ptr<WalCheckpointer> m_checkpointer;
  /// The one writer connection (opened in the constructor, so this pool never opens another).
  ConnectionPool<SqliteConnection> m_writer{
      "sqlite", "the writer connection", 1, m_settings.acquire_timeout, []() -> std::unique_ptr<SqliteConnection> {
        throw DbError(DbErrorKind::connection, "", "sqlite: the writer connection is gone");
      }};
  ConnectionPool<SqliteConnection> m_readers{"sqlite", "a reader connection", m_settings.pool_size,
                                             m_settings.acquire_timeout, [this] { return open_reader(); }};
};

SqliteTx::~SqliteTx() {
  if (m_open && sqlite3_get_autocommit(m_conn.get()) == 0) {
    sqlite3_exec(m_conn.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  if (m_query_only_toggle) sqlite3_exec(m_conn.get(), "PRAGMA query_only=OFF", nullptr, nullptr, nullptr);
  m_db.release(std::move(m_owned), m_writer);
}

}  // namespace

std::unique_ptr<Database> open_sqlite(const DatabaseUrl& url, const DatabaseSettings& settings) {
  return std::make_unique<SqliteDatabase>(url, settings);
}

}  // namespace gh::store
