"""Fencing a stale worker: an attempt is recorded only while its worker still holds the lease.

A lease alone does not stop a worker that stalled past it (a long GC pause, a stopped VM, a
slow disk): when it wakes, it may record ``attempt_started`` and send although another worker
has taken the delivery meanwhile. So every claim of a delivery by a new holder increments the
delivery's ``lease_epoch`` (the fencing token), and a store remembers the epoch its claims
returned (``Fences``). It stamps each ``attempt_started`` of a claimed delivery with
``{"lease": {"owner": …, "epoch": …}}`` (so the audit also shows which worker and epoch made
the attempt), and the store's commit checks, **in the same transaction that records the
event**, that the delivery is still leased to that owner, with that epoch, and unexpired
(PostgreSQL locks the row, so no claim can slip in before the commit). When it is not, the
whole append is refused with ``LeaseLost`` before the provider request leaves; the other
events of a group commit are unaffected (the writer retries each caller alone).

Deliveries never claimed (``crisiscast send``, ``resume``, ``serve`` without ``--worker-id``)
carry no stamp and are not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.prepare import PreparedEvent
from crisiscast.errors import StoreError

__all__ = ["Fences", "LeaseLost", "fenced"]


class LeaseLost(StoreError):
    """The worker no longer holds the lease of a delivery it was about to attempt."""


class Fences:
    """The (owner, epoch) of every delivery this store's claims hold, by delivery key."""

    def __init__(self) -> None:
        self._held: dict[str, tuple[str, int]] = {}

    def claimed(self, owner: str, keys_and_epochs: Iterable[tuple[str, int]]) -> None:
        for key, epoch in keys_and_epochs:
            self._held[key] = (owner, int(epoch))

    def released(self, owner: str, keys: Iterable[str]) -> None:
        for key in keys:
            if self._held.get(key, ("", 0))[0] == owner:
                del self._held[key]

    def stamp(self, events: Sequence[AuditEvent]) -> Sequence[AuditEvent]:
        """``events`` with each fenced ``attempt_started`` carrying its lease."""
        if not self._held:
            return events
        out: list[AuditEvent] = []
        for event in events:
            held = self._held.get(event.delivery_key or "")
            if event.kind is EventKind.ATTEMPT_STARTED and held is not None:
                lease = {"owner": held[0], "epoch": held[1]}
                out.append(replace(event, data={**event.data, "lease": lease}))
            else:
                out.append(event)
        return out


def fenced(prepared: Sequence[PreparedEvent]) -> list[tuple[str, str, int]]:
    """(key, owner, epoch) of every stamped ``attempt_started`` in a batch."""
    out: list[tuple[str, str, int]] = []
    for p in prepared:
        event = p.event
        lease = event.data.get("lease") if event.kind is EventKind.ATTEMPT_STARTED else None
        if isinstance(lease, dict) and event.delivery_key:
            out.append((event.delivery_key, str(lease["owner"]), int(lease["epoch"])))
    return out


def lost(key: str, owner: str) -> LeaseLost:
    return LeaseLost(
        f"Worker {owner} no longer holds the lease of delivery {key}; another worker took it, "
        "so this attempt was not started."
    )
