#include <gtest/gtest.h>

#include "bus/bus.hpp"

namespace gh::bus {
namespace {

TEST(Topics, MatchExactlyOrByContext) {
  EXPECT_TRUE(topic_matches({"auth.signed_in"}, "auth.signed_in"));
  EXPECT_FALSE(topic_matches({"auth.signed_in"}, "auth.signed_out"));
  EXPECT_TRUE(topic_matches({"chain.*"}, "chain.transfer"));
  EXPECT_FALSE(topic_matches({"chain.*"}, "chainx.transfer"));
  EXPECT_FALSE(topic_matches({"chain.*"}, "community.member_joined"));
  EXPECT_FALSE(topic_matches({}, "a.b"));
}

}  // namespace
}  // namespace gh::bus
