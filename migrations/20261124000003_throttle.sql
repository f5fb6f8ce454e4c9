-- Throttling state lives here, not in process memory, so every instance sharing the database
-- enforces the same limits (CONTRACT.md section 3).

-- Failed sign-ins per username (canonical: lower case), existing or not, for the sliding window.
CREATE TABLE login_failures (
    username  text        NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_username_idx ON login_failures (username, failed_at DESC);

-- Attempts per client IP and action ("login:198.51.100.7"), for the per-minute limits.
CREATE TABLE rate_events (
    bucket text        NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rate_events_bucket_idx ON rate_events (bucket, at DESC);
