-- The audit chain's head (last sequence number and hash), written in the same transaction
-- as every append: rows cut off the end of the chain no longer verify.
CREATE TABLE audit_head (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) SELECT 1, seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1;
