"""Update and all-clear: what a follow-up of a sent alert goes to, and the message it sends.

A follow-up (CAP ``Update`` or ``Cancel``) goes exactly where the original went:

- only the channels on which the original delivered something (the others are skipped
  with a recorded reason);
- on each channel, what its spec's ``follow_up`` says from what the original (and earlier
  follow-ups) delivered there: X replies in the original's thread, to its newest post;
  Facebook posts anew, referring to the original post; SMS goes only to the numbers the
  original actually reached, whatever the audiences say now;
- a channel without a ``follow_up`` (banner, signage) has its state replaced (an Update) or
  cleared (a Cancel).

The reach is rebuilt from the dispatches' audit events, not from the views a database edit
could change (``crisiscast.audit.views``).

An Update's headline starts with "Update:" (in each language), so nobody mistakes it for a
new alert.

The original and its follow-ups form a lineage: each follow-up's approval record names the
original (``follow_up.root``). The follow-up keeps the original's status, so the follow-up
of an Exercise is an Exercise (exercise targets only). A follow-up of a dispatch whose
all-clear was already sent is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from crisiscast.audit.base import AuditStore, DeliveryRecord, DispatchRecord
from crisiscast.audit.views import ChainViews
from crisiscast.channels.spec import FollowUpPlan
from crisiscast.delivery import DeliveryState
from crisiscast.errors import PolicyError, UserError
from crisiscast.jsontypes import JsonMapping
from crisiscast.message import CrisisMessage, MsgType, Severity, Urgency
from crisiscast.templates import Template, TemplateCatalog

__all__ = [
    "FollowUpTarget",
    "Reach",
    "all_clear_from_template",
    "all_clear_from_text",
    "all_clear_variables",
    "build_follow_up",
    "cap_reference",
    "follow_up_message",
    "follow_up_notes",
    "follow_up_target",
    "labelled_update",
    "lineage_reach",
    "root_of",
]

LINEAGE_SCAN_LIMIT = 500
ALL_CLEAR_TEXT_MAX = 160
HEADLINE_MAX = 160
UPDATE_LABELS = {"en": "Update", "es": "Actualización", "fr": "Mise à jour", "de": "Aktualisierung"}
_TEMPLATE_SAFE = re.compile(r"[^A-Za-z0-9À-ÿ ,.'()/#&:-]+")


def cap_reference(message: CrisisMessage) -> str:
    """The CAP ``references`` entry for ``message``: ``sender,identifier,sent``."""
    return f"{message.sender},{message.identifier},{message.sent.isoformat()}"


def _follow_up_of(record: DispatchRecord) -> JsonMapping:
    approval = record.summary.get("approval") or {}
    follow = approval.get("follow_up") if isinstance(approval, Mapping) else None
    return follow if isinstance(follow, Mapping) else {}


def root_of(record: DispatchRecord) -> str:
    """The id of the original alert of ``record``'s lineage (itself for an original)."""
    return str(_follow_up_of(record).get("root") or record.dispatch_id)


@dataclass(slots=True)
class Reach:
    """Where the original (and its follow-ups) actually arrived."""

    root: DispatchRecord
    message: CrisisMessage  # the original's message
    follow_ups: list[DispatchRecord] = field(default_factory=list)  # oldest first
    delivered: dict[str, list[DeliveryRecord]] = field(default_factory=dict)  # root's, per channel
    later: list[dict[str, list[DeliveryRecord]]] = field(default_factory=list)  # each follow-up's
    planned_channels: tuple[str, ...] = ()
    all_clear_id: str | None = None  # a sent all-clear of this lineage, if any

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels on which the original delivered at least one delivery."""
        return tuple(name for name, ds in self.delivered.items() if ds)

    def lineage(self, channel: str) -> list[list[DeliveryRecord]]:
        """What the original, then each follow-up that reached ``channel``, delivered there."""
        return [self.delivered.get(channel, []), *(f[channel] for f in self.later if f.get(channel))]

    def plans(self) -> dict[str, FollowUpPlan]:
        """Each reached channel's follow-up plan (its spec's ``follow_up``); state channels have none."""
        from crisiscast.channels.registry import names, spec_for

        out: dict[str, FollowUpPlan] = {}
        for name in self.channels:
            spec = spec_for(name) if name in names() else None
            if spec is not None and spec.follow_up is not None:
                out[name] = spec.follow_up(self.lineage(name))
        return out

    @property
    def message_references(self) -> tuple[str, ...]:
        """CAP references: the original, then every follow-up sent so far."""
        refs = [cap_reference(self.message)]
        for record in self.follow_ups:
            refs.append(cap_reference(CrisisMessage.model_validate(record.message)))
        return tuple(refs)


def _by_channel(records: Sequence[DeliveryRecord]) -> dict[str, list[DeliveryRecord]]:
    out: dict[str, list[DeliveryRecord]] = {}
    for rec in records:
        out.setdefault(rec.delivery.channel, []).append(rec)
    return out


async def lineage_reach(audit: AuditStore, dispatch_id: str) -> Reach:
    """The reach of ``dispatch_id``'s original alert; ``UserError`` for an unknown or unsent id.

    Every record is rebuilt from the dispatches' own events (``ChainViews``), never read from
    the ``dispatches``/``deliveries`` caches, so an edited cache cannot redirect a follow-up.
    """
    store = ChainViews(audit)
    record = await store.dispatch(dispatch_id)
    if record is None:
        raise UserError(
            f"There is no dispatch {dispatch_id[:80]} in the audit store; check the id with audit list."
        )
    if record.state == "draft":
        raise UserError(
            f"{dispatch_id} is a draft that was never sent; send it, or discard it with crisiscast cancel "
            f"{dispatch_id}."
        )
    root_id = root_of(record)
    root = record if root_id == dispatch_id else await store.dispatch(root_id)
    if root is None:
        raise UserError(f"The original alert {root_id} of {dispatch_id} is not in the audit store.")
    reach = Reach(root=root, message=CrisisMessage.model_validate(root.message))
    reach.planned_channels = tuple(root.summary.get("channels") or ())
    reach.delivered = _by_channel(await store.deliveries(root.dispatch_id, states=[DeliveryState.DELIVERED]))
    candidates = await store.dispatches(limit=LINEAGE_SCAN_LIMIT)
    reach.follow_ups = sorted(
        (c for c in candidates if c.dispatch_id != root.dispatch_id and root_of(c) == root.dispatch_id),
        key=lambda c: c.created_at,
    )
    for follow in reach.follow_ups:
        if _follow_up_of(follow).get("kind") == "cancel":
            reach.all_clear_id = follow.dispatch_id
        records = await store.deliveries(follow.dispatch_id, states=[DeliveryState.DELIVERED])
        reach.later.append(_by_channel(records))
    return reach


@dataclass(frozen=True, slots=True)
class FollowUpTarget:
    """How to plan a follow-up: the dispatcher's ``reply_to``/``only_targets`` and the skips."""

    follow_up: Mapping[str, str]  # {"kind", "of", "root"}, recorded in the approval
    reply_to: Mapping[str, str]
    only_targets: Mapping[str, frozenset[str]]
    skipped: tuple[tuple[str, str], ...]


def follow_up_target(reach: Reach, kind: str, of: str) -> FollowUpTarget:
    """The plan options of an ``update`` or ``cancel`` follow-up of ``reach``.

    ``reply_to`` holds ``channel`` and ``channel:target`` keys (``RenderContext.reply_to``).
    """
    reply_to: dict[str, str] = {}
    only_targets: dict[str, frozenset[str]] = {}
    for name, plan in reach.plans().items():
        if plan.reply_to:
            reply_to[name] = plan.reply_to
        for target, provider_id in plan.reply_to_target.items():
            reply_to[f"{name}:{target}"] = provider_id
        if plan.only_targets is not None:
            only_targets[name] = plan.only_targets
    root_id = reach.root.dispatch_id
    skipped = tuple(
        (name, f"the original alert {root_id} reached nobody on {name}")
        for name in reach.planned_channels
        if name not in reach.channels
    )
    follow_up = {"kind": kind, "of": of, "root": root_id}
    if kind == "cancel" and reach.message.escalation:  # the all-clear's plan stops the escalation
        follow_up["escalation"] = "stop"
    return FollowUpTarget(
        follow_up=follow_up,
        reply_to=reply_to,
        only_targets=only_targets,
        skipped=skipped,
    )


def follow_up_notes(reach: Reach, channels: Sequence[str]) -> list[str]:
    """What the follow-up does on each of ``channels`` beyond the preview (for the operator)."""
    plans = reach.plans()
    return [note for name in channels if (plan := plans.get(name)) is not None and (note := plan.note)]


def follow_up_message(reach: Reach, new: CrisisMessage, msg_type: MsgType) -> CrisisMessage:
    """``new`` as a CAP Update/Cancel of the original, limited to the channels it reached.

    Raises ``PolicyError`` when ``new``'s status differs from the original's (a drill's
    follow-up must stay a drill, a real alert's must stay real), and ``UserError`` when the
    original reached no channel or its all-clear was already sent.
    """
    original = reach.message
    root_id = reach.root.dispatch_id
    if reach.all_clear_id is not None:
        raise UserError(
            f"The all-clear of {root_id} was already sent as {reach.all_clear_id}; "
            "send a new alert instead of following up on it."
        )
    if new.status is not original.status:
        raise PolicyError(
            f"The {msg_type.value} is {new.status.value} but the original alert {root_id} is "
            f"{original.status.value}; a follow-up keeps the original's status."
        )
    channels = reach.channels
    if new.channels is not None:
        channels = tuple(c for c in channels if c in new.channels)
    if not channels:
        raise UserError(
            f"The original alert {root_id} was delivered on no channel"
            f"{' you named' if new.channels else ''}, so there is nobody to follow up with; "
            "send a new alert instead."
        )
    data = new.model_dump()
    data.update(msg_type=msg_type, references=reach.message_references, channels=channels)
    if msg_type is MsgType.UPDATE:
        data["headline"] = labelled_update(data["headline"], new.language)
        for lang, words in data["translations"].items():
            words["headline"] = labelled_update(words["headline"], lang)
        for own in data["channel_text"].values():
            for lang, words in own.items():
                words["headline"] = labelled_update(words["headline"], lang)
    return CrisisMessage.model_validate(data)


def labelled_update(headline: str, language: str) -> str:
    """``headline`` starting with "Update:" in its language, so no one takes it for a new alert.

    It also keeps an Update's first X post from repeating the original's (X refuses duplicates).
    Left as is when it already says so, or when the label would make it too long.
    """
    label = UPDATE_LABELS.get(language.split("-", maxsplit=1)[0], UPDATE_LABELS["en"])
    if headline.casefold().startswith(label.casefold()) or len(label) + 2 + len(headline) > HEADLINE_MAX:
        return headline
    return f"{label}: {headline}"


def all_clear_variables(original: CrisisMessage, template: Template) -> dict[str, str]:
    """Variables for an all-clear template: ``alert`` is the original's headline, made to fit."""
    if "alert" not in template.variables:
        return {}
    limit = template.variables["alert"].max_length
    text = " ".join(_TEMPLATE_SAFE.sub(" ", original.headline).split())
    if len(text) > limit:
        text = text[:limit].rsplit(" ", 1)[0].rstrip(" ,.:-")
    return {"alert": text or original.event or "the alert"}


def all_clear_from_template(
    reach: Reach, template: Template, variables: Mapping[str, str], *, sender: str
) -> CrisisMessage:
    """The all-clear (CAP Cancel) rendered from ``template``, in the original's status and language."""
    values = {**all_clear_variables(reach.message, template), **variables}
    language = reach.message.language if reach.message.language in template.text else None
    message = template.render(
        values,
        status=reach.message.status,
        language=language,
        msg_type=MsgType.CANCEL,
        references=reach.message_references,
        audiences=reach.message.audiences,
        sender=sender,
    )
    return follow_up_message(reach, message, MsgType.CANCEL)


def all_clear_from_text(reach: Reach, text: str, *, sender: str, expires_in_s: int = 3600) -> CrisisMessage:
    """A free-text all-clear (CAP Cancel): the original's event and status, ``text`` as headline."""
    headline = " ".join(text.split())
    if not headline:
        raise UserError(
            "The all-clear text is empty; write what people should know, or use --template all-clear."
        )
    if len(headline) > ALL_CLEAR_TEXT_MAX:
        raise UserError(f"The all-clear text is {len(headline)} characters; keep it to {ALL_CLEAR_TEXT_MAX}.")
    original = reach.message
    now = datetime.now(UTC)
    message = CrisisMessage(
        sender=sender,
        sent=now,
        status=original.status,
        msg_type=MsgType.CANCEL,
        references=reach.message_references,
        event=original.event,
        severity=Severity.MINOR,
        urgency=Urgency.IMMEDIATE,
        language=original.language,
        headline=headline,
        audiences=original.audiences,
        expires=now + timedelta(seconds=expires_in_s),
    )
    return follow_up_message(reach, message, MsgType.CANCEL)


def build_follow_up(
    reach: Reach,
    kind: str,
    catalog: TemplateCatalog,
    *,
    author: str,
    message: CrisisMessage | None = None,
    template_id: str | None = None,
    variables: Mapping[str, str] | None = None,
    all_clear_text: str | None = None,
) -> tuple[CrisisMessage, bool]:
    """The Update (``kind`` "update") or all-clear ("cancel") of ``reach``'s alert.

    From ``all_clear_text``, a template, or a free-text ``message``. Returns the message and
    whether it came from a template. Raises ``TemplateError``/``PolicyError``/``UserError``.
    """
    if all_clear_text is not None:
        return all_clear_from_text(reach, all_clear_text, sender=author), False
    if template_id is not None and kind == "cancel":
        template = catalog.get(template_id)
        return all_clear_from_template(reach, template, dict(variables or {}), sender="crisiscast"), True
    msg_type = MsgType.UPDATE if kind == "update" else MsgType.CANCEL
    if template_id is not None:
        rendered = catalog.get(template_id).render(
            dict(variables or {}),
            status=reach.message.status,
            audiences=reach.message.audiences,
            msg_type=msg_type,  # the template's Update words, when it has them
            references=reach.message_references,
        )
        return follow_up_message(reach, rendered, msg_type), True
    if message is None:
        raise UserError("Give a message or a template for the follow-up.")
    return follow_up_message(reach, message, msg_type), False
