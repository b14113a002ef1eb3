-- SQLite only: the block window, the applied logs and the projections become clustered on their
-- primary keys (WITHOUT ROWID): one B-tree per table instead of a rowid table plus the index of
-- its key, so that an upsert finds and writes its row once. The journal's seq drops
-- AUTOINCREMENT, whose sqlite_sequence row every insert rewrote: a seq taken after the newest
-- rows were deleted is still above every row left, which is all the undo order needs.
CREATE TABLE chain_blocks_clustered (
  chain_id BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  block_hash TEXT NOT NULL,
  parent_hash TEXT NOT NULL,
  block_time BIGINT NOT NULL,
  PRIMARY KEY (chain_id, block_number)
) WITHOUT ROWID;
INSERT INTO chain_blocks_clustered (chain_id, block_number, block_hash, parent_hash, block_time) SELECT chain_id, block_number, block_hash, parent_hash, block_time FROM chain_blocks;
DROP TABLE chain_blocks;
ALTER TABLE chain_blocks_clustered RENAME TO chain_blocks;
CREATE TABLE chain_logs_clustered (
  chain_id BIGINT NOT NULL,
  block_hash TEXT NOT NULL,
  log_index BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  pipeline TEXT NOT NULL,
  txn_hash TEXT NOT NULL,
  topic TEXT NOT NULL,
  contract TEXT NOT NULL,
  PRIMARY KEY (chain_id, block_hash, log_index)
) WITHOUT ROWID;
INSERT INTO chain_logs_clustered (chain_id, block_hash, log_index, block_number, pipeline, txn_hash, topic, contract) SELECT chain_id, block_hash, log_index, block_number, pipeline, txn_hash, topic, contract FROM chain_logs;
DROP TABLE chain_logs;
ALTER TABLE chain_logs_clustered RENAME TO chain_logs;
CREATE INDEX chain_logs_by_block ON chain_logs (chain_id, block_number);
CREATE TABLE chain_erc20_balances_clustered (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  holder TEXT NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract, holder)
) WITHOUT ROWID;
INSERT INTO chain_erc20_balances_clustered (chain_id, contract, holder, amount) SELECT chain_id, contract, holder, amount FROM chain_erc20_balances;
DROP TABLE chain_erc20_balances;
ALTER TABLE chain_erc20_balances_clustered RENAME TO chain_erc20_balances;
CREATE INDEX chain_erc20_by_holder ON chain_erc20_balances (holder);
CREATE TABLE chain_erc721_owners_clustered (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  token_id TEXT NOT NULL,
  owner TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract, token_id)
) WITHOUT ROWID;
INSERT INTO chain_erc721_owners_clustered (chain_id, contract, token_id, owner) SELECT chain_id, contract, token_id, owner FROM chain_erc721_owners;
DROP TABLE chain_erc721_owners;
ALTER TABLE chain_erc721_owners_clustered RENAME TO chain_erc721_owners;
CREATE INDEX chain_erc721_by_owner ON chain_erc721_owners (owner);
CREATE TABLE chain_erc1155_balances_clustered (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  token_id TEXT NOT NULL,
  holder TEXT NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract, token_id, holder)
) WITHOUT ROWID;
INSERT INTO chain_erc1155_balances_clustered (chain_id, contract, token_id, holder, amount) SELECT chain_id, contract, token_id, holder, amount FROM chain_erc1155_balances;
DROP TABLE chain_erc1155_balances;
ALTER TABLE chain_erc1155_balances_clustered RENAME TO chain_erc1155_balances;
CREATE INDEX chain_erc1155_by_holder ON chain_erc1155_balances (holder);
CREATE TABLE chain_stakes_clustered (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  staker TEXT NOT NULL,
  amount TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract, staker)
) WITHOUT ROWID;
INSERT INTO chain_stakes_clustered (chain_id, contract, staker, amount) SELECT chain_id, contract, staker, amount FROM chain_stakes;
DROP TABLE chain_stakes;
ALTER TABLE chain_stakes_clustered RENAME TO chain_stakes;
CREATE INDEX chain_stakes_by_staker ON chain_stakes (staker);
CREATE TABLE chain_v2_pair_tokens_clustered (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  tokens TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract)
) WITHOUT ROWID;
INSERT INTO chain_v2_pair_tokens_clustered (chain_id, contract, tokens) SELECT chain_id, contract, tokens FROM chain_v2_pair_tokens;
DROP TABLE chain_v2_pair_tokens;
ALTER TABLE chain_v2_pair_tokens_clustered RENAME TO chain_v2_pair_tokens;
CREATE TABLE chain_v2_pair_reserves_clustered (
  chain_id BIGINT NOT NULL,
  contract TEXT NOT NULL,
  reserves TEXT NOT NULL,
  PRIMARY KEY (chain_id, contract)
) WITHOUT ROWID;
INSERT INTO chain_v2_pair_reserves_clustered (chain_id, contract, reserves) SELECT chain_id, contract, reserves FROM chain_v2_pair_reserves;
DROP TABLE chain_v2_pair_reserves;
ALTER TABLE chain_v2_pair_reserves_clustered RENAME TO chain_v2_pair_reserves;
CREATE TABLE chain_journal_plain (
  seq INTEGER PRIMARY KEY,
  chain_id BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  pipeline TEXT NOT NULL,
  projection TEXT NOT NULL,
  contract TEXT NOT NULL,
  key1 TEXT NOT NULL,
  key2 TEXT NOT NULL,
  prev_value TEXT
);
INSERT INTO chain_journal_plain (seq, chain_id, block_number, pipeline, projection, contract, key1, key2, prev_value) SELECT seq, chain_id, block_number, pipeline, projection, contract, key1, key2, prev_value FROM chain_journal;
DROP TABLE chain_journal;
ALTER TABLE chain_journal_plain RENAME TO chain_journal;
CREATE INDEX chain_journal_by_block ON chain_journal (chain_id, block_number);
