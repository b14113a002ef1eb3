#pragma once
// The auth context's use cases: wallet sign-in (EIP-4361 nonce and verify), sessions, accounts,
// devices with their end-to-end keys, and bot API keys. Other contexts reach auth only through
// this header (authenticate, authenticate_api_key) and its events (auth.signed_in,
// auth.device_removed, keys.low).
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/model.hpp"
#include "core/blocking_pool.hpp"
#include "core/clock.hpp"
#include "core/result.hpp"
#include "core/task.hpp"
#include "eth/bytes.hpp"
#include "store/database.hpp"

namespace gh::rpc {
class RpcClient;
}

namespace gh::auth {

/// Proves that an address signed a message. An interface so that tests can stand in for the
/// chain.
class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  /// ok, 401 siwe_signature_invalid, or 503 chain_unavailable when the chain cannot be asked.
  virtual Task<Result<void>> verify(std::uint64_t chain_id, const eth::Address& address, std::string_view message,
                                    const eth::Bytes& signature) = 0;
};

/// The real verifier: ecrecover for accounts, EIP-1271 isValidSignature at the latest block for
/// contract wallets, accepting only the exact ABI-encoded bytes4 magic value.
class ChainSignatureVerifier final : public SignatureVerifier {
 public:
  /// The RPC client of a chain, or nullptr when the chain is not configured.
  using RpcLookup = std::function<rpc::RpcClient*(std::uint64_t chain_id)>;
  explicit ChainSignatureVerifier(RpcLookup rpc) : m_rpc(std::move(rpc)) {}

  Task<Result<void>> verify(std::uint64_t chain_id, const eth::Address& address, std::string_view message,
                            const eth::Bytes& signature) override;

 private:
  RpcLookup m_rpc;
};

/// Who is signing in, for the session record.
struct ClientInfo {
  std::string ip;
  std::string user_agent;
};

/// A new nonce.
struct IssuedNonce {
  std::string nonce;
  SystemTime expires_at;
};

/// A successful sign-in.
struct SignedIn {
  std::string token;  ///< shown once; only its hash is stored
  eth::Address address;
  std::string session_id;
  SystemTime expires_at;
  bool new_account = false;
};

/// Where a device's pushes go (its push provider and token).
struct PushRegistration {
  std::string device_id;
  std::string provider;
  std::string token;
};

/// Auth's use cases. Thread-safe; database work runs on the blocking pool.
class AuthService {
 public:
  AuthService(store::Database& db, BlockingPool& pool, const Clock& clock, AuthSettings settings,
              SignatureVerifier& verifier, std::function<void()> events_published);

  const AuthSettings& settings() const noexcept { return m_settings; }

  /// A fresh single-use nonce.
  Task<Result<IssuedNonce>> issue_nonce();
  /// Called by verify once a message parses, is for this server and carries a live nonce, and
  /// its signature is not one by the address's own key, before that signature is checked further
  /// (a contract wallet's over the chain): an error (e.g. a per-address rate limit) ends the
  /// sign-in. Junk naming an address never counts against it, and a correct signature by the
  /// address's key is never refused by it.
  using SignInGate = std::function<Result<void>(const eth::Address& address)>;
  /// Checks a signed EIP-4361 message in full and opens a session. Every failure is a 401 with
  /// its own code (503 when a contract wallet's chain cannot be asked) and stores nothing.
  Task<Result<SignedIn>> verify(std::string message, std::string signature_hex, ClientInfo client,
                                SignInGate gate = {});
  /// The principal of a bearer token; 401 invalid_session when unknown, revoked or expired.
  Task<Result<Principal>> authenticate(std::string_view token);
  /// Revokes the caller's session.
  Task<Result<void>> logout(const Principal& who);
  /// The caller's live sessions, newest first.
  Task<Result<std::vector<SessionInfo>>> sessions(const Principal& who);
  /// Revokes one of the caller's sessions (403 for another account's, 404 when unknown).
  Task<Result<void>> revoke_session(const Principal& who, std::string session_id);
  /// The caller's account and devices.
  Task<Result<Me>> me(const Principal& who);

  /// Registers a device with its MLS key packages, each checked against the caller's address and
  /// the identity key (400 naming the failed check; 409 too_many_devices past the limit).
  Task<Result<std::string>> register_device(const Principal& who, DeviceRegistration registration);
  /// Adds one-time key packages and optionally replaces the last-resort one, each checked against
  /// the device's identity key; returns the live one-time packages held.
  Task<Result<std::int64_t>> replenish(const Principal& who, std::string device_id,
                                       std::vector<std::string> key_packages, std::string last_resort);
  /// Deletes a device, its keys and (through auth.device_removed) what was queued for it.
  Task<Result<void>> delete_device(const Principal& who, std::string device_id);
  /// One key package per device of `address`: a one-time one, handed out (deleted) at most once
  /// even to concurrent callers, else the device's last-resort one. keys.low once per crossing.
  /// `only`, when not empty, limits it to those devices (a group adding the ones it lacks).
  /// With `last_resort_only`, no one-time package is taken (fetches past the per-target limit:
  /// the account stays reachable without its one-time keys being drained).
  Task<Result<std::vector<DeviceKeyPackage>>> key_packages(const eth::Address& address,
                                                           std::vector<std::string> only = {},
                                                           bool last_resort_only = false);
  /// The devices of an account with their identity keys, in creation order (for other contexts,
  /// e.g. to tell a group which leaves it should have).
  Task<Result<std::vector<DevicePublicKey>>> devices(const eth::Address& address);
  /// The account that owns a device, or nullopt when there is no such device.
  Task<Result<std::optional<eth::Address>>> device_owner(std::string device_id);

  /// Retention (job auth.nonces_purge): deletes nonces that are used or expired, in batches;
  /// returns how many. A deleted nonce reads as unknown, which sign-in refuses like a used one.
  Task<Result<std::int64_t>> purge_nonces();
  /// Retention (job auth.sessions_purge): deletes sessions expired or revoked longer than
  /// `session_retention` ago, in batches; returns how many.
  Task<Result<std::int64_t>> purge_sessions();

  /// The devices of each account with their push registration (provider and token; `none` for a
  /// device that hears by its socket alone), for the notification router: one read for a whole
  /// batch of deliveries. Addresses are lowercase hex; an account without any is absent.
  Task<Result<std::map<std::string, std::vector<PushRegistration>>>> push_registrations(
      std::vector<std::string> addresses);
  /// Forgets a device's push token after its provider declared it gone (the device stays).
  Task<Result<void>> clear_push_token(std::string device_id);

  /// The bot of an X-Api-Key; 401 invalid_api_key when unknown or revoked.
  Task<Result<ApiPrincipal>> authenticate_api_key(std::string_view key);
  /// Creates an API key and returns it (shown once). Blocking: for the command line.
  static Result<std::string> create_api_key(store::Database& db, const Clock& clock, const std::string& name,
                                            const std::vector<std::string>& scopes);
  /// Every API key, revoked ones included. Blocking: for the command line.
  static std::vector<ApiKeyInfo> list_api_keys(store::Database& db);
  /// Revokes an API key; it is refused from the next request on. 404 when unknown or already
  /// revoked. Blocking: for the command line.
  static Result<void> revoke_api_key(store::Database& db, const Clock& clock, const std::string& id);

 private:
  store::Database& m_db;
  BlockingPool& m_pool;
  const Clock& m_clock;
  AuthSettings m_settings;
  SignatureVerifier& m_verifier;
  std::function<void()> m_events_published;
};

/// Prefixes of our credentials, so leaked ones are recognizable by secret scanners.
inline constexpr std::string_view session_token_prefix = "ghs_";
inline constexpr std::string_view api_key_prefix = "ghk_";

}  // namespace gh::auth
