#include "store/database.hpp"

#include <charconv>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "store/database_url.hpp"
#include "store/postgres_database.hpp"
#include "store/sqlite_database.hpp"

namespace gh::store {

const char* to_string(Dialect dialect) noexcept {
  return dialect == Dialect::sqlite ? "sqlite" : "postgres";
}

const char* to_string(DbErrorKind kind) noexcept {
  switch (kind) {
    case DbErrorKind::unique_violation:
      return "unique_violation";
    case DbErrorKind::serialization_failure:
      return "serialization_failure";
    case DbErrorKind::busy:
      return "busy";
    case DbErrorKind::connection:
      return "connection";
    case DbErrorKind::constraint:
      return "constraint";
    case DbErrorKind::other:
      return "other";
  }
  return "other";
}

DbError::DbError(DbErrorKind kind, std::string sqlstate, const std::string& message)
    : ServiceFailure(message), m_kind(kind), m_sqlstate(std::move(sqlstate)) {}

bool DbError::retryable() const noexcept {
  return m_kind == DbErrorKind::busy || m_kind == DbErrorKind::serialization_failure;
}

// ---- Row / Rows ----

Row::Row(std::shared_ptr<const std::vector<std::string>> columns, std::vector<Value> values)
    : m_columns(std::move(columns)), m_values(std::move(values)) {}

const Value& Row::value(std::size_t i) const {
  if (i >= m_values.size()) {
    throw DbError(DbErrorKind::other, "",
                  fmt::format("column index {} out of range (row has {} columns)", i, m_values.size()));
  }
  return m_values[i];
}

const Value& Row::value(std::string_view column) const {
  return m_values[index_of(column)];
}

std::size_t Row::index_of(std::string_view column) const {
  const auto& names = *m_columns;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (names[i] == column) return i;
  }
  throw DbError(DbErrorKind::other, "", fmt::format("no column named '{}' in the result", column));
}

void Row::type_mismatch(std::size_t i, const char* wanted) const {
  static constexpr const char* names[] = {"NULL", "integer", "real", "text", "blob"};
  const std::string_view column = i < m_columns->size() ? std::string_view((*m_columns)[i]) : std::string_view("?");
  throw DbError(DbErrorKind::other, "",
                fmt::format("column '{}' holds {}, not {}", column, names[m_values[i].index()], wanted));
}

std::int64_t Row::as_int(std::size_t i, const Value& v) const {
  if (const auto* n = std::get_if<std::int64_t>(&v)) return *n;
  if (const auto* s = std::get_if<std::string>(&v)) {
    // PostgreSQL returns sum()/NUMERIC as text; accept it when it is an exact int64.
    std::int64_t out = 0;
    const char* end = s->data() + s->size();
    const auto [ptr, ec] = std::from_chars(s->data(), end, out);
    if (ec == std::errc() && ptr == end && !s->empty()) return out;
  }
  type_mismatch(i, "an integer");
}

double Row::as_double(std::size_t i, const Value& v) const {
  if (const auto* d = std::get_if<double>(&v)) return *d;
  if (const auto* n = std::get_if<std::int64_t>(&v)) return static_cast<double>(*n);
  type_mismatch(i, "a number");
}

std::string Row::as_text(std::size_t i, const Value& v) const {
  if (const auto* s = std::get_if<std::string>(&v)) return *s;
  if (const auto* n = std::get_if<std::int64_t>(&v)) return std::to_string(*n);
  type_mismatch(i, "text");
}

Blob Row::as_blob(std::size_t i, const Value& v) const {
  if (const auto* b = std::get_if<Blob>(&v)) return *b;
  type_mismatch(i, "a blob");
}

Rows::Rows(std::vector<std::string> columns, std::vector<Row> rows)
    : m_columns(std::move(columns)), m_rows(std::move(rows)) {}

// ---- Tx ----

namespace {

// Marks the transaction failed when a statement throws: PostgreSQL aborts the transaction then,
// and SQLite is made to behave the same so that code tested on one backend holds on the other.
template <class F>
auto run_statement(bool& failed, F&& f) -> decltype(f()) {
  if (failed) {
    throw DbError(DbErrorKind::other, "25P02",
                  "current transaction is aborted by an earlier failed statement; it will be rolled back");
  }
  try {
    return f();
  } catch (...) {
    failed = true;
    throw;
  }
}

}  // namespace

Rows Tx::query(std::string_view sql, std::span<const Value> params) {
  return run_statement(m_failed, [&] { return do_query(sql, params); });
}

std::optional<Row> Tx::query_one(std::string_view sql, std::span<const Value> params) {
  Rows rows = query(sql, params);
  if (rows.empty()) return std::nullopt;
  return rows[0];
}

std::int64_t Tx::exec(std::string_view sql, std::span<const Value> params) {
  return run_statement(m_failed, [&] { return do_exec(sql, params); });
}

std::vector<Rows> Tx::query_all(std::span<const Statement> statements) {
  return run_statement(m_failed, [&] { return do_query_all(statements); });
}

void Tx::exec_deferred(std::string_view sql, std::span<const Value> params) {
  run_statement(m_failed, [&] { do_exec_deferred(sql, params); });
}

void Tx::execute_script(std::string_view sql) {
  run_statement(m_failed, [&] { do_execute_script(sql); });
}

// ---- Database ----

std::unique_ptr<Database> Database::open(std::string_view url, const DatabaseSettings& settings) {
  auto parsed = parse_database_url(url);
  if (!parsed) throw std::invalid_argument(parsed.error().message);
  if (settings.pool_size == 0) throw std::invalid_argument("database pool_size must be at least 1");
  if (parsed->dialect == Dialect::sqlite) return open_sqlite(*parsed, settings);
  return open_postgres(*parsed, settings);
}

PoolStats Database::stats() const {
  PoolStats out = pool_stats();
  out.retries_total = m_retries.load(std::memory_order_relaxed);
  return out;
}

namespace {
thread_local const Database* t_current_transaction = nullptr;
}  // namespace

Database::NestingGuard::NestingGuard(const Database& db) : m_previous(t_current_transaction) {
  if (m_previous == &db) {
    throw std::logic_error(
        "transact called inside a transaction of the same database (nested transactions are not supported)");
  }
  t_current_transaction = &db;
}

Database::NestingGuard::~NestingGuard() {
  t_current_transaction = m_previous;
}

void Database::pause_before_retry(int attempt) {
  m_retries.fetch_add(1, std::memory_order_relaxed);
  // Equal jitter: half the exponential step plus a random half, so that two transactions that
  // collided once do not collide again in lock step.
  const auto& s = settings();
  const int shift = std::min(attempt - 1, 16);
  const auto step =
      std::min<std::int64_t>(s.backoff_max.count() * 1000, s.backoff_base.count() * 1000 * (std::int64_t{1} << shift));
  thread_local std::minstd_rand rng{std::random_device{}()};
  const std::int64_t half = step / 2;
  std::uniform_int_distribution<std::int64_t> jitter(0, std::max<std::int64_t>(half, 0));
  std::this_thread::sleep_for(std::chrono::microseconds(half + jitter(rng)));
}

}  // namespace gh::store
