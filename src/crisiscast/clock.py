"""Whose clock counts: crisiscast's. A sender's ``sent`` is a claim, checked against receipt.

A sender whose clock is wrong (a local time labelled ``Z`` is a common bug) must not be able
to defeat a safety rule: banner and signage documents are ordered by crisiscast's own time of
issue (``crisiscast.adapt.state``), and a ``sent`` outside ``skew_s`` of crisiscast's clock is
not believed:

- from a webhook, the alert is re-based on its receipt: ``sent`` becomes the time it arrived
  and ``expires`` moves by the same amount (the sender's clock was wrong for both), and the
  audit records what was done (``rebase_sender_clock`` returns the sentence);
- from a message file, the operator is asked to fix the file (``MessageFileError``): a person
  at a terminal can, and nothing is sent on a guess.

An alert that has expired by the time it arrives is refused, never accepted and then failed.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from crisiscast.message import CrisisMessage

__all__ = ["DEFAULT_SENDER_CLOCK_SKEW_S", "describe_offset", "rebase_sender_clock", "sender_offset_s"]

DEFAULT_SENDER_CLOCK_SKEW_S = 300.0


def sender_offset_s(message: CrisisMessage, now: datetime) -> float:
    """How far the sender's ``sent`` is ahead of ``now`` (negative: behind), in seconds."""
    return (message.sent - now).total_seconds()


def describe_offset(offset_s: float) -> str:
    """``"2 h 5 min ahead of"`` / ``"38 min behind"`` crisiscast's clock."""
    whole_min = round(abs(offset_s) / 60)
    hours, minutes = divmod(whole_min, 60)
    span = f"{hours} h {minutes} min" if hours else f"{minutes} min"
    return f"{span} {'ahead of' if offset_s > 0 else 'behind'}"


def rebase_sender_clock(
    message: CrisisMessage, *, now: datetime | None = None, skew_s: float = DEFAULT_SENDER_CLOCK_SKEW_S
) -> tuple[CrisisMessage, str | None]:
    """``message`` re-based on its receipt when its ``sent`` is out of ``skew_s``, and why.

    Within the skew the message is returned unchanged with None. Otherwise ``sent`` becomes
    ``now`` and ``expires`` moves by the same offset; the sentence says by how much.
    """
    now = now or datetime.now(UTC)
    offset_s = sender_offset_s(message, now)
    if abs(offset_s) <= skew_s:
        return message, None
    shift = timedelta(seconds=-offset_s)
    expires = message.expires + shift if message.expires is not None else None
    note = (
        f"the sender's sent time {message.sent.isoformat()} was {describe_offset(offset_s)} crisiscast's "
        f"clock; sent and expires were re-based on receipt ({now.isoformat()})"
    )
    return message.model_copy(update={"sent": now, "expires": expires}), note
