-- Accounts. The id is the identity everything else points at, so it never changes (trigger below);
-- the username is stored as registered and is unique case-insensitively through an index on
-- lower(username), which also serves login's case-insensitive lookup. The database is the
-- uniqueness check: concurrent registrations of one name cannot both succeed.
CREATE TABLE users (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    username      text        NOT NULL,
    password_hash text        NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    -- The application enforces the full syntax; this keeps obviously broken rows out of the table
    -- even when written by other tools (e.g. an import).
    CONSTRAINT users_username_length CHECK (char_length(username) BETWEEN 1 AND 64),
    CONSTRAINT users_password_hash_bcrypt CHECK (password_hash LIKE '$2%')
);

CREATE UNIQUE INDEX users_username_lower_key ON users (lower(username));

CREATE FUNCTION users_id_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id THEN
        RAISE EXCEPTION 'users.id is immutable';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER users_id_immutable BEFORE UPDATE OF id ON users
    FOR EACH ROW EXECUTE FUNCTION users_id_immutable();
