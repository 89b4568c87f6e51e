"""The signed side of ``crisiscast audit``: ``keygen``, and ``verify`` against checkpoints.

Which public key ``verify`` uses, first found wins: ``--public-key FILE``, ``[store]
public_key_file``, the public half of the configured signing key. Which checkpoints: the
checkpoint file (``--checkpoints FILE`` or ``[store] checkpoint_file``) and what the
configured MQTT witnesses hold for the store. Checkpoints without a public key to check them
are bad input (exit 2); no checkpoint at all verifies the chain alone and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from crisiscast.cli.common import EXIT_FAILED, fail, stderr_console, stdout_console

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from crisiscast.audit.base import AuditStore
    from crisiscast.audit.checkpoint import Checkpoint
    from crisiscast.audit.evidence import EvidenceReport
    from crisiscast.config import StoreConfig

__all__ = ["collect_checkpoints", "print_report", "public_key_for", "run_keygen"]


def run_keygen(path: Path) -> None:
    """Create the key, print the public key and what to do with it."""
    from crisiscast.audit.signing import fingerprint, generate_key, public_pem

    key = generate_key(path)
    public = key.public_key()
    out = stdout_console()
    out.print(public_pem(public).rstrip(), markup=False, highlight=False, soft_wrap=True)
    out.print(f"Fingerprint: {fingerprint(public)}", markup=False, highlight=False, soft_wrap=True)
    stderr_console().print(
        f"Wrote the private key to {path} (mode 0600) and the public key to {path}.pub. "
        f'Set [store] signing_key_file = "{path}" (or the CRISISCAST_AUDIT_SIGNING_KEY secret), keep '
        "the key off the database host, and publish the public key to whoever verifies the audit.",
        markup=False,
        highlight=False,
    )


def public_key_for(config: StoreConfig, given: Path | None) -> Ed25519PublicKey | None:
    """The public key to check checkpoints with; None when none is known."""
    from crisiscast.audit.signing import load_private_key, load_public_key

    if given is not None:
        if not given.is_file():
            fail(f"The public key file {given} does not exist; check the path.")
        return load_public_key(given)
    if config.public_key_file:
        return load_public_key(Path(config.public_key_file))
    private = load_private_key(config.signing_key_file)
    return private.public_key() if private is not None else None


async def collect_checkpoints(config: StoreConfig, store: AuditStore, path: Path | None) -> list[Checkpoint]:
    """The checkpoints from the file and the MQTT witnesses (a witness that is down is skipped)."""
    from crisiscast.audit.checkpoint import CheckpointFileError, read_checkpoints
    from crisiscast.audit.witness import MqttWitness, witness_from_url

    source = path or Path(config.checkpoint_file)
    try:
        found = read_checkpoints(source)
    except CheckpointFileError as exc:
        fail(f"Audit checkpoints BROKEN: {exc} (the checkpoint file was edited).", EXIT_FAILED)
    head = await store.head()
    seen = {(cp.seq, cp.sig) for cp in found}
    for url in config.witnesses:
        witness = witness_from_url(url)
        if not isinstance(witness, MqttWitness):
            continue
        try:
            held = await witness.read(head.store_id)
        except Exception:  # a witness that is down: verify what the others hold, and say so
            stderr_console().print(
                f"Could not read the witness {witness.name}.", style="yellow", markup=False
            )
            continue
        found.extend(cp for cp in held if (cp.seq, cp.sig) not in seen)
    return found


def print_report(report: EvidenceReport) -> None:
    """OK (exit 0) with warnings, or BROKEN naming every problem (exit 3)."""
    for warning in report.warnings:
        stderr_console().print(
            f"Warning: {warning}", style="yellow", markup=False, highlight=False, soft_wrap=True
        )
    if report.ok:
        signed = ""
        if report.newest is not None:
            signed = (
                f"; matches {report.checkpoints} signed checkpoints, the newest of {report.newest.at} "
                f"(event {report.newest.seq}, key {report.newest.key})"
            )
        stdout_console().print(
            f"Audit chain OK: {report.events} events verified{signed}.",
            style="green",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return
    err = stderr_console()
    first = report.problems[0]
    sep = " " if first.startswith("at ") else ": "  # "BROKEN at event 3: …" for a broken link
    err.print(f"Audit chain BROKEN{sep}{first}", style="red", markup=False, highlight=False, soft_wrap=True)
    for problem in report.problems[1:]:
        err.print(f"Also: {problem}", style="red", markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_FAILED)


async def export_checkpoint(
    config: StoreConfig, store: AuditStore, dispatch_id: str | None
) -> Checkpoint | None:
    """The signed checkpoint an export carries.

    With the signing key: the store is verified against its checkpoints first (an export of a
    rewritten store is never signed; exit 3), then a fresh checkpoint covers every exported
    event. Without it: the newest checkpoint in the file that names this store (and, for one
    dispatch, that dispatch); None when there is none.
    """
    from crisiscast.audit.checkpoint import CheckpointFileError, read_checkpoints
    from crisiscast.audit.checkpointer import CheckpointingStore
    from crisiscast.audit.evidence import verify_evidence

    try:
        found = read_checkpoints(Path(config.checkpoint_file))
    except CheckpointFileError as exc:
        fail(f"Audit checkpoints BROKEN: {exc} (the checkpoint file was edited).", EXIT_FAILED)
    if isinstance(store, CheckpointingStore):
        report = await verify_evidence(store, found, store.key.public_key(), views=False)
        if not report.ok:
            fail(f"The audit does not verify, so the export is not signed: {report.problems[0]}", EXIT_FAILED)
        fresh = await store.checkpoint(dispatch_id)
        if fresh is not None:
            return fresh
    head = await store.head(dispatch_id)
    mine = [
        cp
        for cp in found
        if cp.store_id == head.store_id
        and (dispatch_id is None or (cp.dispatch is not None and cp.dispatch[0] == dispatch_id))
    ]
    return max(mine, key=lambda cp: cp.seq) if mine else None


def demo_signing(directory: Path) -> dict[str, str]:
    """The demo's ``[store]`` signing keys: a key in ``directory`` (created on the first run,
    kept after) and a checkpoint file next to the demo's database."""
    from crisiscast.audit.signing import generate_key

    key = directory / "audit-signing.key"
    if not key.exists():
        generate_key(key)
    return {"signing_key_file": str(key), "checkpoint_file": str(directory / "audit-checkpoints.jsonl")}
