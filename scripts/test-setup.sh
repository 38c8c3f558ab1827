#!/usr/bin/env bash
# System packages the test suite needs, installed only when missing.
# (Python packages come from pyproject's `dev` extra.)
#   chromium         headless browser for the public page's tests (tests/statuspage/test_browser.py)
#   systemd-analyze  verify and score the units in deploy/systemd (package systemd)
#   nginx            `nginx -t` the reverse-proxy example (package nginx-light)
#   openssl          a throw-away certificate for that example
#   postgresql, mariadb-server, redis-server, snmpd, snmp (snmpget)
#                    real servers the postgresql/mysql/redis/snmp probe tests start on loopback;
#                    postgresql is also the second storage engine (tests/pg.py starts its own servers)
#   openssh-server   a throwaway sshd for the ssh probe's tests (tests/agent/loopback_servers.py)
#   dovecot-imapd, dovecot-pop3d   a throwaway dovecot for the imap and pop3 probes' tests
set -euo pipefail

missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
# Throwaway servers of the service-kind probe tests (tests/servers.py):
[[ -n "$(compgen -G '/usr/lib/postgresql/*/bin/initdb')" ]] || missing+=(postgresql)
[[ -x /usr/sbin/mariadbd ]] || missing+=(mariadb-server)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[[ -x /usr/sbin/snmpd ]] || missing+=(snmpd)
command -v snmpget >/dev/null 2>&1 || missing+=(snmp)
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
[[ -x /usr/lib/dovecot/imap ]] || missing+=(dovecot-imapd)
[[ -x /usr/lib/dovecot/pop3 ]] || missing+=(dovecot-pop3d)

if [[ ${#missing[@]} -gt 0 ]]; then
    if [[ "$(id -u)" -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
        echo "test-setup: missing ${missing[*]}; run 'apt-get install -y ${missing[*]}' as root" >&2
        exit 1
    fi
    echo "test-setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # Several test runs may start at once: wait for apt's lock instead of failing.
    apt-get -o DPkg::Lock::Timeout=600 update -qq
    # Debian's policy-rc.d (exit 101): the database packages' own services must not start;
    # the tests start throwaway instances on loopback ports.
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" && created_policy=1
    fi
    apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    if [[ $created_policy -eq 1 ]]; then rm -f "$policy"; fi
fi

# iproute2 (`ip netns`, veth) for the incident engine's three-location test
# (tests/test_incident_locations.py); without it that test falls back to loopback.
if ! command -v ip >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends iproute2 >/dev/null
fi

# openssl makes the throwaway certificates of the SMTP TLS tests (tests/statuspage/notify/test_smtp_tls.py).
if ! command -v openssl >/dev/null; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-setup: openssl is missing; run 'apt-get install -y openssl' as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends openssl >/dev/null
fi

exit 0
