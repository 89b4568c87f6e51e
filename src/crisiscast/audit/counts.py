"""Deliveries per channel, in the buckets every status answer shows, and the tally they come from.

``planned`` counts every delivery; each one is also in exactly one of ``delivered``,
``failed``, ``cancelled``, ``skipped`` or ``in_progress`` (pending or in doubt). The status
document (``crisiscast.server.status_view``) counts the records it rebuilt from the events; the
progress answer (``crisiscast.server.progress``) and the console's board count the stores'
delivery view in the database (``AuditStore.delivery_tally``: one small answer whatever the
dispatch's size). Both go through ``add`` so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["COUNT_KEYS", "NO_REASON", "ChannelCounts", "DeliveryTally", "add", "empty_counts"]

COUNT_KEYS = ("planned", "delivered", "failed", "in_progress", "cancelled", "skipped")
NO_REASON = "no reason recorded"
_BUCKETS = {"delivered": "delivered", "failed": "failed", "cancelled": "cancelled", "skipped": "skipped"}

ChannelCounts = dict[str, dict[str, int]]
"""Channel name → bucket (``COUNT_KEYS``) → number of deliveries."""


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(COUNT_KEYS, 0)


def add(counts: ChannelCounts, channel: str, state: str, n: int = 1) -> None:
    """Count ``n`` deliveries of ``channel`` in ``state`` (a ``DeliveryState`` value)."""
    row = counts.get(channel)
    if row is None:
        row = counts[channel] = empty_counts()
    row["planned"] += n
    row[_BUCKETS.get(state, "in_progress")] += n


@dataclass(frozen=True, slots=True)
class DeliveryTally:
    """One dispatch's deliveries counted in the database.

    ``states``: ``(channel, state, attempted, number)`` — ``attempted`` is whether the delivery
    was sent at least once (a pending one that was is being retried). ``reasons`` (when asked
    for): ``(channel, reason, number)`` of the failed and the retrying deliveries, the reason
    being the last recorded reason, else the last code, else ``NO_REASON``.
    """

    states: tuple[tuple[str, str, bool, int], ...] = ()
    reasons: tuple[tuple[str, str, int], ...] = ()

    @classmethod
    def of(
        cls, states: Iterable[Iterable[object]], reasons: Iterable[Iterable[object]] = ()
    ) -> DeliveryTally:
        """From database rows (``attempted`` as SQLite's 0/1 or PostgreSQL's boolean)."""
        return cls(
            tuple((str(c), str(s), bool(a), int(str(n))) for c, s, a, n in states),
            tuple((str(c), str(r), int(str(n))) for c, r, n in reasons),
        )

    def counts(self) -> ChannelCounts:
        counts: ChannelCounts = {}
        for channel, state, _attempted, n in self.states:
            add(counts, channel, state, n)
        return counts
