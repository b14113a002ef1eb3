#include "store/text_list.hpp"

#include <gtest/gtest.h>

namespace gh::store {
namespace {

using List = std::vector<std::string>;

TEST(TextList, JoinsWithCommas) {
  EXPECT_EQ(join_text_list({}), "");
  EXPECT_EQ(join_text_list({"admin"}), "admin");
  EXPECT_EQ(join_text_list({"admin", "member", "0xab"}), "admin,member,0xab");
}

TEST(TextList, SplitsWhatJoinWrote) {
  const List lists[] = {{}, {"admin"}, {"admin", "member", "0xab"}};
  for (const auto& items : lists) EXPECT_EQ(split_text_list(join_text_list(items)), items);
}

TEST(TextList, SplitDropsEmptyItems) {
  EXPECT_EQ(split_text_list(""), List{});
  EXPECT_EQ(split_text_list(",a,,b,"), (List{"a", "b"}));
  EXPECT_EQ(split_text_list(","), List{});
}

}  // namespace
}  // namespace gh::store
