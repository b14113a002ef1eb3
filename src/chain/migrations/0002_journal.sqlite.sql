-- Every projection change with the value it replaced (NULL: no row), so the changes of orphaned
-- blocks are undone in reverse order. Pruned below the block window.
CREATE TABLE chain_journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  chain_id BIGINT NOT NULL,
  block_number BIGINT NOT NULL,
  pipeline TEXT NOT NULL,
  projection TEXT NOT NULL,
  contract TEXT NOT NULL,
  key1 TEXT NOT NULL,
  key2 TEXT NOT NULL,
  prev_value TEXT
);
CREATE INDEX chain_journal_by_block ON chain_journal (chain_id, block_number);
