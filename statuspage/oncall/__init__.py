"""On call: responders, schedules (rotations, layers, overrides), ICS feeds, signed action links.

The maths of who is on call is pure (`rotation`); `paging` turns escalation
targets into outbox rows; `links` signs the one-click acknowledge/resolve
links every page carries; `ics` renders calendar feeds.
"""
