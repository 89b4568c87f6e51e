"""Exporting the audit log (JSONL or CSV) so that an export can be verified on its own.

Design — two chains over the same canonical text of each event (see ``crisiscast.audit.verify``):

- the **global chain** (``prev_hash`` → ``hash``) orders every event of the store;
- the **dispatch chain** (``dispatch_prev_hash`` → ``dispatch_hash``) links only the events
  of one dispatch, starting at the genesis hash. It is written with the event, in the same
  transaction, by the store.

An export of one dispatch holds just that dispatch's events, so its global links have gaps,
but its dispatch chain is complete: ``verify_export`` recomputes, for every line, the global
hash from the line's own ``prev_hash`` (the content is what the store hashed) and the
dispatch chain from the previous line (nothing was removed, added or reordered in between).

Signed exports: the header carries a signed checkpoint (``crisiscast.audit.checkpoint``)
covering the exported events — for a whole-log export the global head at event N, for one
dispatch that dispatch's chain head — and the signing key's fingerprint. ``verify_export``
with the public key checks the signature and that the event the checkpoint names carries the
signed hash, so an export edited and rehashed by someone without the key is BROKEN. Events
after the checkpoint (appended while exporting) are reported as not covered.

JSONL layout: a header line ``{"crisiscast_audit_export": 1, "dispatch_id": …, "exported_at": …,
"checkpoint": {…} | null, "key": "SHA256:…" | null}``,
one line per event (the event's canonical fields, ``data`` as a JSON object, plus the four
hashes), and an end line ``{"end": true, "events": N, "heads": {dispatch_id: [seq, hash]},
"last_seq": …, "last_hash": …}`` so a cut-off file is detected. What an export cannot prove
alone is that it is complete with respect to the store: compare its end line's heads with
the store (``crisiscast audit verify`` on the live store checks the store itself).

CSV has the same columns, ``data`` as its canonical JSON text, a header row and no end line:
it verifies row by row and link by link, but a cut-off tail is only detected in JSONL. A cell
that a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a carriage
return) is written with a leading ``'`` (as is a cell starting with ``'``); ``verify_export``
removes it again.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crisiscast.audit.base import AuditStore, VerifyResult
from crisiscast.audit.checkpoint import Checkpoint
from crisiscast.audit.events import GENESIS_HASH, canonical_json
from crisiscast.audit.prepare import EventRow
from crisiscast.audit.verify import ChainVerifier

__all__ = ["CSV_COLUMNS", "export_csv", "export_jsonl", "verify_export"]

CSV_COLUMNS = (
    "seq",
    "at",
    "kind",
    "dispatch_id",
    "delivery_key",
    "data",
    "prev_hash",
    "hash",
    "dispatch_prev_hash",
    "dispatch_hash",
)
_FORMAT_VERSION = 1


async def export_jsonl(
    store: AuditStore, dispatch_id: str | None, out: TextIO, *, checkpoint: Checkpoint | None = None
) -> int:
    """Write the events of ``dispatch_id`` (all when None) to ``out`` as JSONL; returns the count.

    ``checkpoint``: the signed checkpoint covering them (see the module docstring), if any.
    """
    out.write(
        json.dumps(
            {
                "crisiscast_audit_export": _FORMAT_VERSION,
                "dispatch_id": dispatch_id,
                "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "checkpoint": None if checkpoint is None else checkpoint.to_json(),
                "key": None if checkpoint is None else checkpoint.key,
            },
            ensure_ascii=False,
        )
        + "\n"
    )
    count, last_seq, last_hash = 0, 0, GENESIS_HASH
    heads: dict[str, list[Any]] = {}
    async for rows in store.event_rows(dispatch_id):
        lines = []
        for seq, at, kind, did, key, data, prev, digest, dprev, ddigest in rows:
            lines.append(
                f'{{"seq":{seq},"at":{json.dumps(at)},"kind":{json.dumps(kind)},"dispatch_id":{json.dumps(did)},'
                f'"delivery_key":{json.dumps(key)},"data":{data},"prev_hash":"{prev}","hash":"{digest}",'
                f'"dispatch_prev_hash":"{dprev}","dispatch_hash":"{ddigest}"}}\n'
            )
            heads[did] = [seq, ddigest]
            last_seq, last_hash = seq, digest
        out.write("".join(lines))
        count += len(rows)
    end = {"end": True, "events": count, "heads": heads, "last_seq": last_seq, "last_hash": last_hash}
    out.write(json.dumps(end) + "\n")
    return count


async def export_csv(store: AuditStore, dispatch_id: str | None, out: TextIO) -> int:
    """Write the events of ``dispatch_id`` (all when None) to ``out`` as CSV; returns the count."""
    writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_NONNUMERIC)  # a lone CR stays in its cell
    writer.writerow(CSV_COLUMNS)
    count = 0
    async for rows in store.event_rows(dispatch_id):
        writer.writerows([[_neutral(cell) for cell in row] for row in rows])
        count += len(rows)
    return count


# A cell starting with one of these is a formula (or becomes one) in a spreadsheet; "'" is the
# escape itself, so that undoing it is unambiguous.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def _neutral(cell: Any) -> Any:
    """``cell`` with a leading "'" when a spreadsheet would read it as a formula."""
    return "'" + cell if isinstance(cell, str) and cell.startswith(_FORMULA_STARTS) else cell


def _restored(cell: str) -> str:
    """The stored text of an exported cell (``_neutral`` undone)."""
    return cell[1:] if cell.startswith("'") else cell


def verify_export(path: str | Path, *, public_key: Ed25519PublicKey | None = None) -> VerifyResult:
    """Verify an exported file on its own (JSONL, or CSV by its ``.csv`` suffix); never raises
    for a bad file: the result says what is wrong.

    With ``public_key`` a JSONL export must carry a checkpoint signed by that key, and the
    event it names must carry the signed hash; a CSV export (which carries none) is refused.
    """
    path = Path(path)
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".csv":
                if public_key is not None:
                    return _fail(0, "a CSV export carries no signed checkpoint; export JSONL to check it.")
                return _verify_csv(handle)
            return _verify_jsonl(handle, public_key)
    except OSError as exc:
        return VerifyResult(ok=False, events_checked=0, problem=f"cannot read {path}: {exc.strerror}.")
    except UnicodeDecodeError:
        return VerifyResult(ok=False, events_checked=0, problem=f"{path} is not UTF-8 text.")


def _fail(checked: int, problem: str, seq: int | None = None) -> VerifyResult:
    return VerifyResult(ok=False, events_checked=checked, first_bad_seq=seq, problem=problem)


class _Signed:
    """The export's checkpoint: which event it names and the hash that event must carry."""

    def __init__(self, checkpoint: Checkpoint, only: str | None) -> None:
        self.checkpoint = checkpoint
        if only is None:
            self.seq, self.hash, self.column = checkpoint.seq, checkpoint.head, 7
        else:
            named = checkpoint.dispatch
            if named is None or named[0] != only:
                raise ValueError("the checkpoint names another dispatch")
            self.seq, self.hash, self.column = named[1], named[2], 9
        self.seen = False
        self.after = 0

    def check(self, row: EventRow) -> str | None:
        if row[0] == self.seq:
            self.seen = True
            if row[self.column] != self.hash:
                return (
                    f"event {self.seq} is not the event the checkpoint of {self.checkpoint.at} signed: "
                    "the export was edited and its hashes recomputed."
                )
        elif row[0] > self.seq:
            self.after += 1
        return None


def _signed_part(
    header: dict[str, Any], only: str | None, key: Ed25519PublicKey | None
) -> _Signed | str | None:
    """The checked checkpoint, a problem sentence, or None (none carried, none asked for)."""
    raw = header.get("checkpoint")
    if raw is None:
        return "the export carries no signed checkpoint." if key is not None else None
    try:
        signed = _Signed(Checkpoint.from_json(raw), only)
    except (ValueError, KeyError, TypeError):
        return "the export's checkpoint is malformed or names another dispatch."
    if key is not None and not signed.checkpoint.signed_by(key):
        return "the export's checkpoint is not signed by this public key (it was edited or forged)."
    return signed


def _verify_jsonl(lines: Iterable[str], key: Ed25519PublicKey | None = None) -> VerifyResult:
    numbered = enumerate(lines, start=1)
    try:
        header = json.loads(next(numbered)[1])
    except (StopIteration, ValueError):
        return _fail(0, "the export has no header line (it is empty or not a crisiscast export).")
    if not isinstance(header, dict) or header.get("crisiscast_audit_export") != _FORMAT_VERSION:
        return _fail(0, "the first line is not a crisiscast audit export header.")
    only = header.get("dispatch_id")
    signed = _signed_part(header, only, key)
    if isinstance(signed, str):
        return _fail(0, signed)
    verifier = ChainVerifier(contiguous=only is None)
    end: dict[str, Any] | None = None
    chunk: list[EventRow] = []
    for number, line in numbered:
        if end is not None:
            return _fail(verifier.checked, f"line {number} comes after the end line (lines were appended).")
        try:
            item = json.loads(line)
            if item.get("end") is True:
                end = item
                continue
            row: EventRow = (
                int(item["seq"]),
                item["at"],
                item["kind"],
                item["dispatch_id"],
                item["delivery_key"],
                canonical_json(item["data"]),
                item["prev_hash"],
                item["hash"],
                item["dispatch_prev_hash"],
                item["dispatch_hash"],
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            verifier.feed(chunk)
            return _fail(verifier.checked, f"line {number} is not a valid export line.")
        if only is not None and row[3] != only:
            verifier.feed(chunk)
            return _fail(verifier.checked, f"event {row[0]} belongs to another dispatch ({row[3]}).", row[0])
        if signed is not None and (problem := signed.check(row)) is not None:
            verifier.feed(chunk)
            return _fail(verifier.checked, problem, row[0])
        chunk.append(row)
        if len(chunk) >= 10_000:
            if not verifier.feed(chunk):
                return verifier.finish(None)
            chunk = []
    if not verifier.feed(chunk):
        return verifier.finish(None)
    if end is None:
        return _fail(verifier.checked, "the export is cut short: its end line is missing.")
    if end.get("events") != verifier.checked:
        return _fail(
            verifier.checked,
            f"the end line counts {end.get('events')} events but the file holds "
            f"{verifier.checked} (events were removed or added).",
        )
    try:
        heads = {str(d): (int(v[0]), str(v[1])) for d, v in dict(end.get("heads") or {}).items()}
        head = (int(end["last_seq"]), str(end["last_hash"])) if only is None else None
    except (ValueError, KeyError, TypeError, IndexError):
        return _fail(verifier.checked, "the end line is malformed.")
    if set(heads) != set(verifier.dispatch_heads):
        return _fail(verifier.checked, "the end line names other dispatches than the file holds.")
    result = verifier.finish(head, heads)
    if not result.ok or signed is None:
        return result
    cp = signed.checkpoint
    if not signed.seen:
        return _fail(
            verifier.checked,
            f"the export lacks event {signed.seq}, which its checkpoint of {cp.at} signed "
            "(events were removed).",
            signed.seq,
        )
    checked = "" if key is not None else " (signature not checked: pass --public-key)"
    after = f"; {signed.after} later events are not covered by it" if signed.after else ""
    note = f"; matches the checkpoint of {cp.at} signed by {cp.key}{checked}{after}"
    return VerifyResult(ok=True, events_checked=result.events_checked, note=note)


def _csv_rows(reader: Iterator[list[str]]) -> Iterator[EventRow]:
    for cells in reader:
        seq, at, kind, did, key, data, prev, digest, dprev, ddigest = (_restored(c) for c in cells)
        yield (int(seq), at, kind, did, key or None, data, prev, digest, dprev, ddigest)


def _verify_csv(handle: TextIO) -> VerifyResult:
    reader = csv.reader(handle)
    if next(reader, None) != list(CSV_COLUMNS):
        return _fail(0, "the first row is not the crisiscast audit export header.")
    verifier = ChainVerifier(contiguous=False)
    try:
        verifier.feed(_csv_rows(reader))
    except ValueError:
        return _fail(verifier.checked, f"row {verifier.checked + 2} is not a valid export row.")
    return verifier.finish(None)
