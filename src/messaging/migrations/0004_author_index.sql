-- An author's messages in a channel by seq: the slow-mode check (the author's last post) and a
-- ban's purge read them without walking the channel.
CREATE INDEX msg_messages_author ON msg_messages (channel_id, author, seq);
