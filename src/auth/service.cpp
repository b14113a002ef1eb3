#include "auth/service.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <boost/json/serialize.hpp>

#include "auth/secrets.hpp"
#include "auth/store.hpp"
#include "bus/bus.hpp"
#include "core/log.hpp"
#include "core/utf8.hpp"
#include "eth/abi.hpp"
#include "eth/eip191.hpp"
#include "eth/hex.hpp"
#include "eth/secp256k1.hpp"
#include "eth/siwe.hpp"
#include "net/outbound_policy.hpp"
#include "rpc/rpc_client.hpp"
#include "store/batches.hpp"

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

void publish_or_throw(Tx& tx, const bus::NewEvent& event) {
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

// The event that closes a revoked session's live sockets (realtime consumes it).
void publish_session_revoked(Tx& tx, const eth::Address& address, const std::string& session_id) {
  json::object payload{{"session_id", session_id}, {"account", eth::to_checksum(address)}};
  publish_or_throw(tx, {"auth.session_revoked", eth::to_lower_hex(address), json::serialize(payload)});
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
  auto signature = parse_siwe_signature(signature_hex, m_settings);
  if (!signature) co_return std::move(signature).error();
  // A signature by the address's own key is decided here, without the chain, and never refused
  // by the gate: nobody can lock an account out of signing in with its key, however many
  // attempts name it. Anything else (a wrong signature, a contract wallet asked over the chain)
  // counts against the address first, now that the message is for this server and carries a
  // live nonce, so junk alone never does.
  if (!signed_by_key(m.address, message, *signature)) {
    if (gate) {
      if (auto admitted = gate(m.address); !admitted) co_return std::move(admitted).error();
    }
    if (auto signed_by = co_await m_verifier.verify(m.chain_id, m.address, message, *signature); !signed_by) {
      co_return std::move(signed_by).error();
    }
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
          result.expires_at, std::nullopt, static_cast<std::int64_t>(m.chain_id), to_valid_utf8(client.user_agent, 256),
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
  co_await m_pool.run([&] {
    m_db.transact([&](Tx& tx) {
      sql::revoke_session(tx, who.session_id, now);
      publish_session_revoked(tx, who.address, who.session_id);
    });
  });
  if (m_events_published) m_events_published();
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
  out.reserve(rows.size());
  for (const auto& r : rows) {
    out.push_back({r.id, r.created_at, r.expires_at, r.ip, r.user_agent, r.id == who.session_id});
  }
  co_return out;
}

Task<Result<void>> AuthService::revoke_session(const Principal& who, std::string session_id) {
  const auto now = m_clock.now();
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      auto row = sql::find_session(tx, session_id);
      if (!row) return not_found("no such session");
      if (row->address != eth::to_lower_hex(who.address)) return forbidden("the session belongs to another account");
      sql::revoke_session(tx, session_id, now);
      publish_session_revoked(tx, who.address, session_id);
      return ok();
    });
  });
  if (done && m_events_published) m_events_published();
  co_return done;
}

Task<Result<Me>> AuthService::me(const Principal& who) {
  const auto address = eth::to_lower_hex(who.address);
  co_return co_await m_pool.run([&]() -> Result<Me> {
    return m_db.read([&](Tx& tx) -> Result<Me> {
      auto created = sql::account_created(tx, address);
      if (!created) return not_found("no such account");
      Me me{who.address, *created, {}};
      for (const auto& d : sql::list_devices(tx, address, m_clock.now())) {
        me.devices.push_back({d.id, d.name, d.push_provider, d.created_at, d.key_packages});
      }
      return me;
    });
  });
}

namespace {
// Checks every uploaded package; the first failure names its check and which package it was.
Result<std::vector<KeyPackage>> check_all(const std::vector<std::string>& packages, const std::string& identity_key,
                                          const eth::Address& account, const AuthSettings& settings, SystemTime now) {
  std::vector<KeyPackage> out;
  out.reserve(packages.size());
  for (std::size_t i = 0; i < packages.size(); ++i) {
    auto checked =
        check_key_package(packages[i], identity_key, account, settings, now, fmt::format("key_packages[{}]", i));
    if (!checked) return std::move(checked).error();
    out.push_back(std::move(*checked));
  }
  return out;
}
}  // namespace

Task<Result<std::string>> AuthService::register_device(const Principal& who, DeviceRegistration reg) {
  // Webhook targets and Web Push endpoints are URLs the server will call: public https endpoints
  // only (the push client checks the resolved addresses again when it connects).
  auto target = push_target_url(reg.push_provider, reg.push_token);
  if (!target) co_return std::move(target).error();
  if (*target) {
    if (auto allowed = net::check_outbound_url(**target, m_settings.push_targets); !allowed) co_return allowed.error();
  }
  const auto address = eth::to_lower_hex(who.address);
  const auto now = m_clock.now();
  auto packages = check_all(reg.key_packages, reg.identity_key, who.address, m_settings, now);
  if (!packages) co_return std::move(packages).error();
  auto last_resort = check_key_package(reg.last_resort_key_package, reg.identity_key, who.address, m_settings, now,
                                       "last_resort_key_package");
  if (!last_resort) co_return std::move(last_resort).error();
  const auto device_id = random_hex(16);
  auto added = co_await m_pool.run([&]() -> Result<std::string> {
    return m_db.transact([&](Tx& tx) -> Result<std::string> {
      // Lock the account so two registrations racing cannot both pass the device limit.
      sql::lock_account(tx, address);
      if (sql::device_count(tx, address) >= static_cast<std::int64_t>(m_settings.max_devices)) {
        return make_error(ErrorKind::conflict, "too_many_devices",
                          fmt::format("an account has at most {} devices; delete one first", m_settings.max_devices));
      }
      sql::insert_device(tx, device_id, address, reg, last_resort->data, now);
      sql::insert_key_packages(tx, device_id, *packages, now);
      json::object payload{{"address", eth::to_checksum(who.address)}, {"device_id", device_id}};
      publish_or_throw(tx, {"auth.device_added", address, json::serialize(payload)});
      return device_id;
    });
  });
  if (added && m_events_published) m_events_published();
  co_return added;
}

Task<Result<std::map<std::string, std::vector<PushRegistration>>>> AuthService::push_registrations(
    std::vector<std::string> addresses) {
  using Found = std::map<std::string, std::vector<PushRegistration>>;
  co_return co_await m_pool.run([&]() -> Result<Found> {
    return m_db.read([&](Tx& tx) -> Result<Found> {
      Found out;
      for (auto& r : sql::push_registrations(tx, addresses)) {
        out[r.address].push_back({std::move(r.device_id), std::move(r.provider), std::move(r.token)});
      }
      return out;
    });
  });
}

Task<Result<void>> AuthService::clear_push_token(std::string device_id) {
  co_return co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      sql::clear_push_token(tx, device_id);
      return ok();
    });
  });
}

Task<Result<std::int64_t>> AuthService::replenish(const Principal& who, std::string device_id,
                                                  std::vector<std::string> key_packages, std::string last_resort) {
  if (key_packages.empty() && last_resort.empty())
    co_return bad_input("invalid_field", "send key_packages, a last_resort_key_package, or both");
  const auto now = m_clock.now();
  co_return co_await m_pool.run([&]() -> Result<std::int64_t> {
    return m_db.transact([&](Tx& tx) -> Result<std::int64_t> {
      auto device = owned_device(tx, device_id, who.address);
      if (!device) return std::move(device).error();
      // Checked against the identity key read in this transaction (the row is locked).
      auto packages = check_all(key_packages, device->identity_key, who.address, m_settings, now);
      if (!packages) return std::move(packages).error();
      std::optional<KeyPackage> replaced;
      if (!last_resort.empty()) {
        auto checked = check_key_package(last_resort, device->identity_key, who.address, m_settings, now,
                                         "last_resort_key_package");
        if (!checked) return std::move(checked).error();
        replaced = std::move(*checked);
      }
      const auto before = sql::key_package_count(tx, device_id, now);
      if (before + static_cast<std::int64_t>(packages->size()) >
          static_cast<std::int64_t>(m_settings.max_key_packages_per_device)) {
        return make_error(
            ErrorKind::conflict, "too_many_key_packages",
            fmt::format("a device holds at most {} one-time key packages", m_settings.max_key_packages_per_device));
      }
      const auto after = before + sql::insert_key_packages(tx, device_id, *packages, now);
      if (replaced) sql::update_last_resort(tx, device_id, replaced->data);
      // Back above the threshold: the next crossing below it is announced again.
      if (after >= static_cast<std::int64_t>(m_settings.low_key_packages)) sql::clear_low_keys_notified(tx, device_id);
      return after;
    });
  });
}

Task<Result<void>> AuthService::delete_device(const Principal& who, std::string device_id) {
  auto done = co_await m_pool.run([&]() -> Result<void> {
    return m_db.transact([&](Tx& tx) -> Result<void> {
      if (auto device = owned_device(tx, device_id, who.address); !device) return std::move(device).error();
      sql::delete_device(tx, device_id);
      // e2e drops what it queued for the device and asks its groups to remove it on this event.
      json::object payload{{"address", eth::to_checksum(who.address)}, {"device_id", device_id}};
      publish_or_throw(tx, {"auth.device_removed", eth::to_lower_hex(who.address), json::serialize(payload)});
      return ok();
    });
  });
  if (done && m_events_published) m_events_published();
  co_return done;
}

Task<Result<std::vector<DeviceKeyPackage>>> AuthService::key_packages(const eth::Address& address,
                                                                      std::vector<std::string> only,
                                                                      bool last_resort_only) {
  const auto owner = eth::to_lower_hex(address);
  const auto now = m_clock.now();
  bool published = false;
  auto handed = co_await m_pool.run([&]() -> Result<std::vector<DeviceKeyPackage>> {
    return m_db.transact([&](Tx& tx) -> Result<std::vector<DeviceKeyPackage>> {
      published = false;
      std::vector<DeviceKeyPackage> out;
      for (const auto& d : sql::list_devices(tx, owner, now)) {
        if (!only.empty() && std::find(only.begin(), only.end(), d.id) == only.end()) continue;
        std::optional<std::string> one_time;
        if (!last_resort_only) one_time = sql::take_key_package(tx, d.id, now);
        const bool last_resort = !one_time;
        std::string package;
        if (one_time) {
          package = std::move(*one_time);
        } else {
          package = d.last_resort_key_package;
        }
        out.push_back({d.id, d.identity_key, std::move(package), last_resort});
        const auto left = sql::key_package_count(tx, d.id, now);
        // The conditional update is the gate: of concurrent fetchers, only the one that flips
        // the flag announces the crossing.
        if (left < static_cast<std::int64_t>(m_settings.low_key_packages) && sql::mark_low_keys_notified(tx, d.id)) {
          json::object payload{{"address", eth::to_checksum(address)}, {"device_id", d.id}, {"remaining", left}};
          publish_or_throw(tx, {"keys.low", owner, json::serialize(payload)});
          published = true;
        }
      }
      return out;
    });
  });
  if (published && m_events_published) m_events_published();
  co_return handed;
}

Task<Result<std::vector<DevicePublicKey>>> AuthService::devices(const eth::Address& address) {
  const auto owner = eth::to_lower_hex(address);
  const auto now = m_clock.now();
  auto rows = co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::list_devices(tx, owner, now); }); });
  std::vector<DevicePublicKey> out;
  out.reserve(rows.size());
  for (auto& r : rows) out.push_back({std::move(r.id), std::move(r.identity_key)});
  co_return out;
}

Task<Result<std::optional<eth::Address>>> AuthService::device_owner(std::string device_id) {
  if (!device_id_text(device_id)) co_return std::optional<eth::Address>();
  auto row =
      co_await m_pool.run([&] { return m_db.read([&](Tx& tx) { return sql::find_device(tx, device_id, false); }); });
  if (!row) co_return std::optional<eth::Address>();
  auto address = eth::parse_address(row->address);
  if (!address) co_return internal_error("stored address is malformed");
  co_return std::optional<eth::Address>(*address);
}

namespace {
// Rows one retention transaction deletes: short transactions, so sign-ins never wait long.
constexpr std::size_t purge_batch = 1000;
}  // namespace

Task<Result<std::int64_t>> AuthService::purge_nonces() {
  const auto now = m_clock.now();
  const auto deleted = co_await store::delete_in_batches(
      m_db, m_pool, purge_batch, [&](Tx& tx, std::size_t limit) { return sql::purge_nonces(tx, now, limit); });
  co_return static_cast<std::int64_t>(deleted);
}

Task<Result<std::int64_t>> AuthService::purge_sessions() {
  const auto cutoff = m_clock.now() - m_settings.session_retention;
  const auto deleted = co_await store::delete_in_batches(
      m_db, m_pool, purge_batch, [&](Tx& tx, std::size_t limit) { return sql::purge_sessions(tx, cutoff, limit); });
  co_return static_cast<std::int64_t>(deleted);
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
