-- Portable to both dialects: BIGINT has integer affinity on SQLite and no column autoincrements.
-- The per-channel sequence: last_seq is raised by one, under the row lock, in the transaction
-- that inserts the message, so seqs are gapless even with concurrent senders.
CREATE TABLE msg_channels (
  channel_id TEXT PRIMARY KEY,
  last_seq BIGINT NOT NULL
);

-- Channel messages. A deleted message keeps its row as a tombstone (body emptied) so that seqs stay
-- gapless and replies keep their parent. mentions: the mentioned addresses, lowercase, ','-joined.
CREATE TABLE msg_messages (
  id TEXT PRIMARY KEY,
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  author TEXT NOT NULL,
  client_id TEXT NOT NULL,
  body TEXT NOT NULL,
  reply_to BIGINT,
  mentions TEXT NOT NULL,
  mention_roles TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  edited_ms BIGINT,
  deleted_ms BIGINT
);
CREATE UNIQUE INDEX msg_messages_seq ON msg_messages (channel_id, seq);
CREATE UNIQUE INDEX msg_messages_client ON msg_messages (channel_id, author, client_id);
CREATE INDEX msg_messages_replies ON msg_messages (channel_id, reply_to, seq);

-- Reactions: one per (message, emoji, account).
CREATE TABLE msg_reactions (
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  emoji TEXT NOT NULL,
  account TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (channel_id, seq, emoji, account)
);

-- Read markers: the last seq an account has read in a channel; never moves backwards.
CREATE TABLE msg_read_markers (
  account TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  last_read_seq BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (account, channel_id)
);
