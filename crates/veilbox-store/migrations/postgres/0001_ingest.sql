-- Ingestion schema. Times are Unix milliseconds (UTC); ids are UUIDv7 text made by Veilbox.

CREATE TABLE inboxes (
    id TEXT PRIMARY KEY,
    phone_number_id TEXT NOT NULL UNIQUE,
    display_phone_number TEXT,
    waba_id TEXT,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE customers (
    id TEXT PRIMARY KEY,
    wa_id TEXT UNIQUE,
    user_id TEXT UNIQUE,
    profile_name TEXT,
    username TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    CHECK (wa_id IS NOT NULL OR user_id IS NOT NULL)
);

CREATE TABLE conversations (
    id TEXT PRIMARY KEY,
    inbox_id TEXT NOT NULL REFERENCES inboxes (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    state TEXT NOT NULL CHECK (state IN ('open', 'pending', 'resolved')),
    created_at BIGINT NOT NULL,
    last_message_at BIGINT NOT NULL,
    last_inbound_at BIGINT,
    resolved_at BIGINT,
    referral TEXT,
    assignee TEXT
);
-- One open (or pending) conversation per inbox and customer.
CREATE UNIQUE INDEX conversations_one_open ON conversations (inbox_id, customer_id) WHERE state <> 'resolved';
CREATE INDEX conversations_by_activity ON conversations (last_message_at DESC, id DESC);

-- Every verified body, byte for byte; the sha256 makes a byte-identical redelivery a no-op.
CREATE TABLE webhook_events (
    id TEXT PRIMARY KEY,
    body_sha256 TEXT NOT NULL UNIQUE,
    body BYTEA NOT NULL,
    received_at BIGINT NOT NULL,
    routed BIGINT NOT NULL,
    phone_number_ids TEXT NOT NULL
);
CREATE INDEX webhook_events_unrouted ON webhook_events (routed, received_at) WHERE routed = 0;

CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    -- NULL for a reply until Meta accepts it and gives it a wamid.
    wa_message_id TEXT UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    direction TEXT NOT NULL CHECK (direction IN ('inbound', 'outbound')),
    message_type TEXT NOT NULL,
    content TEXT NOT NULL,
    context TEXT,
    errors TEXT,
    raw TEXT,
    sent_at BIGINT NOT NULL,
    received_at BIGINT NOT NULL,
    webhook_event_id TEXT REFERENCES webhook_events (id),
    -- Who wrote an outbound message (an agent's id); NULL for customer messages.
    author TEXT
);
CREATE INDEX messages_by_thread ON messages (conversation_id, sent_at, id);

-- Every receipt once per (wamid, status), kept as history.
CREATE TABLE message_statuses (
    id TEXT PRIMARY KEY,
    wa_message_id TEXT NOT NULL,
    status TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    recipient_id TEXT,
    error_code BIGINT,
    error_title TEXT,
    error_details TEXT,
    billing TEXT,
    callback_data TEXT,
    webhook_event_id TEXT REFERENCES webhook_events (id),
    received_at BIGINT NOT NULL,
    UNIQUE (wa_message_id, status)
);

-- The merged delivery state of each outbound wamid: only ever moves up in rank.
CREATE TABLE message_delivery (
    wa_message_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    state_rank BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    error_code BIGINT,
    error_title TEXT,
    updated_at BIGINT NOT NULL
);

-- value.errors and elements we could not normalise, for admins.
CREATE TABLE platform_errors (
    id TEXT PRIMARY KEY,
    webhook_event_id TEXT NOT NULL REFERENCES webhook_events (id),
    phone_number_id TEXT,
    code BIGINT,
    title TEXT,
    message TEXT,
    details TEXT,
    received_at BIGINT NOT NULL
);
CREATE INDEX platform_errors_by_time ON platform_errors (received_at DESC);

-- Signed bodies we could not parse: kept so nothing Meta sent is lost.
CREATE TABLE dead_letters (
    id TEXT PRIMARY KEY,
    received_at BIGINT NOT NULL,
    reason TEXT NOT NULL,
    body BYTEA NOT NULL
);
