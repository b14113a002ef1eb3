#pragma once
// IANA time zones for quiet hours, read from the system's TZif files (/usr/share/zoneinfo);
// libstdc++ 12 has no std::chrono::tzdb. Zones are loaded once and cached. Times past the last
// transition in the file keep its offset (Debian ships "fat" files with transitions to 2037).
#include <chrono>
#include <string_view>

#include "core/clock.hpp"

namespace gh::notify {

/// True when `name` is "UTC" or a zone file exists for it (names are checked before any path
/// is built from them).
bool time_zone_known(std::string_view name);

/// The UTC offset of zone `name` at `t` (zero for an unknown zone).
std::chrono::seconds utc_offset(std::string_view name, SystemTime t);

/// Minutes after local midnight of `t` in zone `name`.
int local_minute_of_day(std::string_view name, SystemTime t);

}  // namespace gh::notify
