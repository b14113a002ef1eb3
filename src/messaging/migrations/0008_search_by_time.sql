-- Community search goes newest first by time across channels. A channel's messages now never go
-- back in time as their seq grows: a new message carries at least last_ms, the time of the one
-- before it (raised with last_seq; 0 for a channel with no message since this migration). So the
-- messages of a channel older than a point in time are the seqs below one seq, found with this
-- index. (Messages written before may be out of order by the milliseconds two concurrent posts
-- took; a community search may then show one of them a page early or late.)
ALTER TABLE msg_channels ADD COLUMN last_ms BIGINT NOT NULL DEFAULT 0;
CREATE INDEX msg_messages_time ON msg_messages (channel_id, created_ms, seq);
