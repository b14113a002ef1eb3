-- The search filters (has: link or poll, mentions: an account) are index terms beside the words.
-- Messages indexed before they existed lack them: every channel is queued again for the job
-- messaging.search_backfill, which reads its messages newest first and adds the terms they lack
-- (the words they hold already are left as they are).
INSERT INTO msg_search_backlog (channel_id, below_seq)
  SELECT channel_id, last_seq + 1 FROM msg_channels WHERE last_seq > 0
  ON CONFLICT (channel_id) DO UPDATE SET below_seq = excluded.below_seq;
