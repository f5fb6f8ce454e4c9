# shellcheck shell=bash
# Sourced by scripts/test: `deny_check` runs cargo-deny over the dependency graph with the policy of
# deny.toml (advisories, licenses, duplicate versions, sources), installing cargo-deny if needed.
#
# The advisory database is RustSec's git repository on GitHub, which cargo-deny clones under
# deny.toml's db-path (target/advisory-db). Where GitHub cannot be reached, the snapshot
# ../shared/data/rustsec-advisory-db.bundle (or GATEHOUSE_ADVISORY_BUNDLE) is cloned there instead.
# With neither, the other three checks still run and the script says loudly that advisories were not.

GATEHOUSE_ROOT=${GATEHOUSE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
# The cargo-deny release deny.toml is written for, installed when `cargo deny` is missing.
DENY_VERSION=0.20.2
DENY_DB_URL=https://github.com/rustsec/advisory-db
# Must match deny.toml's db-path; relative to the repository root, where cargo-deny runs.
DENY_DB_PATH=${GATEHOUSE_ADVISORY_DB_PATH:-target/advisory-db}
# cargo-deny 0.20 keeps a database in <db-path>/<last URL segment>-<XxHash64 of the lowercased URL>;
# this is the directory of the default URL, so an offline run (--offline) finds the snapshot there.
DENY_DB_DIR=$DENY_DB_PATH/advisory-db-3157b0e258782691
DENY_BUNDLE=${GATEHOUSE_ADVISORY_BUNDLE:-$(dirname "$GATEHOUSE_ROOT")/shared/data/rustsec-advisory-db.bundle}
# cargo-deny reads the crate graph from here (see deny_check).
DENY_METADATA=target/cargo-deny-metadata.json

deny_say() { printf 'gatehouse: %s\n' "$*" >&2; }

deny_install() {
    local found
    if found=$(cargo deny --version 2>/dev/null); then
        if [ "$found" != "cargo-deny $DENY_VERSION" ]; then
            deny_say "$found found; deny.toml is written for $DENY_VERSION" \
                "(cargo install --locked --force --version $DENY_VERSION cargo-deny)"
        fi
        return 0
    fi
    deny_say "cargo-deny not found: installing cargo-deny $DENY_VERSION" \
        "(cargo install --locked, about 4 minutes on two cores)"
    cargo install --locked --version "$DENY_VERSION" cargo-deny
}

# Whether RustSec's repository answers, within 10 seconds.
deny_network() {
    GIT_TERMINAL_PROMPT=0 timeout 10 git ls-remote "$DENY_DB_URL" HEAD >/dev/null 2>&1
}

# Clones the snapshot bundle afresh into DENY_DB_DIR, unless the copy already there is newer (fetched
# live on an earlier run). cargo-deny's maximum-db-staleness looks at when the copy was fetched or
# cloned, so a fresh clone never trips it; the age that matters is printed by deny_check.
deny_use_snapshot() {
    [ -f "$DENY_BUNDLE" ] || return 1
    if [ -d "$DENY_DB_DIR/.git" ] &&
        git -C "$DENY_DB_DIR" fetch -q --no-write-fetch-head "$DENY_BUNDLE" "+main:refs/gatehouse/snapshot" 2>/dev/null &&
        [ "$(git -C "$DENY_DB_DIR" log -1 --format=%ct HEAD)" -gt \
            "$(git -C "$DENY_DB_DIR" log -1 --format=%ct refs/gatehouse/snapshot)" ]; then
        DENY_DB_SOURCE="copy fetched live on an earlier run"
        return 0
    fi
    rm -rf "$DENY_DB_DIR"
    mkdir -p "$DENY_DB_PATH"
    git -c init.defaultBranch=main clone -q --branch main "$DENY_BUNDLE" "$DENY_DB_DIR" || return 1
    # So that a later run with the network fetches the live database into this same copy.
    git -C "$DENY_DB_DIR" remote set-url origin "$DENY_DB_URL"
    DENY_DB_SOURCE="snapshot $DENY_BUNDLE"
}

# The date of the newest advisory in the database at DENY_DB_DIR (YYYY-MM-DD).
deny_db_date() {
    grep -rhoE '^date = "[0-9]{4}-[0-9]{2}-[0-9]{2}"' "$DENY_DB_DIR/crates" 2>/dev/null |
        sort | tail -n 1 | cut -d'"' -f2 || true
}

deny_check() {
    (
        cd "$GATEHOUSE_ROOT" || exit 1
        deny_install || exit 1

        local db="" date age checks=()
        if deny_network; then
            if cargo deny --log-level error fetch db; then
                db=live
            else
                deny_say "fetching the live advisory database failed: trying the snapshot"
            fi
        fi
        if [ -z "$db" ] && deny_use_snapshot; then
            db=offline
        fi

        if [ -n "$db" ]; then
            date=$(deny_db_date)
            age=$((($(date +%s) - $(date -d "${date:-1970-01-01}" +%s)) / 86400))
            if [ "$db" = live ]; then
                deny_say "advisories: RustSec's database, fetched now (newest advisory $date)"
            else
                deny_say "advisories: no network, using the $DENY_DB_SOURCE (newest advisory $date)"
                if [ "$age" -gt 90 ]; then
                    deny_say "WARNING: that database is $age days old: advisories published since $date" \
                        "are not checked. Run where github.com is reachable, or refresh the bundle."
                fi
            fi
        else
            checks=(bans licenses sources)
        fi

        # The crate graph is read by cargo (crates.io is reachable), then cargo-deny runs offline: with
        # --offline it uses the database as it is instead of fetching it, and its own `cargo
        # metadata` would also be offline and fail on crates never downloaded here.
        mkdir -p "$(dirname "$DENY_METADATA")"
        cargo metadata --format-version 1 --locked >"$DENY_METADATA" || exit 1
        local status=0
        cargo deny --locked --offline --metadata-path "$DENY_METADATA" check "${checks[@]}" || status=$?

        if [ -z "$db" ]; then
            deny_say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
            deny_say "!!! ADVISORIES WERE NOT CHECKED: $DENY_DB_URL is unreachable and there is no"
            deny_say "!!! snapshot at $DENY_BUNDLE. Only bans, licenses and sources were checked."
            deny_say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
        fi
        exit "$status"
    )
}
