#include "store/postgres_database.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <cmath>
#include <condition_variable>
#include <list>
#include <mutex>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "core/log.hpp"
#include "store/connection_pool.hpp"
#include "store/sql_placeholders.hpp"

namespace gh::store {
namespace {

using Clock = std::chrono::steady_clock;

// Type OIDs from pg_type.h (server headers are not installed with libpq-dev).
constexpr Oid oid_bool = 16;
constexpr Oid oid_bytea = 17;
constexpr Oid oid_int8 = 20;
constexpr Oid oid_int2 = 21;
constexpr Oid oid_int4 = 23;
constexpr Oid oid_oid = 26;
constexpr Oid oid_float4 = 700;
constexpr Oid oid_float8 = 701;

std::string first_line(const char* text) {
  std::string out = text != nullptr ? text : "";
  if (const auto eol = out.find('\n'); eol != std::string::npos) out.resize(eol);
  return out;
}

DbErrorKind kind_of(std::string_view sqlstate) {
  if (sqlstate == "23505") return DbErrorKind::unique_violation;
  if (sqlstate.substr(0, 2) == "23") return DbErrorKind::constraint;
  if (sqlstate == "40001" || sqlstate == "40P01") return DbErrorKind::serialization_failure;
  if (sqlstate == "55P03") return DbErrorKind::busy;
  // 08P01 (protocol violation) is how the server refuses a wrong parameter count: a bug, not a
  // lost connection.
  if (sqlstate == "08P01") return DbErrorKind::other;
  if (sqlstate.substr(0, 2) == "08" || sqlstate == "57P01" || sqlstate == "57P02" || sqlstate == "57P03") {
    return DbErrorKind::connection;
  }
  return DbErrorKind::other;
}

struct ResultDeleter {
  void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using ResultPtr = std::unique_ptr<PGresult, ResultDeleter>;

// Throws the DbError a failed result (or a lost connection) stands for.
[[noreturn]] void throw_pg(PGconn* conn, const PGresult* res, std::string_view sql) {
  std::string sqlstate;
  std::string message;
  if (res != nullptr) {
    if (const char* state = PQresultErrorField(res, PG_DIAG_SQLSTATE)) sqlstate = state;
    if (const char* primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)) message = primary;
  }
  if (message.empty()) message = first_line(PQerrorMessage(conn));
  if (PQstatus(conn) == CONNECTION_BAD && (sqlstate.empty() || sqlstate.substr(0, 2) != "08")) {
    // libpq reports a dropped connection without a SQLSTATE, or with the server's last words
    // (57P01 after pg_terminate_backend): either way the connection is gone.
    if (sqlstate.empty()) sqlstate = "08006";
  }
  const DbErrorKind kind = PQstatus(conn) == CONNECTION_BAD ? DbErrorKind::connection : kind_of(sqlstate);
  throw DbError(kind, sqlstate, fmt::format("postgres: {} [{}] (in: {})", message, sqlstate, sql_excerpt(sql)));
}

ResultPtr check(PGconn* conn, PGresult* raw, std::string_view sql) {
  ResultPtr res(raw);
  const auto status = res ? PQresultStatus(res.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_EMPTY_QUERY) {
    throw_pg(conn, res.get(), sql);
  }
  return res;
}

Value read_value(const PGresult* res, int row, int col) {
  if (PQgetisnull(res, row, col) != 0) return nullptr;
  const char* text = PQgetvalue(res, row, col);
  const auto size = static_cast<std::size_t>(PQgetlength(res, row, col));
  switch (PQftype(res, col)) {
    case oid_int8:
    case oid_int4:
    case oid_int2:
    case oid_oid: {
      std::int64_t n = 0;
      std::from_chars(text, text + size, n);
      return n;
    }
    case oid_float4:
    case oid_float8: {
      double d = 0;
      std::from_chars(text, text + size, d);
      return d;
    }
    case oid_bool:
      return std::int64_t{text[0] == 't' ? 1 : 0};
    case oid_bytea: {
      std::size_t length = 0;
      unsigned char* bytes = PQunescapeBytea(reinterpret_cast<const unsigned char*>(text), &length);
      if (bytes == nullptr) throw DbError(DbErrorKind::other, "", "postgres: cannot decode a bytea value");
      Blob out(bytes, bytes + length);
      PQfreemem(bytes);
      return out;
    }
    default:
      return std::string(text, size);  // text, varchar, NUMERIC (exact decimal), ...
  }
}

// Parameters as libpq wants them: text for numbers and strings (the server infers a string's
// type from its use, which lets decimal strings land in NUMERIC columns), binary for blobs.
class Params {
 public:
  explicit Params(std::span<const Value> params) {
    const std::size_t n = params.size();
    m_storage.resize(n);
    m_values.resize(n, nullptr);
    m_lengths.resize(n, 0);
    m_formats.resize(n, 0);
    m_types.resize(n, 0);
    for (std::size_t i = 0; i < n; ++i) {
      const Value& v = params[i];
      if (std::holds_alternative<std::nullptr_t>(v)) continue;
      if (const auto* num = std::get_if<std::int64_t>(&v)) {
        m_storage[i] = std::to_string(*num);
        m_types[i] = oid_int8;
      } else if (const auto* d = std::get_if<double>(&v)) {
        m_storage[i] = std::isnan(*d)   ? "NaN"
                       : std::isinf(*d) ? (*d > 0 ? "Infinity" : "-Infinity")
                                        : fmt::format("{}", *d);
        m_types[i] = oid_float8;
      } else if (const auto* s = std::get_if<std::string>(&v)) {
        if (s->find('\0') != std::string::npos) {
          throw DbError(DbErrorKind::other, "22021", "postgres: text parameter contains a NUL byte (use a blob)");
        }
        m_values[i] = s->c_str();
        continue;
      } else if (const auto* b = std::get_if<Blob>(&v)) {
        static const char empty = 0;
        m_values[i] = b->empty() ? &empty : reinterpret_cast<const char*>(b->data());
        m_lengths[i] = static_cast<int>(b->size());
        m_formats[i] = 1;
        m_types[i] = oid_bytea;
        continue;
      }
      m_values[i] = m_storage[i].c_str();
    }
  }
  int count() const noexcept { return static_cast<int>(m_values.size()); }
  /// One letter per parameter for the type it is sent as: a statement prepared for one signature
  /// is not reused for another (the server fixes a prepared statement's parameter types).
  std::string signature() const {
    std::string out;
    out.reserve(m_types.size());
    for (const Oid t : m_types) out += t == oid_int8 ? 'i' : t == oid_float8 ? 'f' : t == oid_bytea ? 'b' : 't';
    return out;
  }
  const Oid* types() const noexcept { return m_types.data(); }
  const char* const* values() const noexcept { return m_values.data(); }
  const int* lengths() const noexcept { return m_lengths.data(); }
  const int* formats() const noexcept { return m_formats.data(); }

 private:
  std::vector<std::string> m_storage;
  std::vector<const char*> m_values;
  std::vector<int> m_lengths;
  std::vector<int> m_formats;
  std::vector<Oid> m_types;
};

// The statements one connection keeps prepared, by parameter types and text, the least recently
// used dropped first. A text is prepared the second time it runs: a statement seen once (a list
// of a size not met again) costs no round trip and no server memory.
class StatementCache {
 public:
  explicit StatementCache(std::size_t capacity) : m_capacity(capacity) {}

  bool enabled() const noexcept { return m_capacity > 0; }

  /// The name `key` is prepared under; "" when it is to run unnamed. `prepare` is true when the
  /// caller is to prepare it under the returned name first.
  std::string_view lookup(const std::string& key, bool& prepare) {
    prepare = false;
    const auto it = m_entries.find(key);
    if (it == m_entries.end()) {
      m_order.push_front(key);
      m_entries.emplace(key, Entry{.name = {}, .position = m_order.begin()});
      evict();
      return {};
    }
    m_order.splice(m_order.begin(), m_order, it->second.position);
    if (it->second.name.empty()) {
      it->second.name = fmt::format("gh{}", ++m_counter);
      prepare = true;
    }
    return it->second.name;
  }

  /// The server did not prepare `key` (refused, or skipped it after an earlier failure) under
  /// `name`: it runs unnamed until it is seen again, and `name` is not to be deallocated.
  void forget(const std::string& key, const std::string& name) {
    std::erase(m_evicted, name);
    const auto it = m_entries.find(key);
    if (it == m_entries.end() || it->second.name != name) return;
    m_order.erase(it->second.position);
    m_entries.erase(it);
  }

  /// Names dropped from the cache whose server statements are still to be deallocated.
  std::vector<std::string>& evicted() noexcept { return m_evicted; }

  /// Forgets every statement (the server's were deallocated, or the connection is going).
  void clear() noexcept {
    m_entries.clear();
    m_order.clear();
    m_evicted.clear();
  }

 private:
  struct Entry {
    std::string name;
    std::list<std::string>::iterator position;
  };

  void evict() {
    while (m_entries.size() > m_capacity) {
      const auto it = m_entries.find(m_order.back());
      if (!it->second.name.empty()) m_evicted.push_back(std::move(it->second.name));
      m_entries.erase(it);
      m_order.pop_back();
    }
  }

  std::size_t m_capacity;
  std::list<std::string> m_order;  // most recently used first
  std::unordered_map<std::string, Entry> m_entries;
  std::vector<std::string> m_evicted;
  std::uint64_t m_counter = 0;
};

// A prepared statement the server no longer runs: deallocated behind the connection's back
// (26000), or its result's shape changed by DDL since it was prepared (0A000, "cached plan must
// not change result type").
bool stale_statement(const DbError& e) {
  return e.sqlstate() == "26000" || e.sqlstate() == "0A000";
}

class PgConnection {
 public:
  PgConnection(const std::string& uri, const DatabaseSettings& settings) : m_statements(settings.statement_cache) {
    const auto timeout_s = std::max<std::int64_t>(1, (settings.connect_timeout.count() + 999) / 1000);
    const std::string timeout = std::to_string(timeout_s);
    // Keywords before the expanded "dbname" URI are defaults that the URI may override.
    const char* const keywords[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* const values[] = {timeout.c_str(), "gatehouse", uri.c_str(), nullptr};
    m_conn = PQconnectdbParams(keywords, values, 1);
    if (m_conn == nullptr) throw DbError(DbErrorKind::connection, "08001", "postgres: out of memory while connecting");
    if (PQstatus(m_conn) != CONNECTION_OK) {
      const std::string reason = first_line(PQerrorMessage(m_conn));
      PQfinish(m_conn);
      throw DbError(DbErrorKind::connection, "08001",
                    fmt::format("postgres: cannot connect to {}: {}", redact_database_url(uri), reason));
    }
    // Reads run without BEGIN and COMMIT (see PostgresTx::start), so a statement outside a
    // transaction is read-only; writes begin READ WRITE.
    try {
      check(m_conn, PQexec(m_conn, "SET default_transaction_read_only = on"), "SET default_transaction_read_only");
    } catch (...) {
      PQfinish(m_conn);
      throw;
    }
    // Notices ("relation already exists, skipping") are not errors; keep them off stderr.
    PQsetNoticeProcessor(
        m_conn,
        [](void*, const char* message) {
          log::debug("postgres notice", {{"message", first_line(message)}});
        },
        nullptr);
  }
  ~PgConnection() { PQfinish(m_conn); }
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;

  PGconn* get() const noexcept { return m_conn; }
  bool healthy() const noexcept {
    return !m_stale && PQstatus(m_conn) == CONNECTION_OK && PQpipelineStatus(m_conn) == PQ_PIPELINE_OFF &&
           PQtransactionStatus(m_conn) == PQTRANS_IDLE;
  }

  /// One statement of a round trip. `control` ones (BEGIN, COMMIT) are never prepared.
  struct Command {
    std::string_view sql;
    std::span<const Value> params;
    bool control = false;
  };

  ResultPtr run(std::string_view sql, std::span<const Value> params) {
    const Params p = checked_params(sql, params);
    const std::string text(sql);
    deallocate_evicted();
    std::string key;
    const auto [name, prepare] = plan(text, p, key);
    if (name.empty()) return run_unnamed(text, p);
    if (prepare) {
      ResultPtr prepared(PQprepare(m_conn, name.c_str(), text.c_str(), p.count(), p.types()));
      if (!prepared || PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
        m_statements.forget(key, name);
        throw_pg(m_conn, prepared.get(), sql);
      }
    }
    return checked_prepared(
        ResultPtr(PQexecPrepared(m_conn, name.c_str(), p.count(), p.values(), p.lengths(), p.formats(), 0)), sql);
  }

  /// Runs `commands` in one round trip (libpq's pipeline mode, one sync at the end) and returns
  /// their results, in order. The first failure throws, as run() would have; the server skipped
  /// those after it.
  std::vector<ResultPtr> pipeline(std::span<const Command> commands) {
    std::vector<ResultPtr> out;
    if (commands.size() == 1 && !commands[0].control) {
      out.push_back(run(commands[0].sql, commands[0].params));
      return out;
    }
    // What was sent, in order: a PREPARE's result comes before its statement's.
    struct Sent {
      std::string_view sql;
      std::string key;        // of a PREPARE, forgotten when it fails
      std::string name;       // the name it prepares
      bool prepared = false;  // a prepared statement's run (a stale one is told apart)
      bool command = true;    // a command's own result (not a PREPARE's)
    };
    std::vector<Sent> sent;
    sent.reserve(commands.size() + 2);
    std::vector<Params> params;
    params.reserve(commands.size());
    for (const auto& c : commands) params.push_back(checked_params(c.sql, c.params));
    deallocate_evicted();
    if (PQenterPipelineMode(m_conn) != 1) throw_pg(m_conn, nullptr, commands.front().sql);
    const auto fail_to_send = [&](std::string_view sql) {
      m_stale = true;  // left in pipeline mode with results pending: dropped when the transaction ends
      throw_pg(m_conn, nullptr, sql);
    };
    for (std::size_t i = 0; i < commands.size(); ++i) {
      const auto& c = commands[i];
      const Params& p = params[i];
      const std::string text(c.sql);
      std::string key;
      std::string name;
      bool prepare = false;
      if (!c.control) std::tie(name, prepare) = plan(text, p, key);
      if (name.empty()) {
        if (PQsendQueryParams(m_conn, text.c_str(), p.count(), p.types(), p.values(), p.lengths(), p.formats(), 0) != 1)
          fail_to_send(c.sql);
        sent.push_back({c.sql, {}, {}, false});
        continue;
      }
      if (prepare) {
        if (PQsendPrepare(m_conn, name.c_str(), text.c_str(), p.count(), p.types()) != 1) fail_to_send(c.sql);
        sent.push_back({c.sql, std::move(key), name, false, false});
      }
      if (PQsendQueryPrepared(m_conn, name.c_str(), p.count(), p.values(), p.lengths(), p.formats(), 0) != 1)
        fail_to_send(c.sql);
      sent.push_back({c.sql, {}, {}, true});
    }
    if (PQpipelineSync(m_conn) != 1) fail_to_send(commands.back().sql);
    // Each command's result, then a null; the sync's result last.
    std::vector<ResultPtr> results;
    results.reserve(sent.size());
    for (std::size_t nulls = 0;;) {
      PGresult* raw = PQgetResult(m_conn);
      if (raw == nullptr) {
        if (PQstatus(m_conn) == CONNECTION_BAD || ++nulls > sent.size()) {
          m_stale = true;
          throw_pg(m_conn, nullptr, results.size() < sent.size() ? sent[results.size()].sql : commands.back().sql);
        }
        continue;
      }
      if (PQresultStatus(raw) == PGRES_PIPELINE_SYNC) {
        PQclear(raw);
        break;
      }
      results.emplace_back(raw);
    }
    if (PQexitPipelineMode(m_conn) != 1) m_stale = true;
    if (results.size() != sent.size()) {
      m_stale = true;
      throw DbError(DbErrorKind::other, "08P01",
                    fmt::format("postgres: a pipeline of {} commands answered {} results (in: {})", sent.size(),
                                results.size(), sql_excerpt(commands.back().sql)));
    }
    // A PREPARE that failed, or that the server skipped after an earlier failure, prepared
    // nothing: its text runs unnamed until it is seen again.
    for (std::size_t i = 0; i < sent.size(); ++i) {
      if (!sent[i].key.empty() && PQresultStatus(results[i].get()) != PGRES_COMMAND_OK) {
        m_statements.forget(sent[i].key, sent[i].name);
      }
    }
    out.reserve(commands.size());
    for (std::size_t i = 0; i < sent.size(); ++i) {
      auto res = sent[i].prepared ? checked_prepared(std::move(results[i]), sent[i].sql)
                                  : check(m_conn, results[i].release(), sent[i].sql);
      if (sent[i].command) out.push_back(std::move(res));
    }
    return out;
  }

  /// BEGIN, COMMIT and the like.
  ResultPtr script(std::string_view sql) {
    const std::string text(sql);
    return check(m_conn, PQexec(m_conn, text.c_str()), sql);
  }

  /// A caller's script (DDL, most often): the prepared statements are deallocated after it, so
  /// that none keeps the shape of a table the script changed.
  void user_script(std::string_view sql) {
    script(sql);
    if (m_statements.enabled()) {
      script("DEALLOCATE ALL");
      m_statements.clear();
    }
  }

 private:
  Params checked_params(std::string_view sql, std::span<const Value> params) const {
    // The server accepts surplus typed parameters silently; SQLite does not. Refuse them here so
    // that both backends report the same bug the same way.
    if (const std::size_t expected = highest_placeholder(sql); expected != params.size()) {
      throw DbError(DbErrorKind::other, "08P01",
                    fmt::format("postgres: statement takes {} parameters, {} given (in: {})", expected, params.size(),
                                sql_excerpt(sql)));
    }
    return Params(params);
  }

  /// The name `text` runs under ("" unnamed) and whether it is to be prepared first; `key` is its
  /// cache key.
  std::pair<std::string, bool> plan(const std::string& text, const Params& p, std::string& key) {
    if (!m_statements.enabled()) return {};
    key = p.signature();
    key += '\0';
    key += text;
    bool prepare = false;
    std::string name(m_statements.lookup(key, prepare));
    return {std::move(name), prepare};
  }

  // A prepared statement's result: one the server no longer runs fails the transaction as a
  // serialization failure, so that it is retried whole on another connection.
  ResultPtr checked_prepared(ResultPtr res, std::string_view sql) {
    try {
      return check(m_conn, res.release(), sql);
    } catch (const DbError& e) {
      if (!stale_statement(e)) throw;
      // The transaction is aborted, so nothing can be deallocated now: this connection is
      // dropped when the transaction ends, and the transaction is retried whole on another.
      m_stale = true;
      throw DbError(DbErrorKind::serialization_failure, e.sqlstate(), e.what());
    }
  }

  ResultPtr run_unnamed(const std::string& text, const Params& p) {
    return check(m_conn,
                 PQexecParams(m_conn, text.c_str(), p.count(), p.types(), p.values(), p.lengths(), p.formats(), 0),
                 text);
  }

  // Deallocation is not transactional, so it may run inside any transaction that has not failed.
  void deallocate_evicted() {
    auto& names = m_statements.evicted();
    if (names.empty() || PQtransactionStatus(m_conn) == PQTRANS_INERROR) return;
    std::string sql;
    for (const auto& name : names) sql += fmt::format("DEALLOCATE {};", name);
    names.clear();
    script(sql);
  }

  PGconn* m_conn = nullptr;
  StatementCache m_statements;
  bool m_stale = false;
};

class PostgresDatabase;

class PostgresTx final : public TxSession {
 public:
  PostgresTx(PostgresDatabase& db, std::unique_ptr<PgConnection> conn, bool reused)
      : m_db(db), m_conn(std::move(conn)), m_reused(reused) {}
  ~PostgresTx() override;
  PostgresTx(const PostgresTx&) = delete;
  PostgresTx& operator=(const PostgresTx&) = delete;

  void start(const TxOptions& options, bool read_only) {
    // A read-committed read takes a new snapshot per statement inside a transaction as outside
    // one: its statements run on their own, read-only by the session's default, which saves the
    // BEGIN and COMMIT round trips of most reads.
    if (read_only && options.isolation == Isolation::read_committed) return;
    // Sent with the first statement, in its round trip; a transaction that runs none sends none.
    m_begin = options.isolation == Isolation::serializable ? "BEGIN ISOLATION LEVEL SERIALIZABLE"
                                                           : "BEGIN ISOLATION LEVEL READ COMMITTED";
    m_begin += read_only ? " READ ONLY" : " READ WRITE";
    m_block = true;
  }

  Dialect dialect() const noexcept override { return Dialect::postgres; }

  void commit() override {
    if (failed() || PQtransactionStatus(m_conn->get()) == PQTRANS_INERROR) {
      // COMMIT of an aborted transaction "succeeds" as a ROLLBACK; never let that pass silently.
      throw DbError(DbErrorKind::other, "25P02",
                    "postgres: transaction had a failed statement; rolled back instead of committed");
    }
    if (m_deferred.empty() && (!m_block || !m_begin.empty())) return;  // nothing ran, nothing to commit
    // A transaction of deferred statements alone sends them first on their own, so that a
    // connection that died idle in the pool is replaced as for any first statement.
    if (!m_ran && m_reused) round_trip({});
    // The deferred statements and the COMMIT in one round trip. A COMMIT never runs again on
    // another connection: whether a lost connection committed cannot be known.
    auto commands = waiting();
    if (m_block) commands.push_back({"COMMIT", {}, true});
    if (!commands.empty()) m_conn->pipeline(commands);
    m_begin.clear();
    m_deferred.clear();
  }

 private:
  // A statement of exec_deferred, kept until the next round trip.
  struct Deferred {
    std::string sql;
    std::vector<Value> params;
  };

  // What the next round trip sends before its own statement: the BEGIN, then deferred statements.
  std::vector<PgConnection::Command> waiting() const {
    std::vector<PgConnection::Command> out;
    out.reserve(m_deferred.size() + 2);
    if (!m_begin.empty()) out.push_back({m_begin, {}, true});
    for (const auto& d : m_deferred) out.push_back({d.sql, d.params, false});
    return out;
  }

  // Runs `own` after what waits (the BEGIN, deferred statements), in one round trip, and returns
  // the results of `own`.
  std::vector<ResultPtr> round_trip(std::span<const PgConnection::Command> own);
  ResultPtr run(std::string_view sql, std::span<const Value> params) {
    if (m_begin.empty() && m_deferred.empty()) return retrying([&] { return m_conn->run(sql, params); });
    const PgConnection::Command own[] = {{sql, params, false}};
    return std::move(round_trip(own).front());
  }
  std::vector<Rows> do_query_all(std::span<const Statement> statements) override {
    std::vector<PgConnection::Command> own;
    own.reserve(statements.size());
    for (const auto& st : statements) own.push_back({st.sql, st.params, false});
    std::vector<Rows> out;
    out.reserve(statements.size());
    for (const auto& res : round_trip(own)) out.push_back(rows_of(res.get()));
    return out;
  }
  template <class F>
  ResultPtr retrying(F&& send);
  Rows do_query(std::string_view sql, std::span<const Value> params) override {
    return rows_of(run(sql, params).get());
  }

  static Rows rows_of(const PGresult* res) {
    const int fields = PQnfields(res);
    const int tuples = PQntuples(res);
    auto names = std::make_shared<std::vector<std::string>>();
    names->reserve(static_cast<std::size_t>(fields));
    for (int c = 0; c < fields; ++c) names->emplace_back(PQfname(res, c));
    std::vector<Row> rows;
    rows.reserve(static_cast<std::size_t>(tuples));
    for (int r = 0; r < tuples; ++r) {
      std::vector<Value> values;
      values.reserve(static_cast<std::size_t>(fields));
      for (int c = 0; c < fields; ++c) values.push_back(read_value(res, r, c));
      rows.emplace_back(names, std::move(values));
    }
    return Rows(*names, std::move(rows));
  }

  std::int64_t do_exec(std::string_view sql, std::span<const Value> params) override {
    const ResultPtr res = run(sql, params);
    const char* affected = PQcmdTuples(res.get());
    std::int64_t n = 0;
    if (affected != nullptr) std::from_chars(affected, affected + std::char_traits<char>::length(affected), n);
    return n;
  }

  void do_exec_deferred(std::string_view sql, std::span<const Value> params) override {
    m_deferred.push_back({std::string(sql), std::vector<Value>(params.begin(), params.end())});
  }

  void do_execute_script(std::string_view sql) override {
    if (!m_begin.empty() || !m_deferred.empty()) round_trip({});
    m_conn->user_script(sql);
  }

  PostgresDatabase& m_db;
  std::unique_ptr<PgConnection> m_conn;
  bool m_reused = false;  // the connection came idle from the pool, and may have died there
  bool m_block = false;   // a transaction block (BEGIN ... COMMIT), not a read without BEGIN
  bool m_ran = false;     // a round trip reached the server on m_conn
  std::string m_begin;    // the BEGIN not sent yet
  std::vector<Deferred> m_deferred;
};

class PostgresDatabase final : public Database {
 public:
  PostgresDatabase(std::string uri, const DatabaseSettings& settings)
      : m_uri(std::move(uri)),
        m_settings(settings),
        m_pool("postgres", fmt::format("a connection (pool of {})", settings.pool_size), settings.pool_size,
               settings.acquire_timeout, [this] { return std::make_unique<PgConnection>(m_uri, m_settings); }) {
    m_pool.adopt(std::make_unique<PgConnection>(m_uri, m_settings));
  }

  Dialect dialect() const noexcept override { return Dialect::postgres; }

  bool ping() override {
    try {
      return read([](Tx& tx) { return tx.query_one("SELECT 1").has_value(); }, TxOptions{.max_attempts = 1});
    } catch (const std::exception&) {
      return false;
    }
  }

  /// Returns a connection to the pool, or drops it when it is broken or mid-transaction.
  void release(std::unique_ptr<PgConnection> conn) {
    const bool healthy = conn && conn->healthy();
    m_pool.release(std::move(conn), healthy);
  }

  /// Another connection, for a transaction whose connection died before its first statement.
  ConnectionPool<PgConnection>::Lease acquire() { return m_pool.acquire(); }
  std::size_t pool_size() const noexcept { return m_settings.pool_size; }

 protected:
  std::unique_ptr<TxSession> begin(const TxOptions& options, TxAccess access) override {
    // A connection that died idle in the pool is found, and replaced, by the first round trip
    // (PostgresTx::run): start() sends nothing.
    auto lease = m_pool.acquire();
    auto tx = std::make_unique<PostgresTx>(*this, std::move(lease.connection), lease.reused);
    tx->start(options, access == TxAccess::read_only);
    return tx;
  }

  PoolStats pool_stats() const override { return m_pool.stats(); }

  const DatabaseSettings& settings() const noexcept override { return m_settings; }

 private:
  std::string m_uri;
  DatabaseSettings m_settings;
  ConnectionPool<PgConnection> m_pool;
};

// An idle connection may have died in the pool (server restart, pg_terminate_backend). Until a
// round trip has reached the server on this one, nothing of the transaction ran: its first round
// trip runs again on the next connection, up to one more than the pool holds, which ends on a
// fresh one.
template <class F>
ResultPtr PostgresTx::retrying(F&& send) {
  for (std::size_t tries = 0;; ++tries) {
    try {
      ResultPtr res = send();
      m_ran = true;
      m_begin.clear();
      m_deferred.clear();
      return res;
    } catch (const DbError& e) {
      if (e.kind() != DbErrorKind::connection || m_ran || !m_reused || tries > m_db.pool_size()) {
        m_ran = true;
        m_begin.clear();
        m_deferred.clear();
        throw;
      }
      log::info("postgres connection lost; replacing it", {{"reason", e.what()}});
      m_db.release(std::move(m_conn));
      // When no connection can be had (the server still down), this throws: the transaction
      // failed (no statement runs after that) and ends without a connection, its slot in the pool
      // already given back.
      auto lease = m_db.acquire();
      m_conn = std::move(lease.connection);
      m_reused = lease.reused;
    }
  }
}

std::vector<ResultPtr> PostgresTx::round_trip(std::span<const PgConnection::Command> own) {
  auto commands = waiting();
  const std::size_t ahead = commands.size();
  commands.insert(commands.end(), own.begin(), own.end());
  std::vector<ResultPtr> results;
  if (commands.empty()) return results;
  retrying([&] {
    results = m_conn->pipeline(commands);
    return ResultPtr();
  });
  results.erase(results.begin(), results.begin() + static_cast<std::ptrdiff_t>(ahead));
  return results;
}

PostgresTx::~PostgresTx() {
  if (!m_conn) return;  // lost, and not replaced (retrying)
  if (PQstatus(m_conn->get()) == CONNECTION_OK && PQtransactionStatus(m_conn->get()) != PQTRANS_IDLE) {
    PQclear(PQexec(m_conn->get(), "ROLLBACK"));
  }
  m_db.release(std::move(m_conn));
}

}  // namespace

std::unique_ptr<Database> open_postgres(const DatabaseUrl& url, const DatabaseSettings& settings) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.postgres_uri.c_str(), &error);
  if (options == nullptr) {
    const std::string reason = error != nullptr ? first_line(error) : "out of memory";
    PQfreemem(error);
    throw std::invalid_argument(fmt::format("bad postgres URL {}: {}", redact_database_url(url.postgres_uri), reason));
  }
  PQconninfoFree(options);
  return std::make_unique<PostgresDatabase>(url.postgres_uri, settings);
}

}  // namespace gh::store
