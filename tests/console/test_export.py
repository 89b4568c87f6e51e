"""Review over real HTTP: the audit filters, and the export links give files that verify on their own."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.audit.export import verify_export
from tests.console.conftest import ALICE_TOKEN, Site, csrf_of, sign_in

pytestmark = pytest.mark.asyncio


async def test_filters_and_exports(site: Site, tmp_path: Path) -> None:
    """A draft by alice is listed for person=alice and state=draft, not for person=bob or
    channel filters it lacks; the JSONL and CSV exports (all, and one dispatch) verify."""
    async with TestClient(site.server) as alice, TestClient(site.server) as nobody:
        await sign_in(alice, ALICE_TOKEN)
        form = await (await alice.get("/console/compose")).text()
        resp = await alice.post(
            "/console/compose",
            data={
                "csrf_token": csrf_of(form),
                "status": "Actual",
                "headline": "Lift 3 out of service in Building D",
                "audience": "all-staff",
                "channel": "sms",
            },
            allow_redirects=False,
        )
        draft_id = resp.headers["Location"].rsplit("/", 1)[1]
        for query, listed in (
            ("person=alice", True),
            ("person=ALICE&state=draft", True),
            ("person=bob", False),
            ("state=finished", False),
            ("from=2000-01-01&to=2999-12-31", True),
            ("to=2000-01-01", False),
        ):
            html = await (await alice.get(f"/console/audit?{query}")).text()
            assert (f"/console/audit/{draft_id}" in html) is listed, query
        resp = await alice.get("/console/audit?from=yesterday")
        assert resp.status == 400 and "is not a date; use YYYY-MM-DD" in await resp.text()
        for name in ("export.jsonl", "export.csv", f"export.jsonl?dispatch={draft_id}"):
            resp = await alice.get(f"/console/audit/{name}")
            assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
            path = tmp_path / name.split("?")[0]
            path.write_bytes(await resp.read())
            result = verify_export(path)
            assert result.ok and result.events_checked >= 1, (name, result.problem)
        resp = await nobody.get("/console/audit/export.jsonl", allow_redirects=False)
        assert resp.status == 303  # the audit is for signed-in people only
