"""All SQL lives in statuspage/storage/, written for both engines (issue 13).

Two static checks keep the rule from drifting as code is added:

- a module outside `statuspage/storage/` (and `statuspage/db.py`, which opens
  and migrates the database) runs no SQL: no driver `execute`, no sqlite-utils
  table helpers, no seam query call, no SQL text, no BEGIN of its own (it
  opens transactions with `sql.write`);
- a storage module writes SQL both SQLite and PostgreSQL speak: `:name`
  parameters (no `?`), ON CONFLICT instead of INSERT OR IGNORE/REPLACE,
  RETURNING id instead of lastrowid, no rowid. The engine-specific pieces
  are named in ENGINE_SPECIFIC with the reason they may differ.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
STORAGE = ROOT / "statuspage" / "storage"
OWNS_THE_DATABASE = {ROOT / "statuspage" / "db.py"}

# Driver and sqlite-utils calls that run SQL (list.insert and friends are not in here).
SQL_METHODS = {
    "execute",
    "executemany",
    "executescript",
    "rows_where",
    "insert_all",
    "upsert",
    "upsert_all",
    "atomic",
}
# The seam's query functions; sql.write (a transaction boundary) may be used anywhere.
SEAM_QUERIES = {"rows", "one", "scalar", "tuples", "run", "run_many", "insert_returning_id"}
SQL_TEXT = re.compile(
    r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+(OR\s+\w+\s+)?INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|PRAGMA\s|BEGIN\b|"
    r"CREATE\s+(TABLE|INDEX)\s)",
    re.DOTALL,
)

# Storage modules allowed engine-specific SQL, and why.
ENGINE_SPECIFIC = {
    "migrations.py": "DDL history as applied to SQLite; lane 13b runs it on both engines",
    "sqlite_file.py": "SQLite file tooling (backup, doctor, checkpoints): never runs on PostgreSQL",
    "transaction.py": "SQLite's BEGIN IMMEDIATE and the ingest flock",
    "sql.py": "the seam itself: the one place that knows the engine",
}


def _python_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if ".venv" not in p.parts)


def _outside_storage() -> list[Path]:
    files = _python_files(ROOT / "statuspage") + _python_files(ROOT / "shared")
    return [p for p in files if STORAGE not in p.parents and p not in OWNS_THE_DATABASE]


def _sql_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            owner = node.func.value
            if name in SQL_METHODS:
                found.append(f"line {node.lineno}: .{name}(...)")
            elif name in SEAM_QUERIES and isinstance(owner, ast.Name) and owner.id == "sql":
                found.append(f"line {node.lineno}: sql.{name}(...)")
        elif isinstance(node, ast.ImportFrom) and node.module == "statuspage.storage.transaction":
            # Transactions above storage open through sql.write (ingest: ingest_write).
            # ingest_write and its companion predicate (where ingest evaluates) run no SQL of their own.
            allowed = {"ingest_write", "evaluates_inside_ingest_write"}
            found += [f"line {node.lineno}: imports {n.name}" for n in node.names if n.name not in allowed]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL_TEXT.match(node.value):
            found.append(f"line {node.lineno}: SQL text {node.value[:40]!r}")
    return found


@pytest.mark.parametrize("path", _outside_storage(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_sql_outside_storage(path: Path) -> None:
    uses = _sql_uses(path)
    assert not uses, f"{path.relative_to(ROOT)} runs SQL; move it into statuspage/storage/: {uses}"


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    ]


PORTABILITY = [
    (re.compile(r"\?"), "a ? placeholder: use :name parameters"),
    (re.compile(r"\bINSERT\s+OR\s+(IGNORE|REPLACE)\b", re.IGNORECASE), "INSERT OR ...: use ON CONFLICT"),
    (re.compile(r"\browid\b", re.IGNORECASE), "rowid: SQLite only (see sql.arrival_column)"),
    (
        re.compile(
            r"\b(julianday|strftime|datetime|json_each|json_extract|group_concat|ifnull|instr|iif|char)\s*\(",
            re.IGNORECASE,
        ),
        "a SQLite-only function",
    ),
]


def _storage_modules() -> list[Path]:
    return [p for p in _python_files(STORAGE) if p.name not in ENGINE_SPECIFIC]


def _looks_like_sql(text: str) -> bool:
    return bool(re.search(r"\b(SELECT|INSERT|UPDATE|DELETE|FROM|WHERE|VALUES|SET)\b", text))


def _portability_problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    problems = []
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Constant) and isinstance(node.value, str)) or id(node) in docstrings:
            continue
        if node.value.strip(" ,") == "?":
            problems.append(f"line {node.lineno}: ? placeholders built in code: use sql.in_list")
            continue
        if not _looks_like_sql(node.value):
            continue
        for pattern, why in PORTABILITY:
            if pattern.search(node.value):
                problems.append(f"line {node.lineno}: {why}: {node.value.strip()[:60]!r}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in {"lastrowid", "total_changes"}:
            problems.append(f"line {node.lineno}: .{node.attr}: use RETURNING id / the row count")
    return problems


# Storage modules still on `?` parameters and SQLite-only SQL; each leaves this list when it
# is converted (strict: a converted module still listed fails, so the list only shrinks).
NOT_YET_CONVERTED: set[str] = set()


def _storage_params() -> list[object]:
    return [
        pytest.param(p, marks=pytest.mark.xfail(strict=True, reason="not converted yet"))
        if p.name in NOT_YET_CONVERTED
        else p
        for p in _storage_modules()
    ]


@pytest.mark.parametrize("path", _storage_params(), ids=lambda p: p.name)
def test_storage_sql_is_portable(path: Path) -> None:
    problems = _portability_problems(path)
    assert not problems, f"{path.name}: " + "; ".join(problems)


def test_the_checks_see_sql(tmp_path: Path) -> None:
    """The checkers flag what they are meant to flag (a guard against a checker that passes everything)."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        'def f(db):\n    db.execute("SELECT a FROM t WHERE a = ?", [1])\n'
        '    return "INSERT OR IGNORE INTO t (a) VALUES (?)", ",".join("?" * 3)\n'
    )
    assert len(_sql_uses(sample)) == 3  # the call, and both statements' text
    # Two ? statements, the INSERT OR, and the "?" marks.
    assert len(_portability_problems(sample)) == 4
