"""Writing audit events out: JSONL (one event per line, as hashed) or CSV (for spreadsheets).

JSONL lines are ``StoredEvent.to_json()``: ``seq``, ``at``, ``kind``, ``dispatch_id``,
``delivery_key``, ``data``, ``prev_hash``, ``hash`` — exactly what the chain hashes, so an
export can be checked on its own. CSV has the same columns with ``data`` as compact JSON.
Events are streamed from the store, never all held in memory.
"""

from __future__ import annotations

import csv
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from crisiscast.audit.base import AuditStore

__all__ = ["CSV_COLUMNS", "write_events"]

CSV_COLUMNS = ("seq", "at", "kind", "dispatch_id", "delivery_key", "data", "prev_hash", "hash")


async def write_events(store: AuditStore, *, dispatch_id: str | None, fmt: str, out: Path | None) -> int:
    """Write the events (all, or one dispatch's) in ``fmt``; returns how many were written.

    Raises ``OSError`` when ``out`` cannot be written (the CLI turns it into a sentence).
    """
    with ExitStack() as stack:
        stream: TextIO = (
            stack.enter_context(out.open("w", encoding="utf-8", newline=""))
            if out is not None
            else sys.stdout
        )
        count = 0
        if fmt == "csv":
            writer = csv.writer(stream)
            writer.writerow(CSV_COLUMNS)
            async for event in store.events(dispatch_id):
                row = event.to_json()
                row["data"] = json.dumps(row["data"], sort_keys=True, separators=(",", ":"), default=str)
                writer.writerow([row.get(c) if row.get(c) is not None else "" for c in CSV_COLUMNS])
                count += 1
        else:
            async for event in store.events(dispatch_id):
                stream.write(
                    json.dumps(event.to_json(), ensure_ascii=False, sort_keys=True, default=str) + "\n"
                )
                count += 1
        stream.flush()
    return count
