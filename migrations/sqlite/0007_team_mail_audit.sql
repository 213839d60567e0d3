-- A tenant runs itself: addresses proven by e-mailed links, sessions that
-- can all be ended at once, an outbox for mail and the audit trail.

-- A person (an address) may belong to several organisations: a member row
-- each, one password, so e-mails are unique per tenant. SQLite changes a
-- constraint by rebuilding the table (nothing references it yet).
CREATE TABLE members_new (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email             TEXT NOT NULL,
    password_hash     TEXT NOT NULL,
    role              TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    created_at        BIGINT NOT NULL,
    last_sign_in_at   BIGINT,
    -- Members an operator added before sign-up existed count as verified.
    email_verified_at BIGINT,
    -- Sessions remember the epoch they started in; bumping it ends them all
    -- (password change, "sign out everywhere").
    session_epoch     BIGINT NOT NULL DEFAULT 0,
    UNIQUE (tenant_id, email)
);
INSERT INTO members_new (id, tenant_id, email, password_hash, role, created_at,
                         last_sign_in_at, email_verified_at)
    SELECT id, tenant_id, email, password_hash, role, created_at, last_sign_in_at, created_at
    FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX members_tenant ON members (tenant_id);
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
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
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
