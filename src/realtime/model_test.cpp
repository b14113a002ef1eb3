// The presence rules: what a change may hold, how it applies, when a custom status expires, and
// how it is shown.
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "realtime/model.hpp"

namespace gh::realtime {
namespace {

namespace json = boost::json;

const SystemTime now = SystemTime(std::chrono::seconds(1'767'225'600));  // 2026-01-01T00:00:00Z

Result<PresenceChange> parse(std::string_view text, bool frame = false) {
  return parse_presence_change(json::parse(text).as_object(), now, frame);
}

std::string code_of(std::string_view text, bool frame = false) {
  auto r = parse(text, frame);
  return r ? std::string("ok") : r.error().code;
}

TEST(PresenceModel, StatusesAreTheFourAnAccountMayChoose) {
  for (const char* s : {"online", "idle", "dnd", "invisible"}) EXPECT_TRUE(valid_status(s)) << s;
  for (const char* s : {"", "offline", "away", "DND", "online "}) EXPECT_FALSE(valid_status(s)) << s;
}

TEST(PresenceModel, AChangeHoldsAStatusACustomStatusOrBoth) {
  auto status = parse(R"({"status":"dnd"})");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, "dnd");
  EXPECT_FALSE(status->set_custom);

  auto both =
      parse(R"({"status":"idle","custom_status":{"text":"lunch","emoji":"🥪","expires_at":"2026-01-01T01:00:00Z"}})");
  ASSERT_TRUE(both);
  ASSERT_TRUE(both->custom);
  EXPECT_EQ(both->custom->text, "lunch");
  EXPECT_EQ(both->custom->emoji, "🥪");
  EXPECT_EQ(both->custom->expires_at, now + std::chrono::hours(1));

  auto clear = parse(R"({"custom_status":null})");
  ASSERT_TRUE(clear);
  EXPECT_TRUE(clear->set_custom);
  EXPECT_FALSE(clear->custom);
  EXPECT_FALSE(clear->status);

  EXPECT_EQ(code_of(R"({"custom_status":{"emoji":"☕"}})"), "ok");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"x","emoji":null,"expires_at":null}})"), "ok");
}

TEST(PresenceModel, BadChangesAreNamed) {
  EXPECT_EQ(code_of(R"({})"), "invalid_presence");
  EXPECT_EQ(code_of(R"({"type":"presence_set"})"), "invalid_presence");  // not a frame: type is unknown
  EXPECT_EQ(code_of(R"({"type":"presence_set","status":"idle"})", true), "ok");
  EXPECT_EQ(code_of(R"({"type":"presence_set"})", true), "invalid_presence");
  EXPECT_EQ(code_of(R"({"status":"idle","mood":"calm"})"), "invalid_presence");
  EXPECT_EQ(code_of(R"({"status":"away"})"), "invalid_status");
  EXPECT_EQ(code_of(R"({"status":1})"), "invalid_status");
  EXPECT_EQ(code_of(R"({"custom_status":"busy"})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":""}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"   "}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":5}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"a\u202eb"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"line\nbreak"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","emoji":"a b"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","emoji":""}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","colour":"red"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","expires_at":"2025-12-31T23:59:59Z"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","expires_at":"2026-01-01T00:00:00Z"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","expires_at":"2027-01-02T00:00:00Z"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","expires_at":"soon"}})"), "invalid_custom_status");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":"hi","expires_at":1767229200}})"), "invalid_custom_status");
}

TEST(PresenceModel, TextIsCountedInCharacters) {
  std::string text;
  for (int i = 0; i < 128; ++i) text += "é";  // 256 bytes, 128 characters
  EXPECT_EQ(code_of(R"({"custom_status":{"text":")" + text + R"("}})"), "ok");
  EXPECT_EQ(code_of(R"({"custom_status":{"text":")" + text + R"(e"}})"), "invalid_custom_status");
}

TEST(PresenceModel, AChangeKeepsWhatItDoesNotName) {
  Presence p{"dnd", CustomStatus{"focus", "🎧", std::nullopt}};
  auto status_only = apply_change(p, *parse(R"({"status":"idle"})"));
  EXPECT_EQ(status_only.status, "idle");
  EXPECT_EQ(status_only.custom, p.custom);
  auto cleared = apply_change(p, *parse(R"({"custom_status":null})"));
  EXPECT_EQ(cleared.status, "dnd");
  EXPECT_FALSE(cleared.custom);
  EXPECT_EQ(apply_change(p, *parse(R"({"status":"dnd"})")), p);
}

TEST(PresenceModel, ACustomStatusIsGoneAtItsExpiry) {
  Presence p{"online", CustomStatus{"lunch", "", now + std::chrono::minutes(30)}};
  EXPECT_EQ(effective(p, now), p);
  EXPECT_EQ(effective(p, now + std::chrono::minutes(30) - std::chrono::milliseconds(1)), p);
  EXPECT_FALSE(effective(p, now + std::chrono::minutes(30)).custom);
  EXPECT_EQ(effective(p, now + std::chrono::hours(1)).status, "online");
  Presence lasting{"idle", CustomStatus{"away", "", std::nullopt}};
  EXPECT_EQ(effective(lasting, now + std::chrono::hours(24 * 3650)), lasting);
}

TEST(PresenceModel, RenderedAsTheApiSays) {
  EXPECT_EQ(json::serialize(render_presence(Presence{})), R"({"status":"online","custom_status":null})");
  Presence p{"dnd", CustomStatus{"lunch", "🥪", now + std::chrono::hours(1)}};
  EXPECT_EQ(
      json::serialize(render_presence(p)),
      R"({"status":"dnd","custom_status":{"text":"lunch","emoji":"🥪","expires_at":"2026-01-01T01:00:00.000Z"}})");
  Presence emoji_only{"online", CustomStatus{"", "☕", std::nullopt}};
  EXPECT_EQ(json::serialize(render_custom_status(emoji_only.custom)), R"({"text":"","emoji":"☕"})");
  // What is rendered reads back to the same change.
  auto back = parse(R"({"status":"dnd","custom_status":)" + json::serialize(render_custom_status(p.custom)) + "}");
  ASSERT_TRUE(back);
  EXPECT_EQ(apply_change(Presence{}, *back), p);
}

}  // namespace
}  // namespace gh::realtime
