"""The audit as evidence, through the console script: keygen, signed checkpoints while sending,
verify against them with only the public key, and exports that stand alone."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import stat
import tomllib
from pathlib import Path
from typing import Any

import pytest

from crisiscast.audit.prepare import canonical_event_text
from crisiscast.cli.demo_run import to_toml
from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


def _flat(text: str) -> str:
    """Console output with its line wrapping undone."""
    return " ".join(text.split())


def _sign_with(cli: Cli, key: Path | None, checkpoints: Path) -> None:
    """Point the configuration's [store] at the key (None: no key) and the checkpoint file."""
    raw: dict[str, Any] = tomllib.loads(cli.config.read_text(encoding="utf-8"))
    raw["store"]["checkpoint_file"] = str(checkpoints)
    if key is None:
        raw["store"].pop("signing_key_file", None)
    else:
        raw["store"]["signing_key_file"] = str(key)
    cli.config.write_text(to_toml(raw), encoding="utf-8")


async def _signed_send(cli: Cli) -> tuple[Path, Path, str]:
    key = cli.tmp_path / "keys" / "audit.key"
    made = await cli.run("audit", "keygen", str(key))
    assert made.code == 0, made.stderr
    assert made.stdout.startswith("-----BEGIN PUBLIC KEY-----") and "Fingerprint: SHA256:" in made.stdout
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    checkpoints = cli.tmp_path / "witness" / "checkpoints.jsonl"
    _sign_with(cli, key, checkpoints)
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes", "--json")
    assert sent.code == 0, sent.stderr
    return key, checkpoints, json.loads(sent.stdout)["dispatch_id"]


def _forge(path: Path) -> None:
    """Change the approver in an export and recompute every hash and the end line, as someone who
    knows the (public) hashing but not the key would."""
    header, *events, end = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    contiguous = header["dispatch_id"] is None
    prev, dprev, heads = events[0]["prev_hash"], "0" * 64, {}
    changed = False
    for e in events:
        data = json.dumps(e["data"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if '"approver":' in data:
            forged = re.sub(r'"approver":"[^"]*"', '"approver":"mallory"', data)
            changed = changed or forged != data
            e["data"], data = json.loads(forged), forged
        text = canonical_event_text(e["seq"], e["at"], e["kind"], e["dispatch_id"], e["delivery_key"], data)
        own_prev = prev if contiguous else e["prev_hash"]
        e["prev_hash"], e["hash"] = own_prev, hashlib.sha256((own_prev + text).encode()).hexdigest()
        e["dispatch_prev_hash"] = dprev
        e["dispatch_hash"] = dprev = hashlib.sha256((dprev + text).encode()).hexdigest()
        heads[e["dispatch_id"]] = [e["seq"], e["dispatch_hash"]]
        prev = e["hash"]
    end.update(heads=heads, last_hash=prev)
    assert changed, "the export should name an approver to forge"
    path.write_text("\n".join(json.dumps(x) for x in (header, *events, end)) + "\n", encoding="utf-8")


def _match_checkpoint(path: Path) -> None:
    """Rewrite the header's checkpoint so its hashes name the forged events (signature unchanged)."""
    header, *rest = path.read_text(encoding="utf-8").splitlines()
    head = json.loads(header)
    body = head["checkpoint"]["checkpoint"]
    events = {e["seq"]: e for e in (json.loads(line) for line in rest[:-1])}
    body["head"] = events[body["seq"]]["hash"] if body["seq"] in events else body["head"]
    if body.get("dispatch"):
        body["dispatch"]["hash"] = events[body["dispatch"]["seq"]]["dispatch_hash"]
    path.write_text("\n".join([json.dumps(head), *rest]) + "\n", encoding="utf-8")


async def test_signed_send_verifies_with_only_the_public_key(cli: Cli) -> None:
    """A send with a key writes checkpoints to the file; verify with --public-key (the private key
    removed from the configuration) says OK and names the checkpoint."""
    key, checkpoints, _ = await _signed_send(cli)
    lines = checkpoints.read_text(encoding="utf-8").splitlines()
    assert len(lines) >= 2  # after the plan and at the end
    _sign_with(cli, None, checkpoints)
    unkeyed = await cli.run("audit", "verify")
    assert unkeyed.code == 2 and "--public-key" in _flat(unkeyed.stderr)
    verified = await cli.run("audit", "verify", "--public-key", f"{key}.pub")
    assert verified.code == 0, verified.stderr
    assert "signed checkpoints" in _flat(verified.stdout) and "SHA256:" in _flat(verified.stdout)


async def test_truncated_live_store_is_broken_against_the_checkpoints(cli: Cli) -> None:
    """Deleting the last events and rolling back both heads with plain SQL: exit 3, naming the
    missing events."""
    key, _, _ = await _signed_send(cli)
    with sqlite3.connect(cli.audit_db) as db:
        db.execute("DROP TRIGGER events_no_delete")
        (last,) = db.execute("SELECT max(seq) FROM events").fetchone()
        db.execute("DELETE FROM events WHERE seq > ?", (last - 2,))
        db.execute(
            "UPDATE chain_head SET seq = ?, hash = (SELECT hash FROM events WHERE seq = ?)",
            (last - 2, last - 2),
        )
        db.execute(
            "UPDATE dispatch_chain SET seq = ?, hash = (SELECT dispatch_hash FROM events WHERE seq = ?)",
            (last - 2, last - 2),
        )
    result = await cli.run("audit", "verify", "--public-key", f"{key}.pub")
    assert result.code == 3
    assert result.stderr.startswith("Audit chain BROKEN: the checkpoint of ")
    assert f"events {last - 1} to {last} are missing" in _flat(result.stderr)


# the whole-log export runs with `make test-slow`; CI keeps the one-dispatch export
@pytest.mark.parametrize(
    "whole", [False, pytest.param(True, marks=pytest.mark.slow)], ids=["one-dispatch", "whole-log"]
)
async def test_an_edited_and_rehashed_export_is_broken_with_the_public_key(cli: Cli, whole: bool) -> None:
    """An export carries a signed checkpoint and the key's fingerprint; forged and rehashed, it
    still passes the hash check alone but fails with --public-key; without its checkpoint too."""
    key, _, dispatch_id = await _signed_send(cli)
    exported = cli.tmp_path / "export.jsonl"
    args = ("audit", "export", "--out", str(exported)) + (() if whole else (dispatch_id,))
    made = await cli.run(*args)
    assert made.code == 0, made.stderr
    header = json.loads(exported.read_text(encoding="utf-8").splitlines()[0])
    assert header["key"].startswith("SHA256:") and header["checkpoint"]["key"] == header["key"]
    good = await cli.run("audit", "verify", str(exported), "--public-key", f"{key}.pub")
    assert good.code == 0, good.stderr
    assert "matches the checkpoint of" in _flat(good.stdout)

    _forge(exported)
    forged = await cli.run("audit", "verify", str(exported), "--public-key", f"{key}.pub")
    assert forged.code == 3
    assert "the export was edited and its hashes recomputed" in _flat(forged.stderr)

    _match_checkpoint(exported)  # the forger also moves the checkpoint's hashes along
    alone = await cli.run("audit", "verify", str(exported))
    assert alone.code == 0, alone.stderr  # without the key nothing can tell
    resigned = await cli.run("audit", "verify", str(exported), "--public-key", f"{key}.pub")
    assert resigned.code == 3
    assert "not signed by this public key" in _flat(resigned.stderr)

    lines = exported.read_text(encoding="utf-8").splitlines()
    stripped = json.loads(lines[0]) | {"checkpoint": None, "key": None}
    exported.write_text("\n".join([json.dumps(stripped), *lines[1:]]) + "\n", encoding="utf-8")
    bare = await cli.run("audit", "verify", str(exported), "--public-key", f"{key}.pub")
    assert bare.code == 3 and "carries no signed checkpoint" in _flat(bare.stderr)
