"""CAP 1.2 parsing: the mapping into a CrisisMessage, templates by parameter, and XML attacks refused."""

from __future__ import annotations

import pytest

from crisiscast.message import MsgType, Severity, Status, Urgency
from crisiscast.server.cap import CapError, parse_cap

NS = "urn:oasis:names:tc:emergency:cap:1.2"


def alert(body: str, *, status: str = "Actual", msg_type: str = "Alert", extra: str = "") -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="{NS}">
  <identifier>HOSP-1</identifier><sender>alerts@hospital.example</sender>
  <sent>2026-11-28T14:05:00-05:00</sent><status>{status}</status><msgType>{msg_type}</msgType>
  <scope>Private</scope>{extra}
  {body}
</alert>""".encode()


INFO_EN = """<info><language>en-US</language><category>Safety</category><event>Tornado warning</event>
  <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
  <expires>2026-11-28T16:00:00-05:00</expires>
  <headline>Tornado warning: shelter in place</headline>
  <description>A tornado warning is in effect.</description>
  <instruction>Move away from windows.</instruction><web>https://www.example.org/emergency</web></info>"""
INFO_ES = """<info><language>es-US</language><event>Aviso de tornado</event>
  <urgency>Immediate</urgency><severity>Severe</severity><certainty>Likely</certainty>
  <headline>Aviso de tornado: refúgiese</headline>
  <instruction>Aléjese de las ventanas.</instruction></info>"""


def test_free_text_maps_every_field() -> None:
    """Alert and info fields map onto the message; the second language becomes a translation."""
    parsed = parse_cap(alert(INFO_EN + INFO_ES))
    assert parsed.template_id is None
    m = parsed.message
    assert m is not None
    assert (m.identifier, m.sender, m.status, m.msg_type) == (
        "HOSP-1",
        "alerts@hospital.example",
        Status.ACTUAL,
        MsgType.ALERT,
    )
    assert m.sent.isoformat() == "2026-11-28T19:05:00+00:00"
    assert (m.event, m.severity, m.urgency) == ("Tornado warning", Severity.SEVERE, Urgency.IMMEDIATE)
    assert m.language == "en" and m.headline == "Tornado warning: shelter in place"
    assert m.instruction == "Move away from windows." and m.web == "https://www.example.org/emergency"
    assert m.expires is not None and m.expires.isoformat() == "2026-11-28T21:00:00+00:00"
    assert m.translations["es"].headline == "Aviso de tornado: refúgiese"


def test_cancel_keeps_referenced_identifiers() -> None:
    """A Cancel's references (sender,identifier,sent triples) keep the identifiers."""
    refs = "<references>alerts@hospital.example,HOSP-0,2026-11-28T13:00:00-05:00</references>"
    parsed = parse_cap(alert(INFO_EN, msg_type="Cancel", extra=refs))
    assert parsed.message is not None
    assert parsed.message.msg_type is MsgType.CANCEL and parsed.message.references == ("HOSP-0",)


def test_template_parameters_are_read() -> None:
    """crisiscast-template, -template-version and crisiscast-var:NAME parameters request a template."""
    params = """
      <parameter><valueName>crisiscast-template</valueName><value>weather-shelter</value></parameter>
      <parameter><valueName>crisiscast-template-version</valueName><value>1</value></parameter>
      <parameter><valueName>crisiscast-var:hazard</valueName><value>tornado</value></parameter>
      <parameter><valueName>crisiscast-var:until</valueName><value>16:00</value></parameter>
      <parameter><valueName>crisiscast-audience</valueName><value>all-staff</value></parameter>"""
    parsed = parse_cap(alert(INFO_EN.replace("</info>", params + "</info>"), status="Exercise"))
    assert parsed.template_id == "weather-shelter" and parsed.template_version == 1
    assert parsed.variables == {"hazard": "tornado", "until": "16:00"}
    assert parsed.audiences == ("all-staff",)
    assert parsed.status is Status.EXERCISE and parsed.message is None


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&lol2;</identifier></alert>"""
XXE = b"""<?xml version="1.0"?>
<!DOCTYPE alert [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"><identifier>&xxe;</identifier></alert>"""
DTD_ONLY = b"""<?xml version="1.0"?><!DOCTYPE alert SYSTEM "http://127.0.0.1:9/cap.dtd">
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"/>"""


@pytest.mark.parametrize(
    "doc", [BILLION_LAUGHS, XXE, DTD_ONLY], ids=["billion-laughs", "xxe", "external-dtd"]
)
def test_xml_attacks_are_refused(doc: bytes) -> None:
    """DTDs, entity expansion and external entities are refused before anything is resolved."""
    with pytest.raises(CapError, match="DTD, entity or external reference"):
        parse_cap(doc)


@pytest.mark.parametrize(
    ("doc", "expected"),
    [
        (b"not xml at all", "not well-formed XML"),
        (b"<alert><identifier>x</identifier></alert>", "CAP 1.2 namespace"),
        (b'<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1"/>', "CAP 1.2 namespace"),
        (alert(INFO_EN).replace(b"<identifier>HOSP-1</identifier>", b""), "<identifier>"),
        (alert(INFO_EN, status="Draft"), "<status> 'Draft'"),
        (alert(INFO_EN, msg_type="Ack"), "<msgType> 'Ack'"),
        (alert(""), "no <info>"),
        (alert(INFO_EN).replace(b"-05:00</sent>", b"</sent>"), "with a zone"),
        (alert(INFO_EN.replace("<severity>Severe</severity>", "")), "<severity>"),
        (alert(INFO_EN.replace("Severe</severity>", "Apocalyptic</severity>")), "severity"),
        (alert(INFO_EN.replace("<language>en-US", "<language>1234")), "language code"),
        (alert(INFO_EN.replace("Tornado warning: shelter in place", "x" * 200)), "headline"),
        (alert(INFO_EN, msg_type="Update"), "references"),
    ],
)
def test_invalid_cap_names_the_problem(doc: bytes, expected: str) -> None:
    """Every invalid alert fails with a CapError naming the element or rule."""
    with pytest.raises(CapError) as info:
        parse_cap(doc)
    assert expected in str(info.value)
