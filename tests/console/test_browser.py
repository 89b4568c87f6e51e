"""The console end to end in real headless Chromium: two browser contexts are two people on two
devices, against the real server and the sandbox fakes.

alice signs in, composes a free-text Actual alert and sees exactly the preview the CLI shows;
bob, in his own context, sees the words and their SHA-256 and approves; alice sends and the
board (server-sent events) reaches 100 %; the all-clear goes out from the board; the audit
shows the dispatch and verify passes. Every page is screenshotted at phone and desktop width
(``<pytest tmp>/screenshots``) and checked with axe-core (no serious or critical WCAG 2.1 AA
violation).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from crisiscast.audit.events import EventKind
from crisiscast.cli.preview import build_preview
from crisiscast.lifecycle.drafts import load_draft, message_sha256
from crisiscast.server.context import CONTEXT
from tests.console.browser import Page, axe_source, chromium
from tests.console.conftest import ALICE_TOKEN, BOB_TOKEN, Site

pytestmark = pytest.mark.asyncio
HEADLINE = "Smoke in Building C, floor 2: use the west stairs"
INSTRUCTION = "Staff on floor 2 move patients to the west wing. Visitors leave by the main entrance."
BOARD_DONE = (
    "document.querySelector('[data-testid=percent]')?.textContent === '100 %'"
    " && document.querySelector('[data-testid=board-state] strong').textContent === 'delivered'"
)


class Checks:
    """Screenshots and axe results of every page visited."""

    def __init__(self, axe: str) -> None:
        self.axe = axe
        self.violations: dict[str, list[dict[str, Any]]] = {}
        self.shots: list[Path] = []

    async def page(self, page: Page, name: str) -> None:
        self.shots += await page.screenshot(name)
        found = await page.axe(self.axe)
        if found:
            self.violations[f"{name} ({page.who})"] = found


async def _sign_in(page: Page, base: str, token: str) -> None:
    await page.goto(f"{base}/console")
    assert (await page.url()).endswith("/console/sign-in")
    await page.fill("#token", token)
    await page.click("main form button[type=submit]")
    assert (await page.url()).endswith("/console/compose")


async def test_two_people_compose_approve_send_watch_all_clear_and_review(site: Site, tmp_path: Path) -> None:
    """The whole console path of issue 17 in a real browser, with axe and screenshots on every page."""
    checks = Checks(axe_source())
    base = site.url
    async with chromium(tmp_path / "chromium", tmp_path / "screenshots") as browser:
        alice = await browser.person("alice")
        await alice.goto(f"{base}/console/sign-in")
        await checks.page(alice, "sign-in")
        await _sign_in(alice, base, ALICE_TOKEN)
        assert await alice.text("[data-testid=me]") == "alice"
        assert "ACTUAL" in await alice.text("#mode-banner")
        await alice.eval("document.querySelector('input[name=status][value=Exercise]').click()")
        await alice.wait_for("document.getElementById('mode-banner').textContent.startsWith('EXERCISE')")
        await checks.page(alice, "compose-exercise")
        await alice.eval("document.querySelector('input[name=status][value=Actual]').click()")
        await alice.wait_for("document.getElementById('mode-banner').textContent.startsWith('ACTUAL')")
        await checks.page(alice, "compose")
        await alice.fill("#headline", HEADLINE)
        await alice.fill("#instruction", INSTRUCTION)
        await alice.click("#compose button[type=submit]")
        draft_url = await alice.url()
        assert "/console/drafts/" in draft_url
        draft_id = draft_url.rsplit("/", 1)[1]

        # alice sees exactly the preview the CLI would print: every panel's parts and measure line
        draft = await load_draft(site.store, draft_id)
        ctx = site.app[CONTEXT]
        preview = build_preview(draft.message, ctx.settings, secrets=ctx.secrets)
        assert preview.destinations and not preview.refused
        shown = await alice.eval(
            "Object.fromEntries([...document.querySelectorAll('section.panel')].map(s => [s.dataset.testid,"
            " {parts: [...s.querySelectorAll('pre.part')].map(p => p.textContent),"
            " measure: s.querySelector('.measure').textContent}]))"
        )
        expected = {}
        for name in preview.destinations:
            for panel in preview.channels[name].panels():
                parts = list(panel.parts)
                numbered = [
                    f"[{i}/{len(parts)}] {p}" if len(parts) > 1 else p for i, p in enumerate(parts, 1)
                ]
                expected[f"panel-{name}-{panel.language}"] = {"parts": numbered, "measure": panel.measure}
        assert shown == expected
        assert "needs 1 more approval from someone other than alice" in await alice.text(
            "[data-testid=needs]"
        )
        assert not await alice.eval("!!document.querySelector('[data-testid=approve]')")
        await checks.page(alice, "draft-author")

        bob = await browser.person("bob")
        await _sign_in(bob, base, BOB_TOKEN)
        await bob.goto(draft_url)
        assert await bob.text("[data-testid=headline]") == HEADLINE
        assert await bob.text("[data-testid=author]") == "alice"
        assert await bob.text("[data-testid=sha256]") == message_sha256(draft.message)
        await checks.page(bob, "draft-approver")
        await bob.click("[data-testid=approve]")
        assert await bob.text("[data-testid=approvers]") == "bob"
        assert await bob.text("[data-testid=needs]") == "Ready to send."

        await alice.goto(draft_url)
        assert await alice.text("[data-testid=approvers]") == "bob"
        # the free text has no Spanish and names no sender: the quality gate's override box is shown
        assert await alice.eval("!!document.querySelector('[data-testid=quality-findings]')")
        await alice.fill("#quality_override", "No translator on shift; the fire service is on site")
        await alice.click("[data-testid=send]")
        assert (await alice.url()).endswith(f"/console/dispatches/{draft_id}")
        await alice.wait_for(BOARD_DONE)
        await checks.page(alice, "board")
        texted = [m["to"] for m in site.sandbox.fakes["twilio"].messages()]  # type: ignore[attr-defined]
        assert len(texted) == 5  # the demo's five staff numbers

        await alice.fill("#cancel-reason", "Fire service says the smoke was a kitchen fire, now out")
        await alice.click("[data-testid=cancel]")
        notice = await alice.text("[data-testid=all-clear]")
        all_clear_id = notice.rsplit(" ", 1)[1]
        await alice.click("[data-testid=all-clear] a")
        await alice.wait_for(BOARD_DONE)
        await checks.page(alice, "board-all-clear")
        assert len(site.sandbox.fakes["twilio"].messages()) == 10  # type: ignore[attr-defined]

        await bob.goto(f"{base}/console/audit")
        audit = await bob.text("[data-testid=audit]")
        assert HEADLINE in audit
        await checks.page(bob, "audit")
        await bob.goto(f"{base}/console/audit?person=bob")
        assert HEADLINE in await bob.text("[data-testid=audit]")
        await bob.goto(f"{base}/console/audit/{draft_id}")
        assert "+16175550101" in await bob.text("[data-testid=deliveries]")
        await checks.page(bob, "record")
        await bob.goto(f"{base}/console/audit")
        await bob.click("[data-testid=verify]")
        assert "The hash chain holds" in await bob.text("[data-testid=verify-result]")
        await checks.page(bob, "verify")
        await bob.goto(f"{base}/console/compose?lang=es")
        assert "Redactar una alerta" in await bob.text("h1")
        await checks.page(bob, "compose-es")

    events = [e.event async for e in site.store.events(draft_id)]
    approval = next(e for e in events if e.kind is EventKind.APPROVAL_RECORDED)
    assert (approval.data["approver"], approval.data["method"]) == ("bob", "console")
    assert next(e for e in events if e.kind is EventKind.DRAFT_CREATED).data["author"] == "alice"
    all_clear = await load_draft(site.store, all_clear_id)
    assert all_clear.follow_up is not None
    assert (all_clear.follow_up["kind"], all_clear.follow_up["of"]) == ("cancel", draft_id)
    assert all_clear.author == "alice" and all_clear.state == "finished"
    assert json.dumps(checks.violations, indent=1) == "{}"
    assert all(p.stat().st_size > 1000 for p in checks.shots)
