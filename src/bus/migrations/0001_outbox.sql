-- The outbox: every event is written here in the transaction of the change it announces.
-- Ids grow in commit order (SQLite has one writer; on PostgreSQL publishers hold a transaction
-- advisory lock from their first publish to commit), so one offset per consumer is enough.
CREATE TABLE bus_outbox (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  event_id TEXT NOT NULL UNIQUE,
  topic TEXT NOT NULL,
  ordering_key TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_ms INTEGER NOT NULL
);
CREATE TABLE bus_consumer_offsets (
  consumer TEXT PRIMARY KEY,
  last_id INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
-- Events a consumer has applied: the idempotency record (a redelivered event is skipped).
CREATE TABLE bus_processed (
  consumer TEXT NOT NULL,
  event_id TEXT NOT NULL,
  processed_ms INTEGER NOT NULL,
  PRIMARY KEY (consumer, event_id)
);
-- Events a consumer gave up on after its retries; kept for operators to inspect and replay.
CREATE TABLE bus_dead_letters (
  consumer TEXT NOT NULL,
  event_id TEXT NOT NULL,
  outbox_id INTEGER NOT NULL,
  topic TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT NOT NULL,
  failed_ms INTEGER NOT NULL,
  PRIMARY KEY (consumer, event_id)
);
