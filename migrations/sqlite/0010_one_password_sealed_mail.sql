-- One password per person, by the schema: a person (an address) may be a
-- member of several organisations, and their password lives in one row.
-- Before, every member row kept a copy that each writer had to keep equal.
CREATE TABLE people (
    email         TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
-- Copies kept equal should not differ; if they did, the membership signed
-- in to last holds the password the person last used.
INSERT INTO people (email, password_hash, created_at)
    SELECT m.email, m.password_hash, m.created_at FROM members m
    WHERE m.id = (SELECT m2.id FROM members m2 WHERE m2.email = m.email
                  ORDER BY COALESCE(m2.last_sign_in_at, 0) DESC, m2.created_at, m2.id LIMIT 1);
ALTER TABLE members DROP COLUMN password_hash;
-- SQLite adds a foreign key only by rebuilding the table, which other
-- tables now reference (cascades would fire): a trigger holds the rule.
CREATE TRIGGER members_person BEFORE INSERT ON members
WHEN NOT EXISTS (SELECT 1 FROM people WHERE people.email = NEW.email)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no person with this e-mail');
END;
CREATE TRIGGER members_person_update BEFORE UPDATE OF email ON members
WHEN NOT EXISTS (SELECT 1 FROM people WHERE people.email = NEW.email)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: no person with this e-mail');
END;
CREATE TRIGGER people_in_use BEFORE DELETE ON people
WHEN EXISTS (SELECT 1 FROM members WHERE members.email = OLD.email)
BEGIN
    SELECT RAISE(ABORT, 'FOREIGN KEY constraint failed: the person is a member');
END;

-- Mail bodies are sealed from now on (with a key only the servers hold).
-- A message still waiting in the clear was queued by the version before:
-- the only kind sent unsealed; any other is refused.
ALTER TABLE mail_outbox ADD COLUMN queued_in_clear BIGINT NOT NULL DEFAULT 0;
UPDATE mail_outbox SET queued_in_clear = 1 WHERE sent_at IS NULL AND failed_at IS NULL;
