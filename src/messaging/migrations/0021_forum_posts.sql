-- Forum posts (Discord's): a thread of a forum channel carries tags of its channel (their ids,
-- comma-separated), and the client_id of the message it started with, so that the retry of a
-- post's creation finds the post it made.
ALTER TABLE msg_threads ADD COLUMN applied_tags TEXT NOT NULL DEFAULT '';
ALTER TABLE msg_threads ADD COLUMN client_id TEXT;
CREATE UNIQUE INDEX msg_threads_client ON msg_threads (channel_id, creator, client_id) WHERE client_id IS NOT NULL;
