-- Blind indexes are stored as 22 base64url characters instead of 32 hex characters (the
-- same 16 bytes). The index B-trees on them (tracking number, phones, e-mails, address
-- parts) are written at random places on every import and ingest, and their size is what
-- the database spends its time on.
--
-- SQLite has no base64 function, so the rows written before this migration are
-- re-encoded by the store right after it (`Store::migrate`, the same code on both
-- backends), in one transaction that also deletes this marker.
CREATE TABLE pending_data_migrations (
    name TEXT PRIMARY KEY
);
INSERT INTO pending_data_migrations (name) VALUES ('blind_indexes_base64url');
