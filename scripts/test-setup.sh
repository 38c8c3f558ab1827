#!/usr/bin/env bash
# System packages the test suite needs, installed only when missing.
# (Python packages come from pyproject's `dev` extra.)
set -euo pipefail

# Headless Chromium for the public page's browser tests (tests/statuspage/test_browser.py).
if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" -ne 0 ]; then
        echo "test-setup: /usr/bin/chromium is missing; run 'apt-get install -y chromium' as root" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
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
