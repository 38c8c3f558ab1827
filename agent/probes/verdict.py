"""The last step every service probe shares: apply the check's conditions to what it saw."""

from __future__ import annotations

from typing import Any

from agent.probes import Outcome
from shared.conditions import Condition, Facts, failed_conditions


def judged(outcome: Outcome, conditions: list[Condition], facts: Facts) -> Outcome:
    """`outcome` with the failed conditions as its error (up stays up only when all hold).

    A check that asks `[CONNECTED] == false` wants the service unreachable: a refused
    connection whose conditions all hold is then `up`, as with the tcp kind.
    """
    problems = failed_conditions(conditions, facts)
    if outcome.status == "down" and facts.connected is False:
        wanted_unreachable = any(c.placeholder == "CONNECTED" for c in conditions)
        if wanted_unreachable and not problems:
            return Outcome("up", None, outcome.metrics, outcome.detail)
        return outcome
    if problems and outcome.status == "up":
        return Outcome("down", "; ".join(problems), outcome.metrics, outcome.detail)
    return outcome


def result_value(value: Any) -> str | int | float:
    """A query's first value as conditions compare it: numbers stay numbers, NULL reads `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def excerpt(value: str | int | float, limit: int = 200) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "..."
