#!/usr/bin/env bash
# Run a command with a throwaway Redis server on a loopback port, for the Celery job runner.
# Installs Redis from Debian's packages when it is missing; the server is stopped on exit.
# The command sees WEFT_TEST_BROKER_URL pointing at it.
set -euo pipefail

if ! command -v redis-server >/dev/null 2>&1; then
    echo "with-redis: installing Redis from Debian's packages" >&2
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

WORK=$(mktemp -d /tmp/weft-redis.XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

stop() {
    if [ -f "$WORK/redis.pid" ]; then kill "$(cat "$WORK/redis.pid")" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap stop EXIT

redis-server --bind 127.0.0.1 --port "$PORT" --dir "$WORK" --save '' --appendonly no \
    --daemonize yes --pidfile "$WORK/redis.pid" --logfile "$WORK/redis.log"
for _ in $(seq 50); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

export WEFT_TEST_BROKER_URL="redis://127.0.0.1:$PORT/0"
echo "with-redis: $(redis-server --version | awk '{print $1, $3}') on 127.0.0.1:$PORT" >&2
"$@"
