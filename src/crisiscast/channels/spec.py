"""``ChannelSpec``: everything crisiscast knows about one channel, in one place.

A channel is one package, ``crisiscast.channels.<name>``, whose ``__init__`` defines ``SPEC``,
and one line in ``crisiscast.channels.registry.SPECS``. Every other part of crisiscast —
configuration, secrets and their redaction, planning and its PHI guard, the preview and the
confirmation question, exercise isolation, Update and all-clear, the sandbox and the demo,
the HTTP server's routes and health checks, the status API — reads the specs and never
branches on a channel's name.

What a spec declares (all plain data or functions; nothing here does I/O on import):

``name``
    The one name of the channel: in message files (``channels: [name]``), the configuration
    section ``[channels.<name>]``, the secrets (``CRISISCAST_<NAME>_…``), the audit, the CLI
    and the sandbox.
``title``
    What people read (``"X (Twitter)"``); also the subject of the PHI guard's sentence.
``public``
    Whether the public can read what it sends. Public channels are guarded against patient
    information once, when the dispatch is planned and in the preview — never inside a
    channel's own adaptation.
``config_model``
    The section model, a subclass of ``crisiscast.config.ChannelSection`` (switch, limits,
    retry bounds and timeout shared by every channel).
``secret_names``
    The environment secrets the channel reads, without the ``CRISISCAST_`` prefix, in lower
    case (``"twitter_consumer_key"``). They are loaded into ``Secrets`` and redacted everywhere.
``build``
    ``build(settings, secrets, exercise=...) -> Channel``, importing the channel's heavy
    modules only when called. Raises ``ChannelUnavailable`` with a plain reason.
``preview``
    ``preview(message, settings) -> ChannelPreview``: the exact text, with the channel's own
    measures, typed. Raises ``UserError`` with a plain sentence when the channel cannot take
    the message.
``exercise_targets``
    The pairs (production, exercise) of targets the configuration alone names, with their
    normalised identities; configuration loading refuses an exercise target equal to its
    production one.
``exercise_clash``
    The check at build time, with what only built channels know (a secret, a symbolic link):
    ``clash(exercise_channel, production_channel) -> reason | None``. ``None`` compares the
    channels' ``account``; ``audience_isolated`` channels (one account, kept apart by
    audiences) are checked by the audiences instead.
``follow_up``
    Where an Update or all-clear goes on this channel, from what the original (and earlier
    follow-ups) delivered: ``follow_up(lineage) -> FollowUpPlan`` (reply to a post, only the
    recipients reached, and a note for the operator). ``None``: the follow-up replaces the
    channel's state (banner, signage).
``escalation``
    The escalation actions this channel carries (``crisiscast.escalation.policy.Action``
    values: ``resend_sms``, ``call``, ``notify_supervisor``).
``fakes``
    The sandbox fakes that stand in for the provider (``crisiscast sandbox``, the demo and the
    tests), each with the configuration field that points the channel at it.
``sandbox_config``
    Configuration values for a run in a scratch directory (the demo): local files, contacts.
``probe``
    A health check for ``/healthz`` and for the demo (``None`` when the channel needs none).
``routes``
    HTTP routes the channel adds to ``crisiscast serve`` (provider callbacks, public feeds).
``receipts``
    Whether the provider reports per-recipient handset receipts (shown by the status API).
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from crisiscast.config import ChannelSection, Secrets, Settings

if TYPE_CHECKING:
    from aiohttp import web

    from crisiscast.audit.base import AuditStore, DeliveryRecord
    from crisiscast.channels.base import Channel
    from crisiscast.channels.preview import ChannelPreview
    from crisiscast.message import CrisisMessage

__all__ = [
    "Builder",
    "ChannelSpec",
    "ExerciseTarget",
    "FakeRole",
    "FollowUpPlan",
    "HealthProbe",
    "RouteDeps",
    "RouteHooks",
    "lazy_build",
]

C = TypeVar("C", bound=ChannelSection)
HealthProbe = Callable[[], Awaitable[str | None]]


class Builder(Protocol):
    """``build(settings, secrets, exercise=...)``: a ready channel, or ``ChannelUnavailable``."""

    def __call__(self, settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel: ...


@dataclass(frozen=True, slots=True)
class ExerciseTarget:
    """One production target and its exercise counterpart, as the configuration names them.

    ``setting`` is the field of the channel's section that holds the exercise target;
    ``production_id``/``exercise_id`` are the normalised identities compared
    (``crisiscast.isolation``). An exercise target of None is not configured.
    """

    what: str  # "Facebook page"
    setting: str  # "exercise_page_id"
    production: str | None
    exercise: str | None
    production_id: str | None
    exercise_id: str | None


@dataclass(frozen=True, slots=True)
class FollowUpPlan:
    """How an Update or all-clear goes out on one channel.

    ``reply_to`` is the provider id to continue from (the thread's newest post, the original
    post), ``reply_to_target`` the same per target (one X thread per language);
    ``only_targets`` restricts the recipients to those the original reached (None: no
    limit); ``note`` tells the operator what the follow-up does beyond the preview.
    """

    reply_to: str | None = None
    reply_to_target: Mapping[str, str] = field(default_factory=dict)
    only_targets: frozenset[str] | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class FakeRole:
    """One sandbox fake standing in for a provider account of the channel.

    ``factory`` is ``"module:Class"`` (imported when the sandbox starts); the class's
    module may define ``sandbox_env(exercise=False)``, the ``CRISISCAST_*`` secrets the fake
    accepts. ``url_field`` is the section's field that points the channel at the fake. An
    ``exercise`` role is the drill account; it runs only when ``url_field`` is set.
    """

    role: str
    factory: str
    url_field: str
    exercise: bool = False
    title: str = ""  # what ``crisiscast sandbox`` calls it ("X API (exercise account)")


@dataclass(frozen=True, slots=True)
class RouteDeps:
    """What a channel's HTTP routes may use: the configuration, secrets, store and a counter.

    ``count(result)`` adds one to ``crisiscast_provider_callbacks_total{channel, result}``.
    """

    settings: Settings
    secrets: Secrets
    store: AuditStore
    count: Callable[[str], None]
    receipt_wait_s: float = 5.0


@dataclass(frozen=True, slots=True)
class RouteHooks:
    """What the server tells a channel's routes: ``on_delivered()`` after each delivery of
    the channel by this process (so a provider callback that raced it is matched at once)."""

    on_delivered: Callable[[], None] | None = None
    links: tuple[tuple[str, str], ...] = ()  # (what, path on the server) worth showing people


def lazy_build(module: str) -> Builder:
    """A ``build`` that imports ``module`` (and its ``build``) only when a channel is built, so
    listing channels (``--help``, the configuration) never pays for a provider's SDK."""

    def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> Channel:
        real = cast(Builder, importlib.import_module(module).build)
        return real(settings, secrets, exercise=exercise)

    build.module = module  # type: ignore[attr-defined]  # what the server warms up at start
    return build


def _no_targets(config: Any, settings: Settings) -> Sequence[ExerciseTarget]:
    return ()


@dataclass(frozen=True, slots=True)
class ChannelSpec(Generic[C]):
    """Everything about one channel (see the module docstring for each field)."""

    name: str
    title: str
    public: bool
    config_model: type[C]
    build: Builder
    preview: Callable[[CrisisMessage, Settings], ChannelPreview]
    secret_names: tuple[str, ...] = ()
    exercise_targets: Callable[[C, Settings], Sequence[ExerciseTarget]] = _no_targets
    exercise_clash: Callable[[Channel, Channel], str | None] | None = None
    audience_isolated: bool = False
    follow_up: Callable[[Sequence[Sequence[DeliveryRecord]]], FollowUpPlan] | None = None
    fakes: tuple[FakeRole, ...] = ()
    escalation: tuple[str, ...] = ()
    sandbox_config: Callable[[Path], Mapping[str, object]] | None = None
    probe: Callable[[C, Secrets], HealthProbe] | None = None
    routes: Callable[[web.Application, RouteDeps], RouteHooks] | None = None
    receipts: bool = False

    def config(self, settings: Settings) -> C:
        """This channel's section of ``settings``, typed."""
        return cast(C, settings.channels.section(self.name))

    def enabled(self, settings: Settings) -> bool:
        return self.config(settings).enabled
