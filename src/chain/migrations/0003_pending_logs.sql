-- Logs delivered by webhooks, waiting until their block is canonical and confirmed; the poller
-- merges them into the range it applies (a log seen by both collectors applies once).
CREATE TABLE chain_pending_logs (
  chain_id BIGINT NOT NULL,
  block_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  contract TEXT NOT NULL,
  topics TEXT NOT NULL,
  data TEXT NOT NULL,
  txn_hash TEXT NOT NULL,
  txn_index BIGINT NOT NULL,
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (chain_id, block_hash, log_index)
);
CREATE INDEX chain_pending_by_block ON chain_pending_logs (chain_id, block_number);
