-- The first block of the pipeline as the indexer that polls it is configured
-- (--chain-start-block), kept up to date by it; NULL while only webhooks have fed the pipeline.
-- `gatehouse indexer reindex` rebuilds from it when the journal no longer reaches back.
ALTER TABLE chain_pipelines ADD COLUMN start_block BIGINT;
