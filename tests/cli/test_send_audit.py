"""send → the fakes receive it → audit list/show/verify/export tell the same story."""

from __future__ import annotations

import csv
import io
import json
import sqlite3

import pytest

from crisiscast.audit.events import AuditEvent, EventKind
from crisiscast.audit.sqlite import SqliteStore
from crisiscast.channels.registry import names
from crisiscast.sandbox.twilio import OPTED_OUT_NUMBER
from tests.cli.conftest import EXAMPLES, Cli

pytestmark = pytest.mark.asyncio


def _posts(cli: Cli, role: str) -> int:
    return sum(1 for r in cli.sandbox.fakes[role].requests if r.method == "POST" and 200 <= r.status < 300)


async def test_send_then_audit_list_show_verify_export(cli: Cli) -> None:
    """An Exercise reaches every channel's exercise target, exit 0, and the audit records it all.

    Canary secrets are set and debug JSON logs written: no secret appears in the output, the
    log or the audit rows.
    """
    canaries = {
        "CRISISCAST_WEBHOOK_SECRETS": "whsec_canaryCLI123",
        "CRISISCAST_DB_PASSWORD": "canary-db-CLI-456",
    }
    log_file = cli.tmp_path / "crisiscast.log"
    sent = await cli.run(
        *("--log-file", str(log_file), "--log-level", "debug"),
        *("send", str(EXAMPLES / "exercise.yaml"), "--yes", "--json"),
        env=canaries,
    )
    assert sent.code == 0, sent.stderr
    log_text = log_file.read_text(encoding="utf-8")
    assert log_text.strip(), "the debug log should not be empty"
    audit_dump = "\n".join(str(row) for row in sqlite3.connect(cli.audit_db).execute("SELECT * FROM events"))
    for text in (sent.stdout, sent.stderr, log_text, audit_dump):
        for secret in (*canaries.values(), *cli.sandbox.env.values()):
            assert secret not in text
    report = json.loads(sent.stdout)
    dispatch_id = report["dispatch_id"]
    assert report["ok"] is True
    delivered = {name: c["delivered"] for name, c in report["channels"].items() if c["planned"]}
    # every channel with a fake delivers; MQTT and calls are off here, and no contact has an e-mail address
    assert set(delivered) == set(names()) - {"mqtt", "voice", "email"}
    assert {name: delivered[name] for name in ("twitter", "facebook", "sms", "banner")} == {
        "twitter": 1,
        "facebook": 1,
        "sms": 3,
        "banner": 1,
    }
    assert all(delivered[n] == report["channels"][n]["planned"] for n in delivered)
    assert report["skipped_channels"]["mqtt"] == "the mqtt channel is disabled in the configuration"
    # what the fakes saw: one X post on the exercise account only, one Page post, three texts
    assert (_posts(cli, "x"), _posts(cli, "x_exercise"), _posts(cli, "graph"), _posts(cli, "twilio")) == (
        0,
        1,
        1,
        3,
    )
    banner = json.loads(cli.banner_exercise.read_text(encoding="utf-8"))
    assert banner["exercise"] is True and banner["headline"].startswith("EXERCISE EXERCISE EXERCISE")

    listed = await cli.run("audit", "list", "--json")
    assert listed.code == 0
    (row,) = json.loads(listed.stdout)
    assert row["dispatch_id"] == dispatch_id and row["state"] == "finished"
    assert row["summary"]["approval"]["confirmed"] is True
    assert row["summary"]["approval"]["confirmed_with"] == "--yes"
    assert row["summary"]["approval"]["approver"]

    shown = await cli.run("audit", "show", dispatch_id, "--json")
    assert shown.code == 0
    detail = json.loads(shown.stdout)
    planned = sum(delivered.values())  # 6 on X, Facebook, SMS and the banner, and the newer channels'
    assert len(detail["deliveries"]) == planned
    assert {d["state"] for d in detail["deliveries"]} == {"delivered"}
    assert all(d["provider_id"] for d in detail["deliveries"])

    human = await cli.run("audit", "show", dispatch_id)
    assert human.code == 0 and "+16175550126" in human.stdout and "delivered" in human.stdout

    verified = await cli.run("audit", "verify")
    assert verified.code == 0
    assert verified.stdout.startswith("Audit chain OK: ")

    jsonl = await cli.run("audit", "export", dispatch_id, "--format", "jsonl")
    assert jsonl.code == 0
    header, *events, end = (json.loads(line) for line in jsonl.stdout.splitlines())
    assert header["dispatch_id"] == dispatch_id
    assert end["end"] is True and end["events"] == len(events) == len(detail["events"])
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "dispatch_planned" and kinds[-1] == "dispatch_finished"
    assert kinds.count("attempt_started") == kinds.count("attempt_succeeded") == planned

    exported = cli.tmp_path / "dispatch.jsonl"
    exported.write_text(jsonl.stdout, encoding="utf-8")
    alone = await cli.run("audit", "verify", str(exported))
    assert (alone.code, alone.stdout.strip()) == (0, f"Export {exported} OK: {len(events)} events verified.")
    lines = jsonl.stdout.splitlines()
    exported.write_text("\n".join(lines[:3] + lines[4:]) + "\n", encoding="utf-8")  # one event removed
    cut = await cli.run("audit", "verify", str(exported))
    assert cut.code == 3 and cut.stderr.startswith(f"Export {exported} BROKEN at event ")

    out = cli.tmp_path / "export.csv"
    as_csv = await cli.run("audit", "export", "--format", "csv", "--out", str(out))
    assert as_csv.code == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [int(r["seq"]) for r in rows] == [e["seq"] for e in events]
    assert rows[0]["hash"] == events[0]["hash"]


async def test_permanent_failure_exits_3_and_names_the_code(cli: Cli) -> None:
    """A recipient who opted out (Twilio 21610) fails; the rest are delivered; exit 3."""
    cli.contacts.write_text(
        cli.contacts.read_text(encoding="utf-8") + f"Opted Out,{OPTED_OUT_NUMBER},drill-team,en\n",
        encoding="utf-8",
    )
    result = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes")
    assert result.code == 3, result.stderr
    assert "FAILED" in result.stdout
    assert f"sms → {OPTED_OUT_NUMBER} [21610]" in result.stdout
    attempts = [r for r in cli.sandbox.fakes["twilio"].requests if OPTED_OUT_NUMBER[1:] in r.body]
    assert len(attempts) == 1  # permanent: exactly one attempt


async def test_not_confirmed_sends_nothing(cli: Cli) -> None:
    """Answering no at the prompt sends nothing and exits 2."""
    result = await cli.run("send", str(EXAMPLES / "exercise.yaml"), stdin="n\n")
    assert result.code == 2
    assert result.stderr.strip().endswith(
        "Nothing was sent: the broadcast was not confirmed (answer y, or pass --yes)."
    )
    assert all(fake.requests == [] for fake in cli.sandbox.fakes.values())
    assert not cli.banner_exercise.exists()


async def test_confirmed_at_the_prompt_is_recorded(cli: Cli) -> None:
    """Answering y sends, and the approval says it was confirmed at the prompt."""
    result = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--json", stdin="y\n")
    assert result.code == 0, result.stderr
    assert "Send this Exercise Alert to " in result.stderr
    dispatch_id = json.loads(result.stdout)["dispatch_id"]
    shown = json.loads((await cli.run("audit", "show", dispatch_id, "--json")).stdout)
    approval = shown["summary"]["approval"]
    assert (approval["confirmed"], approval["confirmed_with"], approval["method"]) == (True, "prompt", "cli")


async def test_tampered_audit_file_fails_verify_naming_the_event(cli: Cli) -> None:
    """Editing one row of the SQLite audit file (trigger dropped first, as an attacker would)
    makes verify exit 3 naming that event; the untouched file verified before."""
    store = SqliteStore(str(cli.audit_db))
    await store.open()
    try:
        await store.append(
            [AuditEvent(EventKind.DISPATCH_PLANNED, "d-1", {"counts": {}, "channels": []})]
            + [
                AuditEvent(EventKind.CHANNEL_SKIPPED, "d-1", {"channel": f"c{i}", "reason": "r"})
                for i in range(4)
            ]
        )
    finally:
        await store.close()
    before = await cli.run("audit", "verify")
    assert (before.code, before.stdout.strip()) == (0, "Audit chain OK: 5 events verified.")
    with sqlite3.connect(cli.audit_db) as db:
        db.execute("DROP TRIGGER IF EXISTS events_no_update")
        db.execute("""UPDATE events SET data = '{"channel":"c1","reason":"forged"}' WHERE seq = 3""")
    result = await cli.run("audit", "verify")
    assert result.code == 3
    assert result.stderr.startswith("Audit chain BROKEN at event 3: ")
    assert len(result.stderr.strip().splitlines()) == 1


async def test_patient_information_is_refused_unless_overridden_with_a_reason(cli: Cli) -> None:
    """Text that looks like a medical record number: nothing sent (exit 2) unless --phi-override,
    whose reason is recorded with the approval."""
    message = cli.tmp_path / "phi.yaml"
    message.write_text(
        "status: Exercise\nheadline: Patient MRN 12345678 missing from ward 4\naudiences: [exercise]\n",
        encoding="utf-8",
    )
    refused = await cli.run("send", str(message), "--yes")
    assert refused.code == 2
    assert refused.stderr.startswith("Nothing was sent: the twitter channel cannot take this message: ")
    assert "medical record number" in refused.stderr
    assert all(fake.requests == [] for fake in cli.sandbox.fakes.values())

    reason = "drill of the missing-patient procedure, fictional number"
    sent = await cli.run("send", str(message), "--yes", "--json", "--phi-override", reason)
    assert sent.code == 0, sent.stderr
    dispatch_id = json.loads(sent.stdout)["dispatch_id"]
    shown = json.loads((await cli.run("audit", "show", dispatch_id, "--json")).stdout)
    assert shown["summary"]["approval"]["phi_override"] == reason
