# shellcheck shell=bash
# Sourced by scripts/run, scripts/test and scripts/bench: makes sure a PostgreSQL is there and
# exports DATABASE_URL.
#
# When DATABASE_URL is already set, that database is used and nothing is started. Otherwise a
# private cluster lives under .data/postgres (git-ignored), listening on 127.0.0.1:$GATEHOUSE_PG_PORT
# (default 54329) and a unix socket under .data, with a generated password for TCP connections.
# PostgreSQL refuses to run as root, so as root the cluster runs as the `postgres` system user.

GATEHOUSE_ROOT=${GATEHOUSE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
GATEHOUSE_PG_PORT=${GATEHOUSE_PG_PORT:-54329}
PG_DATA_DIR="$GATEHOUSE_ROOT/.data/postgres"
PG_SOCKET_DIR="$GATEHOUSE_ROOT/.data/socket"
PG_LOG="$GATEHOUSE_ROOT/.data/postgres.log"
PG_PASSWORD_FILE="$GATEHOUSE_ROOT/.data/postgres.password"

pg_say() { printf 'gatehouse: %s\n' "$*" >&2; }

# Finds initdb/pg_ctl; installs Debian's postgresql package when missing and running as root.
pg_find_bin() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        PG_BIN=$(dirname "$(readlink -f "$(command -v pg_ctl)")")
        return 0
    fi
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$dir" ] && [ -x "$dir/pg_ctl" ]; then
        PG_BIN=$dir
        return 0
    fi
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        pg_say "PostgreSQL not found: installing Debian's postgresql package"
        apt-get update -qq >/dev/null &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null || {
            pg_say "apt-get install postgresql failed"
            return 1
        }
        pg_find_bin
        return
    fi
    pg_say "PostgreSQL's server binaries (initdb, pg_ctl) were not found."
    pg_say "Install them (Debian/Ubuntu: sudo apt-get install postgresql), or set DATABASE_URL."
    return 1
}

# Runs a PostgreSQL server command as the user that owns the cluster.
pg_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_ensure_cluster() {
    mkdir -p "$GATEHOUSE_ROOT/.data"
    if [ ! -s "$PG_PASSWORD_FILE" ]; then
        (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$PG_PASSWORD_FILE")
    fi
    if [ ! -f "$PG_DATA_DIR/PG_VERSION" ]; then
        pg_say "initialising a private PostgreSQL cluster in $PG_DATA_DIR"
        rm -rf "$PG_DATA_DIR"
        mkdir -p "$PG_DATA_DIR" "$PG_SOCKET_DIR"
        if [ "$(id -u)" = 0 ]; then
            chown postgres: "$PG_DATA_DIR" "$PG_SOCKET_DIR"
            # initdb reads the password file as postgres.
            install -o postgres -m 600 "$PG_PASSWORD_FILE" "$PG_DATA_DIR.pwfile"
        else
            cp "$PG_PASSWORD_FILE" "$PG_DATA_DIR.pwfile"
        fi
        pg_as_owner "$PG_BIN/initdb" -D "$PG_DATA_DIR" -U gatehouse --pwfile="$PG_DATA_DIR.pwfile" \
            --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null || {
            rm -f "$PG_DATA_DIR.pwfile"
            pg_say "initdb failed"
            return 1
        }
        rm -f "$PG_DATA_DIR.pwfile"
    fi
    mkdir -p "$PG_SOCKET_DIR"
    [ "$(id -u)" = 0 ] && chown postgres: "$PG_SOCKET_DIR" && touch "$PG_LOG" && chown postgres: "$PG_LOG"
    if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA_DIR" status >/dev/null 2>&1; then
        pg_say "starting PostgreSQL on 127.0.0.1:$GATEHOUSE_PG_PORT"
        PG_STARTED_HERE=1
        pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA_DIR" -l "$PG_LOG" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $GATEHOUSE_PG_PORT -k $PG_SOCKET_DIR -c max_connections=300 -c fsync=${GATEHOUSE_PG_FSYNC:-on}" \
            start >/dev/null || {
            pg_say "PostgreSQL did not start; its log:"
            tail -n 20 "$PG_LOG" >&2
            return 1
        }
    fi
    if ! pg_psql -tAc "SELECT 1 FROM pg_database WHERE datname = 'gatehouse'" | grep -q 1; then
        pg_psql -qc "CREATE DATABASE gatehouse" >/dev/null
    fi
}

# psql on the private cluster's socket, as its superuser.
pg_psql() {
    "$PG_BIN/psql" -h "$PG_SOCKET_DIR" -p "$GATEHOUSE_PG_PORT" -U gatehouse -d postgres "$@"
}

# Exports DATABASE_URL, starting the private cluster when none was given.
pg_setup() {
    if [ -n "${DATABASE_URL:-}" ]; then
        pg_say "using the database at DATABASE_URL"
        unset GATEHOUSE_PRIVATE_PG
        export DATABASE_URL
        return 0
    fi
    pg_find_bin || return 1
    pg_ensure_cluster || return 1
    DATABASE_URL="postgres://gatehouse:$(cat "$PG_PASSWORD_FILE")@127.0.0.1:$GATEHOUSE_PG_PORT/gatehouse"
    export DATABASE_URL
    # The outage test stops and starts this cluster (scripts/lib/pg-ctl.sh).
    export GATEHOUSE_PRIVATE_PG=1
}

# Stops the private cluster if this script started it (for an EXIT trap).
pg_stop_if_started() {
    [ "${PG_STARTED_HERE:-0}" = 1 ] && pg_stop
    return 0
}

pg_stop() {
    pg_find_bin >/dev/null 2>&1 || return 0
    [ -f "$PG_DATA_DIR/PG_VERSION" ] || return 0
    pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DATA_DIR" -m fast stop >/dev/null 2>&1 || true
}
