-- Fewer B-trees written per shipment. A shipment import writes one timeline event and two
-- or three address blind indexes per row; each index on those tables is one more B-tree
-- insert, and an index keyed by customer (random ids) dirties a random page per row, which
-- SQLite writes to the WAL and then to the database again. Both `by_customer` indexes only
-- served erasure and merge, which now reach these rows through the customer's shipments
-- and addresses (indexed by customer already).

-- Timeline: clustered on (shipment_id, status, at), its natural key; the id stays a column.
CREATE TABLE shipment_events_lean (
    shipment_id TEXT NOT NULL REFERENCES shipments (id),
    status TEXT NOT NULL,
    at INTEGER NOT NULL,
    id TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    PRIMARY KEY (shipment_id, status, at)
) WITHOUT ROWID;
INSERT INTO shipment_events_lean (shipment_id, status, at, id, customer_id)
    SELECT shipment_id, status, at, id, customer_id FROM shipment_events;
DROP TABLE shipment_events;
ALTER TABLE shipment_events_lean RENAME TO shipment_events;

-- Address blind indexes: the lookup index stays small (blind index and rowid) because it
-- is the one written at random places; (source_id, blind_index) is written in id order.
CREATE TABLE address_indexes_lean (
    source_id TEXT NOT NULL,
    blind_index TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id)
);
INSERT INTO address_indexes_lean (source_id, blind_index, customer_id)
    SELECT source_id, blind_index, customer_id FROM address_indexes;
DROP TABLE address_indexes;
ALTER TABLE address_indexes_lean RENAME TO address_indexes;
CREATE UNIQUE INDEX address_indexes_by_source ON address_indexes (source_id, blind_index);
CREATE INDEX address_indexes_by_index ON address_indexes (blind_index);
