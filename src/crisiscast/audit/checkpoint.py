"""Signed checkpoints: the chain head, signed with the audit key and kept outside the store.

A checkpoint says "store S held events 1..N and event N's hash was H at time T" (and, when a
dispatch's plan or end triggered it, "dispatch D's chain ended at event n with hash h"). It is
signed with Ed25519 over its canonical JSON, so nobody without the key can make one, and it is
written outside the database (an append-only JSONL file by default, plus any witnesses; see
``crisiscast.audit.witness``). Whoever rewrites the database afterwards — deletes the tail and
rolls the chain head back, edits an event and recomputes every hash, wipes the file — cannot
make the old checkpoints match: ``crisiscast.audit.evidence`` walks the chain against them.

One line of the checkpoint file::

    {"checkpoint": {"at": …, "dispatch": {"id": …, "seq": …, "hash": …} | null,
                    "head": "<hex>", "seq": N, "store_id": "<hex>", "v": 1},
     "key": "SHA256:<hex>", "sig": "<base64>"}

``sig`` signs the canonical JSON of ``checkpoint`` (sorted keys, no spaces, UTF-8).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crisiscast.audit.base import StoreHead
from crisiscast.audit.events import canonical_json
from crisiscast.audit.signing import fingerprint, signature_holds
from crisiscast.jsontypes import JsonObject, to_int

__all__ = [
    "Checkpoint",
    "CheckpointFileError",
    "append_checkpoint",
    "read_checkpoints",
    "sign_head",
]

_VERSION = 1


class CheckpointFileError(ValueError):
    """A checkpoint line that cannot be read (the message names the line)."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """One signed checkpoint; ``body`` is exactly what was signed."""

    body: JsonObject
    key: str  # the signing key's fingerprint
    sig: str  # base64 Ed25519 signature of canonical_json(body)

    @property
    def store_id(self) -> str:
        return str(self.body["store_id"])

    @property
    def seq(self) -> int:
        return to_int(self.body["seq"])

    @property
    def head(self) -> str:
        return str(self.body["head"])

    @property
    def at(self) -> str:
        return str(self.body["at"])

    @property
    def dispatch(self) -> tuple[str, int, str] | None:
        """``(dispatch_id, seq, dispatch_hash)`` of the dispatch it names, if any."""
        d = self.body.get("dispatch")
        if not isinstance(d, dict):
            return None
        return str(d["id"]), int(d["seq"]), str(d["hash"])

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        """True when the signature holds for ``key`` (and names that key)."""
        if self.key != fingerprint(key):
            return False
        try:
            raw = base64.b64decode(self.sig, validate=True)
        except (binascii.Error, ValueError):
            return False
        return signature_holds(key, raw, canonical_json(self.body).encode("utf-8"))

    def to_json(self) -> JsonObject:
        return {"checkpoint": self.body, "key": self.key, "sig": self.sig}

    def to_line(self) -> str:
        return json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, item: Any) -> Checkpoint:
        """Parse one checkpoint object; ``ValueError`` when it is not one."""
        if not isinstance(item, dict) or not isinstance(item.get("checkpoint"), dict):
            raise ValueError("not a checkpoint")
        body = item["checkpoint"]
        if body.get("v") != _VERSION:
            raise ValueError("unknown checkpoint version")
        cp = cls(body=body, key=str(item["key"]), sig=str(item["sig"]))
        cp.store_id, cp.seq, cp.head, cp.at, cp.dispatch  # noqa: B018  (each must parse)
        return cp


def sign_head(key: Ed25519PrivateKey, head: StoreHead, *, at: datetime | None = None) -> Checkpoint:
    """A checkpoint of ``head`` signed with ``key``; one Ed25519 signature (tens of µs)."""
    dispatch: JsonObject | None = None
    if head.dispatch_id is not None and head.dispatch_seq is not None:
        dispatch = {"id": head.dispatch_id, "seq": head.dispatch_seq, "hash": head.dispatch_hash}
    body: JsonObject = {
        "v": _VERSION,
        "store_id": head.store_id,
        "seq": head.seq,
        "head": head.hash,
        "at": (at or datetime.now(UTC)).isoformat(timespec="microseconds"),
        "dispatch": dispatch,
    }
    sig = key.sign(canonical_json(body).encode("utf-8"))
    return Checkpoint(body=body, key=fingerprint(key.public_key()), sig=base64.b64encode(sig).decode())


def append_checkpoint(path: Path, checkpoints: Iterable[Checkpoint]) -> None:
    """Append ``checkpoints`` to the file (created if needed) and fsync it: one write per call."""
    text = "".join(cp.to_line() for cp in checkpoints)
    if not text:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def parse_lines(lines: Iterable[str], where: str) -> Iterator[Checkpoint]:
    """Checkpoints from JSONL text; ``CheckpointFileError`` naming the first bad line."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield Checkpoint.from_json(json.loads(line))
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointFileError(f"line {number} of {where} is not a checkpoint") from exc


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint in the file, in file order; [] when the file does not exist."""
    try:
        with path.open(encoding="utf-8") as handle:
            return list(parse_lines(handle, str(path)))
    except FileNotFoundError:
        return []
    except UnicodeDecodeError as exc:
        raise CheckpointFileError(f"{path} is not UTF-8 text") from exc
