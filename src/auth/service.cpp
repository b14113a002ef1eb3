#include "auth/service.hpp"

#include <algorithm>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "auth/secrets.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "eth/abi.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/secp256k1.hpp"
#include "eth/siwe.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::auth {
namespace {

namespace json = boost::json;
using store::Tx;

std::int64_t ms(SystemTime t) { return unix_millis(t); }
SystemTime from_ms(std::int64_t v) { return SystemTime(std::chrono::milliseconds(v)); }

Error unauthorized(std::string code, std::string message) {
  return make_error(ErrorKind::unauthorized, std::move(code), std::move(message));
}
Error forbidden(std::string message) { return make_error(ErrorKind::forbidden, "forbidden", std::move(message)); }

// SIWE failures are all 401s, keeping the parser's and validator's codes.
Error as_unauthorized(Error e) {
  e.kind = ErrorKind::unauthorized;
  return e;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// "https://user@host:port/path?q" -> scheme "https", authority "host:port".
std::pair<std::string, std::string> scheme_and_authority(std::string_view uri) {
  const auto colon = uri.find(':');
  if (colon == std::string_view::npos) return {};
  std::string scheme(uri.substr(0, colon));
  auto rest = uri.substr(colon + 1);
  if (rest.substr(0, 2) != "//") return {scheme, ""};
  rest.remove_prefix(2);
  auto authority = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = authority.rfind('@'); at != std::string_view::npos) authority.remove_prefix(at + 1);
  return {scheme, std::string(authority)};
}

bool pg(const Tx& tx) { return tx.dialect() == store::Dialect::postgres; }

void publish_or_throw(Tx& tx, bus::NewEvent event) {
  auto id = bus::publish(tx, event);
  if (!id) throw std::logic_error("auth event rejected by the bus: " + id.error().message);
}

std::int64_t prekey_count(Tx& tx, const std::string& device_id) {
  return tx.query_one("SELECT count(*) FROM auth_prekeys WHERE device_id = $1", {device_id})->get_int(0);
}

// The owner of a device: 404 when there is none, 403 when it is someone else's.
Result<void> check_device_owner(Tx& tx, const std::string& device_id, const eth::Address& who) {
  const char* sql = pg(tx) ? "SELECT address FROM auth_devices WHERE id = $1 FOR UPDATE"
                           : "SELECT address FROM auth_devices WHERE id = $1";
  auto row = tx.query_one(sql, {device_id});
  if (!row) return not_found("no such device");
  if (row->get_text(0) != eth::to_lower_hex(who)) return forbidden("the device belongs to another account");
  return ok();
}

void insert_prekeys(Tx& tx, const std::string& device_id, const std::vector<Prekey>& prekeys) {
  for (const auto& k : prekeys) {
    tx.exec("INSERT INTO auth_prekeys (device_id, key_id, public_key) VALUES ($1, $2, $3)", {device_id, k.id, k.key});
  }
}

}  // namespace

Task<Result<void>> SignatureVerifier::verify(std::uint64_t chain_id, const eth::Address& address,
                                             std::string_view message, const eth::Bytes& signature) {
  const auto hash = eth::personal_message_hash(eth::as_bytes(message));
  if (signature.size() == 65) {
    auto parsed = eth::parse_signature(signature);
    if (parsed) {
      if (auto signer = eth::ecrecover(hash, *parsed); signer && *signer == address) co_return ok();
    }
  }
  // Not the key of the address: it may be a contract wallet (EIP-1271).
  rpc::RpcClient* client = m_rpc ? m_rpc(chain_id) : nullptr;
  if (client == nullptr) co_return unauthorized("siwe_signature_invalid", "the signature is not the address's");
  auto code = co_await client->get_code(address);
  if (!code) {
    co_return make_error(ErrorKind::unavailable, "chain_unavailable",
                         fmt::format("chain {} cannot be reached to check a contract wallet", chain_id));
  }
  if (code->empty()) co_return unauthorized("siwe_signature_invalid", "the signature is not the address's");
  static const auto is_valid_signature = *eth::parse_abi_signature("isValidSignature(bytes32,bytes)");
  auto data = eth::encode_function_call(
      is_valid_signature, {eth::AbiValue::bytes(eth::Bytes(hash.bytes.begin(), hash.bytes.end())), eth::AbiValue::bytes(signature)});
  if (!data) co_return unauthorized("siwe_signature_invalid", data.error().message);
  rpc::CallRequest call;
  call.to = address;
  call.data = std::move(*data);
  auto answer = co_await client->eth_call(std::move(call));
  if (!answer) {
    if (answer.error().kind == rpc::RpcErrc::rpc) {
      co_return unauthorized("siwe_signature_invalid", "the contract wallet rejected the signature");
    }
    co_return make_error(ErrorKind::unavailable, "chain_unavailable",
                         fmt::format("chain {} cannot be reached to check a contract wallet", chain_id));
  }
  // EIP-1271's magic value, left-aligned in the returned bytes32.
  const auto& out = *answer;
  if (out.size() >= 4 && out[0] == 0x16 && out[1] == 0x26 && out[2] == 0xba && out[3] == 0x7e) co_return ok();
  co_return unauthorized("siwe_signature_invalid", "the contract wallet rejected the signature");
}

AuthService::AuthService(store::Database& db, BlockingPool& pool, const Clock& clock, AuthSettings settings,
                         SignatureVerifier& verifier, std::function<void()> events_published)
    : m_db(db),
      m_pool(pool),
      m_clock(clock),
      m_settings(std::move(settings)),
      m_verifier(verifier),
      m_events_published(std::move(events_published)) {}

Task<Result<IssuedNonce>> AuthService::issue_nonce() {
  const auto now = m_clock.now();
  IssuedNonce issued{random_alnum(24), now + m_settings.nonce_ttl};
  co_await m_pool.run([&] {
    m_db.transact([&](Tx& tx) {
      tx.exec("INSERT INTO auth_nonces (nonce, created_ms, expires_ms) VALUES ($1, $2, $3)",
              {issued.nonce, ms(now), ms(issued.expires_at)});
    });
  });
  co_return issued;
}

Task<Result<SignedIn>> AuthService::verify(std::string message, std::string signature_hex, ClientInfo client) {
  auto parsed = eth::parse_siwe(message);
  if (!parsed) co_return as_unauthorized(std::move(parsed).error());
  const auto m = std::move(*parsed);

  if (std::none_of(m_settings.siwe_domains.begin(), m_settings.siwe_domains.end(),
                   [&](const std::string& d) { return iequals(d, m.domain); })) {
    co_return unauthorized("siwe_domain_mismatch", "the message is for another domain: " + m.domain);
  }
  // No structured bindings in coroutines: GCC 12 miscompiles them.
  const auto uri_parts = scheme_and_authority(m.uri);
  if (!iequals(uri_parts.second, m.domain) || (m.scheme && !iequals(*m.scheme, uri_parts.first))) {
    co_return unauthorized("siwe_uri_mismatch", "the message's URI does not belong to its domain");
  }
  if (!m_settings.chain_ids.count(m.chain_id)) {
    co_return unauthorized("siwe_chain_unsupported", fmt::format("chain {} is not served here", m.chain_id));
  }
  const auto now = m_clock.now();
  eth::SiweExpectations expect;
  expect.now = std::chrono::time_point_cast<std::chrono::milliseconds>(now);
  expect.clock_skew = m_settings.clock_skew;
  expect.max_age = m_settings.nonce_ttl;
  expect.reject_future_issued_at = true;
  if (auto valid = eth::validate_siwe(m, expect); !valid) co_return as_unauthorized(std::move(valid).error());

  auto nonce_row = co_await m_pool.run([&] {
    return m_db.transact(
        [&](Tx& tx) { return tx.query_one("SELECT expires_ms, used_ms FROM auth_nonces WHERE nonce = $1", {m.nonce}); },
        store::TxOptions{true});
  });
  if (!nonce_row || !nonce_row->is_null(1) || nonce_row->get_int(0) <= ms(now)) {
    co_return unauthorized("siwe_nonce_invalid", "the nonce was not issued here, is used, or has expired");
  }

  if (signature_hex.size() > 2 + 2 * m_settings.max_signature_bytes) {
    co_return unauthorized("siwe_signature_invalid", "the signature is too long");
  }
  auto signature = eth::from_hex(signature_hex);
  if (!signature || signature_hex.rfind("0x", 0) != 0) {
    co_return unauthorized("siwe_signature_invalid", "the signature must be 0x-prefixed hex");
  }
  if (auto signed_by = co_await m_verifier.verify(m.chain_id, m.address, message, *signature); !signed_by) {
    co_return std::move(signed_by).error();
  }

  const auto made = make_credential(session_token_prefix);
  const Credential& credential = made.second;
  const auto address = eth::to_lower_hex(m.address);
  SignedIn result{made.first, m.address, credential.id, now + m_settings.session_ttl, false};
  auto committed = co_await m_pool.run([&]() -> Result<bool> {
    return m_db.transact([&](Tx& tx) -> Result<bool> {
      // The nonce is consumed here, in the transaction that opens the session: of two verifies
      // racing with one nonce, exactly one changes this row.
      if (tx.exec("UPDATE auth_nonces SET used_ms = $2 WHERE nonce = $1 AND used_ms IS NULL AND expires_ms > $2",
                  {m.nonce, ms(now)}) != 1) {
        return unauthorized("siwe_nonce_invalid", "the nonce was used by another sign-in");
      }
      const bool existed = tx.query_one("SELECT 1 FROM auth_accounts WHERE address = $1", {address}).has_value();
      tx.exec("INSERT INTO auth_accounts (address, created_ms, last_sign_in_ms) VALUES ($1, $2, $2) "
              "ON CONFLICT (address) DO UPDATE SET last_sign_in_ms = $2",
              {address, ms(now)});
      tx.exec("INSERT INTO auth_sessions (id, address, secret_hash, created_ms, expires_ms, chain_id, user_agent, ip) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
              {credential.id, address, sha256_hex(credential.secret), ms(now), ms(result.expires_at),
               static_cast<std::int64_t>(m.chain_id), client.user_agent.substr(0, 256), client.ip});
      json::object payload{{"address", eth::to_checksum(m.address)},
                           {"session_id", credential.id},
                           {"chain_id", m.chain_id},
                           {"new_account", !existed}};
      publish_or_throw(tx, {"auth.signed_in", address, json::serialize(payload)});
      return !existed;
    });
  });
  if (!committed) co_return std::move(committed).error();
  result.new_account = *committed;
  if (m_events_published) m_events_published();
  log::info("signed in", {{"address", eth::to_checksum(m.address)}, {"session_id", credential.id}, {"new_account", result.new_account}});
  co_return result;
}

Task<Result<Principal>> AuthService::authenticate(std::string_view token) {
  auto credential = parse_credential(token, session_token_prefix);
  if (!credential) co_return unauthorized("invalid_session", "the session token is malformed");
  const auto now_ms = ms(m_clock.now());
  auto row = co_await m_pool.run([&] {
    return m_db.transact(
        [&](Tx& tx) {
          return tx.query_one("SELECT address, secret_hash, expires_ms, revoked_ms FROM auth_sessions WHERE id = $1",
                              {credential->id});
        },
        store::TxOptions{true});
  });
  // The hash is compared even for unknown ids, so timing does not tell which ids exist.
  const std::string stored = row ? row->get_text(1) : std::string(64, '0');
  const bool secret_ok = constant_time_equal(sha256_hex(credential->secret), stored);
  if (!row || !secret_ok || !row->is_null(3) || row->get_int(2) <= now_ms) {
    co_return unauthorized("invalid_session", "the session is unknown, revoked or expired");
  }
  auto address = eth::parse_address(row->get_text(0));
  if (!address) co_return internal_error("stored address is malformed");
  co_return Principal{*address, credential->id};
}

Task<Result<void>> AuthService::logout(const Principal& who) {
  const auto now_ms = ms(m_clock.now());
  co_await m_pool.run([&] {
    m_db.transact([&](Tx& tx) {
      tx.exec("UPDATE auth_sessions SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL", {who.session_id, now_ms});
    });
  });
  co_return ok();
}

Task<Result<std::vector<SessionInfo>>> AuthService::sessions(const Principal& who) {
  const auto now_ms = ms(m_clock.now());
  auto rows = co_await m_pool.run([&] {
    return m_db.transact(
        [&](Tx& tx) {
          return tx.query(
              "SELECT id, created_ms, expires_ms, ip, user_agent FROM auth_sessions WHERE address = $1 AND "
              "revoked_ms IS NULL AND expires_ms > $2 ORDER BY created_ms DESC, id LIMIT $3",
              {eth::to_lower_hex(who.address), now_ms, static_cast<std::int64_t>(m_settings.max_sessions_listed)});
        },
        store::TxOptions{true});
  });
  std::vector<SessionInfo> out;
  for (const auto& r : rows) {
    out.push_back({r.get_text(0), from_ms(r.get_int(1)), from_ms(r.get_int(2)), r.get_text(3), r.get_text(4),
                   r.get_text(0) == who.session_id});
  }
  co_return out;
}

Task<Result<void>> AuthService::revoke_session(const Principal& who, std::string session_id) {
  const auto now_ms = ms(m_clock.now());
  co_return co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto row = tx.query_one("SELECT address FROM auth_sessions WHERE id = $1", {session_id});
      if (!row) return not_found("no such session");
      if (row->get_text(0) != eth::to_lower_hex(who.address)) return forbidden("the session belongs to another account");
      tx.exec("UPDATE auth_sessions SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL", {session_id, now_ms});
      return ok();
    });
  });
}

Task<Result<Me>> AuthService::me(const Principal& who) {
  const auto address = eth::to_lower_hex(who.address);
  co_return co_await m_pool.run([&]() -> Result<Me> {
    return m_db.transact(
        [&](Tx& tx) -> Result<Me> {
          auto account = tx.query_one("SELECT created_ms FROM auth_accounts WHERE address = $1", {address});
          if (!account) return not_found("no such account");
          Me me{who.address, from_ms(account->get_int(0)), {}};
          auto rows = tx.query(
              "SELECT d.id, d.name, d.push_provider, d.created_ms, "
              "(SELECT count(*) FROM auth_prekeys p WHERE p.device_id = d.id) FROM auth_devices d "
              "WHERE d.address = $1 ORDER BY d.created_ms, d.id",
              {address});
          for (const auto& r : rows) {
            me.devices.push_back({r.get_text(0), r.get_text(1), r.get_text(2), from_ms(r.get_int(3)), r.get_int(4)});
          }
          return me;
        },
        store::TxOptions{true});
  });
}

Task<Result<std::string>> AuthService::register_device(const Principal& who, DeviceRegistration reg) {
  const auto address = eth::to_lower_hex(who.address);
  const auto now_ms = ms(m_clock.now());
  const auto device_id = random_hex(16);
  co_return co_await m_pool.run([&]() -> Result<std::string> {
    return m_db.transact([&](Tx& tx) -> Result<std::string> {
      // Lock the account so two registrations racing cannot both pass the device limit.
      tx.query_one(pg(tx) ? "SELECT address FROM auth_accounts WHERE address = $1 FOR UPDATE"
                          : "SELECT address FROM auth_accounts WHERE address = $1",
                   {address});
      const auto count = tx.query_one("SELECT count(*) FROM auth_devices WHERE address = $1", {address})->get_int(0);
      if (count >= static_cast<std::int64_t>(m_settings.max_devices)) {
        return make_error(ErrorKind::conflict, "too_many_devices",
                          fmt::format("an account has at most {} devices; delete one first", m_settings.max_devices));
      }
      tx.exec("INSERT INTO auth_devices (id, address, name, push_provider, push_token, identity_key, signed_prekey_id, "
              "signed_prekey, signed_prekey_signature, created_ms, low_keys_notified) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0)",
              {device_id, address, reg.name, reg.push_provider, reg.push_token, reg.identity_key,
               reg.signed_prekey.id, reg.signed_prekey.key, reg.signed_prekey.signature, now_ms});
      insert_prekeys(tx, device_id, reg.one_time_prekeys);
      json::object payload{{"address", eth::to_checksum(who.address)}, {"device_id", device_id}};
      publish_or_throw(tx, {"auth.device_added", address, json::serialize(payload)});
      return device_id;
    });
  });
}

Task<Result<std::string>> AuthService::device_identity_key(const Principal& who, std::string device_id) {
  co_return co_await m_pool.run([&]() -> Result<std::string> {
    return m_db.transact(
        [&](Tx& tx) -> Result<std::string> {
          auto row = tx.query_one("SELECT address, identity_key FROM auth_devices WHERE id = $1", {device_id});
          if (!row) return not_found("no such device");
          if (row->get_text(0) != eth::to_lower_hex(who.address)) return forbidden("the device belongs to another account");
          return row->get_text(1);
        },
        store::TxOptions{true});
  });
}

Task<Result<std::int64_t>> AuthService::replenish(const Principal& who, std::string device_id,
                                                  std::vector<Prekey> prekeys,
                                                  std::optional<SignedPrekey> signed_prekey) {
  auto held = co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::int64_t> {
      if (auto owner = check_device_owner(tx, device_id, who.address); !owner) return std::move(owner).error();
      const auto before = prekey_count(tx, device_id);
      if (before + static_cast<std::int64_t>(prekeys.size()) > static_cast<std::int64_t>(m_settings.max_prekeys_per_device)) {
        return make_error(ErrorKind::conflict, "too_many_prekeys",
                          fmt::format("a device holds at most {} one-time prekeys", m_settings.max_prekeys_per_device));
      }
      for (const auto& k : prekeys) {
        if (tx.query_one("SELECT 1 FROM auth_prekeys WHERE device_id = $1 AND key_id = $2", {device_id, k.id})) {
          return make_error(ErrorKind::conflict, "duplicate_prekey_id",
                            fmt::format("the device already holds prekey id {}", k.id));
        }
      }
      insert_prekeys(tx, device_id, prekeys);
      if (signed_prekey) {
        tx.exec("UPDATE auth_devices SET signed_prekey_id = $2, signed_prekey = $3, signed_prekey_signature = $4 "
                "WHERE id = $1",
                {device_id, signed_prekey->id, signed_prekey->key, signed_prekey->signature});
      }
      const auto after = before + static_cast<std::int64_t>(prekeys.size());
      if (after >= static_cast<std::int64_t>(m_settings.low_prekeys)) {
        tx.exec("UPDATE auth_devices SET low_keys_notified = 0 WHERE id = $1", {device_id});
      }
      return after;
    });
  });
  co_return held;
}

Task<Result<void>> AuthService::delete_device(const Principal& who, std::string device_id) {
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      if (auto owner = check_device_owner(tx, device_id, who.address); !owner) return owner;
      tx.exec("DELETE FROM auth_prekeys WHERE device_id = $1", {device_id});
      tx.exec("DELETE FROM auth_devices WHERE id = $1", {device_id});
      // Messaging drops what it queued for the device when it hears this.
      json::object payload{{"address", eth::to_checksum(who.address)}, {"device_id", device_id}};
      publish_or_throw(tx, {"auth.device_removed", eth::to_lower_hex(who.address), json::serialize(payload)});
      return ok();
    });
  });
  if (done && m_events_published) m_events_published();
  co_return done;
}

Task<Result<std::vector<KeyBundle>>> AuthService::key_bundles(const eth::Address& address) {
  const auto owner = eth::to_lower_hex(address);
  bool published = false;
  auto bundles = co_await m_pool.run([&]() -> Result<std::vector<KeyBundle>> {
    return m_db.transact([&](Tx& tx) -> Result<std::vector<KeyBundle>> {
      published = false;
      std::vector<KeyBundle> out;
      auto devices = tx.query(
          "SELECT id, identity_key, signed_prekey_id, signed_prekey, signed_prekey_signature, low_keys_notified "
          "FROM auth_devices WHERE address = $1 ORDER BY created_ms, id",
          {owner});
      for (const auto& d : devices) {
        KeyBundle b{d.get_text(0), d.get_text(1), {d.get_int(2), d.get_text(3), d.get_text(4)}, std::nullopt};
        // Each one-time prekey leaves the table as it is handed out, so no two callers get the same
        // one; SKIP LOCKED lets concurrent callers on PostgreSQL take different rows without waiting.
        auto taken = tx.query_one(
            pg(tx) ? "DELETE FROM auth_prekeys WHERE device_id = $1 AND key_id = (SELECT key_id FROM auth_prekeys "
                     "WHERE device_id = $1 ORDER BY key_id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING key_id, public_key"
                   : "DELETE FROM auth_prekeys WHERE device_id = $1 AND key_id = (SELECT key_id FROM auth_prekeys "
                     "WHERE device_id = $1 ORDER BY key_id LIMIT 1) RETURNING key_id, public_key",
            {b.device_id});
        if (taken) b.one_time_prekey = Prekey{taken->get_int(0), taken->get_text(1)};
        const auto left = prekey_count(tx, b.device_id);
        // The conditional update is the gate: of concurrent fetchers, only the one that flips
        // the flag announces it (the row lock makes the others see it set).
        if (left < static_cast<std::int64_t>(m_settings.low_prekeys) && d.get_int(5) == 0 &&
            tx.exec("UPDATE auth_devices SET low_keys_notified = 1 WHERE id = $1 AND low_keys_notified = 0",
                    {b.device_id}) == 1) {
          json::object payload{{"address", eth::to_checksum(address)}, {"device_id", b.device_id}, {"remaining", left}};
          publish_or_throw(tx, {"keys.low", owner, json::serialize(payload)});
          published = true;
        }
        out.push_back(std::move(b));
      }
      return out;
    });
  });
  if (published && m_events_published) m_events_published();
  co_return bundles;
}

Task<Result<ApiPrincipal>> AuthService::authenticate_api_key(std::string_view key) {
  auto credential = parse_credential(key, api_key_prefix);
  if (!credential) co_return unauthorized("invalid_api_key", "the API key is malformed");
  auto row = co_await m_pool.run([&] {
    return m_db.transact(
        [&](Tx& tx) {
          return tx.query_one("SELECT name, scopes, secret_hash, revoked_ms FROM auth_api_keys WHERE id = $1",
                              {credential->id});
        },
        store::TxOptions{true});
  });
  const std::string stored = row ? row->get_text(2) : std::string(64, '0');
  const bool secret_ok = constant_time_equal(sha256_hex(credential->secret), stored);
  if (!row || !secret_ok || !row->is_null(3)) co_return unauthorized("invalid_api_key", "the API key is unknown or revoked");
  ApiPrincipal p{credential->id, row->get_text(0), {}};
  std::string scopes = row->get_text(1);
  for (std::size_t start = 0; start < scopes.size();) {
    const auto comma = scopes.find(',', start);
    p.scopes.push_back(scopes.substr(start, comma - start));
    start = comma == std::string::npos ? scopes.size() : comma + 1;
  }
  co_return p;
}

Result<std::string> AuthService::create_api_key(store::Database& db, const std::string& name,
                                                const std::vector<std::string>& scopes) {
  if (name.empty() || name.size() > 64) return bad_input("invalid_name", "the key name must be 1 to 64 bytes");
  std::vector<std::string> granted = scopes.empty() ? std::vector<std::string>{"bot.read"} : scopes;
  std::string joined;
  for (const auto& s : granted) {
    if (!known_scopes().count(s)) return bad_input("invalid_scope", "unknown scope '" + s + "' (known: bot.read, bot.write)");
    if (!joined.empty()) joined += ',';
    joined += s;
  }
  const auto [key, credential] = make_credential(api_key_prefix);
  const auto now_ms = unix_millis(std::chrono::system_clock::now());
  db.transact([&](Tx& tx) {
    tx.exec("INSERT INTO auth_api_keys (id, name, scopes, secret_hash, created_ms) VALUES ($1, $2, $3, $4, $5)",
            {credential.id, name, joined, sha256_hex(credential.secret), now_ms});
  });
  return key;
}

}  // namespace gh::auth
