-- Polls: a message may carry one (its question, 2 to 10 answers as a JSON array, one or several
-- answers per account, open until ends_ms), and the votes cast, one row per account and answer.
-- Both go with the message when it becomes a tombstone.
CREATE TABLE msg_polls (
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  question TEXT NOT NULL,
  answers TEXT NOT NULL,
  multiple BIGINT NOT NULL,
  ends_ms BIGINT NOT NULL,
  PRIMARY KEY (channel_id, seq)
);
CREATE TABLE msg_poll_votes (
  channel_id TEXT NOT NULL,
  seq BIGINT NOT NULL,
  answer BIGINT NOT NULL,
  account TEXT NOT NULL,
  created_ms BIGINT NOT NULL,
  PRIMARY KEY (channel_id, seq, account, answer)
);
