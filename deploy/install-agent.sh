#!/usr/bin/env bash
# Install (or upgrade, or remove) the upwatch agent on this host as a systemd service.
#
#   sudo deploy/install-agent.sh --collector-url https://status.acme.test \
#        --token uwa_... --name edge-eu-1 --labels eu,prod
#   sudo deploy/install-agent.sh --uninstall
#
# What it does, each step only when needed (running it again is safe; it
# upgrades the code and keeps the token when --token is not given):
#   /opt/upwatch-agent/                          a virtualenv with upwatch installed
#   /etc/upwatch-agent/agent.env                 collector URL, agent name, labels (0600)
#   /etc/upwatch-agent/token                     the agent's token (0600), a systemd credential
#   /etc/systemd/system/upwatch-agent.service    the hardened unit; enabled and (re)started
#
# The token is kept out of the env file on purpose: the unit loads it with
# LoadCredential=, so it never appears in the process environment.
#
# Options:
#   --collector-url URL   the collector's base URL (required on first install)
#   --token TOKEN         the token from `upwatch-statuspage agent-token create` (required on first install)
#   --token-file FILE     read the token from FILE instead (keeps it out of shell history)
#   --name NAME           the agent's name (default: this host's name)
#   --labels L1,L2        labels this agent declares
#   --source SRC          what pip installs: a wheel, an sdist or a source folder
#                         (default: the upwatch checkout this script is in)
#   --extras LIST         optional probe kinds to install with it: postgresql,mysql,redis,snmp,ssh,grpc
#                         (pip's upwatch[LIST]; docs/configuration.md, "Service kinds")
#   --pip-args "ARGS"     extra pip arguments (e.g. "--no-index --find-links /srv/wheels")
#   --python PYTHON       the interpreter for the virtualenv (default: python3; 3.11+)
#   --root DIR            install below DIR instead of / (images, tests); implies --no-start
#   --no-start            write everything but do not call systemctl
#   --uninstall           stop and disable the service, remove everything listed above
#                         and the agent's spool (/var/lib/upwatch-agent)
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UNIT_TEMPLATE="$SCRIPT_DIR/systemd/upwatch-agent.service"
UNIT_NAME="upwatch-agent.service"

ROOT="/"
COLLECTOR_URL=""
TOKEN=""
TOKEN_FILE=""
AGENT_NAME=""
LABELS=""
SOURCE="$(cd "$SCRIPT_DIR/.." && pwd)"
PIP_ARGS=""
EXTRAS=""
PYTHON="python3"
START=1
ACTION="install"

die() {
    echo "install-agent: $*" >&2
    exit 2
}

need_value() {
    [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value"
}

while [[ $# -gt 0 ]]; do
    case "$1" in
        --collector-url) need_value "$@"; COLLECTOR_URL="$2"; shift 2 ;;
        --token) need_value "$@"; TOKEN="$2"; shift 2 ;;
        --token-file) need_value "$@"; TOKEN_FILE="$2"; shift 2 ;;
        --name) need_value "$@"; AGENT_NAME="$2"; shift 2 ;;
        --labels) need_value "$@"; LABELS="$2"; shift 2 ;;
        --source) need_value "$@"; SOURCE="$2"; shift 2 ;;
        --pip-args) need_value "$@"; PIP_ARGS="$2"; shift 2 ;;
        --extras) need_value "$@"; EXTRAS="$2"; shift 2 ;;
        --python) need_value "$@"; PYTHON="$2"; shift 2 ;;
        --root) need_value "$@"; ROOT="$2"; shift 2 ;;
        --no-start) START=0; shift ;;
        --uninstall) ACTION="uninstall"; shift ;;
        -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

ROOT="${ROOT%/}"
if [[ -n "$ROOT" ]]; then
    START=0 # systemctl manages this machine, not the tree below --root
fi
if [[ -z "$ROOT" && "$(id -u)" -ne 0 ]]; then
    die "run as root (or give --root DIR to install below DIR)"
fi

VENV="$ROOT/opt/upwatch-agent"
CONF_DIR="$ROOT/etc/upwatch-agent"
ENV_FILE="$CONF_DIR/agent.env"
TOKEN_PATH="$CONF_DIR/token"
UNIT_PATH="$ROOT/etc/systemd/system/$UNIT_NAME"
STATE_DIRS=("$ROOT/var/lib/upwatch-agent" "$ROOT/var/lib/private/upwatch-agent")

systemctl_run() {
    if [[ "$START" -eq 1 ]]; then
        systemctl "$@"
    fi
}

# Write $2 to $1 with mode $3, atomically, only if the content differs.
# Prints "updated" or "unchanged" for the summary.
write_file() {
    local path="$1" content="$2" mode="$3" tmp
    if [[ -f "$path" ]] && [[ "$(cat "$path")" == "$content" ]]; then
        chmod "$mode" "$path"
        echo "unchanged $path"
        return 0
    fi
    mkdir -p "$(dirname "$path")"
    tmp="$(mktemp "$(dirname "$path")/.install-agent.XXXXXX")"
    chmod "$mode" "$tmp"
    printf '%s\n' "$content" >"$tmp"
    mv -f "$tmp" "$path"
    echo "updated $path"
}

uninstall() {
    if [[ -f "$UNIT_PATH" ]]; then
        systemctl_run disable --now "$UNIT_NAME" || true
    fi
    rm -f "$UNIT_PATH"
    systemctl_run daemon-reload
    rm -rf "$VENV" "$CONF_DIR" "${STATE_DIRS[@]}"
    echo "upwatch agent removed (service, $VENV, $CONF_DIR, spool)"
}

validate() {
    local url_re='^https?://[][A-Za-z0-9._:@%/-]+$'
    [[ "$COLLECTOR_URL" =~ $url_re ]] ||
        die "--collector-url must be an http:// or https:// URL without spaces or quotes"
    COLLECTOR_URL="${COLLECTOR_URL%/}"
    [[ "$AGENT_NAME" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]] ||
        die "--name: use 1-64 letters, digits, '_', '.', '-'"
    if [[ -n "$LABELS" ]]; then
        [[ "$LABELS" =~ ^[A-Za-z0-9_.:-]{1,64}(,[A-Za-z0-9_.:-]{1,64})*$ ]] ||
            die "--labels: comma-separated labels of letters, digits, '_', '.', ':', '-'"
    fi
    [[ "$TOKEN" =~ ^[A-Za-z0-9_-]{8,500}$ ]] ||
        die "the token must be the single word printed by 'upwatch-statuspage agent-token create'"
    if [[ -n "$EXTRAS" ]]; then
        [[ "$EXTRAS" =~ ^(postgresql|mysql|redis|snmp|ssh|grpc)(,(postgresql|mysql|redis|snmp|ssh|grpc))*$ ]] ||
            die "--extras: a comma-separated list of postgresql, mysql, redis, snmp, ssh, grpc"
    fi
}

install() {
    [[ -f "$UNIT_TEMPLATE" ]] || die "unit template $UNIT_TEMPLATE not found (run from an upwatch checkout)"
    if [[ -n "$TOKEN_FILE" ]]; then
        [[ -r "$TOKEN_FILE" ]] || die "--token-file $TOKEN_FILE is not readable"
        TOKEN="$(tr -d '[:space:]' <"$TOKEN_FILE")"
    fi
    # Re-running without --token/--collector-url keeps what the first run wrote.
    if [[ -z "$TOKEN" && -f "$TOKEN_PATH" ]]; then
        TOKEN="$(tr -d '[:space:]' <"$TOKEN_PATH")"
    fi
    if [[ -f "$ENV_FILE" ]]; then
        [[ -n "$COLLECTOR_URL" ]] || COLLECTOR_URL="$(sed -n 's/^UPWATCH_AGENT_COLLECTOR_URL=//p' "$ENV_FILE")"
        [[ -n "$AGENT_NAME" ]] || AGENT_NAME="$(sed -n 's/^UPWATCH_AGENT_NAME=//p' "$ENV_FILE")"
        [[ -n "$LABELS" ]] || LABELS="$(sed -n 's/^UPWATCH_AGENT_LABELS=//p' "$ENV_FILE")"
    fi
    [[ -n "$AGENT_NAME" ]] || AGENT_NAME="$(hostname -s 2>/dev/null || hostname)"
    [[ -n "$COLLECTOR_URL" ]] || die "--collector-url is required on the first install"
    [[ -n "$TOKEN" ]] || die "--token or --token-file is required on the first install"
    validate

    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
        die "$PYTHON is older than Python 3.11"
    if [[ ! -x "$VENV/bin/python" ]]; then
        "$PYTHON" -m venv "$VENV"
        echo "created $VENV"
    fi
    # shellcheck disable=SC2086 # PIP_ARGS is a list of words on purpose
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $PIP_ARGS "$SOURCE${EXTRAS:+[$EXTRAS]}"
    echo "installed $("$VENV/bin/python" -m pip show upwatch 2>/dev/null | sed -n 's/^Version: /upwatch /p') into $VENV"

    umask 077
    write_file "$ENV_FILE" "# upwatch agent settings (docs/configuration.md); the token is in ./token
UPWATCH_AGENT_COLLECTOR_URL=$COLLECTOR_URL
UPWATCH_AGENT_NAME=$AGENT_NAME
UPWATCH_AGENT_LABELS=$LABELS" 0600
    write_file "$TOKEN_PATH" "$TOKEN" 0600
    write_file "$UNIT_PATH" "$(cat "$UNIT_TEMPLATE")" 0644

    systemctl_run daemon-reload
    systemctl_run enable "$UNIT_NAME"
    # restart, not start: a re-run upgrades the code and must take effect.
    systemctl_run restart "$UNIT_NAME"
    if [[ "$START" -eq 1 ]]; then
        echo "upwatch agent $AGENT_NAME is running: systemctl status $UNIT_NAME"
    else
        echo "upwatch agent $AGENT_NAME installed below ${ROOT:-/} (not started)"
    fi
}

"$ACTION"
