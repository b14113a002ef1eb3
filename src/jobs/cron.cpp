#include "jobs/cron.hpp"

#include <array>
#include <charconv>
#include <chrono>
#include <vector>

namespace gh::jobs {
namespace {

namespace chr = std::chrono;

constexpr std::array<std::string_view, 12> month_names{"jan", "feb", "mar", "apr", "may", "jun",
                                                       "jul", "aug", "sep", "oct", "nov", "dec"};
constexpr std::array<std::string_view, 7> weekday_names{"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct FieldSpec {
  int min;
  int max;
  int name_base;  // the value of the first name (month names start at 1, weekdays at 0)
  const std::string_view* names;
  std::size_t name_count;
};

// One field's values as a bit mask (bit v set when value v is selected).
using Mask = std::uint64_t;

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

Expected<int, CronErrc> parse_value(std::string_view text, const FieldSpec& spec) {
  if (text.empty()) return CronErrc::bad_value;
  if (text[0] >= '0' && text[0] <= '9') {
    int v = 0;
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, v);
    if (ec == std::errc::result_out_of_range) return CronErrc::out_of_range;
    if (ec != std::errc{} || ptr != end) return CronErrc::bad_value;
    if (v < spec.min || v > spec.max) return CronErrc::out_of_range;
    return v;
  }
  if (text.size() == 3) {
    const std::string lowered{lower(text[0]), lower(text[1]), lower(text[2])};
    for (std::size_t i = 0; i < spec.name_count; ++i) {
      if (spec.names[i] == lowered) return spec.name_base + static_cast<int>(i);
    }
  }
  return CronErrc::bad_value;
}

Expected<int, CronErrc> parse_step(std::string_view text) {
  int step = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, step);
  if (text.empty() || ec != std::errc{} || ptr != end || step <= 0) return CronErrc::bad_step;
  return step;
}

// One comma-separated element: *, */n, v, a-b, a-b/n, v/n (v to the field's end, every n).
Expected<Mask, CronErrc> parse_element(std::string_view text, const FieldSpec& spec) {
  int step = 1;
  bool stepped = false;
  if (const auto slash = text.find('/'); slash != std::string_view::npos) {
    auto s = parse_step(text.substr(slash + 1));
    if (!s) return s.error();
    step = *s;
    stepped = true;
    text = text.substr(0, slash);
  }
  int first = spec.min;
  int last = spec.max;
  if (text != "*") {
    const auto dash = text.find('-');
    auto a = parse_value(text.substr(0, dash), spec);
    if (!a) return a.error();
    first = *a;
    if (dash != std::string_view::npos) {
      auto b = parse_value(text.substr(dash + 1), spec);
      if (!b) return b.error();
      last = *b;
      if (last < first) return CronErrc::bad_range;
    } else if (!stepped) {
      last = first;
    }
  }
  Mask mask = 0;
  for (int v = first; v <= last; v += step) mask |= Mask{1} << v;
  return mask;
}

Expected<Mask, CronErrc> parse_field(std::string_view text, const FieldSpec& spec) {
  Mask mask = 0;
  while (true) {
    const auto comma = text.find(',');
    auto element = parse_element(text.substr(0, comma), spec);
    if (!element) return element.error();
    mask |= *element;
    if (comma == std::string_view::npos) break;
    text = text.substr(comma + 1);
  }
  return mask;
}

std::vector<std::string_view> split_blanks(std::string_view text) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    const std::size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::string_view expand_shorthand(std::string_view text) {
  if (text == "@yearly" || text == "@annually") return "0 0 1 1 *";
  if (text == "@monthly") return "0 0 1 * *";
  if (text == "@weekly") return "0 0 * * 0";
  if (text == "@daily" || text == "@midnight") return "0 0 * * *";
  if (text == "@hourly") return "0 * * * *";
  return {};
}

template <std::size_t N>
std::bitset<N> to_bits(Mask mask) {
  return std::bitset<N>(mask & ((Mask{1} << N) - 1));
}

}  // namespace

const char* to_string(CronErrc code) noexcept {
  switch (code) {
    case CronErrc::field_count:
      return "field_count";
    case CronErrc::bad_value:
      return "bad_value";
    case CronErrc::out_of_range:
      return "out_of_range";
    case CronErrc::bad_range:
      return "bad_range";
    case CronErrc::bad_step:
      return "bad_step";
    case CronErrc::never_fires:
      return "never_fires";
  }
  return "unknown";
}

const char* describe(CronErrc code) noexcept {
  switch (code) {
    case CronErrc::field_count:
      return "a schedule has five fields (minute hour day-of-month month day-of-week)";
    case CronErrc::bad_value:
      return "a value is neither a number nor a month or weekday name";
    case CronErrc::out_of_range:
      return "a value is outside its field's range";
    case CronErrc::bad_range:
      return "a range runs backwards";
    case CronErrc::bad_step:
      return "a step must be a positive number";
    case CronErrc::never_fires:
      return "the days and months never meet, so it would never run";
  }
  return "unknown schedule error";
}

Expected<CronSchedule, CronErrc> CronSchedule::parse(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  CronSchedule s;
  s.m_text = std::string(text);
  std::string_view expression = text;
  if (!text.empty() && text[0] == '@') {
    expression = expand_shorthand(text);
    if (expression.empty()) return CronErrc::field_count;
  }
  const auto fields = split_blanks(expression);
  if (fields.size() != 5) return CronErrc::field_count;

  const FieldSpec minute{0, 59, 0, nullptr, 0};
  const FieldSpec hour{0, 23, 0, nullptr, 0};
  const FieldSpec day{1, 31, 0, nullptr, 0};
  const FieldSpec month{1, 12, 1, month_names.data(), month_names.size()};
  const FieldSpec weekday{0, 7, 0, weekday_names.data(), weekday_names.size()};  // 7 is Sunday too

  auto minutes = parse_field(fields[0], minute);
  if (!minutes) return minutes.error();
  auto hours = parse_field(fields[1], hour);
  if (!hours) return hours.error();
  auto days = parse_field(fields[2], day);
  if (!days) return days.error();
  auto months = parse_field(fields[3], month);
  if (!months) return months.error();
  auto weekdays = parse_field(fields[4], weekday);
  if (!weekdays) return weekdays.error();
  Mask weekday_mask = *weekdays;
  if ((weekday_mask & (Mask{1} << 7)) != 0) weekday_mask = (weekday_mask & ~(Mask{1} << 7)) | Mask{1};

  s.m_minutes = to_bits<60>(*minutes);
  s.m_hours = to_bits<24>(*hours);
  s.m_days = to_bits<32>(*days);
  s.m_months = to_bits<13>(*months);
  s.m_weekdays = to_bits<7>(weekday_mask);
  // As in Vixie cron: a field written from `*` (also `*/n`) does not restrict the day.
  s.m_days_restricted = fields[2][0] != '*';
  s.m_weekdays_restricted = fields[4][0] != '*';

  if (s.m_days_restricted && !s.m_weekdays_restricted) {
    // Some selected day must exist in some selected month (29 February counts: leap years come).
    constexpr std::array<int, 13> longest{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool meets = false;
    for (std::size_t m = 1; m <= 12 && !meets; ++m) {
      if (!s.m_months.test(m)) continue;
      for (std::size_t d = 1; d <= static_cast<std::size_t>(longest[m]) && !meets; ++d) meets = s.m_days.test(d);
    }
    if (!meets) return CronErrc::never_fires;
  }
  return s;
}

bool CronSchedule::day_matches(int day_of_month, unsigned month, unsigned weekday) const {
  if (!m_months.test(month)) return false;
  const bool by_day = m_days.test(static_cast<std::size_t>(day_of_month));
  const bool by_weekday = m_weekdays.test(weekday);
  if (m_days_restricted && m_weekdays_restricted) return by_day || by_weekday;
  if (m_days_restricted) return by_day;
  if (m_weekdays_restricted) return by_weekday;
  return true;
}

bool CronSchedule::matches(SystemTime t) const {
  const auto minute = chr::floor<chr::minutes>(t);
  const auto day = chr::floor<chr::days>(minute);
  const chr::year_month_day ymd{day};
  const chr::hh_mm_ss hms{minute - day};
  return day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())), static_cast<unsigned>(ymd.month()),
                     chr::weekday{day}.c_encoding()) &&
         m_hours.test(static_cast<std::size_t>(hms.hours().count())) &&
         m_minutes.test(static_cast<std::size_t>(hms.minutes().count()));
}

SystemTime CronSchedule::next_after(SystemTime t) const {
  chr::sys_time<chr::minutes> at = chr::floor<chr::minutes>(t) + chr::minutes(1);
  // Each step below skips a whole month, day, hour or minute that cannot match, so even a
  // schedule for 29 February (up to eight years away) takes a few hundred steps.
  for (int step = 0; step < 1'000'000; ++step) {
    const auto day = chr::floor<chr::days>(at);
    const chr::year_month_day ymd{day};
    const auto month = static_cast<unsigned>(ymd.month());
    if (!m_months.test(month)) {
      const auto next_month = chr::year_month{ymd.year(), ymd.month()} + chr::months(1);
      at = chr::sys_days{next_month / 1};
      continue;
    }
    if (!day_matches(static_cast<int>(static_cast<unsigned>(ymd.day())), month, chr::weekday{day}.c_encoding())) {
      at = day + chr::days(1);
      continue;
    }
    const chr::hh_mm_ss hms{at - day};
    const auto hour = hms.hours().count();
    if (!m_hours.test(static_cast<std::size_t>(hour))) {
      at = day + chr::hours(hour + 1);
      continue;
    }
    if (!m_minutes.test(static_cast<std::size_t>(hms.minutes().count()))) {
      at += chr::minutes(1);
      continue;
    }
    return SystemTime(at);
  }
  return SystemTime::max();  // unreachable for a schedule parse() accepted
}

}  // namespace gh::jobs
