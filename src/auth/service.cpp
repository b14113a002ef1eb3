#include "auth/service.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include "auth/secrets.hpp"
#include "auth/store.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "eth/abi.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/secp256k1.hpp"
#include "eth/siwe.hpp"
#include "net/outbound_policy.hpp"
#include "rpc/rpc_client.hpp"

namespace gh::auth {
namespace {

namespace json = boost::json;
using store::Tx;

Error unauthorized(std::string code, std::string message) {
  return make_error(ErrorKind::unauthorized, std::move(code), std::move(message));
}
Error forbidden(std::string message) {
  return make_error(ErrorKind::forbidden, "forbidden", std::move(message));
}

void publish_or_throw(Tx& tx, bus::NewEvent event) {
  auto id = bus::publish(tx, event);
  if (!id) throw std::logic_error("auth event rejected by the bus: " + id.error().message);
}

// The caller's device: 404 when there is none, 403 when it is someone else's. Locks its row.
Result<sql::DeviceRow> owned_device(Tx& tx, const std::string& device_id, const eth::Address& who) {
  auto device = sql::find_device(tx, device_id, true);
  if (!device) return not_found("no such device");
  if (device->address != eth::to_lower_hex(who)) return forbidden("the device belongs to another account");
  return std::move(*device);
}

Error chain_unavailable(std::uint64_t chain_id) {
  return make_error(ErrorKind::unavailable, "chain_unavailable",
                    fmt::format("chain {} cannot be reached to check a contract wallet", chain_id));
}

}  // namespace

Task<Result<void>> ChainSignatureVerifier::verify(std::uint64_t chain_id, const eth::Address& address,
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
  if (!code) co_return chain_unavailable(chain_id);
  if (code->empty()) co_return unauthorized("siwe_signature_invalid", "the signature is not the address's");
  static const auto is_valid_signature = *eth::parse_abi_signature("isValidSignature(bytes32,bytes)");
  auto data = eth::encode_function_call(
      is_valid_signature,
      {eth::AbiValue::bytes(eth::Bytes(hash.bytes.begin(), hash.bytes.end())), eth::AbiValue::bytes(signature)});
  if (!data) co_return unauthorized("siwe_signature_invalid", eth::to_string(data.error()));
  rpc::CallRequest call;
  call.to = address;
  call.data = std::move(*data);
  auto answer = co_await client->eth_call(std::move(call));
  if (!answer) {
    if (answer.error().kind == rpc::RpcErrc::rpc) {
      co_return unauthorized("siwe_signature_invalid", "the contract wallet rejected the signature");
    }
    co_return chain_unavailable(chain_id);
  }
  // Exactly the ABI-encoded bytes4 magic: a contract that echoes its calldata (which starts with
  // the isValidSignature selector, the same four bytes) must not pass.
  if (is_eip1271_magic(*answer)) co_return ok();
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
  co_await m_pool.run(
      [&] { m_db.transact([&](Tx& tx) { sql::insert_nonce(tx, issued.nonce, now, issued.expires_at); }); });
  co_return issued;
}

Task<Result<SignedIn>> AuthService::verify(std::string message, std::string signature_hex, ClientInfo client,
                                           SignInGate gate) {
  const auto now = m_clock.now();
  auto checked = check_siwe_message(message, m_settings, now);
  if (!checked) co_return std::move(checked).error();
  const auto m = std::move(*checked);

  auto nonce = co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::find_nonce(tx, m.nonce); }); });
  if (!nonce || nonce->used || nonce->expires_at <= now) {
    co_return unauthorized("siwe_nonce_invalid", "the nonce was not issued here, is used, or has expired");
  }
  // Only now, with a message for this server and a live nonce (which an attacker cannot make
  // for free), does the attempt count against the address.
  if (gate) {
    if (auto admitted = gate(m.address); !admitted) co_return std::move(admitted).error();
  }

  auto signature = parse_siwe_signature(signature_hex, m_settings);
  if (!signature) co_return std::move(signature).error();
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
      if (!sql::consume_nonce(tx, m.nonce, now)) {
        return unauthorized("siwe_nonce_invalid", "the nonce was used by another sign-in");
      }
      const bool existed = sql::account_exists(tx, address);
      sql::record_sign_in(tx, address, now);
      sql::SessionRow session{
          credential.id,     address,      sha256_hex(credential.secret),         now,
          result.expires_at, std::nullopt, static_cast<std::int64_t>(m.chain_id), client.user_agent.substr(0, 256),
          client.ip};
      sql::insert_session(tx, session);
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
  log::info(
      "signed in",
      {{"address", eth::to_checksum(m.address)}, {"session_id", credential.id}, {"new_account", result.new_account}});
  co_return result;
}

Task<Result<Principal>> AuthService::authenticate(std::string_view token) {
  auto credential = parse_credential(token, session_token_prefix);
  if (!credential) co_return unauthorized("invalid_session", "the session token is malformed");
  const auto now = m_clock.now();
  auto row =
      co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::find_session(tx, credential->id); }); });
  // The hash is compared even for unknown ids, so timing does not tell which ids exist.
  const std::string stored = row ? row->secret_hash : std::string(64, '0');
  const bool secret_ok = constant_time_equal(sha256_hex(credential->secret), stored);
  if (!row || !secret_ok || row->revoked_at || row->expires_at <= now) {
    co_return unauthorized("invalid_session", "the session is unknown, revoked or expired");
  }
  auto address = eth::parse_address(row->address);
  if (!address) co_return internal_error("stored address is malformed");
  co_return Principal{*address, credential->id};
}

Task<Result<void>> AuthService::logout(const Principal& who) {
  const auto now = m_clock.now();
  co_await m_pool.run([&] { m_db.transact([&](Tx& tx) { sql::revoke_session(tx, who.session_id, now); }); });
  co_return ok();
}

Task<Result<std::vector<SessionInfo>>> AuthService::sessions(const Principal& who) {
  const auto now = m_clock.now();
  auto rows = co_await m_pool.run([&] {
    return m_db.read([&](Tx& tx) {
      return sql::live_sessions(tx, eth::to_lower_hex(who.address), now, m_settings.max_sessions_listed);
    });
  });
  std::vector<SessionInfo> out;
  for (const auto& r : rows) {
    out.push_back({r.id, r.created_at, r.expires_at, r.ip, r.user_agent, r.id == who.session_id});
  }
  co_return out;
}

Task<Result<void>> AuthService::revoke_session(const Principal& who, std::string session_id) {
  const auto now = m_clock.now();
  co_return co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto row = sql::find_session(tx, session_id);
      if (!row) return not_found("no such session");
      if (row->address != eth::to_lower_hex(who.address)) return forbidden("the session belongs to another account");
      sql::revoke_session(tx, session_id, now);
      return ok();
    });
  });
}

Task<Result<Me>> AuthService::me(const Principal& who) {
  const auto address = eth::to_lower_hex(who.address);
  co_return co_await m_pool.run([&]() -> Result<Me> {
    return m_db.read([&](Tx& tx) -> Result<Me> {
      auto created = sql::account_created(tx, address);
      if (!created) return not_found("no such account");
      Me me{who.address, *created, {}};
      for (const auto& d : sql::list_devices(tx, address)) {
        me.devices.push_back({d.id, d.name, d.push_provider, d.created_at, d.one_time_prekeys});
      }
      return me;
    });
  });
}

Task<Result<std::string>> AuthService::register_device(const Principal& who, DeviceRegistration reg) {
  // A webhook push target is a URL the server will call: it must be a public https endpoint.
  if (reg.push_provider == "webhook") {
    if (auto allowed = net::check_outbound_url(reg.push_token, m_settings.push_targets); !allowed)
      co_return allowed.error();
  }
  const auto address = eth::to_lower_hex(who.address);
  const auto now = m_clock.now();
  const auto device_id = random_hex(16);
  auto added = co_await m_pool.run([&]() -> Result<std::string> {
    return m_db.transact([&](Tx& tx) -> Result<std::string> {
      // Lock the account so two registrations racing cannot both pass the device limit.
      sql::lock_account(tx, address);
      if (sql::device_count(tx, address) >= static_cast<std::int64_t>(m_settings.max_devices)) {
        return make_error(ErrorKind::conflict, "too_many_devices",
                          fmt::format("an account has at most {} devices; delete one first", m_settings.max_devices));
      }
      sql::insert_device(tx, device_id, address, reg, now);
      json::object payload{{"address", eth::to_checksum(who.address)}, {"device_id", device_id}};
      publish_or_throw(tx, {"auth.device_added", address, json::serialize(payload)});
      return device_id;
    });
  });
  if (added && m_events_published) m_events_published();
  co_return added;
}

Task<Result<std::int64_t>> AuthService::replenish(const Principal& who, std::string device_id,
                                                  std::vector<Prekey> prekeys,
                                                  std::optional<SignedPrekey> signed_prekey) {
  if (prekeys.empty() && !signed_prekey)
    co_return bad_input("invalid_field", "send one_time_prekeys, a signed_prekey, or both");
  co_return co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::int64_t> {
      auto device = owned_device(tx, device_id, who.address);
      if (!device) return std::move(device).error();
      // The rotated signed prekey is checked against the identity key read in this same
      // transaction (the row is locked), so a concurrent change cannot slip between check and write.
      if (signed_prekey) {
        if (auto valid = verify_signed_prekey(*signed_prekey, device->identity_key); !valid) {
          return std::move(valid).error();
        }
      }
      const auto before = sql::prekey_count(tx, device_id);
      if (before + static_cast<std::int64_t>(prekeys.size()) >
          static_cast<std::int64_t>(m_settings.max_prekeys_per_device)) {
        return make_error(ErrorKind::conflict, "too_many_prekeys",
                          fmt::format("a device holds at most {} one-time prekeys", m_settings.max_prekeys_per_device));
      }
      for (const auto& k : prekeys) {
        if (sql::prekey_exists(tx, device_id, k.id)) {
          return make_error(ErrorKind::conflict, "duplicate_prekey_id",
                            fmt::format("the device already holds prekey id {}", k.id));
        }
      }
      sql::insert_prekeys(tx, device_id, prekeys);
      if (signed_prekey) sql::update_signed_prekey(tx, device_id, *signed_prekey);
      const auto after = before + static_cast<std::int64_t>(prekeys.size());
      // Back above the threshold: the next crossing below it is announced again.
      if (after >= static_cast<std::int64_t>(m_settings.low_prekeys)) sql::clear_low_keys_notified(tx, device_id);
      return after;
    });
  });
}

Task<Result<void>> AuthService::delete_device(const Principal& who, std::string device_id) {
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      if (auto device = owned_device(tx, device_id, who.address); !device) return std::move(device).error();
      sql::delete_device(tx, device_id);
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
      for (const auto& d : sql::list_devices(tx, owner)) {
        KeyBundle b{d.id, d.identity_key, d.signed_prekey, sql::take_prekey(tx, d.id)};
        const auto left = sql::prekey_count(tx, d.id);
        // The conditional update is the gate: of concurrent fetchers, only the one that flips
        // the flag announces the crossing.
        if (left < static_cast<std::int64_t>(m_settings.low_prekeys) && sql::mark_low_keys_notified(tx, d.id)) {
          json::object payload{{"address", eth::to_checksum(address)}, {"device_id", d.id}, {"remaining", left}};
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

namespace {
// Rows one retention transaction deletes: short transactions, so sign-ins never wait long.
constexpr std::size_t purge_batch = 1000;
}  // namespace

Task<Result<std::int64_t>> AuthService::purge_nonces() {
  std::int64_t total = 0;
  for (;;) {
    const auto now = m_clock.now();
    const auto deleted = co_await m_pool.run(
        [&] { return m_db.transact([&](Tx& tx) { return sql::purge_nonces(tx, now, purge_batch); }); });
    total += deleted;
    if (deleted < static_cast<std::int64_t>(purge_batch)) break;
  }
  co_return total;
}

Task<Result<std::int64_t>> AuthService::purge_sessions() {
  std::int64_t total = 0;
  for (;;) {
    const auto cutoff = m_clock.now() - m_settings.session_retention;
    const auto deleted = co_await m_pool.run(
        [&] { return m_db.transact([&](Tx& tx) { return sql::purge_sessions(tx, cutoff, purge_batch); }); });
    total += deleted;
    if (deleted < static_cast<std::int64_t>(purge_batch)) break;
  }
  co_return total;
}

Task<Result<ApiPrincipal>> AuthService::authenticate_api_key(std::string_view key) {
  auto credential = parse_credential(key, api_key_prefix);
  if (!credential) co_return unauthorized("invalid_api_key", "the API key is malformed");
  auto row =
      co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::find_api_key(tx, credential->id); }); });
  const std::string stored = row ? row->secret_hash : std::string(64, '0');
  const bool secret_ok = constant_time_equal(sha256_hex(credential->secret), stored);
  if (!row || !secret_ok || row->info.revoked_at)
    co_return unauthorized("invalid_api_key", "the API key is unknown or revoked");
  co_return ApiPrincipal{credential->id, row->info.name, row->info.scopes};
}

Result<std::string> AuthService::create_api_key(store::Database& db, const Clock& clock, const std::string& name,
                                                const std::vector<std::string>& scopes) {
  if (name.empty() || name.size() > 64) return bad_input("invalid_name", "the key name must be 1 to 64 bytes");
  sql::ApiKeyRow row;
  row.info.scopes = scopes.empty() ? std::vector<std::string>{"bot.read"} : scopes;
  for (const auto& s : row.info.scopes) {
    if (!known_scopes().count(s))
      return bad_input("invalid_scope", "unknown scope '" + s + "' (known: bot.read, bot.write)");
  }
  auto made = make_credential(api_key_prefix);
  row.info.id = made.second.id;
  row.info.name = name;
  row.info.created_at = clock.now();
  row.secret_hash = sha256_hex(made.second.secret);
  db.transact([&](Tx& tx) { sql::insert_api_key(tx, row); });
  return made.first;
}

std::vector<ApiKeyInfo> AuthService::list_api_keys(store::Database& db) {
  auto rows = db.read([](Tx& tx) { return sql::list_api_keys(tx); });
  std::vector<ApiKeyInfo> out;
  for (auto& r : rows) out.push_back(std::move(r.info));
  return out;
}

Result<void> AuthService::revoke_api_key(store::Database& db, const Clock& clock, const std::string& id) {
  const auto now = clock.now();
  const bool revoked = db.transact([&](Tx& tx) { return sql::revoke_api_key(tx, id, now); });
  if (!revoked) return not_found("no API key " + id + " that is not already revoked");
  return ok();
}

}  // namespace gh::auth
