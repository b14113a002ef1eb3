#include "notify/events.hpp"

#include <algorithm>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <charconv>

#include "core/utf8.hpp"
#include "eth/address.hpp"

namespace gh::notify {
namespace {

namespace json = boost::json;

std::string str(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return {};
  if (v->is_string()) return std::string(v->as_string());
  if (v->is_int64()) return std::to_string(v->as_int64());
  if (v->is_uint64()) return std::to_string(v->as_uint64());
  return {};
}

std::optional<std::string> account_of(const json::value& v) {
  std::string text;
  if (v.is_string()) {
    text = std::string(v.as_string());
  } else if (v.is_object()) {
    text = str(v.as_object(), "address");
    if (text.empty()) text = str(v.as_object(), "account");
  }
  auto parsed = eth::parse_address(text);
  if (!parsed) return std::nullopt;
  return eth::to_lower_hex(*parsed);
}

void add_accounts(const json::object& o, std::string_view key, std::vector<std::string>& out) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return;
  if (v->is_array()) {
    for (const auto& item : v->as_array()) {
      if (auto a = account_of(item)) out.push_back(*a);
    }
  } else if (auto a = account_of(*v)) {
    out.push_back(*a);
  }
}

std::string short_address(const std::string& lower_hex) {
  if (lower_hex.size() < 10) return lower_hex;
  auto parsed = eth::parse_address(lower_hex);
  const std::string c = parsed ? eth::to_checksum(*parsed) : lower_hex;
  return c.substr(0, 6) + "…" + c.substr(c.size() - 4);
}

std::string preview(const json::object& o) {
  for (const char* key : {"preview", "body", "text"}) {
    auto text = str(o, key);
    if (!text.empty()) return to_valid_utf8(text, 280);
  }
  return {};
}

json::object ids_of(const json::object& o, std::initializer_list<const char*> keys) {
  json::object data;
  for (const char* k : keys) {
    auto v = str(o, k);
    if (!v.empty()) data[k] = v;
  }
  return data;
}

// A silent message (Discord's @silent) notifies without a push; its notification says so.
void take_silence(const json::object& o, Draft& draft, json::object& data) {
  const auto* silent = o.if_contains("silent");
  if (silent == nullptr || !silent->is_bool() || !silent->as_bool()) return;
  draft.silent = true;
  data["silent"] = true;
}

// A message's seq: a whole number of 0 or more, given as a number or a string of digits.
std::optional<std::int64_t> seq_of(const json::object& o) {
  const auto text = str(o, "seq");
  if (text.empty() || text.size() > 18) return std::nullopt;
  std::int64_t seq = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (ec != std::errc() || end != text.data() + text.size() || seq < 0) return std::nullopt;
  return seq;
}

void dedupe(std::vector<std::string>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

std::vector<std::string> consumed_topics() {
  return {"notify.requested",
          "messaging.mention",
          "messaging.reply",
          "messaging.thread_message",
          "messaging.message_deleted",
          "messaging.message_edited",
          "messaging.mention_removed",
          "community.member_removed",
          "community.role_changed",
          "e2e.message_posted",
          "rewards.granted",
          "rewards.withdrawal_confirmed",
          "rewards.withdrawal_failed",
          "messaging.read",
          "messaging.followed_message",
          std::string(reads_marked_topic)};
}

std::optional<ReadThrough> read_from_event(std::string_view topic, std::string_view payload) {
  if (topic != "messaging.read") return std::nullopt;
  boost::system::error_code ec;
  auto parsed = json::parse(payload, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& o = parsed.as_object();
  const auto* who = o.if_contains("account");
  auto account = who != nullptr ? account_of(*who) : std::nullopt;
  auto seq = seq_of(o);
  auto channel_id = str(o, "channel_id");
  if (!account || !seq || channel_id.empty()) return std::nullopt;
  return ReadThrough{std::move(*account), std::move(channel_id), *seq};
}

std::string message_subject(std::string_view message_id) {
  return "message:" + std::string(message_id);
}

std::optional<Amendment> amendment_from_event(std::string_view topic, std::string_view payload) {
  if (topic != "messaging.message_deleted" && topic != "messaging.message_edited" &&
      topic != "messaging.mention_removed") {
    return std::nullopt;
  }
  boost::system::error_code ec;
  auto parsed = json::parse(payload, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& o = parsed.as_object();
  const auto id = str(o, topic == "messaging.mention_removed" ? "message_id" : "id");
  if (id.empty()) return std::nullopt;
  Amendment a;
  a.subject = message_subject(id);
  if (topic == "messaging.message_deleted") {
    a.action = Amendment::Action::withdraw;
  } else if (topic == "messaging.mention_removed") {
    a.action = Amendment::Action::withdraw;
    add_accounts(o, "accounts", a.accounts);
    dedupe(a.accounts);
    // Nobody named: nothing to withdraw (never the whole subject).
    if (a.accounts.empty()) return std::nullopt;
  } else {
    a.action = Amendment::Action::refresh;
    a.body = preview(o);
  }
  return a;
}

std::optional<Request> request_from_event(std::string_view topic, std::string_view event_id, std::string_view payload) {
  boost::system::error_code ec;
  auto parsed = json::parse(payload, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& o = parsed.as_object();
  Request r;
  r.draft.dedup_key = std::string(topic) + ":" + std::string(event_id);
  r.draft.community_id = str(o, "community_id");
  r.draft.channel_id = str(o, "channel_id");
  r.draft.parent_channel_id = str(o, "parent_channel_id");
  const std::string author = [&] {
    for (const char* k : {"author", "sender", "from"}) {
      if (const auto* v = o.if_contains(k)) {
        if (auto a = account_of(*v)) return *a;
      }
    }
    return std::string();
  }();
  if (!author.empty()) r.exclude.push_back(author);
  r.draft.actor = author;

  if (topic == "notify.requested") {
    auto kind = parse_kind(str(o, "kind"));
    r.draft.kind = kind.value_or(Kind::system);
    r.draft.title = str(o, "title");
    r.draft.body = preview(o);
    if (const auto* d = o.if_contains("data"); d != nullptr && d->is_object()) {
      r.draft.data_json = json::serialize(*d);
    }
    if (auto key = str(o, "dedup_key"); !key.empty()) r.draft.dedup_key = "notify.requested:" + key;
    add_accounts(o, "accounts", r.accounts);
    add_accounts(o, "account", r.accounts);
    r.community = str(o, "audience_community_id");
    if (r.community.empty() && str(o, "audience") == "community") r.community = r.draft.community_id;
    add_accounts(o, "exclude", r.exclude);
  } else if (topic == "messaging.mention" || topic == "messaging.reply") {
    const bool mention = topic == "messaging.mention";
    r.draft.kind = mention ? Kind::mention : Kind::reply;
    add_accounts(o, mention ? "mentioned" : "parent_author", r.accounts);
    add_accounts(o, "accounts", r.accounts);
    add_accounts(o, "account", r.accounts);
    // A role or @everyone mention names the community as its audience.
    if (mention && (str(o, "audience") == "community" || o.contains("everyone"))) r.community = r.draft.community_id;
    const std::string who = author.empty() ? std::string("Someone") : short_address(author);
    r.draft.title = who + (mention ? " mentioned you" : " replied to you");
    r.draft.body = preview(o);
    auto data =
        ids_of(o, {"community_id", "channel_id", "parent_channel_id", "message_id", "seq", "parent_id", "via", "role"});
    if (mention) r.draft.via = str(o, "via");
    if (!r.draft.channel_id.empty()) r.draft.seq = seq_of(o);
    take_silence(o, r.draft, data);
    r.draft.data_json = json::serialize(data);
    if (auto id = str(o, "message_id"); !id.empty()) r.draft.subject = message_subject(id);
  } else if (topic == "messaging.thread_message" || topic == "messaging.followed_message") {
    // A message in a thread its members follow, or in a channel (a new post in a forum) the
    // accounts follow (Discord's "All Messages").
    const bool thread = topic == "messaging.thread_message";
    r.draft.kind = thread ? Kind::thread : Kind::message;
    add_accounts(o, "accounts", r.accounts);
    const std::string who = author.empty() ? std::string("Someone") : short_address(author);
    const auto name = to_valid_utf8(str(o, thread ? "thread_name" : "channel_name"), 120);
    if (thread) {
      r.draft.title = name.empty() ? who + " posted in a thread" : who + " in " + name;
    } else if (const auto post = to_valid_utf8(str(o, "thread_name"), 120); !post.empty()) {
      // A forum's new post.
      r.draft.title = who + " posted in #" + name + ": " + post;
    } else {
      r.draft.title = name.empty() ? who + " posted in a channel" : who + " in #" + name;
    }
    r.draft.body = preview(o);
    auto data = ids_of(o, {"community_id", "channel_id", "parent_channel_id", "message_id", "seq"});
    if (!r.draft.channel_id.empty()) r.draft.seq = seq_of(o);
    take_silence(o, r.draft, data);
    r.draft.data_json = json::serialize(data);
    if (auto id = str(o, "message_id"); !id.empty()) r.draft.subject = message_subject(id);
  } else if (topic == "community.member_removed" || topic == "community.role_changed") {
    r.draft.kind = Kind::membership;
    // Leaving is the member's own doing: nothing to tell them.
    if (str(o, "reason") == "left") return std::nullopt;
    add_accounts(o, "account", r.accounts);
    if (topic == "community.member_removed") {
      r.draft.title = "You are no longer a member of a community";
      r.draft.body = str(o, "reason").empty() ? "Your membership was removed." : "Reason: " + str(o, "reason");
    } else {
      r.draft.title = "Your role changed";
      r.draft.body = str(o, "role").empty() ? "" : "New role: " + str(o, "role");
    }
    r.draft.data_json = json::serialize(ids_of(o, {"community_id", "role", "reason"}));
    r.exclude.clear();
  } else if (topic == "e2e.message_posted") {
    // Only application messages are news to a person; proposals and commits (MLS content types 2
    // and 3) are group bookkeeping.
    if (const auto* ct = o.if_contains("content_type"); ct != nullptr && ct->is_int64() && ct->as_int64() != 1)
      return std::nullopt;
    // End-to-end encrypted: the server has no preview to give.
    r.draft.kind = Kind::dm;
    add_accounts(o, "members", r.accounts);
    add_accounts(o, "recipients", r.accounts);
    r.draft.title = author.empty() ? std::string("New message") : "New message from " + short_address(author);
    r.draft.body = std::string(hidden_dm_preview);
    r.draft.data_json = json::serialize(ids_of(o, {"group_id", "seq"}));
    r.draft.channel_id = str(o, "group_id");
    r.draft.dedup_key = "e2e:" + str(o, "group_id") + ":" + str(o, "seq");
    if (str(o, "group_id").empty() || str(o, "seq").empty())
      r.draft.dedup_key = "e2e.message_posted:" + std::string(event_id);
  } else if (topic == "rewards.granted") {
    r.draft.kind = Kind::reward;
    add_accounts(o, "account", r.accounts);
    r.draft.title = "You earned a reward";
    r.draft.body = str(o, "amount").empty() ? "" : "Amount: " + str(o, "amount");
    r.draft.data_json = json::serialize(ids_of(o, {"community_id", "reward_id", "amount", "asset"}));
    r.exclude.clear();
  } else if (topic.starts_with("rewards.withdrawal_")) {
    r.draft.kind = Kind::withdrawal;
    add_accounts(o, "account", r.accounts);
    const auto status = std::string(topic.substr(std::string_view("rewards.withdrawal_").size()));
    r.draft.title = "Withdrawal " + status;
    r.draft.body = str(o, "tx_hash").empty() ? "" : "Transaction " + str(o, "tx_hash");
    r.draft.data_json = json::serialize(ids_of(o, {"withdrawal_id", "id", "tx_hash", "amount", "asset"}));
    r.exclude.clear();
  } else {
    return std::nullopt;
  }
  dedupe(r.accounts);
  dedupe(r.exclude);
  std::erase_if(r.accounts,
                [&](const std::string& a) { return std::binary_search(r.exclude.begin(), r.exclude.end(), a); });
  if (r.accounts.empty() && r.community.empty()) return std::nullopt;
  if (r.draft.title.empty()) r.draft.title = "Notification";
  return r;
}

std::string serialize_request(const Request& r) {
  json::object o{{"kind", to_string(r.draft.kind)},
                 {"title", r.draft.title},
                 {"body", r.draft.body},
                 {"data", r.draft.data_json},
                 {"community_id", r.draft.community_id},
                 {"channel_id", r.draft.channel_id},
                 {"dedup_key", r.draft.dedup_key},
                 {"subject", r.draft.subject},
                 {"actor", r.draft.actor},
                 {"silent", r.draft.silent},
                 {"via", r.draft.via},
                 {"parent_channel_id", r.draft.parent_channel_id},
                 {"accounts", json::array(r.accounts.begin(), r.accounts.end())},
                 {"community", r.community},
                 {"exclude", json::array(r.exclude.begin(), r.exclude.end())}};
  if (r.draft.seq) o["seq"] = *r.draft.seq;
  return json::serialize(o);
}

std::optional<Request> parse_request(std::string_view text) {
  boost::system::error_code ec;
  auto parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const auto& o = parsed.as_object();
  Request r;
  r.draft.kind = parse_kind(str(o, "kind")).value_or(Kind::system);
  r.draft.title = str(o, "title");
  r.draft.body = str(o, "body");
  r.draft.data_json = str(o, "data");
  r.draft.community_id = str(o, "community_id");
  r.draft.channel_id = str(o, "channel_id");
  r.draft.dedup_key = str(o, "dedup_key");
  r.draft.subject = str(o, "subject");
  r.draft.actor = str(o, "actor");
  r.draft.via = str(o, "via");
  r.draft.parent_channel_id = str(o, "parent_channel_id");
  if (const auto* silent = o.if_contains("silent"); silent != nullptr && silent->is_bool()) {
    r.draft.silent = silent->as_bool();
  }
  r.draft.seq = seq_of(o);
  r.community = str(o, "community");
  for (const char* key : {"accounts", "exclude"}) {
    auto& out = std::string_view(key) == "accounts" ? r.accounts : r.exclude;
    if (const auto* a = o.if_contains(key); a != nullptr && a->is_array()) {
      for (const auto& item : a->as_array()) {
        if (item.is_string()) out.emplace_back(item.as_string());
      }
    }
  }
  return r;
}

}  // namespace gh::notify
