-- Message search: one row per distinct term of a message's body (messaging/search_text.hpp), written
-- in the transaction that posts or edits the message and deleted, by the terms of its body, when it
-- is edited or deleted. A query walks one term's rows of a channel by seq (the primary key) and
-- probes the others'. (SQLite: 0005_search.sqlite.sql, the same table clustered on its key.)
CREATE TABLE msg_search_terms (
  term TEXT NOT NULL,
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  PRIMARY KEY (term, channel_id, seq)
);

-- Messages written before the index existed: per channel, the seqs below below_seq are still to be
-- indexed, newest first, by the job messaging.search_backfill; its row goes when it reaches seq 1.
CREATE TABLE msg_search_backlog (
  channel_id TEXT PRIMARY KEY,
  below_seq BIGINT NOT NULL
);
INSERT INTO msg_search_backlog (channel_id, below_seq)
  SELECT channel_id, last_seq + 1 FROM msg_channels WHERE last_seq > 0;
