-- Attempts by someone not signed in (a failed sign-in, a reset request) are
-- the trail's own kind of actor, never the member whose address was typed.
-- SQLite changes a CHECK by rebuilding the table.
CREATE TABLE audit_log_new (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('member', 'operator', 'stripe', 'agent', 'visitor', 'unauthenticated')),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    client_ip   TEXT NOT NULL DEFAULT ''
);
INSERT INTO audit_log_new (id, tenant_id, at, actor_kind, actor, action, object, detail, client_ip)
    SELECT id, tenant_id, at, actor_kind, actor, action, object, detail, client_ip FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_new RENAME TO audit_log;
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);
CREATE INDEX audit_log_tenant_action ON audit_log (tenant_id, action, at, id);
CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor, at, id);
CREATE INDEX audit_log_at ON audit_log (at);

-- The attempts recorded before, as what they were.
UPDATE audit_log SET actor_kind = 'unauthenticated', actor = 'unauthenticated attempt'
    WHERE actor_kind = 'visitor'
      AND action IN ('member.sign_in_failed', 'member.password_reset_requested');

-- A sign-up waits here until its address is proven by the mailed link:
-- nothing exists before that, so neither the answer nor a sign-in after it
-- tells whether the address already had an account. Only a hash of the
-- link's token is kept.
CREATE TABLE pending_signups (
    token_hash    TEXT PRIMARY KEY,
    email         TEXT NOT NULL,
    organisation  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    client_ip     TEXT NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    used_at       BIGINT
);
-- One live sign-up per address: a new one retires the one before.
CREATE UNIQUE INDEX pending_signups_email ON pending_signups (email) WHERE used_at IS NULL;
CREATE INDEX pending_signups_expires ON pending_signups (expires_at);
