// The connection pool both backends share, with a fake connection: lazy opening up to the
// capacity, reuse, waiting and timing out, dropping broken connections, and a failed open giving
// its slot back.
#include "store/connection_pool.hpp"

#include <gtest/gtest.h>

#include <future>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

namespace gh::store {
namespace {

using namespace std::chrono_literals;

struct FakeConnection {
  int id = 0;
};

struct Opener {
  int opened = 0;
  bool fail = false;
  std::unique_ptr<FakeConnection> operator()() {
    if (fail) throw DbError(DbErrorKind::connection, "08006", "cannot connect");
    return std::make_unique<FakeConnection>(FakeConnection{++opened});
  }
};

TEST(ConnectionPool, OpensLazilyUpToCapacityAndReusesIdleOnes) {
  Opener opener;
  ConnectionPool<FakeConnection> pool("test", "a connection", 2, 50ms, [&] { return opener(); });
  auto a = pool.acquire();
  EXPECT_FALSE(a.reused);
  EXPECT_EQ(a.connection->id, 1);
  auto b = pool.acquire();
  EXPECT_EQ(b.connection->id, 2);
  pool.release(std::move(a.connection), true);
  auto c = pool.acquire();
  EXPECT_TRUE(c.reused);
  EXPECT_EQ(c.connection->id, 1);
  EXPECT_EQ(opener.opened, 2);
  const auto s = pool.stats();
  EXPECT_EQ(s.size, 2U);
  EXPECT_EQ(s.in_use, 2U);
  EXPECT_EQ(s.idle, 0U);
  EXPECT_EQ(s.acquired_total, 3U);
  pool.release(std::move(b.connection), true);
  pool.release(std::move(c.connection), true);
  EXPECT_EQ(pool.stats().idle, 2U);
}

TEST(ConnectionPool, TimesOutWhenEveryConnectionIsInUse) {
  Opener opener;
  ConnectionPool<FakeConnection> pool("test", "a connection (pool of 1)", 1, 20ms, [&] { return opener(); });
  auto held = pool.acquire();
  try {
    (void)pool.acquire();
    FAIL() << "acquired a second connection from a pool of one";
  } catch (const DbError& e) {
    EXPECT_EQ(e.kind(), DbErrorKind::connection);
    EXPECT_EQ(e.sqlstate(), "08000");
    EXPECT_NE(std::string(e.what()).find("test: timed out after 20 ms waiting for a connection (pool of 1)"),
              std::string::npos)
        << e.what();
  }
  const auto s = pool.stats();
  EXPECT_EQ(s.waits_total, 1U);
  EXPECT_EQ(s.timeouts_total, 1U);
  EXPECT_EQ(s.in_use, 1U);
}

TEST(ConnectionPool, AWaiterGetsTheReleasedConnection) {
  Opener opener;
  ConnectionPool<FakeConnection> pool("test", "a connection", 1, 30s, [&] { return opener(); });
  auto held = pool.acquire();
  auto waiter = std::async(std::launch::async, [&] { return pool.acquire(); });
  // The waiter is observably waiting before the release (otherwise this tests nothing).
  while (pool.stats().waits_total == 0) std::this_thread::yield();
  pool.release(std::move(held.connection), true);
  auto got = waiter.get();
  EXPECT_TRUE(got.reused);
  EXPECT_EQ(got.connection->id, 1);
  EXPECT_EQ(opener.opened, 1);
}

TEST(ConnectionPool, DropsConnectionsReleasedAsBrokenAndOpensNewOnes) {
  Opener opener;
  ConnectionPool<FakeConnection> pool("test", "a connection", 1, 50ms, [&] { return opener(); });
  auto a = pool.acquire();
  pool.release(std::move(a.connection), false);
  EXPECT_EQ(pool.stats().size, 0U);
  auto b = pool.acquire();
  EXPECT_FALSE(b.reused);
  EXPECT_EQ(b.connection->id, 2);
}

TEST(ConnectionPool, AFailedOpenGivesItsSlotBack) {
  Opener opener;
  ConnectionPool<FakeConnection> pool("test", "a connection", 1, 50ms, [&] { return opener(); });
  opener.fail = true;
  EXPECT_THROW((void)pool.acquire(), DbError);
  EXPECT_EQ(pool.stats().size, 0U);
  EXPECT_EQ(pool.stats().in_use, 0U);
  opener.fail = false;
  auto a = pool.acquire();  // would time out if the failed open still held the only slot
  EXPECT_EQ(a.connection->id, 1);
}

TEST(ConnectionPool, AdoptedConnectionsCountAgainstTheCapacity) {
  Opener opener;
  ConnectionPool<FakeConnection> pool("test", "the writer", 1, 20ms, [&] { return opener(); });
  pool.adopt(std::make_unique<FakeConnection>(FakeConnection{42}));
  auto a = pool.acquire();
  EXPECT_TRUE(a.reused);
  EXPECT_EQ(a.connection->id, 42);
  EXPECT_THROW((void)pool.acquire(), DbError);
  EXPECT_EQ(opener.opened, 0);
}

}  // namespace
}  // namespace gh::store
