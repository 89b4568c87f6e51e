"""Compose from a template over real HTTP: the form comes from the template's variables, the
draft is verified against the installed template (one person may send it), bad values get one
sentence, and Exercise is marked on every page of the message."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.lifecycle.drafts import load_draft
from crisiscast.server.context import CONTEXT
from tests.console.conftest import ALICE_TOKEN, Site, csrf_of, sign_in

pytestmark = pytest.mark.asyncio


async def test_template_form_draft_and_send_by_one_person_as_an_exercise(site: Site) -> None:
    """facility-fire's form has its variables with their patterns and descriptions; an Exercise from
    it is a template draft alice alone may send; the draft and board pages say EXERCISE."""
    async with TestClient(site.server) as alice:
        await sign_in(alice, ALICE_TOKEN)
        form = await (await alice.get("/console/compose?template=facility-fire")).text()
        assert 'name="var_location"' in form and 'maxlength="40"' in form
        assert "building, floor and area, for example" in form and 'pattern="^[A-Za-z0-9' in form
        assert 'name="var_details"' in form
        resp = await alice.post(
            "/console/compose",
            data={
                "csrf_token": csrf_of(form),
                "template": "facility-fire",
                "var_location": "Building A, floor 3",
                "status": "Exercise",
                "audience": "exercise",
                "channel": ["sms", "banner"],
            },
            allow_redirects=False,
        )
        assert resp.status == 303, await resp.text()
        draft_id = resp.headers["Location"].rsplit("/", 1)[1]
        draft = await load_draft(site.store, draft_id)
        assert draft.source == "template" and draft.message.template is not None
        page = await (await alice.get(f"/console/drafts/{draft_id}")).text()
        assert "mode-banner-exercise" in page and "EXERCISE" in page
        assert "Facility alert: fire in Building A, floor 3" in page
        assert 'data-testid="send"' in page and "Ready to send." in page
        resp = await alice.post(
            f"/console/drafts/{draft_id}/send", data={"csrf_token": csrf_of(page)}, allow_redirects=False
        )
        assert resp.status == 303
        await site.app[CONTEXT].runner.wait(draft_id)
        board = await (await alice.get(f"/console/dispatches/{draft_id}")).text()
        assert "mode-banner-exercise" in board and 'data-testid="percent">100 %' in board
        texted = sorted(m["to"] for m in site.sandbox.fakes["twilio"].messages())  # type: ignore[attr-defined]
        assert texted == ["+16175550126", "+16175550127", "+16175550128", "+16175550190", "+16175550191"]


async def test_a_bad_template_value_is_one_sentence_and_nothing_is_drafted(site: Site) -> None:
    """A value outside the variable's pattern is refused with the template's own sentence (422)."""
    async with TestClient(site.server) as alice:
        await sign_in(alice, ALICE_TOKEN)
        form = await (await alice.get("/console/compose?template=facility-fire")).text()
        resp = await alice.post(
            "/console/compose",
            data={
                "csrf_token": csrf_of(form),
                "template": "facility-fire",
                "var_location": "Building <A>",
                "status": "Actual",
                "audience": "all-staff",
                "channel": "sms",
            },
        )
        assert resp.status == 422
        page = await resp.text()
        assert "location" in page and "Traceback" not in page
        assert await site.store.dispatches() == []


async def test_free_text_form_offers_the_audiences_other_languages_and_drafts_their_words(site: Site) -> None:
    """With Spanish required ([preflight]), the free-text form has Spanish fields; words typed there
    become the draft's Spanish translation and the quality check no longer says Spanish is missing;
    left empty, the draft is English only and the check says so."""
    async with TestClient(site.server) as alice:
        await sign_in(alice, ALICE_TOKEN)
        form = await (await alice.get("/console/compose")).text()
        assert 'data-testid="translation-es"' in form and 'name="es_headline"' in form
        english = {
            "csrf_token": csrf_of(form),
            "status": "Exercise",
            "headline": "Water outage in Building E until 15:00",
            "instruction": "Use bottled water from the supply room.",
            "audience": "exercise",
            "channel": "sms",
        }
        spanish = {
            "es_headline": "Corte de agua en el Edificio E hasta las 15:00",
            "es_instruction": "Use agua embotellada del almacén.",
        }
        drafts = []
        for extra in (spanish, {"es_headline": " "}):
            resp = await alice.post("/console/compose", data={**english, **extra}, allow_redirects=False)
            assert resp.status == 303, await resp.text()
            drafts.append(resp.headers["Location"].rsplit("/", 1)[1])
        with_es, without = [await load_draft(site.store, d) for d in drafts]
        assert with_es.message.translations["es"].headline == spanish["es_headline"]
        assert with_es.message.translations["es"].instruction == spanish["es_instruction"]
        assert without.message.translations == {}
        pages = [await (await alice.get(f"/console/drafts/{d}")).text() for d in drafts]
        assert "missing_language" not in pages[0] and "missing_language" in pages[1]


async def test_a_templates_poll_and_escalation_are_on_the_draft_page(site: Site) -> None:
    """The staff call-back asks for answers and escalates: the draft page the approver reads names
    the poll and each escalation step."""
    async with TestClient(site.server) as alice:
        await sign_in(alice, ALICE_TOKEN)
        form = await (await alice.get("/console/compose?template=staff-callback")).text()
        resp = await alice.post(
            "/console/compose",
            data={
                "csrf_token": csrf_of(form),
                "template": "staff-callback",
                "var_count": "4",
                "var_role": "nurses",
                "var_report_to": "Staffing office, Building A",
                "status": "Exercise",
                "audience": "exercise",
                "channel": "sms",
            },
            allow_redirects=False,
        )
        assert resp.status == 303, await resp.text()
        page = await (await alice.get(resp.headers["Location"])).text()
        assert 'data-testid="poll"' in page and "asks for an answer (1 " in page
        assert 'data-testid="escalation"' in page and "after 10 min: the SMS again" in page
