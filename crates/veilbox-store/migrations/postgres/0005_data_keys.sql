-- Data keys, each wrapped under the master key (which is never stored here). One per
-- owner: "system:staff" (staff secrets such as TOTP seeds) now; one per customer with the
-- encrypted CRM. Destroying a row is crypto-shredding: what it sealed can never be opened.
CREATE TABLE data_keys (
    owner TEXT PRIMARY KEY,
    version BIGINT NOT NULL,
    -- Which master key wrapped it (its public id), so rotation knows what to re-wrap.
    kek_id TEXT NOT NULL,
    wrapped TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    rewrapped_at BIGINT
);
