#include "notify/model.hpp"

#include <algorithm>
#include <array>

#include "eth/address.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;

constexpr std::array<std::pair<Kind, const char*>, 10> kind_names{{{Kind::dm, "dm"},
                                                                   {Kind::mention, "mention"},
                                                                   {Kind::reply, "reply"},
                                                                   {Kind::membership, "membership"},
                                                                   {Kind::reward, "reward"},
                                                                   {Kind::withdrawal, "withdrawal"},
                                                                   {Kind::addm, "addm"},
                                                                   {Kind::system, "system"},
                                                                   {Kind::thread, "thread"},
                                                                   {Kind::message, "message"}}};

Error invalid(std::string field, std::string why) {
  return bad_input("invalid_field", field + ": " + why);
}

Result<std::vector<std::string>> id_list(const json::value& v, const char* field) {
  if (!v.is_array()) return invalid(field, "must be an array of ids");
  if (v.as_array().size() > max_muted_ids) return invalid(field, "at most 1000 ids");
  std::vector<std::string> out;
  for (const auto& item : v.as_array()) {
    if (!item.is_string() || item.as_string().empty() || item.as_string().size() > 128)
      return invalid(field, "every id is a non-empty string of at most 128 characters");
    std::string id(item.as_string());
    if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(std::move(id));
  }
  return out;
}

// Addresses: checked, lowercased and distinct.
Result<std::vector<std::string>> address_list(const json::value& v, const char* field) {
  if (!v.is_array()) return invalid(field, "must be an array of addresses");
  if (v.as_array().size() > max_muted_ids) return invalid(field, "at most 1000 addresses");
  std::vector<std::string> out;
  for (const auto& item : v.as_array()) {
    if (!item.is_string()) return invalid(field, "every entry is an address");
    auto parsed = eth::parse_address(item.as_string());
    if (!parsed) return invalid(field, "every entry is an address");
    auto lower = eth::to_lower_hex(*parsed);
    if (std::find(out.begin(), out.end(), lower) == out.end()) out.push_back(std::move(lower));
  }
  return out;
}

bool contains(const std::vector<std::string>& list, const std::string& id) {
  return !id.empty() && std::find(list.begin(), list.end(), id) != list.end();
}

}  // namespace

const char* to_string(Kind kind) noexcept {
  for (const auto& [k, name] : kind_names) {
    if (k == kind) return name;
  }
  return "system";
}

std::optional<Kind> parse_kind(std::string_view name) {
  for (const auto& [k, n] : kind_names) {
    if (name == n) return k;
  }
  return std::nullopt;
}

std::optional<int> parse_hhmm(std::string_view text) {
  if (text.size() != 5 || text[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u}) {
    if (text[i] < '0' || text[i] > '9') return std::nullopt;
  }
  const int h = (text[0] - '0') * 10 + (text[1] - '0');
  const int m = (text[3] - '0') * 10 + (text[4] - '0');
  if (h > 23 || m > 59) return std::nullopt;
  return h * 60 + m;
}

std::string format_hhmm(int minutes) {
  std::string out(5, '0');
  out[0] = static_cast<char>('0' + minutes / 600);
  out[1] = static_cast<char>('0' + (minutes / 60) % 10);
  out[2] = ':';
  out[3] = static_cast<char>('0' + (minutes % 60) / 10);
  out[4] = static_cast<char>('0' + minutes % 10);
  return out;
}

bool in_window(int start_min, int end_min, int minute) noexcept {
  if (start_min == end_min) return false;
  if (start_min < end_min) return minute >= start_min && minute < end_min;
  return minute >= start_min || minute < end_min;
}

// The settings that are lists of ids (channels, communities), by field name.
struct IdListSetting {
  const char* name;
  std::vector<std::string> Settings::*member;
};
constexpr std::array<IdListSetting, 5> id_list_settings{{{"muted_channels", &Settings::muted_channels},
                                                         {"muted_communities", &Settings::muted_communities},
                                                         {"suppress_everyone", &Settings::suppress_everyone},
                                                         {"suppress_roles", &Settings::suppress_roles},
                                                         {"all_messages", &Settings::all_messages}}};

Result<Settings> apply_settings(const json::object& body, Settings s, bool (*zone_known)(std::string_view name)) {
  for (const auto& [key, value] : body) {
    const std::string_view field = key;
    const auto* list = std::find_if(id_list_settings.begin(), id_list_settings.end(),
                                    [&](const IdListSetting& l) { return field == l.name; });
    if (list != id_list_settings.end()) {
      auto ids = id_list(value, list->name);
      if (!ids) return std::move(ids).error();
      s.*(list->member) = std::move(*ids);
    } else if (key == "muted_accounts") {
      auto accounts = address_list(value, "muted_accounts");
      if (!accounts) return std::move(accounts).error();
      s.muted_accounts = std::move(*accounts);
    } else if (key == "muted_kinds") {
      auto names = id_list(value, "muted_kinds");
      if (!names) return std::move(names).error();
      std::vector<Kind> kinds;
      for (const auto& n : *names) {
        auto k = parse_kind(n);
        if (!k) return invalid("muted_kinds", "unknown kind " + n);
        kinds.push_back(*k);
      }
      s.muted_kinds = std::move(kinds);
    } else if (key == "dm_previews") {
      if (!value.is_bool()) return invalid("dm_previews", "must be true or false");
      s.dm_previews = value.as_bool();
    } else if (key == "addm_opt_out") {
      if (!value.is_bool()) return invalid("addm_opt_out", "must be true or false");
      s.addm_opt_out = value.as_bool();
    } else if (key == "quiet_hours") {
      if (value.is_null()) {
        s.quiet_hours.reset();
        continue;
      }
      if (!value.is_object()) return invalid("quiet_hours", "must be {\"start\", \"end\", \"time_zone\"} or null");
      const auto& q = value.as_object();
      const auto* start = q.if_contains("start");
      const auto* end = q.if_contains("end");
      const auto* zone = q.if_contains("time_zone");
      QuietHours hours;
      std::optional<int> from = start != nullptr && start->is_string() ? parse_hhmm(start->as_string()) : std::nullopt;
      std::optional<int> to = end != nullptr && end->is_string() ? parse_hhmm(end->as_string()) : std::nullopt;
      if (!from || !to) return invalid("quiet_hours", "start and end are local times \"HH:MM\"");
      hours.start_min = *from;
      hours.end_min = *to;
      if (zone != nullptr) {
        if (!zone->is_string() || !zone_known(zone->as_string()))
          return invalid("quiet_hours", "time_zone is not a known IANA time zone");
        hours.time_zone = std::string(zone->as_string());
      }
      s.quiet_hours = std::move(hours);
    } else {
      return invalid(std::string(key), "unknown setting");
    }
  }
  return s;
}

json::object render_settings(const Settings& s) {
  json::array channels(s.muted_channels.begin(), s.muted_channels.end());
  json::array communities(s.muted_communities.begin(), s.muted_communities.end());
  json::array kinds;
  for (auto k : s.muted_kinds) kinds.push_back(json::string(to_string(k)));
  json::value quiet = nullptr;
  if (s.quiet_hours) {
    quiet = json::object{{"start", format_hhmm(s.quiet_hours->start_min)},
                         {"end", format_hhmm(s.quiet_hours->end_min)},
                         {"time_zone", s.quiet_hours->time_zone}};
  }
  json::array accounts;
  for (const auto& a : s.muted_accounts) {
    if (auto parsed = eth::parse_address(a)) accounts.emplace_back(eth::to_checksum(*parsed));
  }
  return {{"muted_channels", std::move(channels)},
          {"muted_communities", std::move(communities)},
          {"muted_accounts", std::move(accounts)},
          {"muted_kinds", std::move(kinds)},
          {"suppress_everyone", json::array(s.suppress_everyone.begin(), s.suppress_everyone.end())},
          {"suppress_roles", json::array(s.suppress_roles.begin(), s.suppress_roles.end())},
          {"all_messages", json::array(s.all_messages.begin(), s.all_messages.end())},
          {"dm_previews", s.dm_previews},
          {"addm_opt_out", s.addm_opt_out},
          {"quiet_hours", std::move(quiet)}};
}

Decision decide(const Settings& s, Draft& draft) {
  if (draft.kind == Kind::addm && s.addm_opt_out) return {false, "addm_opt_out"};
  if (std::find(s.muted_kinds.begin(), s.muted_kinds.end(), draft.kind) != s.muted_kinds.end())
    return {false, "muted_kind"};
  // Membership and money are about the account itself: a mute does not hide them.
  const bool mutable_kind = draft.kind != Kind::membership && draft.kind != Kind::reward &&
                            draft.kind != Kind::withdrawal && draft.kind != Kind::system;
  if (mutable_kind && contains(s.muted_communities, draft.community_id)) return {false, "muted_community"};
  if (mutable_kind && contains(s.muted_channels, draft.channel_id)) return {false, "muted_channel"};
  if (mutable_kind && !draft.parent_channel_id.empty() && contains(s.muted_channels, draft.parent_channel_id))
    return {false, "muted_channel"};
  if (mutable_kind && contains(s.muted_accounts, draft.actor)) return {false, "muted_account"};
  // A mention through `@&member` or a role, in a community whose such mentions are suppressed.
  if (draft.kind == Kind::mention && draft.via == "everyone" && contains(s.suppress_everyone, draft.community_id))
    return {false, "suppressed_everyone"};
  if (draft.kind == Kind::mention && draft.via == "role" && contains(s.suppress_roles, draft.community_id))
    return {false, "suppressed_roles"};
  if (draft.kind == Kind::dm && !s.dm_previews) draft.body = std::string(hidden_dm_preview);
  return {true, {}};
}

std::string encode_cursor(const Cursor& cursor) {
  return std::to_string(cursor.created_ms) + "." + cursor.id;
}

Result<ListFilter> parse_list_filter(std::optional<std::string_view> kinds,
                                     std::optional<std::string_view> community_id,
                                     std::optional<std::string_view> unread) {
  ListFilter f;
  f.unread_only = unread && (*unread == "true" || *unread == "1");
  if (kinds) {
    std::string_view rest = *kinds;
    for (;;) {
      const auto comma = rest.find(',');
      const auto name = rest.substr(0, comma);
      auto kind = parse_kind(name);
      if (!kind) return bad_input("invalid_kind", "kind lists kinds separated by commas");
      if (std::find(f.kinds.begin(), f.kinds.end(), *kind) == f.kinds.end()) f.kinds.push_back(*kind);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  if (community_id) {
    const auto id = *community_id;
    const bool good = !id.empty() && id.size() <= 128 &&
                      std::all_of(id.begin(), id.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    if (!good) return bad_input("invalid_community_id", "community_id is not a community id");
    f.community_id = std::string(id);
  }
  return f;
}

std::optional<Cursor> decode_cursor(std::string_view text) {
  const auto dot = text.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot > 15 || dot + 1 >= text.size()) return std::nullopt;
  Cursor c;
  for (char ch : text.substr(0, dot)) {
    if (ch < '0' || ch > '9') return std::nullopt;
    c.created_ms = c.created_ms * 10 + (ch - '0');
  }
  c.id = std::string(text.substr(dot + 1));
  if (c.id.size() > 64) return std::nullopt;
  return c;
}

}  // namespace gh::notify
