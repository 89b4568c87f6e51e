"""A test-only channel, "pager", declared the way every channel is: one ``ChannelSpec``.

It posts each message to a pager gateway over HTTP (``POST /v1/pages``, bearer token from
``CRISISCAST_PAGER_TOKEN``), and ``FakePager`` is its sandbox fake. Nothing else in crisiscast
knows about it: the plug-in tests register it through ``registered_pager`` and check that
every part of crisiscast picks it up from the spec alone.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import ClientSession, web
from pydantic import SecretStr

from crisiscast.adapt.labels import label_for
from crisiscast.channels import registry
from crisiscast.channels.base import BaseChannel, ChannelLimits, ChannelUnavailable, RenderContext
from crisiscast.channels.preview import JsonValue, PreviewPanel
from crisiscast.channels.spec import ChannelSpec, ExerciseTarget, FakeRole, FollowUpPlan
from crisiscast.config import ChannelSection, PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Permanent, Transient
from crisiscast.message import CrisisMessage, Status
from crisiscast.sandbox.common import FakeProvider, RecordedRequest

if TYPE_CHECKING:
    import pytest

    from crisiscast.audit.base import DeliveryRecord

NAME = "pager"
TOKEN = "pager-sandbox-token-0123456789"


class PagerConfig(ChannelSection):
    api_base_url: str = "http://127.0.0.1:1"
    group: str = "hospital-all"
    exercise_group: str | None = "hospital-drill"


class PagerChannel(BaseChannel):
    name = NAME
    public = True

    def __init__(self, base_url: str, group: str, token: SecretStr, policy: PolicyConfig) -> None:
        self.policy = policy
        self.base_url = base_url.rstrip("/")
        self.group = group
        self.account = f"pager:{group}"
        self.limits = ChannelLimits.from_config(PagerConfig())
        self._token = token
        self._session: ClientSession | None = None

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        words = f"{message.headline} {message.instruction or ''}".strip()
        text = label_for(message, self.policy).apply(words)
        if ctx.reply_to.get(NAME):
            text = f"(re {ctx.reply_to[NAME]}) {text}"
        return [Delivery(ctx.dispatch_id, NAME, self.group, 0, text, message.language)]

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        if self._session is None:
            self._session = ClientSession()
        headers = {"Authorization": f"Bearer {self._token.get_secret_value()}"}
        body = {"group": delivery.target, "text": delivery.body}
        async with self._session.post(f"{self.base_url}/v1/pages", json=body, headers=headers) as resp:
            data = await resp.json()
            if resp.status >= 500:
                raise Transient("the pager gateway failed", status=resp.status)
            if resp.status != 201:
                raise Permanent("the pager gateway refused the page", status=resp.status)
            return Receipt(provider_id=str(data["id"]))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _build(settings: Settings, secrets: Secrets, *, exercise: bool) -> PagerChannel:
    config = SPEC.config(settings)
    token = secrets.get("pager_token")
    if token is None:
        raise ChannelUnavailable("CRISISCAST_PAGER_TOKEN is not set; export the pager token")
    group = config.exercise_group if exercise else config.group
    if group is None:
        raise ChannelUnavailable("no exercise pager group is configured")
    return PagerChannel(config.api_base_url, group, token, settings.policy)


@dataclass(frozen=True, slots=True)
class PagerPreview:
    text: str
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {"text": self.text}

    def panels(self) -> Sequence[PreviewPanel]:
        return [PreviewPanel("en", (self.text,), f"{len(self.text)} characters")]

    def summary(self) -> str | None:
        return None


def _preview(message: CrisisMessage, settings: Settings) -> PagerPreview:
    prefix = f"{settings.policy.exercise_marker} " if message.status is not Status.ACTUAL else ""
    return PagerPreview(f"{prefix}{message.headline}")


def _targets(config: PagerConfig, settings: Settings) -> Sequence[ExerciseTarget]:
    return [
        ExerciseTarget(
            "pager group",
            "exercise_group",
            config.group,
            config.exercise_group,
            config.group.strip().casefold(),
            config.exercise_group.strip().casefold() if config.exercise_group else None,
        )
    ]


def _follow_up(lineage: Sequence[Sequence[DeliveryRecord]]) -> FollowUpPlan:
    pages = [r.provider_id for r in lineage[0] if r.provider_id] if lineage else []
    first = pages[0] if pages else None
    return FollowUpPlan(reply_to=first, note=f"Pager: a follow-up page to page {first}" if first else None)


class FakePager(FakeProvider):
    """The pager gateway: ``POST /v1/pages`` with the bearer token → 201 ``{"id"}``."""

    name = "pager"

    def __init__(self, *, exercise: bool = False) -> None:
        super().__init__()
        self.pages: list[dict[str, Any]] = []
        self.route("POST", "/v1/pages", self._create)

    async def _create(self, request: web.Request, record: RecordedRequest) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {TOKEN}":
            return web.json_response({"error": "bad token"}, status=401)
        page = json.loads(await request.text())
        page["id"] = f"page-{len(self.pages) + 1}"
        self.pages.append(page)
        return web.json_response({"id": page["id"]}, status=201)


def sandbox_env(*, exercise: bool = False) -> dict[str, str]:
    return {"CRISISCAST_PAGER_TOKEN": TOKEN}


SPEC: ChannelSpec[PagerConfig] = ChannelSpec(
    name=NAME,
    title="Pager",
    public=True,
    config_model=PagerConfig,
    build=_build,
    preview=_preview,
    secret_names=("pager_token",),
    exercise_targets=_targets,
    follow_up=_follow_up,
    fakes=(FakeRole("pager", "tests.plugin.pager:FakePager", "api_base_url", title="Pager gateway"),),
)


@contextmanager
def registered_pager(monkeypatch: pytest.MonkeyPatch) -> Iterator[ChannelSpec[PagerConfig]]:
    """The registry with the pager appended, as one line in ``SPECS`` would make it."""
    monkeypatch.setattr(registry, "SPECS", (*registry.SPECS, SPEC))
    yield SPEC
