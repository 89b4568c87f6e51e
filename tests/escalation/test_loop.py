"""The escalation timer with a controllable clock: who is called, when, and what stops it."""

from __future__ import annotations

from crisiscast.audit.events import EventKind
from crisiscast.dispatch import Dispatcher
from crisiscast.escalation.stop import stop_escalation
from crisiscast.lifecycle.followup import follow_up_target, lineage_reach
from crisiscast.message import CrisisMessage, MsgType
from crisiscast.rollcall.replies import record_reply
from crisiscast.rollcall.view import build_rollcall
from tests.escalation.conftest import ANA, BEN, CAL, STAFF, SUE, World, numbers, polled_message, staff


async def _answer(w: World, number: str, text: str, sid: str) -> None:
    outcome = await record_reply(w.store, number=number, text=text, provider_id=sid, now=w.clock.now())
    assert outcome.kind == "answer"


async def test_steps_reach_only_who_has_not_answered_in_order_and_time(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-1")
    loop = w.loop()
    assert [s["steps"] for s in await w.kinds("d-esc-1", EventKind.ESCALATION_SCHEDULED)] != []
    w.clock.advance(minutes=9)
    assert await loop.tick() == []  # nothing is due before 10 min
    await _answer(w, ANA, " safe. ", "SM-a")
    w.clock.advance(minutes=1)  # 10 min: the SMS again, to Ben and Cal
    [resend] = await loop.tick()
    assert (resend.step, resend.action, resend.people) == (1, "resend_sms", 2)
    assert numbers(w.channels.sent("sms")) == sorted([*STAFF, BEN, CAL])
    await _answer(w, BEN, "1", "SM-b")
    w.clock.advance(minutes=10)  # 20 min: a call, to Cal only
    [call] = await loop.tick()
    assert (call.step, call.action, call.people) == (2, "call", 1)
    assert numbers(w.channels.sent("voice")) == [CAL]
    w.clock.advance(minutes=10)  # 30 min: Cal has no supervisor; nobody to notify
    [notice] = await loop.tick()
    assert (notice.action, notice.people, notice.deliveries, notice.not_reached) == (
        "notify_supervisor",
        1,
        0,
        1,
    )
    w.clock.advance(minutes=10)
    assert await loop.tick() == []  # every step ran once
    steps = await w.kinds("d-esc-1", EventKind.ESCALATION_STEP)
    assert [(s["step"], s["people"]) for s in steps] == [(1, [BEN, CAL]), (2, [CAL]), (3, [CAL])]


async def test_the_supervisor_is_told_who_has_not_answered(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-2")
    await _answer(w, CAL, "1", "SM-c")
    w.clock.advance(minutes=30)  # a serve that was down: every due step runs, in order
    outcomes = await w.loop().tick()
    assert [(o.step, o.people) for o in outcomes] == [(1, 2), (2, 2), (3, 2)]
    [notice] = [d for d in w.channels.sent("sms") if d.target == SUE]
    assert "2 of your staff have not answered" in notice.body
    assert f"Ana ({ANA})" in notice.body and f"Ben ({BEN})" in notice.body
    rollcall = await build_rollcall(w.store, "d-esc-2", staff())
    assert rollcall is not None and rollcall.counts()["people"] == 3  # the supervisor is no polled person
    assert rollcall.counts()["not_answered"] == 2


async def _all_clear(w: World, dispatch_id: str, all_clear_id: str) -> None:
    reach = await lineage_reach(w.store, dispatch_id)
    target = follow_up_target(reach, "cancel", dispatch_id)
    all_clear = CrisisMessage(
        status=reach.message.status, msg_type=MsgType.CANCEL, references=reach.message_references,
        headline="All clear: Building B",
    )  # fmt: skip
    channels, _ = w.channels.build(w.settings, w.secrets, all_clear.model_copy(update={"channels": ("sms",)}))
    await Dispatcher(w.store).plan(
        all_clear, channels, approval={"approver": "test", "follow_up": dict(target.follow_up)},
        dispatch_id=all_clear_id, only_targets=target.only_targets,
    )  # fmt: skip


async def test_the_all_clear_stops_every_pending_step_in_its_own_plan_write(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-3")
    loop = w.loop()
    w.clock.advance(minutes=10)
    assert len(await loop.tick()) == 1
    await _all_clear(w, "d-esc-3", "d-clear-3")
    [stopped] = [e async for e in w.store.events("d-esc-3") if e.event.kind is EventKind.ESCALATION_STOPPED]
    [planned] = [e async for e in w.store.events("d-clear-3") if e.event.kind is EventKind.DISPATCH_PLANNED]
    assert stopped.event.data["all_clear"] == "d-clear-3"
    assert stopped.seq > planned.seq and stopped.seq - planned.seq < 20  # written with the all-clear's plan
    w.clock.advance(minutes=30)
    assert await loop.tick() == []
    assert len(w.channels.sent("voice")) == 0


async def test_the_all_clear_cancels_a_step_planned_but_not_sent(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-8")
    w.clock.advance(minutes=20)
    assert [o.step for o in await w.loop(send=False).tick()] == [1, 2]  # waiting for a lease worker
    await _all_clear(w, "d-esc-8", "d-clear-8")
    assert await w.loop().tick() == []
    records = await w.store.deliveries("d-esc-8")
    assert sorted(r.state.value for r in records if r.delivery.part > 100) == ["cancelled"] * 6
    assert w.channels.sent("voice") == []


async def test_a_cancel_stops_escalation(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-4")
    await Dispatcher(w.store).cancel("d-esc-4", who="ops", reason="sent in error")
    w.clock.advance(minutes=40)
    assert await w.loop().run_due("d-esc-4") == []
    assert await w.kinds("d-esc-4", EventKind.ESCALATION_STEP) == []


async def test_stop_by_hand_cancels_planned_steps_not_yet_sent(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-5")
    w.clock.advance(minutes=10)
    [planned] = await w.loop(send=False).tick()  # planned, waiting for a worker to send it
    result = await stop_escalation(w.store, "d-esc-5", who="ops", reason="everyone is accounted for")
    assert (result.cancelled, result.steps_left) == (planned.deliveries, 2)
    w.clock.advance(minutes=30)
    assert await w.loop().tick() == []
    again = await stop_escalation(w.store, "d-esc-5", who="ops", reason="twice")
    assert again.already == "everyone is accounted for"


def test_a_resent_sms_is_a_reminder_in_each_language() -> None:
    from crisiscast.escalation.steps import reminder_of
    from crisiscast.message import MessageText

    message = polled_message(translations={"es": MessageText(headline="Incendio en el edificio B")})
    reminder = reminder_of(message)
    assert reminder.headline == "Reminder: Fire in Building B: reply 1 if you are safe"
    assert reminder.text("es").headline == "Recordatorio: Incendio en el edificio B"


async def test_a_drill_tells_only_supervisors_in_the_drill(world: World) -> None:
    from crisiscast.message import Status

    w = world
    await w.send(polled_message(status=Status.EXERCISE), "d-esc-6")
    w.clock.advance(minutes=30)
    outcomes = await w.loop().tick()
    assert outcomes[-1].action == "notify_supervisor" and outcomes[-1].deliveries == 0
    assert [d for d in w.channels.sent("sms") if d.target == SUE] == []  # Sue is in no drill audience
    [notice_step] = [s for s in await w.kinds("d-esc-6", EventKind.ESCALATION_STEP) if s["step"] == 3]
    reasons = {str(n["reason"]) for n in notice_step["not_reached"]}  # type: ignore[attr-defined]
    assert reasons == {
        "their supervisor is not in the exercise audiences",
        "no supervisor or on-call person is known for them",
    }


async def test_pressing_1_on_the_call_answers_the_poll(world: World) -> None:
    from crisiscast.audit.events import AuditEvent

    w = world
    await w.send(polled_message(), "d-esc-7")
    w.clock.advance(minutes=20)
    assert [o.step for o in await w.loop().tick()] == [1, 2]
    [call] = [d for d in w.channels.sent("voice") if d.target == CAL]
    data = {
        "provider_id": "CA-cal",
        "status": "confirmed",
        "digits": "1",
    }  # what the voice gather route records
    await w.store.append([AuditEvent(EventKind.RECEIPT_STATUS, "d-esc-7", data, delivery_key=call.key)])
    w.clock.advance(minutes=10)
    [notice] = await w.loop().tick()
    assert notice.people == 2  # Ana and Ben; Cal pressed 1
    rollcall = await build_rollcall(w.store, "d-esc-7", staff())
    assert rollcall is not None and rollcall.by_answer()["1"] == 1


def test_a_resume_builds_the_channels_the_steps_use() -> None:
    from crisiscast.escalation.steps import with_escalation_channels

    message = polled_message(channels=["sms"])
    assert with_escalation_channels(message).channels == ("sms", "voice")
    assert with_escalation_channels(polled_message()).channels is None  # every enabled channel already


async def test_a_restart_after_the_all_clear_cancels_unsent_steps_before_its_resume(world: World) -> None:
    w = world
    await w.send(polled_message(), "d-esc-9")
    w.clock.advance(minutes=10)
    [planned] = await w.loop(send=False).tick()  # then serve died before sending the step
    await _all_clear(w, "d-esc-9", "d-clear-9")
    assert await w.loop().sweep_stopped() == planned.deliveries  # what serve does before its resume
    assert [d.target for d in w.channels.sent("sms") if d.part > 100] == []


async def test_a_supervisor_is_told_in_their_own_language(world: World) -> None:
    from crisiscast.contacts import Contact, ContactsLoad
    from crisiscast.message import MessageText

    def with_sue() -> ContactsLoad:
        sue = Contact(name="Sue", phone=SUE, groups=frozenset({"managers"}), language="es", line=5)
        return ContactsLoad(contacts=(*staff().contacts, sue), problems=())

    w = world
    await w.send(
        polled_message(translations={"es": MessageText(headline="Incendio en el edificio B")}), "d-esc-10"
    )
    w.clock.advance(minutes=30)
    await w.loop(contacts=with_sue).tick()
    [notice] = [d for d in w.channels.sent("sms") if d.target == SUE]
    assert notice.language == "es"
    assert notice.body.startswith(
        'crisiscast: 2 de su personal no han respondido a "Incendio en el edificio B"'
    )
