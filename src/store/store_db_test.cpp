// The store conformance suite: every test runs on SQLite (a temporary file per test) and on
// PostgreSQL (a fresh database per test, created from GATEHOUSE_TEST_POSTGRES_URL and dropped
// after). One copy of each test; the few lines that must differ branch on the dialect.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <barrier>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <limits>
#include <thread>

#include <fmt/format.h>
#include <boost/asio/io_context.hpp>

#include "core/blocking_pool.hpp"
#include "core/testing/run_task.hpp"
#include "store/batches.hpp"
#include "store/database.hpp"
#include "store/testing/fresh_database.hpp"
#include "store_fixture/migrations.hpp"

namespace gh::store {
namespace {

using namespace std::chrono_literals;

constexpr const char* max_u256 = "115792089237316195423570985008687907853269984665640564039457584007913129639935";

using testing::admin_exec;
using testing::with_database;
std::string env(const char* name) {
  return testing::env_or_empty(name);
}

class StoreConformance : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    static std::atomic<int> counter{0};
    const int n = counter.fetch_add(1);
    if (GetParam() == Dialect::postgres) {
      m_admin_url = env("GATEHOUSE_TEST_POSTGRES_URL");
      if (m_admin_url.empty()) {
        if (env("GATEHOUSE_REQUIRE_SERVICES") == "1") {
          FAIL() << "GATEHOUSE_TEST_POSTGRES_URL is unset but GATEHOUSE_REQUIRE_SERVICES=1 (run scripts/test-services "
                    "start)";
        }
        GTEST_SKIP() << "PostgreSQL tests skipped: GATEHOUSE_TEST_POSTGRES_URL is unset (scripts/test-services start)";
      }
      m_pg_database = fmt::format("gh_store_test_{}_{}", getpid(), n);
      admin_exec(m_admin_url, "DROP DATABASE IF EXISTS " + m_pg_database);
      admin_exec(m_admin_url, "CREATE DATABASE " + m_pg_database);
      m_url = with_database(m_admin_url, m_pg_database);
    } else {
      m_dir = std::filesystem::temp_directory_path() / fmt::format("gh-store-test-{}-{}", getpid(), n);
      std::filesystem::remove_all(m_dir);
      // A nested path: opening must create the missing directories.
      m_url = "sqlite:" + (m_dir / "data" / "gatehouse.db").string();
    }
    m_db = open();
  }

  void TearDown() override {
    m_db.reset();
    if (!m_pg_database.empty()) {
      admin_exec(m_admin_url, "DROP DATABASE IF EXISTS " + m_pg_database + " WITH (FORCE)");
    }
    if (!m_dir.empty()) std::filesystem::remove_all(m_dir);
  }

  std::unique_ptr<Database> open(DatabaseSettings settings = {}) { return Database::open(m_url, settings); }
  bool is_pg() const { return GetParam() == Dialect::postgres; }
  std::string blob_type() const { return is_pg() ? "BYTEA" : "BLOB"; }
  std::string double_type() const { return is_pg() ? "DOUBLE PRECISION" : "REAL"; }

  void script(Database& db, const std::string& sql) {
    db.transact([&](Tx& tx) { tx.execute_script(sql); });
  }
  std::int64_t count(Database& db, const std::string& table) {
    return db.read([&](Tx& tx) { return tx.query_one("SELECT count(*) FROM " + table)->get_int(0); });
  }
  // Terminates a PostgreSQL backend and waits until it is gone.
  void terminate_backend(std::int64_t pid) {
    admin_exec(m_admin_url, fmt::format("SELECT pg_terminate_backend({})", pid));
    for (int i = 0; i < 100; ++i) {
      PGconn* conn = PQconnectdb(m_admin_url.c_str());
      PGresult* res = PQexec(conn, fmt::format("SELECT 1 FROM pg_stat_activity WHERE pid = {}", pid).c_str());
      const bool gone = PQntuples(res) == 0;
      PQclear(res);
      PQfinish(conn);
      if (gone) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "backend " << pid << " did not terminate";
  }

  std::string m_admin_url;
  std::string m_pg_database;
  std::filesystem::path m_dir;
  std::string m_url;
  std::unique_ptr<Database> m_db;
};

TEST_P(StoreConformance, OpensTheRightDialectAndPings) {
  EXPECT_EQ(m_db->dialect(), GetParam());
  EXPECT_TRUE(m_db->ping());
  EXPECT_EQ(m_db->transact([](Tx& tx) { return tx.dialect(); }), GetParam());
  const PoolStats stats = m_db->stats();
  EXPECT_GE(stats.size, 1U);
  EXPECT_EQ(stats.in_use, 0U);
  EXPECT_GE(stats.acquired_total, 2U);
}

TEST_P(StoreConformance, StoresEveryTypeExactly) {
  script(*m_db, fmt::format("CREATE TABLE things (id BIGINT PRIMARY KEY, n BIGINT, d {}, s TEXT, b {})", double_type(),
                            blob_type()));
  const std::int64_t lo = std::numeric_limits<std::int64_t>::min();
  const std::int64_t hi = std::numeric_limits<std::int64_t>::max();
  const std::string utf8 = "héllo wörld — 日本語 🚀 'quoted' \"double\" \\ backslash $1";
  const Blob bytes{0x00, 0xff, 0x00, 0x01, 0x5c, 0x78, 0x00};
  m_db->transact([&](Tx& tx) {
    EXPECT_EQ(tx.exec("INSERT INTO things (id, n, d, s, b) VALUES ($1, $2, $3, $4, $5)",
                      {std::int64_t{1}, lo, 0.1, utf8, bytes}),
              1);
    EXPECT_EQ(tx.exec("INSERT INTO things (id, n, d, s, b) VALUES ($1, $2, $3, $4, $5)",
                      {std::int64_t{2}, hi, -1.5e300, std::string(), Blob{}}),
              1);
    EXPECT_EQ(tx.exec("INSERT INTO things (id, n, d, s, b) VALUES ($1, $2, $3, $4, $5)",
                      {std::int64_t{3}, nullptr, nullptr, nullptr, nullptr}),
              1);
  });
  const Rows rows = m_db->read([](Tx& tx) { return tx.query("SELECT id, n, d, s, b FROM things ORDER BY id"); });
  ASSERT_EQ(rows.size(), 3U);
  EXPECT_EQ(rows.columns(), (std::vector<std::string>{"id", "n", "d", "s", "b"}));
  EXPECT_EQ(rows[0].get_int("n"), lo);
  EXPECT_DOUBLE_EQ(rows[0].get_double("d"), 0.1);
  EXPECT_EQ(rows[0].get_text("s"), utf8);
  EXPECT_EQ(rows[0].get_blob("b"), bytes);
  EXPECT_EQ(rows[1].get_int(1), hi);
  EXPECT_DOUBLE_EQ(rows[1].get_double(2), -1.5e300);
  EXPECT_EQ(rows[1].opt_text("s"), std::string());  // empty, not NULL
  EXPECT_EQ(rows[1].opt_blob("b"), Blob{});
  for (std::size_t c = 1; c < 5; ++c) EXPECT_TRUE(rows[2].is_null(c)) << c;
  EXPECT_EQ(rows[2].opt_int("n"), std::nullopt);
  EXPECT_EQ(rows[2].opt_blob("b"), std::nullopt);

  m_db->transact([&](Tx& tx) {
    EXPECT_EQ(tx.exec("UPDATE things SET s = $1 WHERE id >= $2", {std::string("x"), std::int64_t{2}}), 2);
    EXPECT_EQ(tx.exec("DELETE FROM things WHERE id = $1", {std::int64_t{3}}), 1);
    EXPECT_EQ(tx.exec("DELETE FROM things WHERE id = $1", {std::int64_t{3}}), 0);
    EXPECT_EQ(tx.exec("SELECT id FROM things"), 2);  // a query run by exec() counts its rows
    EXPECT_FALSE(tx.query_one("SELECT id FROM things WHERE id = $1", {std::int64_t{3}}).has_value());
  });
  EXPECT_EQ(count(*m_db, "things"), 2);
}

// Text is UTF-8 without U+0000 on either backend (PostgreSQL's can hold nothing else): other
// bytes fail the statement as the database's, and its transaction stores nothing. A blob holds
// any byte.
TEST_P(StoreConformance, TextThatIsNotUtf8OrHoldsANulByteIsRefusedOnBothBackends) {
  script(*m_db, fmt::format("CREATE TABLE texts (id BIGINT PRIMARY KEY, s TEXT, b {})", blob_type()));
  for (const std::string& bad : {std::string("a\0b", 3), std::string("\xff\xfe"), std::string("caf\xc3")}) {
    try {
      m_db->transact([&](Tx& tx) {
        tx.exec("INSERT INTO texts (id, s) VALUES (1, 'first')");
        tx.exec("INSERT INTO texts (id, s) VALUES (2, $1)", {bad});
      });
      ADD_FAILURE() << "stored: " << bad;
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), DbErrorKind::other);
      EXPECT_EQ(e.sqlstate(), "22021");
    }
  }
  EXPECT_EQ(count(*m_db, "texts"), 0);
  m_db->transact([&](Tx& tx) { tx.exec("INSERT INTO texts (id, s) VALUES (1, $1)", {std::string("café 🚀")}); });
  m_db->transact([&](Tx& tx) { tx.exec("INSERT INTO texts (id, b) VALUES (3, $1)", {Blob{'a', 0, 'b'}}); });
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("SELECT b FROM texts WHERE id = 3")->get_blob(0); }),
            (Blob{'a', 0, 'b'}));
}

TEST_P(StoreConformance, PlaceholdersMayRepeatAndComeInAnyOrder) {
  script(*m_db, "CREATE TABLE pairs (a BIGINT, b TEXT, c BIGINT)");
  m_db->transact([](Tx& tx) {
    // $2 before $1, $1 twice; a '$1' inside a literal is text.
    EXPECT_EQ(tx.exec("INSERT INTO pairs (b, a, c) VALUES ($2, $1, $1)", {std::int64_t{7}, std::string("seven")}), 1);
    const auto row = tx.query_one("SELECT a, b, c, '$1' AS literal FROM pairs WHERE b = $2 AND a = $1 AND c = $1",
                                  {std::int64_t{7}, std::string("seven")});
    ASSERT_TRUE(row);
    EXPECT_EQ(row->get_int("a"), 7);
    EXPECT_EQ(row->get_text("b"), "seven");
    EXPECT_EQ(row->get_int("c"), 7);
    EXPECT_EQ(row->get_text("literal"), "$1");
  });
  // A wrong parameter count is a bug on both backends, reported the same way.
  try {
    m_db->transact([](Tx& tx) { tx.query("SELECT a FROM pairs WHERE a = $1", {std::int64_t{1}, std::int64_t{2}}); });
    FAIL() << "expected DbError";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::other) << e.what();
  }
  // So are several statements where one is expected.
  EXPECT_THROW(m_db->transact([](Tx& tx) { tx.exec("SELECT 1; SELECT 2"); }), DbError);
  EXPECT_TRUE(m_db->ping());
}

TEST_P(StoreConformance, RollsBackWhenTheFunctionThrows) {
  script(*m_db, "CREATE TABLE items (id BIGINT PRIMARY KEY)");
  EXPECT_THROW(m_db->transact([](Tx& tx) {
    tx.exec("INSERT INTO items (id) VALUES ($1)", {std::int64_t{1}});
    throw std::runtime_error("business rule failed");
  }),
               std::runtime_error);
  EXPECT_EQ(count(*m_db, "items"), 0);
  EXPECT_EQ(m_db->stats().retries_total, 0U);  // only database conflicts are retried
  EXPECT_EQ(m_db->stats().in_use, 0U);
}

TEST_P(StoreConformance, DeletesABacklogInBatchesUntilOneFallsShort) {
  script(*m_db, "CREATE TABLE backlog (id BIGINT PRIMARY KEY, old BIGINT NOT NULL)");
  m_db->transact([](Tx& tx) {
    for (std::int64_t i = 1; i <= 2600; ++i) {
      tx.exec("INSERT INTO backlog (id, old) VALUES ($1, $2)", {i, std::int64_t{i <= 2500 ? 1 : 0}});
    }
  });
  BlockingPool pool{2, 16};
  boost::asio::io_context ioc;
  std::vector<std::size_t> steps;
  auto step = [&](Tx& tx, std::size_t limit) {
    const auto n = static_cast<std::size_t>(
        tx.exec("DELETE FROM backlog WHERE id IN (SELECT id FROM backlog WHERE old = 1 ORDER BY id LIMIT $1)",
                {static_cast<std::int64_t>(limit)}));
    steps.push_back(n);
    return n;
  };
  // 2,500 old rows by 1,000: two full batches, then one that falls short and ends it.
  EXPECT_EQ(gh::testing::run(ioc, delete_in_batches(*m_db, pool, 1000, step)), 2500U);
  EXPECT_EQ(steps, (std::vector<std::size_t>{1000, 1000, 500}));
  EXPECT_EQ(count(*m_db, "backlog"), 100);
  // Nothing left: one step, none deleted. A batch of 0 counts as 1 (never a loop without end).
  steps.clear();
  EXPECT_EQ(gh::testing::run(ioc, delete_in_batches(*m_db, pool, 1000, step)), 0U);
  EXPECT_EQ(steps, (std::vector<std::size_t>{0}));
  m_db->transact([](Tx& tx) { tx.exec("UPDATE backlog SET old = 1 WHERE id <= 2503"); });
  steps.clear();
  EXPECT_EQ(gh::testing::run(ioc, delete_in_batches(*m_db, pool, 0, step)), 3U);
  EXPECT_EQ(steps, (std::vector<std::size_t>{1, 1, 1, 0}));
}

TEST_P(StoreConformance, UniqueViolationsHaveTheirOwnKind) {
  script(*m_db, "CREATE TABLE users (id BIGINT PRIMARY KEY, email TEXT NOT NULL UNIQUE)");
  m_db->transact([](Tx& tx) {
    tx.exec("INSERT INTO users (id, email) VALUES ($1, $2)", {std::int64_t{1}, std::string("a@x")});
  });
  try {
    m_db->transact([](Tx& tx) {
      tx.exec("INSERT INTO users (id, email) VALUES ($1, $2)", {std::int64_t{2}, std::string("a@x")});
    });
    FAIL() << "expected a unique violation";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::unique_violation) << e.what();
    EXPECT_EQ(e.sqlstate(), "23505");
    EXPECT_FALSE(e.retryable());
  }
  try {
    m_db->transact([](Tx& tx) {
      tx.exec("INSERT INTO users (id, email) VALUES ($1, $2)", {std::int64_t{3}, nullptr});
    });
    FAIL() << "expected a not-null violation";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::constraint) << e.what();
    EXPECT_EQ(e.sqlstate(), "23502");
  }
  // ON CONFLICT is the portable way to tolerate a duplicate inside a transaction.
  EXPECT_EQ(m_db->transact([](Tx& tx) {
    return tx.exec("INSERT INTO users (id, email) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   {std::int64_t{2}, std::string("a@x")});
  }),
            0);
  EXPECT_EQ(count(*m_db, "users"), 1);
}

TEST_P(StoreConformance, AFailedStatementPoisonsTheTransactionOnBothBackends) {
  script(*m_db, "CREATE TABLE users (id BIGINT PRIMARY KEY)");
  m_db->transact([](Tx& tx) { tx.exec("INSERT INTO users (id) VALUES (1)"); });
  try {
    m_db->transact([](Tx& tx) {
      tx.exec("INSERT INTO users (id) VALUES (2)");
      try {
        tx.exec("INSERT INTO users (id) VALUES (1)");
      } catch (const DbError&) {
        // Swallowed on purpose: PostgreSQL cannot go on, and SQLite must not either.
      }
      EXPECT_TRUE(tx.failed());
      EXPECT_THROW(tx.exec("INSERT INTO users (id) VALUES (3)"), DbError);
    });
    FAIL() << "expected the commit to be refused";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "25P02") << e.what();
  }
  EXPECT_EQ(count(*m_db, "users"), 1);
}

// A deferred statement runs before the transaction's next statement, or with its commit; its
// failure fails the transaction (PostgreSQL reports it at that statement or at the commit, SQLite
// at once), which then writes nothing.
TEST_P(StoreConformance, DeferredStatementsRunInOrderAndTheirFailureFailsTheTransaction) {
  script(*m_db, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)");
  const auto insert = "INSERT INTO notes (id, body) VALUES ($1, $2)";
  const auto n = [](std::int64_t v) { return Value(v); };
  m_db->transact([&](Tx& tx) {
    tx.exec_deferred(insert, {n(1), std::string("one")});
    tx.exec_deferred("UPDATE notes SET body = body || $1 WHERE id = $2", {std::string(" and more"), n(1)});
    tx.exec_deferred(insert, {n(2), std::string("two")});
    // Both inserts and the update, in their order, before this read.
    const auto rows = tx.query("SELECT id, body FROM notes ORDER BY id");
    ASSERT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows[0].get_text(1), "one and more");
    EXPECT_EQ(rows[1].get_text(1), "two");
    // Deferred after the last statement: sent with the commit.
    tx.exec_deferred(insert, {n(3), std::string("three")});
  });
  // A transaction of deferred statements alone; the same text many times (prepared from its
  // second run on PostgreSQL, in the same round trip).
  m_db->transact([&](Tx& tx) {
    for (std::int64_t id = 10; id < 20; ++id) tx.exec_deferred(insert, {n(id), std::string("many")});
  });
  EXPECT_EQ(count(*m_db, "notes"), 13);

  const auto fails = [&](auto&& body, const char* why) {
    try {
      m_db->transact(body);
      ADD_FAILURE() << "expected a unique violation: " << why;
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), DbErrorKind::unique_violation) << why << ": " << e.what();
      // The error names the statement that failed, not the one it was sent with.
      EXPECT_NE(std::string(e.what()).find("INSERT INTO notes"), std::string::npos) << e.what();
    }
  };
  // Failing before a later statement: that statement fails (on PostgreSQL, where the deferred
  // statements travel with it), and nothing is written.
  bool sent_later = false;
  fails(
      [&](Tx& tx) {
        tx.exec(insert, {n(30), std::string("kept?")});
        tx.exec_deferred(insert, {n(1), std::string("again")});
        tx.exec_deferred(insert, {n(31), std::string("after")});
        sent_later = true;
        tx.query("SELECT count(*) FROM notes");
      },
      "before a statement");
  EXPECT_EQ(sent_later, is_pg());
  // Failing in the round trip of the commit.
  fails(
      [&](Tx& tx) {
        tx.exec(insert, {n(40), std::string("kept?")});
        tx.exec_deferred(insert, {n(2), std::string("again")});
      },
      "at the commit");
  // Failing as the first statement, sent with the BEGIN.
  fails([&](Tx& tx) { tx.exec_deferred(insert, {n(3), std::string("again")}); }, "alone");
  EXPECT_EQ(count(*m_db, "notes"), 13);
  EXPECT_EQ(m_db->read([](Tx& tx) { return tx.query_one("SELECT body FROM notes WHERE id = 1")->get_text(0); }),
            "one and more");
  // The connection that carried the failures serves on.
  m_db->transact([&](Tx& tx) { tx.exec_deferred(insert, {n(50), std::string("fine")}); });
  EXPECT_EQ(count(*m_db, "notes"), 14);

  // A text run once, then a second time (prepared, on PostgreSQL, in the round trip) after a
  // failure that makes the server skip its preparation: it is not taken for prepared afterwards
  // (which would fail the next transaction that runs it and make it run again).
  auto db = open({.pool_size = 1});
  const auto other = "INSERT INTO notes (id, body) VALUES ($1, $2 || '!')";
  db->transact([&](Tx& tx) { tx.exec(other, {n(60), std::string("once")}); });
  try {
    db->transact([&](Tx& tx) {
      tx.exec_deferred(insert, {n(1), std::string("again")});
      tx.exec_deferred(other, {n(61), std::string("skipped")});
      tx.query("SELECT 1");
    });
    ADD_FAILURE() << "expected a unique violation";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::unique_violation) << e.what();
  }
  const auto retries = db->stats().retries_total;
  db->transact([&](Tx& tx) { tx.exec(other, {n(62), std::string("thrice")}); });
  EXPECT_EQ(db->stats().retries_total, retries);
  EXPECT_EQ(count(*db, "notes"), 16);

  // The same with a cache so small that the skipped preparation's entry is evicted in that very
  // round trip: its name is not deallocated later (the server never had it).
  auto small = open({.pool_size = 1, .statement_cache = 2});
  const auto a = "SELECT count(*) FROM notes WHERE id > $1";
  small->transact([&](Tx& tx) { tx.query(a, {n(0)}); });
  try {
    small->transact([&](Tx& tx) {
      tx.exec_deferred(insert, {n(1), std::string("again")});
      tx.exec_deferred(a, {n(0)});  // its second run: prepared in this round trip, which skips it
      tx.exec_deferred("SELECT $1::bigint + 1", {n(1)});
      tx.exec_deferred("SELECT $1::bigint + 2", {n(1)});  // evicts it
      tx.query("SELECT 1");
    });
    ADD_FAILURE() << "expected a unique violation";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::unique_violation) << e.what();
  }
  EXPECT_EQ(small->transact([&](Tx& tx) { return tx.query_one(a, {n(0)})->get_int(0); }), 16);
  EXPECT_EQ(small->transact([&](Tx& tx) { return tx.query_one("SELECT count(*) FROM notes")->get_int(0); }), 16);
}

// Statements that do not depend on one another, in one round trip on PostgreSQL: each one's rows,
// in order, after the deferred statements before them; in a read and in a write alike.
TEST_P(StoreConformance, QueryAllAnswersEachStatementInOrder) {
  script(*m_db, "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT NOT NULL)");
  m_db->transact([](Tx& tx) { tx.exec("INSERT INTO notes (id, body) VALUES (1, 'one'), (2, 'two'), (3, 'three')"); });
  const Value two[] = {std::int64_t{2}};
  const Value none[] = {std::int64_t{99}};
  const Value range[] = {std::int64_t{1}, std::int64_t{3}};
  const Tx::Statement statements[] = {
      {"SELECT body FROM notes WHERE id = $1", two},
      {"SELECT body FROM notes WHERE id = $1", none},
      {"SELECT id FROM notes WHERE id BETWEEN $1 AND $2 ORDER BY id DESC", range},
      {"SELECT count(*) AS n FROM notes", {}},
  };
  const auto check = [&](const std::vector<Rows>& rows, std::int64_t count) {
    ASSERT_EQ(rows.size(), 4U);
    ASSERT_EQ(rows[0].size(), 1U);
    EXPECT_EQ(rows[0][0].get_text(0), "two");
    EXPECT_TRUE(rows[1].empty());
    ASSERT_EQ(rows[2].size(), 3U);
    EXPECT_EQ(rows[2][0].get_int(0), 3);
    EXPECT_EQ(rows[2][2].get_int(0), 1);
    EXPECT_EQ(rows[3][0].get_int("n"), count);
  };
  check(m_db->read([&](Tx& tx) { return tx.query_all(statements); }), 3);
  m_db->transact([&](Tx& tx) {
    tx.exec_deferred("INSERT INTO notes (id, body) VALUES (4, 'four')");
    check(tx.query_all(statements), 4);
  });
  check(m_db->read([&](Tx& tx) { return tx.query_all(statements); }), 4);
  // A failing statement fails the call, and the transaction.
  const Tx::Statement failing[] = {statements[0], {"SELECT body FROM no_such_table", {}}, statements[3]};
  EXPECT_THROW(m_db->transact([&](Tx& tx) {
    tx.exec("INSERT INTO notes (id, body) VALUES (5, 'five')");
    tx.query_all(failing);
  }),
               DbError);
  EXPECT_EQ(count(*m_db, "notes"), 4);
}

TEST_P(StoreConformance, AnErrorResultRollsBackWhatTheFunctionWrote) {
  script(*m_db, "CREATE TABLE notes (id BIGINT PRIMARY KEY)");
  int runs = 0;
  Result<std::int64_t> refused = m_db->transact([&](Tx& tx) -> Result<std::int64_t> {
    ++runs;
    tx.exec("INSERT INTO notes (id) VALUES (1)");
    tx.exec("INSERT INTO notes (id) VALUES (2)");
    return bad_input("rule", "a business rule said no after writing");
  });
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "rule");
  EXPECT_EQ(runs, 1);  // an error is a decision, not a conflict: it is not retried
  EXPECT_EQ(count(*m_db, "notes"), 0);
  // Result<void> likewise; a value commits.
  Result<void> refused_void = m_db->transact([](Tx& tx) -> Result<void> {
    tx.exec("INSERT INTO notes (id) VALUES (3)");
    return not_found("gone");
  });
  EXPECT_FALSE(refused_void.has_value());
  EXPECT_EQ(count(*m_db, "notes"), 0);
  Result<void> accepted = m_db->transact([](Tx& tx) -> Result<void> {
    tx.exec("INSERT INTO notes (id) VALUES (4)");
    return ok();
  });
  EXPECT_TRUE(accepted.has_value());
  EXPECT_EQ(count(*m_db, "notes"), 1);
  // The connection went back to the pool clean: the next transaction sees no leftover state.
  EXPECT_EQ(m_db->stats().in_use, 0U);
  m_db->transact([](Tx& tx) { tx.exec("INSERT INTO notes (id) VALUES (1)"); });
  EXPECT_EQ(count(*m_db, "notes"), 2);
}

TEST_P(StoreConformance, ReadOnlyTransactionsReadButCannotWrite) {
  script(*m_db, "CREATE TABLE notes (id BIGINT PRIMARY KEY)");
  m_db->transact([](Tx& tx) { tx.exec("INSERT INTO notes (id) VALUES (1)"); });
  EXPECT_EQ(count(*m_db, "notes"), 1);
  try {
    m_db->read([](Tx& tx) { tx.exec("INSERT INTO notes (id) VALUES (2)"); });
    FAIL() << "a read-only transaction wrote";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "25006") << e.what();
  }
  EXPECT_EQ(count(*m_db, "notes"), 1);
  // A reader runs while a writer holds its transaction open.
  m_db->transact([&](Tx& tx) {
    tx.exec("INSERT INTO notes (id) VALUES (3)");
    const auto seen = std::async(std::launch::async, [&] { return count(*m_db, "notes"); }).get();
    EXPECT_EQ(seen, 1);  // uncommitted writes are invisible to others
  });
  EXPECT_EQ(count(*m_db, "notes"), 2);
}

TEST_P(StoreConformance, NestedTransactIsRefused) {
  EXPECT_THROW(m_db->transact([&](Tx&) { m_db->transact([](Tx&) {}); }), std::logic_error);
  EXPECT_TRUE(m_db->ping());
}

TEST_P(StoreConformance, RetriesConflictingTransactionsWhole) {
  script(*m_db, "CREATE TABLE doctors (id BIGINT PRIMARY KEY, on_call BIGINT NOT NULL)");
  m_db->transact([](Tx& tx) { tx.exec("INSERT INTO doctors (id, on_call) VALUES (1, 1), (2, 1)"); });
  std::atomic<int> runs{0};
  if (is_pg()) {
    // Write skew: both read that two doctors are on call, each takes itself off. Serializable
    // isolation aborts one with 40001; transact runs it again and it then sees the other's change.
    std::barrier both_read(2);
    const auto go_off_call = [&](std::int64_t id) {
      bool first = true;
      m_db->transact(
          [&](Tx& tx) {
            ++runs;
            const auto on_call = tx.query_one("SELECT count(*) FROM doctors WHERE on_call = 1")->get_int(0);
            if (first) {
              first = false;
              both_read.arrive_and_wait();
            }
            if (on_call >= 2) tx.exec("UPDATE doctors SET on_call = 0 WHERE id = $1", {id});
          },
          {.isolation = Isolation::serializable});
    };
    std::thread a(go_off_call, 1);
    std::thread b(go_off_call, 2);
    a.join();
    b.join();
  } else {
    // SQLite serializes writers; a second handle on the file (another process, in production)
    // finds the database locked, fails busy after its short busy_timeout, and is run again.
    auto other = open({.busy_timeout = 20ms});
    std::promise<void> holding;
    std::thread a([&] {
      m_db->transact([&](Tx& tx) {
        tx.exec("UPDATE doctors SET on_call = 0 WHERE id = 1");
        holding.set_value();
        // Hold the writer lock until the other handle has failed busy and gone round again:
        // observable in its retry count, however slow the machine.
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (other->stats().retries_total == 0 && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(1ms);
        }
      });
    });
    holding.get_future().wait();
    other->transact(
        [&](Tx& tx) {
          ++runs;
          const auto on_call = tx.query_one("SELECT count(*) FROM doctors WHERE on_call = 1")->get_int(0);
          if (on_call >= 2) tx.exec("UPDATE doctors SET on_call = 0 WHERE id = 2");
        },
        {.max_attempts = 100});
    a.join();
    EXPECT_GE(other->stats().retries_total, 1U);
  }
  EXPECT_EQ(
      m_db->transact([](Tx& tx) { return tx.query_one("SELECT count(*) FROM doctors WHERE on_call = 1")->get_int(0); }),
      1);
  if (is_pg()) {
    EXPECT_GE(runs.load(), 3);
    EXPECT_GE(m_db->stats().retries_total, 1U);
  }
}

TEST_P(StoreConformance, GivesUpAfterMaxAttempts) {
  int runs = 0;
  try {
    m_db->transact(
        [&](Tx&) {
          ++runs;
          throw DbError(DbErrorKind::serialization_failure, "40001", "simulated conflict");
        },
        {.max_attempts = 3});
    FAIL() << "expected the conflict to propagate";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::serialization_failure);
  }
  EXPECT_EQ(runs, 3);
  EXPECT_EQ(m_db->stats().retries_total, 2U);
}

TEST_P(StoreConformance, AcquireTimesOutWhenThePoolIsExhausted) {
  auto db = open({.pool_size = 1, .acquire_timeout = 100ms});
  std::promise<void> holding;
  std::promise<void> release;
  std::thread holder([&] {
    db->read([&](Tx& tx) {
      tx.query("SELECT 1");
      holding.set_value();
      release.get_future().wait();
    });
  });
  holding.get_future().wait();
  const auto started = std::chrono::steady_clock::now();
  try {
    db->read([](Tx& tx) { tx.query("SELECT 1"); });
    ADD_FAILURE() << "expected an acquire timeout";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::connection) << e.what();
  }
  EXPECT_GE(std::chrono::steady_clock::now() - started, 90ms);
  release.set_value();
  holder.join();
  const PoolStats stats = db->stats();
  EXPECT_EQ(stats.timeouts_total, 1U);
  EXPECT_GE(stats.waits_total, 1U);
  EXPECT_EQ(stats.in_use, 0U);
  EXPECT_TRUE(db->ping());  // the pool works again once the holder is done
}

TEST_P(StoreConformance, RecoversFromABrokenConnection) {
  if (!is_pg()) GTEST_SKIP() << "SQLite has no server connection to break";
  auto db = open({.pool_size = 1});
  const auto pid_of = [](Tx& tx) { return tx.query_one("SELECT pg_backend_pid()")->get_int(0); };
  const std::int64_t first = db->transact(pid_of);
  terminate_backend(first);
  // The idle connection is dead: the next transaction notices at its first round trip (its BEGIN
  // with its first statement) and moves to a new one.
  const std::int64_t second = db->transact(pid_of);
  EXPECT_NE(second, first);
  // So does a transaction of deferred statements alone, at its commit.
  script(*db, "CREATE TABLE notes (id BIGINT PRIMARY KEY)");
  terminate_backend(db->transact(pid_of));
  db->transact([](Tx& tx) { tx.exec_deferred("INSERT INTO notes (id) VALUES (1)"); });
  EXPECT_EQ(count(*db, "notes"), 1);
  const std::int64_t moved = db->transact(pid_of);
  terminate_backend(moved);
  db->transact([](Tx& tx) { tx.exec_deferred("INSERT INTO notes (id) VALUES (2)"); });
  EXPECT_EQ(count(*db, "notes"), 2);
  // A read sends no BEGIN: it notices at its first statement, which runs again on a new one.
  terminate_backend(second);
  const std::int64_t third = db->read(pid_of);
  EXPECT_NE(third, second);
  EXPECT_EQ(db->read(pid_of), third);
  // Statements sent together (query_all) as the first round trip of a write, and of a read, move
  // on the same way, and answer each.
  const Tx::Statement together[] = {{"SELECT pg_backend_pid()", {}}, {"SELECT count(*) FROM notes", {}}};
  const auto run_together = [&](Tx& tx) {
    const auto rows = tx.query_all(together);
    EXPECT_EQ(rows.size(), 2U);
    EXPECT_EQ(rows.at(1).at(0).get_int(0), 2);
    return rows.at(0).at(0).get_int(0);
  };
  terminate_backend(third);
  const std::int64_t fourth = db->transact(run_together);
  EXPECT_NE(fourth, third);
  terminate_backend(fourth);
  const std::int64_t fifth = db->read(run_together);
  EXPECT_NE(fifth, fourth);
  EXPECT_EQ(db->read(pid_of), fifth);

  // A connection lost in the middle of a transaction fails that transaction only.
  try {
    db->transact([&](Tx& tx) {
      terminate_backend(pid_of(tx));
      tx.query("SELECT 1");
    });
    FAIL() << "expected a connection error";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::connection) << e.what();
  }
  EXPECT_TRUE(db->ping());
  EXPECT_EQ(db->stats().size, 1U);
}

// The server lost the idle connection and refuses new ones (a restart not over yet): each
// transaction fails with a connection error, the process goes on, the pool counts no connection it
// does not hold, and once the server takes connections again the next transaction gets one.
TEST_P(StoreConformance, ATransactionThatCannotReplaceItsLostConnectionFailsAndThePoolRecovers) {
  if (!is_pg()) GTEST_SKIP() << "SQLite has no server connection to lose";
  auto db = open({.pool_size = 2, .acquire_timeout = 200ms});
  script(*db, "CREATE TABLE notes (id BIGINT PRIMARY KEY)");
  const auto pid_of = [](Tx& tx) { return tx.query_one("SELECT pg_backend_pid()")->get_int(0); };
  const std::int64_t first = db->transact(pid_of);
  ASSERT_EQ(db->stats().idle, 1U);
  admin_exec(m_admin_url, "ALTER DATABASE " + m_pg_database + " ALLOW_CONNECTIONS false");
  terminate_backend(first);
  const auto fails_to_connect = [&](const std::function<void()>& f) {
    try {
      f();
      ADD_FAILURE() << "expected a connection error";
    } catch (const DbError& e) {
      EXPECT_EQ(e.kind(), DbErrorKind::connection) << e.what();
    }
    const auto stats = db->stats();
    EXPECT_EQ(stats.in_use, 0U);
    EXPECT_EQ(stats.size, stats.idle);
  };
  // The write notices at its first round trip, the read at its first statement, a transaction of
  // deferred statements alone at its commit; each finds no connection to move to.
  fails_to_connect([&] { db->transact(pid_of); });
  EXPECT_EQ(db->stats().size, 0U);
  fails_to_connect([&] { db->read(pid_of); });
  fails_to_connect([&] { db->transact([](Tx& tx) { tx.exec_deferred("INSERT INTO notes (id) VALUES (1)"); }); });
  // A statement tried after the failed one, in the same transaction, is refused: the transaction
  // failed.
  admin_exec(m_admin_url, "ALTER DATABASE " + m_pg_database + " ALLOW_CONNECTIONS true");
  const std::int64_t second = db->transact(pid_of);
  admin_exec(m_admin_url, "ALTER DATABASE " + m_pg_database + " ALLOW_CONNECTIONS false");
  terminate_backend(second);
  try {
    db->transact([&](Tx& tx) {
      try {
        tx.query("SELECT 1");
        ADD_FAILURE() << "expected a connection error";
      } catch (const DbError& e) {
        EXPECT_EQ(e.kind(), DbErrorKind::connection) << e.what();
      }
      tx.query("SELECT 2");
    });
    ADD_FAILURE() << "expected the transaction to fail";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "25P02") << e.what();
  }
  EXPECT_EQ(db->stats().in_use, 0U);
  EXPECT_FALSE(db->ping());
  admin_exec(m_admin_url, "ALTER DATABASE " + m_pg_database + " ALLOW_CONNECTIONS true");
  const std::int64_t third = db->transact(pid_of);
  EXPECT_NE(third, second);
  db->transact([](Tx& tx) { tx.exec_deferred("INSERT INTO notes (id) VALUES (1)"); });
  EXPECT_EQ(count(*db, "notes"), 1);
  EXPECT_TRUE(db->ping());
  EXPECT_EQ(db->stats().in_use, 0U);
  EXPECT_LE(db->stats().size, 2U);
}

// PostgreSQL: a read-committed read runs its statements without BEGIN and COMMIT (each statement
// takes its own snapshot either way), still read-only; a write and a serializable read are
// transactions.
TEST_P(StoreConformance, ReadCommittedReadsRunWithoutATransactionBlock) {
  if (!is_pg()) GTEST_SKIP() << "SQLite's reads are transactions on reader connections";
  auto db = open({.pool_size = 1});
  script(*db, "CREATE TABLE notes (id BIGINT PRIMARY KEY)");
  // A setting made local to the transaction lasts to its end: outside a block, to the end of
  // the statement that made it.
  const auto own_transaction = [](Tx& tx) {
    tx.query("SELECT set_config('gatehouse.probe', 'set', true)");
    return tx.query_one("SELECT coalesce(current_setting('gatehouse.probe', true), '')")->get_text(0) != "set";
  };
  EXPECT_TRUE(db->read(own_transaction));
  EXPECT_FALSE(db->transact(own_transaction));
  EXPECT_FALSE(db->read(own_transaction, TxOptions{.isolation = Isolation::serializable}));
  try {
    db->read([](Tx& tx) { tx.exec("INSERT INTO notes (id) VALUES (1)"); });
    FAIL() << "a read wrote";
  } catch (const DbError& e) {
    EXPECT_EQ(e.sqlstate(), "25006") << e.what();
  }
  db->transact([](Tx& tx) { tx.exec("INSERT INTO notes (id) VALUES (2)"); });
  EXPECT_EQ(count(*db, "notes"), 1);
}

// PostgreSQL: a statement run a second time on a connection runs prepared from then on, one
// prepared statement per text and parameter types, at most `statement_cache` per connection.
TEST_P(StoreConformance, KeepsRepeatedStatementsPreparedByTextAndParameterTypes) {
  if (!is_pg()) GTEST_SKIP() << "SQLite prepares every statement itself";
  auto db = open({.pool_size = 1, .statement_cache = 4});
  const auto prepared = [](Tx& tx, const std::string& text) {
    return tx.query_one("SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", {text})->get_int(0);
  };
  const std::string add = "SELECT 1 + $1 AS n";
  const std::string echo = "SELECT $1 AS v";
  db->transact([&](Tx& tx) {
    EXPECT_EQ(tx.query_one(add, {std::int64_t{1}})->get_int(0), 2);
    EXPECT_EQ(prepared(tx, add), 0) << "a text seen once runs unnamed";
    EXPECT_EQ(tx.query_one(add, {std::int64_t{2}})->get_int(0), 3);
    EXPECT_EQ(prepared(tx, add), 1);
  });
  db->transact([&](Tx& tx) {
    EXPECT_EQ(tx.query_one(add, {std::int64_t{3}})->get_int(0), 4);
    EXPECT_EQ(prepared(tx, add), 1) << "the prepared statement is reused across transactions";
    // One text with parameters of other types: each signature its own statement, each value read
    // back as what it was.
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(tx.query_one(echo, {std::int64_t{7}})->get_int(0), 7);
      EXPECT_EQ(tx.query_one(echo, {std::string("seven")})->get_text(0), "seven");
      EXPECT_EQ(tx.query_one(echo, {Blob{1, 2, 0}})->get_blob(0), (Blob{1, 2, 0}));
    }
    EXPECT_TRUE(tx.query_one(echo, {nullptr})->is_null(0));
    EXPECT_EQ(prepared(tx, echo), 3);
  });
  // Ten more texts, each run twice: the connection never holds more than four. (A read, whose
  // statements run outside a block, deallocates what it evicts as a transaction does.)
  db->read([&](Tx& tx) {
    for (int i = 0; i < 10; ++i) {
      const std::string text = fmt::format("SELECT {} + $1 AS n", i);
      for (int round = 0; round < 2; ++round) EXPECT_EQ(tx.query_one(text, {std::int64_t{1}})->get_int(0), i + 1);
    }
    EXPECT_LE(tx.query_one("SELECT count(*) FROM pg_prepared_statements")->get_int(0), 4);
    EXPECT_EQ(tx.query_one(add, {std::int64_t{4}})->get_int(0), 5) << "an evicted text runs again";
  });

  // A statement prepared in a transaction that rolls back stays prepared and usable.
  try {
    db->transact([&](Tx& tx) {
      tx.query(echo, {std::string("a")});
      tx.query(echo, {std::string("a")});
      throw std::runtime_error("roll back");
    });
  } catch (const std::runtime_error&) {
  }
  const auto retries = db->stats().retries_total;
  EXPECT_EQ(db->transact([&](Tx& tx) { return tx.query_one(echo, {std::string("b")})->get_text(0); }), "b");
  EXPECT_EQ(db->stats().retries_total, retries);

  // 0 prepares nothing.
  auto unprepared = open({.pool_size = 1, .statement_cache = 0});
  unprepared->transact([&](Tx& tx) {
    for (int round = 0; round < 3; ++round) EXPECT_EQ(tx.query_one(add, {std::int64_t{1}})->get_int(0), 2);
    EXPECT_EQ(tx.query_one("SELECT count(*) FROM pg_prepared_statements")->get_int(0), 0);
  });
}

// PostgreSQL: a prepared statement whose table changed shape, or that was deallocated behind the
// connection's back, costs one retry of its transaction on a fresh connection, never a failure.
TEST_P(StoreConformance, PreparedStatementsOutliveSchemaChangesAndDeallocation) {
  if (!is_pg()) GTEST_SKIP() << "SQLite prepares every statement itself";
  auto db = open({.pool_size = 1});
  script(*db, "CREATE TABLE shapes (a BIGINT NOT NULL)");
  db->transact([](Tx& tx) { tx.exec("INSERT INTO shapes (a) VALUES (1)"); });
  const auto columns = [&] {
    return db->read([](Tx& tx) { return tx.query("SELECT * FROM shapes WHERE a = $1", {std::int64_t{1}}).columns(); });
  };
  const auto pid = [&] { return db->read([](Tx& tx) { return tx.query_one("SELECT pg_backend_pid()")->get_int(0); }); };
  EXPECT_EQ(columns().size(), 1U);
  EXPECT_EQ(columns().size(), 1U);  // now prepared

  // Another session adds a column: the prepared statement can no longer return its old shape.
  admin_exec(m_url, "ALTER TABLE shapes ADD COLUMN b TEXT NOT NULL DEFAULT 'x'");
  auto retries = db->stats().retries_total;
  const std::int64_t before = pid();
  EXPECT_EQ(columns(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(db->stats().retries_total, retries + 1);
  EXPECT_NE(pid(), before) << "the connection holding the stale statement was dropped";

  // This connection's own DDL deallocates its statements: no retry at all.
  EXPECT_EQ(columns().size(), 2U);
  EXPECT_EQ(columns().size(), 2U);
  retries = db->stats().retries_total;
  script(*db, "ALTER TABLE shapes ADD COLUMN c BIGINT NOT NULL DEFAULT 0");
  EXPECT_EQ(columns(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(db->stats().retries_total, retries);

  // A statement deallocated by a command the connection did not see coming.
  EXPECT_EQ(columns().size(), 3U);
  db->transact([](Tx& tx) { tx.exec("DEALLOCATE ALL"); });
  retries = db->stats().retries_total;
  EXPECT_EQ(columns().size(), 3U);
  EXPECT_EQ(db->stats().retries_total, retries + 1);
}

TEST_P(StoreConformance, ConcurrentWritersLoseNoWrites) {
  script(
      *m_db,
      "CREATE TABLE counters (id BIGINT PRIMARY KEY, n BIGINT NOT NULL); CREATE TABLE events (id BIGINT PRIMARY KEY)");
  m_db->transact([](Tx& tx) { tx.exec("INSERT INTO counters (id, n) VALUES (1, 0)"); });
  constexpr int threads = 8;
  constexpr int per_thread = 40;
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < per_thread; ++i) {
        m_db->transact([&](Tx& tx) {
          tx.exec("UPDATE counters SET n = n + 1 WHERE id = 1");
          tx.exec("INSERT INTO events (id) VALUES ($1)", {std::int64_t{t * per_thread + i}});
        });
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_EQ(m_db->transact([](Tx& tx) { return tx.query_one("SELECT n FROM counters")->get_int(0); }),
            threads * per_thread);
  EXPECT_EQ(count(*m_db, "events"), threads * per_thread);
}

TEST_P(StoreConformance, MigratesAndIsIdempotent) {
  const MigrationSet& fixture = store_fixture::migrations();
  ASSERT_EQ(fixture.module, "store_fixture");
  ASSERT_EQ(fixture.migrations.size(), 3U);
  const std::span<const MigrationSet> sets(&fixture, 1);
  // SQLite's writer keeps statement journals in a file while migrating (a migration may rewrite a
  // whole table), in memory once migrated (2: MEMORY).
  const auto temp_store = [&] {
    return m_db->transact([](Tx& tx) { return tx.query_one("PRAGMA temp_store")->get_int(0); });
  };
  if (!is_pg()) {
    EXPECT_EQ(temp_store(), 0);
  }
  EXPECT_FALSE(m_db->migrated(sets));
  m_db->migrate(sets);
  EXPECT_TRUE(m_db->migrated(sets));
  if (!is_pg()) {
    EXPECT_EQ(temp_store(), 2);
  }
  m_db->migrate(sets);  // nothing left to do
  EXPECT_TRUE(m_db->migrated(sets));

  const Rows applied = m_db->transact([](Tx& tx) {
    return tx.query("SELECT version, name, checksum FROM store_migrations WHERE module = $1 ORDER BY version",
                    {std::string("store_fixture")});
  });
  ASSERT_EQ(applied.size(), 3U);
  EXPECT_EQ(applied[0].get_text("name"), "accounts");
  EXPECT_EQ(applied[1].get_int("version"), 2);
  EXPECT_EQ(applied[2].get_text("checksum").size(), 64U);

  // 0002 has a variant per dialect; 0003 (plain) altered the variant's table on both.
  m_db->transact([](Tx& tx) {
    tx.exec("INSERT INTO fixture_accounts (id, address) VALUES (1, $1)", {std::string("0xabc")});
    tx.exec("INSERT INTO fixture_balances (account_id, amount, note) VALUES (1, $1, $2)",
            {std::string("5"), std::string("n")});
  });
  EXPECT_EQ(m_db->transact([](Tx& tx) { return tx.query_one("SELECT dialect FROM fixture_balances")->get_text(0); }),
            is_pg() ? "postgres" : "sqlite");
}

TEST_P(StoreConformance, RefusesEditedOrUnknownMigrations) {
  const MigrationSet& fixture = store_fixture::migrations();
  m_db->migrate(std::span(&fixture, 1));

  MigrationSet edited = fixture;
  edited.migrations[0].sqlite_sql += "\n-- edited";
  edited.migrations[0].postgres_sql += "\n-- edited";
  try {
    m_db->migrate(std::span(&edited, 1));
    FAIL() << "expected a checksum mismatch";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("0001_accounts"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("edited after it was applied"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(m_db->migrated(std::span(&edited, 1)));

  MigrationSet older = fixture;  // a rolled-back binary that knows only the first two
  older.migrations.pop_back();
  try {
    m_db->migrate(std::span(&older, 1));
    FAIL() << "expected an unknown-migration error";
  } catch (const MigrationError& e) {
    EXPECT_NE(std::string(e.what()).find("0003_balance_note"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("newer gatehouse"), std::string::npos) << e.what();
  }

  // A migration that fails leaves no trace: neither its effects nor its bookkeeping row.
  MigrationSet broken{"store_broken",
                      {{1, "good", "CREATE TABLE broken_a (x BIGINT)", "CREATE TABLE broken_a (x BIGINT)"},
                       {2, "bad", "CREATE TABLE broken_b (x BIGINT); SELECT * FROM nowhere",
                        "CREATE TABLE broken_b (x BIGINT); SELECT * FROM nowhere"}}};
  EXPECT_THROW(m_db->migrate(std::span(&broken, 1)), DbError);
  EXPECT_EQ(count(*m_db, "broken_a"), 0);
  EXPECT_THROW(count(*m_db, "broken_b"), DbError);
  EXPECT_EQ(m_db->transact([](Tx& tx) {
    return tx.query_one("SELECT count(*) FROM store_migrations WHERE module = 'store_broken'")->get_int(0);
  }),
            1);
}

TEST_P(StoreConformance, ConcurrentMigratorsApplyEachMigrationOnce) {
  // Many small migrations that fail if run twice ("table already exists").
  MigrationSet race{"store_race", {}};
  for (int v = 1; v <= 15; ++v) {
    const std::string sql = fmt::format("CREATE TABLE race_{} (x BIGINT)", v);
    race.migrations.push_back({v, fmt::format("table_{}", v), sql, sql});
  }
  const std::array<MigrationSet, 2> sets{store_fixture::migrations(), race};
  std::barrier start(2);
  const auto migrate = [&] {
    auto db = open({.pool_size = 2});  // a separate Database: another process, in production
    start.arrive_and_wait();
    db->migrate(sets);
  };
  auto a = std::async(std::launch::async, migrate);
  auto b = std::async(std::launch::async, migrate);
  EXPECT_NO_THROW(a.get());
  EXPECT_NO_THROW(b.get());
  EXPECT_TRUE(m_db->migrated(sets));
  EXPECT_EQ(count(*m_db, "store_migrations"), 18);
}

TEST_P(StoreConformance, Stores256BitAmountsExactly) {
  const MigrationSet& fixture = store_fixture::migrations();
  m_db->migrate(std::span(&fixture, 1));
  // NUMERIC(78,0) on PostgreSQL, TEXT on SQLite: bound and read as decimal text either way.
  m_db->transact([](Tx& tx) {
    tx.exec("INSERT INTO fixture_accounts (id, address) VALUES (1, '0x1')");
    tx.exec("INSERT INTO fixture_balances (account_id, amount) VALUES (1, $1)", {std::string(max_u256)});
    tx.exec("INSERT INTO fixture_balances (account_id, amount) VALUES (1, $1)", {std::string("0")});
  });
  const Rows rows = m_db->read(
      [](Tx& tx) { return tx.query("SELECT amount FROM fixture_balances WHERE account_id = $1", {std::int64_t{1}}); });
  ASSERT_EQ(rows.size(), 2U);
  std::vector<std::string> amounts{rows[0].get_text(0), rows[1].get_text(0)};
  std::sort(amounts.begin(), amounts.end());
  EXPECT_EQ(amounts, (std::vector<std::string>{"0", max_u256}));
  // Lookup by exact value works on both (equality of canonical decimal text).
  EXPECT_TRUE(m_db->transact([](Tx& tx) {
    return tx.query_one("SELECT 1 FROM fixture_balances WHERE amount = $1", {std::string(max_u256)}).has_value();
  }));
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreConformance, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const ::testing::TestParamInfo<Dialect>& param) {
                           return std::string(to_string(param.param));
                         });

}  // namespace
}  // namespace gh::store
