#pragma once
// Cron-style schedules of the jobs scheduler: the five classic fields (minute hour day-of-month
// month day-of-week) with `*`, `*/n`, ranges `a-b`, stepped ranges `a-b/n`, lists `a,b-c`,
// month and weekday names (jan..dec, sun..sat), and the shorthands @hourly, @daily (@midnight),
// @weekly, @monthly and @yearly (@annually). Always in UTC, so there is no daylight-saving gap or
// repeat. As in Vixie cron, when both day-of-month and day-of-week are restricted a day matches
// if either does. Pure: no I/O, no clock.
#include <bitset>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/expected.hpp"

namespace gh::jobs {

/// Why a schedule was refused. `to_string` gives a stable snake_case name; `describe` a sentence.
enum class [[nodiscard]] CronErrc{
    field_count,   ///< not five fields (nor a known @shorthand)
    bad_value,     ///< a value is neither a number nor a known name
    out_of_range,  ///< a value is outside its field's range (e.g. minute 60, month 0)
    bad_range,     ///< a range runs backwards (e.g. 5-2)
    bad_step,      ///< a step is zero, not a number, or follows a single value
    never_fires,   ///< the days and months can never meet (e.g. 30 February)
};

/// The stable snake_case name of a code, e.g. "out_of_range".
const char* to_string(CronErrc code) noexcept;
/// One sentence for operators, e.g. "a value is outside its field's range".
const char* describe(CronErrc code) noexcept;

/// A parsed schedule.
class CronSchedule {
 public:
  /// Parses a five-field expression or an @shorthand; surrounding and repeated blanks are fine.
  static Expected<CronSchedule, CronErrc> parse(std::string_view text);

  /// The first fire time strictly after `t` (whole minutes, UTC). Always found for a schedule
  /// that parse() accepted (parse refuses those that never fire).
  SystemTime next_after(SystemTime t) const;

  /// The text it was parsed from, trimmed.
  const std::string& text() const noexcept { return m_text; }

  /// True when the schedule fires at this minute (seconds are ignored).
  bool matches(SystemTime t) const;

 private:
  CronSchedule() = default;
  bool day_matches(int day_of_month, unsigned month, unsigned weekday) const;

  std::string m_text;
  std::bitset<60> m_minutes;
  std::bitset<24> m_hours;
  std::bitset<32> m_days;     // 1..31
  std::bitset<13> m_months;   // 1..12
  std::bitset<7> m_weekdays;  // 0 = Sunday
  bool m_days_restricted = false;
  bool m_weekdays_restricted = false;
};

}  // namespace gh::jobs
