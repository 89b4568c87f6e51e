"""Fuzzing the intake: random headers, bodies, content types and XML never cause a 5xx or an
unhandled exception. The server runs on its own event loop in a thread so hypothesis can drive
it with plain blocking HTTP requests."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from crisiscast.server.cap import CapError, parse_cap
from tests.server.helpers import Harness, signed_headers, start_harness, stop_harness

TEMPLATE_IDS = ["facility-fire", "security-weapon", "all-clear", "weather-shelter", "nope", ""]
TYPES = [
    "application/json",
    "application/cap+xml",
    "application/xml",
    "text/plain",
    "",
    "application/json; charset=latin-1",
]
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60)
scalar = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=80))
json_value = st.recursive(
    scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
template_request = st.fixed_dictionaries(
    {
        "template": st.sampled_from(TEMPLATE_IDS),
        "status": st.sampled_from(["Actual", "Exercise", "Test", "Draft", 3]),
    },
    optional={
        "variables": st.dictionaries(
            st.sampled_from(["location", "details", "alert", "hazard", "until", "x"]), json_value, max_size=4
        ),
        "version": st.one_of(st.integers(), st.text(max_size=3)),
        "language": st.one_of(st.sampled_from(["en", "es", "fr"]), st.text(max_size=5)),
        "channels": st.lists(st.sampled_from(["sms", "banner", "fax", ""]), max_size=3),
        "audiences": st.lists(st.sampled_from(["all-staff", "exercise", "nobody"]), max_size=2),
        "msg_type": st.sampled_from(["Alert", "Update", "Cancel", "Nope"]),
        "references": st.lists(st.text(max_size=10), max_size=2),
        "expires": st.sampled_from(
            ["2020-01-01T00:00:00+00:00", "2099-01-01T00:00:00+00:00", "soon", "2099-01-01"]
        ),
    },
)
nearly_valid = st.fixed_dictionaries(
    {
        "template": st.just("facility-fire"),
        "status": st.sampled_from(["Exercise", "Test"]),
        "variables": st.fixed_dictionaries(
            {
                "location": st.text(
                    st.sampled_from("ABC abc,.-'#&é1") | st.sampled_from("<>{}\n"), min_size=1, max_size=70
                )
            },
            optional={"details": st.text(max_size=130)},
        ),
    },
    optional={"language": st.sampled_from(["en", "es", "fr"]), "channels": st.just(["banner"])},
)
message_request = st.fixed_dictionaries(
    {
        "message": st.dictionaries(
            st.sampled_from(["status", "headline", "expires", "web", "translations", "msg_type"]),
            json_value,
            max_size=5,
        )
    }
)
xml_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40).map(
    lambda s: s.replace("&", "&amp;").replace("<", "&lt;")
)


@st.composite
def cap_documents(draw: st.DrawFn) -> str:
    def el(name: str, choices: list[str]) -> str:
        if draw(st.integers(0, 9)) == 0:
            return ""
        value = draw(st.one_of(st.sampled_from(choices), xml_text))
        return f"<{name}>{value}</{name}>"

    params = ""
    if draw(st.booleans()):
        template = draw(st.sampled_from(TEMPLATE_IDS))
        variable = draw(st.sampled_from(["location", "alert", "x"]))
        params = (
            f"<parameter><valueName>crisiscast-template</valueName><value>{template}</value></parameter>"
            f"<parameter><valueName>crisiscast-var:{variable}</valueName>"
            f"<value>{draw(xml_text)}</value></parameter>"
        )
    info = (
        "<info>"
        + el("language", ["en-US", "es", "xx-YY-ZZ"])
        + el("event", ["Fire"])
        + el("urgency", ["Immediate"])
        + el("severity", ["Extreme", "Severe"])
        + el("certainty", ["Observed"])
        + el("headline", ["Fire"])
        + el("web", ["https://example.org", "ftp://x"])
        + el("expires", ["2099-01-01T00:00:00+00:00", "x"])
        + params
        + "</info>"
    )
    ns = draw(
        st.sampled_from(["urn:oasis:names:tc:emergency:cap:1.2", "urn:oasis:names:tc:emergency:cap:1.1", ""])
    )
    return (
        f'<alert xmlns="{ns}">'
        + el("identifier", ["A1"])
        + el("sender", ["s@x"])
        + el("sent", ["2026-11-28T14:05:00-05:00", "2026-11-28T14:05:00", "yesterday"])
        + el("status", ["Actual", "Exercise", "System"])
        + el("msgType", ["Alert", "Update", "Cancel", "Ack"])
        + el("references", ["s,A0,2026-11-28T14:00:00-05:00", "junk"])
        + info * draw(st.integers(0, 3))
        + "</alert>"
    )


@dataclass
class LiveServer:
    harness: Harness
    loop: asyncio.AbstractEventLoop
    port: int

    def request(self, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("POST", "/v1/alerts", body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    path: Path = tmp_path_factory.mktemp("fuzz")
    harness = asyncio.run_coroutine_threadsafe(start_harness(path), loop).result(30)
    port = harness.client.port
    assert port is not None
    try:
        yield LiveServer(harness, loop, port)
    finally:
        asyncio.run_coroutine_threadsafe(harness.ctx.runner.drain(5.0), loop).result(30)
        asyncio.run_coroutine_threadsafe(stop_harness(harness), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def _check(status: int, raw: bytes) -> None:
    assert status < 500, raw[:300]
    document: Any = json.loads(raw)
    assert "error" in document or "dispatch_id" in document


json_bodies = st.one_of(
    nearly_valid.map(json.dumps),
    nearly_valid.map(json.dumps),
    template_request.map(json.dumps),
    message_request.map(json.dumps),
    json_value.map(json.dumps),
)
requests = st.one_of(
    st.tuples(st.just("application/json"), json_bodies),
    st.tuples(st.sampled_from(["application/cap+xml", "application/xml"]), cap_documents()),
    st.tuples(st.sampled_from(TYPES), st.one_of(st.binary(max_size=600), json_bodies, cap_documents())),
)


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    attempt=requests,
    sign=st.sampled_from(["valid"] * 4 + ["none", "garbage"]),
    webhook_id=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40),
    garbage=st.dictionaries(
        st.sampled_from(["webhook-id", "webhook-timestamp", "webhook-signature"]), header_text, max_size=3
    ),
)
def test_intake_never_fails_with_a_5xx(
    live: LiveServer,
    attempt: tuple[str, str | bytes],
    sign: str,
    webhook_id: str,
    garbage: dict[str, str],
) -> None:
    """Whatever arrives — signed or not, any content type, any body — the answer is a 2xx or 4xx
    with a JSON body, never a server error."""
    content_type, body = attempt
    raw = body.encode("utf-8") if isinstance(body, str) else body
    headers: dict[str, str] = {"Content-Type": content_type} if content_type else {}
    if sign == "valid":
        text = raw.decode("utf-8", "replace")
        raw = text.encode("utf-8")
        headers.update(signed_headers(text, webhook_id, content_type=content_type or "application/json"))
    elif sign == "garbage":
        headers.update(garbage)
    status, answer = live.request(raw, headers)
    event(f"HTTP {status}")
    _check(status, answer)


@settings(max_examples=150, deadline=None)
@given(doc=st.one_of(cap_documents(), st.text(max_size=300), st.binary(max_size=300)))
def test_cap_parser_raises_only_cap_errors(doc: str | bytes) -> None:
    """The CAP parser either returns an alert or raises CapError, for any input."""
    raw = doc.encode("utf-8") if isinstance(doc, str) else doc
    with contextlib.suppress(CapError):
        parse_cap(raw)
