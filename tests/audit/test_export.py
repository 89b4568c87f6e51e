"""Exports: a dispatch exported as JSONL verifies on its own; tampering with the file is caught."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from crisiscast.audit.base import AuditStore
from crisiscast.audit.events import EventKind
from crisiscast.audit.export import CSV_COLUMNS, export_csv, export_jsonl, verify_export

from .helpers import ev, plan


async def _two_dispatches(store: AuditStore) -> None:
    one, da = plan("x-1", 3)
    two, db = plan("x-2", 2)
    await store.append(one)
    await store.append(two)
    await store.append([ev(EventKind.ATTEMPT_STARTED, d) for d in (*da, *db)])
    await store.append([ev(EventKind.ATTEMPT_SUCCEEDED, d, provider_id=f"P-{d.target}") for d in (*db, *da)])


async def _export(store: AuditStore, tmp_path: Path, dispatch_id: str | None, name: str) -> Path:
    out = tmp_path / name
    with out.open("w", encoding="utf-8") as handle:
        await export_jsonl(store, dispatch_id, handle)
    return out


async def test_one_dispatch_export_verifies_alone(store: AuditStore, tmp_path: Path) -> None:
    """A JSONL export of one interleaved dispatch verifies without the store (A3)."""
    await _two_dispatches(store)
    path = await _export(store, tmp_path, "x-2", "x2.jsonl")
    lines = path.read_text().splitlines()
    events = [json.loads(x) for x in lines[1:-1]]
    assert {e["dispatch_id"] for e in events} == {"x-2"}
    assert len(events) == 3 + 2 + 2 + 2
    result = verify_export(path)
    assert result.ok and result.events_checked == len(events), result


async def test_full_export_verifies_and_matches_the_store(store: AuditStore, tmp_path: Path) -> None:
    """Exporting everything gives a file that verifies, with the store's event count."""
    await _two_dispatches(store)
    path = await _export(store, tmp_path, None, "all.jsonl")
    assert verify_export(path).events_checked == (await store.verify()).events_checked


@pytest.mark.parametrize("mutation", ["edit", "delete", "swap", "truncate", "cut-end-line", "foreign-line"])
async def test_tampered_export_fails(store: AuditStore, tmp_path: Path, mutation: str) -> None:
    """Editing, removing, reordering, truncating or adding lines of an export is detected."""
    await _two_dispatches(store)
    path = await _export(store, tmp_path, "x-1", "x1.jsonl")
    other = (await _export(store, tmp_path, "x-2", "x2.jsonl")).read_text().splitlines()
    lines = path.read_text().splitlines()
    if mutation == "edit":
        assert "alice" in lines[2]
        lines[2] = lines[2].replace("alice", "mallory")
    elif mutation == "delete":
        del lines[3]
    elif mutation == "swap":
        lines[3], lines[4] = lines[4], lines[3]
    elif mutation == "truncate":
        del lines[-3:-1]
    elif mutation == "cut-end-line":
        del lines[-1]
    else:
        lines.insert(3, other[2])
    path.write_text("\n".join(lines) + "\n")
    result = verify_export(path)
    assert not result.ok, mutation
    assert result.problem


async def test_csv_export_has_header_and_every_event(store: AuditStore, tmp_path: Path) -> None:
    """CSV exports carry the columns, one row per event, and verify row by row."""
    await _two_dispatches(store)
    buffer = io.StringIO()
    count = await export_csv(store, "x-1", buffer)
    rows = list(csv.reader(io.StringIO(buffer.getvalue())))
    assert rows[0] == list(CSV_COLUMNS)
    assert len(rows) == count + 1 == 3 + 3 + 3 + 3 + 1
    path = tmp_path / "x1.csv"
    path.write_text(buffer.getvalue())
    assert verify_export(path).ok
    rows[2][5] = rows[2][5].replace("alice", "eve")
    with path.open("w", newline="") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)
    assert not verify_export(path).ok


def test_verify_export_reports_unreadable_files(tmp_path: Path) -> None:
    """A missing, empty or foreign file is a failed verification with a sentence, not an exception."""
    assert "cannot read" in verify_export(tmp_path / "nope.jsonl").problem
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert not verify_export(empty).ok
    foreign = tmp_path / "foreign.jsonl"
    foreign.write_text('{"hello": 1}\n')
    assert "header" in verify_export(foreign).problem
