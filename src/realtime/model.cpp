#include "realtime/model.hpp"

#include <algorithm>

#include "core/display_name.hpp"
#include "eth/siwe.hpp"

namespace gh::realtime {

namespace json = boost::json;

bool valid_status(std::string_view status) noexcept {
  return status == "online" || status == "idle" || status == "dnd" || status == "invisible";
}

namespace {

Error bad_custom(std::string message) {
  return bad_input("invalid_custom_status", std::move(message));
}

bool valid_emoji(std::string_view emoji) {
  return emoji.size() <= 32 && is_display_name(emoji, 32) && std::none_of(emoji.begin(), emoji.end(), [](char ch) {
           const auto c = static_cast<unsigned char>(ch);
           return c <= 0x20 || c == 0x7f;
         });
}

Result<CustomStatus> parse_custom(const json::object& body, SystemTime now) {
  CustomStatus out;
  for (const auto& [key, value] : body) {
    if (key == "text") {
      if (!value.is_string()) return bad_custom("custom_status.text is a string");
      out.text = std::string(value.as_string());
      if (!out.text.empty() && !is_display_name(out.text, custom_status_max_chars)) {
        return bad_custom("custom_status.text is at most 128 characters of text that displays as itself");
      }
    } else if (key == "emoji") {
      if (value.is_null()) continue;
      if (!value.is_string() || !valid_emoji(value.as_string())) {
        return bad_custom("custom_status.emoji is 1 to 32 bytes of UTF-8 without spaces");
      }
      out.emoji = std::string(value.as_string());
    } else if (key == "expires_at") {
      if (value.is_null()) continue;
      if (!value.is_string()) return bad_custom("custom_status.expires_at is an RFC 3339 date-time");
      auto at = eth::parse_siwe_time(std::string_view(value.as_string()));
      if (!at) return bad_custom("custom_status.expires_at is an RFC 3339 date-time");
      const auto when = std::chrono::time_point_cast<SystemTime::duration>(*at);
      if (when <= now) return bad_custom("custom_status.expires_at is in the past");
      if (when > now + custom_status_max_lifetime) {
        return bad_custom("custom_status.expires_at is at most a year ahead");
      }
      out.expires_at = when;
    } else {
      return bad_custom("custom_status has text, emoji and expires_at; '" + std::string(key) + "' is not one");
    }
  }
  if (out.text.empty() && out.emoji.empty())
    return bad_custom("custom_status needs a text or an emoji (null clears it)");
  return out;
}

}  // namespace

Result<PresenceChange> parse_presence_change(const json::object& body, SystemTime now, bool frame) {
  PresenceChange change;
  for (const auto& [key, value] : body) {
    if (frame && key == "type") continue;
    if (key == "status") {
      if (!value.is_string() || !valid_status(value.as_string())) {
        return bad_input("invalid_status", "status is online, idle, dnd or invisible");
      }
      change.status = std::string(value.as_string());
    } else if (key == "custom_status") {
      change.set_custom = true;
      if (value.is_null()) continue;
      if (!value.is_object()) return bad_custom("custom_status is an object or null");
      auto custom = parse_custom(value.as_object(), now);
      if (!custom) return std::move(custom).error();
      change.custom = std::move(*custom);
    } else {
      return bad_input("invalid_presence",
                       "a presence has status and custom_status; '" + std::string(key) + "' is not one");
    }
  }
  if (!change.status && !change.set_custom) {
    return bad_input("invalid_presence", "give a status, a custom_status, or both");
  }
  return change;
}

Presence apply_change(Presence presence, const PresenceChange& change) {
  if (change.status) presence.status = *change.status;
  if (change.set_custom) presence.custom = change.custom;
  return presence;
}

Presence effective(Presence presence, SystemTime now) {
  if (presence.custom && presence.custom->expires_at && *presence.custom->expires_at <= now) presence.custom.reset();
  return presence;
}

json::value render_custom_status(const std::optional<CustomStatus>& custom) {
  if (!custom) return nullptr;
  json::object out{{"text", custom->text}};
  if (!custom->emoji.empty()) out["emoji"] = custom->emoji;
  if (custom->expires_at) out["expires_at"] = format_rfc3339(*custom->expires_at);
  return out;
}

json::object render_presence(const Presence& presence) {
  return json::object{{"status", presence.status}, {"custom_status", render_custom_status(presence.custom)}};
}

}  // namespace gh::realtime
