"""One delivery, from pending (or in doubt) to a settled state: limiter → attempt → record → retry.

Each round of the retry stage (a fresh tenacity ``AsyncRetrying`` per delivery):

1. stop at once if the dispatch was cancelled or the message expired;
2. if the delivery is in doubt, ask the provider (``reconcile``): found → delivered; not
   found → send again; cannot ask → the in-doubt policy decides (resend flagged
   ``ambiguous_resend``, or hold: the delivery stays in doubt for a later resume);
3. wait for the account's limiter (cancellable), record ``attempt_started`` durably,
   make exactly one ``Channel.send``, record the outcome.

``Transient`` errors are retried; ``Ambiguous`` makes the delivery in doubt and is retried
as a reconcile (never a blind resend); ``Permanent`` and unexpected exceptions (bugs in a
channel) fail this delivery only. ``deliver`` never raises, except ``CancelledError``.
An attempt whose outcome could not be recorded (the store failed after ``attempt_started``)
is never recorded failed: it ends this run in doubt, for a resume to reconcile.
``max_attempts`` counts sends (per run): a look-up that failed this time is asked again
after a back-off without spending an attempt; the deadline bounds the look-ups.
"""

from __future__ import annotations

from dataclasses import dataclass

import structlog

from crisiscast.audit.events import EventKind
from crisiscast.audit.fencing import LeaseLost
from crisiscast.delivery import Delivery, DeliveryState, Receipt
from crisiscast.dispatch.failpoints import failpoint
from crisiscast.dispatch.limiter import Grant
from crisiscast.dispatch.retry import DeadlineStop
from crisiscast.dispatch.state import ChannelRun, RunState
from crisiscast.errors import (
    Ambiguous,
    CannotReconcile,
    DeliveryError,
    Duplicate,
    Permanent,
    RateLimited,
    Transient,
    Unanswered,
)
from crisiscast.jsontypes import JsonObject

__all__ = ["deliver"]

log = structlog.get_logger(__name__)

_D = DeliveryState
_MAX_BLIND_RESENDS = 1  # unreconcilable in-doubt resends per delivery per run


class _Halt(Exception):
    """Stop this delivery without another attempt: cancelled, expired, deadline or held."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class _InDoubt(Transient):
    """Retried like a transient error, but the next round reconciles instead of resending."""

    kind = "ambiguous"


class _Settled(Exception):
    """The delivery already reached its final state (recorded and counted)."""


@dataclass(slots=True)
class _Progress:
    key: str
    previous: Receipt | None
    attempts: int  # sends of this delivery so far (earlier runs included)
    in_doubt: bool
    deadline_at: float
    resend: bool = False
    blind_resends: int = 0
    reconcile_error: str | None = None
    last: DeliveryError | None = None
    attempts_before: int = 0  # sends made by earlier runs (each run has its own attempt budget)
    was_in_doubt: bool = False  # an earlier attempt may have arrived (a Duplicate then means it did)
    outcome_unrecorded: bool = False  # attempt_started written (or being written), outcome not yet


async def deliver(run: RunState, cr: ChannelRun, d: Delivery) -> None:
    """Take ``d`` to a settled state for this run (see the module docstring)."""
    try:
        await _deliver(run, cr, d)
    except _Settled:  # settled on purpose somewhere down the path: nothing more to do
        return
    except Exception as exc:  # a bug in our own code: fail this delivery, never the others
        log.error("delivery_crashed", dispatch_id=run.dispatch_id, delivery=d.key, exc_info=True)
        reason = f"internal error: {type(exc).__name__}"
        try:
            await run.record(EventKind.DELIVERY_FAILED, d.key, {"code": "internal_error", "reason": reason})
        except Exception:  # the store itself is failing: the delivery stays open for a resume
            log.error(
                "delivery_failure_not_recorded", dispatch_id=run.dispatch_id, delivery=d.key, exc_info=True
            )
        run.settle(cr, d, _D.FAILED, code="internal_error", reason=reason)


async def _deliver(run: RunState, cr: ChannelRun, d: Delivery) -> None:
    key = d.key
    prior = run.prior.get(key) if run.prior else None
    previous = await _wait_for_previous(run, cr, d) if d.after is not None else None
    now = run.clock()
    deadline_at = now + cr.policy.deadline_s
    if run.expires_at is not None:
        deadline_at = min(deadline_at, run.expires_at)
    p = _Progress(
        key=key,
        previous=previous,
        attempts=prior.attempts if prior is not None else 0,
        in_doubt=prior is not None and prior.state is _D.IN_DOUBT,
        was_in_doubt=prior is not None and prior.state is _D.IN_DOUBT,
        deadline_at=deadline_at,
        attempts_before=prior.attempts if prior is not None else 0,
    )
    try:
        # The first attempt runs without tenacity (its per-call set-up costs more than the
        # attempt's own bookkeeping); only a transient failure enters the retry stage.
        try:
            receipt = await _round(run, cr, d, p)
        except Transient as first:
            receipt = await _retry_stage(run, cr, d, p, first=first, started_at=now)
    except _Halt as halt:
        await _halted(run, cr, d, p, halt.why)
        return
    except _Settled:
        raise
    except Exception:
        if not p.outcome_unrecorded:
            raise
        # the request may have reached the provider and its outcome is not in the store: never
        # record it failed (it may have arrived); it stays in doubt and a resume reconciles it
        log.error("attempt_outcome_not_recorded", dispatch_id=run.dispatch_id, delivery=key, exc_info=True)
        run.settle(cr, d, _D.IN_DOUBT)
        return
    run.settle(cr, d, _D.DELIVERED, receipt=receipt)


async def _retry_stage(
    run: RunState, cr: ChannelRun, d: Delivery, p: _Progress, *, first: Transient, started_at: float
) -> Receipt:
    """Retry after the first transient failure: a fresh tenacity ``AsyncRetrying`` for this delivery.

    Raises ``_Halt``, or ``_Settled`` once it gave up (recorded and counted).
    """
    retrying = cr.policy.retrying(
        deadline_at=started_at + cr.policy.deadline_s,
        expires_at=run.expires_at,
        clock=run.clock,
        sleep=run.backoff_sleep,
        # only sends count against max_attempts: a failed provider look-up costs no attempt
        # (the deadline bounds the look-ups)
        attempts=lambda: p.attempts - p.attempts_before,
    )
    replay: list[Transient] = [first]  # tenacity's attempt 1 replays the real first failure

    async def attempt() -> Receipt:
        if replay:
            raise replay.pop()
        return await _round(run, cr, d, p)

    try:
        receipt: Receipt = await retrying(attempt)
    except Transient as exc:  # retries exhausted: attempts, deadline or expiry
        stop = retrying.stop
        why = stop.reason if isinstance(stop, DeadlineStop) else "attempts"
        await _gave_up(run, cr, d, p, exc, why=why)
        raise _Settled from None
    return receipt


async def _wait_for_previous(run: RunState, cr: ChannelRun, d: Delivery) -> Receipt | None:
    """The receipt of the part ``d`` is chained after; settles ``d`` when that part did not arrive."""
    assert d.after is not None
    gate = run.gates.get(d.after)
    if gate is None:  # not in this run: resume knows it from the store
        before = run.prior.get(d.after)
        if before is not None and before.state is _D.DELIVERED:
            return Receipt(provider_id=before.provider_id)
        state = before.state if before is not None else _D.FAILED
    else:
        if not await run.token.wait(gate):
            await _halted(run, cr, d, None, "cancelled")
            raise _Settled
        state, receipt = gate.result()
        if state is _D.DELIVERED:
            return receipt
    if state is _D.CANCELLED:
        await _halted(run, cr, d, None, "cancelled")
    elif state in (_D.PENDING, _D.IN_DOUBT):
        run.settle(cr, d, _D.PENDING)  # stays pending until the previous part is resolved
    else:
        await _fail(run, cr, d, "previous_failed", "previous part failed")
    raise _Settled


async def _round(run: RunState, cr: ChannelRun, d: Delivery, p: _Progress) -> Receipt:
    if run.token.cancelled:
        raise _Halt("cancelled")
    if run.expired():
        raise _Halt("expired")
    if p.in_doubt:
        found = await _reconcile(run, cr, d, p)
        if found is not None:
            return found
    limiter = cr.limiter
    grant = await limiter.acquire(run.token, until=p.deadline_at)
    if not grant:
        raise _Halt("cancelled" if run.token.cancelled else "expired" if run.expired() else "deadline")
    try:
        now = run.clock()
        if run.expires_at is not None and now >= run.expires_at:
            raise _Halt("expired")
        if now >= p.deadline_at:
            raise _Halt("deadline")
        p.attempts += 1
        cr.report.attempts += 1
        started: JsonObject = {"attempt": p.attempts}
        if p.resend:
            started["ambiguous_resend"] = True
            started["reconcile_error"] = p.reconcile_error
            p.resend = False
        p.outcome_unrecorded = True
        try:
            await run.record(EventKind.ATTEMPT_STARTED, p.key, started)
        except LeaseLost:  # another worker holds it now (crisiscast.audit.fencing): send nothing
            p.outcome_unrecorded = False
            log.warning("attempt_fenced", dispatch_id=run.dispatch_id, delivery=d.key)
            raise _Halt("held") from None
        failpoint("after_attempt_started")
        if run.progress is not None:
            run.notify(cr.report.channel, p.key, _D.IN_DOUBT)
        error: DeliveryError | None = None
        try:
            receipt = await cr.channel.send(d, p.previous)
        except Duplicate as exc:
            limiter.record_success()
            if p.was_in_doubt:  # the provider has it: the earlier, in-doubt attempt arrived
                receipt = Receipt(
                    provider_id=None,
                    status="duplicate_of_earlier_attempt",
                    detail={"code": exc.code, "reason": exc.reason},
                )
            else:
                error = exc
        except DeliveryError as exc:
            error = exc
            if isinstance(exc, Permanent):
                limiter.record_success()  # a healthy provider said no
            elif isinstance(exc, Unanswered):
                limiter.record_success()  # the provider placed the call; nobody took it
            elif not isinstance(exc, RateLimited):
                limiter.record_failure()  # 5xx, refused, timeout: the provider looks unwell
        except Exception as exc:  # a bug in the channel: this delivery fails, nothing else
            log.error("channel_send_crashed", dispatch_id=run.dispatch_id, delivery=d.key, exc_info=True)
            reason = f"internal error in the {cr.report.channel} channel: {type(exc).__name__}"
            error = Permanent(reason, code="internal_error")
        else:
            limiter.record_success()
        latency_ms = round((run.clock() - now) * 1000.0, 1)
    finally:
        # the slot is the provider's: give it back before our own bookkeeping
        limiter.release(probe=grant is Grant.PROBE)
    failpoint("after_provider_answered")
    if error is not None:
        return await _failed_attempt(run, cr, d, p, error, latency_ms=latency_ms)
    succeeded: JsonObject = {
        "attempt": p.attempts,
        "provider_id": receipt.provider_id,
        "latency_ms": latency_ms,
    }
    if receipt.status == "duplicate_of_earlier_attempt":
        succeeded["duplicate_of_earlier_attempt"] = True
    await run.record(EventKind.ATTEMPT_SUCCEEDED, p.key, succeeded)
    p.outcome_unrecorded = False
    return receipt


async def _failed_attempt(
    run: RunState, cr: ChannelRun, d: Delivery, p: _Progress, error: DeliveryError, *, latency_ms: float
) -> Receipt:
    retry_after_s = getattr(error, "retry_after_s", None)
    data = {
        "attempt": p.attempts,
        "error": error.kind,
        "code": error.code,
        "reason": error.reason,
        "retry_after_s": retry_after_s,
        "latency_ms": latency_ms,
    }
    if isinstance(error, RateLimited) and retry_after_s:
        cr.limiter.pause(retry_after_s)
    p.last = error
    if isinstance(error, Ambiguous):
        p.was_in_doubt = True
        await run.record(EventKind.ATTEMPT_FAILED, d.key, data)
        p.outcome_unrecorded = False
        p.in_doubt = True
        raise _InDoubt(error.reason, code=error.code, status=error.status)
    if isinstance(error, Transient):
        if error.status is not None and error.status >= 500:
            # a server error may come after the provider stored the post: a Duplicate answer
            # to the retry then means this attempt arrived (X documents 5xx as "wait and retry")
            p.was_in_doubt = True
        await run.record(EventKind.ATTEMPT_FAILED, d.key, data)
        p.outcome_unrecorded = False
        if run.progress is not None:
            run.notify(cr.report.channel, d.key, _D.PENDING)  # will be retried
        raise error
    final = {"code": error.code, "reason": error.reason, "attempts": p.attempts}
    await run.store.append(
        [run.event(EventKind.ATTEMPT_FAILED, d.key, data), run.event(EventKind.DELIVERY_FAILED, d.key, final)]
    )
    p.outcome_unrecorded = False
    run.settle(cr, d, _D.FAILED, code=error.code, reason=error.reason)
    raise _Settled


async def _reconcile(run: RunState, cr: ChannelRun, d: Delivery, p: _Progress) -> Receipt | None:
    """Ask the provider about an in-doubt delivery. None: send again (maybe as a flagged resend).

    The question is a provider request too, so it takes a limiter slot like an attempt, and its
    answer tells the account's circuit how the provider is (a failed look-up while the provider
    is down backs the probes off like a failed send; an answer closes the circuit).
    """
    grant = await cr.limiter.acquire(run.token, until=p.deadline_at)
    if not grant:
        raise _Halt("cancelled" if run.token.cancelled else "expired" if run.expired() else "deadline")
    try:
        found = await cr.channel.reconcile(d)
        cr.limiter.record_success()
    except CannotReconcile as exc:  # the provider offers no way to ask: the policy decides
        p.reconcile_error = str(exc) or type(exc).__name__
        # an at-most-once channel (no read-back) is never resent, whatever the policy says
        if not exc.never_resend and p.blind_resends < _MAX_BLIND_RESENDS and run.may_resend_unreconciled():
            p.blind_resends += 1
            p.resend = True
            p.in_doubt = False
            return None
        raise _Halt("held") from exc
    except Exception as exc:  # asking failed this time (5xx, timeout): ask again after a back-off
        if isinstance(exc, RateLimited):
            if exc.retry_after_s:
                cr.limiter.pause(exc.retry_after_s)
        else:
            cr.limiter.record_failure()
        log.debug("reconcile_failed", dispatch_id=run.dispatch_id, delivery=d.key, error=str(exc))
        raise _InDoubt(
            f"could not ask the provider whether it arrived: {exc}", code="reconcile_failed"
        ) from exc
    finally:
        cr.limiter.release(probe=grant is Grant.PROBE)
    await run.record(
        EventKind.DELIVERY_RECONCILED,
        d.key,
        {"found": found is not None, "provider_id": found.provider_id if found is not None else None},
    )
    p.in_doubt = False
    return found


async def _last_reconcile(run: RunState, cr: ChannelRun, d: Delivery, p: _Progress) -> bool:
    """Before giving up on an in-doubt delivery: settle it delivered if the provider has it.

    Returns True when settled here; False when the provider does not have it. Leaves it in
    doubt (settled as such) when the provider cannot be asked, or not before the delivery's
    deadline: the look-up takes a limiter slot like any request (a Retry-After pause, an open
    circuit or the rate may make it wait, up to the deadline), so giving up never adds a
    request the account may not make. A cancel does not stop this look-up: it sends nothing.
    """
    grant = await cr.limiter.acquire(None, until=max(run.clock(), p.deadline_at))
    if not grant:
        run.settle(cr, d, _D.IN_DOUBT)
        return True
    try:
        found = await cr.channel.reconcile(d)
        cr.limiter.record_success()
    except Exception as exc:
        if isinstance(exc, RateLimited):
            if exc.retry_after_s:
                cr.limiter.pause(exc.retry_after_s)
        elif not isinstance(exc, CannotReconcile):
            cr.limiter.record_failure()
        run.settle(cr, d, _D.IN_DOUBT)
        return True
    finally:
        cr.limiter.release(probe=grant is Grant.PROBE)
    await run.record(
        EventKind.DELIVERY_RECONCILED,
        d.key,
        {"found": found is not None, "provider_id": found.provider_id if found is not None else None},
    )
    if found is not None:
        run.settle(cr, d, _D.DELIVERED, receipt=found)
        return True
    return False


async def _halted(run: RunState, cr: ChannelRun, d: Delivery, p: _Progress | None, why: str) -> None:
    if why == "held":
        run.settle(cr, d, _D.IN_DOUBT)
        return
    if p is not None and p.in_doubt and await _last_reconcile(run, cr, d, p):
        return
    if why == "cancelled":
        reason = run.token.reason or "cancelled"
        await run.record(EventKind.DELIVERY_CANCELLED, d.key, {"reason": reason})
        run.settle(cr, d, _D.CANCELLED, reason=reason)
    elif why == "expired":
        await _fail(run, cr, d, "expired", "the message expired before it could be sent")
    else:
        last = p.last if p is not None else None
        code = last.code if last is not None and last.code else "deadline_exceeded"
        detail = f"{last.reason}; " if last is not None else ""
        await _fail(run, cr, d, code, f"{detail}gave up at the channel's delivery deadline")


async def _gave_up(
    run: RunState, cr: ChannelRun, d: Delivery, p: _Progress, exc: Transient, *, why: str
) -> None:
    if p.in_doubt and await _last_reconcile(run, cr, d, p):
        return
    if why == "expired":
        await _fail(run, cr, d, "expired", f"{exc.reason}; the message expired before a retry could succeed")
        return
    bound = "at the channel's delivery deadline" if why == "deadline" else f"after {p.attempts} attempts"
    await _fail(run, cr, d, exc.code or "exhausted", f"{exc.reason}; gave up {bound}")


async def _fail(run: RunState, cr: ChannelRun, d: Delivery, code: str, reason: str) -> None:
    await run.record(EventKind.DELIVERY_FAILED, d.key, {"code": code, "reason": reason})
    run.settle(cr, d, _D.FAILED, code=code, reason=reason)
