-- A tenant runs itself: addresses proven by e-mailed links, sessions that
-- can all be ended at once, an outbox for mail and the audit trail.

-- Members an operator added before sign-up existed count as verified.
ALTER TABLE members ADD COLUMN email_verified_at BIGINT;
UPDATE members SET email_verified_at = created_at;
-- Sessions remember the epoch they started in; bumping it ends them all
-- (password change, "sign out everywhere").
ALTER TABLE members ADD COLUMN session_epoch BIGINT NOT NULL DEFAULT 0;
-- A person (an address) may belong to several organisations: a member row
-- each, one password, so e-mails are unique per tenant.
ALTER TABLE members DROP CONSTRAINT members_email_key;
ALTER TABLE members ADD CONSTRAINT members_tenant_email_key UNIQUE (tenant_id, email);
CREATE INDEX members_email ON members (email);

-- Single-use links sent by e-mail: only a hash of the token is kept.
CREATE TABLE email_links (
    token_hash  TEXT PRIMARY KEY,
    purpose     TEXT NOT NULL CHECK (purpose IN ('verify', 'reset', 'invite')),
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    member_id   TEXT REFERENCES members (id) ON DELETE CASCADE,
    email       TEXT NOT NULL,
    role        TEXT CHECK (role IN ('owner', 'admin', 'viewer')),
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX email_links_tenant ON email_links (tenant_id, purpose, expires_at);
CREATE INDEX email_links_member ON email_links (member_id, purpose);

-- Mail is written here in the transaction that causes it and delivered by a
-- background task; a claim (claimed_until) keeps two instances from sending
-- one row at once.
CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    recipient       TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    claimed_until   BIGINT,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX mail_outbox_due ON mail_outbox (next_attempt_at)
    WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX mail_outbox_created ON mail_outbox (created_at);

-- Who changed what in a tenant, written in the transaction of the change.
CREATE TABLE audit_log (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL CHECK (actor_kind IN ('member', 'operator', 'stripe', 'agent', 'visitor')),
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    object      TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT '',
    client_ip   TEXT NOT NULL DEFAULT ''
);
-- Newest first (at, id), whole or by action or by actor, within a date
-- range or not: each is a range of one index, read in order.
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at, id);
CREATE INDEX audit_log_tenant_action ON audit_log (tenant_id, action, at, id);
CREATE INDEX audit_log_tenant_actor ON audit_log (tenant_id, actor, at, id);
-- Pruning by age, across tenants.
CREATE INDEX audit_log_at ON audit_log (at);
