// LruCache: both bounds hold, the least recently used goes first, a find counts as a use, a put
// replaces, and a value bigger than the bound is not held; checked against a plain model.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "core/lru_cache.hpp"

namespace gh {
namespace {

TEST(LruCache, DropsTheLeastRecentlyUsedFirst) {
  LruCache<int> cache(3, 100);
  cache.put("a", std::make_shared<const int>(1), 10);
  cache.put("b", std::make_shared<const int>(2), 10);
  cache.put("c", std::make_shared<const int>(3), 10);
  ASSERT_TRUE(cache.find("a"));  // a is now the most recent; b the least
  cache.put("d", std::make_shared<const int>(4), 10);
  EXPECT_FALSE(cache.find("b"));
  EXPECT_EQ(*cache.find("a"), 1);
  EXPECT_EQ(*cache.find("c"), 3);
  EXPECT_EQ(*cache.find("d"), 4);
  EXPECT_EQ(cache.size(), 3U);
  EXPECT_EQ(cache.cost(), 30U);
}

TEST(LruCache, TheCostBoundHoldsAndAPutReplaces) {
  LruCache<int> cache(100, 50);
  cache.put("a", std::make_shared<const int>(1), 20);
  cache.put("b", std::make_shared<const int>(2), 20);
  cache.put("a", std::make_shared<const int>(10), 25);  // replaces a: 45 held
  EXPECT_EQ(cache.cost(), 45U);
  EXPECT_EQ(*cache.find("a"), 10);
  cache.put("c", std::make_shared<const int>(3), 20);  // 65: b (least recent) goes
  EXPECT_FALSE(cache.find("b"));
  EXPECT_EQ(cache.cost(), 45U);
  cache.put("huge", std::make_shared<const int>(4), 51);  // never fits: not held, nothing dropped
  EXPECT_FALSE(cache.find("huge"));
  EXPECT_EQ(cache.size(), 2U);
  cache.put("a", std::make_shared<const int>(5), 51);  // a replacement that does not fit drops a
  EXPECT_FALSE(cache.find("a"));
  EXPECT_EQ(cache.cost(), 20U);
  cache.erase("c");
  EXPECT_EQ(cache.size(), 0U);
  EXPECT_EQ(cache.cost(), 0U);
}

TEST(LruCache, AgreesWithAPlainModel) {
  std::mt19937 rng(7);
  struct Item {
    std::string key;
    int value;
    std::size_t cost;
  };
  for (int round = 0; round < 50; ++round) {
    const std::size_t max_entries = 1 + rng() % 6;
    const std::size_t max_cost = 1 + rng() % 60;
    LruCache<int> cache(max_entries, max_cost);
    std::vector<Item> model;  // most recently used first
    for (int step = 0; step < 200; ++step) {
      const std::string key(1, static_cast<char>('a' + rng() % 8));
      auto at = std::find_if(model.begin(), model.end(), [&](const Item& i) { return i.key == key; });
      if (rng() % 2 == 0) {
        auto found = cache.find(key);
        ASSERT_EQ(found != nullptr, at != model.end()) << key;
        if (at != model.end()) {
          EXPECT_EQ(*found, at->value);
          Item moved = *at;
          model.erase(at);
          model.insert(model.begin(), moved);
        }
      } else {
        const int value = static_cast<int>(rng() % 1000);
        const std::size_t cost = rng() % 20;
        cache.put(key, std::make_shared<const int>(value), cost);
        if (at != model.end()) model.erase(at);
        if (cost <= max_cost) model.insert(model.begin(), Item{key, value, cost});
        std::size_t total = 0;
        for (const auto& i : model) total += i.cost;
        while (model.size() > max_entries || total > max_cost) {
          total -= model.back().cost;
          model.pop_back();
        }
      }
      std::size_t total = 0;
      for (const auto& i : model) total += i.cost;
      ASSERT_EQ(cache.size(), model.size());
      ASSERT_EQ(cache.cost(), total);
    }
  }
}

}  // namespace
}  // namespace gh
