#include "realtime/presence_throttle.hpp"

#include <gtest/gtest.h>

namespace gh::realtime {
namespace {

using namespace std::chrono_literals;
using Kind = PresenceThrottle::Decision::Kind;

TEST(PresenceThrottle, AnnouncesAtOnceThenOncePerIntervalWithTheLastWordAtItsEnd) {
  PresenceThrottle throttle(2s);
  const PresenceThrottle::Clock::time_point t0{};
  EXPECT_EQ(throttle.change("a", t0).kind, Kind::now);
  // Flapping inside the interval: one deferred announcement at its end, then nothing more.
  const auto later = throttle.change("a", t0 + 100ms);
  EXPECT_EQ(later.kind, Kind::later);
  EXPECT_EQ(later.at, t0 + 2s);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(throttle.change("a", t0 + 200ms + i * 10ms).kind, Kind::pending);
  // Other accounts are paced on their own.
  EXPECT_EQ(throttle.change("b", t0 + 300ms).kind, Kind::now);
  throttle.fired("a", t0 + 2s);
  // Right after the deferred one: paced again from it.
  const auto next = throttle.change("a", t0 + 2s + 1ms);
  EXPECT_EQ(next.kind, Kind::later);
  EXPECT_EQ(next.at, t0 + 4s);
  throttle.fired("a", t0 + 4s);
  // A quiet account is announced at once.
  EXPECT_EQ(throttle.change("a", t0 + 10s).kind, Kind::now);
}

TEST(PresenceThrottle, RemembersABoundedNumberOfAccounts) {
  PresenceThrottle throttle(1s, 3);
  const PresenceThrottle::Clock::time_point t0{};
  for (const char* a : {"a", "b", "c"}) EXPECT_EQ(throttle.change(a, t0).kind, Kind::now);
  EXPECT_EQ(throttle.tracked(), 3U);
  // Full, nobody quiet yet: announced at once, not remembered.
  EXPECT_EQ(throttle.change("d", t0 + 10ms).kind, Kind::now);
  EXPECT_EQ(throttle.tracked(), 3U);
  EXPECT_EQ(throttle.change("a", t0 + 20ms).kind, Kind::later);
  // Once the others are quiet they are forgotten to make room; a pending one is kept.
  EXPECT_EQ(throttle.change("e", t0 + 2s).kind, Kind::now);
  EXPECT_EQ(throttle.tracked(), 2U);  // a (pending) and e
  EXPECT_EQ(throttle.change("a", t0 + 2s).kind, Kind::pending);
}

}  // namespace
}  // namespace gh::realtime
