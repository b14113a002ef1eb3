-- Portable to both dialects: BIGINT has integer affinity on SQLite and no column autoincrements.
-- Sign-in nonces: single use, short-lived. used_ms is set by the verify that consumed it.
CREATE TABLE auth_nonces (
  nonce TEXT PRIMARY KEY,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  used_ms BIGINT
);
CREATE INDEX auth_nonces_expires ON auth_nonces (expires_ms);

-- Accounts are wallet addresses (stored lowercase), created at first sign-in.
CREATE TABLE auth_accounts (
  address TEXT PRIMARY KEY,
  created_ms BIGINT NOT NULL,
  last_sign_in_ms BIGINT NOT NULL
);

-- Sessions: the token's secret is stored only as its SHA-256.
CREATE TABLE auth_sessions (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  revoked_ms BIGINT,
  chain_id BIGINT NOT NULL,
  user_agent TEXT NOT NULL,
  ip TEXT NOT NULL
);
CREATE INDEX auth_sessions_address ON auth_sessions (address);

-- Devices of an account with their public end-to-end keys (never private keys).
CREATE TABLE auth_devices (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  name TEXT NOT NULL,
  push_provider TEXT NOT NULL,
  push_token TEXT NOT NULL,
  identity_key TEXT NOT NULL,
  signed_prekey_id BIGINT NOT NULL,
  signed_prekey TEXT NOT NULL,
  signed_prekey_signature TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  low_keys_notified BIGINT NOT NULL
);
CREATE INDEX auth_devices_address ON auth_devices (address);

-- One-time prekeys, each handed out at most once (deleted when handed out).
CREATE TABLE auth_prekeys (
  device_id TEXT NOT NULL,
  key_id BIGINT NOT NULL,
  public_key TEXT NOT NULL,
  PRIMARY KEY (device_id, key_id)
);

-- Bot API keys: the secret is stored only as its SHA-256.
CREATE TABLE auth_api_keys (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  scopes TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  revoked_ms BIGINT
);
