#!/usr/bin/env bash
# System packages the test suite needs, installed only when missing.
# (Python packages come from pyproject's `dev` extra.)
set -euo pipefail
exit 0
