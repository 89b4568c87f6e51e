"""The approval policy: how many distinct people a message needs, and exactly what is missing.

Rules (numbers from ``[policy]``):

- **Actual free text**: ``actual_approvers`` distinct people (default 2: the two-person rule).
  The author counts as the first of them; the others approve with ``crisiscast approve``.
  The author may never approve their own Actual message.
- **Exercise / Test free text**: ``exercise_approvers`` distinct people (default 1: the
  author alone may send a drill).
- **A pre-approved template** (its wording approved before any crisis): ``template_approvers``
  approvals beyond the operator (default 0: one operator may send it). The operator is a
  person: a template held from a webhook with ``template_approvers = 1`` needs two distinct
  people's approvals, never one person's.

``[policy] approvers``, when not empty, lists who may approve; an author who is not on it does
not count, so every required person must then approve explicitly. Authors that are systems,
not people (``webhook:…``), never count either. Identities compare by ``identity_key``
(compatibility forms, case and repeated spaces folded).

Everything here is pure: the caller records approvals and refusals in the audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from crisiscast.config import PolicyConfig
from crisiscast.lifecycle.identity import identity_key, same_person
from crisiscast.message import CrisisMessage, Status

__all__ = ["Rule", "Verdict", "is_person", "may_approve", "refusal_reason", "rule_for", "verdict"]

SYSTEM_PREFIXES = ("webhook:", "api:", "system:")


def is_person(identity: str) -> bool:
    """False for system authors such as ``webhook:alerting-system``."""
    return not identity_key(identity).startswith(SYSTEM_PREFIXES)


def may_approve(identity: str, policy: PolicyConfig) -> bool:
    """Whether ``identity`` is a person on the approvers list (or the list is empty)."""
    if not is_person(identity):
        return False
    return not policy.approvers or any(same_person(identity, a) for a in policy.approvers)


@dataclass(frozen=True, slots=True)
class Rule:
    """The rule a message falls under and how many approvals it needs beyond its author."""

    kind: str  # "actual_free_text", "exercise_free_text" or "template"
    policy_text: str  # e.g. "2 distinct approvers for Actual free text"
    others_needed: int  # approvals needed from people other than the author


def rule_for(message: CrisisMessage, policy: PolicyConfig, *, author: str, from_template: bool) -> Rule:
    """The rule for ``message``; ``from_template`` only when its template was verified."""
    if from_template:
        n = policy.template_approvers
        # A system author (a webhook) is not the operator: the operator is a person too, so the
        # rule then needs n + 1 distinct people (template_approvers = 1: two people, never one).
        operator_missing = 0 if n == 0 or is_person(author) else 1
        return Rule(
            "template",
            f"{n} approver{_s(n)} beyond the operator for a pre-approved template",
            n + operator_missing,
        )
    author_counts = 1 if may_approve(author, policy) else 0
    if message.status is Status.ACTUAL:
        n = policy.actual_approvers
        return Rule(
            "actual_free_text",
            f"{n} distinct approver{_s(n)} for Actual free text",
            max(n - author_counts, 0),
        )
    n = policy.exercise_approvers
    return Rule(
        "exercise_free_text",
        f"{n} distinct approver{_s(n)} for {message.status.value} messages",
        max(n - author_counts, 0),
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether the approvals satisfy the rule; ``sentence`` says exactly what is missing."""

    ok: bool
    missing: int
    approvers: tuple[str, ...]
    sentence: str
    already_approved: bool = False  # the approver had approved before: nothing new was recorded


def verdict(
    draft_id: str, author: str, approvers: Sequence[str], rule: Rule, policy: PolicyConfig
) -> Verdict:
    """Count the distinct eligible approvers other than the author against ``rule``."""
    counted: list[str] = []
    for who in approvers:
        if same_person(who, author) or not may_approve(who, policy):
            continue
        if not any(same_person(who, c) for c in counted):
            counted.append(who)
    missing = max(rule.others_needed - len(counted), 0)
    if missing == 0:
        by = f" by {_names(counted)}" if counted else ""
        return Verdict(
            True, 0, tuple(counted), f"Draft {draft_id} is approved{by} (policy: {rule.policy_text})."
        )
    excluded = _names([author, *counted]) if is_person(author) else _names(counted)
    who = "someone" if missing == 1 else "people"
    listed = " on the approvers list" if policy.approvers else ""
    other = f" other than {excluded}" if excluded else ""
    sentence = (
        f"Draft {draft_id} needs {missing} more approval{_s(missing)} from {who}{listed}{other} "
        f"(policy: {rule.policy_text})."
    )
    return Verdict(False, missing, tuple(counted), sentence)


def refusal_reason(
    draft_id: str, author: str, approver: str, message: CrisisMessage, policy: PolicyConfig
) -> str | None:
    """Why ``approver`` may not approve draft ``draft_id`` (None when they may)."""
    if not is_person(approver):
        return f"{approver} is not a person and cannot approve draft {draft_id}."
    if policy.approvers and not may_approve(approver, policy):
        return (
            f"{approver} is not on the approvers list ([policy] approvers), "
            f"so they cannot approve draft {draft_id}."
        )
    if same_person(approver, author):
        if message.status is Status.ACTUAL:
            return (
                f"{approver} wrote draft {draft_id} and may not approve their own Actual message; "
                f"ask someone else to run crisiscast approve {draft_id}."
            )
        return (
            f"{approver} wrote draft {draft_id}; an approval must come from someone else "
            f"(crisiscast approve {draft_id})."
        )
    return None


def _s(n: int) -> str:
    return "" if n == 1 else "s"


def _names(names: Sequence[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
