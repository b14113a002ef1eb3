#include "auth/store.hpp"

#include <algorithm>

#include "store/in_list.hpp"
#include "store/text_list.hpp"

namespace gh::auth::sql {
namespace {

std::int64_t ms(SystemTime t) {
  return unix_millis(t);
}
SystemTime from_ms(std::int64_t v) {
  return SystemTime(std::chrono::milliseconds(v));
}
std::optional<SystemTime> opt_time(const store::Row& r, std::size_t i) {
  if (r.is_null(i)) return std::nullopt;
  return from_ms(r.get_int(i));
}
bool pg(const Tx& tx) {
  return tx.dialect() == store::Dialect::postgres;
}

constexpr const char* session_columns =
    "id, address, secret_hash, created_ms, expires_ms, revoked_ms, chain_id, user_agent, ip";

SessionRow session_of(const store::Row& r) {
  return SessionRow{r.get_text(0),  r.get_text(1), r.get_text(2), from_ms(r.get_int(3)), from_ms(r.get_int(4)),
                    opt_time(r, 5), r.get_int(6),  r.get_text(7), r.get_text(8)};
}

constexpr const char* device_columns =
    "id, address, name, push_provider, identity_key, last_resort_key_package, created_ms, low_keys_notified";

DeviceRow device_of(const store::Row& r) {
  DeviceRow d;
  d.id = r.get_text(0);
  d.address = r.get_text(1);
  d.name = r.get_text(2);
  d.push_provider = r.get_text(3);
  d.identity_key = r.get_text(4);
  d.last_resort_key_package = r.get_text(5);
  d.created_at = from_ms(r.get_int(6));
  d.low_keys_notified = r.get_int(7) != 0;
  return d;
}

ApiKeyRow api_key_of(const store::Row& r) {
  ApiKeyRow k;
  k.info.id = r.get_text(0);
  k.info.name = r.get_text(1);
  k.info.scopes = split_scopes(r.get_text(2));
  k.secret_hash = r.get_text(3);
  k.info.created_at = from_ms(r.get_int(4));
  k.info.revoked_at = opt_time(r, 5);
  return k;
}

}  // namespace

void insert_nonce(Tx& tx, const std::string& nonce, SystemTime created, SystemTime expires) {
  tx.exec("INSERT INTO auth_nonces (nonce, created_ms, expires_ms) VALUES ($1, $2, $3)",
          {nonce, ms(created), ms(expires)});
}

std::int64_t purge_nonces(Tx& tx, SystemTime now, std::size_t limit) {
  return tx.exec(
      "DELETE FROM auth_nonces WHERE nonce IN (SELECT nonce FROM auth_nonces WHERE used_ms IS NOT NULL OR "
      "expires_ms <= $1 LIMIT $2)",
      {ms(now), static_cast<std::int64_t>(limit)});
}

std::int64_t purge_sessions(Tx& tx, SystemTime cutoff, std::size_t limit) {
  return tx.exec(
      "DELETE FROM auth_sessions WHERE id IN (SELECT id FROM auth_sessions WHERE expires_ms < $1 OR "
      "(revoked_ms IS NOT NULL AND revoked_ms < $1) LIMIT $2)",
      {ms(cutoff), static_cast<std::int64_t>(limit)});
}

std::optional<NonceRow> find_nonce(Tx& tx, const std::string& nonce) {
  auto row = tx.query_one("SELECT expires_ms, used_ms FROM auth_nonces WHERE nonce = $1", {nonce});
  if (!row) return std::nullopt;
  return NonceRow{from_ms(row->get_int(0)), !row->is_null(1)};
}

bool consume_nonce(Tx& tx, const std::string& nonce, SystemTime now) {
  return tx.exec("UPDATE auth_nonces SET used_ms = $2 WHERE nonce = $1 AND used_ms IS NULL AND expires_ms > $2",
                 {nonce, ms(now)}) == 1;
}

bool account_exists(Tx& tx, const std::string& address) {
  return tx.query_one("SELECT 1 FROM auth_accounts WHERE address = $1", {address}).has_value();
}

void record_sign_in(Tx& tx, const std::string& address, SystemTime now) {
  tx.exec(
      "INSERT INTO auth_accounts (address, created_ms, last_sign_in_ms) VALUES ($1, $2, $2) "
      "ON CONFLICT (address) DO UPDATE SET last_sign_in_ms = $2",
      {address, ms(now)});
}

std::optional<SystemTime> account_created(Tx& tx, const std::string& address) {
  auto row = tx.query_one("SELECT created_ms FROM auth_accounts WHERE address = $1", {address});
  if (!row) return std::nullopt;
  return from_ms(row->get_int(0));
}

void lock_account(Tx& tx, const std::string& address) {
  if (pg(tx)) tx.query_one("SELECT address FROM auth_accounts WHERE address = $1 FOR UPDATE", {address});
}

void insert_session(Tx& tx, const SessionRow& s) {
  tx.exec(
      "INSERT INTO auth_sessions (id, address, secret_hash, created_ms, expires_ms, chain_id, user_agent, ip) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
      {s.id, s.address, s.secret_hash, ms(s.created_at), ms(s.expires_at), s.chain_id, s.user_agent, s.ip});
}

std::optional<SessionRow> find_session(Tx& tx, const std::string& id) {
  auto row = tx.query_one(std::string("SELECT ") + session_columns + " FROM auth_sessions WHERE id = $1", {id});
  if (!row) return std::nullopt;
  return session_of(*row);
}

void revoke_session(Tx& tx, const std::string& id, SystemTime now) {
  tx.exec("UPDATE auth_sessions SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL", {id, ms(now)});
}

std::vector<SessionRow> live_sessions(Tx& tx, const std::string& address, SystemTime now, std::size_t limit) {
  auto rows = tx.query(std::string("SELECT ") + session_columns +
                           " FROM auth_sessions WHERE address = $1 AND revoked_ms IS NULL AND expires_ms > $2 "
                           "ORDER BY created_ms DESC, id LIMIT $3",
                       {address, ms(now), static_cast<std::int64_t>(limit)});
  std::vector<SessionRow> out;
  for (const auto& r : rows) out.push_back(session_of(r));
  return out;
}

std::vector<DeviceRow> list_devices(Tx& tx, const std::string& address, SystemTime now) {
  auto rows = tx.query(std::string("SELECT ") + device_columns +
                           ", (SELECT count(*) FROM auth_key_packages p WHERE p.device_id = auth_devices.id "
                           "AND p.expires_ms > $2) FROM auth_devices WHERE address = $1 ORDER BY created_ms, id",
                       {address, ms(now)});
  std::vector<DeviceRow> out;
  for (const auto& r : rows) {
    out.push_back(device_of(r));
    out.back().key_packages = r.get_int(8);
  }
  return out;
}

std::optional<DeviceRow> find_device(Tx& tx, const std::string& id, bool for_update) {
  std::string q = std::string("SELECT ") + device_columns + " FROM auth_devices WHERE id = $1";
  if (for_update && pg(tx)) q += " FOR UPDATE";
  auto row = tx.query_one(q, {id});
  if (!row) return std::nullopt;
  return device_of(*row);
}

std::vector<PushRow> push_registrations(Tx& tx, const std::vector<std::string>& addresses) {
  std::vector<PushRow> out;
  store::for_each_in_list(addresses, 500, {}, [&](const std::string& in_list, const std::vector<store::Value>& params) {
    for (const auto& r : tx.query("SELECT address, id, push_provider, push_token FROM auth_devices WHERE address IN (" +
                                      in_list + ") ORDER BY address, created_ms, id",
                                  params)) {
      out.push_back(PushRow{r.get_text(0), r.get_text(1), r.get_text(2), r.get_text(3)});
    }
  });
  return out;
}

void clear_push_token(Tx& tx, const std::string& device_id) {
  tx.exec("UPDATE auth_devices SET push_provider = 'none', push_token = '' WHERE id = $1", {device_id});
}

std::int64_t device_count(Tx& tx, const std::string& address) {
  return tx.query_one("SELECT count(*) FROM auth_devices WHERE address = $1", {address})->get_int(0);
}

void insert_device(Tx& tx, const std::string& id, const std::string& address, const DeviceRegistration& reg,
                   const std::string& last_resort, SystemTime now) {
  tx.exec(
      "INSERT INTO auth_devices (id, address, name, push_provider, push_token, identity_key, "
      "last_resort_key_package, created_ms, low_keys_notified) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)",
      {id, address, reg.name, reg.push_provider, reg.push_token, reg.identity_key, last_resort, ms(now)});
}

void update_last_resort(Tx& tx, const std::string& device_id, const std::string& key_package) {
  tx.exec("UPDATE auth_devices SET last_resort_key_package = $2 WHERE id = $1", {device_id, key_package});
}

void delete_device(Tx& tx, const std::string& device_id) {
  tx.exec("DELETE FROM auth_key_packages WHERE device_id = $1", {device_id});
  tx.exec("DELETE FROM auth_devices WHERE id = $1", {device_id});
}

bool mark_low_keys_notified(Tx& tx, const std::string& device_id) {
  return tx.exec("UPDATE auth_devices SET low_keys_notified = 1 WHERE id = $1 AND low_keys_notified = 0",
                 {device_id}) == 1;
}

void clear_low_keys_notified(Tx& tx, const std::string& device_id) {
  tx.exec("UPDATE auth_devices SET low_keys_notified = 0 WHERE id = $1", {device_id});
}

std::int64_t key_package_count(Tx& tx, const std::string& device_id, SystemTime now) {
  return tx
      .query_one("SELECT count(*) FROM auth_key_packages WHERE device_id = $1 AND expires_ms > $2",
                 {device_id, ms(now)})
      ->get_int(0);
}

std::int64_t insert_key_packages(Tx& tx, const std::string& device_id, const std::vector<KeyPackage>& packages,
                                 SystemTime now) {
  std::int64_t added = 0;
  for (const auto& p : packages) {
    added += static_cast<std::int64_t>(
        tx.exec("INSERT INTO auth_key_packages (device_id, ref, key_package, created_ms, expires_ms) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id, ref) DO NOTHING",
                {device_id, p.ref, p.data, ms(now), ms(p.expires_at)}));
  }
  return added;
}

std::optional<std::string> take_key_package(Tx& tx, const std::string& device_id, SystemTime now) {
  tx.exec("DELETE FROM auth_key_packages WHERE device_id = $1 AND expires_ms <= $2", {device_id, ms(now)});
  // Each one-time package leaves the table as it is handed out, so no two callers get the same
  // one; SKIP LOCKED lets concurrent callers on PostgreSQL take different rows without waiting.
  auto taken = tx.query_one(
      pg(tx) ? "DELETE FROM auth_key_packages WHERE device_id = $1 AND ref = (SELECT ref FROM auth_key_packages "
               "WHERE device_id = $1 ORDER BY created_ms, ref LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING key_package"
             : "DELETE FROM auth_key_packages WHERE device_id = $1 AND ref = (SELECT ref FROM auth_key_packages "
               "WHERE device_id = $1 ORDER BY created_ms, ref LIMIT 1) RETURNING key_package",
      {device_id});
  if (!taken) return std::nullopt;
  return taken->get_text(0);
}

void insert_api_key(Tx& tx, const ApiKeyRow& key) {
  tx.exec("INSERT INTO auth_api_keys (id, name, scopes, secret_hash, created_ms) VALUES ($1, $2, $3, $4, $5)",
          {key.info.id, key.info.name, gh::store::join_text_list(key.info.scopes), key.secret_hash,
           ms(key.info.created_at)});
}

std::optional<ApiKeyRow> find_api_key(Tx& tx, const std::string& id) {
  auto row = tx.query_one(
      "SELECT id, name, scopes, secret_hash, created_ms, revoked_ms FROM auth_api_keys WHERE id = $1", {id});
  if (!row) return std::nullopt;
  return api_key_of(*row);
}

std::vector<ApiKeyRow> list_api_keys(Tx& tx) {
  auto rows = tx.query(
      "SELECT id, name, scopes, secret_hash, created_ms, revoked_ms FROM auth_api_keys "
      "ORDER BY created_ms, id");
  std::vector<ApiKeyRow> out;
  for (const auto& r : rows) out.push_back(api_key_of(r));
  return out;
}

bool revoke_api_key(Tx& tx, const std::string& id, SystemTime now) {
  return tx.exec("UPDATE auth_api_keys SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL", {id, ms(now)}) == 1;
}

}  // namespace gh::auth::sql
