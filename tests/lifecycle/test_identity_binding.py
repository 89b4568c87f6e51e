"""The two-person rule is bound to the OS account: a self-declared name cannot be a second person.

Through the real console script (the issue's attack: draft as one account, then approve with
``CRISISCAST_OPERATOR=dana`` from the same account), and as pure functions.
"""

from __future__ import annotations

import pytest

from crisiscast.audit.events import EventKind
from crisiscast.config import PolicyConfig
from crisiscast.errors import ConfigError
from crisiscast.lifecycle.approval import refusal_reason, rule_for, verdict
from crisiscast.lifecycle.identity import check_identity, cli_operator, os_account, same_person
from crisiscast.message import CrisisMessage, Status
from tests.cli.conftest import EXAMPLES
from tests.lifecycle.conftest import Team

ME, MY_UID = os_account()
ACTUAL = CrisisMessage(status=Status.ACTUAL, headline="Fire in Building B")


async def test_a_label_on_an_unlisted_account_cannot_approve(team: Team) -> None:
    """On an account that is not a shared console account, ``CRISISCAST_OPERATOR=dana`` is refused
    (exit 2, one sentence), so the author's own account never approves their Actual free text; the
    draft records the real OS account and uid."""
    team.policy = {"shared_console_accounts": []}
    team.write_config()
    held = await team.run(
        "send", str(EXAMPLES / "fire-alert.yaml"), "--yes", env={"CRISISCAST_OPERATOR": None}
    )
    assert held.code == 2, held
    draft_id = held.stdout.strip().removeprefix("Saved as draft ").removesuffix(".")
    spoofed = await team.run("approve", draft_id, env={"CRISISCAST_OPERATOR": "dana", "USER": "dana"})
    assert spoofed.code == 2, spoofed
    assert spoofed.stderr.strip() == (
        f"CRISISCAST_OPERATOR says dana, but this command runs as the OS account {ME}, which is not a "
        "shared console account ([policy] shared_console_accounts); unset CRISISCAST_OPERATOR to act "
        f"as {ME}, or run the command from dana's own account."
    )
    as_me = await team.run("approve", draft_id, env={"CRISISCAST_OPERATOR": None, "LOGNAME": "dana"})
    assert as_me.code == 2 and "may not approve their own Actual message" in as_me.stderr
    sent = await team.run("send", draft_id, "--yes", env={"CRISISCAST_OPERATOR": None})
    assert sent.code == 2
    assert team.texts() == []
    events = await team.events(draft_id)
    created = events[0].event
    assert created.kind is EventKind.DRAFT_CREATED
    assert created.data["author"] == ME
    assert (created.data["os_user"], created.data["os_uid"]) == (ME, MY_UID)
    assert created.data["identity_basis"] == "os-account"
    refused = [e.event for e in events if e.event.kind is EventKind.APPROVAL_REFUSED]
    assert refused and refused[0].data["os_user"] == ME


async def test_a_shared_console_label_is_audited_as_such(team: Team) -> None:
    """Where the policy lists the account as a shared console, the label names the person and
    every record says the identity rests on that label, next to the real account."""
    held = await team.run_as("alice", "send", str(EXAMPLES / "fire-alert.yaml"), "--yes")
    draft_id = held.stdout.strip().removeprefix("Saved as draft ").removesuffix(".")
    approved = await team.run_as("bob", "approve", draft_id)
    assert approved.code == 0, approved
    events = await team.events(draft_id)
    approval = next(e.event for e in events if e.event.kind is EventKind.APPROVAL_RECORDED)
    assert approval.data["approver"] == "bob"
    assert approval.data["identity_basis"] == "shared-console-label"
    assert (approval.data["os_user"], approval.data["os_uid"]) == (ME, MY_UID)


def test_environment_names_never_change_the_os_account(monkeypatch: pytest.MonkeyPatch) -> None:
    """``$USER``/``$LOGNAME`` do not change who the OS account is; a label equal to the account's
    own name is accepted; a label for someone else needs a listed shared account."""
    for name in ("USER", "LOGNAME", "LNAME", "USERNAME"):
        monkeypatch.setenv(name, "dana")
    monkeypatch.delenv("CRISISCAST_OPERATOR", raising=False)
    me = cli_operator()
    assert (me.name, me.basis, me.os_uid) == (ME, "os-account", MY_UID)
    monkeypatch.setenv("CRISISCAST_OPERATOR", ME.upper())
    assert cli_operator().basis == "os-account"
    monkeypatch.setenv("CRISISCAST_OPERATOR", "dana")
    with pytest.raises(ConfigError, match="not a shared console account"):
        cli_operator()
    labelled = cli_operator([ME])
    assert (labelled.name, labelled.basis, labelled.os_user) == ("dana", "shared-console-label", ME)


def test_look_alike_identities_are_refused_or_the_same_person() -> None:
    """A name mixing alphabets with look-alike letters (Cyrillic а in alice) is refused; a name
    wholly in look-alike letters compares equal to the Latin name it imitates, so it can neither
    approve its own author's message nor count as a second person."""
    for value in ("\u0430lice", "b\u043eb", "Dan\u0430 Whitfield"):
        with pytest.raises(ConfigError, match="mixes alphabets"):
            check_identity(value)
    assert same_person("\u0430\u0440\u0435", "ape")  # Cyrillic а р е
    assert same_person("\u0391\u039d\u039d\u0391", "anna")  # Greek capitals
    assert not same_person("José", "Jose")  # an accent is a real difference
    assert refusal_reason("D", "ape", "\u0430\u0440\u0435", ACTUAL, PolicyConfig()) is not None
    rule = rule_for(ACTUAL, PolicyConfig(), author="ape", from_template=False)
    assert not verdict("D", "ape", ["\u0430\u0440\u0435"], rule, PolicyConfig()).ok
    listed = PolicyConfig(approvers=("anna",))
    assert refusal_reason("D", "bob", "\u0391\u039d\u039d\u0391", ACTUAL, listed) is None
