"""Why a database cannot be used by this version: the errors both engines' migrations raise.

A module of its own (not `statuspage.db`) so the storage layer raises them without
importing the module that opens and migrates databases through it.
"""

from __future__ import annotations


class SchemaError(Exception):
    """The database cannot be brought to this version's schema; str(error) says what to do."""


class DatabaseTooNew(SchemaError):
    """The database has migrations this version does not know: a newer upwatch wrote it."""


class EngineNotReady(SchemaError):
    """A PostgreSQL URL reached code that opens SQLite files only."""


class MigrationFailed(SchemaError):
    """A migration raised; every pending migration was rolled back."""


def too_new_message(where: str, unknown: list[str]) -> str:
    """What DatabaseTooNew says: which migrations are unknown, and the two ways out."""
    return (
        f"database {where} was written by a newer upwatch: it has migration(s) "
        f"{', '.join(unknown)} that this version ({_version()}) does not know. Refusing to use it: "
        "install the newer upwatch again, or restore a backup taken before the upgrade "
        "(upwatch-statuspage restore FILE --force)."
    )


def _version() -> str:
    from statuspage import __version__

    return __version__
