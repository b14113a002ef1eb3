-- The block of the factory log (a Uniswap V2 PairCreated) that alone tracks a contract; NULL when
-- anything else tracks it (the configuration, a gate, a reward, an operator). A reorg or reindex
-- that reverts that log untracks the contract: a pair created only on an orphaned branch is not
-- followed for ever, and one created again on the canonical chain is tracked from its new block.
ALTER TABLE chain_tracked_contracts ADD COLUMN created_block BIGINT;
