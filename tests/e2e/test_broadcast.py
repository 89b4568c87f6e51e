"""End to end: one message to all five channels against the sandbox, and the audit against the fakes.

Real parts throughout: the channels built by the registry from a TOML configuration, the
real ``Dispatcher`` and SQLite store, the protocol-faithful fakes over HTTP on 127.0.0.1, the
banner state file, and the real Mosquitto read back by an independent subscriber.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
from pathlib import Path

import pytest

from crisiscast.audit.base import DeliveryRecord
from crisiscast.audit.events import EventKind
from crisiscast.channels.registry import spec_for
from crisiscast.delivery import DeliveryState
from crisiscast.loader import load_message
from crisiscast.sandbox.x import XPost

from .ledger import check_ledger, read_audit
from .stage import Stage, open_stage

EXAMPLES = Path(__file__).resolve().parents[2] / "config" / "examples"


def assert_thread_chained(stage: Stage, records: list[DeliveryRecord], *, exercise: bool) -> int:
    """Every X part after the first replied to the post of the part before it; returns threads."""
    fake = stage.x_exercise if exercise else stage.x
    posts: dict[str | None, XPost] = {p["id"]: p for p in fake.posts}
    threads: dict[str, list[DeliveryRecord]] = {}
    for r in records:
        threads.setdefault(r.delivery.target, []).append(r)
    for parts in threads.values():
        parts.sort(key=lambda r: r.delivery.part)
        assert posts[parts[0].provider_id]["in_reply_to_tweet_id"] is None
        for before, after in itertools.pairwise(parts):
            assert after.delivery.after == before.delivery.key
            assert posts[after.provider_id]["in_reply_to_tweet_id"] == before.provider_id
    return len(threads)


async def test_long_two_language_message_reaches_all_five_channels_and_the_audit_matches(
    tmp_path: Path, mqtt_url: str
) -> None:
    """The shipped long two-language example to X (a thread per language), Facebook, 200 SMS
    recipients, the banner and MQTT: everything is delivered; per channel and per delivery the
    audit's attempts equal the requests the fakes received; the audit's provider ids are exactly
    the ids the fakes issued; the thread parts reply to each other; the banner file and the
    retained MQTT message are the published documents (their digests are the recorded ids); and
    nothing reached the exercise accounts."""
    message = load_message(EXAMPLES / "long-two-language.yaml")
    async with open_stage(tmp_path, mqtt_url, staff=200, drill=5) as stage:
        plan, report = await stage.broadcast(message)

        assert report.ok, json.dumps(report.to_json(), indent=1)[:3000]
        counts = {name: len(ds) for name, ds in plan.deliveries.items()}
        assert counts["sms"] == 200 and counts["facebook"] >= 1
        assert counts["banner"] == 1 and counts["mqtt"] == 1
        view = await read_audit(stage.store, plan.dispatch_id)
        assert {r.state for r in view.records.values()} == {DeliveryState.DELIVERED}
        assert len(view.records) == sum(counts.values())

        figures = check_ledger(stage, view, exercise=False)
        print(f"\nA1 all five channels: {figures.line()}")
        threads = assert_thread_chained(stage, view.deliveries("twitter"), exercise=False)
        assert threads == 2 and counts["twitter"] > threads, "the long message should thread in each language"
        assert {m["to"] for m in stage.twilio.messages()} == set(stage.staff)

        # the banner file and the retained MQTT message hold exactly what was published
        (banner,) = view.deliveries("banner")
        data = stage.banner_path(exercise=False).read_bytes()
        assert banner.provider_id == f"banner.json@{hashlib.sha256(data).hexdigest()[:12]}"
        document = json.loads(data)
        assert document["status"] == "active" and document["headline"] == message.headline
        assert document == dict(banner.delivery.payload)
        (signage,) = view.deliveries("mqtt")
        payload = await stage.retained(stage.mqtt_topic(exercise=False))
        assert payload is not None
        assert (
            signage.provider_id
            == f"{stage.mqtt_topic(exercise=False)}@{hashlib.sha256(payload).hexdigest()[:12]}"
        )
        assert json.loads(payload)["headline"] == message.headline
        for state_channel in ("banner", "mqtt"):
            assert len(view.of(EventKind.ATTEMPT_STARTED, state_channel)) == 1

        assert (await stage.store.verify()).ok

        # an Actual message never touches the exercise targets
        assert not [r for r in stage.x_exercise.requests if not r.path.startswith("/_sandbox")]
        assert not stage.banner_path(exercise=True).exists()
        assert await stage.retained(stage.mqtt_topic(exercise=True)) is None
        exercise_page = spec_for("facebook").config(stage.settings).exercise_page_id
        assert not [p for p in stage.graph.posts if p["id"].startswith(f"{exercise_page}_")]


async def test_the_ledger_check_catches_an_unaudited_request_and_a_wrong_provider_id(
    tmp_path: Path, mqtt_url: str
) -> None:
    """The A1 check itself: one request more at a fake than the audit recorded, or a provider
    id the fake never issued, each make ``check_ledger`` fail (so the other tests can fail)."""
    message = load_message(EXAMPLES / "exercise.yaml")
    async with open_stage(tmp_path, mqtt_url, staff=2, drill=5) as stage:
        plan, report = await stage.broadcast(message)
        assert report.ok
        view = await read_audit(stage.store, plan.dispatch_id)
        check_ledger(stage, view, exercise=True)

        extra = dataclasses.replace(next(r for r in stage.twilio.requests if r.method == "POST"))
        stage.twilio.requests.append(extra)
        with pytest.raises(AssertionError, match="requests"):
            check_ledger(stage, view, exercise=True)
        stage.twilio.requests.remove(extra)

        post = stage.x_exercise.posts[0]
        post["id"] = str(int(post["id"]) + 1000)
        with pytest.raises(AssertionError, match="provider ids differ"):
            check_ledger(stage, view, exercise=True)
