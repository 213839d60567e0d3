-- Sign-in throttling counts attempts per key (e-mail + client, client,
-- e-mail) in a fixed window, reserved atomically before the password is
-- checked, so that concurrency cannot buy extra guesses.
DROP TABLE sign_in_failures;
CREATE TABLE sign_in_counters (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts     BIGINT NOT NULL
);
CREATE INDEX sign_in_counters_window ON sign_in_counters (window_start);
