-- The chain indexer's tables. Amounts are decimal text (NUMERIC(78,0) on PostgreSQL); addresses,
-- hashes and token ids are lowercase hex / decimal text.

-- Per chain: the last head seen and the reorgs detected so far.
CREATE TABLE chain_state (
  chain_id BIGINT PRIMARY KEY,
  head BIGINT NOT NULL,
  head_time BIGINT NOT NULL,
  reorgs BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL
);
-- The recent canonical headers (at least the last 64 confirmed blocks): parent-hash checks
-- detect reorgs, logs of these blocks must carry these hashes.
CREATE TABLE chain_blocks (
  chain_id BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  block_hash TEXT NOT NULL,
  parent_hash TEXT NOT NULL,
  block_time BIGINT NOT NULL,
  PRIMARY KEY (chain_id, block_number)
);
-- One row per (chain, pipeline): its checkpoint (every block up to it is applied) and health.
CREATE TABLE chain_pipelines (
  chain_id BIGINT NOT NULL,
  pipeline TEXT NOT NULL,
  checkpoint BIGINT NOT NULL,
  logs_applied BIGINT NOT NULL,
  last_error TEXT,
  error_count BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (chain_id, pipeline)
);
-- Logs applied to the projections, by identity: a log seen twice is applied once, a reorg
-- reverts it. Older than the block window they are pruned (the checkpoint covers them).
CREATE TABLE chain_logs (
  chain_id BIGINT NOT NULL,
  block_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  pipeline TEXT NOT NULL,
  txn_hash TEXT NOT NULL,
  topic TEXT NOT NULL,
  contract TEXT NOT NULL,
  PRIMARY KEY (chain_id, block_hash, log_index)
);
CREATE INDEX chain_logs_by_block ON chain_logs (chain_id, block_number);
-- Projections.
CREATE TABLE chain_erc20_balances (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  holder TEXT NOT NULL,
  amount NUMERIC(78,0) NOT NULL,
  PRIMARY KEY (chain_id, contract, holder)
);
CREATE INDEX chain_erc20_by_holder ON chain_erc20_balances (holder);
CREATE TABLE chain_erc721_owners (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  token_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract, token_id)
);
CREATE INDEX chain_erc721_by_owner ON chain_erc721_owners (owner);
CREATE TABLE chain_erc1155_balances (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  token_id TEXT NOT NULL,
  holder TEXT NOT NULL,
  amount NUMERIC(78,0) NOT NULL,
  PRIMARY KEY (chain_id, contract, token_id, holder)
);
CREATE INDEX chain_erc1155_by_holder ON chain_erc1155_balances (holder);
CREATE TABLE chain_stakes (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  staker TEXT NOT NULL,
  amount NUMERIC(78,0) NOT NULL,
  PRIMARY KEY (chain_id, contract, staker)
);
CREATE INDEX chain_stakes_by_staker ON chain_stakes (staker);
