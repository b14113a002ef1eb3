// notify's pure rules: kinds, settings (parsing, what they do to a draft), quiet-hour windows
// across midnight and in real time zones (read from the system's TZif files), list cursors, and
// the requests that bus events imply.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "core/utf8.hpp"
#include "notify/events.hpp"
#include "notify/model.hpp"
#include "notify/time_zone.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;

bool any_zone(std::string_view) {
  return true;
}

TEST(NotifyModel, KindsRoundTrip) {
  for (auto k : {Kind::dm, Kind::mention, Kind::reply, Kind::membership, Kind::reward, Kind::withdrawal, Kind::addm,
                 Kind::system, Kind::thread, Kind::message}) {
    EXPECT_EQ(parse_kind(to_string(k)), k);
  }
  EXPECT_FALSE(parse_kind("spam"));
}

TEST(NotifyModel, QuietWindowsWrapMidnight) {
  EXPECT_TRUE(in_window(22 * 60, 7 * 60, 23 * 60));
  EXPECT_TRUE(in_window(22 * 60, 7 * 60, 0));
  EXPECT_TRUE(in_window(22 * 60, 7 * 60, 6 * 60 + 59));
  EXPECT_FALSE(in_window(22 * 60, 7 * 60, 7 * 60));
  EXPECT_FALSE(in_window(22 * 60, 7 * 60, 12 * 60));
  EXPECT_TRUE(in_window(9 * 60, 17 * 60, 9 * 60));
  EXPECT_FALSE(in_window(9 * 60, 17 * 60, 17 * 60));
  EXPECT_FALSE(in_window(5, 5, 5));  // empty
  EXPECT_EQ(parse_hhmm("07:30"), 450);
  EXPECT_FALSE(parse_hhmm("7:30"));
  EXPECT_FALSE(parse_hhmm("24:00"));
  EXPECT_EQ(format_hhmm(450), "07:30");
}

TEST(NotifyModel, TimeZonesFollowDaylightSaving) {
  // 2026-01-15T12:00Z: Paris is UTC+1; 2026-07-15T12:00Z: UTC+2. New York: -5 / -4.
  const SystemTime winter = SystemTime(std::chrono::seconds(1'768'478'400));
  const SystemTime summer = SystemTime(std::chrono::seconds(1'784'116'800));
  EXPECT_EQ(utc_offset("Europe/Paris", winter), std::chrono::hours(1));
  EXPECT_EQ(utc_offset("Europe/Paris", summer), std::chrono::hours(2));
  EXPECT_EQ(utc_offset("America/New_York", winter), std::chrono::hours(-5));
  EXPECT_EQ(utc_offset("America/New_York", summer), std::chrono::hours(-4));
  EXPECT_EQ(local_minute_of_day("Asia/Kolkata", winter), 17 * 60 + 30);
  EXPECT_EQ(local_minute_of_day("UTC", winter), 12 * 60);
  EXPECT_TRUE(time_zone_known("Europe/Paris"));
  EXPECT_FALSE(time_zone_known("Europe/Atlantis"));
  EXPECT_FALSE(time_zone_known("../../etc/passwd"));
  EXPECT_FALSE(time_zone_known("/etc/passwd"));
}

TEST(NotifyModel, SettingsApplyFieldByField) {
  Settings s;
  auto r = apply_settings(
      json::parse(R"({"muted_communities":["c1"],"quiet_hours":{"start":"23:00","end":"06:00"}})").as_object(), s,
      &any_zone);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->muted_communities, std::vector<std::string>{"c1"});
  ASSERT_TRUE(r->quiet_hours);
  EXPECT_EQ(r->quiet_hours->time_zone, "UTC");
  EXPECT_TRUE(r->dm_previews);
  auto too_many = json::object{{"muted_channels", json::array(1001, json::value("x"))}};
  EXPECT_FALSE(apply_settings(too_many, s, &any_zone));
  const auto rendered = render_settings(*r);
  EXPECT_EQ(rendered.at("quiet_hours").at("start").as_string(), "23:00");
  EXPECT_TRUE(rendered.at("dm_previews").as_bool());
}

TEST(NotifyModel, DecideAppliesMutesOptOutsAndPreviews) {
  Settings s;
  s.muted_channels = {"ch-m"};
  s.muted_communities = {"c-m"};
  s.muted_kinds = {Kind::reward};
  s.addm_opt_out = true;
  s.dm_previews = false;
  Draft d;
  d.kind = Kind::mention;
  d.channel_id = "ch-m";
  EXPECT_EQ(decide(s, d).why, "muted_channel");
  // A thread of a muted channel is muted with it.
  d.channel_id = "th_1";
  d.parent_channel_id = "ch-m";
  EXPECT_EQ(decide(s, d).why, "muted_channel");
  d.parent_channel_id = "ch-1";
  EXPECT_TRUE(decide(s, d).keep);
  s.muted_channels = {"th_1"};
  EXPECT_EQ(decide(s, d).why, "muted_channel");
  s.muted_channels = {"ch-m"};
  d.parent_channel_id.clear();
  d.channel_id = "ch-1";
  d.community_id = "c-m";
  EXPECT_EQ(decide(s, d).why, "muted_community");
  d.community_id = "c-1";
  s.muted_accounts = {"0x00000000000000000000000000000000000000aa"};
  d.actor = "0x00000000000000000000000000000000000000aa";
  EXPECT_EQ(decide(s, d).why, "muted_account");
  d.kind = Kind::dm;
  EXPECT_EQ(decide(s, d).why, "muted_account");
  d.kind = Kind::mention;
  d.actor = "0x00000000000000000000000000000000000000bb";
  EXPECT_TRUE(decide(s, d).keep);
  d.actor = "0x00000000000000000000000000000000000000aa";
  d.community_id = "c-m";
  d.kind = Kind::membership;
  EXPECT_TRUE(decide(s, d).keep);
  d.kind = Kind::addm;
  EXPECT_EQ(decide(s, d).why, "addm_opt_out");
  d.kind = Kind::reward;
  EXPECT_EQ(decide(s, d).why, "muted_kind");
  Draft dm;
  dm.kind = Kind::dm;
  dm.body = "secret plans";
  EXPECT_TRUE(decide(s, dm).keep);
  EXPECT_EQ(dm.body, "New message");
}

TEST(NotifyModel, FollowedChannelsAreAListOfIdsAndAMuteStillHolds) {
  auto applied =
      apply_settings(json::parse(R"({"all_messages":["ch-b","ch-a","ch-b"]})").as_object(), Settings{}, &any_zone);
  ASSERT_TRUE(applied);
  // In the order given, once each; the other settings stay.
  EXPECT_EQ(applied->all_messages, (std::vector<std::string>{"ch-b", "ch-a"}));
  EXPECT_TRUE(applied->muted_channels.empty());
  const auto rendered = render_settings(*applied);
  EXPECT_EQ(json::serialize(rendered.at("all_messages")), R"(["ch-b","ch-a"])");
  EXPECT_EQ(json::serialize(render_settings(Settings{}).at("all_messages")), "[]");
  auto kept = apply_settings(json::parse(R"({"dm_previews":false})").as_object(), *applied, &any_zone);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->all_messages, applied->all_messages);
  std::string many = R"({"all_messages":[)";
  for (int i = 0; i <= 1000; ++i) many += (i ? ",\"c" : "\"c") + std::to_string(i) + "\"";
  many += "]}";
  for (const std::string& bad : {std::string(R"({"all_messages":"ch-a"})"), std::string(R"({"all_messages":[""]})"),
                                 std::string(R"({"all_messages":[7]})"), many}) {
    auto r = apply_settings(json::parse(bad).as_object(), *applied, &any_zone);
    ASSERT_FALSE(r) << bad.substr(0, 40);
    EXPECT_EQ(r.error().code, "invalid_field");
  }
  // Following a channel does not unmute it.
  Settings s = *applied;
  s.muted_channels = {"ch-a"};
  Draft d;
  d.kind = Kind::message;
  d.channel_id = "ch-a";
  EXPECT_EQ(decide(s, d).why, "muted_channel");
  d.channel_id = "th-1";
  d.parent_channel_id = "ch-a";
  EXPECT_EQ(decide(s, d).why, "muted_channel");
  s.muted_channels.clear();
  s.muted_kinds = {Kind::message};
  EXPECT_EQ(decide(s, d).why, "muted_kind");
}

TEST(NotifyModel, SuppressedEveryoneAndRoleMentionsAreDroppedPerCommunity) {
  Settings s;
  auto applied = apply_settings(
      json::parse(R"({"suppress_everyone":["c-e"],"suppress_roles":["c-r","c-r"]})").as_object(), s, &any_zone);
  ASSERT_TRUE(applied);
  s = *applied;
  EXPECT_EQ(s.suppress_everyone, std::vector<std::string>{"c-e"});
  EXPECT_EQ(s.suppress_roles, std::vector<std::string>{"c-r"});
  const auto rendered = render_settings(s);
  EXPECT_EQ(rendered.at("suppress_roles").as_array().size(), 1U);
  for (const char* bad :
       {R"({"suppress_roles":"c-r"})", R"({"suppress_everyone":[1]})", R"({"suppress_everyone":[""]})"}) {
    auto r = apply_settings(json::parse(bad).as_object(), s, &any_zone);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_field");
  }
  const auto why = [&](std::string community, std::string via, Kind kind = Kind::mention) {
    Draft d;
    d.kind = kind;
    d.community_id = std::move(community);
    d.via = std::move(via);
    const auto decision = decide(s, d);
    return decision.keep ? std::string("kept") : decision.why;
  };
  EXPECT_EQ(why("c-e", "everyone"), "suppressed_everyone");
  EXPECT_EQ(why("c-e", "role"), "kept");
  EXPECT_EQ(why("c-e", "direct"), "kept");
  EXPECT_EQ(why("c-r", "role"), "suppressed_roles");
  EXPECT_EQ(why("c-r", "everyone"), "kept");
  EXPECT_EQ(why("c-r", "direct"), "kept");
  EXPECT_EQ(why("c-other", "everyone"), "kept");
  EXPECT_EQ(why("c-r", "role", Kind::reply), "kept");  // a reply is no mention
}

TEST(NotifyModel, ListFiltersParseKindsAndACommunity) {
  auto f = parse_list_filter(std::string_view("mention,reply,mention"), std::string_view("c1"), std::string_view("1"));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kinds, (std::vector<Kind>{Kind::mention, Kind::reply}));
  EXPECT_EQ(f->community_id, "c1");
  EXPECT_TRUE(f->unread_only);
  auto none = parse_list_filter(std::nullopt, std::nullopt, std::string_view("false"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->kinds.empty());
  EXPECT_TRUE(none->community_id.empty());
  EXPECT_FALSE(none->unread_only);
  for (const char* junk : {"", "mention,", ",mention", "mentions", "mention,,reply", "MENTION"}) {
    auto bad = parse_list_filter(std::string_view(junk), std::nullopt, std::nullopt);
    ASSERT_FALSE(bad) << junk;
    EXPECT_EQ(bad.error().code, "invalid_kind") << junk;
  }
  for (const std::string& junk : {std::string(), std::string("a b"), std::string(129, 'c'), std::string("c\x01")}) {
    auto bad = parse_list_filter(std::nullopt, std::string_view(junk), std::nullopt);
    ASSERT_FALSE(bad) << junk;
    EXPECT_EQ(bad.error().code, "invalid_community_id");
  }
  EXPECT_TRUE(parse_list_filter(std::nullopt, std::string_view(std::string(128, 'c')), std::nullopt));
}

TEST(NotifyModel, CursorsRoundTripAndRejectJunk) {
  auto c = decode_cursor(encode_cursor(Cursor{1768478400123, "ntf_ab"}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->created_ms, 1768478400123);
  EXPECT_EQ(c->id, "ntf_ab");
  for (const char* bad : {"", ".x", "12.", "1a.x", "12"}) EXPECT_FALSE(decode_cursor(bad)) << bad;
}

TEST(NotifyEvents, MentionsNotifyTheMentionedButNotTheAuthor) {
  const std::string payload = R"({"community_id":"c1","channel_id":"ch1","message_id":"m1",
      "author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "mentioned":["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","junk"],
      "preview":"gm"})";
  auto r = request_from_event("messaging.mention", "ev1", payload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->draft.kind, Kind::mention);
  EXPECT_EQ(r->accounts, std::vector<std::string>{"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"});
  EXPECT_EQ(r->draft.body, "gm");
  EXPECT_EQ(r->draft.channel_id, "ch1");
  EXPECT_NE(r->draft.title.find("mentioned you"), std::string::npos);
  EXPECT_EQ(json::parse(r->draft.data_json).at("message_id").as_string(), "m1");
  EXPECT_EQ(r->draft.subject, "message:m1");
  auto back = parse_request(serialize_request(*r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->accounts, r->accounts);
  EXPECT_EQ(back->draft.dedup_key, r->draft.dedup_key);
  EXPECT_EQ(back->draft.subject, "message:m1");
  // How the mention named the account goes with it, for the settings to judge, and to the client.
  auto by_role = request_from_event("messaging.mention", "ev1b",
                                    R"({"community_id":"c1","channel_id":"ch1","message_id":"m1","via":"role",
      "role":"ops","account":"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","body":"deploy @&ops"})");
  ASSERT_TRUE(by_role);
  EXPECT_EQ(by_role->draft.via, "role");
  EXPECT_EQ(by_role->draft.community_id, "c1");
  EXPECT_EQ(by_role->community, "");  // its audience is the account named, not the community
  const auto data = json::parse(by_role->draft.data_json).as_object();
  EXPECT_EQ(data.at("via").as_string(), "role");
  EXPECT_EQ(data.at("role").as_string(), "ops");
  EXPECT_EQ(parse_request(serialize_request(*by_role))->draft.via, "role");
  // In a thread: its channel goes with it, for a channel mute, and to the client.
  auto in_thread = request_from_event("messaging.mention", "ev1c",
                                      R"({"community_id":"c1","channel_id":"th_1","parent_channel_id":"ch1",
      "message_id":"m9","via":"direct","account":"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","body":"hey"})");
  ASSERT_TRUE(in_thread);
  EXPECT_EQ(in_thread->draft.parent_channel_id, "ch1");
  EXPECT_EQ(json::parse(in_thread->draft.data_json).at("parent_channel_id").as_string(), "ch1");
  EXPECT_EQ(parse_request(serialize_request(*in_thread))->draft.parent_channel_id, "ch1");
  EXPECT_EQ(parse_request(serialize_request(*by_role))->draft.parent_channel_id, "");
}

TEST(NotifyEvents, AThreadMessageNotifiesItsFollowersButNotItsAuthor) {
  const std::string payload = R"({"community_id":"c1","channel_id":"th_1","parent_channel_id":"ch1",
      "thread_name":"Launch plan","seq":4,"message_id":"m4","author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "accounts":["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"],
      "body":"ship it","silent":true})";
  auto r = request_from_event("messaging.thread_message", "ev9", payload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->draft.kind, Kind::thread);
  EXPECT_EQ(r->accounts, std::vector<std::string>{"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"});
  EXPECT_EQ(r->draft.title, "0x5aAe…eAed in Launch plan");
  EXPECT_EQ(r->draft.body, "ship it");
  EXPECT_EQ(r->draft.channel_id, "th_1");
  EXPECT_EQ(r->draft.parent_channel_id, "ch1");
  EXPECT_EQ(r->draft.actor, "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  // Deleting or editing the message amends it, as a mention's.
  EXPECT_EQ(r->draft.subject, "message:m4");
  EXPECT_TRUE(r->draft.silent);
  const auto data = json::parse(r->draft.data_json).as_object();
  EXPECT_EQ(data.at("parent_channel_id").as_string(), "ch1");
  EXPECT_EQ(data.at("seq").as_string(), "4");
  EXPECT_TRUE(data.at("silent").as_bool());
  // Its seq in the thread: the member's read marker there reaching it reads it.
  EXPECT_EQ(r->draft.seq, std::optional<std::int64_t>(4));
  const auto back = parse_request(serialize_request(*r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->draft.kind, Kind::thread);
  EXPECT_EQ(back->draft.subject, "message:m4");
  EXPECT_EQ(back->draft.seq, std::optional<std::int64_t>(4));
  // No one left to tell: nothing.
  EXPECT_FALSE(request_from_event("messaging.thread_message", "ev10",
                                  R"({"channel_id":"th_1","author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "accounts":["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]})"));
}

TEST(NotifyEvents, AFollowedChannelsMessageOrForumPostNotifiesItsFollowers) {
  const std::string payload = R"({"community_id":"c1","channel_id":"ch1","channel_name":"general","seq":7,
      "message_id":"m7","author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
      "accounts":["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"],
      "body":"gm all"})";
  auto r = request_from_event("messaging.followed_message", "ev11", payload);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->draft.kind, Kind::message);
  EXPECT_EQ(r->accounts, std::vector<std::string>{"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"});
  EXPECT_EQ(r->draft.title, "0x5aAe…eAed in #general");
  EXPECT_EQ(r->draft.body, "gm all");
  EXPECT_EQ(r->draft.channel_id, "ch1");
  EXPECT_EQ(r->draft.community_id, "c1");
  EXPECT_EQ(r->draft.parent_channel_id, "");
  EXPECT_EQ(r->draft.subject, "message:m7");
  EXPECT_EQ(r->draft.seq, std::optional<std::int64_t>(7));
  EXPECT_FALSE(r->draft.silent);
  EXPECT_EQ(json::parse(r->draft.data_json).at("message_id").as_string(), "m7");
  const auto back = parse_request(serialize_request(*r));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->draft.kind, Kind::message);
  // A forum's new post: titled by the forum and the post, in the post, with the forum beside it.
  auto post = request_from_event("messaging.followed_message", "ev12",
                                 R"({"community_id":"c1","channel_id":"th_9","parent_channel_id":"ch2",
      "channel_name":"help","thread_name":"Crash on save","seq":1,"message_id":"m1",
      "author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","silent":true,
      "accounts":["0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"],"body":"steps"})");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->draft.title, "0x5aAe…eAed posted in #help: Crash on save");
  EXPECT_EQ(post->draft.channel_id, "th_9");
  EXPECT_EQ(post->draft.parent_channel_id, "ch2");
  EXPECT_EQ(json::parse(post->draft.data_json).at("parent_channel_id").as_string(), "ch2");
  EXPECT_TRUE(post->draft.silent);
  EXPECT_EQ(post->draft.seq, std::optional<std::int64_t>(1));
  // Without a channel's name.
  auto unnamed = request_from_event("messaging.followed_message", "ev13",
                                    R"({"channel_id":"ch1","seq":2,"message_id":"m2",
      "author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","accounts":["0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359"]})");
  ASSERT_TRUE(unnamed);
  EXPECT_EQ(unnamed->draft.title, "0x5aAe…eAed posted in a channel");
  const auto topics = consumed_topics();
  EXPECT_NE(std::find(topics.begin(), topics.end(), "messaging.followed_message"), topics.end());
}

TEST(NotifyEvents, MessageNotificationsCarryTheirSeqAndReadsNameHowFarAnAccountRead) {
  const std::string bob = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
  // A mention and a reply know their message's place in the channel, given as a number or digits.
  auto mention = request_from_event("messaging.mention", "ev1",
                                    R"({"channel_id":"ch1","seq":12,"message_id":"m1","account":")" + bob + R"("})");
  ASSERT_TRUE(mention);
  EXPECT_EQ(mention->draft.seq, std::optional<std::int64_t>(12));
  auto reply = request_from_event("messaging.reply", "ev2",
                                  R"({"channel_id":"ch1","seq":"13","message_id":"m2","account":")" + bob + R"("})");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->draft.seq, std::optional<std::int64_t>(13));
  // Without a channel, or with a seq that is not a whole number of 0 or more: no seq.
  for (const char* junk : {R"("seq":-1)", R"("seq":"12a")", R"("seq":1.5)", R"("seq":"99999999999999999999")"}) {
    auto r = request_from_event("messaging.mention", "ev3",
                                R"({"channel_id":"ch1",)" + std::string(junk) + R"(,"account":")" + bob + R"("})");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->draft.seq) << junk;
  }
  auto no_channel = request_from_event("messaging.mention", "ev4", R"({"seq":3,"account":")" + bob + R"("})");
  ASSERT_TRUE(no_channel);
  EXPECT_FALSE(no_channel->draft.seq);
  // Other kinds never carry one, whatever their payload says.
  auto requested = request_from_event("notify.requested", "ev5",
                                      R"({"kind":"system","channel_id":"ch1","seq":3,"accounts":[")" + bob + R"("]})");
  ASSERT_TRUE(requested);
  EXPECT_FALSE(requested->draft.seq);
  EXPECT_FALSE(parse_request(serialize_request(*requested))->draft.seq);

  // A moved read marker names the account.
  auto read = read_from_event("messaging.read", R"({"account":")" + bob + R"(","channel_id":"ch1","seq":40})");
  ASSERT_TRUE(read);
  EXPECT_EQ(read->account, "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359");
  EXPECT_EQ(read->channel_id, "ch1");
  EXPECT_EQ(read->seq, 40);
  // Missing or malformed parts, or another topic: nothing.
  EXPECT_FALSE(read_from_event("messaging.read", R"({"account":"junk","channel_id":"ch1","seq":40})"));
  EXPECT_FALSE(read_from_event("messaging.read", R"({"account":")" + bob + R"(","seq":40})"));
  EXPECT_FALSE(read_from_event("messaging.read", R"({"account":")" + bob + R"(","channel_id":"ch1","seq":-2})"));
  EXPECT_FALSE(read_from_event("messaging.read", "not json"));
  EXPECT_FALSE(read_from_event("messaging.mention", R"({"account":")" + bob + R"(","channel_id":"ch1","seq":4})"));
  EXPECT_FALSE(read_from_event("messaging.channel_message",
                               R"({"author":")" + bob + R"(","channel_id":"th_1","seq":7,"id":"m7","body":"hi"})"));
  const auto topics = consumed_topics();
  EXPECT_NE(std::find(topics.begin(), topics.end(), "messaging.read"), topics.end());
  // Not every message: a post that reads past a notification says so with messaging.read.
  EXPECT_EQ(std::find(topics.begin(), topics.end(), "messaging.channel_message"), topics.end());
}

TEST(NotifyEvents, APreviewIsCutWithinItsLimitWithoutSplittingACharacter) {
  // 279 ASCII bytes, then two-byte characters: the 280th byte is the first half of one.
  const std::string body =
      "@0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359 " + std::string(235, 'a') + "\u00e9\u00e9\u00e9";
  auto r = request_from_event(
      "messaging.mention", "ev2",
      R"({"message_id":"m2","account":"0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","body":")" + body + R"("})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->draft.body.size(), 279u);
  EXPECT_TRUE(valid_utf8(r->draft.body));
}

TEST(NotifyEvents, DeletedAndEditedMessagesAmendTheNotificationsAboutThem) {
  auto deleted = amendment_from_event("messaging.message_deleted", R"({"channel_id":"ch1","seq":3,"id":"m3"})");
  ASSERT_TRUE(deleted);
  EXPECT_EQ(deleted->action, Amendment::Action::withdraw);
  EXPECT_EQ(deleted->subject, "message:m3");
  auto edited = amendment_from_event("messaging.message_edited", R"({"id":"m3","body":"fixed"})");
  ASSERT_TRUE(edited);
  EXPECT_EQ(edited->action, Amendment::Action::refresh);
  EXPECT_EQ(edited->body, "fixed");
  auto unmentioned =
      amendment_from_event("messaging.mention_removed",
                           R"({"message_id":"m3","accounts":["0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359","junk"]})");
  ASSERT_TRUE(unmentioned);
  EXPECT_EQ(unmentioned->action, Amendment::Action::withdraw);
  EXPECT_EQ(unmentioned->subject, "message:m3");
  EXPECT_EQ(unmentioned->accounts, std::vector<std::string>{"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"});
  // Naming nobody never withdraws everything about the message.
  EXPECT_FALSE(amendment_from_event("messaging.mention_removed", R"({"message_id":"m3","accounts":["junk"]})"));
  EXPECT_FALSE(amendment_from_event("messaging.message_deleted", R"({"seq":3})"));
  EXPECT_FALSE(amendment_from_event("messaging.message_deleted", "junk"));
  EXPECT_FALSE(amendment_from_event("messaging.mention", R"({"id":"m3"})"));
  const auto topics = consumed_topics();
  EXPECT_NE(std::find(topics.begin(), topics.end(), "messaging.message_deleted"), topics.end());
  EXPECT_NE(std::find(topics.begin(), topics.end(), "messaging.message_edited"), topics.end());
}

TEST(NotifyEvents, EveryImpliedKindAndToleranceOfMissingFields) {
  const std::string bob = "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359";
  auto removed = request_from_event("community.member_removed", "e2",
                                    R"({"community_id":"c1","account":")" + bob + R"(","reason":"gate"})");
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->draft.kind, Kind::membership);
  auto dm = request_from_event("e2e.message_posted", "e3",
                               R"({"group_id":"g1","seq":7,"sender":")" + bob + R"(","members":[")" + bob +
                                   R"(",{"address":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}]})");
  ASSERT_TRUE(dm);
  EXPECT_EQ(dm->draft.kind, Kind::dm);
  EXPECT_EQ(dm->accounts.size(), 1u);        // the sender is left out
  EXPECT_EQ(dm->draft.body, "New message");  // E2E: no plaintext preview exists
  EXPECT_EQ(dm->draft.dedup_key, "e2e:g1:7");
  auto reward = request_from_event("rewards.granted", "e4", R"({"account":")" + bob + R"(","amount":"1000"})");
  ASSERT_TRUE(reward);
  EXPECT_EQ(reward->draft.kind, Kind::reward);
  auto withdrawal = request_from_event("rewards.withdrawal_confirmed", "e5", R"({"account":")" + bob + R"("})");
  ASSERT_TRUE(withdrawal);
  EXPECT_EQ(withdrawal->draft.kind, Kind::withdrawal);
  auto addm = request_from_event("notify.requested", "e6",
                                 R"({"kind":"addm","title":"hi","community_id":"c9","audience":"community"})");
  ASSERT_TRUE(addm);
  EXPECT_EQ(addm->community, "c9");
  EXPECT_EQ(addm->draft.kind, Kind::addm);
  // As messaging, community and e2e publish them: a mention names its account, a member who left
  // is not told, an MLS commit is not a message.
  auto mention = request_from_event(
      "messaging.mention", "e10",
      R"({"channel_id":"ch1","seq":3,"message_id":"m3","author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","account":")" +
          bob + R"(","body":"hey @bob"})");
  ASSERT_TRUE(mention);
  EXPECT_EQ(mention->accounts, std::vector<std::string>{"0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359"});
  EXPECT_EQ(mention->draft.body, "hey @bob");
  EXPECT_FALSE(request_from_event("community.member_removed", "e11",
                                  R"({"community_id":"c1","account":")" + bob + R"(","reason":"left"})"));
  EXPECT_FALSE(request_from_event("e2e.message_posted", "e12",
                                  R"({"group_id":"g1","seq":8,"content_type":3,"members":[")" + bob + R"("]})"));
  EXPECT_TRUE(request_from_event("e2e.message_posted", "e13",
                                 R"({"group_id":"g1","seq":9,"content_type":1,"members":[")" + bob + R"("]})"));
  // No audience, junk, or an unknown topic: nothing.
  EXPECT_FALSE(request_from_event("messaging.mention", "e7", R"({"community_id":"c1"})"));
  EXPECT_FALSE(request_from_event("notify.requested", "e8", "not json"));
  EXPECT_FALSE(request_from_event("chain.transfer", "e9", R"({"account":")" + bob + R"("})"));
}

}  // namespace
}  // namespace gh::notify
