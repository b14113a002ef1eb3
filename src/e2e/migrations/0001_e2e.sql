-- The MLS delivery service (RFC 9420 / RFC 9750). The server stores only what clients encrypt:
-- MLSMessages and Welcomes as base64, with the cleartext header fields it orders them by.
-- Group ids are the MLS group id in unpadded base64url. Addresses are lowercase.
CREATE TABLE e2e_groups (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  creator TEXT NOT NULL,
  dm_pair TEXT UNIQUE,
  epoch BIGINT NOT NULL,
  last_seq BIGINT NOT NULL,
  created_ms BIGINT NOT NULL
);

CREATE TABLE e2e_members (
  group_id TEXT NOT NULL,
  account TEXT NOT NULL,
  added_seq BIGINT NOT NULL,
  PRIMARY KEY (group_id, account)
);
CREATE INDEX e2e_members_account ON e2e_members (account);

-- One row per accepted message, seq gapless per group. hidden_for names the DM recipient who
-- denied or blocked the sender: the message is kept for the sender's other devices, never shown
-- to that recipient.
CREATE TABLE e2e_messages (
  group_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  sender TEXT NOT NULL,
  sender_device TEXT NOT NULL,
  client_id TEXT NOT NULL,
  epoch BIGINT NOT NULL,
  content_type BIGINT NOT NULL,
  message TEXT NOT NULL,
  hidden_for TEXT,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (group_id, seq)
);
CREATE UNIQUE INDEX e2e_messages_client ON e2e_messages (group_id, sender, client_id);
CREATE INDEX e2e_messages_created ON e2e_messages (created_ms);

-- Welcomes queued per target device until it deletes them (or they expire).
CREATE TABLE e2e_welcomes (
  id TEXT PRIMARY KEY,
  device_id TEXT NOT NULL,
  group_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  welcome TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE INDEX e2e_welcomes_device ON e2e_welcomes (device_id, created_ms);
CREATE INDEX e2e_welcomes_created ON e2e_welcomes (created_ms);

-- What each device has processed, per group (acks).
CREATE TABLE e2e_cursors (
  group_id TEXT NOT NULL,
  device_id TEXT NOT NULL,
  acked_seq BIGINT NOT NULL,
  PRIMARY KEY (group_id, device_id)
);
CREATE INDEX e2e_cursors_device ON e2e_cursors (device_id);

-- An account's consent towards a peer for direct messages: allowed | denied | blocked.
CREATE TABLE e2e_consent (
  account TEXT NOT NULL,
  peer TEXT NOT NULL,
  state TEXT NOT NULL,
  changed_ms BIGINT NOT NULL,
  PRIMARY KEY (account, peer)
);
