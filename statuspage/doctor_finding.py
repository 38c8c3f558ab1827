"""What one `doctor` check found: the type every check of `doctor.py` and
`doctor_postgres.py` returns, in a module of its own so neither imports the other back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Finding:
    """One line of the report: how it went, which check, what was seen, and how to fix it."""

    status: Status
    check: str
    message: str
    fix: str = ""
