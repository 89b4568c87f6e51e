"""An escalation step as deliveries of the dispatch: planned and audited like any delivery.

A step's deliveries belong to the dispatch it escalates, with ``part`` ``100 + step``, so
their keys (``crisiscast.delivery.delivery_key``) never clash with the original's or another
step's, and the dispatcher's idempotency holds: planned once, sent once, an in-doubt one
reconciled before anything is sent again. A resent SMS or a call is rendered by the channel
itself (with ``only_targets``), so it says exactly what the original said, with how to
answer; the supervisor's notice is one SMS per supervisor naming their people.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from crisiscast.channels.base import Channel, RenderContext
from crisiscast.delivery import Delivery
from crisiscast.errors import UserError
from crisiscast.escalation.policy import Action
from crisiscast.escalation.schedule import PlannedStep
from crisiscast.escalation.who import NextUp
from crisiscast.message import CrisisMessage, MessageText, Status
from crisiscast.rollcall.view import PersonStatus

__all__ = [
    "PART_BASE",
    "StepDeliveries",
    "channel_for",
    "reminder_of",
    "step_deliveries",
    "supervisor_text",
    "with_escalation_channels",
]

PART_BASE = 100  # an escalation delivery's part: PART_BASE + step
REMINDER = {"en": "Reminder", "es": "Recordatorio", "fr": "Rappel", "de": "Erinnerung"}
HEADLINE_MAX = 160
NOTICE = {
    "en": {
        "head": 'crisiscast: {count} of your staff have not answered "{headline}" after {after} min. '
        "Please check on them:",
        "more": " and {count} more",
    },
    "es": {
        "head": 'crisiscast: {count} de su personal no han respondido a "{headline}" tras {after} min. '
        "Compruebe cómo están:",
        "more": " y {count} más",
    },
    "fr": {
        "head": "crisiscast : {count} de vos collaborateurs n'ont pas répondu à « {headline} » après "
        "{after} min. Vérifiez qu'ils vont bien :",
        "more": " et {count} autres",
    },
}
NOTICE_MAX_CHARS = 300


def channel_for(action: Action) -> str | None:
    """The channel that carries ``action`` (its spec's ``escalation``), or None."""
    from crisiscast.channels.registry import specs

    return next((s.name for s in specs() if action.value in s.escalation), None)


@dataclasses.dataclass(frozen=True, slots=True)
class StepDeliveries:
    """What a step plans: its deliveries, and who it could not reach (with why)."""

    deliveries: list[Delivery]
    not_reached: dict[str, str]  # number → reason


def with_escalation_channels(message: CrisisMessage) -> CrisisMessage:
    """``message`` whose channel list also names the channels its escalation steps use.

    A resume or a lease worker builds a dispatch's channels from its message: a ``call`` step
    of an SMS-only message needs the voice channel built too. Without steps, or with every
    enabled channel (no list), ``message`` itself.
    """
    if not message.escalation or message.channels is None:
        return message
    extra = [channel_for(step.action) for step in message.escalation]
    names = tuple(dict.fromkeys([*message.channels, *(n for n in extra if n is not None)]))
    return message if names == message.channels else message.model_copy(update={"channels": names})


def step_deliveries(
    message: CrisisMessage,
    step: PlannedStep,
    people: Sequence[PersonStatus],
    *,
    dispatch_id: str,
    channel: Channel | None,
    next_up: NextUp,
    now: datetime,
    languages: Mapping[str, str] | None = None,
) -> StepDeliveries:
    """The deliveries of ``step`` for ``people`` (``channel``: the one ``channel_for`` names)."""
    name = channel_for(step.action) or step.action.value
    if channel is None:
        reason = f"no channel for {step.action.value} is configured"
        return StepDeliveries([], {p.number: reason for p in people})
    marker = {"step": step.step, "action": step.action.value}
    if step.action is Action.NOTIFY_SUPERVISOR:
        return _notices(
            message,
            step,
            people,
            dispatch_id=dispatch_id,
            channel=channel,
            next_up=next_up,
            now=now,
            marker=marker,
            languages=languages or {},
        )
    numbers = frozenset(p.number for p in people)
    ctx = RenderContext(dispatch_id=dispatch_id, now=now, only_targets={name: numbers})
    rendered = [
        d
        for d in _render(channel, message, ctx, reminder=step.action is Action.RESEND_SMS)
        if d.target in numbers
    ]
    deliveries = [
        dataclasses.replace(
            d, part=PART_BASE + step.step, after=None, payload={**d.payload, "escalation": marker}
        )
        for d in rendered
    ]
    reached = {d.target for d in deliveries}
    missing = {n: f"the {name} channel has no recipient {n}" for n in sorted(numbers - reached)}
    return StepDeliveries(deliveries, missing)


def reminder_of(message: CrisisMessage) -> CrisisMessage:
    """``message`` with "Reminder: " (in each language) before its headlines.

    A resent SMS so differs from the original: the person sees it is the same alert again,
    and an in-doubt resend is never reconciled with the original's message at the provider.
    """

    def label(language: str, headline: str) -> str:
        word = REMINDER.get(language.split("-", maxsplit=1)[0], REMINDER["en"])
        return f"{word}: {headline}"[:HEADLINE_MAX]

    def texts(per_language: Mapping[str, MessageText]) -> dict[str, MessageText]:
        return {
            lang: text.model_copy(update={"headline": label(lang, text.headline)})
            for lang, text in per_language.items()
        }

    return message.model_copy(
        update={
            "headline": label(message.language, message.headline),
            "translations": texts(message.translations),
            "channel_text": {ch: texts(per_lang) for ch, per_lang in message.channel_text.items()},
        }
    )


def _render(
    channel: Channel, message: CrisisMessage, ctx: RenderContext, *, reminder: bool
) -> list[Delivery]:
    """The channel's deliveries; as a reminder when asked, unless that no longer fits its budget."""
    if reminder:
        try:
            return list(channel.render(reminder_of(message), ctx))
        except UserError:
            pass  # the reminder's few more words do not fit: the original words, as they were sent
    return list(channel.render(message, ctx))


def supervisor_text(
    message: CrisisMessage, step: PlannedStep, people: Sequence[PersonStatus], language: str = ""
) -> str:
    """``crisiscast: 2 of your staff have not answered "Fire …" after 30 min: Ana (+1…), …``,
    in ``language`` (English, Spanish or French; the message's own language by default)."""
    language = language or message.language
    words = NOTICE.get(language.split("-", maxsplit=1)[0], NOTICE["en"])
    headline = message.text(language).headline[:80]
    text = words["head"].format(count=len(people), headline=headline, after=f"{step.after_min:g}")
    for n, person in enumerate(people):
        who = f"{person.name} ({person.number})" if person.name else person.number
        more = words["more"].format(count=len(people) - n)
        if len(text) + len(who) + 2 + len(more) > NOTICE_MAX_CHARS:
            return text + more
        text += (" " if n == 0 else ", ") + who
    return text


def _notices(
    message: CrisisMessage,
    step: PlannedStep,
    people: Sequence[PersonStatus],
    *,
    dispatch_id: str,
    channel: Channel,
    next_up: NextUp,
    now: datetime,
    marker: Mapping[str, object],
    languages: Mapping[str, str],
) -> StepDeliveries:
    name = channel_for(Action.NOTIFY_SUPERVISOR) or Action.NOTIFY_SUPERVISOR.value
    by_supervisor: dict[str, list[PersonStatus]] = {}
    not_reached: dict[str, str] = {}
    for person in people:
        supervisor = next_up(person.number)
        if supervisor is None:
            not_reached[person.number] = "no supervisor or on-call person is known for them"
        else:
            by_supervisor.setdefault(supervisor, []).append(person)
    if message.status is not Status.ACTUAL and by_supervisor:
        # a drill never reaches a production number: only supervisors the drill itself reaches
        ctx = RenderContext(dispatch_id=dispatch_id, now=now, only_targets={name: frozenset(by_supervisor)})
        drilled = {d.target for d in channel.render(message, ctx)}
        for supervisor in [s for s in by_supervisor if s not in drilled]:
            for person in by_supervisor.pop(supervisor):
                not_reached[person.number] = "their supervisor is not in the exercise audiences"
    payload: dict[str, object] = {"rendered_at": now.astimezone(UTC).isoformat()}
    if message.expires is not None:
        payload["expires"] = message.expires.isoformat()
    deliveries = [
        Delivery(
            dispatch_id=dispatch_id,
            channel=name,
            target=supervisor,
            part=PART_BASE + step.step,
            body=supervisor_text(message, step, staff, languages.get(supervisor, "")),
            language=languages.get(supervisor) or message.language,
            payload={**payload, "escalation": {**marker, "for": [p.number for p in staff]}},
        )
        for supervisor, staff in by_supervisor.items()
    ]
    return StepDeliveries(deliveries, not_reached)
