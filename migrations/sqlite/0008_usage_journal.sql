-- The last usage journal file whose counts are in the rollups (see
-- app/src/domain/metering/journal.rs): a restart replays only later files.
-- SQLite only: PostgreSQL's instances meter through commits alone.
CREATE TABLE usage_journal (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    applied_through INTEGER NOT NULL
);
INSERT INTO usage_journal (id, applied_through) VALUES (1, 0);
