// Fast tests of the pure pieces of store: placeholder rewriting, URL parsing, migration checks,
// row access. The backends are covered by the conformance suite (store_db_test.cpp).
#include <gtest/gtest.h>

#include <limits>

#include "store/database.hpp"
#include "store/database_url.hpp"
#include "store/in_list.hpp"
#include "store/migration_plan.hpp"
#include "store/sql_placeholders.hpp"

namespace gh::store {
namespace {

TEST(SqlitePlaceholders, RewritesNumberedPlaceholders) {
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT $1, $2"), "SELECT ?1, ?2");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT $2 + $1 + $2"), "SELECT ?2 + ?1 + ?2");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("VALUES($10,$1)"), "VALUES(?10,?1)");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("x=$1;"), "x=?1;");
}

TEST(SqlitePlaceholders, LeavesLiteralsCommentsAndIdentifiersAlone) {
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT '$1', $2"), "SELECT '$1', ?2");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT 'it''s $1', $1"), "SELECT 'it''s $1', ?1");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT \"col$1\", $1"), "SELECT \"col$1\", ?1");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT a$1, $1"), "SELECT a$1, ?1");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT $1 -- $2\n, $3"), "SELECT ?1 -- $2\n, ?3");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT /* $2 */ $1"), "SELECT /* $2 */ ?1");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT [$1], `$2`, $3"), "SELECT [$1], `$2`, ?3");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT '$1"), "SELECT '$1");  // unterminated: as is
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT $x, $"), "SELECT $x, $");
  EXPECT_EQ(rewrite_placeholders_for_sqlite("SELECT 'é', $1"), "SELECT 'é', ?1");
}

TEST(SqlitePlaceholders, FindsTheHighestPlaceholder) {
  EXPECT_EQ(highest_placeholder("SELECT 1"), 0U);
  EXPECT_EQ(highest_placeholder("SELECT $2, $1, $2"), 2U);
  EXPECT_EQ(highest_placeholder("SELECT $12 -- $99"), 12U);
  EXPECT_EQ(highest_placeholder("SELECT '$3', a$4, $1"), 1U);
}

TEST(DatabaseUrl, ParsesSqlite) {
  auto memory = parse_database_url("sqlite::memory:");
  ASSERT_TRUE(memory);
  EXPECT_EQ(memory->dialect, Dialect::sqlite);
  EXPECT_TRUE(memory->sqlite_memory);

  auto file = parse_database_url("sqlite:var/gatehouse.db");
  ASSERT_TRUE(file);
  EXPECT_FALSE(file->sqlite_memory);
  EXPECT_EQ(file->sqlite_path, "var/gatehouse.db");

  auto absolute = parse_database_url("sqlite:///tmp/x.db");
  ASSERT_TRUE(absolute);
  EXPECT_EQ(absolute->sqlite_path, "/tmp/x.db");
}

TEST(DatabaseUrl, ParsesPostgres) {
  for (const char* url : {"postgres://u:p@localhost:5432/db", "postgresql://localhost/db?sslmode=disable"}) {
    auto parsed = parse_database_url(url);
    ASSERT_TRUE(parsed) << url;
    EXPECT_EQ(parsed->dialect, Dialect::postgres);
    EXPECT_EQ(parsed->postgres_uri, url);
  }
}

TEST(DatabaseUrl, RejectsBadUrlsWithOneLineReasons) {
  for (const char* url : {"", "sqlite:", "sqlite://", "mysql://x/y", "gatehouse.db", "postgres://",
                          "postgres://u:secret@h/d b", "sqlite:x.db?mode=ro"}) {
    auto parsed = parse_database_url(url);
    ASSERT_FALSE(parsed) << url;
    EXPECT_EQ(parsed.error().code, "bad_database_url");
    EXPECT_EQ(parsed.error().message.find('\n'), std::string::npos);
    EXPECT_EQ(parsed.error().message.find("secret"), std::string::npos) << parsed.error().message;
  }
  EXPECT_THROW(Database::open("mysql://x/y"), std::invalid_argument);
  EXPECT_THROW(Database::open("postgres://h/d?no_such_option=1"), std::invalid_argument);
}

TEST(DatabaseUrl, RedactsPasswords) {
  EXPECT_EQ(redact_database_url("postgres://u:secret@h:5432/d"), "postgres://u:***@h:5432/d");
  EXPECT_EQ(redact_database_url("postgres://u@h/d"), "postgres://u@h/d");
  EXPECT_EQ(redact_database_url("postgres://h/d?x=a@b"), "postgres://h/d?x=a@b");
  EXPECT_EQ(redact_database_url("sqlite:x.db"), "sqlite:x.db");
}

TEST(MigrationPlan, ChecksumIgnoresLineEndingsOnly) {
  EXPECT_EQ(migration_checksum("CREATE TABLE t (x INT);\nSELECT 1;\n"),
            migration_checksum("CREATE TABLE t (x INT);\r\nSELECT 1;\r\n"));
  EXPECT_NE(migration_checksum("CREATE TABLE t (x INT);"), migration_checksum("CREATE TABLE t (x BIGINT);"));
  EXPECT_EQ(migration_checksum(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(migration_label(3, "add_index"), "0003_add_index");
}

TEST(MigrationPlan, ValidatesSets) {
  EXPECT_NO_THROW(validate_migration_set({"auth", {{1, "a", "", ""}, {2, "b", "", ""}, {7, "c", "", ""}}}));
  EXPECT_THROW(validate_migration_set({"", {}}), MigrationError);
  EXPECT_THROW(validate_migration_set({"auth", {{0, "a", "", ""}}}), MigrationError);
  EXPECT_THROW(validate_migration_set({"auth", {{2, "a", "", ""}, {1, "b", "", ""}}}), MigrationError);
  EXPECT_THROW(validate_migration_set({"auth", {{1, "a", "", ""}, {1, "b", "", ""}}}), MigrationError);
  const Migration m{1, "a", "sqlite sql", "pg sql"};
  EXPECT_EQ(migration_sql(m, Dialect::sqlite), "sqlite sql");
  EXPECT_EQ(migration_sql(m, Dialect::postgres), "pg sql");
}

TEST(Row, ReadsByIndexAndNameWithTypeChecks) {
  auto names =
      std::make_shared<const std::vector<std::string>>(std::vector<std::string>{"n", "s", "b", "z", "sum", "d"});
  const Row row(names, {std::int64_t{std::numeric_limits<std::int64_t>::min()}, std::string("text"), Blob{0, 1, 0},
                        nullptr, std::string("42"), 1.5});
  EXPECT_EQ(row.get_int(0), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(row.get_int("n"), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(row.get_text("s"), "text");
  EXPECT_EQ(row.get_blob("b"), (Blob{0, 1, 0}));
  EXPECT_TRUE(row.is_null("z"));
  EXPECT_EQ(row.opt_int("z"), std::nullopt);
  EXPECT_EQ(row.opt_text(1), "text");
  EXPECT_EQ(row.get_int("sum"), 42);  // PostgreSQL's sum() and NUMERIC arrive as text
  EXPECT_EQ(row.get_text(0), "-9223372036854775808");
  EXPECT_DOUBLE_EQ(row.get_double("d"), 1.5);
  EXPECT_DOUBLE_EQ(row.get_double("n"), -9223372036854775808.0);
  EXPECT_THROW(row.get_int("s"), DbError);
  EXPECT_THROW(row.get_blob("s"), DbError);
  EXPECT_THROW(row.get_text("z"), DbError);
  EXPECT_THROW(row.get_int("missing"), DbError);
  EXPECT_THROW(row.value(6), DbError);
}

// sqlite::memory: is one private database on one connection (no readers); tests use it.
TEST(InMemoryDatabase, ReadsWritesAndKeepsReadOnlyHonest) {
  auto db = Database::open("sqlite::memory:");
  EXPECT_EQ(db->dialect(), Dialect::sqlite);
  db->transact([](Tx& tx) {
    tx.execute_script("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT); CREATE INDEX t_s ON t (s);");
    tx.exec("INSERT INTO t (id, s) VALUES ($1, $2)", {std::int64_t{1}, std::string("a")});
  });
  EXPECT_EQ(
      db->read([](Tx& tx) { return tx.query_one("SELECT s FROM t WHERE id = $1", {std::int64_t{1}})->get_text("s"); }),
      "a");
  EXPECT_THROW(db->read([](Tx& tx) { tx.exec("DELETE FROM t"); }), DbError);
  // The borrowed connection writes again once the read-only transaction is over.
  EXPECT_EQ(db->transact([](Tx& tx) { return tx.exec("DELETE FROM t"); }), 1);
  EXPECT_TRUE(db->ping());
  EXPECT_EQ(db->stats().size, 1U);
}

TEST(DbError, RetryableKinds) {
  EXPECT_TRUE(DbError(DbErrorKind::busy, "", "x").retryable());
  EXPECT_TRUE(DbError(DbErrorKind::serialization_failure, "40P01", "x").retryable());
  EXPECT_FALSE(DbError(DbErrorKind::unique_violation, "23505", "x").retryable());
  EXPECT_FALSE(DbError(DbErrorKind::connection, "08006", "x").retryable());
  EXPECT_STREQ(to_string(DbErrorKind::unique_violation), "unique_violation");
}

TEST(InList, NumbersEachChunksPlaceholdersAfterTheLeadingParameters) {
  const std::vector<std::string> values{"a", "b", "c", "d", "e"};
  std::vector<std::string> lists;
  std::vector<std::vector<Value>> params;
  for_each_in_list(values, 2, {std::string("scope")}, [&](const std::string& in_list, std::vector<Value>& p) {
    lists.push_back(in_list);
    params.push_back(p);
  });
  EXPECT_EQ(lists, (std::vector<std::string>{"$2, $3", "$2, $3", "$2"}));
  ASSERT_EQ(params.size(), 3U);
  EXPECT_EQ(params[0], (std::vector<Value>{std::string("scope"), std::string("a"), std::string("b")}));
  EXPECT_EQ(params[2], (std::vector<Value>{std::string("scope"), std::string("e")}));

  lists.clear();
  for_each_in_list(values, 500, {}, [&](const std::string& in_list, const std::vector<Value>& p) {
    lists.push_back(in_list);
    EXPECT_EQ(p.size(), 5U);
  });
  EXPECT_EQ(lists, (std::vector<std::string>{"$1, $2, $3, $4, $5"}));
  for_each_in_list({}, 2, {}, [&](const std::string&, const std::vector<Value>&) { ADD_FAILURE() << "no values"; });
}

}  // namespace
}  // namespace gh::store
