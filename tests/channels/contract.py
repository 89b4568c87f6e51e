"""The channel contract suite: the same checks for every channel against its fake.

Every channel's tests call these helpers, so every channel is held to the same promises:

- ``assert_limits_declared(channel)``: name, account and ``ChannelLimits`` declared as data;
- ``assert_delivers(channel, delivery)``: one send returns a ``Receipt`` with a provider id;
- ``assert_classified(channel, delivery, case, fake=...)``: a scripted provider answer is
  raised as exactly the expected class (``Transient`` is not ``RateLimited``), with the
  expected ``code``/``status``/``retry_after_s`` and a one-line plain reason;
- ``watch_for_leaks(canaries)``: a context that captures structlog and stdlib log lines and
  collects errors/receipts; on exit it asserts that no canary secret appears anywhere;
- ``run_contract_suite(...)``: all of the above in one call, and a check that the cases cover
  every error class (``Transient``, ``RateLimited``, ``Permanent``, ``Ambiguous``) unless a
  class is declared not applicable with a reason.

Typical use (see ``tests/channels/test_twitter.py``)::

    canaries = make_canaries("CRISISCAST_TWITTER_CONSUMER_KEY", ...)
    fake = FakeX(credentials=...canaries...)       # the fake accepts the canary secrets
    await run_contract_suite(channel, fake=fake, make_delivery=next_delivery,
                             cases=[ErrorCase("503", Transient, fault=Fault(status=503)), ...],
                             canaries=canaries.values())

Canaries must be planted *before* the channel is built, so that every code path that could
leak a secret (signing, auth headers, error handling, logging) handles the canary value.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import structlog

from crisiscast.channels.base import Channel, ChannelLimits
from crisiscast.channels.registry import names
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, RateLimited, Transient
from crisiscast.sandbox.common import FakeProvider, Fault

__all__ = [
    "REQUIRED_ERROR_CLASSES",
    "ErrorCase",
    "LeakWatch",
    "assert_classified",
    "assert_delivers",
    "assert_limits_declared",
    "assert_no_canary",
    "assert_plain_reason",
    "make_canaries",
    "run_contract_suite",
    "watch_for_leaks",
]

REQUIRED_ERROR_CLASSES: tuple[type[DeliveryError], ...] = (Transient, RateLimited, Permanent, Ambiguous)


def make_canaries(*env_names: str) -> dict[str, str]:
    """A distinct, recognisable, random secret value per environment variable name.

    Values are alphanumeric (valid as any token) and long enough for redaction to apply.
    """
    return {name: f"canary{secrets.token_hex(12)}" for name in env_names}


def assert_no_canary(canaries: Iterable[str], *texts: str, where: str = "output") -> None:
    """Fail if any canary value (or its first 12 characters) appears in any text."""
    for canary in canaries:
        needles = {canary, canary[:12]} if len(canary) > 12 else {canary}
        for text in texts:
            for needle in needles:
                assert needle not in text, f"a secret leaked into {where}: {text[:200]!r}"


def assert_plain_reason(err: BaseException) -> None:
    """A user-facing reason: one non-empty line, no traceback, of a readable length."""
    text = str(err)
    assert text.strip(), f"{type(err).__name__} has an empty reason"
    assert "\n" not in text, f"reason is not one line: {text!r}"
    assert "Traceback" not in text, f"reason contains a traceback: {text!r}"
    assert len(text) <= 400, f"reason is too long ({len(text)} chars): {text[:120]!r}…"


class _ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a broken record must not hide a leak in the others
            self.lines.append(repr(record.__dict__))


class LeakWatch:
    """Collects everything a user or a log reader could see, and checks it for canaries."""

    def __init__(self, canaries: Iterable[str], logs: list[MutableMapping[str, Any]]) -> None:
        self.canaries = [c for c in canaries if c]
        self.logs = logs  # structlog events (structlog.testing.capture_logs)
        self.std_lines: list[str] = []
        self.texts: list[str] = []

    def add(self, *objects: object) -> None:
        """Remember what a user could see of these objects (errors, receipts, reports)."""
        for obj in objects:
            self.texts.append(str(obj))
            self.texts.append(repr(obj))
            if isinstance(obj, BaseException):
                self.texts.extend(str(a) for a in obj.args)
                self.texts.append(repr(vars(obj)) if hasattr(obj, "__dict__") else "")
            if isinstance(obj, Receipt):
                self.texts.append(repr(dict(obj.detail)))

    def assert_clean(self) -> None:
        assert_no_canary(self.canaries, *self.texts, where="an error, receipt or report")
        assert_no_canary(self.canaries, *(repr(event) for event in self.logs), where="a structlog event")
        assert_no_canary(self.canaries, *self.std_lines, where="a log line")


@contextmanager
def watch_for_leaks(canaries: Iterable[str]) -> Iterator[LeakWatch]:
    """Capture structlog events and stdlib log lines (DEBUG and up) for the block; on a clean
    exit assert that no canary appears in them or in anything passed to ``watch.add``.

    Note: structlog loggers cached on first use before the block are not captured; tests
    should not configure ``cache_logger_on_first_use``.
    """
    handler = _ListHandler()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        with structlog.testing.capture_logs() as logs:
            watch = LeakWatch(canaries, logs)
            watch.std_lines = handler.lines
            yield watch
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    watch.assert_clean()


def assert_limits_declared(channel: Channel) -> None:
    """The channel declares its name, account and limits as data, with sane values."""
    assert isinstance(channel, Channel), "the channel does not satisfy the Channel protocol"
    assert channel.name in names(), f"unknown channel name {channel.name!r}"
    assert isinstance(channel.account, str) and channel.account, "the channel declares no account"
    assert ":" in channel.account, f"the account {channel.account!r} should read '<provider>:<account id>'"
    limits = channel.limits
    assert isinstance(limits, ChannelLimits)
    assert limits.max_concurrency >= 1
    assert limits.max_attempts >= 1
    assert limits.burst >= 1
    assert limits.deadline_s > 0
    assert limits.max_requests_per_s is None or limits.max_requests_per_s > 0
    assert isinstance(channel.public, bool)


async def assert_delivers(channel: Channel, delivery: Delivery, previous: Receipt | None = None) -> Receipt:
    """One send succeeds with a provider id."""
    receipt = await channel.send(delivery, previous)
    assert isinstance(receipt, Receipt), f"send returned {type(receipt).__name__}, not a Receipt"
    assert isinstance(receipt.provider_id, str) and receipt.provider_id, "the receipt has no provider id"
    return receipt


@dataclass(frozen=True, slots=True)
class ErrorCase:
    """One provider behaviour and the classified error a channel must raise for it.

    Arrange it with ``fault`` (scripted on the channel's ``FakeProvider`` before the send)
    and/or ``arrange`` (any async setup: stop a broker, change the fake's state).
    ``retry_after_s`` is checked to within ``retry_after_tolerance_s`` (reset times are
    wall-clock based); ``None`` leaves it unchecked unless ``no_retry_after`` is set.
    """

    name: str
    expected: type[DeliveryError]
    code: str | None = None
    status: int | None = None
    retry_after_s: float | None = None
    retry_after_tolerance_s: float = 2.0
    no_retry_after: bool = False
    reason_contains: str | None = None
    fault: Fault | None = None
    arrange: Callable[[], Awaitable[None]] | None = None

    def __str__(self) -> str:
        return self.name


async def assert_classified(
    channel: Channel,
    delivery: Delivery,
    case: ErrorCase,
    *,
    fake: FakeProvider | None = None,
    previous: Receipt | None = None,
) -> DeliveryError:
    """Arrange the case, make one send, and check the classified error it raises."""
    if case.fault is not None:
        assert fake is not None, f"case {case.name} scripts a fault but no fake was given"
        fake.faults.scripted.append(dataclasses.replace(case.fault, headers=dict(case.fault.headers)))
    if case.arrange is not None:
        await case.arrange()
    with pytest.raises(DeliveryError) as info:
        await channel.send(delivery, previous)
    err = info.value
    assert type(err) is case.expected, (
        f"{case.name}: expected {case.expected.__name__}, got {type(err).__name__}: {err}"
    )
    if case.code is not None:
        assert err.code == case.code, f"{case.name}: code {err.code!r}, expected {case.code!r}"
    if case.status is not None:
        assert err.status == case.status, f"{case.name}: status {err.status!r}, expected {case.status!r}"
    retry_after_s = getattr(err, "retry_after_s", None)
    if case.retry_after_s is not None:
        assert retry_after_s is not None, f"{case.name}: no retry_after_s"
        assert abs(retry_after_s - case.retry_after_s) <= case.retry_after_tolerance_s, (
            f"{case.name}: retry_after_s {retry_after_s}, expected about {case.retry_after_s}"
        )
    elif case.no_retry_after:
        assert retry_after_s is None, f"{case.name}: unexpected retry_after_s {retry_after_s}"
    if case.reason_contains is not None:
        assert case.reason_contains in str(err), f"{case.name}: reason {str(err)!r}"
    assert_plain_reason(err)
    return err


async def run_contract_suite(
    channel: Channel,
    *,
    make_delivery: Callable[[], Delivery],
    cases: Sequence[ErrorCase],
    canaries: Iterable[str],
    fake: FakeProvider | None = None,
    not_applicable: Mapping[type[DeliveryError], str] | None = None,
    previous: Receipt | None = None,
) -> None:
    """The whole contract for one channel: limits, success, every error case, no leaks.

    ``make_delivery`` must return a fresh delivery on every call (providers reject
    duplicates). ``not_applicable`` excuses an error class with the reason it cannot occur.
    """
    excused = dict(not_applicable or {})
    covered = {case.expected for case in cases}
    missing = [cls.__name__ for cls in REQUIRED_ERROR_CLASSES if cls not in covered and cls not in excused]
    assert not missing, f"the contract cases do not cover: {', '.join(missing)}"
    canary_list = list(canaries)
    with watch_for_leaks(canary_list) as watch:
        assert_limits_declared(channel)
        assert_no_canary(canary_list, channel.account, repr(channel), where="the channel's account or repr")
        watch.add(await assert_delivers(channel, make_delivery(), previous))
        for case in cases:
            watch.add(await assert_classified(channel, make_delivery(), case, fake=fake, previous=previous))
        if fake is not None:
            # What the provider saw is not ours to check for secrets (it needs them), but
            # the fake's fault queue must be drained, or a case did not reach the provider.
            assert not fake.faults.scripted, "a scripted fault was never consumed"
