-- The usage writer commits its batches without waiting for the WAL flush
-- (so the counter rows it locks are free again at once) and answers them
-- after a synchronous commit of its own that writes here: one row per
-- writer connection, so flushes never wait for each other's locks.
CREATE TABLE metering_flushes (
    backend_pid INTEGER PRIMARY KEY,
    flushes     BIGINT NOT NULL DEFAULT 1
);
