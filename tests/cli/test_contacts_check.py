"""``crisiscast contacts check`` through the console script, with opt-outs from a real send."""

from __future__ import annotations

import json

from crisiscast.sandbox.twilio import OPTED_OUT_NUMBER

from .conftest import EXAMPLES, Cli

CONTACTS = f"""\
name,phone,groups,language,email,paths
Sofia Park,+1 617 555 0126,drill-team,en,sofia@hospital.example,
Miguel Soto,+1 617 555 0127,drill-team,es,,
Stop Sender,{OPTED_OUT_NUMBER},drill-team,en,stop@hospital.example,
Avery Chen,+1 617 555 0101,staff,en,,
Avery Twice,+1 617 555 0101,staff,en,bad@@address,
"""


async def test_check_names_every_gap_and_the_opted_out_number(cli: Cli) -> None:
    """After a drill that hit Twilio 21610, the check lists the number and every gap, exit 3."""
    cli.contacts.write_text(CONTACTS, encoding="utf-8")
    sent = await cli.run("send", str(EXAMPLES / "exercise.yaml"), "--yes")
    assert sent.code == 3, sent.stdout  # the opted-out number failed
    result = await cli.run("contacts", "check", "--json")
    assert result.code == 3, result.stderr
    report = json.loads(result.stdout)
    assert [o["number"] for o in report["opted_out"]] == [OPTED_OUT_NUMBER]
    assert report["opted_out"][0]["name"] == "Stop Sender"
    names = [p["name"] for p in report["without_alternate"]]
    assert names == ["Miguel Soto", "Stop Sender", "Avery Chen", "Avery Twice"]
    assert [a["audience"] for a in report["audiences_without_alternate"]] == ["all-staff"]
    assert report["duplicates"] == [{"what": "phone", "value": "+16175550101", "lines": [5, 6]}]
    assert any("bad@@address" in v for v in report["ignored_values"])
    people = {p["name"]: p["paths"] for p in report["people"]}
    assert people["Sofia Park"] == ["sms", "email"] and people["Stop Sender"] == ["email"]

    text = await cli.run("contacts", "check")
    assert text.code == 3
    assert "Opted out of SMS" in text.stdout and "Stop Sender" in text.stdout
    assert "nobody in all-staff is reachable by an alternate means" in " ".join(text.stdout.split())


async def test_a_clean_file_exits_0_and_a_missing_one_2(cli: Cli) -> None:
    """Everyone with two paths and no opt-outs: exit 0; a file that is not there: one sentence, exit 2."""
    clean = cli.tmp_path / "clean.csv"
    clean.write_text(
        "name,phone,groups,email\nSofia,+16175550126,drill-team,sofia@hospital.example\n", encoding="utf-8"
    )
    ok = await cli.run("contacts", "check", "--contacts", str(clean))
    assert ok.code == 0, ok.stdout + ok.stderr
    assert "nothing to fix" in " ".join(ok.stdout.split())  # however a long path wraps
    missing = await cli.run("contacts", "check", "--contacts", str(cli.tmp_path / "nope.csv"))
    sentence = " ".join(missing.stderr.split())  # the terminal width may wrap a long temporary path
    assert missing.code == 2 and "does not exist" in sentence and "Traceback" not in sentence
