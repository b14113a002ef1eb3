#include "messaging/store.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>
#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "store/text_list.hpp"

namespace gh::messaging::sql {
namespace {

SystemTime from_ms(std::int64_t v) {
  return SystemTime(std::chrono::milliseconds(v));
}

bool pg(const Tx& tx) {
  return tx.dialect() == store::Dialect::postgres;
}

// Appends `values` to `params` and returns their placeholders, "$n, $n+1, ...", for an IN list.
template <typename It>
std::string add_in_list(std::vector<store::Value>& params, It first, It last) {
  std::string in;
  for (; first != last; ++first) {
    params.emplace_back(*first);
    in += (in.empty() ? "$" : ", $") + std::to_string(params.size());
  }
  return in;
}

constexpr const char* columns =
    "id, channel_id, seq, author, client_id, body, reply_to, mentions, mention_roles, created_ms, edited_ms, "
    "deleted_ms, change_seq, flags, system_kind, system_data, forward";
// The same, from msg_messages as m in a join.
constexpr const char* qualified_columns =
    "m.id, m.channel_id, m.seq, m.author, m.client_id, m.body, m.reply_to, m.mentions, m.mention_roles, "
    "m.created_ms, m.edited_ms, m.deleted_ms, m.change_seq, m.flags, m.system_kind, m.system_data, m.forward";

// msg_messages.flags (migration 0009).
constexpr std::int64_t flag_silent = 1;

// msg_messages.forward (migration 0012): the snapshot as stored.
std::string stored_forward(const ForwardSnapshot& f) {
  return boost::json::serialize(boost::json::object{{"channel_id", f.channel_id},
                                                    {"seq", f.seq},
                                                    {"author", eth::to_lower_hex(f.author)},
                                                    {"body", f.body},
                                                    {"created_ms", unix_millis(f.created_at)}});
}

std::optional<ForwardSnapshot> forward_of(std::string_view text) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto& o = v.as_object();
  const auto* channel = o.if_contains("channel_id");
  const auto* seq = o.if_contains("seq");
  const auto* author = o.if_contains("author");
  const auto* body = o.if_contains("body");
  const auto* created = o.if_contains("created_ms");
  if (channel == nullptr || !channel->is_string() || seq == nullptr || !seq->is_int64() || author == nullptr ||
      !author->is_string() || body == nullptr || !body->is_string() || created == nullptr || !created->is_int64()) {
    return std::nullopt;
  }
  auto address = eth::parse_address(std::string_view(author->as_string()));
  if (!address) return std::nullopt;
  return ForwardSnapshot{std::string(channel->as_string()), seq->as_int64(), *address, std::string(body->as_string()),
                         from_ms(created->as_int64())};
}

Message message_of(const store::Row& r) {
  Message m;
  m.id = r.get_text(0);
  m.channel_id = r.get_text(1);
  m.seq = r.get_int(2);
  m.author = stored_address(r.get_text(3));
  m.client_id = r.get_text(4);
  m.body = r.get_text(5);
  m.reply_to = r.opt_int(6);
  for (const auto& a : gh::store::split_text_list(r.get_text(7))) {
    if (auto address = eth::parse_address(a)) m.mentions.push_back(*address);
  }
  m.mention_roles = gh::store::split_text_list(r.get_text(8));
  m.created_at = from_ms(r.get_int(9));
  if (auto e = r.opt_int(10)) m.edited_at = from_ms(*e);
  if (auto d = r.opt_int(11)) m.deleted_at = from_ms(*d);
  m.change = r.get_int(12);
  m.silent = (r.get_int(13) & flag_silent) != 0;
  if (!r.is_null(14)) {
    SystemInfo system;
    system.kind = r.get_text(14);
    if (!r.is_null(15)) {
      boost::system::error_code ec;
      auto data = boost::json::parse(r.get_text(15), ec);
      if (!ec && data.is_object()) system.data = std::move(data.as_object());
    }
    m.system = std::move(system);
  }
  if (!r.is_null(16)) m.forward = forward_of(r.get_text(16));
  return m;
}

std::vector<Message> messages_of(const store::Rows& rows) {
  std::vector<Message> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(message_of(r));
  return out;
}

std::string lower_list(const std::vector<eth::Address>& accounts) {
  std::vector<std::string> hex;
  hex.reserve(accounts.size());
  for (const auto& a : accounts) hex.push_back(eth::to_lower_hex(a));
  return gh::store::join_text_list(hex);
}

// The terms as one JSON array parameter: one statement of one shape whatever their number, and
// one round trip on PostgreSQL.
std::string terms_json(const std::vector<std::string>& terms) {
  boost::json::array list;
  list.reserve(terms.size());
  for (const auto& t : terms) list.emplace_back(t);
  return boost::json::serialize(list);
}

// next_seq's statement, in the backend's dialect. `once`: the same, but neither numbered nor
// returned when the author ($3) stored a message with that client id ($4) in the channel.
const std::string& next_seq_statement(const Tx& tx, bool once = false) {
  static const auto text = [](std::string_view greatest, std::string_view values) {
    return fmt::format(
        "INSERT INTO msg_channels (channel_id, last_seq, last_ms) {} ON CONFLICT (channel_id) DO UPDATE SET "
        "last_seq = msg_channels.last_seq + 1, last_ms = {}(msg_channels.last_ms, excluded.last_ms) RETURNING "
        "last_seq, last_ms",
        values, greatest);
  };
  static constexpr std::string_view always = "VALUES ($1, 1, $2)";
  static constexpr std::string_view unless_stored =
      "SELECT $1, 1, $2 WHERE NOT EXISTS (SELECT 1 FROM msg_messages WHERE channel_id = $1 AND author = $3 AND "
      "client_id = $4)";
  static const std::string postgres = text("GREATEST", always);
  static const std::string sqlite = text("max", always);
  static const std::string postgres_once = text("GREATEST", unless_stored);
  static const std::string sqlite_once = text("max", unless_stored);
  if (once) return pg(tx) ? postgres_once : sqlite_once;
  return pg(tx) ? postgres : sqlite;
}

}  // namespace

eth::Address stored_address(const std::string& text) {
  auto address = eth::parse_address(text);
  if (!address) throw store::DbError(store::DbErrorKind::other, "", "messaging: a stored account is not an address");
  return *address;
}

std::pair<std::int64_t, std::int64_t> next_seq(Tx& tx, const std::string& channel_id, std::int64_t now_ms) {
  auto row = tx.query_one(next_seq_statement(tx), {channel_id, now_ms});
  return {row->get_int(0), row->get_int(1)};
}

PostStart start_post(Tx& tx, const std::string& channel_id, const std::string& author, const std::string& client_id,
                     std::int64_t now_ms, std::optional<std::int64_t> reply_to) {
  static const std::string stored =
      std::string("SELECT ") + columns + " FROM msg_messages WHERE channel_id = $1 AND author = $2 AND client_id = $3";
  static const std::string marker = "SELECT last_read_seq FROM msg_read_markers WHERE account = $1 AND channel_id = $2";
  static const std::string parent =
      std::string("SELECT ") + columns + " FROM msg_messages WHERE channel_id = $1 AND seq = $2";
  const store::Value stored_params[] = {channel_id, author, client_id};
  const store::Value seq_params[] = {channel_id, now_ms, author, client_id};
  const store::Value marker_params[] = {author, channel_id};
  const store::Value parent_params[] = {channel_id, reply_to.value_or(0)};
  std::vector<Tx::Statement> statements{
      {stored, stored_params}, {next_seq_statement(tx, true), seq_params}, {marker, marker_params}};
  if (reply_to) statements.push_back({parent, parent_params});
  const auto rows = tx.query_all(statements);
  PostStart out;
  if (!rows[0].empty()) {
    out.stored = message_of(rows[0][0]);
    return out;
  }
  if (rows[1].empty()) {
    // Stored by a transaction that committed between the two statements: the transaction runs
    // again and finds it.
    throw store::DbError(store::DbErrorKind::serialization_failure, "40001",
                         "a message with this client id was stored meanwhile");
  }
  out.seq = rows[1][0].get_int(0);
  out.created_ms = rows[1][0].get_int(1);
  if (!rows[2].empty()) out.read_before = rows[2][0].get_int(0);
  if (reply_to && !rows[3].empty()) out.parent = message_of(rows[3][0]);
  return out;
}

std::int64_t mark_changed(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  auto row = tx.query_one(
      "INSERT INTO msg_channels (channel_id, last_seq, last_change) VALUES ($1, 0, 1) "
      "ON CONFLICT (channel_id) DO UPDATE SET last_change = msg_channels.last_change + 1 RETURNING last_change",
      {channel_id});
  const auto change = row->get_int(0);
  tx.exec("UPDATE msg_messages SET change_seq = $3 WHERE channel_id = $1 AND seq = $2", {channel_id, seq, change});
  return change;
}

std::int64_t last_change(Tx& tx, const std::string& channel_id) {
  auto row = tx.query_one("SELECT last_change FROM msg_channels WHERE channel_id = $1", {channel_id});
  return row ? row->get_int(0) : 0;
}

std::pair<std::int64_t, std::int64_t> head_and_change(Tx& tx, const std::string& channel_id) {
  auto row = tx.query_one("SELECT last_seq, last_change FROM msg_channels WHERE channel_id = $1", {channel_id});
  if (!row) return {0, 0};
  return {row->get_int(0), row->get_int(1)};
}

std::vector<Message> changed_after(Tx& tx, const std::string& channel_id, std::int64_t after_change,
                                   std::size_t limit) {
  return messages_of(tx.query(std::string("SELECT ") + columns +
                                  " FROM msg_messages WHERE channel_id = $1 AND change_seq > $2 ORDER BY change_seq "
                                  "LIMIT $3",
                              {channel_id, after_change, static_cast<std::int64_t>(limit)}));
}

std::int64_t head(Tx& tx, const std::string& channel_id) {
  auto row = tx.query_one("SELECT last_seq FROM msg_channels WHERE channel_id = $1", {channel_id});
  return row ? row->get_int(0) : 0;
}

void insert_message(Tx& tx, const Message& m) {
  store::Value reply = nullptr;
  if (m.reply_to) reply = *m.reply_to;
  // Deferred: the insert travels with the post's next statement (its unique violation, a client
  // id that raced itself, fails that one as it would have failed here).
  tx.exec_deferred(
      "INSERT INTO msg_messages (id, channel_id, seq, author, client_id, body, reply_to, mentions, mention_roles, "
      "created_ms, flags, system_kind, system_data, forward) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
      "$12, "
      "$13, $14)",
      {m.id, m.channel_id, m.seq, eth::to_lower_hex(m.author), m.client_id, m.body, reply, lower_list(m.mentions),
       gh::store::join_text_list(m.mention_roles), unix_millis(m.created_at), m.silent ? flag_silent : 0,
       m.system ? store::Value(m.system->kind) : store::Value(nullptr),
       m.system ? store::Value(boost::json::serialize(m.system->data)) : store::Value(nullptr),
       m.forward ? store::Value(stored_forward(*m.forward)) : store::Value(nullptr)});
  // A thread counts its messages (Discord's message_count) as they are written and deleted.
  if (is_thread_id(m.channel_id)) {
    tx.exec_deferred("UPDATE msg_threads SET message_count = message_count + 1 WHERE id = $1", {m.channel_id});
  }
}

std::optional<Message> find_by_client_id(Tx& tx, const std::string& channel_id, const std::string& author,
                                         const std::string& client_id) {
  auto row = tx.query_one(
      std::string("SELECT ") + columns + " FROM msg_messages WHERE channel_id = $1 AND author = $2 AND client_id = $3",
      {channel_id, author, client_id});
  if (!row) return std::nullopt;
  return message_of(*row);
}

std::optional<Message> find(Tx& tx, const std::string& channel_id, std::int64_t seq, bool for_update) {
  std::string q = std::string("SELECT ") + columns + " FROM msg_messages WHERE channel_id = $1 AND seq = $2";
  if (for_update && pg(tx)) q += " FOR UPDATE";
  auto row = tx.query_one(q, {channel_id, seq});
  if (!row) return std::nullopt;
  return message_of(*row);
}

std::vector<Message> first_messages(Tx& tx, const std::vector<std::string>& channel_ids) {
  if (channel_ids.empty()) return {};
  std::vector<store::Value> params;
  const auto in = add_in_list(params, channel_ids.begin(), channel_ids.end());
  return messages_of(tx.query(std::string("SELECT ") + columns + " FROM msg_messages WHERE seq = 1 AND deleted_ms IS " +
                                  "NULL AND channel_id IN (" + in + ")",
                              params));
}

std::optional<std::int64_t> last_post_ms(Tx& tx, const std::string& channel_id, const std::string& author) {
  auto row = tx.query_one(
      "SELECT created_ms FROM msg_messages WHERE channel_id = $1 AND author = $2 ORDER BY seq DESC LIMIT 1",
      {channel_id, author});
  if (!row) return std::nullopt;
  return row->get_int(0);
}

std::vector<Message> authored_since(Tx& tx, const std::string& channel_id, const std::string& author,
                                    std::int64_t since_ms, std::int64_t after_seq, std::size_t limit) {
  return messages_of(tx.query(std::string("SELECT ") + columns +
                                  " FROM msg_messages WHERE channel_id = $1 AND author = $2 AND seq > $3 AND "
                                  "created_ms >= $4 AND deleted_ms IS NULL ORDER BY seq LIMIT $5",
                              {channel_id, author, after_seq, since_ms, static_cast<std::int64_t>(limit)}));
}

std::vector<Message> after(Tx& tx, const std::string& channel_id, std::int64_t after_seq, std::size_t limit) {
  return messages_of(tx.query(
      std::string("SELECT ") + columns + " FROM msg_messages WHERE channel_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
      {channel_id, after_seq, static_cast<std::int64_t>(limit)}));
}

std::vector<Message> before(Tx& tx, const std::string& channel_id, std::optional<std::int64_t> before_seq,
                            std::size_t limit) {
  const std::int64_t bound = before_seq.value_or(INT64_MAX);
  return messages_of(tx.query(std::string("SELECT ") + columns +
                                  " FROM msg_messages WHERE channel_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3",
                              {channel_id, bound, static_cast<std::int64_t>(limit)}));
}

std::vector<Message> replies(Tx& tx, const std::string& channel_id, std::int64_t parent, std::int64_t after_seq,
                             std::size_t limit) {
  return messages_of(
      tx.query(std::string("SELECT ") + columns +
                   " FROM msg_messages WHERE channel_id = $1 AND reply_to = $2 AND seq > $3 ORDER BY seq LIMIT $4",
               {channel_id, parent, after_seq, static_cast<std::int64_t>(limit)}));
}

void update_body(Tx& tx, const Message& m) {
  tx.exec(
      "UPDATE msg_messages SET body = $3, mentions = $4, mention_roles = $5, edited_ms = $6 "
      "WHERE channel_id = $1 AND seq = $2",
      {m.channel_id, m.seq, m.body, lower_list(m.mentions), gh::store::join_text_list(m.mention_roles),
       unix_millis(*m.edited_at)});
}

void tombstone(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t now_ms) {
  const auto deleted = tx.exec(
      "UPDATE msg_messages SET body = '', mentions = '', mention_roles = '', system_data = NULL, forward = NULL, "
      "deleted_ms = $3 "
      "WHERE channel_id = $1 AND seq = $2 AND deleted_ms IS NULL",
      {channel_id, seq, now_ms});
  if (deleted > 0 && is_thread_id(channel_id)) {
    tx.exec("UPDATE msg_threads SET message_count = message_count - 1 WHERE id = $1 AND message_count > 0",
            {channel_id});
  }
  tx.exec("DELETE FROM msg_reactions WHERE channel_id = $1 AND seq = $2", {channel_id, seq});
  tx.exec("DELETE FROM msg_pins WHERE channel_id = $1 AND seq = $2", {channel_id, seq});
  tx.exec("DELETE FROM msg_polls WHERE channel_id = $1 AND seq = $2", {channel_id, seq});
  tx.exec("DELETE FROM msg_poll_votes WHERE channel_id = $1 AND seq = $2", {channel_id, seq});
}

void insert_poll(Tx& tx, const std::string& channel_id, std::int64_t seq, const PollSpec& poll, std::int64_t ends_ms) {
  tx.exec(
      "INSERT INTO msg_polls (channel_id, seq, question, answers, multiple, ends_ms) VALUES ($1, $2, $3, $4, $5, $6)",
      {channel_id, seq, poll.question, terms_json(poll.answers), std::int64_t{poll.multiple ? 1 : 0}, ends_ms});
}

namespace {

Poll poll_of(const store::Row& r, std::size_t first) {
  Poll p;
  p.question = r.get_text(first);
  const auto answers = boost::json::parse(r.get_text(first + 1));
  for (const auto& a : answers.as_array()) p.answers.emplace_back(a.as_string());
  p.multiple = r.get_int(first + 2) != 0;
  p.ends_at = SystemTime(std::chrono::milliseconds(r.get_int(first + 3)));
  p.votes.assign(p.answers.size(), 0);
  p.mine.assign(p.answers.size(), false);
  return p;
}

}  // namespace

std::optional<Poll> find_poll(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  auto r = tx.query_one("SELECT question, answers, multiple, ends_ms FROM msg_polls WHERE channel_id = $1 AND seq = $2",
                        {channel_id, seq});
  if (!r) return std::nullopt;
  return poll_of(*r, 0);
}

std::vector<std::pair<std::string, std::int64_t>> unresulted_polls(Tx& tx, std::int64_t now_ms, std::size_t limit) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& r : tx.query("SELECT channel_id, seq FROM msg_polls WHERE result_seq IS NULL AND ends_ms <= $1 "
                                "ORDER BY ends_ms LIMIT $2",
                                {now_ms, static_cast<std::int64_t>(limit)})) {
    out.emplace_back(r.get_text(0), r.get_int(1));
  }
  return out;
}

std::optional<std::int64_t> next_poll_end(Tx& tx) {
  auto row = tx.query_one("SELECT min(ends_ms) FROM msg_polls WHERE result_seq IS NULL");
  if (!row || row->is_null(0)) return std::nullopt;
  return row->get_int(0);
}

bool claim_poll_result(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  // 0 holds the row until the result's seq replaces it: a second claim, even a concurrent one
  // (it waits on the row), finds it taken.
  return tx.exec("UPDATE msg_polls SET result_seq = 0 WHERE channel_id = $1 AND seq = $2 AND result_seq IS NULL",
                 {channel_id, seq}) > 0;
}

void set_poll_result(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t result_seq) {
  tx.exec("UPDATE msg_polls SET result_seq = $3 WHERE channel_id = $1 AND seq = $2", {channel_id, seq, result_seq});
}

bool add_vote(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t answer, const std::string& account,
              std::int64_t now_ms) {
  return tx.exec(
             "INSERT INTO msg_poll_votes (channel_id, seq, answer, account, created_ms) VALUES ($1, $2, $3, $4, $5) "
             "ON CONFLICT (channel_id, seq, account, answer) DO NOTHING",
             {channel_id, seq, answer, account, now_ms}) > 0;
}

std::int64_t remove_votes(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& account,
                          std::int64_t answer, std::int64_t keep) {
  if (answer > 0) {
    return tx.exec("DELETE FROM msg_poll_votes WHERE channel_id = $1 AND seq = $2 AND account = $3 AND answer = $4",
                   {channel_id, seq, account, answer});
  }
  return tx.exec("DELETE FROM msg_poll_votes WHERE channel_id = $1 AND seq = $2 AND account = $3 AND answer <> $4",
                 {channel_id, seq, account, keep});
}

std::vector<std::int64_t> poll_counts(Tx& tx, const std::string& channel_id, std::int64_t seq, std::size_t answers) {
  std::vector<std::int64_t> out(answers, 0);
  for (const auto& r : tx.query("SELECT answer, count(*) FROM msg_poll_votes WHERE channel_id = $1 AND seq = $2 "
                                "GROUP BY answer",
                                {channel_id, seq})) {
    const auto answer = r.get_int(0);
    if (answer >= 1 && static_cast<std::size_t>(answer) <= answers)
      out[static_cast<std::size_t>(answer - 1)] = r.get_int(1);
  }
  return out;
}

std::vector<std::string> voters(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t answer,
                                const std::string& after, std::size_t limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.query("SELECT account FROM msg_poll_votes WHERE channel_id = $1 AND seq = $2 AND answer = $3 "
                                "AND account > $4 ORDER BY account LIMIT $5",
                                {channel_id, seq, answer, after, static_cast<std::int64_t>(limit)})) {
    out.push_back(r.get_text(0));
  }
  return out;
}

bool end_poll(Tx& tx, const std::string& channel_id, std::int64_t seq, std::int64_t now_ms) {
  return tx.exec("UPDATE msg_polls SET ends_ms = $3 WHERE channel_id = $1 AND seq = $2 AND ends_ms > $3",
                 {channel_id, seq, now_ms}) > 0;
}

void index_terms(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::vector<std::string>& terms) {
  if (terms.empty()) return;
  // `WHERE true`: SQLite reads ON CONFLICT after a bare SELECT ... FROM as a join constraint.
  tx.exec_deferred(
      fmt::format("INSERT INTO msg_search_terms (term, channel_id, seq) SELECT t.value, $1, $2 FROM {} AS t{} "
                  "WHERE true ON CONFLICT (term, channel_id, seq) DO NOTHING",
                  pg(tx) ? "json_array_elements_text($3::json)" : "json_each($3)", pg(tx) ? "(value)" : ""),
      {channel_id, seq, terms_json(terms)});
}

void unindex(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::vector<std::string>& terms) {
  if (terms.empty()) return;
  tx.exec(
      fmt::format("DELETE FROM msg_search_terms WHERE channel_id = $1 AND seq = $2 AND term IN (SELECT value FROM {})",
                  pg(tx) ? "json_array_elements_text($3::json) AS t(value)" : "json_each($3)"),
      {channel_id, seq, terms_json(terms)});
}

std::optional<std::int64_t> created_ms_of(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  auto row = tx.query_one("SELECT created_ms FROM msg_messages WHERE channel_id = $1 AND seq = $2", {channel_id, seq});
  if (!row) return std::nullopt;
  return row->get_int(0);
}

std::map<std::pair<std::string, std::int64_t>, std::int64_t> created_ms_of(
    Tx& tx, const std::vector<std::pair<std::string, std::int64_t>>& messages) {
  std::map<std::pair<std::string, std::int64_t>, std::int64_t> out;
  if (messages.empty()) return out;
  std::string sql = "SELECT channel_id, seq, created_ms FROM msg_messages WHERE ";
  std::vector<store::Value> params;
  for (const auto& [channel_id, seq] : messages) {
    if (!params.empty()) sql += " OR ";
    params.emplace_back(channel_id);
    params.emplace_back(seq);
    sql += fmt::format("(channel_id = ${} AND seq = ${})", params.size() - 1, params.size());
  }
  for (const auto& r : tx.query(sql, params)) out.emplace(std::pair{r.get_text(0), r.get_int(1)}, r.get_int(2));
  return out;
}

std::map<std::string, SearchHead> search_heads(Tx& tx, const std::vector<std::string>& channel_ids,
                                               const std::optional<SearchKey>& key) {
  std::map<std::string, SearchHead> out;
  if (channel_ids.empty()) return out;
  std::vector<store::Value> params;
  // The newest message (its seq, then its time): the channel's last, or below the key.
  std::string below = "c.last_seq";
  std::string below_ms =
      "(SELECT m.created_ms FROM msg_messages m WHERE m.channel_id = c.channel_id AND m.seq = c.last_seq)";
  if (key) {
    // Below the key: older, or as old in a channel ordered below it, or in its channel with a
    // lower seq. `created_ms <= $1` lets the time index bound the walk.
    params = {key->created_ms, key->channel_id, key->seq};
    const std::string newest =
        " FROM msg_messages m WHERE m.channel_id = c.channel_id AND m.created_ms <= $1 AND "
        "(m.created_ms < $1 OR m.channel_id < $2 OR (m.channel_id = $2 AND m.seq < $3)) "
        "ORDER BY m.created_ms DESC, m.seq DESC LIMIT 1)";
    below = "(SELECT m.seq" + newest;
    below_ms = "(SELECT m.created_ms" + newest;
  }
  const auto in = add_in_list(params, channel_ids.begin(), channel_ids.end());
  std::string sql = "SELECT c.channel_id, c.last_seq, b.below_seq, " + below + ", " + below_ms +
                    " FROM msg_channels c LEFT JOIN msg_search_backlog b ON b.channel_id = c.channel_id WHERE "
                    "c.channel_id IN (" +
                    in + ")";
  for (const auto& r : tx.query(sql, params)) {
    SearchHead head{r.get_int(1), r.opt_int(2), r.opt_int(3).value_or(0) + 1};
    if (head.below_seq > 1) head.head_ms = r.opt_int(4);
    out.emplace(r.get_text(0), head);
  }
  return out;
}

std::vector<Message> search(Tx& tx, const SearchScan& scan) {
  std::vector<store::Value> params{scan.channel_id, scan.below_seq, scan.from_seq};
  std::string statement;
  if (scan.terms.empty()) {
    params.emplace_back(scan.author.value_or(std::string()));
    statement = std::string("SELECT ") + columns +
                " FROM msg_messages WHERE channel_id = $1 AND seq < $2 AND seq >= $3 AND author = $4 "
                "AND deleted_ms IS NULL ORDER BY seq DESC";
  } else {
    // The lead term's rows are walked newest first and each is kept when every other term has a
    // row for the same message. Every term's rows are read in the window only, whatever plan the
    // database picks. SQLite follows the statement's shape, so the rarest term in the window leads
    // there (rows counted up to lead_probe each); PostgreSQL's planner orders the joins itself
    // from its statistics, and a probe per term would cost it a round trip each.
    auto lead = scan.terms.begin();
    if (scan.terms.size() > 1 && !pg(tx)) {
      constexpr std::int64_t lead_probe = 1000;
      std::int64_t fewest = INT64_MAX;
      for (auto it = scan.terms.begin(); it != scan.terms.end(); ++it) {
        const auto rows =
            tx.query_one(
                  "SELECT count(*) FROM (SELECT 1 FROM msg_search_terms WHERE term = $1 AND channel_id = $2 "
                  "AND seq < $3 AND seq >= $4 LIMIT $5) AS probe",
                  {*it, scan.channel_id, scan.below_seq, scan.from_seq, lead_probe})
                ->get_int(0);
        if (rows < fewest) {
          fewest = rows;
          lead = it;
        }
        if (rows == 0) return {};  // a term absent from the window: nothing matches in it
      }
    }
    params.emplace_back(*lead);
    statement = std::string("SELECT ") + qualified_columns +
                " FROM msg_search_terms s JOIN msg_messages m ON m.channel_id = s.channel_id AND m.seq = s.seq "
                "WHERE s.term = $4 AND s.channel_id = $1 AND s.seq < $2 AND s.seq >= $3 AND m.deleted_ms IS NULL";
    if (scan.author) {
      params.emplace_back(*scan.author);
      statement += fmt::format(" AND m.author = ${}", params.size());
    }
    for (auto it = scan.terms.begin(); it != scan.terms.end(); ++it) {
      if (it == lead) continue;
      params.emplace_back(*it);
      statement += fmt::format(
          " AND EXISTS (SELECT 1 FROM msg_search_terms t WHERE t.term = ${} AND t.channel_id = $1 AND t.seq = s.seq "
          "AND t.seq < $2 AND t.seq >= $3)",
          params.size());
    }
    statement += " ORDER BY s.seq DESC";
  }
  params.emplace_back(static_cast<std::int64_t>(scan.limit));
  statement += fmt::format(" LIMIT ${}", params.size());
  return messages_of(tx.query(statement, params));
}

std::optional<std::pair<std::string, std::int64_t>> next_backlog(Tx& tx) {
  auto row =
      tx.query_one(std::string("SELECT channel_id, below_seq FROM msg_search_backlog ORDER BY channel_id LIMIT 1") +
                   (pg(tx) ? " FOR UPDATE SKIP LOCKED" : ""));
  if (!row) return std::nullopt;
  return std::pair{row->get_text(0), row->get_int(1)};
}

std::optional<std::int64_t> backlog_of(Tx& tx, const std::string& channel_id) {
  auto row = tx.query_one("SELECT below_seq FROM msg_search_backlog WHERE channel_id = $1", {channel_id});
  if (!row) return std::nullopt;
  return row->get_int(0);
}

std::vector<Message> unindexed(Tx& tx, const std::string& channel_id, std::int64_t below_seq, std::size_t limit) {
  // Locked on PostgreSQL: an edit or delete of one of them waits for this transaction and then
  // replaces or removes the terms it wrote, or this one waits and reads the edited body.
  return messages_of(tx.query(std::string("SELECT ") + columns +
                                  " FROM msg_messages WHERE channel_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3" +
                                  (pg(tx) ? " FOR UPDATE" : ""),
                              {channel_id, below_seq, static_cast<std::int64_t>(limit)}));
}

void set_backlog(Tx& tx, const std::string& channel_id, std::int64_t below_seq) {
  if (below_seq <= 1) {
    tx.exec("DELETE FROM msg_search_backlog WHERE channel_id = $1", {channel_id});
  } else {
    tx.exec("UPDATE msg_search_backlog SET below_seq = $2 WHERE channel_id = $1", {channel_id, below_seq});
  }
}

bool add_reaction(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji,
                  const std::string& account, std::int64_t now_ms) {
  return tx.exec(
             "INSERT INTO msg_reactions (channel_id, seq, emoji, account, created_ms) VALUES ($1, $2, $3, $4, $5) "
             "ON CONFLICT (channel_id, seq, emoji, account) DO NOTHING",
             {channel_id, seq, emoji, account, now_ms}) > 0;
}

bool remove_reaction(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji,
                     const std::string& account) {
  return tx.exec("DELETE FROM msg_reactions WHERE channel_id = $1 AND seq = $2 AND emoji = $3 AND account = $4",
                 {channel_id, seq, emoji, account}) > 0;
}

ReactionKinds reaction_kinds(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji) {
  // An emoji the message carries (the common case on a busy message) is one index probe; only a
  // new one counts the kinds.
  if (tx.query_one("SELECT 1 FROM msg_reactions WHERE channel_id = $1 AND seq = $2 AND emoji = $3 LIMIT 1",
                   {channel_id, seq, emoji})) {
    return {true, 0};
  }
  auto row = tx.query_one("SELECT count(DISTINCT emoji) FROM msg_reactions WHERE channel_id = $1 AND seq = $2",
                          {channel_id, seq});
  return {false, row ? row->get_int(0) : 0};
}

std::vector<std::string> reactors(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& emoji,
                                  const std::string& after, std::size_t limit) {
  auto rows = tx.query(
      "SELECT account FROM msg_reactions WHERE channel_id = $1 AND seq = $2 AND emoji = $3 AND account > $4 "
      "ORDER BY account LIMIT $5",
      {channel_id, seq, emoji, after, static_cast<std::int64_t>(limit)});
  std::vector<std::string> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(r.get_text(0));
  return out;
}

void load_annotations(Tx& tx, std::vector<Message>& messages, const std::string& viewer) {
  if (messages.empty()) return;
  // One channel at a time: what follows reads one channel's rows by seq (a community search's page
  // mixes channels whose messages share seqs).
  const auto& first_channel = messages.front().channel_id;
  if (std::any_of(messages.begin(), messages.end(), [&](const Message& m) { return m.channel_id != first_channel; })) {
    std::map<std::string, std::vector<std::size_t>> of_channel;
    for (std::size_t i = 0; i < messages.size(); ++i) of_channel[messages[i].channel_id].push_back(i);
    for (const auto& [channel_id, at] : of_channel) {
      std::vector<Message> part;
      part.reserve(at.size());
      for (const auto i : at) part.push_back(std::move(messages[i]));
      load_annotations(tx, part, viewer);
      for (std::size_t k = 0; k < at.size(); ++k) messages[at[k]] = std::move(part[k]);
    }
    return;
  }
  std::int64_t lo = messages.front().seq;
  std::int64_t hi = lo;
  for (const auto& m : messages) {
    lo = std::min(lo, m.seq);
    hi = std::max(hi, m.seq);
  }
  // A page of history is a run of seqs; pinned messages may lie far apart: then name them.
  std::string which = "seq >= $2 AND seq <= $3";
  std::vector<store::Value> params{messages.front().channel_id, lo, hi};
  if (static_cast<std::size_t>(hi - lo) >= 2 * messages.size()) {
    which = "seq IN (";
    params.resize(1);
    for (const auto& m : messages) {
      params.emplace_back(m.seq);
      which += (params.size() == 2 ? "$" : ", $") + std::to_string(params.size());
    }
    which += ")";
  }
  std::vector<store::Value> with_viewer = params;
  with_viewer.emplace_back(viewer);
  const std::string viewer_param = "$" + std::to_string(with_viewer.size());
  auto rows = tx.query("SELECT seq, emoji, count(*), SUM(CASE WHEN account = " + viewer_param +
                           " THEN 1 ELSE 0 END) FROM msg_reactions WHERE channel_id = $1 AND " + which +
                           " GROUP BY seq, emoji ORDER BY seq, MIN(created_ms), emoji",
                       with_viewer);
  std::map<std::int64_t, Message*> by_seq;
  for (auto& m : messages) by_seq[m.seq] = &m;
  for (const auto& r : rows) {
    auto it = by_seq.find(r.get_int(0));
    if (it == by_seq.end()) continue;
    it->second->reactions.push_back(ReactionCount{r.get_text(1), r.get_int(2), r.get_int(3) > 0});
  }
  // The pins, polls and threads of the page in one statement (one round trip less on PostgreSQL):
  // kind 0 is a pin (pinned_by, pinned_ms), kind 1 a poll (question, answers, multiple, ends_ms).
  std::string annotations =
      "SELECT 0, seq, pinned_by, CAST(NULL AS TEXT), CAST(NULL AS BIGINT), pinned_ms FROM msg_pins WHERE channel_id = "
      "$1 AND ";
  annotations += which;
  annotations +=
      " UNION ALL SELECT 1, seq, question, answers, multiple, ends_ms FROM msg_polls WHERE channel_id = $1 AND ";
  annotations += which;
  // Kind 2: the thread started from the message (id, name).
  annotations +=
      " UNION ALL SELECT 2, seq, id, name, CAST(NULL AS BIGINT), created_ms FROM msg_threads WHERE channel_id = $1 "
      "AND ";
  annotations += which;
  for (const auto& r : tx.query(annotations, params)) {
    auto it = by_seq.find(r.get_int(1));
    if (it == by_seq.end()) continue;
    if (r.get_int(0) == 0) {
      it->second->pin = PinInfo{stored_address(r.get_text(2)), SystemTime(std::chrono::milliseconds(r.get_int(5)))};
    } else if (r.get_int(0) == 1) {
      it->second->poll = poll_of(r, 2);
    } else {
      it->second->thread = ThreadRef{r.get_text(2), r.get_text(3)};
    }
  }
  // The polls' votes as the viewer sees them.
  const bool any_poll =
      std::any_of(messages.begin(), messages.end(), [](const Message& m) { return m.poll.has_value(); });
  if (any_poll) {
    const auto votes_sql = fmt::format(
        "SELECT seq, answer, count(*), SUM(CASE WHEN account = {} THEN 1 ELSE 0 END) FROM msg_poll_votes WHERE "
        "channel_id = $1 AND {} GROUP BY seq, answer",
        viewer_param, which);
    for (const auto& r : tx.query(votes_sql, with_viewer)) {
      auto it = by_seq.find(r.get_int(0));
      if (it == by_seq.end() || !it->second->poll) continue;
      auto& poll = *it->second->poll;
      const auto answer = r.get_int(1);
      if (answer < 1 || static_cast<std::size_t>(answer) > poll.answers.size()) continue;
      poll.votes[static_cast<std::size_t>(answer - 1)] = r.get_int(2);
      poll.mine[static_cast<std::size_t>(answer - 1)] = r.get_int(3) > 0;
    }
  }
  // What each reply shows of its parent: one read for the page's parents.
  std::set<std::int64_t> parents;
  for (const auto& m : messages) {
    if (m.reply_to && !m.deleted_at) parents.insert(*m.reply_to);
  }
  if (parents.empty()) return;
  std::vector<store::Value> parent_params{messages.front().channel_id};
  const auto in = add_in_list(parent_params, parents.begin(), parents.end());
  std::map<std::int64_t, ReplyPreview> previews;
  for (const auto& r :
       tx.query("SELECT seq, author, body, deleted_ms FROM msg_messages WHERE channel_id = $1 AND seq IN (" + in + ")",
                parent_params)) {
    Message parent;
    parent.author = stored_address(r.get_text(1));
    parent.body = r.get_text(2);
    if (!r.is_null(3)) parent.deleted_at = SystemTime(std::chrono::milliseconds(r.get_int(3)));
    previews.emplace(r.get_int(0), preview_of(parent));
  }
  for (auto& m : messages) {
    if (!m.reply_to || m.deleted_at) continue;
    if (auto it = previews.find(*m.reply_to); it != previews.end()) m.reply_preview = it->second;
  }
}

void lock_channel(Tx& tx, const std::string& channel_id) {
  tx.exec(
      "INSERT INTO msg_channels (channel_id, last_seq) VALUES ($1, 0) "
      "ON CONFLICT (channel_id) DO UPDATE SET last_seq = msg_channels.last_seq",
      {channel_id});
}

bool insert_pin(Tx& tx, const std::string& channel_id, std::int64_t seq, const std::string& by, std::int64_t now_ms) {
  return tx.exec(
             "INSERT INTO msg_pins (channel_id, seq, pinned_by, pinned_ms) VALUES ($1, $2, $3, $4) "
             "ON CONFLICT (channel_id, seq) DO NOTHING",
             {channel_id, seq, by, now_ms}) == 1;
}

bool delete_pin(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  return tx.exec("DELETE FROM msg_pins WHERE channel_id = $1 AND seq = $2", {channel_id, seq}) > 0;
}

std::int64_t count_pins(Tx& tx, const std::string& channel_id) {
  auto row = tx.query_one("SELECT count(*) FROM msg_pins WHERE channel_id = $1", {channel_id});
  return row ? row->get_int(0) : 0;
}

std::vector<Message> pinned(Tx& tx, const std::string& channel_id) {
  return messages_of(tx.query(std::string("SELECT ") + qualified_columns +
                                  " FROM msg_pins p JOIN msg_messages m ON m.channel_id = p.channel_id AND m.seq = "
                                  "p.seq WHERE p.channel_id = $1 ORDER BY p.pinned_ms DESC, p.seq DESC",
                              {channel_id}));
}

std::int64_t mark_read(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                       std::int64_t now_ms) {
  tx.exec(
      "INSERT INTO msg_read_markers (account, channel_id, last_read_seq, updated_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (account, channel_id) DO UPDATE SET last_read_seq = $3, updated_ms = $4 "
      "WHERE msg_read_markers.last_read_seq < $3",
      {account, channel_id, seq, now_ms});
  return read_marker(tx, account, channel_id);
}

void set_read_marker(Tx& tx, const std::string& account, const std::string& channel_id, std::int64_t seq,
                     std::int64_t now_ms) {
  tx.exec_deferred(
      "INSERT INTO msg_read_markers (account, channel_id, last_read_seq, updated_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (account, channel_id) DO UPDATE SET last_read_seq = $3, updated_ms = $4",
      {account, channel_id, seq, now_ms});
}

std::int64_t read_marker(Tx& tx, const std::string& account, const std::string& channel_id) {
  auto row = tx.query_one("SELECT last_read_seq FROM msg_read_markers WHERE account = $1 AND channel_id = $2",
                          {account, channel_id});
  return row ? row->get_int(0) : 0;
}

std::map<std::string, std::pair<std::int64_t, std::int64_t>> heads_and_markers(
    Tx& tx, const std::string& account, const std::vector<std::string>& channel_ids) {
  std::map<std::string, std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& id : channel_ids) out.emplace(id, std::pair<std::int64_t, std::int64_t>{0, 0});
  if (channel_ids.empty()) return out;
  // The same ids twice: $1..$n for the heads, then the account first and $2..$n+1 for the markers.
  std::vector<gh::store::Value> ids;
  std::vector<gh::store::Value> with_account{account};
  std::string heads_in, markers_in;
  for (const auto& id : channel_ids) {
    ids.emplace_back(id);
    with_account.emplace_back(id);
    heads_in += (heads_in.empty() ? "$" : ", $") + std::to_string(ids.size());
    markers_in += (markers_in.empty() ? "$" : ", $") + std::to_string(with_account.size());
  }
  for (const auto& r :
       tx.query("SELECT channel_id, last_seq FROM msg_channels WHERE channel_id IN (" + heads_in + ")", ids)) {
    out[r.get_text(0)].first = r.get_int(1);
  }
  for (const auto& r :
       tx.query("SELECT channel_id, last_read_seq FROM msg_read_markers WHERE account = $1 AND channel_id IN (" +
                    markers_in + ")",
                with_account)) {
    out[r.get_text(0)].second = r.get_int(1);
  }
  return out;
}

std::int64_t count_unread(Tx& tx, const std::string& channel_id, const std::string& account, std::int64_t after_seq,
                          std::int64_t cap) {
  auto row = tx.query_one(
      "SELECT count(*) FROM (SELECT 1 FROM msg_messages WHERE channel_id = $1 AND seq > $2 AND author <> $3 "
      "AND deleted_ms IS NULL LIMIT $4) AS unread",
      {channel_id, after_seq, account, cap});
  return row->get_int(0);
}

std::int64_t count_unread_posts(Tx& tx, const std::string& forum_id, const std::string& account, std::int64_t after_seq,
                                std::int64_t cap) {
  auto row = tx.query_one(
      "SELECT count(*) FROM (SELECT 1 FROM msg_threads WHERE channel_id = $1 AND post_seq > $2 AND creator <> $3 "
      "AND deleted_ms IS NULL LIMIT $4) AS unread",
      {forum_id, after_seq, account, cap});
  return row->get_int(0);
}

namespace {

// mentions and mention_roles are ','-joined lists: the LIKE pattern of one entry, matched against
// (',' || list || ','). A role name may hold '_', a LIKE wildcard.
std::string list_entry_pattern(std::string_view name) {
  std::string p = "%,";
  for (char ch : name) {
    if (ch == '_' || ch == '%' || ch == '\\') p += '\\';
    p += ch;
  }
  return p + ",%";
}

}  // namespace

std::int64_t rename_role_mentions(Tx& tx, const std::string& channel_id, const std::string& from, const std::string& to,
                                  std::int64_t until_ms) {
  // The list framed by commas, the entry replaced (by nothing when removed), the frame taken off.
  // substr with a negative length is an error on PostgreSQL: a list emptied is ',' framed.
  const std::string replacement = to.empty() ? std::string(",") : "," + to + ",";
  return tx.exec(
      "UPDATE msg_messages SET mention_roles = CASE WHEN replace(',' || mention_roles || ',', $2, $3) = ',' THEN '' "
      "ELSE substr(replace(',' || mention_roles || ',', $2, $3), 2, "
      "length(replace(',' || mention_roles || ',', $2, $3)) - 2) END "
      "WHERE channel_id = $1 AND created_ms <= $4 AND (',' || mention_roles || ',') LIKE $5 ESCAPE '\\'",
      {channel_id, "," + from + ",", replacement, until_ms, list_entry_pattern(from)});
}

std::int64_t count_unread_mentions(Tx& tx, const std::string& channel_id, const std::string& account,
                                   std::int64_t after_seq, const std::vector<std::string>& roles, std::int64_t cap) {
  std::vector<gh::store::Value> params{channel_id, after_seq, account, cap, list_entry_pattern(account)};
  std::string sql =
      "SELECT count(*) FROM (SELECT 1 FROM msg_messages WHERE channel_id = $1 AND seq > $2 AND author <> $3 "
      "AND deleted_ms IS NULL AND ((',' || mentions || ',') LIKE $5 ESCAPE '\\'";
  constexpr std::size_t max_roles = 64;
  for (std::size_t i = 0; i < roles.size() && i < max_roles; ++i) {
    params.emplace_back(list_entry_pattern(roles[i]));
    sql += fmt::format(" OR (',' || mention_roles || ',') LIKE ${} ESCAPE '\\'", params.size());
  }
  sql += ") LIMIT $4) AS unread";
  auto row = tx.query_one(sql, params);
  return row->get_int(0);
}

namespace {

constexpr const char* report_columns =
    "r.id, r.channel_id, r.seq, r.message_id, r.author, r.body, r.reporter, r.reason, r.note, r.status, "
    "r.resolution, r.resolved_by, r.resolved_ms, r.created_ms, "
    "(SELECT count(*) FROM msg_reports o WHERE o.channel_id = r.channel_id AND o.seq = r.seq)";

Report report_of(const store::Row& row) {
  Report r;
  r.id = row.get_int(0);
  r.channel_id = row.get_text(1);
  r.seq = row.get_int(2);
  r.message_id = row.get_text(3);
  r.author = stored_address(row.get_text(4));
  r.body = row.get_text(5);
  r.reporter = stored_address(row.get_text(6));
  r.reason = row.get_text(7);
  r.note = row.get_text(8);
  r.status = row.get_text(9);
  r.resolution = row.get_text(10);
  if (auto by = row.opt_text(11)) r.resolved_by = stored_address(*by);
  if (auto at = row.opt_int(12)) r.resolved_at = from_ms(*at);
  r.created_at = from_ms(row.get_int(13));
  r.message_reports = row.get_int(14);
  return r;
}

}  // namespace

std::optional<std::int64_t> insert_report(Tx& tx, const Report& r, std::int64_t now_ms) {
  auto row = tx.query_one(
      "INSERT INTO msg_reports (channel_id, seq, message_id, author, body, reporter, reason, note, status, "
      "resolution, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', '', $9) "
      "ON CONFLICT (channel_id, seq, reporter) DO NOTHING RETURNING id",
      {r.channel_id, r.seq, r.message_id, eth::to_lower_hex(r.author), r.body, eth::to_lower_hex(r.reporter), r.reason,
       r.note, now_ms});
  if (!row) return std::nullopt;
  return row->get_int(0);
}

std::optional<Report> find_report_by(Tx& tx, const std::string& channel_id, std::int64_t seq,
                                     const std::string& reporter) {
  auto row = tx.query_one(std::string("SELECT ") + report_columns +
                              " FROM msg_reports r WHERE r.channel_id = $1 AND r.seq = $2 AND r.reporter = $3",
                          {channel_id, seq, reporter});
  if (!row) return std::nullopt;
  return report_of(*row);
}

std::optional<Report> find_report(Tx& tx, std::int64_t id, bool for_update) {
  if (for_update && pg(tx)) tx.query_one("SELECT id FROM msg_reports WHERE id = $1 FOR UPDATE", {id});
  auto row = tx.query_one(std::string("SELECT ") + report_columns + " FROM msg_reports r WHERE r.id = $1", {id});
  if (!row) return std::nullopt;
  return report_of(*row);
}

std::int64_t count_open_reports(Tx& tx, const std::string& reporter) {
  auto row = tx.query_one("SELECT count(*) FROM msg_reports WHERE reporter = $1 AND status = 'open'", {reporter});
  return row ? row->get_int(0) : 0;
}

std::vector<Report> reports(Tx& tx, const ReportQuery& query) {
  std::vector<Report> out;
  if (query.channel_ids.empty() && !query.reporter) return out;
  std::vector<store::Value> params{query.before_id > 0 ? query.before_id : std::numeric_limits<std::int64_t>::max()};
  std::string sql = std::string("SELECT ") + report_columns + " FROM msg_reports r WHERE r.id < $1";
  if (query.reporter) {
    params.emplace_back(*query.reporter);
    sql += " AND r.reporter = $2";
  } else {
    // The channels, and the threads under them.
    const auto in = "(" + add_in_list(params, query.channel_ids.begin(), query.channel_ids.end()) + ")";
    sql += " AND (r.channel_id IN " + in +
           " OR r.channel_id IN (SELECT t.id FROM msg_threads t WHERE t.channel_id IN " + in + "))";
  }
  if (query.status) {
    params.emplace_back(*query.status);
    sql += " AND r.status = $" + std::to_string(params.size());
  }
  params.emplace_back(static_cast<std::int64_t>(query.limit));
  sql += " ORDER BY r.id DESC LIMIT $" + std::to_string(params.size());
  for (const auto& row : tx.query(sql, params)) out.push_back(report_of(row));
  return out;
}

void update_report(Tx& tx, std::int64_t id, const std::string& status, const std::string& resolution,
                   const std::optional<std::string>& by, std::optional<std::int64_t> at_ms) {
  tx.exec("UPDATE msg_reports SET status = $2, resolution = $3, resolved_by = $4, resolved_ms = $5 WHERE id = $1",
          {id, status, resolution, by ? store::Value(*by) : store::Value(nullptr),
           at_ms ? store::Value(*at_ms) : store::Value(nullptr)});
}

std::size_t purge_reports(Tx& tx, std::int64_t before_ms, std::size_t limit) {
  return static_cast<std::size_t>(tx.exec(
      "DELETE FROM msg_reports WHERE id IN (SELECT id FROM msg_reports WHERE status <> 'open' AND resolved_ms < $1 "
      "ORDER BY resolved_ms LIMIT $2)",
      {before_ms, static_cast<std::int64_t>(limit)}));
}

// --- threads ---

namespace {

constexpr const char* thread_columns =
    "t.id, t.channel_id, t.seq, t.name, t.creator, t.created_ms, t.auto_archive_minutes, t.archived_ms, t.locked, "
    "t.last_ms, COALESCE(c.last_seq, 0), t.message_count, t.member_count, t.slow_mode_seconds, t.is_private, "
    "t.invitable, t.applied_tags, t.client_id, t.pinned, t.deleted_ms FROM msg_threads t LEFT JOIN msg_channels c ON "
    "c.channel_id = t.id";
// The column of thread_columns that says when the thread was deleted (most queries take live ones).
constexpr std::size_t thread_deleted_column = 19;

Thread thread_of(const store::Row& r) {
  Thread t;
  t.id = r.get_text(0);
  t.channel_id = r.get_text(1);
  t.seq = r.opt_int(2);
  t.name = r.get_text(3);
  t.creator = stored_address(r.get_text(4));
  t.created_at = from_ms(r.get_int(5));
  t.auto_archive_minutes = r.get_int(6);
  if (auto a = r.opt_int(7)) t.archived_at = from_ms(*a);
  t.locked = r.get_int(8) != 0;
  t.last_activity = from_ms(r.get_int(9));
  t.last_seq = r.get_int(10);
  t.message_count = r.get_int(11);
  t.member_count = r.get_int(12);
  t.slow_mode_seconds = r.get_int(13);
  t.is_private = r.get_int(14) != 0;
  t.invitable = r.get_int(15) != 0;
  t.applied_tags = store::split_text_list(r.get_text(16));
  t.client_id = r.opt_text(17);
  t.pinned = r.get_int(18) != 0;
  return t;
}

std::vector<Thread> threads_of_rows(const store::Rows& rows) {
  std::vector<Thread> out;
  out.reserve(rows.size());
  for (const auto& r : rows) out.push_back(thread_of(r));
  return out;
}

}  // namespace

void insert_thread(Tx& tx, const Thread& t) {
  tx.exec(
      "INSERT INTO msg_threads (id, channel_id, seq, name, creator, created_ms, auto_archive_minutes, archived_ms, "
      "locked, last_ms, is_private, invitable, applied_tags, client_id, post_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, "
      "NULL, 0, $8, $9, $10, $11, $12, $13)",
      {t.id, t.channel_id, t.seq ? store::Value(*t.seq) : store::Value(nullptr), t.name, eth::to_lower_hex(t.creator),
       unix_millis(t.created_at), t.auto_archive_minutes, unix_millis(t.last_activity),
       std::int64_t{t.is_private ? 1 : 0}, std::int64_t{t.invitable ? 1 : 0}, store::join_text_list(t.applied_tags),
       t.client_id ? store::Value(*t.client_id) : store::Value(nullptr),
       t.post_seq > 0 ? store::Value(t.post_seq) : store::Value(nullptr)});
}

std::optional<std::string> thread_name(Tx& tx, const std::string& id) {
  auto row = tx.query_one("SELECT name FROM msg_threads WHERE id = $1", {id});
  if (!row) return std::nullopt;
  return row->get_text(0);
}

std::optional<Thread> find_thread(Tx& tx, const std::string& id, bool for_update) {
  // The thread's row alone (its channel's row is on the nullable side of the join).
  if (for_update && pg(tx)) tx.query_one("SELECT id FROM msg_threads WHERE id = $1 FOR UPDATE", {id});
  auto row = tx.query_one(std::string("SELECT ") + thread_columns + " WHERE t.id = $1 AND t.deleted_ms IS NULL", {id});
  if (!row) return std::nullopt;
  return thread_of(*row);
}

std::optional<std::pair<Thread, bool>> thread_of_client(Tx& tx, const std::string& channel_id,
                                                        const std::string& creator, const std::string& client_id) {
  auto row = tx.query_one(
      std::string("SELECT ") + thread_columns + " WHERE t.channel_id = $1 AND t.creator = $2 AND t.client_id = $3",
      {channel_id, creator, client_id});
  if (!row) return std::nullopt;
  return std::pair{thread_of(*row), !row->is_null(thread_deleted_column)};
}

void release_client_id(Tx& tx, const std::string& thread_id) {
  tx.exec("UPDATE msg_threads SET client_id = NULL WHERE id = $1", {thread_id});
}

std::optional<Thread> thread_of_message(Tx& tx, const std::string& channel_id, std::int64_t seq) {
  auto row = tx.query_one(
      std::string("SELECT ") + thread_columns + " WHERE t.channel_id = $1 AND t.seq = $2 AND t.deleted_ms IS NULL",
      {channel_id, seq});
  if (!row) return std::nullopt;
  return thread_of(*row);
}

namespace {

// " AND (…)": the threads (as t) that `view` shows: public ones, and private ones to their members
// and to those who moderate their channel.
std::string shown_to(std::vector<store::Value>& params, const PrivateView& view) {
  params.emplace_back(view.viewer);
  std::string sql =
      " AND (t.is_private = 0 OR EXISTS (SELECT 1 FROM msg_thread_members v WHERE v.thread_id = t.id AND "
      "v.account = $" +
      std::to_string(params.size()) + ")";
  if (!view.all_in.empty())
    sql += " OR t.channel_id IN (" + add_in_list(params, view.all_in.begin(), view.all_in.end()) + ")";
  return sql + ")";
}

}  // namespace

std::vector<Thread> list_threads(Tx& tx, const std::vector<std::string>& channel_ids, bool archived,
                                 std::int64_t now_ms, const std::optional<ThreadCursor>& before, std::size_t limit,
                                 const PrivateView& view, const std::optional<std::string>& member,
                                 const std::optional<std::string>& tag, bool by_creation, std::optional<bool> pinned) {
  if (channel_ids.empty()) return {};
  std::vector<store::Value> params{now_ms, static_cast<std::int64_t>(limit)};
  // Active: not archived by hand, and a message (or the creation) within its auto-archive time.
  // A pinned post stays active until archived by hand.
  const std::string active =
      "t.archived_ms IS NULL AND (t.pinned = 1 OR t.last_ms > $1 - t.auto_archive_minutes * 60000)";
  std::string sql = std::string("SELECT ") + thread_columns + " WHERE t.deleted_ms IS NULL AND " +
                    (archived ? "NOT (" + active + ")" : active);
  const std::string order = by_creation ? "t.created_ms" : "t.last_ms";
  if (before) {
    params.emplace_back(before->last_ms);
    const auto at = "$" + std::to_string(params.size());
    params.emplace_back(before->id);
    sql += " AND (" + order + " < " + at + " OR (" + order + " = " + at + " AND t.id < $" +
           std::to_string(params.size()) + "))";
  }
  if (member) {
    params.emplace_back(*member);
    sql += " AND EXISTS (SELECT 1 FROM msg_thread_members m WHERE m.thread_id = t.id AND m.account = $" +
           std::to_string(params.size()) + ")";
  }
  if (pinned) sql += *pinned ? " AND t.pinned = 1" : " AND t.pinned = 0";
  if (tag) {
    // Tag ids are of [a-z0-9_]: the list's commas bound a match.
    params.emplace_back("%," + *tag + ",%");
    sql += " AND ',' || t.applied_tags || ',' LIKE $" + std::to_string(params.size());
  }
  sql += shown_to(params, view);
  sql += " AND t.channel_id IN (" + add_in_list(params, channel_ids.begin(), channel_ids.end()) + ")";
  sql += " ORDER BY " + order + " DESC, t.id DESC LIMIT $2";
  return threads_of_rows(tx.query(sql, params));
}

std::optional<std::int64_t> last_post_started_ms(Tx& tx, const std::string& channel_id, const std::string& creator) {
  // Forum posts carry their message's client_id: the partial index msg_threads_client finds them.
  auto row = tx.query_one(
      "SELECT max(created_ms) FROM msg_threads WHERE channel_id = $1 AND creator = $2 AND client_id IS NOT NULL",
      {channel_id, creator});
  if (!row || row->is_null(0)) return std::nullopt;
  return row->get_int(0);
}

std::vector<std::string> searchable_threads(Tx& tx, const std::vector<std::string>& channel_ids,
                                            const PrivateView& view, std::size_t limit) {
  std::vector<std::string> out;
  if (channel_ids.empty() || limit == 0) return out;
  std::vector<store::Value> params{static_cast<std::int64_t>(limit)};
  std::string sql =
      "SELECT t.id FROM msg_threads t JOIN msg_channels c ON c.channel_id = t.id WHERE t.deleted_ms IS NULL AND "
      "c.last_seq > 0";
  sql += shown_to(params, view);
  sql += " AND t.channel_id IN (" + add_in_list(params, channel_ids.begin(), channel_ids.end()) + ")";
  sql += " ORDER BY t.last_ms DESC, t.id DESC LIMIT $1";
  for (const auto& r : tx.query(sql, params)) out.push_back(r.get_text(0));
  return out;
}

std::int64_t count_active_threads(Tx& tx, const std::string& channel_id, std::int64_t now_ms) {
  auto row = tx.query_one(
      "SELECT count(*) FROM msg_threads WHERE channel_id = $1 AND archived_ms IS NULL AND deleted_ms IS NULL AND "
      "(pinned = 1 OR last_ms > $2 - auto_archive_minutes * 60000)",
      {channel_id, now_ms});
  return row->get_int(0);
}

// Written as msg_threads_archive_due's expression and condition (migration 0024), which both
// backends match to the index only as written.
std::vector<Thread> inactive_threads(Tx& tx, std::int64_t now_ms, std::size_t limit) {
  return threads_of_rows(tx.query(std::string("SELECT ") + thread_columns +
                                      " WHERE t.archived_ms IS NULL AND t.deleted_ms IS NULL AND t.pinned = 0 AND "
                                      "t.last_ms + t.auto_archive_minutes * 60000 <= $1 ORDER BY t.last_ms + "
                                      "t.auto_archive_minutes * 60000 LIMIT $2",
                                  {now_ms, static_cast<std::int64_t>(limit)}));
}

bool record_archive(Tx& tx, const std::string& id, std::int64_t now_ms) {
  return tx.exec(
             "UPDATE msg_threads SET archived_ms = last_ms + auto_archive_minutes * 60000 WHERE id = $1 AND "
             "archived_ms IS NULL AND deleted_ms IS NULL AND pinned = 0 AND last_ms + auto_archive_minutes * 60000 "
             "<= $2",
             {id, now_ms}) > 0;
}

namespace {

// The membership rows whose `fixed` column ($1) holds a value and whose `listed` column holds one
// of `among` (added to `params`): that column's values with the row's notification setting. Both
// columns are msg_thread_members' (thread_id, account).
std::string membership_sql(std::string_view fixed, std::string_view listed, std::vector<store::Value>& params,
                           const std::vector<std::string>& among) {
  const auto in = add_in_list(params, among.begin(), among.end());
  return "SELECT " + std::string(listed) + ", notify FROM msg_thread_members WHERE " + std::string(fixed) +
         " = $1 AND " + std::string(listed) + " IN (" + in + ")";
}

std::map<std::string, ThreadNotify> settings_of(const store::Rows& rows) {
  std::map<std::string, ThreadNotify> out;
  for (const auto& r : rows) {
    auto notify = parse_thread_notify(r.get_text(1));
    out.emplace(r.get_text(0), notify ? *notify : ThreadNotify::all);
  }
  return out;
}

// The `listed` values among `among` with a membership row where `fixed` is `value`, with the
// row's notification setting.
std::map<std::string, ThreadNotify> membership_among(Tx& tx, std::string_view fixed, const std::string& value,
                                                     std::string_view listed, const std::vector<std::string>& among) {
  if (among.empty()) return {};
  std::vector<store::Value> params{value};
  const auto sql = membership_sql(fixed, listed, params, among);
  return settings_of(tx.query(sql, params));
}

}  // namespace

ThreadPost post_in_thread(Tx& tx, const std::string& id, std::int64_t at_ms, const std::vector<std::string>& joining,
                          const std::vector<std::string>& asked) {
  static const std::string touch =
      "UPDATE msg_threads SET archived_ms = NULL, last_ms = CASE WHEN last_ms > $2 THEN last_ms ELSE $2 END "
      "WHERE id = $1 AND deleted_ms IS NULL RETURNING id";
  static const std::string found =
      std::string("SELECT ") + thread_columns + " WHERE t.id = $1 AND t.deleted_ms IS NULL";
  const store::Value touch_params[] = {id, at_ms};
  const store::Value by_id[] = {id};
  std::vector<store::Value> join_params{id, at_ms, std::string(to_string(ThreadNotify::all))};
  std::string join;
  for (const auto& account : joining) {
    join_params.emplace_back(account);
    join += (join.empty() ? "($" : ", ($") + std::to_string(join_params.size()) + ")";
  }
  if (!join.empty()) {
    // A deleted thread takes no member.
    join =
        "INSERT INTO msg_thread_members (thread_id, account, joined_ms, notify) SELECT t.id, a.column1, $2, $3 "
        "FROM msg_threads t, (VALUES " +
        join +
        ") a WHERE t.id = $1 AND t.deleted_ms IS NULL ON CONFLICT (thread_id, account) DO NOTHING RETURNING account";
  }
  std::vector<store::Value> settings_params{id};
  const auto settings = membership_sql("thread_id", "account", settings_params, asked);
  std::vector<Tx::Statement> statements{{touch, touch_params}};
  if (!join.empty()) statements.push_back({join, join_params});
  statements.push_back({found, by_id});
  if (!asked.empty()) statements.push_back({settings, settings_params});
  const auto rows = tx.query_all(statements);
  ThreadPost out;
  if (rows[0].empty()) return out;
  std::size_t next = 1;
  if (!join.empty()) {
    for (const auto& r : rows[next]) out.joined.push_back(r.get_text(0));
    ++next;
  }
  if (!rows[next].empty()) out.thread = thread_of(rows[next][0]);
  ++next;
  if (!asked.empty()) out.settings = settings_of(rows[next]);
  if (!out.joined.empty()) {
    const auto added = static_cast<std::int64_t>(out.joined.size());
    tx.exec_deferred("UPDATE msg_threads SET member_count = member_count + $2 WHERE id = $1", {id, added});
    if (out.thread) out.thread->member_count += added;
  }
  return out;
}

bool delete_thread(Tx& tx, const std::string& id, std::int64_t at_ms) {
  if (tx.exec("UPDATE msg_threads SET deleted_ms = $2, seq = NULL WHERE id = $1 AND deleted_ms IS NULL", {id, at_ms}) ==
      0)
    return false;
  tx.exec("DELETE FROM msg_thread_members WHERE thread_id = $1", {id});
  tx.exec("DELETE FROM msg_read_markers WHERE channel_id = $1", {id});
  return true;
}

std::vector<Message> live_after(Tx& tx, const std::string& channel_id, std::int64_t after_seq, std::size_t limit) {
  return messages_of(tx.query(std::string("SELECT ") + columns +
                                  " FROM msg_messages WHERE channel_id = $1 AND seq > $2 AND deleted_ms IS NULL "
                                  "ORDER BY seq LIMIT $3",
                              {channel_id, after_seq, static_cast<std::int64_t>(limit)}));
}

void update_thread(Tx& tx, const Thread& t) {
  tx.exec(
      "UPDATE msg_threads SET name = $2, auto_archive_minutes = $3, archived_ms = $4, locked = $5, last_ms = $6, "
      "slow_mode_seconds = $7, invitable = $8, applied_tags = $9, pinned = $10 WHERE id = $1",
      {t.id, t.name, t.auto_archive_minutes,
       t.archived_at ? store::Value(unix_millis(*t.archived_at)) : store::Value(nullptr),
       static_cast<std::int64_t>(t.locked ? 1 : 0), unix_millis(t.last_activity), t.slow_mode_seconds,
       std::int64_t{t.invitable ? 1 : 0}, store::join_text_list(t.applied_tags), std::int64_t{t.pinned ? 1 : 0}});
}

std::optional<Thread> pinned_post(Tx& tx, const std::string& channel_id) {
  auto row = tx.query_one(
      std::string("SELECT ") + thread_columns + " WHERE t.channel_id = $1 AND t.pinned = 1 AND t.deleted_ms IS NULL",
      {channel_id});
  if (!row) return std::nullopt;
  return thread_of(*row);
}

std::vector<std::pair<std::string, std::vector<std::string>>> tagged_threads(Tx& tx, const std::string& channel_id) {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (const auto& r : tx.query("SELECT id, applied_tags FROM msg_threads WHERE channel_id = $1 AND applied_tags <> ''",
                                {channel_id})) {
    out.emplace_back(r.get_text(0), store::split_text_list(r.get_text(1)));
  }
  return out;
}

void set_thread_tags(Tx& tx, const std::string& id, const std::vector<std::string>& tags) {
  tx.exec("UPDATE msg_threads SET applied_tags = $2 WHERE id = $1", {id, store::join_text_list(tags)});
}

std::vector<std::string> joined_threads(Tx& tx, const std::string& account, const std::vector<std::string>& channel_ids,
                                        std::int64_t now_ms, std::size_t limit) {
  std::vector<std::string> out;
  if (channel_ids.empty() || limit == 0) return out;
  std::vector<store::Value> params{account, now_ms, static_cast<std::int64_t>(limit)};
  const auto in = add_in_list(params, channel_ids.begin(), channel_ids.end());
  const auto rows = tx.query(
      "SELECT t.id FROM msg_threads t JOIN msg_thread_members m ON m.thread_id = t.id AND m.account = $1 "
      "WHERE t.archived_ms IS NULL AND t.deleted_ms IS NULL AND (t.pinned = 1 OR t.last_ms > $2 - "
      "t.auto_archive_minutes * 60000) AND "
      "t.channel_id IN (" +
          in + ") ORDER BY t.last_ms DESC, t.id LIMIT $3",
      params);
  for (const auto& r : rows) out.push_back(r.get_text(0));
  return out;
}

std::vector<std::string> thread_ids_in(Tx& tx, const std::vector<std::string>& channel_ids) {
  std::vector<std::string> out;
  // A few hundred channels per statement.
  constexpr std::size_t chunk = 500;
  for (std::size_t from = 0; from < channel_ids.size(); from += chunk) {
    std::vector<store::Value> params;
    const auto last = channel_ids.begin() + static_cast<std::ptrdiff_t>(std::min(from + chunk, channel_ids.size()));
    const auto in = add_in_list(params, channel_ids.begin() + static_cast<std::ptrdiff_t>(from), last);
    for (const auto& r : tx.query("SELECT id FROM msg_threads WHERE channel_id IN (" + in + ") ORDER BY id", params))
      out.push_back(r.get_text(0));
  }
  return out;
}

namespace {

// Locks a thread's row (PostgreSQL; SQLite's writes are serialized) before its members', in the
// order a post and a deletion take them; false when the thread was deleted (also by a deletion
// that committed while this waited).
bool lock_live_thread(Tx& tx, const std::string& thread_id) {
  const std::string lock = pg(tx) ? " FOR UPDATE" : "";
  return tx.query_one("SELECT 1 FROM msg_threads WHERE id = $1 AND deleted_ms IS NULL" + lock, {thread_id}).has_value();
}

}  // namespace

bool join_thread(Tx& tx, const std::string& thread_id, const std::string& account, std::int64_t at_ms,
                 ThreadNotify notify) {
  // A join that raced the thread's deletion adds no member.
  if (!lock_live_thread(tx, thread_id)) return false;
  if (tx.exec("INSERT INTO msg_thread_members (thread_id, account, joined_ms, notify) VALUES ($1, $2, $3, $4) "
              "ON CONFLICT (thread_id, account) DO NOTHING",
              {thread_id, account, at_ms, std::string(to_string(notify))}) == 0)
    return false;
  tx.exec("UPDATE msg_threads SET member_count = member_count + 1 WHERE id = $1", {thread_id});
  return true;
}

bool set_thread_notify(Tx& tx, const std::string& thread_id, const std::string& account, ThreadNotify notify) {
  return tx.exec("UPDATE msg_thread_members SET notify = $3 WHERE thread_id = $1 AND account = $2 AND notify <> $3",
                 {thread_id, account, std::string(to_string(notify))}) > 0;
}

std::vector<std::string> thread_followers(Tx& tx, const std::string& thread_id, std::size_t limit) {
  std::vector<std::string> out;
  for (const auto& r : tx.query("SELECT account FROM msg_thread_members WHERE thread_id = $1 AND notify = 'all' "
                                "ORDER BY joined_ms, account LIMIT $2",
                                {thread_id, static_cast<std::int64_t>(limit)}))
    out.push_back(r.get_text(0));
  return out;
}

bool leave_thread(Tx& tx, const std::string& thread_id, const std::string& account) {
  if (!lock_live_thread(tx, thread_id)) return false;
  if (tx.exec("DELETE FROM msg_thread_members WHERE thread_id = $1 AND account = $2", {thread_id, account}) == 0)
    return false;
  tx.exec("UPDATE msg_threads SET member_count = member_count - 1 WHERE id = $1 AND member_count > 0", {thread_id});
  return true;
}

std::vector<std::pair<std::string, std::string>> joined_in(Tx& tx, const std::string& account,
                                                           const std::vector<std::string>& channel_ids,
                                                           std::size_t limit) {
  std::vector<std::pair<std::string, std::string>> out;
  if (channel_ids.empty() || limit == 0) return out;
  std::vector<store::Value> params{account, static_cast<std::int64_t>(limit)};
  const auto in = add_in_list(params, channel_ids.begin(), channel_ids.end());
  const auto rows = tx.query(
      "SELECT t.id, t.channel_id FROM msg_thread_members m JOIN msg_threads t ON t.id = m.thread_id "
      "WHERE m.account = $1 AND t.deleted_ms IS NULL AND t.channel_id IN (" +
          in + ") ORDER BY t.id LIMIT $2",
      params);
  out.reserve(rows.size());
  for (const auto& r : rows) out.emplace_back(r.get_text(0), r.get_text(1));
  return out;
}

std::set<std::string> members_among(Tx& tx, const std::string& thread_id, const std::vector<std::string>& accounts) {
  std::set<std::string> out;
  for (auto& [account, notify] : membership_among(tx, "thread_id", thread_id, "account", accounts)) out.insert(account);
  return out;
}

std::map<std::string, ThreadNotify> joined_among(Tx& tx, const std::string& account,
                                                 const std::vector<std::string>& thread_ids) {
  return membership_among(tx, "account", account, "thread_id", thread_ids);
}

std::vector<ThreadMember> thread_members(Tx& tx, const std::string& thread_id, const std::optional<MemberCursor>& after,
                                         std::size_t limit) {
  std::vector<store::Value> params{thread_id, static_cast<std::int64_t>(limit)};
  std::string sql = "SELECT account, joined_ms FROM msg_thread_members WHERE thread_id = $1";
  if (after) {
    params.emplace_back(after->joined_ms);
    params.emplace_back(after->account);
    sql += " AND (joined_ms > $3 OR (joined_ms = $3 AND account > $4))";
  }
  sql += " ORDER BY joined_ms, account LIMIT $2";
  std::vector<ThreadMember> out;
  for (const auto& r : tx.query(sql, params)) {
    auto account = eth::parse_address(r.get_text(0));
    if (!account) continue;
    out.push_back(ThreadMember{*account, from_ms(r.get_int(1))});
  }
  return out;
}

}  // namespace gh::messaging::sql
