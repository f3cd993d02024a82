-- Replies on their way out. A reply is written with its outbox row in one transaction; the
-- sender delivers in order per conversation and never repeats a send whose outcome is unknown.

CREATE TABLE outbox (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL UNIQUE REFERENCES messages (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    phone_number_id TEXT NOT NULL,
    recipient TEXT NOT NULL,
    -- What to send, as JSON: {"type":"text","body":..} or {"type":"template","name":..,"language":..}.
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'unconfirmed', 'cancelled')),
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    error_code BIGINT,
    error_reason TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
-- The sender reads the queue oldest first.
CREATE INDEX outbox_queue ON outbox (state, created_at, id);
CREATE INDEX outbox_by_conversation ON outbox (conversation_id, created_at, id);

-- Sending is paused per number when Meta says the access token is no longer valid.
ALTER TABLE inboxes ADD COLUMN sending_paused_at BIGINT;
ALTER TABLE inboxes ADD COLUMN sending_paused_reason TEXT;

-- Things an admin must act on (an expired token, ...). No customer data.
CREATE TABLE admin_alerts (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    subject TEXT,
    detail TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    resolved_at BIGINT
);
CREATE INDEX admin_alerts_open ON admin_alerts (created_at DESC) WHERE resolved_at IS NULL;
