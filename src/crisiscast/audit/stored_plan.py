"""The plan of a dispatch being resumed, from its verified replay, without a record per delivery.

A resume needs every delivery of the dispatch (to send what is still open, in plan order) and
each one's stored state (terminal ones are only counted, in-doubt ones reconciled first, a
thread part continues from the part before it). Building a ``DeliveryRecord`` for each
delivery at once (its ``Delivery``, a parsed payload and a datetime each) cost about 1.4 KB per
delivery: 144 MB at 100,000. Here:

- the deliveries share one parsed payload per distinct payload text (a channel renders one
  payload per language, and never changes it);
- ``StoredStates`` is the ``delivery key → DeliveryRecord`` mapping a resume reads, and it
  builds a record from the replay's row only when one is asked for (each is read once or twice,
  then dropped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from crisiscast.audit.base import DeliveryRecord
from crisiscast.delivery import Delivery

if TYPE_CHECKING:
    from crisiscast.audit.views import Replay, ViewRow

__all__ = ["StoredPlan", "StoredStates", "stored_plan"]


class StoredStates(Mapping[str, DeliveryRecord]):
    """Each delivery's stored state as a ``DeliveryRecord``, built from its row when asked for."""

    def __init__(self, index: dict[str, tuple[Delivery, ViewRow]]) -> None:
        self._index = index  # key → (the delivery, its replayed row)

    def __getitem__(self, key: str) -> DeliveryRecord:
        delivery, row = self._index[key]
        return row.record_of(delivery)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


@dataclass(frozen=True, slots=True)
class StoredPlan:
    """A dispatch's deliveries per channel, in plan order, and their stored states."""

    deliveries: dict[str, list[Delivery]]
    states: StoredStates


def stored_plan(replay: Replay, dispatch_id: str) -> StoredPlan:
    """The deliveries of ``dispatch_id`` in ``replay`` (the same as its ``delivery_records``)."""
    payloads: dict[str, Mapping[str, Any]] = {}
    deliveries: dict[str, list[Delivery]] = {}
    index: dict[str, tuple[Delivery, ViewRow]] = {}
    for row_key, row in replay.plan_rows(dispatch_id):
        payload = payloads.get(row.payload)
        if payload is None:
            payload = payloads[row.payload] = json.loads(row.payload)
        delivery = row.delivery(payload)
        deliveries.setdefault(row.channel, []).append(delivery)
        key = delivery.key
        index[row_key if key == row_key else key] = (delivery, row)  # one copy of an equal key
    return StoredPlan(deliveries, StoredStates(index))
