// messaging's pure rules: body limits and UTF-8 validation, client ids, emoji, mention parsing and
// the JSON shape of a message.
#include <gtest/gtest.h>

#include <cstdio>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "messaging/model.hpp"

namespace gh::messaging {
namespace {

TEST(MessagingModel, BodiesAreNonBlankUtf8OfAtMost4KiB) {
  EXPECT_TRUE(check_body("hello"));
  EXPECT_TRUE(check_body("line one\nline two\ttab"));
  EXPECT_TRUE(check_body("caf\xc3\xa9 \xf0\x9f\x9a\x80"));
  EXPECT_TRUE(check_body(std::string(max_body_bytes, 'a')));
  auto big = check_body(std::string(max_body_bytes + 1, 'a'));
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error().code, "body_too_large");
  EXPECT_EQ(big.error().kind, ErrorKind::too_large);
  for (std::string bad : {std::string(), std::string("  \n"), std::string("\xff"), std::string("a\x01"),
                          std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
                          std::string("\xe2\x82"), std::string("nul\0inside", 10)}) {
    auto r = check_body(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().code, "invalid_body");
    EXPECT_EQ(r.error().kind, ErrorKind::bad_input);
  }
}

TEST(MessagingModel, Utf8ValidationFollowsTheStandard) {
  EXPECT_TRUE(valid_utf8(""));
  EXPECT_TRUE(valid_utf8("\x7f"));
  EXPECT_TRUE(valid_utf8("\xc2\x80"));
  EXPECT_TRUE(valid_utf8("\xef\xbf\xbf"));
  EXPECT_TRUE(valid_utf8("\xf4\x8f\xbf\xbf"));
  EXPECT_FALSE(valid_utf8("\x80"));
  EXPECT_FALSE(valid_utf8("\xc1\xbf"));          // overlong
  EXPECT_FALSE(valid_utf8("\xe0\x9f\xbf"));      // overlong
  EXPECT_FALSE(valid_utf8("\xf0\x8f\xbf\xbf"));  // overlong
  EXPECT_FALSE(valid_utf8("\xed\xbf\xbf"));      // surrogate
  EXPECT_FALSE(valid_utf8("\xf5\x80\x80\x80"));  // past U+10FFFF
  EXPECT_FALSE(valid_utf8("\xc2"));              // truncated
  EXPECT_FALSE(valid_utf8("\xc2\x41"));          // bad continuation
}

TEST(MessagingModel, ClientIdsChannelIdsAndEmoji) {
  EXPECT_TRUE(check_client_id("abc-123_x.y:z"));
  EXPECT_FALSE(check_client_id(""));
  EXPECT_FALSE(check_client_id(std::string(65, 'a')));
  EXPECT_FALSE(check_client_id("has space"));
  EXPECT_TRUE(valid_channel_id("c_1"));
  EXPECT_FALSE(valid_channel_id("a/b"));
  EXPECT_FALSE(valid_channel_id("a:b"));
  EXPECT_FALSE(valid_channel_id(""));
  EXPECT_TRUE(check_emoji("\xf0\x9f\x91\x8d"));
  EXPECT_TRUE(check_emoji("thumbsup"));
  EXPECT_FALSE(check_emoji(""));
  EXPECT_FALSE(check_emoji("a b"));
  EXPECT_FALSE(check_emoji("\xff"));
  EXPECT_FALSE(check_emoji(std::string(33, 'a')));
  EXPECT_FALSE(
      check_emoji("\xc2\x9b"
                  "31m"));                                       // C1 CSI
  EXPECT_FALSE(check_emoji("ok\xe2\x80\xae"));                   // right-to-left override
  EXPECT_FALSE(check_emoji("\xe2\x80\xa8"));                     // line separator
  EXPECT_TRUE(check_emoji("\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd"));  // 👍🏽
}

TEST(MessagingModel, MentionsAreAccountsAndRolesAtWordStarts) {
  const std::string a = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
  const std::string b = "0xFB6916095CA1DF60BB79CE92CE3EA74C37C5D359";  // any case
  auto m = parse_mentions("hi @" + a + ", @" + b + " and @" + a + " again; @&mods @&Mods @&core-team.");
  ASSERT_EQ(m.accounts.size(), 2u);
  EXPECT_EQ(eth::to_lower_hex(m.accounts[0]), a);
  EXPECT_EQ(eth::to_lower_hex(m.accounts[1]), "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359");
  ASSERT_EQ(m.roles.size(), 2u);
  EXPECT_EQ(m.roles[0], "mods");
  EXPECT_EQ(m.roles[1], "core-team");  // role names compare lowercase; a trailing '.' ends the sentence
  // Not mentions: inside a word, too short, too long, a bare '@'.
  EXPECT_TRUE(parse_mentions("mail@" + a).accounts.empty());
  EXPECT_TRUE(parse_mentions("@" + a.substr(0, 41)).accounts.empty());
  EXPECT_TRUE(parse_mentions("@" + a + "0").accounts.empty());
  auto none = parse_mentions("@ @& @@");
  EXPECT_TRUE(none.accounts.empty());
  EXPECT_TRUE(none.roles.empty());
  // Bounded.
  std::string many;
  for (int i = 0; i < 80; ++i) many += "@&r" + std::to_string(i) + " ";
  EXPECT_EQ(parse_mentions(many).roles.size(), max_mentions);
}

TEST(MessagingModel, TheJsonOfAMessage) {
  Message m;
  m.id = "m1";
  m.channel_id = "c1";
  m.seq = 7;
  m.author = *eth::parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  m.client_id = "k";
  m.body = "hi";
  m.reply_to = 3;
  m.created_at = SystemTime(std::chrono::seconds(1'767'225'600));
  m.reactions.push_back({"x", 2, true});
  auto frame = boost::json::parse(message_frame(m)).as_object();
  EXPECT_EQ(frame.at("type").as_string(), "message");
  EXPECT_EQ(frame.at("seq").as_int64(), 7);
  EXPECT_EQ(frame.at("author").as_string(), "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed");
  EXPECT_EQ(frame.at("reply_to").as_int64(), 3);
  EXPECT_EQ(frame.at("created_at").as_string(), "2026-01-01T00:00:00.000Z");
  EXPECT_FALSE(frame.at("deleted").as_bool());
  EXPECT_FALSE(frame.contains("edited_at"));
  EXPECT_EQ(frame.at("reactions").as_array().at(0).as_object().at("count").as_int64(), 2);
  EXPECT_FALSE(frame.contains("forward"));
  EXPECT_FALSE(frame.contains("system"));
  m.forward = ForwardSnapshot{"c0", 2, m.author, "gm", m.created_at};
  EXPECT_EQ(boost::json::serialize(message_json(m).at("forward")),
            R"({"channel_id":"c0","seq":2,"author":"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed","body":"gm",)"
            R"("created_at":"2026-01-01T00:00:00.000Z"})");
}

TEST(MessagingModel, ASystemMessageShowsItsKindAndFieldsAndAPollResultItsWinners) {
  Poll poll;
  poll.question = "Ship?";
  poll.answers = {"yes", "no", "later"};
  poll.votes = {4, 1, 4};
  auto data = poll_result_data(12, poll);
  EXPECT_EQ(boost::json::serialize(data.at("winners")), "[1,3]");  // a tie: both
  EXPECT_EQ(data.at("total_votes").as_int64(), 9);
  poll.votes = {0, 0, 0};
  EXPECT_TRUE(poll_result_data(12, poll).at("winners").as_array().empty());  // no votes: no winner

  Message m;
  m.author = system_author;
  m.system = SystemInfo{std::string(poll_result_kind), std::move(data)};
  auto o = message_json(m);
  EXPECT_EQ(o.at("author").as_string(), "0x0000000000000000000000000000000000000000");
  const auto& system = o.at("system").as_object();
  EXPECT_EQ(system.at("kind").as_string(), "poll_result");
  EXPECT_EQ(system.at("poll_seq").as_int64(), 12);
  // The kind is the message's, whatever the data says.
  m.system->data["kind"] = "forged";
  EXPECT_EQ(message_json(m).at("system").at("kind").as_string(), "poll_result");
  // A message the server did not write has no `system`.
  EXPECT_FALSE(message_json(Message{}).contains("system"));
}

TEST(MessagingModel, PollsAreAQuestionAndTwoToTenDistinctAnswersOpenOneHourToThirtyTwoDays) {
  PollSpec poll{"Ship?", {"yes", "no"}, false, 24};
  EXPECT_TRUE(check_poll(poll));
  auto bad = [&](auto change) {
    auto p = poll;
    change(p);
    auto r = check_poll(p);
    return !r && r.error().code == "invalid_poll";
  };
  EXPECT_TRUE(bad([](PollSpec& p) { p.question.clear(); }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.question = " \n"; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.question = std::string(301, 'q'); }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.answers = {"only"}; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.answers.assign(11, "x"); }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.answers = {"same", "same"}; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.answers = {"a", std::string(101, 'b')}; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.answers = {"a", "b\x01"}; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.answers = {"a", "\xff"}; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.duration_hours = 0; }));
  EXPECT_TRUE(bad([](PollSpec& p) { p.duration_hours = max_poll_hours + 1; }));
  poll.question = std::string(300, 'q');
  poll.answers.clear();
  for (int i = 0; i < 10; ++i) poll.answers.push_back(std::string(100, static_cast<char>('a' + i)));
  poll.duration_hours = max_poll_hours;
  EXPECT_TRUE(check_poll(poll));
}

TEST(MessagingModel, AReplyPreviewIsTheParentsAuthorAndFirstHundredBytesCutOnACharacter) {
  Message parent;
  parent.author = *eth::parse_address("0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed");
  parent.body = std::string(99, 'a') + "\xf0\x9f\x98\x80 rest";
  auto p = preview_of(parent);
  EXPECT_EQ(p.author, parent.author);
  EXPECT_EQ(p.body, std::string(99, 'a'));
  EXPECT_FALSE(p.deleted);
  parent.body = "short";
  EXPECT_EQ(preview_of(parent).body, "short");
  parent.deleted_at = SystemTime(std::chrono::seconds(1));
  p = preview_of(parent);
  EXPECT_TRUE(p.deleted);
  EXPECT_TRUE(p.body.empty());
}

TEST(Reports, ReasonsStatusesAndTexts) {
  for (const char* reason : {"spam", "scam", "harassment", "nsfw", "other"}) EXPECT_TRUE(valid_report_reason(reason));
  for (const char* reason : {"", "Spam", "rude", "spam "}) EXPECT_FALSE(valid_report_reason(reason));
  for (const char* status : {"open", "resolved", "dismissed"}) EXPECT_TRUE(valid_report_status(status));
  for (const char* status : {"", "all", "closed"}) EXPECT_FALSE(valid_report_status(status));
  EXPECT_TRUE(check_report_text("", "invalid_note"));
  EXPECT_TRUE(check_report_text(std::string(max_report_note_bytes, 'a'), "invalid_note"));
  EXPECT_EQ(check_report_text(std::string(max_report_note_bytes + 1, 'a'), "invalid_note").error().code,
            "invalid_note");
  EXPECT_EQ(check_report_text("a\x01b", "invalid_resolution").error().code, "invalid_resolution");
  EXPECT_EQ(check_report_text("\xff", "invalid_note").error().code, "invalid_note");
  EXPECT_EQ(check_report_text("   ", "invalid_note").error().code, "invalid_note");
}

TEST(Mentions, StopAtTheirLimit) {
  std::string body;
  for (int i = 0; i < 60; ++i) {
    char hex[41];
    std::snprintf(hex, sizeof hex, "%040x", i + 1);
    body += "@0x" + std::string(hex) + " ";
  }
  EXPECT_EQ(parse_mentions(body).accounts.size(), max_mentions);
  EXPECT_EQ(parse_mentions(body, max_mentions + 1).accounts.size(), max_mentions + 1);
  EXPECT_EQ(parse_mentions(body, 3).accounts.size(), 3U);
}

TEST(SearchKeys, OrderNewestFirstAndReadBackFromTheirCursor) {
  const SearchKey a{1000, "general", 7};
  // Older, or as old in a channel ordered below, or in the same channel with a lower seq: below.
  EXPECT_LT((SearchKey{999, "zz", 99}), a);
  EXPECT_LT((SearchKey{1000, "alpha", 99}), a);
  EXPECT_LT((SearchKey{1000, "general", 6}), a);
  EXPECT_GT((SearchKey{1000, "memes", 1}), a);
  EXPECT_GT((SearchKey{1001, "alpha", 1}), a);
  for (const auto& key : {a, SearchKey{0, "x", 1}, SearchKey{1767225600123, "ch_Abc-9.~!", 123456789}}) {
    auto back = parse_search_key(format_search_key(key));
    ASSERT_TRUE(back) << format_search_key(key);
    EXPECT_EQ(*back, key);
  }
  EXPECT_EQ(format_search_key(a), "1000:7:general");
  for (const char* bad :
       {"", "1000", "1000:7", "1000:7:", ":7:general", "1000::general", "x:7:general", "1000:0:general", "-1:7:general",
        "1000:7:gen/eral", "1000:7:a:b", "1234567890123456789:7:general"}) {
    EXPECT_FALSE(parse_search_key(bad)) << bad;
  }
}

TEST(MessagingModel, SuppressedMentionsLeaveTheRolesOfTheirCommunityOnly) {
  const MentionSuppression s{{"c-e", "c-both"}, {"c-r", "c-both"}};
  const std::vector<std::string> held{"member", "moderator", "ops"};
  const auto kept = [&](std::string_view community) {
    auto roles = held;
    drop_suppressed(roles, community, s);
    return roles;
  };
  EXPECT_EQ(kept("c-e"), (std::vector<std::string>{"moderator", "ops"}));
  EXPECT_EQ(kept("c-r"), (std::vector<std::string>{"member"}));
  EXPECT_TRUE(kept("c-both").empty());
  EXPECT_EQ(kept("c-other"), held);
  // A channel of no community keeps what it has.
  EXPECT_EQ(kept(""), held);
}

TEST(MessagingModel, ThreadsArchiveByHandOrAfterTheirInactivity) {
  const auto at = [](std::int64_t ms) { return SystemTime(std::chrono::milliseconds(ms)); };
  Thread t;
  t.id = "th_1";
  t.channel_id = "c_1";
  t.auto_archive_minutes = 60;
  t.last_activity = at(1'000'000);
  const auto hour = std::int64_t{60} * 60 * 1000;
  EXPECT_FALSE(thread_archived(t, at(1'000'000)));
  EXPECT_FALSE(thread_archived(t, at(1'000'000 + hour - 1)));
  // Archived by inactivity at the end of its time, and shown so.
  EXPECT_TRUE(thread_archived(t, at(1'000'000 + hour)));
  EXPECT_EQ(thread_archived_at(t, at(5 * hour)), at(1'000'000 + hour));
  auto shown = thread_json(t, at(5 * hour));
  EXPECT_TRUE(shown.at("archived").as_bool());
  EXPECT_EQ(shown.at("archived_at").as_string(), format_rfc3339(at(1'000'000 + hour)));
  EXPECT_TRUE(shown.at("seq").is_null());
  EXPECT_TRUE(shown.at("applied_tags").as_array().empty());
  t.applied_tags = {"tg_b", "tg_a"};
  EXPECT_EQ(boost::json::serialize(thread_json(t, at(5 * hour)).at("applied_tags")), R"(["tg_b","tg_a"])");
  t.applied_tags.clear();
  // Pinned: never by inactivity.
  t.pinned = true;
  EXPECT_FALSE(thread_archived(t, at(5 * hour)));
  EXPECT_FALSE(thread_json(t, at(5 * hour)).at("archived").as_bool());
  EXPECT_TRUE(thread_json(t, at(5 * hour)).at("pinned").as_bool());
  t.pinned = false;
  // By hand: at once, whatever its activity.
  t.archived_at = at(1'000'001);
  EXPECT_TRUE(thread_archived(t, at(1'000'002)));
  EXPECT_EQ(thread_archived_at(t, at(1'000'002)), at(1'000'001));
  t.archived_at.reset();
  t.seq = 7;
  shown = thread_json(t, at(1'000'000));
  EXPECT_FALSE(shown.at("archived").as_bool());
  EXPECT_TRUE(shown.at("archived_at").is_null());
  EXPECT_EQ(shown.at("seq").as_int64(), 7);
  EXPECT_EQ(shown.at("message_count").as_int64(), 0);
  t.message_count = 12;
  t.member_count = 3;
  shown = thread_json(t, at(1'000'000));
  EXPECT_EQ(shown.at("message_count").as_int64(), 12);
  EXPECT_EQ(shown.at("member_count").as_int64(), 3);
  EXPECT_EQ(shown.at("slow_mode_seconds").as_int64(), 0);
  EXPECT_FALSE(shown.at("private").as_bool());
  t.is_private = true;
  t.invitable = false;
  shown = thread_json(t, at(1'000'000));
  EXPECT_TRUE(shown.at("private").as_bool());
  EXPECT_FALSE(shown.at("invitable").as_bool());
  // To one who asks: whether it joined, and its notification setting while it did.
  EXPECT_FALSE(shown.contains("joined"));
  EXPECT_FALSE(shown.contains("notify"));
  t.joined = false;
  EXPECT_TRUE(thread_json(t, at(1'000'000)).at("notify").is_null());
  t.joined = true;
  t.notify = ThreadNotify::mentions;
  EXPECT_EQ(thread_json(t, at(1'000'000)).at("notify").as_string(), "mentions");
  for (auto n : {ThreadNotify::all, ThreadNotify::mentions, ThreadNotify::none}) {
    EXPECT_EQ(*parse_thread_notify(to_string(n)), n);
  }
  EXPECT_EQ(parse_thread_notify("All").error().code, "invalid_field");
  EXPECT_EQ(parse_thread_notify("").error().code, "invalid_field");
  EXPECT_TRUE(check_thread_slow_mode(0));
  EXPECT_TRUE(check_thread_slow_mode(21600));
  EXPECT_EQ(check_thread_slow_mode(21601).error().code, "invalid_field");
  EXPECT_EQ(check_thread_slow_mode(-1).error().code, "invalid_field");

  EXPECT_TRUE(is_thread_id("th_abc"));
  EXPECT_FALSE(is_thread_id("c_abc"));
  EXPECT_TRUE(check_thread_name("Roadmap \xF0\x9F\x9A\x80"));
  EXPECT_TRUE(check_thread_name(std::string(100, 'x')));
  for (const std::string& bad : {std::string(), std::string(101, 'x'), std::string("   "),
                                 std::string("a\xE2\x80\xAE"
                                             "b"),
                                 std::string("line\nbreak")}) {
    EXPECT_EQ(check_thread_name(bad).error().code, "invalid_thread_name") << bad;
  }
  for (const auto minutes : {60, 1440, 4320, 10080}) EXPECT_TRUE(check_auto_archive(minutes));
  for (const auto minutes : {0, 59, 61, 20160, -60}) {
    EXPECT_EQ(check_auto_archive(minutes).error().code, "invalid_auto_archive") << minutes;
  }
}

}  // namespace
}  // namespace gh::messaging
