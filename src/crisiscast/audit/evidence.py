"""``audit verify`` in full: the chain, the signed checkpoints, and the views.

Three questions, each answered from what an attacker with database access cannot forge:

1. Does the chain hold on its own? (``store.verify()``: every hash, link and recorded head.)
2. Does it match every signed checkpoint? Each checkpoint must be signed by the audit key
   and name this store; the event it names must exist and carry the hash it signed (and the
   dispatch event it names, that dispatch hash). A store that holds fewer events than a
   checkpoint names was truncated, rolled back or wiped; an event whose hash differs from a
   checkpoint was rewritten, even if every hash after it was recomputed.
3. Do the caches (``dispatches``, ``deliveries``) say what the events say? (``views``: after
   the chain holds, each dispatch's own events are replayed and compared with its cache rows,
   one dispatch at a time, so the memory is that of the largest dispatch; a caller that reads a
   whole-store ``replay`` afterwards, the after-action report, has it filled in the same walk.)

Without checkpoints the answer to 2 is "unknown", reported as a warning: an unsigned chain
proves nothing against whoever can rewrite the database (docs/guarantees.md).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from crisiscast.audit.base import AuditStore, RowsCallback, StoreHead
from crisiscast.audit.checkpoint import Checkpoint
from crisiscast.audit.prepare import EventRow
from crisiscast.audit.signing import fingerprint
from crisiscast.audit.views import Replay, view_differences, view_differences_each
from crisiscast.errors import StoreError

__all__ = ["EvidenceReport", "check_checkpoint_rows", "verify_evidence"]


@dataclass(slots=True)
class EvidenceReport:
    """What ``verify_evidence`` found: ``problems`` make it BROKEN, ``warnings`` do not."""

    events: int = 0
    store_id: str = ""
    checkpoints: int = 0
    newest: Checkpoint | None = None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _CheckpointMatcher:
    """Checks, chunk by chunk, that the rows named by checkpoints carry the signed hashes."""

    def __init__(self, checkpoints: Sequence[Checkpoint]) -> None:
        self.by_seq: dict[int, list[Checkpoint]] = defaultdict(list)
        self.by_dispatch_seq: dict[int, list[Checkpoint]] = defaultdict(list)
        for cp in checkpoints:
            self.by_seq[cp.seq].append(cp)
            if cp.dispatch is not None:
                self.by_dispatch_seq[cp.dispatch[1]].append(cp)
        self.mismatches: list[tuple[int, str]] = []

    def feed(self, rows: Sequence[tuple[object, ...]]) -> None:
        for row in rows:
            seq = int(str(row[0]))
            for cp in self.by_seq.get(seq, ()):
                if row[7] != cp.head:
                    self.mismatches.append((seq, cp.at))
            for cp in self.by_dispatch_seq.get(seq, ()):
                assert cp.dispatch is not None
                if row[3] != cp.dispatch[0] or row[9] != cp.dispatch[2]:
                    self.mismatches.append((seq, cp.at))


def check_checkpoint_rows(checkpoints: Sequence[Checkpoint]) -> _CheckpointMatcher:
    """A matcher to ``feed`` rows to; its ``mismatches`` list ``(seq, checkpoint time)``."""
    return _CheckpointMatcher(checkpoints)


def _signed(
    report: EvidenceReport, checkpoints: Sequence[Checkpoint], key: Ed25519PublicKey
) -> list[Checkpoint]:
    mine = fingerprint(key)
    good = []
    for number, cp in enumerate(checkpoints, start=1):
        if cp.key != mine:
            report.problems.append(
                f"checkpoint {number} (of {cp.at}) is signed by another key ({cp.key[:23]}…), "
                f"not the audit key {mine[:23]}…."
            )
        elif not cp.signed_by(key):
            report.problems.append(
                f"checkpoint {number} (of {cp.at}) does not match its signature (it was edited)."
            )
        else:
            good.append(cp)
    return good


async def verify_evidence(
    store: AuditStore,
    checkpoints: Sequence[Checkpoint],
    key: Ed25519PublicKey | None,
    *,
    views: bool = True,
    replay: Replay | None = None,
    extra: RowsCallback | None = None,
) -> EvidenceReport:
    """Verify ``store`` against ``checkpoints`` signed by ``key``; see the module docstring.

    ``key`` may be None only when there are no checkpoints (the caller asks for one).
    ``replay``: rebuild the views into this one (the caller reads it afterwards); ``extra`` is
    given every verified chunk of rows too (the same single walk).
    """
    report = EvidenceReport()
    try:
        head: StoreHead | None = await store.head()
    except StoreError:
        head = None
        report.problems.append("the store has no id or chain head (its tables were dropped or emptied).")
    report.store_id = head.store_id if head is not None else ""
    signed: list[Checkpoint] = []
    if checkpoints:
        if key is None:
            raise ValueError("checkpoints need a public key to be checked")
        signed = _signed(report, checkpoints, key)
    others = [cp for cp in signed if head is not None and cp.store_id != head.store_id]
    if others:
        newest_other = max(others, key=lambda cp: cp.seq)
        report.problems.append(
            f"a checkpoint of {newest_other.at} names store {newest_other.store_id} with "
            f"{newest_other.seq} events, but this store is {report.store_id}: the store was wiped or "
            "replaced (or the checkpoint file belongs to another store)."
        )
    signed = [cp for cp in signed if cp not in others]
    report.checkpoints = len(signed)
    report.newest = max(signed, key=lambda cp: cp.seq) if signed else None

    matcher = check_checkpoint_rows(signed)
    if not views:
        replay = None
    dispatch_ids: set[str] = set()  # without a caller's replay: the views are checked one by one
    walked = 0

    def on_rows(rows: Sequence[EventRow]) -> None:  # one walk: chain, checkpoints and views together
        nonlocal walked
        matcher.feed(rows)
        if replay is not None:
            replay.feed(rows)
        elif views:
            dispatch_ids.update(row[3] for row in rows)
        if extra is not None:
            extra(rows)
        walked = rows[-1][0]

    chain = await store.verify(on_rows if (signed or views or extra) else None)
    if not chain.ok:
        where = f"event {chain.first_bad_seq}" if chain.first_bad_seq is not None else "the chain"
        report.problems.insert(0, f"at {where}: {chain.problem}")
    last_seq = chain.events_checked if chain.ok else walked
    report.events = last_seq
    if matcher.mismatches:
        seq, at = matcher.mismatches[0]
        report.problems.append(
            f"event {seq} is not the event the checkpoint of {at} signed: the log up to it was "
            "rewritten and its hashes recomputed."
        )
    beyond = [cp for cp in signed if cp.seq > last_seq]
    if beyond:
        cp = max(beyond, key=lambda c: c.seq)
        first = last_seq + 1
        span = f"event {first}" if first == cp.seq else f"events {first} to {cp.seq}"
        report.problems.append(
            f"the checkpoint of {cp.at} signed {cp.seq} events but the store holds {last_seq}: "
            f"{span} are missing (the log was truncated, rolled back or wiped)."
        )
    if views and chain.ok:
        if replay is not None:
            report.problems.extend(await view_differences(store, replay))
        else:  # one dispatch's events at a time: the memory of the largest dispatch, not the store's
            report.problems.extend(await view_differences_each(store, sorted(dispatch_ids)))
    probe = getattr(store, "privilege_warning", None)  # PostgreSQL: could this role disable triggers?
    if probe is not None:
        warning = await probe()
        if warning:
            report.warnings.append(warning)
    if not signed and not report.problems:
        report.warnings.append(
            "no signed checkpoint vouches for this store: the chain shows careless edits, but not a "
            "rewrite by someone with database access (configure a signing key; see docs/guarantees.md)."
        )
    elif report.newest is not None and report.newest.seq < last_seq:
        report.warnings.append(
            f"events {report.newest.seq + 1} to {last_seq} are newer than the newest checkpoint "
            f"({report.newest.at}) and not yet vouched for by a signature."
        )
    return report
