"""Automated response: `[[responses.rules]]` ask agents to run the remediation actions their
hosts declared (agent/actions.py), and everything they do lands on the incident timeline.

config.py   the `[responses]` settings and rules, validated at start-up
rules.py    the worker's pass: rules -> orders, re-checks, expiry
service.py  order, approve, record a result, the kill switch, manual runs (timeline + audit)
text.py     the plain words of the timeline
"""
