#pragma once
// Every SQL statement of the auth context and every dialect branch, as functions on an open
// transaction. No rules here: the service decides, the store reads and writes. Addresses are
// stored lowercase; times as Unix milliseconds.
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "auth/model.hpp"
#include "store/database.hpp"

namespace gh::auth::sql {

using store::Tx;

/// A stored nonce.
struct NonceRow {
  SystemTime expires_at;
  bool used = false;
};
void insert_nonce(Tx& tx, const std::string& nonce, SystemTime created, SystemTime expires);
std::optional<NonceRow> find_nonce(Tx& tx, const std::string& nonce);
/// Marks a live, unused nonce used; false when another sign-in took it or it expired.
bool consume_nonce(Tx& tx, const std::string& nonce, SystemTime now);
/// Retention: deletes up to `limit` nonces used or expired at `now`; returns how many.
std::int64_t purge_nonces(Tx& tx, SystemTime now, std::size_t limit);

bool account_exists(Tx& tx, const std::string& address);
/// Creates the account or records a sign-in on it.
void record_sign_in(Tx& tx, const std::string& address, SystemTime now);
std::optional<SystemTime> account_created(Tx& tx, const std::string& address);
/// Locks the account row until the end of the transaction (PostgreSQL; SQLite has one writer).
void lock_account(Tx& tx, const std::string& address);

/// A stored session.
struct SessionRow {
  std::string id;
  std::string address;
  std::string secret_hash;
  SystemTime created_at;
  SystemTime expires_at;
  std::optional<SystemTime> revoked_at;
  std::int64_t chain_id = 0;
  std::string user_agent;
  std::string ip;
};
void insert_session(Tx& tx, const SessionRow& session);
std::optional<SessionRow> find_session(Tx& tx, const std::string& id);
void revoke_session(Tx& tx, const std::string& id, SystemTime now);
/// Retention: deletes up to `limit` sessions that expired or were revoked before `cutoff`.
std::int64_t purge_sessions(Tx& tx, SystemTime cutoff, std::size_t limit);
/// Live sessions of an account, newest first.
std::vector<SessionRow> live_sessions(Tx& tx, const std::string& address, SystemTime now, std::size_t limit);

/// A stored device with its keys.
struct DeviceRow {
  std::string id;
  std::string address;
  std::string name;
  std::string push_provider;
  std::string identity_key;
  std::string last_resort_key_package;
  SystemTime created_at;
  bool low_keys_notified = false;
  std::int64_t key_packages = 0;  ///< live one-time packages; filled by list_devices only
};
/// Devices of an account in creation order, with their live one-time key package counts at `now`.
std::vector<DeviceRow> list_devices(Tx& tx, const std::string& address, SystemTime now);
/// A device; `for_update` locks its row (PostgreSQL) until the end of the transaction.
std::optional<DeviceRow> find_device(Tx& tx, const std::string& id, bool for_update);
std::int64_t device_count(Tx& tx, const std::string& address);
/// Inserts a device with its last-resort key package (its one-time packages: insert_key_packages).
void insert_device(Tx& tx, const std::string& id, const std::string& address, const DeviceRegistration& reg,
                   const std::string& last_resort, SystemTime now);
void update_last_resort(Tx& tx, const std::string& device_id, const std::string& key_package);
/// Deletes a device and its key packages.
void delete_device(Tx& tx, const std::string& device_id);
/// Sets the keys.low flag; true only for the caller that flipped it from clear to set.
bool mark_low_keys_notified(Tx& tx, const std::string& device_id);
void clear_low_keys_notified(Tx& tx, const std::string& device_id);

/// One-time key packages of a device not yet expired at `now`.
std::int64_t key_package_count(Tx& tx, const std::string& device_id, SystemTime now);
/// Inserts key packages; one already held (same ref) is kept once. Returns how many were new.
std::int64_t insert_key_packages(Tx& tx, const std::string& device_id, const std::vector<KeyPackage>& packages,
                                 SystemTime now);
/// Removes and returns the device's oldest live one-time key package (base64); concurrent takers
/// get different ones. Expired packages are deleted on the way.
std::optional<std::string> take_key_package(Tx& tx, const std::string& device_id, SystemTime now);
/// A device and where its pushes go (provider `none`: nowhere; it hears by its socket alone).
struct PushRow {
  std::string address;
  std::string device_id;
  std::string provider;
  std::string token;
};
/// Every device of each of `addresses`, in each account's order of devices.
std::vector<PushRow> push_registrations(Tx& tx, const std::vector<std::string>& addresses);
/// Sets a device's push provider to none and clears its token.
void clear_push_token(Tx& tx, const std::string& device_id);

/// A stored API key.
struct ApiKeyRow {
  ApiKeyInfo info;
  std::string secret_hash;
};
void insert_api_key(Tx& tx, const ApiKeyRow& key);
std::optional<ApiKeyRow> find_api_key(Tx& tx, const std::string& id);
std::vector<ApiKeyRow> list_api_keys(Tx& tx);
/// Revokes a key; false when there is no such key or it was already revoked.
bool revoke_api_key(Tx& tx, const std::string& id, SystemTime now);

}  // namespace gh::auth::sql
