"""The next person to notify from the on-call roster: who the schedule has on call at the step's
time for the silent person's department or role (``[roster.next_up]``), beside the supervisor.

The wall clock is moved with ``time-machine`` (nothing sleeps): the dispatch is planned just
before a shift change and the step runs after it, so the roster is read at the step's time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import time_machine

from crisiscast.audit.events import EventKind
from crisiscast.contacts import Contact, ContactsLoad
from crisiscast.delivery import Delivery
from crisiscast.dispatch import Dispatcher
from crisiscast.escalation.loop import EscalationLoop, utc_now
from crisiscast.escalation.schedule import read_escalation
from crisiscast.escalation.view import step_entries
from crisiscast.roster.config import NextUpRule, RosterConfig
from crisiscast.roster.source import clear_cache
from tests.escalation.conftest import ANA, BEN, CAL, SUE, World, polled_message

DEE, EVE, HAL = "+15550100021", "+15550100022", "+15550100023"  # ED charge day, night; house sup.
BEFORE_SHIFT_CHANGE = datetime(2026, 12, 4, 18, 45, tzinfo=UTC)
SCHEDULE = """role,who,from,to
ed-charge,Dee,2026-12-04T07:00,2026-12-04T19:00
ed-charge,Eve,2026-12-04T19:00,2026-12-05T07:00
house-supervisor,hal@hospital.example,2026-12-04T00:00,2026-12-05T00:00
"""
NOTIFY_AT_30 = [{"after_min": 30, "action": "notify_supervisor"}]


def _person(name: str, phone: str, line: int, **kw: Any) -> Contact:
    return Contact(name=name, phone=phone, groups=frozenset({"all-staff"}), language="en", line=line, **kw)


def contacts(
    *, ana_supervisor: str | None = SUE, ben_supervisor: str | None = None
) -> Callable[[], ContactsLoad]:
    people = (
        _person("Ana", ANA, 2, department="ED", role="nurse", supervisor=ana_supervisor),
        _person("Ben", BEN, 3, role="porter", supervisor=ben_supervisor),
        _person("Cal", CAL, 4, department="ed", role="nurse"),
        _person("Dee", DEE, 5, department="ED", role="charge nurse"),
        _person("Eve", EVE, 6, department="ED", role="charge nurse"),
        _person("Hal", HAL, 7, email="hal@hospital.example", role="house supervisor"),
        _person("Sue", SUE, 8),
    )
    return lambda: ContactsLoad(contacts=people, problems=())


def _loop(w: World, tmp_path: Path, rule: dict[str, Any], who: Callable[[], ContactsLoad]) -> EscalationLoop:
    clear_cache()
    (tmp_path / "on-call.csv").write_text(SCHEDULE, encoding="utf-8")
    roster = RosterConfig.model_validate({"schedule": str(tmp_path / "on-call.csv"), "next_up": rule})
    settings = w.settings.model_copy(update={"roster": roster})
    return EscalationLoop(
        settings,
        w.secrets,
        Dispatcher(w.store),
        owner="w1",
        build=w.channels.build,
        now=utc_now,
        contacts=who,
    )


def _notices(w: World) -> dict[str, Delivery]:
    return {d.target: d for d in w.channels.sent("sms") if d.part > 100}


async def test_without_a_supervisor_the_person_on_call_now_for_their_department_is_told(
    world: World, tmp_path: Path
) -> None:
    """Ana's supervisor is told; Cal (ED, no supervisor) goes to the ED charge nurse on call when
    the step runs — the night one, the shift changed since the alert; Ben (a porter, no
    department, no supervisor) to the fallback role's person on call."""
    w = world
    rule = {"department": {"ED": "ed-charge"}, "fallback": "House-Supervisor"}
    loop = _loop(w, tmp_path, rule, contacts())
    with time_machine.travel(BEFORE_SHIFT_CHANGE, tick=False) as traveller:
        await w.send(polled_message(escalation=NOTIFY_AT_30), "d-oncall-1")
        traveller.shift(timedelta(minutes=29))
        assert await loop.tick() == []  # not due yet
        traveller.shift(timedelta(minutes=1))
        [step] = await loop.tick()
    assert (step.action, step.people, step.deliveries, step.not_reached) == ("notify_supervisor", 3, 3, 0)
    notices = _notices(w)
    assert sorted(notices) == sorted([SUE, EVE, HAL])  # never Dee: her shift ended at 19:00
    assert f"Ana ({ANA})" in notices[SUE].body and "Cal" not in notices[SUE].body
    assert f"Cal ({CAL})" in notices[EVE].body and f"Ben ({BEN})" in notices[HAL].body
    [recorded] = await w.kinds("d-oncall-1", EventKind.ESCALATION_STEP)
    assert recorded["people"] == [ANA, BEN, CAL]
    assert recorded["not_reached"] == []
    assert recorded["told_as"] == {
        ANA: "supervisor",
        BEN: "on call for house-supervisor",
        CAL: "on call for ed-charge",
    }


async def test_on_call_first_tells_the_person_on_call_before_the_supervisor(
    world: World, tmp_path: Path
) -> None:
    """``first = "on_call"``: ED staff go to the ED charge nurse on call (a department mapped to
    its on-call role), even Ana who has a supervisor; Ben, with nobody on call for him, to his
    supervisor."""
    w = world
    rule = {"first": "on_call", "department": {"ed": "ED-Charge"}}
    loop = _loop(w, tmp_path, rule, contacts(ben_supervisor=SUE))
    with time_machine.travel(BEFORE_SHIFT_CHANGE - timedelta(hours=6), tick=False) as traveller:
        await w.send(polled_message(escalation=NOTIFY_AT_30), "d-oncall-2")
        traveller.shift(timedelta(minutes=30))
        [step] = await loop.tick()
    assert (step.deliveries, step.not_reached) == (2, 0)
    notices = _notices(w)
    assert sorted(notices) == sorted([DEE, SUE])  # the day charge nurse: 13:15 is her shift
    assert f"Ana ({ANA})" in notices[DEE].body and f"Cal ({CAL})" in notices[DEE].body
    assert f"Ben ({BEN})" in notices[SUE].body and "Ana" not in notices[SUE].body
    [recorded] = await w.kinds("d-oncall-2", EventKind.ESCALATION_STEP)
    assert recorded["told_as"] == {
        ANA: "on call for ed-charge",
        BEN: "supervisor",
        CAL: "on call for ed-charge",
    }


async def test_nobody_on_call_for_them_and_no_supervisor_is_recorded_as_not_reached(
    world: World, tmp_path: Path
) -> None:
    """Outside every on-call period for their roles, with no fallback and no supervisor, nobody is
    told, and the step records why; a person on call is never told about themself."""
    w = world
    schedule_cal_on_call = {"department": {"ed": "ed-charge"}}
    loop = _loop(w, tmp_path, schedule_cal_on_call, contacts(ana_supervisor=None))
    (tmp_path / "on-call.csv").write_text(
        "role,who,from,to\ned-charge,Cal,2026-12-04T00:00,2026-12-05T00:00\n", encoding="utf-8"
    )
    with time_machine.travel(BEFORE_SHIFT_CHANGE, tick=False) as traveller:
        await w.send(polled_message(escalation=NOTIFY_AT_30), "d-oncall-3")
        traveller.shift(timedelta(minutes=30))
        [step] = await loop.tick()
    notices = _notices(w)
    assert sorted(notices) == [CAL]  # Cal is on call for ED: told about Ana
    assert f"Ana ({ANA})" in notices[CAL].body and f"Cal ({CAL})" not in notices[CAL].body
    [recorded] = await w.kinds("d-oncall-3", EventKind.ESCALATION_STEP)
    not_reached = recorded["not_reached"]
    assert isinstance(not_reached, list)
    reasons = {r["number"]: r["reason"] for r in not_reached}
    assert reasons == {
        BEN: "no supervisor or on-call person is known for them",
        CAL: "no supervisor or on-call person is known for them",
    }
    assert (step.deliveries, step.not_reached) == (1, 2)
    assert recorded["told_as"] == {ANA: "on call for ed-charge"}  # only who a notice was for
    state = await read_escalation(w.store, "d-oncall-3")
    assert state is not None
    [entry] = step_entries(state, datetime.now(UTC))
    assert entry["told_as"] == {ANA: "on call for ed-charge"}
    assert "told_as" not in step_entries(state, datetime.now(UTC), with_numbers=False)[0]  # no numbers


def test_the_roles_tried_for_a_person_in_order() -> None:
    """The department's on-call role (mapped, else itself), the role's, then the fallback; any case."""
    rule = NextUpRule.model_validate(
        {"department": {"ED": "ED-Charge"}, "role": {"Nurse": "nursing-supervisor"}, "fallback": "House"}
    )
    assert rule.roles_for({"department": "ed", "role": "NURSE"}) == [
        "ed-charge",
        "nursing-supervisor",
        "house",
    ]
    assert rule.roles_for({"department": "ICU", "role": "porter"}) == ["icu", "porter", "house"]
    assert rule.roles_for({}) == ["house"]
    assert NextUpRule().roles_for({"department": "", "role": ""}) == []
