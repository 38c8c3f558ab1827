"""The agent's spool: FIFO, ack = delete, size cap drops the oldest and counts them,
one owner per file, and nothing committed is lost to `kill -9` of a real process."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.spool import Spool, SpoolLocked
from shared.ids import new_result_id
from shared.schema import Result


def make_result(check_id: str = "c", error: str | None = None) -> Result:
    return Result(
        id=new_result_id(),
        check_id=check_id,
        started_at=datetime(2026, 11, 27, 12, tzinfo=UTC),
        latency_ms=1.0,
        status="up",
        error=error,
    )


def test_fifo_and_ack_deletes_only_what_was_acknowledged(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    results = [make_result() for _ in range(5)]
    for result in results:
        spool.put(result)
    batch = spool.batch(3)
    assert [item.id for item in batch] == [str(r.id) for r in results[:3]]
    assert Result.model_validate_json(batch[0].body) == results[0]
    assert spool.delete([batch[0].id, batch[2].id, str(uuid.uuid4())]) == 2
    assert [item.id for item in spool.batch(10)] == [str(r.id) for r in (results[1], *results[3:])]
    assert spool.pending == 3
    spool.close()


def test_state_survives_reopening(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", ledger=True)
    kept = make_result()
    spool.put(kept)
    spool.put(make_result())
    spool.delete([spool.batch(2)[1].id])
    spool.close()
    again = Spool(tmp_path / "spool.db", ledger=True)
    assert [item.id for item in again.batch(10)] == [str(kept.id)]
    assert again.pending == 1 and again.pending_bytes == len(kept.model_dump_json())
    assert len(again.ledger_ids()) == 2  # the ledger keeps what was acknowledged too
    again.close()


def test_the_same_result_is_queued_once(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    result = make_result()
    spool.put(result)
    spool.put(result)
    assert spool.pending == 1
    spool.close()


def test_cap_drops_the_oldest_first_and_counts_them(tmp_path: Path) -> None:
    one = len(make_result().model_dump_json())
    spool = Spool(tmp_path / "spool.db", max_bytes=10 * one)
    results = [make_result() for _ in range(25)]
    dropped = sum(spool.put(r) for r in results)
    assert dropped == 15 and spool.dropped_total == 15
    assert [item.id for item in spool.batch(100)] == [str(r.id) for r in results[15:]]
    assert spool.pending_bytes <= 10 * one
    spool.close()
    reopened = Spool(tmp_path / "spool.db", max_bytes=10 * one)
    assert reopened.dropped_total == 15  # the counter survives restarts: it is reported cumulatively
    reopened.put(make_result())
    assert reopened.dropped_total == 16
    reopened.close()


def test_a_result_bigger_than_the_cap_is_still_kept_alone(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db", max_bytes=100)
    spool.put(make_result())
    big = make_result(error="e" * 500)
    spool.put(big)
    assert [item.id for item in spool.batch(10)] == [str(big.id)]
    assert spool.dropped_total == 1
    spool.close()


def test_set_aside_moves_results_out_of_the_queue_with_their_reason(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    bad, good = make_result(), make_result()
    spool.put(bad)
    spool.put(good)
    assert spool.set_aside({str(bad.id): "results.0.latency_ms: too big", "missing": "x"}) == 1
    assert [item.id for item in spool.batch(10)] == [str(good.id)]
    assert spool.set_aside_reasons() == [(str(bad.id), "results.0.latency_ms: too big")]
    spool.close()


def test_one_process_per_spool_file(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool.db")
    with pytest.raises(SpoolLocked, match="in use"):
        Spool(tmp_path / "spool.db")
    spool.close()
    Spool(tmp_path / "spool.db").close()  # free again once closed


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import UTC, datetime
    from agent.spool import Spool
    from shared.ids import new_result_id
    from shared.schema import Result

    spool = Spool(sys.argv[1], ledger=True)
    started = datetime.now(UTC)
    while True:
        result = Result(id=new_result_id(), check_id="c", started_at=started, latency_ms=1.0, status="up")
        spool.put(result)
        print(result.id, flush=True)  # printed only after the commit returned
    """
)


def test_every_committed_result_survives_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    writer = subprocess.Popen(  # noqa: S603
        [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert writer.stdout is not None
    committed = [writer.stdout.readline().strip() for _ in range(300)]
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=10)
    committed += [line.strip() for line in writer.stdout.read().splitlines() if line.strip()]

    check = sqlite3.connect(path)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    spool = Spool(path, ledger=True)  # the kernel released the dead writer's lock
    stored = {item.id for item in spool.batch(1_000_000)}
    assert set(committed) <= stored
    assert stored == set(spool.ledger_ids())
    assert spool.pending == len(stored)
    spool.close()
