"""Signed requests with extreme dates or an unknown XML encoding get 422 with one sentence,
never a 500; an ``expires`` too far ahead for MQTT is refused at intake."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.server.helpers import Harness, signed_headers, start_harness, stop_harness

NS = "urn:oasis:names:tc:emergency:cap:1.2"


def cap(*, sent: str = "2026-11-28T14:05:00-05:00", encoding: str = "UTF-8", expires: str = "") -> bytes:
    expires_xml = f"<expires>{expires}</expires>" if expires else ""
    return f"""<?xml version="1.0" encoding="{encoding}"?>
<alert xmlns="{NS}">
  <identifier>HOSP-9</identifier><sender>alerts@hospital.example</sender>
  <sent>{sent}</sent><status>Exercise</status><msgType>Alert</msgType><scope>Private</scope>
  <info><language>en-US</language><category>Fire</category><event>Fire</event>
  <urgency>Immediate</urgency><severity>Severe</severity><certainty>Observed</certainty>{expires_xml}
  <headline>Fire</headline>
  <parameter><valueName>crisiscast-template</valueName><value>facility-fire</value></parameter>
  <parameter><valueName>crisiscast-var:location</valueName><value>Building A</value></parameter>
  </info>
</alert>""".encode()


async def _post(h: Harness, body: bytes, content_type: str, webhook_id: str) -> tuple[int, dict[str, str]]:
    headers = signed_headers(body, webhook_id, content_type=content_type)
    resp = await h.client.post("/v1/alerts", data=body, headers=headers)
    return resp.status, await resp.json()


def _message(**fields: str) -> bytes:
    message = {"status": "Exercise", "headline": "Drill: evacuate wing C", **fields}
    return json.dumps({"message": message}).encode()


def _template(**fields: str) -> bytes:
    body = {"template": "facility-fire", "status": "Exercise", "variables": {"location": "Building A"}}
    return json.dumps({**body, **fields}).encode()


CASES = {
    "cap-sent-year-9999": (cap(sent="9999-12-31T23:59:59-05:00"), "application/cap+xml"),
    "cap-sent-year-1": (cap(sent="0001-01-01T00:00:00+14:00"), "application/cap+xml"),
    "cap-free-text-expires-year-9999": (
        cap(expires="9999-12-31T23:59:59-05:00").replace(b"crisiscast-template<", b"not-a-template<"),
        "application/cap+xml",
    ),
    "cap-unknown-encoding": (cap(encoding="x-no-such-encoding"), "application/cap+xml"),
    "json-sent-year-9999": (_message(sent="9999-12-31T23:59:59-05:00"), "application/json"),
    "json-sent-year-1": (_message(sent="0001-01-01T00:00:00+14:00"), "application/json"),
    "json-expires-year-9999": (_message(expires="9999-12-31T23:59:59+00:00"), "application/json"),
    "template-expires-year-9999": (_template(expires="9999-12-31T23:59:59-05:00"), "application/json"),
    "template-expires-past-2-32-s": (_template(expires="2200-01-01T00:00:00+00:00"), "application/json"),
}


@pytest.mark.parametrize("case", sorted(CASES))
async def test_extreme_dates_and_encodings_are_422_not_500(tmp_path: Path, case: str) -> None:
    """Each hostile but signed body is refused 422 with a plain sentence; nothing is planned."""
    body, content_type = CASES[case]
    h = await start_harness(tmp_path)
    try:
        status, answer = await _post(h, body, content_type, f"dates-{case}")
        planned = [e async for e in h.store.events()]
    finally:
        await stop_harness(h)
    assert status == 422, answer
    assert answer["error"].endswith("."), answer
    assert "Traceback" not in answer["error"]
    assert planned == []
