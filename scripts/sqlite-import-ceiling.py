#!/usr/bin/env python3
"""How fast SQLite itself can take a shipment import's rows, with no Veilbox code.

Builds a fresh database from Veilbox's own SQLite migrations, then writes, per shipment,
what `veilbox import shipments` writes: the shipment row with sealed-size text fields,
one timeline event, two address blind indexes, and for every fourth row a new customer
with a wrapped data key and an e-mail contact. Blind indexes are random 22-character
base64url strings (16 bytes, as Veilbox stores them), ids are time-ordered, and the
connection uses the importer's pragmas and 10,000-row transactions. There is no
encryption, no HMAC and no foreign-key checking, so this is a ceiling for the write path
on this machine: the import cannot be faster than it.

With --with-lookups it also makes the import's reads (each batch looks its rows up by
tracking number, WhatsApp number, phone contact and e-mail contact, 200 values per query)
and checks foreign keys as Veilbox's connections do: the ceiling of the whole import's
SQLite work.

--batch N changes the rows per transaction. --address-indexes N writes N address blind
indexes per shipment instead of two (0: what they cost), --index-chars N blind indexes of
N base64url characters instead of 22 (16 = 96 bits), and --sealed-blob stores sealed
fields as raw bytes instead of text: what changes to the data model would buy.

Usage: python3 scripts/sqlite-import-ceiling.py [ROWS] [--page-size N] [--with-lookups]
       [--batch N] [--address-indexes N] [--index-chars N] [--sealed-blob]
Prints the seconds spent generating rows and the seconds spent in SQLite, separately.
"""

import argparse
import base64
import glob
import os
import sqlite3
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "crates", "veilbox-store", "migrations", "sqlite")
DEFAULT_BATCH = 10_000
# The shape of what is written; main() sets them from the options.
INDEX_CHARS = 22
SEALED_BLOB = False
ADDRESS_INDEXES = 2


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--page-size", type=int, default=None)
    parser.add_argument("--with-lookups", action="store_true")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--address-indexes", type=int, default=2)
    parser.add_argument("--index-chars", type=int, default=22)
    parser.add_argument("--sealed-blob", action="store_true")
    args = parser.parse_args()
    global INDEX_CHARS, SEALED_BLOB, ADDRESS_INDEXES
    INDEX_CHARS, SEALED_BLOB, ADDRESS_INDEXES = (args.index_chars, args.sealed_blob,
                                                 args.address_indexes)
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "ceiling.db"), isolation_level=None)
        if args.page_size:
            db.execute(f"PRAGMA page_size = {args.page_size}")
        for pragma in ("journal_mode = WAL", "synchronous = FULL", "secure_delete = ON",
                       "cache_size = -262144", "wal_autocheckpoint = 65536",
                       "foreign_keys = " + ("ON" if args.with_lookups else "OFF")):
            db.execute(f"PRAGMA {pragma}")
        for path in sorted(glob.glob(os.path.join(MIGRATIONS, "*.sql"))):
            with open(path) as migration:
                db.executescript(migration.read())
        generate_s, sqlite_s = run(db, args.rows, args.with_lookups, args.batch)
        db.close()
    print(f"{args.rows} rows: generating {generate_s:.1f} s, SQLite {sqlite_s:.1f} s "
          f"= {args.rows / sqlite_s:.0f} rows/s for SQLite alone")


class Ids:
    """Time-ordered ids shaped like UUIDv7 text."""

    def __init__(self):
        self.counter = 0

    def next(self):
        self.counter += 1
        x = f"{self.counter:016x}{os.urandom(8).hex()}"
        return f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"


def blind():
    return base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()[:INDEX_CHARS]


def sealed(plaintext_len):
    # "vb1:" + base64url(version 4 + nonce 24 + plaintext + tag 16): same length.
    raw = 4 + 24 + plaintext_len + 16
    if SEALED_BLOB:
        return os.urandom(raw)
    return "vb1:" + os.urandom(raw).hex()[: (raw * 4 + 2) // 3]


def batch_rows(ids, start, end, customers):
    new_customers, keys, contacts, shipments, events, addresses = [], [], [], [], [], []
    for i in range(start, end):
        customer = customers[i % len(customers)]
        if i < len(customers):
            new_customers.append((customer, blind(), sealed(12), sealed(12), 1, 1))
            keys.append((f"customer:{customer}", 1, "kek", sealed(32), 1))
            contacts.append((ids.next(), customer, "email", blind(), sealed(24), 1))
        shipment = ids.next()
        shipments.append((shipment, customer, blind(), sealed(13), "s10", "created", 1,
                          sealed(8), sealed(15), sealed(13), blind(), sealed(35), sealed(30),
                          1, 2, None, None, None, 1, 1, None))
        events.append((shipment, "created", 1, ids.next(), customer))
        for _ in range(ADDRESS_INDEXES):
            addresses.append((shipment, blind(), customer))
    return new_customers, keys, contacts, shipments, events, addresses


def look_up(db, sql, values):
    for i in range(0, len(values), 200):
        chunk = values[i:i + 200]
        db.execute(f"{sql} ({', '.join('?' * len(chunk))})", chunk).fetchall()


def run(db, rows, with_lookups, batch):
    ids = Ids()
    customers = [ids.next() for _ in range(max(1, rows // 4))]
    generate_s = sqlite_s = 0.0
    for start in range(0, rows, batch):
        t = time.perf_counter()
        new_customers, keys, contacts, shipments, events, addresses = batch_rows(
            ids, start, min(rows, start + batch), customers)
        # The import's customer lookups are by blind index, as random as the rows' own.
        phones = [blind() for _ in shipments]
        emails = [blind() for _ in shipments]
        generate_s += time.perf_counter() - t
        t = time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        if with_lookups:
            look_up(db, "SELECT COALESCE(merged_into, id), wa_id FROM customers "
                        "WHERE erased_at IS NULL AND wa_id IN", phones)
            look_up(db, "SELECT customer_id, blind_index FROM customer_contacts "
                        "WHERE kind = 'phone' AND blind_index IN", phones)
            look_up(db, "SELECT customer_id, blind_index FROM customer_contacts "
                        "WHERE kind = 'email' AND blind_index IN", emails)
            look_up(db, "SELECT * FROM shipments WHERE tracking_index IN",
                    [s[2] for s in shipments])
        db.executemany("INSERT INTO customers (id, wa_id, wa_number, display_name, created_at, "
                       "updated_at) VALUES (?, ?, ?, ?, ?, ?)", new_customers)
        db.executemany("INSERT INTO data_keys (owner, version, kek_id, wrapped, created_at) "
                       "VALUES (?, ?, ?, ?, ?)", keys)
        db.executemany("INSERT INTO customer_contacts (id, customer_id, kind, blind_index, value, "
                       "created_at) VALUES (?, ?, ?, ?, ?, ?)", contacts)
        db.executemany("INSERT INTO shipments (id, customer_id, tracking_index, tracking, format, "
                       "status, status_at, sender_name, recipient_name, recipient_phone, "
                       "recipient_phone_index, address, instructions, slot_start, slot_end, eta, "
                       "cod_amount_minor, cod_currency, created_at, updated_at, closed_at) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                       shipments)
        db.executemany("INSERT INTO shipment_events (shipment_id, status, at, id, customer_id) "
                       "VALUES (?, ?, ?, ?, ?)", events)
        db.executemany("INSERT INTO address_indexes (source_id, blind_index, customer_id) "
                       "VALUES (?, ?, ?)", addresses)
        db.execute("COMMIT")
        sqlite_s += time.perf_counter() - t
    return generate_s, sqlite_s


if __name__ == "__main__":
    main()
