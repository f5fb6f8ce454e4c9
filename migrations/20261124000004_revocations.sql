-- Every instance keeps the ids of recently revoked sessions in memory, so checking a token needs
-- no database round trip. This table is what an instance loads when it (re)connects; the
-- notification keeps it current in between. Triggers, not application code, record revocations,
-- so no path that ends a session (logout, revocation, password change, refresh reuse, account
-- deletion, an operator's SQL) can forget to.
CREATE TABLE session_revocations (
    session_id uuid        PRIMARY KEY,
    revoked_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_revocations_revoked_at_idx ON session_revocations (revoked_at);

CREATE FUNCTION sessions_record_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_revocations (session_id) VALUES (OLD.id)
        ON CONFLICT (session_id) DO UPDATE SET revoked_at = now();
    -- Delivered to every listening instance when the transaction commits.
    PERFORM pg_notify('gatehouse_revocations', OLD.id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_revoked AFTER UPDATE OF revoked_at ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION sessions_record_revocation();

-- A live session deleted (its user deleted) is revoked too; purged, already-ended ones are not.
CREATE TRIGGER sessions_deleted AFTER DELETE ON sessions
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND OLD.expires_at > now())
    EXECUTE FUNCTION sessions_record_revocation();
