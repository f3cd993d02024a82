-- As on SQLite: the two indexes by customer on per-shipment rows only served erasure and
-- merge, which now reach these rows through the customer's shipments and addresses.
DROP INDEX shipment_events_by_customer;
DROP INDEX address_indexes_by_customer;
