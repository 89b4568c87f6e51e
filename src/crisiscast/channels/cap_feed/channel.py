"""The CAP feed as a channel: a delivery publishes the alert on the feed.

The feeds ``crisiscast serve`` publishes (``routes``) are read from the audit store: an
alert is on a feed exactly when its ``cap`` delivery is delivered, and the document served
is that delivery's body — the CAP XML rendered when the dispatch was planned and approved,
byte for byte. So ``send`` has nothing to transmit: it checks that the delivery is a CAP
document for this feed and returns the alert's identifier as the receipt; the dispatcher
records it and from then on the feed serves it. Publishing is idempotent (the same
identifier, the same document), so ``reconcile`` answers "published" and a resume never
shows an alert twice.

Exercise and Test alerts go to the exercise feed only (its own path); a configuration whose
exercise feed is the production feed does not load.
"""

from __future__ import annotations

from collections.abc import Sequence

from crisiscast.channels.base import BaseChannel, ChannelLimits, ChannelUnavailable, RenderContext
from crisiscast.channels.cap_feed import SPEC
from crisiscast.channels.cap_feed.config import CapConfig
from crisiscast.channels.cap_feed.document import CAP_NS, cap_xml
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Permanent
from crisiscast.message import CrisisMessage

__all__ = ["ACTUAL_FEED", "EXERCISE_FEED", "CapChannel", "build"]

ACTUAL_FEED = "actual"
EXERCISE_FEED = "exercise"


class CapChannel(BaseChannel):
    """Publishes alerts on one CAP feed (the production or the exercise feed)."""

    name = "cap_feed"
    public = True

    def __init__(
        self, *, feed: str, feed_path: str, config: CapConfig, policy: PolicyConfig, limits: ChannelLimits
    ) -> None:
        self.feed = feed
        self.feed_path = feed_path
        self.account = f"cap:{feed_path}"
        self.config = config
        self.policy = policy
        self.limits = limits

    def __repr__(self) -> str:
        return f"CapChannel(account={self.account!r})"

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One delivery: the alert's CAP document, for this feed."""
        return [
            Delivery(
                dispatch_id=ctx.dispatch_id,
                channel=self.name,
                target=self.feed,
                part=1,
                body=cap_xml(message, self.config, self.policy),
                language=message.language,
                payload={"identifier": message.identifier, "feed_path": self.feed_path},
            )
        ]

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Publish: the receipt is the alert's identifier (the feed reads the audit)."""
        identifier = str(delivery.payload.get("identifier") or "")
        if delivery.target != self.feed or not identifier or CAP_NS not in delivery.body:
            raise Permanent(
                f"This delivery is not a CAP document for the {self.feed} feed; it was planned for "
                f"{delivery.target!r}.",
                code="wrong_feed",
            )
        return Receipt(provider_id=identifier, detail={"feed_path": self.feed_path})

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Publishing is idempotent: an in-doubt publication is simply published."""
        return await self.send(delivery, None)


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> CapChannel:
    """The production feed or (``exercise``) the exercise feed.

    Raises ``ChannelUnavailable`` when the feed is disabled or, for an exercise, no exercise
    feed is configured.
    """
    cfg = SPEC.config(settings)
    if not cfg.enabled:
        raise ChannelUnavailable(
            "The CAP feed is disabled in the configuration ([channels.cap_feed] enabled = false)."
        )
    if exercise:
        if not cfg.exercise_feed_path:
            raise ChannelUnavailable(
                "No CAP exercise feed is configured; set [channels.cap_feed] exercise_feed_path to publish "
                "exercises."
            )
        feed, path = EXERCISE_FEED, cfg.exercise_feed_path
    else:
        feed, path = ACTUAL_FEED, cfg.feed_path
    return CapChannel(
        feed=feed, feed_path=path, config=cfg, policy=settings.policy, limits=ChannelLimits.from_config(cfg)
    )
