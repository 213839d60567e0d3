-- Timestamps are unix seconds (UTC) so both backends share one representation.
CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    tier        TEXT NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    time_zone   TEXT NOT NULL DEFAULT 'UTC',
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX tenants_name_key ON tenants (lower(name));

CREATE TABLE members (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email           TEXT NOT NULL UNIQUE,
    password_hash   TEXT NOT NULL,
    role            TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    created_at      BIGINT NOT NULL,
    last_sign_in_at BIGINT
);
CREATE INDEX members_tenant ON members (tenant_id);

-- Failed sign-ins, kept only as long as the throttling window needs them.
CREATE TABLE sign_in_failures (
    id     BIGSERIAL PRIMARY KEY,
    email  TEXT NOT NULL,
    ip     TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE INDEX sign_in_failures_email ON sign_in_failures (email, at);
CREATE INDEX sign_in_failures_ip ON sign_in_failures (ip, at);
