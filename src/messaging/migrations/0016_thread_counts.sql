-- A thread's counts, as Discord's thread object shows them: its messages not deleted (written and
-- deleted with them) and its members (written with msg_thread_members).
ALTER TABLE msg_threads ADD COLUMN message_count BIGINT NOT NULL DEFAULT 0;
ALTER TABLE msg_threads ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0;
UPDATE msg_threads SET
  message_count = (SELECT COUNT(*) FROM msg_messages m WHERE m.channel_id = msg_threads.id AND m.deleted_ms IS NULL),
  member_count = (SELECT COUNT(*) FROM msg_thread_members tm WHERE tm.thread_id = msg_threads.id);
