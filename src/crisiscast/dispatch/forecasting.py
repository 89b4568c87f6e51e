"""The arrival forecast of a planned dispatch, recorded with the plan so the report can put it
beside the actual times.

``plan_forecast`` takes what the plan knows — the deliveries per channel, each channel's limits
(request rate, burst, attempts, deadline) — and ``[preflight]`` (the fixed start, the request
latency, the SMS sender's pace), and returns per channel when the first, the median, the 95th
percentile and the last delivery should be accepted by the provider, in seconds from the plan's
record (``dispatch_planned``). A delivery whose payload counts ``segments`` is a text: the SMS
sender's pace (segments per second) applies to it; every other channel is paced by our own
limiter alone (its provider's own pace is not known here).

``forecast_vs_actual`` compares that record with the actual time to the last accepted delivery
per channel; the CLI's send report and the after-action report both use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from crisiscast.jsontypes import JsonObject
from crisiscast.preflight.forecast import (
    SENDER_SEGMENTS_PER_S,
    ChannelLoad,
    forecast_channel,
    retry_tail_s,
    start_s_for,
)

if TYPE_CHECKING:
    from crisiscast.channels.base import Channel
    from crisiscast.delivery import Delivery
    from crisiscast.preflight.settings import PreflightConfig

__all__ = ["forecast_vs_actual", "plan_forecast"]


def _segments(deliveries: Sequence[Delivery]) -> int:
    """The most SMS segments a delivery of this channel has; 0 when its deliveries are not texts."""
    counted = (d.payload.get("segments") for d in deliveries)
    return max((int(s) for s in counted if isinstance(s, int | float)), default=0)


def _sms_segments_per_s(config: PreflightConfig) -> float:
    per_number = config.sms_segments_per_s or SENDER_SEGMENTS_PER_S.get(config.sms_sender, 1.0)
    return per_number * config.sms_numbers


def plan_forecast(
    deliveries: Mapping[str, Sequence[Delivery]], channels: Mapping[str, Channel], config: PreflightConfig
) -> JsonObject:
    """``{"start_s": …, "channels": {name: {deliveries, first_s, p50_s, p95_s, max_s, sentence}}}``."""
    total = sum(len(ds) for ds in deliveries.values())
    start_s = start_s_for(
        total, dispatch_start_s=config.dispatch_start_s, plan_s_per_recipient=config.plan_s_per_recipient
    )
    out: JsonObject = {}
    for name, ds in deliveries.items():
        channel = channels.get(name)
        if not ds or channel is None:
            continue
        limits = channel.limits
        segments = _segments(ds)
        load = ChannelLoad(
            channel=name,
            recipients=len(ds),
            units_per_s=_sms_segments_per_s(config) if segments else math.inf,
            units_per_recipient=max(segments, 1),
            requests_per_s=limits.max_requests_per_s,
            burst=limits.burst,
            start_s=start_s,
            latency_s=config.request_latency_s,
            failure_rate=config.expected_failure_rate,
            max_attempts=limits.max_attempts,
            retry_tail_s=retry_tail_s(limits.max_attempts, limits.deadline_s),
            noun="delivery" if not segments else "text",
            unit="request" if not segments else "segment",
        )
        f = forecast_channel(load)
        out[name] = {
            "deliveries": f.recipients,
            "first_s": round(f.first_s, 3),
            "p50_s": round(f.p50_s, 3),
            "p95_s": round(f.p95_s, 3),
            "max_s": round(f.max_s, 3),
        }
    return {"start_s": round(start_s, 3), "channels": out}


def forecast_vs_actual(
    forecast: Mapping[str, object] | None, actual_last_s: Mapping[str, float | None]
) -> list[JsonObject]:
    """Per channel of the recorded forecast: ``{channel, forecast_s, actual_s, error, sentence}``.

    ``actual_last_s`` is each channel's time to its last accepted delivery, from the plan's
    record (None when nothing was delivered). ``error`` is (forecast − actual) / actual.
    """
    channels = forecast.get("channels") if isinstance(forecast, Mapping) else None
    if not isinstance(channels, Mapping):
        return []
    rows: list[JsonObject] = []
    for name, entry in channels.items():
        if not isinstance(entry, Mapping) or not isinstance(entry.get("max_s"), int | float):
            continue
        predicted = float(entry["max_s"])
        actual = actual_last_s.get(str(name))
        error = (predicted - actual) / actual if actual else None
        rows.append(
            {
                "channel": str(name),
                "forecast_s": round(predicted, 3),
                "actual_s": None if actual is None else round(actual, 3),
                "error": None if error is None else round(error, 3),
                "sentence": _sentence(str(name), predicted, actual, error),
            }
        )
    return rows


def _sentence(name: str, predicted: float, actual: float | None, error: float | None) -> str:
    if actual is None or error is None:
        return f"{name}: forecast {predicted:.1f} s to the last delivery; nothing was delivered."
    return f"{name}: last delivery forecast {predicted:.1f} s, actual {actual:.1f} s ({error:+.0%})."
