"""CAP 1.2 (OASIS Common Alerting Protocol) alerts in, ``CrisisMessage`` out.

Parsed with defusedxml: a document type declaration, an entity or an external reference is
refused (no billion laughs, no XXE). The root must be ``<alert>`` in the namespace
``urn:oasis:names:tc:emergency:cap:1.2``.

Mapping: ``identifier``, ``sender``, ``sent``, ``status``, ``msgType`` and ``references``
(each ``sender,identifier,sent`` triple contributes its identifier) go to the message; each
``<info>`` block is one language (``en-US`` becomes ``en``): the first is the main language,
the others become translations (a second block in a language already seen is ignored).
``event``, ``urgency``, ``severity``, ``certainty``, ``expires`` are taken from the first
block; ``headline`` (``event`` when absent), ``description``, ``instruction`` and ``web``
from each.

Templates: a CAP alert is free text (held as a draft awaiting approval) unless its first
``<info>`` names a pre-approved template in ``<parameter>`` elements::

    <parameter><valueName>crisiscast-template</valueName><value>facility-fire</value></parameter>
    <parameter><valueName>crisiscast-template-version</valueName><value>1</value></parameter>
    <parameter><valueName>crisiscast-var:location</valueName><value>Building A</value></parameter>

Then the template's approved words are sent (the CAP text is ignored), rendered with the
alert's status, msgType and references, in the first block's language when the template has
it. ``crisiscast-audience`` (comma-separated configured audience names) picks audiences.

Failure: ``CapError`` (a ``UserError``) with a sentence naming the element that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

import defusedxml
from defusedxml.ElementTree import fromstring
from pydantic import ValidationError

from crisiscast.errors import UserError
from crisiscast.message import CrisisMessage, MessageText, MsgType, Status

__all__ = ["CAP_NS", "CapAlert", "CapError", "parse_cap"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
_NS = f"{{{CAP_NS}}}"
_TEMPLATE = "crisiscast-template"
_TEMPLATE_VERSION = "crisiscast-template-version"
_VAR_PREFIX = "crisiscast-var:"
_AUDIENCE = "crisiscast-audience"


class CapError(UserError):
    """The body is not a CAP 1.2 alert crisiscast can take (answered 422)."""


@dataclass(frozen=True, slots=True)
class CapAlert:
    """A parsed CAP alert: the free-text message and, when named, a template request."""

    identifier: str
    sender: str
    sent: datetime
    status: Status
    msg_type: MsgType
    references: tuple[str, ...]
    language: str
    audiences: tuple[str, ...] | None
    template_id: str | None = None
    template_version: int | None = None
    variables: dict[str, str] = field(default_factory=dict)
    message: CrisisMessage | None = None  # the free text (None when only a template is named)


def _text(parent: Element, name: str) -> str:
    child = parent.find(_NS + name)
    return (child.text or "").strip() if child is not None else ""


def _required(parent: Element, name: str, where: str) -> str:
    value = _text(parent, name)
    if not value:
        raise CapError(f"The CAP alert lacks <{name}> in <{where}>; it is required by CAP 1.2.")
    return value


def _enum(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise CapError(
            f"The CAP <{name}> {value[:40]!r} is not one crisiscast takes; use {', '.join(allowed)}."
        )
    return value


def _datetime(value: str, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CapError(
            f"The CAP <{name}> {value[:40]!r} is not a date and time with a zone, "
            "such as 2026-11-28T14:05:00-05:00."
        )
    return parsed


def _language(info: Element) -> str:
    raw = _text(info, "language") or "en-US"
    primary = raw.split("-")[0].lower()
    if not primary.isalpha() or not 2 <= len(primary) <= 3 or not primary.isascii():
        raise CapError(f"The CAP <language> {raw[:20]!r} is not a language code such as en-US.")
    return primary


def _parameters(info: Element) -> dict[str, str]:
    out: dict[str, str] = {}
    for param in info.findall(_NS + "parameter"):
        name = _text(param, "valueName")
        if name and name not in out:
            out[name] = _text(param, "value")
    return out


def _parse_xml(body: bytes) -> Element:
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except defusedxml.DefusedXmlException:
        raise CapError(
            "The CAP alert contains a DTD, entity or external reference; these are refused for safety."
        ) from None
    except LookupError:  # an encoding declaration Python does not know
        raise CapError("The XML declares an encoding this server does not know; send UTF-8.") from None
    except (ParseError, ValueError, UnicodeError) as exc:
        raise CapError(
            f"The body is not well-formed XML ({str(exc)[:80]}); send a CAP 1.2 <alert>."
        ) from None
    if not isinstance(root, Element) or root.tag != _NS + "alert":
        raise CapError(f"The XML root must be <alert> in the CAP 1.2 namespace {CAP_NS}.")
    return root


def parse_cap(body: bytes) -> CapAlert:
    """Parse a CAP 1.2 document; raises ``CapError`` naming what is wrong."""
    root = _parse_xml(body)
    identifier = _required(root, "identifier", "alert")
    sender = _required(root, "sender", "alert")
    sent = _datetime(_required(root, "sent", "alert"), "sent")
    status = Status(_enum(_required(root, "status", "alert"), tuple(s.value for s in Status), "status"))
    msg_type = MsgType(_enum(_required(root, "msgType", "alert"), tuple(m.value for m in MsgType), "msgType"))
    references = tuple(
        triple.split(",")[1] if triple.count(",") == 2 else triple
        for triple in _text(root, "references").split()
    )
    infos = root.findall(_NS + "info")
    if not infos:
        raise CapError(
            "The CAP alert has no <info> block; crisiscast needs at least one with the text to send."
        )
    first = infos[0]
    params = _parameters(first)
    main_language = _language(first)
    audience_param = params.get(_AUDIENCE, "")
    audiences = tuple(a.strip() for a in audience_param.split(",") if a.strip()) or None
    template_id = params.get(_TEMPLATE) or None
    template_version: int | None = None
    if params.get(_TEMPLATE_VERSION):
        try:
            template_version = int(params[_TEMPLATE_VERSION])
        except ValueError:
            raise CapError("The CAP parameter crisiscast-template-version must be a whole number.") from None
    variables = {k.removeprefix(_VAR_PREFIX): v for k, v in params.items() if k.startswith(_VAR_PREFIX)}
    alert = CapAlert(
        identifier=identifier,
        sender=sender,
        sent=sent,
        status=status,
        msg_type=msg_type,
        references=references,
        language=main_language,
        audiences=audiences,
    )
    if template_id is not None:
        return replace(alert, template_id=template_id, template_version=template_version, variables=variables)
    return replace(alert, message=_free_text(infos, alert))


def _free_text(infos: list[Element], alert: CapAlert) -> CrisisMessage:
    first = infos[0]
    event = _required(first, "event", "info")
    fields: dict[str, Any] = {
        "identifier": alert.identifier,
        "sender": alert.sender,
        "sent": alert.sent,
        "status": alert.status,
        "msg_type": alert.msg_type,
        "references": alert.references,
        "language": alert.language,
        "event": event,
        "urgency": _required(first, "urgency", "info"),
        "severity": _required(first, "severity", "info"),
        "certainty": _required(first, "certainty", "info"),
    }
    if alert.audiences:
        fields["audiences"] = alert.audiences
    expires = _text(first, "expires")
    if expires:
        fields["expires"] = _datetime(expires, "expires")
    translations: dict[str, dict[str, Any]] = {}
    for position, info in enumerate(infos):
        language = _language(info)
        words = {
            "headline": _text(info, "headline") or _text(info, "event") or event,
            "description": _text(info, "description"),
            "instruction": _text(info, "instruction"),
            "web": _text(info, "web") or None,
        }
        if position == 0:
            fields.update(words)
        elif language != alert.language and language not in translations:
            translations[language] = words
    try:
        fields["translations"] = {k: MessageText.model_validate(v) for k, v in translations.items()}
        return CrisisMessage.model_validate(fields)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "alert"
        raise CapError(f"The CAP alert cannot be used: {where}: {err['msg']}.") from None
