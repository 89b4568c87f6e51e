"""The console lists roster audiences, the draft page counts the people each reaches now, and a
send to one that reaches nobody is refused (422, audited)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.config import Settings
from crisiscast.roster.config import RosterConfig
from crisiscast.roster.source import clear_cache
from tests.console.conftest import ALICE_TOKEN, BOB_TOKEN, Site, csrf_of, open_site, sign_in
from tests.roster.data import CONTACTS


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    clear_cache()

    def with_roster(settings: Settings) -> Settings:
        """The roster's contacts in place of the demo's, and two roster audiences."""
        (tmp_path / "contacts.csv").write_text(CONTACTS, encoding="utf-8")
        roster = RosterConfig.model_validate(
            {"audiences": {"building-b": {"building": "B"}, "on-call-security": {"on_call": "security"}}}
        )
        return settings.model_copy(update={"roster": roster})

    async with open_site(tmp_path, with_roster) as opened:
        yield opened


async def _draft(client: TestClient, audience: str) -> str:  # type: ignore[type-arg]
    form = await (await client.get("/console/compose")).text()
    assert f'value="{audience}"' in form
    resp = await client.post(
        "/console/compose",
        data={
            "csrf_token": csrf_of(form),
            "status": "Actual",
            "headline": "A person with a weapon is in the Building B lobby. Stay away.",
            "event": "Security threat",
            "instruction": "Stay in a locked room until security says it is safe.",
            "audience": audience,
            "channel": ["sms"],
        },
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"].rsplit("/", 1)[1]


async def test_the_draft_page_counts_people_and_an_empty_audience_is_refused(site: Site) -> None:
    async with TestClient(site.server) as alice, TestClient(site.server) as bob:
        await sign_in(alice, ALICE_TOKEN)
        await sign_in(bob, BOB_TOKEN)
        reaches = await _draft(alice, "building-b")
        page = await (await alice.get(f"/console/drafts/{reaches}")).text()
        assert "building-b 3" in page and 'data-testid="audience-refusal"' not in page
        nobody = await _draft(alice, "on-call-security")  # no schedule is configured: nobody on call
        page = await (await bob.get(f"/console/drafts/{nobody}")).text()
        assert "on-call-security 0" in page and 'data-testid="audience-refusal"' in page
        approve = await bob.post(
            f"/console/drafts/{nobody}/approve",
            data={"csrf_token": csrf_of(page), "message_sha256": _digest(page)},
            allow_redirects=False,
        )
        assert approve.status == 303, await approve.text()
        page = await (await alice.get(f"/console/drafts/{nobody}")).text()
        sent = await alice.post(
            f"/console/drafts/{nobody}/send", data={"csrf_token": csrf_of(page)}, allow_redirects=False
        )
        assert sent.status == 422 and "resolves to nobody right now" in await sent.text()
    kinds = [s.event.kind.value async for s in site.store.events(nobody)]
    assert "approval_refused" in kinds and "dispatch_planned" not in kinds


def _digest(page: str) -> str:
    import re

    found = re.search(r'name="message_sha256" value="([0-9a-f]{64})"', page)
    assert found is not None
    return found.group(1)
