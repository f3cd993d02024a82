-- Customer data sealed at rest (see veilbox-store's keyring module). Columns that held
-- plaintext now hold sealed text ("vb1:..."), opened with the customer's own data key
-- (customers, messages, outbox) or the system:events key (webhook_events.body,
-- dead_letters.body and .reason). What stays in clear: ids, times, states, types,
-- delivery receipts, inbox (business) numbers and ad referrals.
--   customers.wa_id              the blind index of the WhatsApp number, so its UNIQUE
--                                constraint and lookups work without the number
--   customers.wa_number          the number itself, sealed
--   customers.profile_name, .username, messages.content, .raw, outbox.recipient,
--   outbox.payload               sealed
--   message_statuses.recipient_id  the blind index of the recipient's number
ALTER TABLE customers ADD COLUMN wa_number TEXT;
-- Set when the customer is erased: their data key is gone and their fields are cleared.
ALTER TABLE customers ADD COLUMN erased_at BIGINT;
