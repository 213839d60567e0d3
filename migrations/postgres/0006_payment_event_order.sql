-- Payment events (invoices) and plan events (checkout, subscriptions) are
-- ordered separately: a newer invoice must not make an older plan change
-- look stale, nor the other way round.
ALTER TABLE tenants ADD COLUMN payment_event_at BIGINT;
