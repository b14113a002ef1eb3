// The presence service on both backends, with a manual clock: what an account chooses lasts
// (and the default leaves no row), a custom status is gone at its expiry, changes are paced per
// account while an unchanged one is free, and do not disturb reads as notify asks it.
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "core/testing/run_task.hpp"
#include "realtime/migrations.hpp"
#include "realtime/service.hpp"
#include "realtime/store.hpp"
#include "store/testing/fresh_database.hpp"

namespace gh::realtime {
namespace {

using store::Dialect;
using store::Tx;

const SystemTime start_time = SystemTime(std::chrono::seconds(1'767'225'600));

eth::Address account(std::uint8_t n) {
  eth::Address a;
  a.bytes[0] = 0xcc;
  a.bytes[19] = n;
  return a;
}

PresenceChange status(std::string s) {
  PresenceChange c;
  c.status = std::move(s);
  return c;
}

PresenceChange custom(std::optional<CustomStatus> cs) {
  PresenceChange c;
  c.set_custom = true;
  c.custom = std::move(cs);
  return c;
}

class PresenceTest : public ::testing::TestWithParam<Dialect> {
 protected:
  void SetUp() override {
    GH_REQUIRE_DATABASE(m_fresh);
    m_db = m_fresh.open();
    m_db->migrate(std::vector<store::MigrationSet>{realtime::migrations()});
    PresenceSettings settings;
    settings.changes = net::RateLimit{0.5, 5.0, 1000};
    m_service = std::make_unique<PresenceService>(*m_db, m_pool, m_clock, settings);
  }

  template <class T>
  T run(Task<T> task) {
    return gh::testing::run(m_ioc, std::move(task));
  }

  Presence get(const eth::Address& who) {
    auto p = run(m_service->presence(who));
    EXPECT_TRUE(p);
    return p ? *p : Presence{};
  }

  std::size_t rows() {
    return static_cast<std::size_t>(m_db->read(
        [](Tx& tx) { return tx.query_one("SELECT COUNT(*) AS n FROM realtime_presence", {})->get_int("n"); }));
  }

  store::testing::FreshDatabase m_fresh{GetParam(), "realtime"};
  std::unique_ptr<store::Database> m_db;
  BlockingPool m_pool{2, 256};
  boost::asio::io_context m_ioc;
  ManualClock m_clock{start_time};
  std::unique_ptr<PresenceService> m_service;
};

TEST_P(PresenceTest, WhatAnAccountChoosesLastsAndTheDefaultLeavesNoRow) {
  const auto bob = account(1);
  EXPECT_EQ(get(bob), Presence{});
  EXPECT_FALSE(*run(m_service->do_not_disturb(eth::to_lower_hex(bob))));

  auto dnd = run(m_service->change(bob, status("dnd")));
  ASSERT_TRUE(dnd);
  EXPECT_EQ(dnd->status, "dnd");
  EXPECT_EQ(get(bob).status, "dnd");
  EXPECT_TRUE(*run(m_service->do_not_disturb(eth::to_lower_hex(bob))));
  EXPECT_TRUE(*run(m_service->do_not_disturb(eth::to_checksum(bob))));
  EXPECT_FALSE(*run(m_service->do_not_disturb(eth::to_lower_hex(account(2)))));
  EXPECT_FALSE(*run(m_service->do_not_disturb("not an address")));

  auto with_custom = run(m_service->change(bob, custom(CustomStatus{"focus", "🎧", std::nullopt})));
  ASSERT_TRUE(with_custom);
  EXPECT_EQ(get(bob), (Presence{"dnd", CustomStatus{"focus", "🎧", std::nullopt}}));
  ASSERT_TRUE(run(m_service->change(bob, custom(CustomStatus{"", "☕", std::nullopt}))));
  EXPECT_EQ(get(bob), (Presence{"dnd", CustomStatus{"", "☕", std::nullopt}}));
  EXPECT_EQ(rows(), 1U);

  // Back to the default: no row is kept.
  m_clock.advance(std::chrono::seconds(10));
  ASSERT_TRUE(run(m_service->change(bob, custom(std::nullopt))));
  ASSERT_TRUE(run(m_service->change(bob, status("online"))));
  EXPECT_EQ(get(bob), Presence{});
  EXPECT_EQ(rows(), 0U);
}

TEST_P(PresenceTest, ACustomStatusIsGoneAtItsExpiry) {
  const auto bob = account(3);
  ASSERT_TRUE(run(m_service->change(bob, custom(CustomStatus{"lunch", "", start_time + std::chrono::minutes(30)}))));
  EXPECT_EQ(get(bob).custom->text, "lunch");
  m_clock.advance(std::chrono::minutes(29));
  EXPECT_TRUE(get(bob).custom);
  m_clock.advance(std::chrono::minutes(1));
  EXPECT_EQ(get(bob), Presence{});
  // Clearing an expired one changes nothing, and costs nothing.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(run(m_service->change(bob, custom(std::nullopt))));
}

TEST_P(PresenceTest, ChangesArePacedPerAccountAndAnUnchangedOneIsFree) {
  const auto bob = account(4);
  const auto carol = account(5);
  for (const char* s : {"idle", "online", "idle", "online", "dnd"}) ASSERT_TRUE(run(m_service->change(bob, status(s))));
  auto refused = run(m_service->change(bob, status("idle")));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "rate_limited");
  EXPECT_EQ(get(bob).status, "dnd");  // nothing written
  // Unchanged: no token taken, no error.
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(run(m_service->change(bob, status("dnd"))));
  // Another account has its own budget.
  EXPECT_TRUE(run(m_service->change(carol, status("idle"))));
}

INSTANTIATE_TEST_SUITE_P(Backends, PresenceTest, ::testing::Values(Dialect::sqlite, Dialect::postgres),
                         [](const auto& param_info) { return std::string(store::to_string(param_info.param)); });

}  // namespace
}  // namespace gh::realtime
