-- System messages: the server writes some messages itself (a poll's result, an AutoMod alert).
-- Their author is the zero address; system_kind names what they report and system_data holds its
-- fields as JSON (emptied with the message when it becomes a tombstone).
ALTER TABLE msg_messages ADD COLUMN system_kind TEXT;
ALTER TABLE msg_messages ADD COLUMN system_data TEXT;
-- A poll's result message, once posted (0: none will be). The job messaging.poll_results finds the
-- polls that ended without one through the partial index. Polls that ended before this migration
-- get none: their results would arrive long after the fact.
ALTER TABLE msg_polls ADD COLUMN result_seq BIGINT;
UPDATE msg_polls SET result_seq = 0 WHERE ends_ms <= CAST(EXTRACT(EPOCH FROM now()) * 1000 AS BIGINT);
CREATE INDEX msg_polls_unresulted ON msg_polls (ends_ms) WHERE result_seq IS NULL;
