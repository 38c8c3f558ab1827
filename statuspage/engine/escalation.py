"""Escalation timing: which level to page next, and when the one after is due. Pure.

An incident remembers the last level it paged (`-1`: none yet) and how many
times the ladder has been repeated. Level 0 is due `levels[0].after` after the
incident opens; each further level `after` the previous one fired; after the
last level the ladder starts again `repeat_after` later, `repeat` times.
Delays count from when a step actually fired, so a worker that was down does
not fire a burst of levels at once when it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from statuspage.respond_config import EscalationPolicyConfig


@dataclass(frozen=True)
class EscalationStep:
    level: int
    round: int
    channels: tuple[str, ...]
    next_at: datetime | None  # None: the ladder is finished
    # `channel:<id>`, `user:<name>`, `schedule:<id>`: resolved to people when the step fires.
    targets: tuple[str, ...] = ()


def first_due(policy: EscalationPolicyConfig, opened_at: datetime) -> datetime:
    """When level 0 pages for an incident opened at `opened_at`."""
    return opened_at + policy.levels[0].after


def next_step(
    policy: EscalationPolicyConfig, paged_level: int, round_: int, now: datetime
) -> EscalationStep | None:
    """The step to take now that one is due, or None when the ladder (and its repeats) is done."""
    level, new_round = paged_level + 1, round_
    if level >= len(policy.levels):
        if round_ >= policy.repeat:
            return None
        level, new_round = 0, round_ + 1
    next_at: datetime | None = None
    if level + 1 < len(policy.levels):
        next_at = now + policy.levels[level + 1].after
    elif new_round < policy.repeat:
        next_at = now + policy.repeat_after
    config = policy.levels[level]
    return EscalationStep(level, new_round, tuple(config.channels), next_at, config.all_targets())
