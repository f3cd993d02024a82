-- A customer's marketing preference, as WhatsApp reports it (`user_preferences`: the
-- customer tapped "stop" or "resume" on a marketing message). A compliance fact about the
-- customer, not personal data: kept in clear. `marketing_opt_out_at` is when they stopped
-- (NULL: not stopped, or resumed since); `marketing_preference_at` is the time of the last
-- report applied, so that a late, older report does not undo a newer one.
ALTER TABLE customers ADD COLUMN marketing_opt_out_at BIGINT;
ALTER TABLE customers ADD COLUMN marketing_preference_at BIGINT;
