// Cron schedules: parsing (accepted forms and each refusal code) and the next fire time across
// hour, day, month and year ends, leap years and the day-of-month / day-of-week rule, in UTC.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "jobs/cron.hpp"

namespace gh::jobs {
namespace {

namespace chr = std::chrono;

// "YYYY-MM-DD HH:MM" in UTC.
SystemTime at(const char* text) {
  int y = 0, mo = 0, d = 0, h = 0, mi = 0;
  if (std::sscanf(text, "%d-%d-%d %d:%d", &y, &mo, &d, &h, &mi) != 5) ADD_FAILURE() << "bad time " << text;
  const chr::year_month_day ymd{chr::year{y}, chr::month{static_cast<unsigned>(mo)},
                                chr::day{static_cast<unsigned>(d)}};
  return SystemTime(chr::sys_days{ymd} + chr::hours{h} + chr::minutes{mi});
}

std::string show(SystemTime t) {
  return format_rfc3339(t);
}

CronSchedule parse(const char* text) {
  auto s = CronSchedule::parse(text);
  if (!s) {
    ADD_FAILURE() << "refused '" << text << "': " << to_string(s.error());
    return *CronSchedule::parse("* * * * *");
  }
  return *s;
}

// The next fire time after `from`, as RFC 3339.
std::string next(const char* schedule, const char* from) {
  return show(parse(schedule).next_after(at(from)));
}

TEST(Cron, EveryMinuteIsTheNextWholeMinute) {
  EXPECT_EQ(next("* * * * *", "2026-03-01 10:00"), "2026-03-01T10:01:00.000Z");
  // Seconds into a minute: the next whole minute, never the current one again.
  EXPECT_EQ(show(parse("* * * * *").next_after(at("2026-03-01 10:00") + chr::seconds(59))), "2026-03-01T10:01:00.000Z");
  EXPECT_EQ(show(parse("* * * * *").next_after(at("2026-03-01 10:00") - chr::milliseconds(1))),
            "2026-03-01T10:00:00.000Z");
}

TEST(Cron, StepsRangesAndLists) {
  EXPECT_EQ(next("*/15 * * * *", "2026-03-01 10:00"), "2026-03-01T10:15:00.000Z");
  EXPECT_EQ(next("*/15 * * * *", "2026-03-01 10:50"), "2026-03-01T11:00:00.000Z");
  EXPECT_EQ(next("5,35 * * * *", "2026-03-01 10:05"), "2026-03-01T10:35:00.000Z");
  EXPECT_EQ(next("10-12 * * * *", "2026-03-01 10:11"), "2026-03-01T10:12:00.000Z");
  EXPECT_EQ(next("10-12 * * * *", "2026-03-01 10:12"), "2026-03-01T11:10:00.000Z");
  EXPECT_EQ(next("0-30/10 * * * *", "2026-03-01 10:21"), "2026-03-01T10:30:00.000Z");
  EXPECT_EQ(next("0-30/10 * * * *", "2026-03-01 10:30"), "2026-03-01T11:00:00.000Z");
  // v/n: from v to the end of the field, every n.
  EXPECT_EQ(next("50/5 * * * *", "2026-03-01 10:56"), "2026-03-01T11:50:00.000Z");
  EXPECT_EQ(next("1,2-3,*/30 * * * *", "2026-03-01 10:03"), "2026-03-01T10:30:00.000Z");
  EXPECT_EQ(next("0 */6 * * *", "2026-03-01 13:00"), "2026-03-01T18:00:00.000Z");
  EXPECT_EQ(next("30 9-17/4 * * *", "2026-03-01 17:31"), "2026-03-02T09:30:00.000Z");
}

TEST(Cron, CrossesDayMonthAndYearEnds) {
  EXPECT_EQ(next("0 0 * * *", "2026-03-31 23:59"), "2026-04-01T00:00:00.000Z");
  EXPECT_EQ(next("* * * * *", "2026-12-31 23:59"), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(next("0 0 1 * *", "2026-12-15 08:00"), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(next("30 12 31 * *", "2026-04-01 00:00"), "2026-05-31T12:30:00.000Z");  // April has no 31st
  EXPECT_EQ(next("0 0 31 * *", "2026-01-31 00:00"), "2026-03-31T00:00:00.000Z");    // nor February
  EXPECT_EQ(next("0 0 1 1 *", "2026-01-01 00:00"), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(next("15 3 * 2 *", "2026-02-28 03:15"), "2027-02-01T03:15:00.000Z");
}

TEST(Cron, LeapDaysWaitForLeapYears) {
  EXPECT_EQ(next("0 0 29 2 *", "2026-03-01 00:00"), "2028-02-29T00:00:00.000Z");
  EXPECT_EQ(next("0 0 29 2 *", "2028-02-29 00:00"), "2032-02-29T00:00:00.000Z");
  // 2100 is not a leap year: eight years from 2096 to 2104.
  EXPECT_EQ(next("0 0 29 2 *", "2096-02-29 00:00"), "2104-02-29T00:00:00.000Z");
  EXPECT_EQ(next("0 0 28-29 2 *", "2027-02-28 00:00"), "2028-02-28T00:00:00.000Z");
}

TEST(Cron, WeekdaysAndNames) {
  // 2026-11-25 is a Wednesday.
  EXPECT_EQ(next("0 9 * * 1", "2026-11-25 10:00"), "2026-11-30T09:00:00.000Z");
  EXPECT_EQ(next("0 9 * * mon-fri", "2026-11-27 09:00"), "2026-11-30T09:00:00.000Z");  // Fri -> Mon
  EXPECT_EQ(next("0 9 * * 0", "2026-11-25 10:00"), "2026-11-29T09:00:00.000Z");
  EXPECT_EQ(next("0 9 * * 7", "2026-11-25 10:00"), "2026-11-29T09:00:00.000Z");  // 7 is Sunday too
  EXPECT_EQ(next("0 9 * * 5-7", "2026-11-25 10:00"), "2026-11-27T09:00:00.000Z");
  EXPECT_EQ(next("0 0 1 JAN,Jul *", "2026-02-01 00:00"), "2026-07-01T00:00:00.000Z");
  EXPECT_EQ(next("0 0 * * SAT", "2026-12-31 00:00"), "2027-01-02T00:00:00.000Z");
}

TEST(Cron, DayOfMonthOrDayOfWeekWhenBothAreRestricted) {
  // The 13th or any Friday (Vixie cron): from Wed 2026-11-25 the next is Fri 27th, then the
  // following Fridays, then 13 December (a Sunday).
  const auto s = parse("0 0 13 * 5");
  EXPECT_EQ(show(s.next_after(at("2026-11-25 00:00"))), "2026-11-27T00:00:00.000Z");
  EXPECT_EQ(show(s.next_after(at("2026-12-11 00:00"))), "2026-12-13T00:00:00.000Z");
  // With day-of-week written from `*`, only the day of month counts.
  EXPECT_EQ(next("0 0 13 * */1", "2026-11-25 00:00"), "2026-12-13T00:00:00.000Z");
  EXPECT_EQ(next("0 0 */10 * 1", "2026-11-25 00:00"), "2026-11-30T00:00:00.000Z");
}

TEST(Cron, Shorthands) {
  EXPECT_EQ(next("@hourly", "2026-11-25 10:00"), "2026-11-25T11:00:00.000Z");
  EXPECT_EQ(next("@daily", "2026-11-25 10:00"), "2026-11-26T00:00:00.000Z");
  EXPECT_EQ(next("@midnight", "2026-11-25 10:00"), "2026-11-26T00:00:00.000Z");
  EXPECT_EQ(next("@weekly", "2026-11-25 10:00"), "2026-11-29T00:00:00.000Z");
  EXPECT_EQ(next("@monthly", "2026-11-25 10:00"), "2026-12-01T00:00:00.000Z");
  EXPECT_EQ(next("@yearly", "2026-11-25 10:00"), "2027-01-01T00:00:00.000Z");
  EXPECT_EQ(next("@annually", "2026-11-25 10:00"), "2027-01-01T00:00:00.000Z");
}

TEST(Cron, BlanksAroundAndBetweenFieldsAreFine) {
  const auto s = CronSchedule::parse("  */5\t*  * *   *  ");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->text(), "*/5\t*  * *   *");
  EXPECT_EQ(show(s->next_after(at("2026-11-25 10:01"))), "2026-11-25T10:05:00.000Z");
}

TEST(Cron, MatchesIsConsistentWithNextAfter) {
  const char* schedules[] = {"*/7 1-5 * * *", "0 0 13 * 5", "15 */3 1,15 jan-jun *", "@weekly", "59 23 31 12 *"};
  for (const char* text : schedules) {
    const auto s = parse(text);
    auto t = at("2026-01-01 00:00");
    for (int i = 0; i < 50; ++i) {
      const auto fire = s.next_after(t);
      EXPECT_TRUE(s.matches(fire)) << text << " at " << show(fire);
      // Nothing in between matches: check every minute up to the fire time (bounded).
      auto probe = chr::floor<chr::minutes>(t) + chr::minutes(1);
      for (int m = 0; m < 2000 && probe < fire; ++m, probe += chr::minutes(1)) {
        ASSERT_FALSE(s.matches(probe)) << text << " skipped " << show(probe);
      }
      t = fire;
    }
  }
}

struct Refusal {
  const char* text;
  CronErrc code;
};

TEST(Cron, RefusesMalformedSchedulesWithTheirCode) {
  const Refusal cases[] = {
      {"", CronErrc::field_count},
      {"* * * *", CronErrc::field_count},
      {"* * * * * *", CronErrc::field_count},
      {"@often", CronErrc::field_count},
      {"60 * * * *", CronErrc::out_of_range},
      {"* 24 * * *", CronErrc::out_of_range},
      {"* * 0 * *", CronErrc::out_of_range},
      {"* * 32 * *", CronErrc::out_of_range},
      {"* * * 0 *", CronErrc::out_of_range},
      {"* * * 13 *", CronErrc::out_of_range},
      {"* * * * 8", CronErrc::out_of_range},
      {"99999999999 * * * *", CronErrc::out_of_range},
      {"x * * * *", CronErrc::bad_value},
      {"1x * * * *", CronErrc::bad_value},
      {"-1 * * * *", CronErrc::bad_value},
      {"1,,2 * * * *", CronErrc::bad_value},
      {"* * * foo *", CronErrc::bad_value},
      {"* * * * monday", CronErrc::bad_value},
      {"* * * mon *", CronErrc::bad_value},  // a weekday name in the month field
      {"5-2 * * * *", CronErrc::bad_range},
      {"* * * dec-jan *", CronErrc::bad_range},
      {"*/0 * * * *", CronErrc::bad_step},
      {"*/ * * * *", CronErrc::bad_step},
      {"*/x * * * *", CronErrc::bad_step},
      {"1-5/-1 * * * *", CronErrc::bad_step},
      {"0 0 30 2 *", CronErrc::never_fires},
      {"0 0 31 4,6,9,11 *", CronErrc::never_fires},
  };
  for (const auto& c : cases) {
    auto s = CronSchedule::parse(c.text);
    ASSERT_FALSE(s) << "accepted '" << c.text << "'";
    EXPECT_EQ(s.error(), c.code) << "'" << c.text << "' gave " << to_string(s.error());
    EXPECT_STRNE(describe(s.error()), "unknown schedule error");
  }
}

TEST(Cron, ThirtiethOfFebruaryFiresWhenAWeekdayIsAlsoGiven) {
  // Day of month OR day of week: Mondays of February still exist.
  EXPECT_EQ(next("0 0 30 2 1", "2026-11-25 00:00"), "2027-02-01T00:00:00.000Z");
}

}  // namespace
}  // namespace gh::jobs
