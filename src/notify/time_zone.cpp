#include "notify/time_zone.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace gh::notify {
namespace {

struct Zone {
  std::vector<std::int64_t> transitions;  ///< UTC seconds, ascending
  std::vector<std::int32_t> offsets;      ///< the offset in force from each transition
  std::int32_t initial = 0;               ///< before the first transition
};

bool safe_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.find("..") != std::string_view::npos)
    return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' || c == '_' ||
           c == '-' || c == '+';
  });
}

std::uint32_t be32(const std::string& d, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(d[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(d[at + 3]));
}

std::int64_t be64(const std::string& d, std::size_t at) {
  return static_cast<std::int64_t>((static_cast<std::uint64_t>(be32(d, at)) << 32) | be32(d, at + 4));
}

// RFC 8536: reads the version 2+ (64-bit) data block when present, else version 1.
std::optional<Zone> parse_tzif(const std::string& d) {
  const auto header = [&](std::size_t at, std::size_t counts[6]) {
    if (d.size() < at + 44 || d.compare(at, 4, "TZif") != 0) return false;
    for (std::size_t i = 0; i < 6; ++i) counts[i] = be32(d, at + 20 + 4 * i);
    return true;
  };
  std::size_t c[6];  // isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
  if (!header(0, c)) return std::nullopt;
  std::size_t at = 44;
  std::size_t time_size = 4;
  if (d[4] >= '2') {
    at += c[3] * 4 + c[3] + c[4] * 6 + c[5] + c[2] * 8 + c[1] + c[0];
    if (!header(at, c)) return std::nullopt;
    at += 44;
    time_size = 8;
  }
  const std::size_t timecnt = c[3];
  const std::size_t typecnt = c[4];
  if (typecnt == 0 || d.size() < at + timecnt * (time_size + 1) + typecnt * 6) return std::nullopt;
  Zone z;
  std::vector<std::uint8_t> idx(timecnt);
  for (std::size_t i = 0; i < timecnt; ++i) {
    z.transitions.push_back(time_size == 8 ? be64(d, at + i * 8)
                                           : static_cast<std::int64_t>(static_cast<std::int32_t>(be32(d, at + i * 4))));
  }
  at += timecnt * time_size;
  for (std::size_t i = 0; i < timecnt; ++i) idx[i] = static_cast<std::uint8_t>(d[at + i]);
  at += timecnt;
  std::vector<std::int32_t> type_offsets(typecnt);
  for (std::size_t i = 0; i < typecnt; ++i) type_offsets[i] = static_cast<std::int32_t>(be32(d, at + i * 6));
  for (std::size_t i = 0; i < timecnt; ++i) {
    if (idx[i] >= typecnt) return std::nullopt;
    z.offsets.push_back(type_offsets[idx[i]]);
  }
  z.initial = type_offsets[0];
  return z;
}

std::shared_ptr<const Zone> load(std::string_view name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const Zone>, std::less<>> cache;
  std::lock_guard lock(mutex);
  if (auto it = cache.find(name); it != cache.end()) return it->second;
  std::shared_ptr<const Zone> zone;
  if (name == "UTC" || name == "Etc/UTC") {
    zone = std::make_shared<const Zone>();
  } else if (safe_name(name)) {
    std::ifstream in("/usr/share/zoneinfo/" + std::string(name), std::ios::binary);
    if (in) {
      std::stringstream text;
      text << in.rdbuf();
      if (auto parsed = parse_tzif(text.str())) zone = std::make_shared<const Zone>(std::move(*parsed));
    }
  }
  // Unknown names are cached too (as null) so junk cannot make us read the disk repeatedly; the
  // cache is bounded by refusing to grow past a size no real set of zones reaches.
  if (cache.size() < 2000) cache.emplace(std::string(name), zone);
  return zone;
}

}  // namespace

bool time_zone_known(std::string_view name) {
  return load(name) != nullptr;
}

std::chrono::seconds utc_offset(std::string_view name, SystemTime t) {
  auto zone = load(name);
  if (!zone) return std::chrono::seconds(0);
  const auto s = std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
  auto it = std::upper_bound(zone->transitions.begin(), zone->transitions.end(), s);
  if (it == zone->transitions.begin()) return std::chrono::seconds(zone->initial);
  return std::chrono::seconds(zone->offsets[static_cast<std::size_t>(it - zone->transitions.begin() - 1)]);
}

int local_minute_of_day(std::string_view name, SystemTime t) {
  const auto local =
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count() + utc_offset(name, t).count();
  const auto day = std::int64_t{86400};
  return static_cast<int>(((local % day) + day) % day / 60);
}

}  // namespace gh::notify
