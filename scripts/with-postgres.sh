#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL cluster on a loopback port.
# Installs PostgreSQL from Debian's packages when it is missing; the cluster is removed on exit.
# The command sees WEFT_TEST_DATABASE_URL pointing at an empty database.
set -euo pipefail

find_bin() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

PG_BIN=$(find_bin)
if [ -z "$PG_BIN" ]; then
    echo "with-postgres: installing PostgreSQL from Debian's packages" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(find_bin)
fi

WORK=$(mktemp -d /tmp/weft-pg.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# PostgreSQL refuses to run as root: run the server as the 'postgres' system user then.
as_owner() { "$@"; }
if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    chown postgres "$WORK"
    as_owner() { runuser -u postgres -- "$@"; }
fi

stop() {
    as_owner "$PG_BIN/pg_ctl" -D "$WORK/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap stop EXIT

as_owner "$PG_BIN/initdb" -D "$WORK/data" -U weft --auth=trust -E UTF8 >/dev/null
as_owner "$PG_BIN/pg_ctl" -D "$WORK/data" -l "$WORK/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK -c fsync=off" start >/dev/null
"$PG_BIN/createdb" -h 127.0.0.1 -p "$PORT" -U weft weft_test

export WEFT_TEST_DATABASE_URL="postgresql+psycopg://weft@127.0.0.1:$PORT/weft_test"
echo "with-postgres: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT" >&2
"$@"
