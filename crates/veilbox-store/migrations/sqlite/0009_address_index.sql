-- Blind indexes of customers' addresses (their own and their shipments' delivery
-- addresses), so that a reply pasting another customer's address can be refused without
-- keeping any address in clear. Keyed HMAC with the `address` field key (veilbox-vault);
-- each address is indexed whole and by its first one and first two comma-separated parts
-- (the street line), normalised to lowercase letters and digits.
--
-- `source_id` is the customer_addresses or shipments row the index was computed from, so
-- a changed shipment address replaces its own indexes only.
CREATE TABLE address_indexes (
    source_id TEXT NOT NULL,
    blind_index TEXT NOT NULL,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    PRIMARY KEY (source_id, blind_index)
);
CREATE INDEX address_indexes_by_index ON address_indexes (blind_index);
CREATE INDEX address_indexes_by_customer ON address_indexes (customer_id);

-- Addresses stored before this migration are sealed: they can only be indexed once opened
-- with the customer's key, which migrations do not hold. Set when a customer's existing
-- addresses were indexed (lazily, the first time a reply in their conversation is checked);
-- addresses written later are indexed as they are written.
ALTER TABLE customers ADD COLUMN addresses_indexed_at INTEGER;
