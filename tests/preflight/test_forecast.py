"""The arrival forecast: plain numbers per channel in, first/p50/p95/last arrival and one sentence out."""

from __future__ import annotations

import pytest

from crisiscast.preflight import PreflightConfig
from crisiscast.preflight.forecast import (
    LIMITER_HEADROOM,
    ChannelLoad,
    forecast,
    forecast_channel,
    format_duration,
    retry_tail_s,
    sms_load,
    start_s_for,
)


def test_two_thousand_two_segment_texts_on_one_long_code_take_about_67_minutes() -> None:
    """1 segment/s × 4,000 segments ≈ 67 min, with the advice to shorten (halves it) or use a short code."""
    result = forecast_channel(sms_load(2000, 2, sender="long_code", requests_per_s=100))
    assert result.max_s == pytest.approx(4001, abs=1)  # the last text is handed over at 4,000 s, +1 s latency
    assert result.sentence == (
        "SMS: last of 2,000 texts in about 67 min at 1 segment/s — shorten to 1 segment to halve it, "
        "or use the short code (about 41 s)."
    )
    assert result.first_s < result.p50_s < result.p95_s < result.max_s


def test_a_short_code_sends_the_same_in_about_forty_seconds() -> None:
    """100 segments/s: 4,000 segments in 40 s; no advice is needed under a minute."""
    result = forecast_channel(sms_load(2000, 2, sender="short_code"))
    assert result.max_s == pytest.approx(41, abs=0.5)
    assert result.sentence == "SMS: last of 2,000 texts in about 41 s at 100 segments/s."


def test_a_10dlc_account_uses_its_configured_throughput_times_its_numbers() -> None:
    """10DLC has no default pace: the brand class's segments/s, times the numbers in the pool."""
    with pytest.raises(ValueError, match="no default throughput"):
        sms_load(100, 1, sender="10dlc")
    result = forecast_channel(sms_load(1200, 1, sender="10dlc", segments_per_s=4.0, numbers=3))
    assert result.max_s == pytest.approx(1200 / 12 + 1)
    with pytest.raises(ValueError, match="sms_segments_per_s"):
        PreflightConfig(sms_sender="10dlc")


def test_our_own_request_limit_caps_the_pace_when_it_is_slower() -> None:
    """A request limit of 2/s holds a short code back to 2 texts per second (run at the limiter's 98 %)."""
    assert forecast_channel(sms_load(100, 1, sender="short_code", requests_per_s=2)).max_s == pytest.approx(
        99 / (2 * LIMITER_HEADROOM) + 1
    )


def test_the_limiter_burst_goes_at_once_and_the_rest_at_its_rate() -> None:
    """Burst 10 at 100 requests/s: the first 10 leave at once, the other 90 at 98/s."""
    load = sms_load(100, 1, segments_per_s=1e9, requests_per_s=100, burst=10)
    result = forecast_channel(load)
    assert result.first_s == pytest.approx(1.0, abs=1e-6)  # only the latency
    assert result.max_s == pytest.approx(90 / 98 + 1, abs=1e-6)
    assert forecast_channel(sms_load(10, 1, segments_per_s=1e9, requests_per_s=100, burst=10)).max_s == (
        pytest.approx(1.0, abs=1e-6)
    )


def test_the_fixed_start_shifts_every_arrival() -> None:
    """The dispatch's fixed start (start + plan cost per delivery) comes before the first request."""
    start = start_s_for(1000, dispatch_start_s=0.5, plan_s_per_recipient=0.001)
    assert start == pytest.approx(1.5)
    plain = forecast_channel(sms_load(1000, 1, sender="short_code"))
    started = forecast_channel(sms_load(1000, 1, sender="short_code", start_s=start))
    for before, after in zip(
        (plain.first_s, plain.p50_s, plain.p95_s, plain.max_s),
        (started.first_s, started.p50_s, started.p95_s, started.max_s),
        strict=True,
    ):
        assert after == pytest.approx(before + 1.5)


def test_the_headroom_is_the_limiters_own_default() -> None:
    """The forecast runs at the same share of the request limit as ``AccountLimiter`` does."""
    import inspect

    from crisiscast.dispatch.limiter import AccountLimiter

    assert inspect.signature(AccountLimiter).parameters["headroom"].default == LIMITER_HEADROOM


def test_the_start_defaults_are_configured_in_preflight() -> None:
    """``[preflight] dispatch_start_s`` and ``plan_s_per_recipient`` have measured defaults, not negative."""
    config = PreflightConfig()
    assert config.dispatch_start_s > 0
    assert config.plan_s_per_recipient > 0
    with pytest.raises(ValueError, match="dispatch_start_s"):
        PreflightConfig(dispatch_start_s=-1)


def test_retries_cost_attempts_and_add_their_backoff_to_the_last_arrival() -> None:
    """With 20 % of attempts failing, the pace drops by the expected attempts; the last waits its tail."""
    clean = forecast_channel(sms_load(1000, 1))
    tail = retry_tail_s(5, 300)
    assert tail == 1 + 2 + 4 + 8
    flaky = forecast_channel(sms_load(1000, 1, failure_rate=0.2, max_attempts=5, retry_tail=tail))
    attempts = (1 - 0.2**5) / (1 - 0.2)
    assert flaky.max_s == pytest.approx(1000 * attempts + 1 + tail)
    assert flaky.max_s > clean.max_s
    assert retry_tail_s(10, 60) == 60  # never past the channel's deadline


def test_it_warns_past_the_urgency_budget_and_past_the_expiry() -> None:
    """Past the budget: one warning; past the expiry as well: a second, saying some would never get it."""
    load = sms_load(2000, 2)
    within = forecast_channel(load, budget_s=7200, expires_in_s=7200)
    assert within.warnings == ()
    late = forecast_channel(load, budget_s=300, expires_in_s=3600)
    assert late.warnings == (
        "SMS: the last text arrives in about 67 min, later than the 5 min this message's urgency allows.",
        "SMS: the last text arrives in about 67 min, after the message expires (about 60 min from now); "
        "some people would never get it.",
    )


def test_voice_e_mail_and_posts_take_plain_numbers_too() -> None:
    """Any channel is a ChannelLoad: 300 calls at 1 call/s ≈ 5 min; an empty audience reaches nobody."""
    calls, mails, nobody = forecast(
        [
            ChannelLoad("voice", 300, 1.0, noun="call", unit="call"),
            ChannelLoad("email", 5000, 10.0, noun="e-mail", unit="e-mail"),
            ChannelLoad("twitter", 0, 1.0),
        ]
    )
    assert calls.sentence == "voice: last of 300 calls in about 5 min at 1 call/s."
    assert mails.max_s == pytest.approx(501)
    assert (nobody.recipients, nobody.max_s) == (0, 0.0)


def test_budgets_come_from_urgency_and_severity_the_tighter_wins() -> None:
    """Immediate allows 5 min by default; a configured Extreme budget of 2 min is tighter."""
    assert PreflightConfig().budget_s("Immediate", "Extreme") == 300
    assert PreflightConfig(severity_budget_s={"Extreme": 120}).budget_s("Immediate", "Extreme") == 120
    assert PreflightConfig(urgency_budget_s={}).budget_s("Immediate", "Minor") is None


@pytest.mark.parametrize(
    ("seconds", "text"), [(40.4, "about 40 s"), (4000, "about 67 min"), (9000, "about 2.5 h")]
)
def test_durations_read_plainly(seconds: float, text: str) -> None:
    """Seconds under 90 s, minutes under 90 min, then hours."""
    assert format_duration(seconds) == text
