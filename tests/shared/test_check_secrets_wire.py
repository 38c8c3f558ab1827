"""Check secrets on the wire: an assigned check keeps its secret (the agent needs it), while
repr and str of the check never show an inline one; env and credential references travel as names."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import SecretStr

from shared.checks import SecretSource, parse_check
from shared.schema import Assignments


def test_assignments_round_trip_keeps_secrets_and_hides_them_in_repr() -> None:
    inline = parse_check(
        {"id": "pg", "kind": "postgresql", "host": "db1", "user": "monitor", "password": "Pg-Wire-1"}
    )
    named = parse_check(
        {
            "id": "ups",
            "kind": "snmp",
            "host": "ups1",
            "version": "3",
            "user": "monitor",
            "auth_protocol": "SHA",
            "auth_key": {"env": "UPWATCH_SECRET_UPS"},
            "priv_protocol": "AES",
            "priv_key": {"credential": "ups-priv"},
        }
    )
    sent = Assignments(agent="edge-1", generated_at=datetime(2026, 12, 1, tzinfo=UTC), checks=[inline, named])
    received = Assignments.model_validate_json(sent.model_dump_json())
    assert received == sent
    password = received.checks[0].password  # type: ignore[union-attr]
    assert isinstance(password, SecretStr) and password.get_secret_value() == "Pg-Wire-1"
    assert received.checks[1].auth_key == SecretSource(env="UPWATCH_SECRET_UPS")  # type: ignore[union-attr]
    assert '"priv_key":{"credential":"ups-priv"}' in sent.model_dump_json()
    assert "Pg-Wire-1" not in repr(received) and "Pg-Wire-1" not in str(received.checks[0])
