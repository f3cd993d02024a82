-- Quick replies: canned responses a supervisor writes for their team, with blind
-- placeholders ({{shipment.address}} and the like) that the server fills in at send time.
-- Company text, not customer data: a body holds placeholders, never their values (the
-- server refuses a body with payment data, codes or unknown placeholders), so it is
-- stored in the clear like the configured templates.
CREATE TABLE quick_replies (
    id TEXT PRIMARY KEY,
    team_id TEXT NOT NULL REFERENCES teams (id),
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    -- The audit actor id of whoever wrote it (a user, or `token:<id>`).
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX quick_replies_by_team ON quick_replies (team_id, title);
