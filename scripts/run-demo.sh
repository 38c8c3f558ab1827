#!/usr/bin/env bash
# `make run`: the whole product on its embedded default, on one machine.
# Starts the collector (gunicorn + worker) and one local agent; Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT="${PORT:-8080}"
MAIL_PORT="${MAIL_PORT:-8025}"
VENV="${VENV:-.venv}"
DATA_DIR="${DATA_DIR:-data}"
mkdir -p "$DATA_DIR"

export UPWATCH_DATABASE="$DATA_DIR/upwatch.db"
export UPWATCH_CONFIG="$DATA_DIR/demo.toml"
# The demo config probes the collector itself, so its port must be the one we bind.
# Its mail goes to a local sink (mail-sink) whose catch the admin's Subscribers page shows.
sed -e "s/8080/$PORT/g" -e "s/8025/$MAIL_PORT/g" deploy/examples/demo.toml > "$UPWATCH_CONFIG"

"$VENV/bin/upwatch-statuspage" migrate >/dev/null
TOKEN="$("$VENV/bin/upwatch-statuspage" agent-token create local --label demo --replace | tail -n 1)"

# An operator for /admin/, created once; its password is kept beside the demo database.
ADMIN_PASSWORD_FILE="$DATA_DIR/admin-password.txt"
if [ ! -s "$ADMIN_PASSWORD_FILE" ]; then
    (umask 077; "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(12))' > "$ADMIN_PASSWORD_FILE")
    "$VENV/bin/upwatch-statuspage" user create admin --password-stdin < "$ADMIN_PASSWORD_FILE" >/dev/null
fi

pids=()
cleanup() {
    trap - INT TERM EXIT
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    echo "upwatch demo stopped."
}
trap cleanup INT TERM EXIT

"$VENV/bin/upwatch-statuspage" mail-sink --host 127.0.0.1 --port "$MAIL_PORT" &
pids+=($!)

"$VENV/bin/upwatch-statuspage" serve --host 127.0.0.1 --port "$PORT" &
pids+=($!)

UPWATCH_AGENT_COLLECTOR_URL="http://127.0.0.1:$PORT" UPWATCH_AGENT_TOKEN="$TOKEN" \
UPWATCH_AGENT_SPOOL_PATH="$DATA_DIR/spool-local.db" \
UPWATCH_AGENT_NAME=local UPWATCH_AGENT_LABELS=demo "$VENV/bin/upwatch-agent" run &
pids+=($!)

echo
echo "  upwatch is running: status page at http://127.0.0.1:$PORT/"
echo "  operators: http://127.0.0.1:$PORT/admin/  (user admin, password in $ADMIN_PASSWORD_FILE)"
echo "  subscribe by email at http://127.0.0.1:$PORT/subscribe: the mail is caught locally and"
echo "  shown under admin → Subscribers (a sink on 127.0.0.1:$MAIL_PORT; nothing leaves this machine)"
echo "  (Ctrl-C stops the collector, the worker and the agent)"
echo
# Wait until any child exits (or a signal arrives), then stop the rest.
wait -n "${pids[@]}" || true
