#include "e2e/store.hpp"

namespace gh::e2e::sql {
namespace {

std::int64_t ms(SystemTime t) {
  return unix_millis(t);
}
SystemTime from_ms(std::int64_t v) {
  return SystemTime(std::chrono::milliseconds(v));
}
bool pg(const Tx& tx) {
  return tx.dialect() == store::Dialect::postgres;
}

constexpr const char* group_columns = "id, kind, creator, epoch, last_seq, created_ms";

GroupRow group_of(const store::Row& r) {
  GroupRow g;
  g.id = r.get_text(0);
  g.kind = parse_group_kind(r.get_text(1)).value_or(GroupKind::group);
  g.creator = r.get_text(2);
  g.epoch = r.get_int(3);
  g.last_seq = r.get_int(4);
  g.created_at = from_ms(r.get_int(5));
  return g;
}

}  // namespace

std::optional<GroupRow> find_group(Tx& tx, const std::string& id, bool for_update) {
  std::string q = std::string("SELECT ") + group_columns + " FROM e2e_groups WHERE id = $1";
  if (for_update && pg(tx)) q += " FOR UPDATE";
  auto row = tx.query_one(q, {id});
  if (!row) return std::nullopt;
  return group_of(*row);
}

std::optional<std::string> find_dm(Tx& tx, const std::string& pair) {
  auto row = tx.query_one("SELECT id FROM e2e_groups WHERE dm_pair = $1", {pair});
  if (!row) return std::nullopt;
  return row->get_text(0);
}

bool insert_group(Tx& tx, const GroupRow& g, const std::optional<std::string>& dm_pair) {
  store::Value pair = dm_pair ? store::Value(*dm_pair) : store::Value(nullptr);
  return tx.exec(
             "INSERT INTO e2e_groups (id, kind, creator, dm_pair, epoch, last_seq, created_ms) "
             "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
             {g.id, std::string(to_string(g.kind)), g.creator, pair, g.epoch, g.last_seq, ms(g.created_at)}) == 1;
}

void set_group_position(Tx& tx, const std::string& id, std::int64_t epoch, std::int64_t last_seq) {
  tx.exec("UPDATE e2e_groups SET epoch = $2, last_seq = $3 WHERE id = $1", {id, epoch, last_seq});
}

std::vector<std::string> members(Tx& tx, const std::string& group_id) {
  std::vector<std::string> out;
  for (const auto& r :
       tx.query("SELECT account FROM e2e_members WHERE group_id = $1 ORDER BY added_seq, account", {group_id})) {
    out.push_back(r.get_text(0));
  }
  return out;
}

bool is_member(Tx& tx, const std::string& group_id, const std::string& account) {
  return tx.query_one("SELECT 1 FROM e2e_members WHERE group_id = $1 AND account = $2", {group_id, account})
      .has_value();
}

void add_member(Tx& tx, const std::string& group_id, const std::string& account, std::int64_t seq) {
  tx.exec("INSERT INTO e2e_members (group_id, account, added_seq) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
          {group_id, account, seq});
}

void remove_member(Tx& tx, const std::string& group_id, const std::string& account) {
  tx.exec("DELETE FROM e2e_members WHERE group_id = $1 AND account = $2", {group_id, account});
}

std::vector<GroupRow> groups_of(Tx& tx, const std::string& account) {
  std::vector<GroupRow> out;
  for (const auto& r : tx.query("SELECT g.id, g.kind, g.creator, g.epoch, g.last_seq, g.created_ms FROM e2e_groups g "
                                "JOIN e2e_members m ON m.group_id = g.id WHERE m.account = $1 "
                                "ORDER BY g.created_ms, g.id",
                                {account})) {
    out.push_back(group_of(r));
  }
  return out;
}

void insert_message(Tx& tx, const NewMessage& m) {
  store::Value hidden = m.hidden_for ? store::Value(*m.hidden_for) : store::Value(nullptr);
  tx.exec(
      "INSERT INTO e2e_messages (group_id, seq, sender, sender_device, client_id, epoch, content_type, message, "
      "hidden_for, created_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
      {m.group_id, m.seq, m.sender, m.sender_device, m.client_id, m.epoch, static_cast<std::int64_t>(m.content_type),
       m.message, hidden, ms(m.created_at)});
}

std::optional<std::int64_t> seq_of_client_id(Tx& tx, const std::string& group_id, const std::string& sender,
                                             const std::string& client_id) {
  auto row = tx.query_one("SELECT seq FROM e2e_messages WHERE group_id = $1 AND sender = $2 AND client_id = $3",
                          {group_id, sender, client_id});
  if (!row) return std::nullopt;
  return row->get_int(0);
}

namespace {

// A message from a row that starts with seq, sender, sender_device, epoch, content_type, message,
// created_ms; a withheld one (hidden from its reader) carries no ciphertext.
StoredMessage message_of(const store::Row& r, bool withheld) {
  StoredMessage m;
  m.seq = r.get_int(0);
  // A sender that is not an address is a corrupt row: it fails the read as the database's, as a
  // column of another type does, rather than showing the zero address as the sender.
  auto sender = eth::parse_address(r.get_text(1));
  if (!sender) throw store::DbError(store::DbErrorKind::other, "", "e2e: a stored sender is not an address");
  m.sender = *sender;
  m.sender_device = r.get_text(2);
  m.epoch = r.get_int(3);
  m.content_type = static_cast<mls::ContentType>(r.get_int(4));
  m.withheld = withheld;
  if (!withheld) m.message = r.get_text(5);
  m.created_at = from_ms(r.get_int(6));
  return m;
}

}  // namespace

std::vector<StoredMessage> messages_after(Tx& tx, const std::string& group_id, const std::string& reader,
                                          std::int64_t after_seq, std::size_t limit, SystemTime oldest) {
  std::vector<StoredMessage> out;
  for (const auto& r :
       tx.query("SELECT seq, sender, sender_device, epoch, content_type, message, created_ms FROM e2e_messages "
                "WHERE group_id = $1 AND seq > $2 AND created_ms >= $3 AND (hidden_for IS NULL OR hidden_for <> $4) "
                "ORDER BY seq LIMIT $5",
                {group_id, after_seq, ms(oldest), reader, static_cast<std::int64_t>(limit)})) {
    out.push_back(message_of(r, false));
  }
  return out;
}

std::vector<StoredMessage> log_after(Tx& tx, const std::string& group_id, const std::string& reader,
                                     std::int64_t after_seq, std::size_t limit, SystemTime oldest) {
  std::vector<StoredMessage> out;
  for (const auto& r : tx.query("SELECT seq, sender, sender_device, epoch, content_type, message, created_ms, "
                                "CASE WHEN hidden_for = $4 THEN 1 ELSE 0 END FROM e2e_messages "
                                "WHERE group_id = $1 AND seq > $2 AND created_ms >= $3 ORDER BY seq LIMIT $5",
                                {group_id, after_seq, ms(oldest), reader, static_cast<std::int64_t>(limit)})) {
    out.push_back(message_of(r, r.get_int(7) != 0));
  }
  return out;
}

void insert_welcome(Tx& tx, const std::string& id, const std::string& device_id, const std::string& group_id,
                    std::int64_t seq, const std::string& welcome, SystemTime now) {
  tx.exec(
      "INSERT INTO e2e_welcomes (id, device_id, group_id, seq, welcome, created_ms) VALUES ($1, $2, $3, $4, $5, $6)",
      {id, device_id, group_id, seq, welcome, ms(now)});
}

std::vector<QueuedWelcome> welcomes_of(Tx& tx, const std::string& device_id, std::size_t limit, SystemTime oldest) {
  std::vector<QueuedWelcome> out;
  for (const auto& r : tx.query("SELECT id, group_id, seq, welcome, created_ms FROM e2e_welcomes "
                                "WHERE device_id = $1 AND created_ms >= $2 ORDER BY created_ms, id LIMIT $3",
                                {device_id, ms(oldest), static_cast<std::int64_t>(limit)})) {
    out.push_back({r.get_text(0), r.get_text(1), r.get_int(2), r.get_text(3), from_ms(r.get_int(4))});
  }
  return out;
}

bool delete_welcome(Tx& tx, const std::string& device_id, const std::string& id) {
  return tx.exec("DELETE FROM e2e_welcomes WHERE device_id = $1 AND id = $2", {device_id, id}) == 1;
}

void set_cursor(Tx& tx, const std::string& group_id, const std::string& device_id, std::int64_t seq) {
  tx.exec(
      "INSERT INTO e2e_cursors (group_id, device_id, acked_seq) VALUES ($1, $2, $3) "
      "ON CONFLICT (group_id, device_id) DO UPDATE SET acked_seq = excluded.acked_seq "
      "WHERE excluded.acked_seq > e2e_cursors.acked_seq",
      {group_id, device_id, seq});
}

void drop_device(Tx& tx, const std::string& device_id) {
  tx.exec("DELETE FROM e2e_welcomes WHERE device_id = $1", {device_id});
  tx.exec("DELETE FROM e2e_cursors WHERE device_id = $1", {device_id});
}

Consent consent(Tx& tx, const std::string& account, const std::string& peer) {
  auto row = tx.query_one("SELECT state FROM e2e_consent WHERE account = $1 AND peer = $2", {account, peer});
  if (!row) return Consent::unknown;
  return parse_consent(row->get_text(0)).value_or(Consent::unknown);
}

void set_consent(Tx& tx, const std::string& account, const std::string& peer, Consent state, SystemTime now) {
  tx.exec(
      "INSERT INTO e2e_consent (account, peer, state, changed_ms) VALUES ($1, $2, $3, $4) "
      "ON CONFLICT (account, peer) DO UPDATE SET state = excluded.state, changed_ms = excluded.changed_ms",
      {account, peer, std::string(to_string(state)), ms(now)});
}

std::int64_t purge(Tx& tx, SystemTime before, std::size_t limit) {
  const auto cutoff = ms(before);
  const auto n = static_cast<std::int64_t>(limit);
  std::int64_t gone = tx.exec(
      "DELETE FROM e2e_messages WHERE (group_id, seq) IN (SELECT group_id, seq FROM e2e_messages "
      "WHERE created_ms < $1 ORDER BY created_ms LIMIT $2)",
      {cutoff, n});
  gone += tx.exec(
      "DELETE FROM e2e_welcomes WHERE id IN (SELECT id FROM e2e_welcomes WHERE created_ms < $1 ORDER BY created_ms "
      "LIMIT $2)",
      {cutoff, n});
  return gone;
}

}  // namespace gh::e2e::sql
