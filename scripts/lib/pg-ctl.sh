#!/usr/bin/env bash
# Stops or starts the private PostgreSQL cluster: `pg-ctl.sh stop|start`. Used by the outage test.
set -euo pipefail
source "$(dirname "$0")/postgres.sh"
pg_find_bin
case "${1:-}" in
    stop) pg_stop ;;
    start) pg_ensure_cluster ;;
    *) echo "usage: pg-ctl.sh stop|start" >&2; exit 2 ;;
esac
