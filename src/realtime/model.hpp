#pragma once
// The realtime context's plain types and pure rules: the presence an account chooses for itself
// (a status and a custom status, as Discord's), how a request changes it, and how it is shown.
// No I/O.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "core/clock.hpp"
#include "core/result.hpp"

namespace gh::realtime {

/// The statuses an account may set for itself: "online", "idle", "dnd" (do not disturb) and
/// "invisible" (others see it offline).
bool valid_status(std::string_view status) noexcept;

/// A line of text and an emoji shown beside an account's name, until `expires_at` when set. At
/// least one of text and emoji is not empty.
struct CustomStatus {
  std::string text;   ///< at most custom_status_max_chars code points, a display name
  std::string emoji;  ///< at most 32 bytes of UTF-8 without spaces
  std::optional<SystemTime> expires_at;
  bool operator==(const CustomStatus&) const = default;
};

inline constexpr std::size_t custom_status_max_chars = 128;
/// How far ahead a custom status may be set to expire.
inline constexpr std::chrono::hours custom_status_max_lifetime{24 * 365};

/// What an account shows of itself, on every socket and every device, until it changes it.
struct Presence {
  std::string status = "online";
  std::optional<CustomStatus> custom;
  bool operator==(const Presence&) const = default;
};

/// A requested change: what is not set stays as it is.
struct PresenceChange {
  std::optional<std::string> status;
  bool set_custom = false;  ///< custom_status was given: `custom` replaces it (nothing clears it)
  std::optional<CustomStatus> custom;
};

/// Reads `{"status"?, "custom_status"?: {"text"?, "emoji"?, "expires_at"?} | null}` (and `type`
/// when `frame`: a gateway frame). 400 `invalid_status` for a status not valid_status,
/// `invalid_custom_status` for a custom status that breaks its rules (an expiry not in the
/// future, or further than a year), `invalid_presence` when the body changes nothing or holds an
/// unknown field.
Result<PresenceChange> parse_presence_change(const boost::json::object& body, SystemTime now, bool frame = false);

/// The presence after a change.
Presence apply_change(Presence presence, const PresenceChange& change);

/// The presence as it stands at `now`: a custom status past its expiry is gone.
Presence effective(Presence presence, SystemTime now);

/// `null` or `{"text", "emoji"?, "expires_at"?}`.
boost::json::value render_custom_status(const std::optional<CustomStatus>& custom);
/// `{"status", "custom_status"}`, as GET /v1/me/presence answers.
boost::json::object render_presence(const Presence& presence);

}  // namespace gh::realtime
