-- The encrypted CRM: customers' own details, contacts, addresses, notes, shipments and
-- their status timeline. Times are Unix milliseconds (UTC); ids are UUIDv7 text.
--
-- Sealed (the owning customer's data key, associated data = table, column, row id, so a
-- value copied to another row or column does not open): customers.display_name,
-- customer_contacts.value, customer_addresses.value, customer_notes.body, and
-- shipments.tracking, .sender_name, .recipient_name, .recipient_phone, .address,
-- .instructions.
--
-- Blind indexes (keyed HMAC, one key per field; see veilbox-vault): phones (E.164),
-- e-mails and tracking numbers, so lookups and UNIQUE constraints work without plaintext.
--
-- In clear, because they are the company's own vocabulary or operational facts about a
-- parcel rather than about a person, and reports, queues and filters need them: labels,
-- address labels, contact kinds, shipment status, the tracking format name, delivery
-- slot, ETA, cash-on-delivery amount and currency, and every time.

-- The name the company knows the customer by (WhatsApp's profile name is theirs).
ALTER TABLE customers ADD COLUMN display_name TEXT;
-- A JSON array of the company's short labels (`vip`, `fragile`): [a-z0-9-]{1,24}, at most 10.
ALTER TABLE customers ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
-- Set when this customer was merged into another: their data now lives there, sealed
-- with that customer's key; this row keeps only the blind index of the WhatsApp number
-- so that new messages from it can be followed to the surviving customer.
ALTER TABLE customers ADD COLUMN merged_into TEXT REFERENCES customers (id);
CREATE INDEX customers_merged_into ON customers (merged_into) WHERE merged_into IS NOT NULL;

-- More ways to reach a customer than their WhatsApp number. One owner per phone or
-- e-mail: a second customer claiming it is refused (it would be a cross-customer leak).
CREATE TABLE customer_contacts (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    kind TEXT NOT NULL CHECK (kind IN ('phone', 'email')),
    blind_index TEXT NOT NULL,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (kind, blind_index)
);
CREATE INDEX customer_contacts_by_customer ON customer_contacts (customer_id);

CREATE TABLE customer_addresses (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    -- The company's own short word (`home`, `work`): not personal.
    label TEXT,
    value TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX customer_addresses_by_customer ON customer_addresses (customer_id);

CREATE TABLE customer_notes (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    -- The staff member who wrote it (a user id, `token:<id>` or `bootstrap`).
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE INDEX customer_notes_by_customer ON customer_notes (customer_id, created_at);

CREATE TABLE shipments (
    id TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id),
    -- Blind index of the normalised tracking number: an import upserts by it.
    tracking_index TEXT NOT NULL UNIQUE,
    tracking TEXT NOT NULL,
    -- Which format veilbox-mask recognised (s10, ups, usps, awb, ...).
    format TEXT NOT NULL,
    status TEXT NOT NULL,
    -- When the current status was reached: an import row older than this is stale.
    status_at INTEGER NOT NULL,
    sender_name TEXT,
    recipient_name TEXT,
    recipient_phone TEXT,
    -- Blind index of the recipient's phone (E.164), for leak checks on replies.
    recipient_phone_index TEXT,
    address TEXT,
    instructions TEXT,
    slot_start INTEGER,
    slot_end INTEGER,
    eta INTEGER,
    cod_amount_minor INTEGER,
    cod_currency TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    -- Set when the status is final (delivered, returned, cancelled).
    closed_at INTEGER
);
CREATE INDEX shipments_by_customer ON shipments (customer_id, created_at);
CREATE INDEX shipments_by_recipient_phone ON shipments (recipient_phone_index) WHERE recipient_phone_index IS NOT NULL;

-- The status timeline. customer_id is repeated so erasure and merges touch it directly.
CREATE TABLE shipment_events (
    id TEXT PRIMARY KEY,
    shipment_id TEXT NOT NULL REFERENCES shipments (id),
    customer_id TEXT NOT NULL REFERENCES customers (id),
    status TEXT NOT NULL,
    at INTEGER NOT NULL,
    UNIQUE (shipment_id, status, at)
);
CREATE INDEX shipment_events_by_customer ON shipment_events (customer_id);
