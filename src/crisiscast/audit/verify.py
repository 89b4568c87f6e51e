"""Walking the hash chains: the one verifier behind ``store.verify()`` and ``verify_export``.

Every event row carries two links, both over the same canonical text:

- the global chain: ``hash = SHA-256(prev_hash ‖ canonical)``, ``prev_hash`` = the hash of the
  event before it, seq 1, 2, 3 … without gaps, the first linked to the genesis hash;
- the dispatch chain: ``dispatch_hash = SHA-256(dispatch_prev_hash ‖ canonical)``, linking the
  events of one dispatch only, so that one dispatch's export verifies on its own.

What each check catches: a gap in seq → a deleted row; a ``prev_hash`` that is not the hash
of the row before → a deleted, inserted or reordered row; a hash that does not match the
row's content → an edited row; a chain head (kept in its own row, updated in the same
transaction as the events) beyond the last row → a truncated tail. Rows are fed in chunks
straight from the database cursor; the loop does two SHA-256 and one string build per row.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping

from crisiscast.audit.base import VerifyResult
from crisiscast.audit.events import GENESIS_HASH
from crisiscast.audit.prepare import EventRow

__all__ = ["ChainVerifier"]

_encode_str = json.encoder.encode_basestring
_sha256 = hashlib.sha256


class ChainVerifier:
    """Feed rows in seq order with ``feed``; then ``finish`` with the recorded heads.

    ``contiguous=True`` checks the global chain (the whole log); ``False`` checks each row's own
    hash and the dispatch chains only, for an export that holds some dispatches' events.
    """

    def __init__(self, *, contiguous: bool = True) -> None:
        self.contiguous = contiguous
        self.checked = 0
        self.last_seq = 0
        self.last_hash = GENESIS_HASH
        self.dispatch_heads: dict[str, tuple[int, str]] = {}
        self.failure: VerifyResult | None = None

    def _fail(self, seq: int, problem: str) -> bool:
        self.failure = VerifyResult(ok=False, events_checked=self.checked, first_bad_seq=seq, problem=problem)
        return False

    def feed(self, rows: Iterable[EventRow]) -> bool:
        """Check ``rows`` (continuing from the previous chunk); False at the first broken row."""
        if self.failure is not None:
            return False
        contiguous = self.contiguous
        heads = self.dispatch_heads
        expected = self.last_seq + 1
        prev = self.last_hash
        enc = _encode_str
        sha = _sha256
        checked = self.checked
        try:
            for seq, at, kind, dispatch_id, key, data, prev_hash, digest, dprev_hash, ddigest in rows:
                if contiguous:
                    if seq != expected:
                        self.checked = checked
                        if seq > expected:
                            return self._fail(
                                expected, f"event {expected} is missing (the log jumps to event {seq})."
                            )
                        return self._fail(seq, f"event {seq} is out of order (expected event {expected}).")
                    if prev_hash != prev:
                        self.checked = checked
                        return self._fail(
                            seq,
                            f"event {seq} does not link to event {seq - 1} "
                            "(a row was deleted, inserted or reordered).",
                        )
                elif seq <= expected - 1:
                    self.checked = checked
                    return self._fail(
                        seq, f"event {seq} is out of order (it comes after event {expected - 1})."
                    )
                text = (
                    f'{{"at":{enc(at)},"data":{data},"delivery_key":{"null" if key is None else enc(key)},'
                    f'"dispatch_id":{enc(dispatch_id)},"kind":{enc(kind)},"seq":{seq}}}'
                )
                if sha((prev_hash + text).encode()).hexdigest() != digest:
                    self.checked = checked
                    return self._fail(seq, f"event {seq} does not match its hash (the row was edited).")
                head = heads.get(dispatch_id)
                dprev = GENESIS_HASH if head is None else head[1]
                if dprev_hash != dprev:
                    self.checked = checked
                    return self._fail(
                        seq,
                        f"event {seq} does not link to the previous event of dispatch {dispatch_id} "
                        "(an event of that dispatch was deleted, inserted or reordered).",
                    )
                if sha((dprev + text).encode()).hexdigest() != ddigest:
                    self.checked = checked
                    return self._fail(
                        seq, f"event {seq} does not match its dispatch hash (the row was edited)."
                    )
                heads[dispatch_id] = (seq, ddigest)
                prev = digest
                expected = seq + 1
                checked += 1
        except (TypeError, AttributeError, ValueError):
            self.checked = checked
            return self._fail(
                expected, f"event {expected} is malformed (a column is missing or of the wrong type)."
            )
        self.checked = checked
        self.last_seq = expected - 1
        self.last_hash = prev
        return True

    def finish(
        self,
        head: tuple[int, str] | None,
        dispatch_heads: Mapping[str, tuple[int, str]] | None = None,
    ) -> VerifyResult:
        """The verdict, given the recorded chain head ``(seq, hash)`` and dispatch heads.

        ``head=None`` skips the tail check (an export without a trailer).
        """
        if self.failure is not None:
            return self.failure
        if head is not None and self.contiguous:
            head_seq, head_hash = head
            if head_seq > self.last_seq:
                first = self.last_seq + 1
                span = f"event {first}" if first == head_seq else f"events {first} to {head_seq}"
                return self._finish_fail(first, f"{span} missing from the end of the log (truncated).")
            if head_seq != self.last_seq or head_hash != self.last_hash:
                return self._finish_fail(
                    self.last_seq,
                    "the chain head does not match the last event (the head or the tail was altered).",
                )
        for dispatch_id, (seq, digest) in (dispatch_heads or {}).items():
            mine = self.dispatch_heads.get(dispatch_id)
            if mine is None or mine[0] < seq:
                return self._finish_fail(
                    seq,
                    f"event {seq} of dispatch {dispatch_id} is missing (its events were cut short).",
                )
            if mine != (seq, digest):
                return self._finish_fail(
                    mine[0], f"the last event of dispatch {dispatch_id} does not match its recorded head."
                )
        return VerifyResult(ok=True, events_checked=self.checked)

    def _finish_fail(self, seq: int, problem: str) -> VerifyResult:
        self._fail(seq, problem)
        assert self.failure is not None
        return self.failure
