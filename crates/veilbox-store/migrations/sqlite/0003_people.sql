-- People: users, teams, sessions, API tokens, custom roles and the audit log.
-- Staff data only; nothing here holds customer data. Secrets are stored as digests.

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    -- Lowercased; unique.
    email TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    -- argon2id PHC string; NULL until the set-password link is used.
    password_hash TEXT,
    -- The TOTP secret (base32) and whether enrolment was confirmed with a code.
    totp_secret TEXT,
    totp_enabled INTEGER NOT NULL DEFAULT 0,
    -- The last accepted TOTP time step: a code is never accepted twice.
    totp_last_step INTEGER,
    disabled_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE teams (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    supervisor_id TEXT REFERENCES users (id),
    created_at INTEGER NOT NULL
);

CREATE TABLE team_members (
    team_id TEXT NOT NULL REFERENCES teams (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_by_user ON team_members (user_id);

-- Which inboxes a team serves: an inboxes.id, or '*' for every inbox.
CREATE TABLE team_inboxes (
    team_id TEXT NOT NULL REFERENCES teams (id),
    inbox_id TEXT NOT NULL,
    PRIMARY KEY (team_id, inbox_id)
);

-- One-time links that set a password (new users, resets). The token is stored as a digest.
CREATE TABLE password_links (
    token_digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

CREATE TABLE recovery_codes (
    user_id TEXT NOT NULL REFERENCES users (id),
    code_digest TEXT NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (user_id, code_digest)
);

-- Server-side sessions, so any node can serve them. The id is stored as a digest.
CREATE TABLE sessions (
    id_digest TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    -- 0 while the second factor is still owed, 1 when fully signed in.
    complete INTEGER NOT NULL,
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    address TEXT,
    user_agent TEXT,
    -- A one-shot notice for the next page.
    flash TEXT,
    ended_at INTEGER,
    end_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at);

-- Failed sign-ins per account and per address, with a growing delay.
CREATE TABLE sign_in_throttle (
    key TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    blocked_until INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,
    -- JSON array of team ids the token acts for.
    teams TEXT NOT NULL,
    read_only INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
);

-- Custom roles: a Cedar policy each, validated against the schema before it is stored.
CREATE TABLE custom_roles (
    name TEXT PRIMARY KEY,
    policy TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Append-only and hash-chained: each row's hash covers its fields and the previous hash.
-- Ids, actions and reasons only, never customer data, so erasure never rewrites it.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    reason TEXT,
    address TEXT,
    user_agent TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_log_by_time ON audit_log (at);
