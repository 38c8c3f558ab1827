"""The component rows of `/`, each rendered once per change of what it shows.

A forced render of a 200-component page spent most of its time drawing rows that had not
changed: between two data changes only a few components change status, and today's bar or
the uptime figure of one component rarely changes its words. So each row's HTML is kept
with a key made of everything the row shows (name, description, status, today's colour
and words, the uptime as printed, the check details when the config shows them) and the
version of the past days' strips it was drawn from (`Snapshot.bars_version`, which moves
when rollups rewrite a past day, e.g. for a late result or a maintenance recorded after
the fact, when an incident changes, and when the day rolls over). A render then draws only
the rows whose key changed and reuses the others' HTML as is.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Mapping, Sequence

from markupsafe import Markup

from statuspage.public.snapshot import ComponentView, Snapshot

RowRenderer = Callable[[ComponentView, Sequence[Hashable]], Markup]


def row_key(component: ComponentView, bars_version: tuple[str, ...], details: Sequence[Hashable]) -> Hashable:
    """Everything a component's row shows, and the strip version its past days come from."""
    today = component.today
    return (
        component.name,
        component.description,
        component.status,
        component.uptime_text,
        (today.level, today.detail) if today else None,
        bars_version,
        tuple(details),
    )


class RowCache:
    """Component id -> (key, rendered row) of the last render, shared by the app's threads.

    `rows` keeps only the components of the snapshot it is given, so a component removed
    from the config does not linger. `rendered` counts rows drawn (not reused), for tests
    and benchmarks.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, tuple[Hashable, Markup]] = {}
        self.rendered = 0

    def rows(
        self,
        snapshot: Snapshot,
        details: Mapping[str, Sequence[Hashable]],
        render: RowRenderer,
    ) -> dict[str, Markup]:
        """Component id -> its row's HTML: reused when its key is unchanged, else drawn by `render`."""
        with self._lock:
            previous = self._rows
        current: dict[str, tuple[Hashable, Markup]] = {}
        drawn = 0
        for component in snapshot.components:
            mine = details.get(component.id, ())
            key = row_key(component, snapshot.bars_version, mine)
            kept = previous.get(component.id)
            if kept is not None and kept[0] == key:
                current[component.id] = kept
            else:
                current[component.id] = (key, render(component, mine))
                drawn += 1
        with self._lock:
            # Two threads rendering at once each store a complete, correct set; the last wins.
            self._rows = current
            self.rendered += drawn
        return {component_id: html for component_id, (_key, html) in current.items()}
