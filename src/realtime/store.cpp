#include "realtime/store.hpp"

namespace gh::realtime::sql {

using store::Value;

std::optional<Presence> find_presence(Tx& tx, const std::string& account) {
  auto r = tx.query_one(
      "SELECT status, custom_text, custom_emoji, custom_expires_ms FROM realtime_presence WHERE account = $1",
      {account});
  if (!r) return std::nullopt;
  Presence p;
  p.status = r->get_text("status");
  auto text = r->opt_text("custom_text");
  auto emoji = r->opt_text("custom_emoji");
  if (text || emoji) {
    CustomStatus custom;
    custom.text = text.value_or("");
    custom.emoji = emoji.value_or("");
    if (auto expires = r->opt_int("custom_expires_ms"))
      custom.expires_at = SystemTime(std::chrono::milliseconds(*expires));
    p.custom = std::move(custom);
  }
  return p;
}

void save_presence(Tx& tx, const std::string& account, const Presence& presence, SystemTime now) {
  if (presence == Presence{}) {
    tx.exec("DELETE FROM realtime_presence WHERE account = $1", {account});
    return;
  }
  Value text = nullptr;
  Value emoji = nullptr;
  Value expires = nullptr;
  if (presence.custom) {
    text = presence.custom->text;
    if (!presence.custom->emoji.empty()) emoji = presence.custom->emoji;
    if (presence.custom->expires_at) expires = unix_millis(*presence.custom->expires_at);
  }
  tx.exec(
      "INSERT INTO realtime_presence (account, status, custom_text, custom_emoji, custom_expires_ms, updated_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (account) DO UPDATE SET status = excluded.status, "
      "custom_text = excluded.custom_text, custom_emoji = excluded.custom_emoji, "
      "custom_expires_ms = excluded.custom_expires_ms, updated_ms = excluded.updated_ms",
      {account, presence.status, text, emoji, expires, unix_millis(now)});
}

}  // namespace gh::realtime::sql
