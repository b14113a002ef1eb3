-- Thread members (Discord's joined threads): an account joins a thread by starting it, posting in
-- it, being mentioned there by address, or joining by hand, and leaves by hand. Its active joined
-- threads count in its unread list. Who still reads a thread is decided by its channel, at read
-- time: a row outlives the right to read, and is not shown while it is lost.
CREATE TABLE msg_thread_members (
  thread_id TEXT NOT NULL,
  account TEXT NOT NULL,
  joined_ms BIGINT NOT NULL,
  PRIMARY KEY (thread_id, account)
);
-- The members of a thread, in the order they joined.
CREATE INDEX msg_thread_members_order ON msg_thread_members (thread_id, joined_ms, account);
-- Before members were kept, a read marker in a thread was the joining.
INSERT INTO msg_thread_members (thread_id, account, joined_ms)
  SELECT r.channel_id, r.account, r.updated_ms FROM msg_read_markers r JOIN msg_threads t ON t.id = r.channel_id;
