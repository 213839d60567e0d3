-- An agent's secrets, each with its own life: a rotation keeps the previous
-- one working for a window, a secret may expire by itself, and each shows
-- when it was last used. Only a keyed hash of a secret is kept.
CREATE TABLE agent_credentials (
    id                 TEXT PRIMARY KEY,
    agent_id           TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tenant_id          TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- Not secret: the prefix and the last four characters (`ais_…a1b2`).
    label              TEXT NOT NULL,
    secret_hash        TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    -- NULL: never. A rotation brings the previous secret's forward to the
    -- end of its overlap window.
    expires_at         BIGINT,
    -- Ended before its time ("Retire now").
    retired_at         BIGINT,
    -- When a rotation made a newer secret the agent's current one.
    replaced_at        BIGINT,
    -- Written at most once a minute per secret and instance.
    last_used_at       BIGINT,
    -- The expiry mail went out / the expiry is in the audit trail: each
    -- once, claimed by one instance.
    expiry_warned_at   BIGINT,
    expiry_recorded_at BIGINT
);
CREATE INDEX agent_credentials_agent ON agent_credentials (agent_id, created_at);
CREATE INDEX agent_credentials_expiry ON agent_credentials (expires_at)
    WHERE expires_at IS NOT NULL AND expiry_recorded_at IS NULL;

-- Every agent keeps the secret it has: it becomes its first credential
-- (whose last characters nobody knows any more), the one its last token
-- came from.
INSERT INTO agent_credentials (id, agent_id, tenant_id, label, secret_hash, created_at,
                               last_used_at)
    SELECT id, id, tenant_id, 'ais_…', secret_hash, updated_at, last_token_at FROM agents;
ALTER TABLE agents DROP COLUMN secret_hash;

-- The portal itself acts in the trail (a secret that expired).
ALTER TABLE audit_log DROP CONSTRAINT IF EXISTS audit_log_actor_kind_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_actor_kind_check
    CHECK (actor_kind IN ('member', 'operator', 'stripe', 'agent', 'visitor', 'unauthenticated', 'portal'));
