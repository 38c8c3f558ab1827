"""Optional extras: the libraries of some probe kinds are installed only when wanted.

`pip install 'upwatch[postgresql]'` (or mysql, redis, snmp) adds a kind's library;
the probe imports it when a check of the kind first runs, so an agent without
such checks never loads it (the agent benchmark runs with none loaded).
"""

from __future__ import annotations


class MissingExtra(Exception):
    """A probe's library is not installed; `run_check` turns this into a `down` result."""

    def __init__(self, extra: str, error: ImportError):
        self.extra = extra
        missing = error.name or str(error)
        super().__init__(
            f"the {extra} check kind needs the optional extra upwatch[{extra}]"
            f" (pip install 'upwatch[{extra}]'); missing module: {missing}"
        )
