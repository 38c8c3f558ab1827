"""`doctor` on PostgreSQL: can we connect, is the server new enough, is the schema current.

The SQLite checks (integrity, WAL, disk beside the file) have no counterpart
here: a managed or replicated PostgreSQL watches its own storage.
"""

from __future__ import annotations

from statuspage.db import DatabaseTooNew, applied_migrations, check_not_newer, known_migrations
from statuspage.doctor_finding import Finding
from statuspage.storage.locations import redacted


def check_postgres(url: str) -> list[Finding]:
    """Connection, server version (13 or newer) and migrations, each a Finding."""
    where = redacted(url)
    try:
        from statuspage.storage.postgres import MINIMUM_SERVER_VERSION, PostgresStore, server_version
    except ImportError as error:
        return [
            Finding(
                "fail",
                "database",
                f"{where}: PostgreSQL driver missing ({error.name})",
                "install the extra: pip install 'upwatch[postgresql]'",
            )
        ]
    store = PostgresStore(url)
    try:
        try:
            number, text = server_version(store)
        except Exception as error:  # noqa: BLE001 - any driver error means "cannot connect"; say which
            first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
            return [
                Finding(
                    "fail",
                    "database",
                    f"{where}: cannot connect: {first_line}",
                    "check the URL, that the server runs and accepts this user (pg_hba.conf)",
                )
            ]
        findings = [Finding("ok", "database", f"{where}: connected ({text.split(',')[0]})")]
        if number < MINIMUM_SERVER_VERSION:
            findings.append(
                Finding(
                    "fail",
                    "database",
                    f"server version {number // 10000} is too old",
                    "upwatch needs PostgreSQL 13 or newer",
                )
            )
        try:
            check_not_newer(store)
        except DatabaseTooNew as error:
            return [*findings, Finding("fail", "schema", str(error), "run the upwatch version that wrote it")]
        done = set(applied_migrations(store))
        pending = [name for name in known_migrations() if name not in done]
        if pending:
            findings.append(
                Finding(
                    "warn",
                    "schema",
                    f"{len(pending)} migration(s) pending: {', '.join(pending)}",
                    "run `upwatch-statuspage migrate` (the services also migrate when they start)",
                )
            )
        else:
            findings.append(Finding("ok", "schema", f"up to date ({len(known_migrations())} migrations)"))
        return findings
    finally:
        store.close()
