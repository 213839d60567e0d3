-- Billing: the tenant's Stripe customer, a failed payment to warn about, and
-- the `created` time of the last Stripe event applied (events arrive out of
-- order; an older one must not undo a newer one).
ALTER TABLE tenants ADD COLUMN stripe_customer_id TEXT;
ALTER TABLE tenants ADD COLUMN payment_failed_at BIGINT;
ALTER TABLE tenants ADD COLUMN billing_event_at BIGINT;
CREATE UNIQUE INDEX tenants_stripe_customer ON tenants (stripe_customer_id);

-- Stripe events already handled: a replayed event changes nothing twice.
CREATE TABLE stripe_events (
    id          TEXT PRIMARY KEY,
    event_type  TEXT NOT NULL,
    created     BIGINT NOT NULL,
    received_at BIGINT NOT NULL
);

-- The billing history: every plan change, who or what made it.
CREATE TABLE plan_changes (
    -- Insertion order: two changes in the same second still list in order.
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    from_tier   TEXT NOT NULL,
    to_tier     TEXT NOT NULL,
    changed_at  BIGINT NOT NULL,
    changed_by  TEXT NOT NULL
);
CREATE INDEX plan_changes_tenant ON plan_changes (tenant_id, changed_at);
