-- Inbound media (images, documents, ...), fetched from Meta in the background and kept
-- sealed with the customer's data key, so that no agent receives the original unless they
-- reveal it. One row per inbound media message, made by ingest in the same transaction as
-- the message: a restart finds every fetch still to do.

CREATE TABLE media_files (
    message_id TEXT PRIMARY KEY REFERENCES messages (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    -- pending: to fetch (at next_attempt_at); fetching: claimed by a fetcher;
    -- stored: the bytes are here; failed: given up (error says why); erased: cleared.
    state TEXT NOT NULL CHECK (state IN ('pending', 'fetching', 'stored', 'failed', 'erased')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    -- As Meta served it (checked against what the message declared).
    mime_type TEXT,
    size BIGINT,
    -- The original, sealed with the customer's key (base64 of the sealed box).
    content TEXT,
    -- A tiny PNG (a few pixels on the long side) of an image, sealed the same way.
    preview TEXT,
    -- Why the last attempt failed, in words an admin understands (no customer data).
    error TEXT,
    fetched_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX media_files_due ON media_files (state, next_attempt_at);
CREATE INDEX media_files_by_conversation ON media_files (conversation_id);

-- Media that arrived before this table existed: fetch what Meta still has (ids expire
-- after 7 days; older ones fail and say so).
INSERT INTO media_files (message_id, conversation_id, state, attempts, next_attempt_at, created_at, updated_at)
SELECT id, conversation_id, 'pending', 0, 0, received_at, received_at FROM messages
WHERE direction = 'inbound' AND message_type IN ('image', 'audio', 'video', 'document', 'sticker')
  AND content <> '{"kind":"erased"}';
