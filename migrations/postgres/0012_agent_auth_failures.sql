-- Failed client authentications at the token endpoints, for each agent's
-- page: wrong secrets the throttle counted, a former secret's first use
-- from an address in a window, and the moment a throttle began. Kept a week.
CREATE TABLE agent_auth_failures (
    id               TEXT PRIMARY KEY,
    agent_id         TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    tenant_id        TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at               BIGINT NOT NULL,
    client_ip        TEXT NOT NULL,
    reason           TEXT NOT NULL
        CHECK (reason IN ('wrong_secret', 'former_secret', 'throttled')),
    -- The former secret presented (`ais_…a1b2`).
    credential_label TEXT,
    -- A throttle: what it refuses, and when it ends.
    scope            TEXT
        CHECK (scope IN ('this_address', 'any_address', 'every_agent', 'former_secret')),
    until            BIGINT
);
CREATE INDEX agent_auth_failures_agent ON agent_auth_failures (tenant_id, agent_id, at);
CREATE INDEX agent_auth_failures_at ON agent_auth_failures (at);
