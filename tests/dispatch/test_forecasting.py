"""The forecast recorded with a plan: texts at the SMS sender's pace, everything else at our own
request limit, from the dispatch's fixed start; and how it is put beside the actual times."""

from __future__ import annotations

import pytest

from crisiscast.channels.base import ChannelLimits
from crisiscast.delivery import Delivery
from crisiscast.dispatch.forecasting import forecast_vs_actual, plan_forecast
from crisiscast.preflight import PreflightConfig
from crisiscast.preflight.forecast import LIMITER_HEADROOM
from tests.dispatch.helpers import ScriptChannel


def _channel(name: str, limits: ChannelLimits) -> ScriptChannel:
    return ScriptChannel(channel_name=name, limits=limits)


def _deliveries(channel: str, n: int, **payload: object) -> list[Delivery]:
    return [Delivery("d1", channel, f"t{i}", 0, "body", payload=payload) for i in range(n)]


def test_texts_go_at_the_sender_pace_and_the_rest_at_our_limit() -> None:
    """120 two-segment texts on a long code (1 segment/s) take 240 s; 50 posts at 10/s (burst 5) 4.6 s."""
    config = PreflightConfig(dispatch_start_s=0.5, plan_s_per_recipient=0.01, request_latency_s=0.2)
    deliveries = {"texts": _deliveries("texts", 120, segments=2), "posts": _deliveries("posts", 50)}
    channels = {
        "texts": _channel("texts", ChannelLimits(max_requests_per_s=100, burst=10, max_attempts=1)),
        "posts": _channel("posts", ChannelLimits(max_requests_per_s=10, burst=5, max_attempts=1)),
    }
    result = plan_forecast(deliveries, channels, config)
    start = 0.5 + 0.01 * 170
    assert result["start_s"] == pytest.approx(start)
    planned = result["channels"]
    assert isinstance(planned, dict)
    texts, posts = planned["texts"], planned["posts"]
    assert isinstance(texts, dict) and isinstance(posts, dict)
    assert texts["deliveries"] == 120
    assert texts["max_s"] == pytest.approx(start + 240 + 0.2, abs=0.001)
    assert posts["max_s"] == pytest.approx(start + 45 / (10 * LIMITER_HEADROOM) + 0.2, abs=0.001)
    assert posts["first_s"] == pytest.approx(start + 0.2, abs=0.001)


def test_a_channel_without_deliveries_or_not_built_has_no_forecast() -> None:
    """Nothing planned (or no channel object in this process): no row."""
    channels = {"posts": _channel("posts", ChannelLimits())}
    result = plan_forecast({"posts": [], "gone": _deliveries("gone", 3)}, channels, PreflightConfig())
    assert result["channels"] == {}


def test_forecast_beside_actual_with_the_error_and_a_sentence() -> None:
    """The error is (forecast − actual) / actual; a channel that delivered nothing says so."""
    recorded = {"start_s": 0.1, "channels": {"texts": {"max_s": 12.0}, "posts": {"max_s": 3.0}}}
    rows = forecast_vs_actual(recorded, {"texts": 10.0})
    assert rows == [
        {
            "channel": "texts",
            "forecast_s": 12.0,
            "actual_s": 10.0,
            "error": 0.2,
            "sentence": "texts: last delivery forecast 12.0 s, actual 10.0 s (+20%).",
        },
        {
            "channel": "posts",
            "forecast_s": 3.0,
            "actual_s": None,
            "error": None,
            "sentence": "posts: forecast 3.0 s to the last delivery; nothing was delivered.",
        },
    ]
    assert forecast_vs_actual(None, {"texts": 1.0}) == []
    assert forecast_vs_actual({"channels": "broken"}, {}) == []
