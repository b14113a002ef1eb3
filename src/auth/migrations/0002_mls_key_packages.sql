-- Devices publish MLS key packages (RFC 9420) instead of X3DH prekeys. Nothing was deployed with
-- the prekey schema, so its data is dropped rather than converted.
DROP TABLE auth_prekeys;
ALTER TABLE auth_devices DROP COLUMN signed_prekey_id;
ALTER TABLE auth_devices DROP COLUMN signed_prekey;
ALTER TABLE auth_devices DROP COLUMN signed_prekey_signature;
-- Handed out when no one-time package is left; never deleted, replaced by a replenish.
ALTER TABLE auth_devices ADD COLUMN last_resort_key_package TEXT NOT NULL DEFAULT '';

-- One-time key packages (base64 MLSMessage), each handed out at most once (deleted when handed
-- out). ref is the SHA-256 of the package's bytes: a package uploaded twice is kept once.
CREATE TABLE auth_key_packages (
  device_id TEXT NOT NULL,
  ref TEXT NOT NULL,
  key_package TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  expires_ms BIGINT NOT NULL,
  PRIMARY KEY (device_id, ref)
);
CREATE INDEX auth_key_packages_take ON auth_key_packages (device_id, created_ms);
