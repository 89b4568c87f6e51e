"""Deliveries per channel, in the buckets every status answer shows.

``planned`` counts every delivery; each one is also in exactly one of ``delivered``,
``failed``, ``cancelled``, ``skipped`` or ``in_progress`` (pending or in doubt). The status
document (``crisiscast.server.status_view``) counts the records it rebuilt from the events; the
progress answer (``crisiscast.server.progress``) counts the stores' delivery view in SQL
(``AuditStore.delivery_counts``). Both go through ``add`` so they cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["COUNT_KEYS", "ChannelCounts", "add", "counts_from_rows", "empty_counts"]

COUNT_KEYS = ("planned", "delivered", "failed", "in_progress", "cancelled", "skipped")
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


def counts_from_rows(rows: Iterable[tuple[str, str, int]]) -> ChannelCounts:
    """Counts from ``(channel, state, number)`` rows, as a ``GROUP BY channel, state`` gives them."""
    counts: ChannelCounts = {}
    for channel, state, n in rows:
        add(counts, str(channel), str(state), int(n))
    return counts
