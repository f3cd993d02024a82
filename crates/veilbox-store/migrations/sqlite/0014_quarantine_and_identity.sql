-- A signed body that could not be normalised (a constraint, a bug, a shape this version
-- does not know) is still stored as its raw event and answered 200: nothing Meta sent is
-- lost. It waits here, with the reason sealed (an error text may quote a value), until an
-- admin re-runs normalisation after an upgrade (`veilbox webhooks reprocess`, or the API).
CREATE TABLE quarantined_events (
    event_id TEXT PRIMARY KEY REFERENCES webhook_events (id) ON DELETE CASCADE,
    quarantined_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    last_attempt_at BIGINT NOT NULL
);

-- One WhatsApp user seen under two customers: a phone number known to one customer and a
-- user id (BSUID) known to another, in the same message. Ingest records it, stores the
-- message under the customer the phone leads to, and merges the other into it once the
-- batch is durable; a merge that cannot be made stays `open` for an admin.
CREATE TABLE identity_conflicts (
    id TEXT PRIMARY KEY,
    kept_customer_id TEXT NOT NULL,
    other_customer_id TEXT NOT NULL,
    -- 'user_id' (the other holds the user id) or 'user_id_rotation' (a new user id that
    -- another customer already holds).
    kind TEXT NOT NULL,
    detected_at BIGINT NOT NULL,
    -- 'open' or 'merged'.
    state TEXT NOT NULL DEFAULT 'open',
    resolved_at BIGINT,
    UNIQUE (kept_customer_id, other_customer_id)
);
CREATE INDEX identity_conflicts_open ON identity_conflicts (state) WHERE state = 'open';

-- A failed receipt's whole error: Meta's message and the page about it, beside the code,
-- title and details kept before.
ALTER TABLE message_statuses ADD COLUMN error_message TEXT;
ALTER TABLE message_statuses ADD COLUMN error_href TEXT;

-- A customer's edits and deletions. An edit replaces the message's content and keeps what
-- it said before here (sealed with the customer's key, like the message); a revoke marks
-- the message deleted: agents see that it was, never what it said, while the sealed
-- content stays for the audit and retention rules. One row per edit or revoke, keyed by
-- its own wamid, so a redelivery changes nothing.
ALTER TABLE messages ADD COLUMN edited_at BIGINT;
ALTER TABLE messages ADD COLUMN revoked_at BIGINT;
CREATE TABLE message_revisions (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    amendment_wa_message_id TEXT NOT NULL UNIQUE,
    -- 'edit' or 'revoke'.
    kind TEXT NOT NULL,
    -- What the message said before an edit; NULL for a revoke.
    previous_content TEXT,
    amended_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);
CREATE INDEX message_revisions_by_message ON message_revisions (message_id, amended_at);
