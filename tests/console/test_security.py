"""The console's safety rules over real HTTP: sessions, CSRF, the author rule, cookie flags,
escaping. Each test drives the console the way a browser would (forms, cookies, redirects)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from crisiscast.audit.events import EventKind
from crisiscast.console.routes import SESSIONS
from tests.console.conftest import ALICE_TOKEN, BOB_TOKEN, MACHINE_TOKEN, Site, csrf_of, sign_in

pytestmark = pytest.mark.asyncio
SCRIPT = "Fire <script>alert('x')</script> in B"


@pytest.fixture
async def clients(site: Site) -> AsyncIterator[dict[str, TestClient[Any, Any]]]:
    made = {name: TestClient(site.server) for name in ("alice", "bob", "nobody")}
    for client in made.values():
        await client.start_server()
    try:
        yield made
    finally:
        for client in made.values():
            await client.close()


async def _draft(client: TestClient[Any, Any], headline: str = "Fire in Building B: stay clear") -> str:
    page = await client.get("/console/compose")
    resp = await client.post(
        "/console/compose",
        data={
            "csrf_token": csrf_of(await page.text()),
            "status": "Actual",
            "headline": headline,
            "audience": "all-staff",
            "channel": "sms",
        },
        allow_redirects=False,
    )
    assert resp.status == 303, await resp.text()
    return resp.headers["Location"].rsplit("/", 1)[1]


async def test_no_action_without_a_session_or_a_valid_csrf_token(site: Site, clients: dict[str, Any]) -> None:
    """Without a session every action is 401 and every page sends you to sign in; with a session but
    a missing or wrong CSRF token the action is 403; in all cases nothing reaches the audit."""
    alice, nobody = clients["alice"], clients["nobody"]
    assert (await sign_in(alice, ALICE_TOKEN)).status == 303
    draft = await _draft(alice)
    before = [e async for e in site.store.events(draft)]
    resp = await nobody.get("/console/compose", allow_redirects=False)
    assert (resp.status, resp.headers["Location"]) == (303, "/console/sign-in")
    for path in (f"/console/drafts/{draft}/approve", f"/console/drafts/{draft}/send", "/console/compose"):
        resp = await nobody.post(path, data={"csrf_token": "guess", "headline": "x"})
        assert resp.status == 401
        assert "You are not signed in" in await resp.text()
    for token in (None, "", "not-the-token"):
        data = {"headline": "Injected", "audience": "all-staff", "channel": "sms", "status": "Actual"}
        if token is not None:
            data["csrf_token"] = token
        resp = await alice.post("/console/compose", data=data)
        assert resp.status == 403
        assert "nothing was done" in await resp.text()
        resp = await alice.post(f"/console/drafts/{draft}/discard", data={"csrf_token": token or ""})
        assert resp.status == 403
    assert [e async for e in site.store.events(draft)] == before
    assert len(await site.store.dispatches()) == 1


async def test_sign_in_needs_a_persons_token_and_the_form_token(clients: dict[str, Any]) -> None:
    """A machine token (no name) and an unknown token cannot sign in; the sign-in form itself needs its
    CSRF cookie and field (a cross-site form cannot sign a victim into the attacker's session)."""
    client = clients["nobody"]
    resp = await sign_in(client, MACHINE_TOKEN)
    assert resp.status == 403 and "machine token" in await resp.text()
    resp = await sign_in(client, "not-a-token")
    assert resp.status == 401 and "not one of the configured API tokens" in await resp.text()
    resp = await client.post("/console/sign-in", data={"token": ALICE_TOKEN, "csrf_token": "forged"})
    assert resp.status == 403
    assert "crisiscast_console" not in {c.key for c in client.session.cookie_jar}


async def test_alice_cannot_approve_her_own_draft(site: Site, clients: dict[str, Any]) -> None:
    """The author rule of the CLI and API holds in the console: alice's approval of her own Actual
    free text is refused with the same sentence and recorded as refused; bob's counts, and only
    then may alice send it."""
    alice, bob = clients["alice"], clients["bob"]
    await sign_in(alice, ALICE_TOKEN)
    await sign_in(bob, BOB_TOKEN)
    draft = await _draft(alice)
    page = await alice.get(f"/console/drafts/{draft}")
    html = await page.text()
    assert 'data-testid="approve"' not in html  # no button for the author…
    digest = html.split('data-testid="sha256">')[1].split("<")[0]
    resp = await alice.post(  # …and a hand-made request is refused by the service
        f"/console/drafts/{draft}/approve", data={"csrf_token": csrf_of(html), "message_sha256": digest}
    )
    assert resp.status == 403
    assert f"alice wrote draft {draft} and may not approve their own Actual message" in await resp.text()
    resp = await alice.post(f"/console/drafts/{draft}/send", data={"csrf_token": csrf_of(html)})
    assert resp.status == 403 and "needs 1 more approval" in await resp.text()
    events = [e.event async for e in site.store.events(draft)]
    assert [e.data["who"] for e in events if e.kind is EventKind.APPROVAL_REFUSED] == ["alice", "alice"]
    assert not [e for e in events if e.kind is EventKind.APPROVAL_RECORDED]
    bob_page = await (await bob.get(f"/console/drafts/{draft}")).text()
    resp = await bob.post(
        f"/console/drafts/{draft}/approve",
        data={"csrf_token": csrf_of(bob_page), "message_sha256": digest},
        allow_redirects=False,
    )
    assert resp.status == 303
    recorded = [
        e.event async for e in site.store.events(draft) if e.event.kind is EventKind.APPROVAL_RECORDED
    ]
    assert [(e.data["approver"], e.data["method"]) for e in recorded] == [("bob", "console")]


async def test_an_approval_of_other_words_is_refused(site: Site, clients: dict[str, Any]) -> None:
    """Bob approves what he was shown: a form carrying another hash than the draft's words records nothing."""
    alice, bob = clients["alice"], clients["bob"]
    await sign_in(alice, ALICE_TOKEN)
    await sign_in(bob, BOB_TOKEN)
    draft = await _draft(alice)
    page = await (await bob.get(f"/console/drafts/{draft}")).text()
    resp = await bob.post(
        f"/console/drafts/{draft}/approve", data={"csrf_token": csrf_of(page), "message_sha256": "0" * 64}
    )
    assert resp.status == 409
    assert not [e async for e in site.store.events(draft) if e.event.kind is EventKind.APPROVAL_RECORDED]


async def test_cookie_flags(clients: dict[str, Any]) -> None:
    """The session cookie is HttpOnly, SameSite=Strict, Path=/console; Secure unless on localhost."""
    client = clients["nobody"]
    resp = await sign_in(client, ALICE_TOKEN)
    cookie = resp.cookies["crisiscast_console"]
    assert cookie["httponly"] is True and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
    assert not cookie["secure"]  # 127.0.0.1: plain HTTP on this machine only
    host = {"Host": "console.hospital.example"}  # behind a TLS proxy: every console cookie is Secure
    form = await client.get("/console/sign-in", headers=host)
    pre = form.cookies["crisiscast_console_pre"]
    assert pre["secure"] is True and pre["httponly"] is True and pre["samesite"] == "Strict"
    resp = await client.post(
        "/console/sign-in",
        data={"csrf_token": csrf_of(await form.text()), "token": ALICE_TOKEN},
        headers={**host, "Cookie": f"crisiscast_console_pre={pre.value}"},
        allow_redirects=False,
    )
    cookie = resp.cookies["crisiscast_console"]
    assert cookie["secure"] is True and cookie["httponly"] is True and cookie["samesite"] == "Strict"


async def test_sign_out_and_expiry_end_the_session(site: Site, clients: dict[str, Any]) -> None:
    """After sign-out the old cookie opens nothing; a session idle past its limit is gone too."""
    alice = clients["alice"]
    await sign_in(alice, ALICE_TOKEN)
    page = await alice.get("/console/compose")
    old = alice.session.cookie_jar.filter_cookies(site.server.make_url("/console"))[
        "crisiscast_console"
    ].value
    resp = await alice.post(
        "/console/sign-out", data={"csrf_token": csrf_of(await page.text())}, allow_redirects=False
    )
    assert resp.status == 303
    assert site.app[SESSIONS].get(old) is None
    await sign_in(alice, ALICE_TOKEN)
    sessions = site.app[SESSIONS]
    clock = sessions.now
    sessions.now = lambda: clock() + sessions.idle_s + 1
    try:
        resp = await alice.get("/console/compose", allow_redirects=False)
        assert (resp.status, resp.headers["Location"]) == (303, "/console/sign-in")
    finally:
        sessions.now = clock


async def test_every_page_escapes_user_text(site: Site, clients: dict[str, Any]) -> None:
    """A headline with a script tag shows as text on the draft, board, audit and record pages."""
    alice = clients["alice"]
    await sign_in(alice, ALICE_TOKEN)
    draft = await _draft(alice, SCRIPT)
    for path in (
        f"/console/drafts/{draft}",
        f"/console/dispatches/{draft}",
        "/console/audit",
        f"/console/audit/{draft}",
    ):
        html = await (await alice.get(path)).text()
        assert "<script>alert" not in html, path
        assert "&lt;script&gt;alert(" in html, path


async def test_an_unknown_console_page_is_one_sentence(clients: dict[str, Any]) -> None:
    """A wrong console address answers 404 with a sentence on a console page (Spanish when asked)."""
    client = clients["nobody"]
    resp = await client.get("/console/no-such-page")
    assert resp.status == 404 and "There is no such page in the console." in await resp.text()
    resp = await client.get("/console/no-such-page?lang=es")
    assert resp.status == 404 and "Esa página no existe en la consola." in await resp.text()
