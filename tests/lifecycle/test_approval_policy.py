"""The approval policy as a pure function: who counts, what is missing, what is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisiscast.config import PolicyConfig
from crisiscast.errors import ConfigError
from crisiscast.lifecycle.approval import refusal_reason, rule_for, verdict
from crisiscast.lifecycle.identity import check_identity
from crisiscast.message import CrisisMessage, Status

ACTUAL = CrisisMessage(status=Status.ACTUAL, headline="Fire in Building B")
EXERCISE = CrisisMessage(status=Status.EXERCISE, headline="Drill in Building B")
POLICY = PolicyConfig()


def _needs(message: CrisisMessage, approvers: list[str], policy: PolicyConfig = POLICY, **kw: bool) -> str:
    rule = rule_for(message, policy, author="alice", from_template=kw.get("template", False))
    return verdict("D", "alice", approvers, rule, policy).sentence


def test_default_policy_table() -> None:
    """Actual free text: the author and one other; Exercise: the author; template: the operator alone."""
    assert _needs(ACTUAL, []) == (
        "Draft D needs 1 more approval from someone other than alice "
        "(policy: 2 distinct approvers for Actual free text)."
    )
    assert _needs(ACTUAL, ["bob"]).startswith("Draft D is approved by bob")
    assert _needs(EXERCISE, []) == "Draft D is approved (policy: 1 distinct approver for Exercise messages)."
    assert _needs(ACTUAL, [], template=True) == (
        "Draft D is approved (policy: 0 approvers beyond the operator for a pre-approved template)."
    )
    three = PolicyConfig(actual_approvers=3)
    assert _needs(ACTUAL, ["bob"], three) == (
        "Draft D needs 1 more approval from someone other than alice and bob "
        "(policy: 3 distinct approvers for Actual free text)."
    )
    assert "needs 1 more approval" in _needs(ACTUAL, [], PolicyConfig(template_approvers=1), template=True)


def test_approvers_list_decides_who_counts() -> None:
    """With an approvers list, an author not on it does not count and others not on it are refused."""
    listed = PolicyConfig(approvers=("bob", "dana"))
    assert _needs(ACTUAL, [], listed) == (
        "Draft D needs 2 more approvals from people on the approvers list other than alice "
        "(policy: 2 distinct approvers for Actual free text)."
    )
    assert refusal_reason("D", "alice", "carol", ACTUAL, listed) == (
        "carol is not on the approvers list ([policy] approvers), so they cannot approve draft D."
    )
    assert refusal_reason("D", "alice", "Dana", ACTUAL, listed) is None
    assert _needs(ACTUAL, ["bob", "Dana"], listed).startswith("Draft D is approved by bob and Dana")


def test_system_authors_never_count() -> None:
    """A webhook's free text needs every approval from people (the system is not one)."""
    rule = rule_for(ACTUAL, POLICY, author="webhook:fire-panel", from_template=False)
    assert verdict("D", "webhook:fire-panel", ["bob"], rule, POLICY).missing == 1
    assert refusal_reason("D", "alice", "webhook:fire-panel", ACTUAL, POLICY) is not None


@given(
    required=st.integers(min_value=2, max_value=5),
    variants=st.lists(st.sampled_from(["alice", "ALICE", " Alice ", "aLiCe"]), max_size=6),
)
def test_one_identity_never_satisfies_actual_free_text(required: int, variants: list[str]) -> None:
    """S5: however often the author approves, in any letter case, Actual free text is never ready."""
    policy = PolicyConfig(actual_approvers=required)
    for who in variants:
        assert refusal_reason("D", "alice", who, ACTUAL, policy) is not None
    rule = rule_for(ACTUAL, policy, author="alice", from_template=False)
    assert not verdict("D", "alice", variants, rule, policy).ok


def test_look_alike_spellings_of_the_author_are_the_author() -> None:
    """S5: full-width letters, doubled inner spaces or a compatibility form of the author's name are
    the author: they cannot approve their own Actual message nor count as a second person."""
    for who in ("ａｌｉｃｅ", "Ａlice"):
        assert refusal_reason("D", "alice", who, ACTUAL, POLICY) is not None, who
    assert refusal_reason("D", "Alice Smith", "alice  smith", ACTUAL, POLICY) is not None
    assert refusal_reason("D", "alice", "ﬁona", ACTUAL, PolicyConfig(approvers=("fiona",))) is None
    rule = rule_for(ACTUAL, POLICY, author="alice", from_template=False)
    assert not verdict("D", "alice", ["ａｌｉｃｅ", "Ａlice"], rule, POLICY).ok


def test_identities_with_invisible_characters_are_refused() -> None:
    """An identity holding a zero-width, direction or non-breaking space character is refused,
    so an invisible difference can never make one person look like two."""
    for value in ("ali\u200bce", "alice\u202e", "alice\u00a0smith", "\ufeffalice"):
        with pytest.raises(ConfigError):
            check_identity(value)
    assert check_identity("  Dana Whitfield ") == "Dana Whitfield"


def test_webhook_template_with_one_template_approver_needs_two_people() -> None:
    """template_approvers = 1 means the operator and one more: a webhook-held template (whose
    author is a system, not the operator) is not ready with one person's approval, only with two."""
    policy = PolicyConfig(template_approvers=1)
    rule = rule_for(ACTUAL, policy, author="webhook:fire-panel", from_template=True)
    assert not verdict("D", "webhook:fire-panel", ["bob"], rule, policy).ok
    assert not verdict("D", "webhook:fire-panel", ["bob", "BOB"], rule, policy).ok
    assert verdict("D", "webhook:fire-panel", ["bob", "dana"], rule, policy).ok
    # An operator drafting from the template counts as the first person: one other is enough.
    own = rule_for(ACTUAL, policy, author="alice", from_template=True)
    assert verdict("D", "alice", ["bob"], own, policy).ok
    # With no template approvers a webhook template needs no approval at all.
    none = rule_for(ACTUAL, PolicyConfig(), author="webhook:fire-panel", from_template=True)
    assert verdict("D", "webhook:fire-panel", [], none, PolicyConfig()).ok
