#include "notify/store.hpp"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <set>

#include "store/in_list.hpp"

namespace gh::notify::sql {
namespace {

namespace json = boost::json;
using store::Value;

std::int64_t ms(SystemTime t) {
  return unix_millis(t);
}

SystemTime from_ms(std::int64_t v) {
  return SystemTime(std::chrono::milliseconds(v));
}

Notification to_notification(const store::Row& r) {
  Notification n;
  n.id = r.get_text("id");
  n.account = r.get_text("account");
  n.kind = parse_kind(r.get_text("kind")).value_or(Kind::system);
  n.title = r.get_text("title");
  n.body = r.get_text("body");
  n.data_json = r.get_text("data");
  n.community_id = r.get_text("community_id");
  n.channel_id = r.get_text("channel_id");
  n.subject = r.get_text("subject");
  n.seq = r.opt_int("seq");
  n.created_at = from_ms(r.get_int("created_ms"));
  if (auto read = r.opt_int("read_ms")) n.read_at = from_ms(*read);
  return n;
}

std::string json_list(const std::vector<std::string>& ids) {
  json::array a(ids.begin(), ids.end());
  return json::serialize(a);
}

std::vector<std::string> parse_list(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& item : v.as_array()) {
    if (item.is_string()) out.emplace_back(item.as_string());
  }
  return out;
}

// Multi-row statements: "($1, $2), ($3, $4), ..." for `rows` rows of `width` parameters.
std::string value_tuples(std::size_t rows, std::size_t width) {
  std::string out;
  std::size_t n = 1;
  for (std::size_t r = 0; r < rows; ++r) {
    out += r == 0 ? "(" : ", (";
    for (std::size_t c = 0; c < width; ++c) {
      if (c > 0) out += ", ";
      out += "$" + std::to_string(n++);
    }
    out += ")";
  }
  return out;
}

// SQLite looks numbered parameters up linearly (sqlite3VListNumToName), so a statement's cost
// grows with the square of its parameter count: keep each one to a few hundred.
constexpr std::size_t max_params = 400;
constexpr std::size_t chunk_rows = 200;

// Calls f("$1, $2, ...", params) for each chunk of `ids`; f may append parameters after them.
template <class F>
void for_each_chunk(const std::vector<std::string>& ids, F&& f) {
  store::for_each_in_list(ids, chunk_rows, {}, std::forward<F>(f));
}

Settings settings_from_row(const store::Row& r) {
  Settings s;
  s.muted_channels = parse_list(r.get_text("muted_channels"));
  s.muted_communities = parse_list(r.get_text("muted_communities"));
  s.muted_accounts = parse_list(r.get_text("muted_accounts"));
  s.suppress_everyone = parse_list(r.get_text("suppress_everyone"));
  s.suppress_roles = parse_list(r.get_text("suppress_roles"));
  s.all_messages = parse_list(r.get_text("all_messages"));
  for (const auto& k : parse_list(r.get_text("muted_kinds"))) {
    if (auto kind = parse_kind(k)) s.muted_kinds.push_back(*kind);
  }
  s.dm_previews = r.get_int("dm_previews") != 0;
  s.addm_opt_out = r.get_int("addm_opt_out") != 0;
  auto start = r.opt_int("quiet_start_min");
  auto end = r.opt_int("quiet_end_min");
  if (start && end)
    s.quiet_hours = QuietHours{static_cast<int>(*start), static_cast<int>(*end), r.get_text("time_zone")};
  return s;
}

constexpr const char* settings_columns =
    "account, muted_channels, muted_communities, muted_kinds, muted_accounts, dm_previews, addm_opt_out, "
    "quiet_start_min, quiet_end_min, time_zone, suppress_everyone, suppress_roles, all_messages";

constexpr const char* notification_columns =
    "id, account, kind, title, body, data, community_id, channel_id, subject, seq, created_ms, read_ms";

Value optional_int(const std::optional<std::int64_t>& v) {
  return v ? Value(*v) : Value(nullptr);
}

Value optional_ms(const std::optional<SystemTime>& t) {
  return t ? Value(ms(*t)) : Value(nullptr);
}

}  // namespace

bool insert_notification(Tx& tx, const Notification& n, const std::string& dedup_key) {
  return tx.exec(
             "INSERT INTO notify_notifications (id, account, kind, title, body, data, community_id, channel_id, "
             "dedup_key, subject, seq, created_ms, read_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "
             "$13) ON CONFLICT DO NOTHING",
             {n.id, n.account, std::string(to_string(n.kind)), n.title, n.body, n.data_json, n.community_id,
              n.channel_id, dedup_key, n.subject, optional_int(n.seq), ms(n.created_at), optional_ms(n.read_at)}) == 1;
}

std::vector<std::string> insert_notifications(Tx& tx, const std::vector<std::pair<Notification, std::string>>& rows) {
  std::vector<std::string> inserted;
  constexpr std::size_t width = 13;
  constexpr std::size_t per = max_params / width;
  for (std::size_t from = 0; from < rows.size(); from += per) {
    const std::size_t n = std::min(per, rows.size() - from);
    std::vector<Value> params;
    params.reserve(n * width);
    for (std::size_t i = 0; i < n; ++i) {
      const auto& [note, dedup] = rows[from + i];
      params.emplace_back(note.id);
      params.emplace_back(note.account);
      params.emplace_back(std::string(to_string(note.kind)));
      params.emplace_back(note.title);
      params.emplace_back(note.body);
      params.emplace_back(note.data_json);
      params.emplace_back(note.community_id);
      params.emplace_back(note.channel_id);
      params.emplace_back(dedup);
      params.emplace_back(note.subject);
      params.push_back(optional_int(note.seq));
      params.emplace_back(ms(note.created_at));
      params.push_back(optional_ms(note.read_at));
    }
    const std::string sql =
        "INSERT INTO notify_notifications (id, account, kind, title, body, data, community_id, channel_id, dedup_key, "
        "subject, seq, created_ms, read_ms) VALUES " +
        value_tuples(n, width) + " ON CONFLICT DO NOTHING RETURNING id";
    for (const auto& r : tx.query(sql, params)) inserted.push_back(r.get_text(0));
  }
  return inserted;
}

std::optional<Notification> find_notification(Tx& tx, const std::string& id) {
  auto row =
      tx.query_one(std::string("SELECT ") + notification_columns + " FROM notify_notifications WHERE id = $1", {id});
  if (!row) return std::nullopt;
  return to_notification(*row);
}

std::vector<Notification> list_notifications(Tx& tx, const std::string& account, const std::optional<Cursor>& before,
                                             const ListFilter& filter, std::size_t limit) {
  std::string sql = std::string("SELECT ") + notification_columns + " FROM notify_notifications WHERE account = $1";
  std::vector<Value> params;
  params.reserve(4 + filter.kinds.size());
  params.emplace_back(account);
  const auto next = [&] { return "$" + std::to_string(params.size() + 1); };
  if (before) {
    const auto at = next();
    sql += " AND (created_ms < " + at + " OR (created_ms = " + at + " AND id < $" + std::to_string(params.size() + 2) +
           "))";
    params.emplace_back(before->created_ms);
    params.emplace_back(before->id);
  }
  if (!filter.kinds.empty()) {
    sql += " AND kind IN (";
    for (std::size_t i = 0; i < filter.kinds.size(); ++i) {
      sql += (i == 0 ? "" : ", ") + next();
      params.emplace_back(std::string(to_string(filter.kinds[i])));
    }
    sql += ")";
  }
  if (!filter.community_id.empty()) {
    sql += " AND community_id = " + next();
    params.emplace_back(filter.community_id);
  }
  if (filter.unread_only) sql += " AND read_ms IS NULL";
  sql += " ORDER BY created_ms DESC, id DESC LIMIT " + std::to_string(limit);
  std::vector<Notification> out;
  for (const auto& r : tx.query(sql, params)) out.push_back(to_notification(r));
  return out;
}

std::vector<std::string> mark_read(Tx& tx, const std::string& account, const std::vector<std::string>& ids,
                                   SystemTime now) {
  std::vector<std::string> changed;
  for_each_chunk(ids, [&](const std::string& in_list, std::vector<Value>& params) {
    const auto n = params.size();
    params.emplace_back(account);
    params.emplace_back(ms(now));
    for (const auto& r :
         tx.query("UPDATE notify_notifications SET read_ms = $" + std::to_string(n + 2) + " WHERE id IN (" + in_list +
                      ") AND account = $" + std::to_string(n + 1) + " AND read_ms IS NULL RETURNING id",
                  params)) {
      changed.push_back(r.get_text(0));
    }
  });
  return changed;
}

std::vector<std::string> mark_read_through(Tx& tx, const std::string& account, const std::string& channel_id,
                                           std::int64_t seq, SystemTime now) {
  std::vector<std::string> changed;
  for (const auto& r : tx.query("UPDATE notify_notifications SET read_ms = $4 WHERE account = $1 AND channel_id = $2 "
                                "AND read_ms IS NULL AND seq IS NOT NULL AND seq <= $3 RETURNING id",
                                {account, channel_id, seq, ms(now)})) {
    changed.push_back(r.get_text(0));
  }
  return changed;
}

void upsert_read_through(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                         SystemTime now) {
  tx.exec_deferred(
      "INSERT INTO notify_read_through (account, channel_id, seq, updated_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (account, channel_id) DO UPDATE SET seq = excluded.seq, updated_ms = excluded.updated_ms "
      "WHERE notify_read_through.seq < excluded.seq",
      {account, channel_id, seq, ms(now)});
}

std::int64_t mark_all_read(Tx& tx, const std::string& account, SystemTime now) {
  return tx.exec("UPDATE notify_notifications SET read_ms = $2 WHERE account = $1 AND read_ms IS NULL",
                 {account, ms(now)});
}

std::int64_t unread_count(Tx& tx, const std::string& account) {
  auto row =
      tx.query_one("SELECT count(*) AS n FROM notify_notifications WHERE account = $1 AND read_ms IS NULL", {account});
  return row ? row->get_int("n") : 0;
}

std::map<std::string, std::int64_t> unread_counts(Tx& tx, const std::vector<std::string>& accounts) {
  std::map<std::string, std::int64_t> out;
  for (const auto& a : accounts) out[a] = 0;
  for_each_chunk(accounts, [&](const std::string& in_list, const std::vector<Value>& params) {
    for (const auto& r : tx.query("SELECT account, count(*) AS n FROM notify_notifications WHERE account IN (" +
                                      in_list + ") AND read_ms IS NULL GROUP BY account",
                                  params)) {
      out[r.get_text("account")] = r.get_int("n");
    }
  });
  return out;
}

std::optional<Settings> find_settings(Tx& tx, const std::string& account) {
  auto r =
      tx.query_one(std::string("SELECT ") + settings_columns + " FROM notify_settings WHERE account = $1", {account});
  if (!r) return std::nullopt;
  return settings_from_row(*r);
}

DraftReads draft_reads(Tx& tx, const std::string& subject, const std::string& channel_id,
                       const std::vector<std::string>& accounts) {
  static const std::string withdrawn = "SELECT 1 AS one FROM notify_withdrawn WHERE subject = $1";
  // Per chunk of accounts: their settings, then (with a channel) how far they read it. The texts and
  // parameters live until query_all returns.
  std::vector<std::string> texts;
  std::vector<std::vector<Value>> params;
  for_each_chunk(accounts, [&](const std::string& in_list, const std::vector<Value>& chunk) {
    texts.push_back(std::string("SELECT ") + settings_columns + " FROM notify_settings WHERE account IN (" + in_list +
                    ")");
    params.push_back(chunk);
    if (channel_id.empty()) return;
    params.push_back(chunk);
    params.back().emplace_back(channel_id);
    texts.push_back("SELECT account, seq FROM notify_read_through WHERE account IN (" + in_list +
                    ") AND channel_id = $" + std::to_string(params.back().size()));
  });
  const Value by_subject[] = {subject};
  std::vector<Tx::Statement> statements;
  statements.reserve(texts.size() + 1);
  if (!subject.empty()) statements.push_back({withdrawn, by_subject});
  for (std::size_t i = 0; i < texts.size(); ++i) statements.push_back({texts[i], params[i]});
  DraftReads out;
  if (statements.empty()) return out;
  const auto rows = tx.query_all(statements);
  std::size_t next = 0;
  if (!subject.empty()) out.withdrawn = !rows[next++].empty();
  while (next < rows.size()) {
    for (const auto& r : rows[next]) out.settings.emplace(r.get_text("account"), settings_from_row(r));
    ++next;
    if (channel_id.empty()) continue;
    for (const auto& r : rows[next]) out.read[r.get_text("account")] = r.get_int("seq");
    ++next;
  }
  return out;
}

void upsert_settings(Tx& tx, const std::string& account, const Settings& s, SystemTime now) {
  std::vector<std::string> kinds;
  for (auto k : s.muted_kinds) kinds.emplace_back(to_string(k));
  Value start = nullptr;
  Value end = nullptr;
  std::string zone = "UTC";
  if (s.quiet_hours) {
    start = std::int64_t{s.quiet_hours->start_min};
    end = std::int64_t{s.quiet_hours->end_min};
    zone = s.quiet_hours->time_zone;
  }
  tx.exec(
      "INSERT INTO notify_settings (account, muted_channels, muted_communities, muted_kinds, dm_previews, "
      "addm_opt_out, quiet_start_min, quiet_end_min, time_zone, updated_ms, muted_accounts, suppress_everyone, "
      "suppress_roles, all_messages) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) "
      "ON CONFLICT (account) DO UPDATE SET muted_channels = excluded.muted_channels, "
      "muted_communities = excluded.muted_communities, muted_kinds = excluded.muted_kinds, "
      "muted_accounts = excluded.muted_accounts, suppress_everyone = excluded.suppress_everyone, "
      "suppress_roles = excluded.suppress_roles, all_messages = excluded.all_messages, "
      "dm_previews = excluded.dm_previews, addm_opt_out = excluded.addm_opt_out, "
      "quiet_start_min = excluded.quiet_start_min, quiet_end_min = excluded.quiet_end_min, "
      "time_zone = excluded.time_zone, updated_ms = excluded.updated_ms",
      {account, json_list(s.muted_channels), json_list(s.muted_communities), json_list(kinds),
       std::int64_t{s.dm_previews ? 1 : 0}, std::int64_t{s.addm_opt_out ? 1 : 0}, start, end, zone, ms(now),
       json_list(s.muted_accounts), json_list(s.suppress_everyone), json_list(s.suppress_roles),
       json_list(s.all_messages)});
}

void set_followed_channels(Tx& tx, const std::string& account, const std::vector<std::string>& channels,
                           SystemTime now) {
  // Those it no longer follows go; those it followed keep their place in each channel's order;
  // only the new ones are written (a repeated list writes nothing).
  std::vector<std::string> dropped;
  std::set<std::string> kept;
  for (const auto& r : tx.query("SELECT channel_id FROM notify_channel_followers WHERE account = $1", {account})) {
    auto id = r.get_text(0);
    if (std::find(channels.begin(), channels.end(), id) == channels.end()) {
      dropped.push_back(std::move(id));
    } else {
      kept.insert(std::move(id));
    }
  }
  for_each_chunk(dropped, [&](const std::string& in_list, std::vector<Value>& params) {
    params.emplace_back(account);
    tx.exec("DELETE FROM notify_channel_followers WHERE channel_id IN (" + in_list + ") AND account = $" +
                std::to_string(params.size()),
            params);
  });
  for (const auto& id : channels) {
    if (kept.count(id) > 0) continue;
    tx.exec(
        "INSERT INTO notify_channel_followers (channel_id, account, created_ms) VALUES ($1, $2, $3) "
        "ON CONFLICT DO NOTHING",
        {id, account, ms(now)});
  }
}

std::vector<std::string> channel_followers(Tx& tx, const std::string& channel_id, std::size_t limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.query("SELECT account FROM notify_channel_followers WHERE channel_id = $1 "
                                "ORDER BY created_ms, account LIMIT $2",
                                {channel_id, static_cast<std::int64_t>(limit)}))
    out.push_back(r.get_text(0));
  return out;
}

void insert_job(Tx& tx, const std::string& id, const std::string& payload, SystemTime now) {
  tx.exec_deferred(
      "INSERT INTO notify_jobs (id, payload, cursor, expanded, done, created_ms) VALUES ($1, $2, '', 0, 0, $3) "
      "ON CONFLICT DO NOTHING",
      {id, payload, ms(now)});
}

Queued next_queued(Tx& tx, std::size_t jobs, std::size_t told, SystemTime now) {
  // The oldest of each queue, at most $1; whether a delivery is due.
  static const std::string next_jobs =
      "SELECT id, payload, cursor, expanded FROM notify_jobs WHERE done = 0 ORDER BY created_ms, id LIMIT $1";
  static const std::string due = "SELECT 1 AS one FROM notify_deliveries WHERE lease_ms <= $1 LIMIT 1";
  static const std::string next_removals =
      "SELECT notification_id, account FROM notify_removals ORDER BY created_ms, notification_id LIMIT $1";
  static const std::string next_reads =
      "SELECT account, notification_id FROM notify_reads ORDER BY created_ms, account, notification_id LIMIT $1";
  const Value jobs_limit[] = {static_cast<std::int64_t>(jobs)};
  const Value told_limit[] = {static_cast<std::int64_t>(told)};
  const Value at[] = {ms(now)};
  const Tx::Statement statements[] = {
      {next_jobs, jobs_limit}, {due, at}, {next_removals, told_limit}, {next_reads, told_limit}};
  const auto rows = tx.query_all(statements);
  Queued out;
  for (const auto& r : rows[0])
    out.jobs.push_back(JobRow{r.get_text("id"), r.get_text("payload"), r.get_text("cursor"), r.get_int("expanded")});
  out.deliveries_due = !rows[1].empty();
  for (const auto& r : rows[2]) out.removals.push_back({r.get_text("notification_id"), r.get_text("account")});
  for (const auto& r : rows[3]) out.reads.push_back({r.get_text("account"), r.get_text("notification_id")});
  return out;
}

void update_job(Tx& tx, const std::string& id, const std::string& cursor, std::int64_t expanded, bool done) {
  tx.exec_deferred("UPDATE notify_jobs SET cursor = $2, expanded = $3, done = $4 WHERE id = $1",
                   {id, cursor, expanded, std::int64_t{done ? 1 : 0}});
}

std::int64_t pending_jobs(Tx& tx) {
  auto r = tx.query_one("SELECT count(*) AS n FROM notify_jobs WHERE done = 0");
  return r ? r->get_int("n") : 0;
}

void insert_delivery(Tx& tx, const DeliveryRow& row, SystemTime now) {
  tx.exec_deferred(
      "INSERT INTO notify_deliveries (notification_id, account, created_ms, lease_ms, push) VALUES ($1, $2, $3, $3, "
      "$4) "
      "ON CONFLICT DO NOTHING",
      {row.notification_id, row.account, ms(now), std::int64_t{row.push ? 1 : 0}});
}

void insert_deliveries(Tx& tx, const std::vector<DeliveryRow>& rows, SystemTime now) {
  constexpr std::size_t per = max_params / 5;
  for (std::size_t from = 0; from < rows.size(); from += per) {
    const std::size_t n = std::min(per, rows.size() - from);
    std::vector<Value> params;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& d = rows[from + i];
      params.emplace_back(d.notification_id);
      params.emplace_back(d.account);
      params.emplace_back(ms(now));
      params.emplace_back(ms(now));  // due from its creation
      params.emplace_back(std::int64_t{d.push ? 1 : 0});
    }
    tx.exec_deferred("INSERT INTO notify_deliveries (notification_id, account, created_ms, lease_ms, push) VALUES " +
                         value_tuples(n, 5) + " ON CONFLICT DO NOTHING",
                     params);
  }
}

std::vector<DeliveryRow> claim_deliveries(Tx& tx, SystemTime now, SystemTime lease_until, std::size_t limit) {
  // In the order they fell due: a new delivery at its creation, a claimed one when its lease ran
  // out. That is the order of the (lease_ms, created_ms) index, so the claim reads `limit` rows of
  // it, not every due row, however long the backlog.
  std::string sql =
      "SELECT notification_id, account, push FROM notify_deliveries WHERE lease_ms <= $1 ORDER BY lease_ms, "
      "created_ms, notification_id LIMIT " +
      std::to_string(limit);
  // Several workers (or nodes) never take the same rows on PostgreSQL; SQLite has one writer.
  if (tx.dialect() == store::Dialect::postgres) sql += " FOR UPDATE SKIP LOCKED";
  std::vector<DeliveryRow> out;
  for (const auto& r : tx.query(sql, {ms(now)})) {
    out.push_back({r.get_text("notification_id"), r.get_text("account"), r.get_int("push") != 0});
  }
  std::vector<std::string> ids;
  ids.reserve(out.size());
  for (const auto& d : out) ids.push_back(d.notification_id);
  for_each_chunk(ids, [&](const std::string& in_list, std::vector<Value>& params) {
    params.emplace_back(ms(lease_until));
    tx.exec_deferred("UPDATE notify_deliveries SET lease_ms = $" + std::to_string(params.size()) +
                         " WHERE notification_id IN (" + in_list + ")",
                     params);
  });
  return out;
}

void delete_deliveries(Tx& tx, const std::vector<std::string>& notification_ids) {
  for_each_chunk(notification_ids, [&](const std::string& in_list, std::vector<Value>& params) {
    tx.exec_deferred("DELETE FROM notify_deliveries WHERE notification_id IN (" + in_list + ")", params);
  });
}

void delete_deliveries_read_at(Tx& tx, const std::string& account, SystemTime read_at) {
  tx.exec_deferred(
      "DELETE FROM notify_deliveries WHERE notification_id IN (SELECT id FROM notify_notifications WHERE read_ms = $2 "
      "AND account = $1)",
      {account, ms(read_at)});
}

std::vector<Notification> find_notifications(Tx& tx, const std::vector<std::string>& ids) {
  std::vector<Notification> out;
  for_each_chunk(ids, [&](const std::string& in_list, std::vector<Value>& params) {
    for (const auto& r : tx.query(
             std::string("SELECT ") + notification_columns + " FROM notify_notifications WHERE id IN (" + in_list + ")",
             params))
      out.push_back(to_notification(r));
  });
  return out;
}

void delete_delivery(Tx& tx, const std::string& notification_id) {
  tx.exec_deferred("DELETE FROM notify_deliveries WHERE notification_id = $1", {notification_id});
}

std::int64_t pending_deliveries(Tx& tx) {
  auto r = tx.query_one("SELECT count(*) AS n FROM notify_deliveries");
  return r ? r->get_int("n") : 0;
}

void insert_attempt(Tx& tx, const AttemptRow& a) {
  tx.exec_deferred(
      "INSERT INTO notify_attempts (notification_id, device_id, channel, outcome, retries, status, detail, created_ms) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {a.notification_id, a.device_id, a.channel, a.outcome, a.retries, a.status, a.detail, ms(a.at)});
}

void insert_attempts(Tx& tx, const std::vector<AttemptRow>& rows) {
  constexpr std::size_t per = max_params / 8;
  for (std::size_t from = 0; from < rows.size(); from += per) {
    const std::size_t n = std::min(per, rows.size() - from);
    std::vector<Value> params;
    for (std::size_t i = 0; i < n; ++i) {
      const auto& a = rows[from + i];
      params.emplace_back(a.notification_id);
      params.emplace_back(a.device_id);
      params.emplace_back(a.channel);
      params.emplace_back(a.outcome);
      params.emplace_back(a.retries);
      params.emplace_back(a.status);
      params.emplace_back(a.detail);
      params.emplace_back(ms(a.at));
    }
    tx.exec_deferred(
        "INSERT INTO notify_attempts (notification_id, device_id, channel, outcome, retries, status, detail, "
        "created_ms) VALUES " +
            value_tuples(n, 8),
        params);
  }
}

std::vector<AttemptRow> attempts_for(Tx& tx, const std::string& notification_id) {
  std::vector<AttemptRow> out;
  for (const auto& r :
       tx.query("SELECT notification_id, device_id, channel, outcome, retries, status, detail, created_ms "
                "FROM notify_attempts WHERE notification_id = $1 ORDER BY created_ms, device_id, channel",
                {notification_id})) {
    out.push_back({r.get_text("notification_id"), r.get_text("device_id"), r.get_text("channel"), r.get_text("outcome"),
                   r.get_int("retries"), r.get_int("status"), r.get_text("detail"), from_ms(r.get_int("created_ms"))});
  }
  return out;
}

std::vector<std::pair<std::string, std::int64_t>> attempt_outcomes(Tx& tx) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& r : tx.query(
           "SELECT channel, outcome, count(*) AS n FROM notify_attempts GROUP BY channel, outcome ORDER BY channel, "
           "outcome")) {
    out.emplace_back(r.get_text("channel") + "/" + r.get_text("outcome"), r.get_int("n"));
  }
  return out;
}

void insert_withdrawn(Tx& tx, const std::string& subject, SystemTime now) {
  tx.exec_deferred("INSERT INTO notify_withdrawn (subject, created_ms) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                   {subject, ms(now)});
}

std::vector<RemovalRow> notifications_about(Tx& tx, const std::string& subject, std::string_view kind) {
  std::vector<RemovalRow> out;
  const auto rows =
      kind.empty()
          ? tx.query("SELECT id, account FROM notify_notifications WHERE subject = $1 ORDER BY id", {subject})
          : tx.query("SELECT id, account FROM notify_notifications WHERE subject = $1 AND kind = $2 ORDER BY id",
                     {subject, std::string(kind)});
  for (const auto& r : rows) out.push_back({r.get_text("id"), r.get_text("account")});
  return out;
}

void delete_notifications(Tx& tx, const std::vector<std::string>& ids) {
  for_each_chunk(ids, [&](const std::string& in_list, std::vector<Value>& params) {
    tx.exec_deferred("DELETE FROM notify_notifications WHERE id IN (" + in_list + ")", params);
  });
}

std::int64_t update_body_about(Tx& tx, const std::string& subject, const std::string& body) {
  return tx.exec("UPDATE notify_notifications SET body = $2 WHERE subject = $1", {subject, body});
}

namespace {

// Queues (notification id, account) rows in `table` (notify_removals, notify_reads) for the
// router to tell the accounts' sockets, a few hundred per statement; a row queued already stays.
void queue_for_sockets(Tx& tx, const std::string& table, const std::vector<RemovalRow>& rows, SystemTime now) {
  constexpr std::size_t per = max_params / 3;
  for (std::size_t from = 0; from < rows.size(); from += per) {
    const std::size_t n = std::min(per, rows.size() - from);
    std::vector<Value> params;
    params.reserve(n * 3);
    for (std::size_t i = 0; i < n; ++i) {
      params.emplace_back(rows[from + i].notification_id);
      params.emplace_back(rows[from + i].account);
      params.emplace_back(ms(now));
    }
    tx.exec_deferred("INSERT INTO " + table + " (notification_id, account, created_ms) VALUES " + value_tuples(n, 3) +
                         " ON CONFLICT DO NOTHING",
                     params);
  }
}

}  // namespace

void insert_removals(Tx& tx, const std::vector<RemovalRow>& rows, SystemTime now) {
  queue_for_sockets(tx, "notify_removals", rows, now);
}

void delete_removals(Tx& tx, const std::vector<std::string>& notification_ids) {
  for_each_chunk(notification_ids, [&](const std::string& in_list, std::vector<Value>& params) {
    tx.exec_deferred("DELETE FROM notify_removals WHERE notification_id IN (" + in_list + ")", params);
  });
}

void insert_reads(Tx& tx, const std::string& account, const std::vector<std::string>& ids, SystemTime now) {
  std::vector<RemovalRow> rows;
  rows.reserve(ids.size());
  for (const auto& id : ids) rows.push_back({id, account});
  queue_for_sockets(tx, "notify_reads", rows, now);
}

void delete_reads(Tx& tx, const std::vector<ReadRow>& rows) {
  for (const auto& r : rows) {
    tx.exec_deferred("DELETE FROM notify_reads WHERE account = $1 AND notification_id = $2",
                     {r.account, r.notification_id});
  }
}

std::int64_t purge(Tx& tx, Retained what, SystemTime before, std::size_t limit) {
  const std::vector<Value> params{ms(before), static_cast<std::int64_t>(limit)};
  switch (what) {
    case Retained::attempts:
      // Attempts have no key: the row's own address (ctid, rowid) names it.
      if (tx.dialect() == store::Dialect::postgres) {
        return tx.exec(
            "DELETE FROM notify_attempts WHERE ctid = ANY(ARRAY(SELECT ctid FROM notify_attempts WHERE created_ms < $1 "
            "LIMIT $2))",
            params);
      }
      return tx.exec(
          "DELETE FROM notify_attempts WHERE rowid IN (SELECT rowid FROM notify_attempts WHERE created_ms < $1 LIMIT "
          "$2)",
          params);
    case Retained::read_notifications:
      return tx.exec(
          "DELETE FROM notify_notifications WHERE id IN (SELECT id FROM notify_notifications WHERE read_ms IS NOT NULL "
          "AND read_ms < $1 LIMIT $2)",
          params);
    case Retained::notifications:
      return tx.exec(
          "DELETE FROM notify_notifications WHERE id IN (SELECT id FROM notify_notifications WHERE created_ms < $1 "
          "LIMIT $2)",
          params);
    case Retained::finished_jobs:
      return tx.exec(
          "DELETE FROM notify_jobs WHERE id IN (SELECT id FROM notify_jobs WHERE done = 1 AND created_ms < $1 LIMIT "
          "$2)",
          params);
    case Retained::withdrawn:
      return tx.exec(
          "DELETE FROM notify_withdrawn WHERE subject IN (SELECT subject FROM notify_withdrawn WHERE created_ms < $1 "
          "LIMIT $2)",
          params);
    case Retained::removals:
      return tx.exec(
          "DELETE FROM notify_removals WHERE notification_id IN (SELECT notification_id FROM notify_removals WHERE "
          "created_ms < $1 LIMIT $2)",
          params);
    case Retained::reads:
      return tx.exec(
          "DELETE FROM notify_reads WHERE (account, notification_id) IN (SELECT account, notification_id FROM "
          "notify_reads WHERE created_ms < $1 LIMIT $2)",
          params);
    case Retained::read_through:
      return tx.exec(
          "DELETE FROM notify_read_through WHERE (account, channel_id) IN (SELECT account, channel_id FROM "
          "notify_read_through WHERE updated_ms < $1 LIMIT $2)",
          params);
  }
  return 0;
}

}  // namespace gh::notify::sql
