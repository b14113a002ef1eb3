-- What of a thread notifies each of its members (Discord's thread notification settings): 'all'
-- its messages (the default, as joining a thread is following it), 'mentions' (only mentions and
-- replies) or 'none'.
ALTER TABLE msg_thread_members ADD COLUMN notify TEXT NOT NULL DEFAULT 'all';
