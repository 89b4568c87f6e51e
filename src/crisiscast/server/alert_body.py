"""The body of ``POST /v1/alerts``: a template request, a full message, or a CAP 1.2 alert.

JSON (``application/json``, UTF-8), one of two shapes::

    {"template": "facility-fire", "version": 1, "status": "Actual",
     "variables": {"location": "Building A, floor 3"},
     "language": "en", "audiences": ["all-staff"], "channels": ["sms", "banner"],
     "msg_type": "Alert", "references": [], "expires": "2026-11-28T18:00:00+00:00"}

    {"message": { ...every CrisisMessage field: status, headline, description, ... }}

``status`` is required for a template request: the sender says whether this is an Actual
alert, an Exercise or a Test. ``version`` is optional; when given it must be the approved
version. CAP 1.2 (``application/cap+xml`` or ``application/xml``): see ``crisiscast.server.cap``.

The result is a ``ParsedAlert``: the ``CrisisMessage`` and whether it came from a
pre-approved template (then it may be dispatched at once; otherwise it is held as a draft).
Every problem raises ``AlertRejected`` with one sentence, answered 422.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crisiscast.channels.registry import names as channel_names
from crisiscast.errors import UserError
from crisiscast.message import CrisisMessage, MsgType, Status
from crisiscast.server.cap import parse_cap
from crisiscast.strict_json import DuplicateKeyError, loads_unique
from crisiscast.templates import TemplateCatalog

__all__ = ["JSON_TYPES", "XML_TYPES", "AlertRejected", "ParsedAlert", "parse_alert_body"]

JSON_TYPES = frozenset({"application/json"})
XML_TYPES = frozenset({"application/cap+xml", "application/xml"})

Audiences = Mapping[str, tuple[str, ...]]  # audience name -> its contact groups (Settings.audiences)


class AlertRejected(UserError):
    """The alert body cannot be used (answered 422 with this sentence)."""


@dataclass(frozen=True, slots=True)
class ParsedAlert:
    """A valid alert: its message, and the template it was rendered from (None: free text)."""

    message: CrisisMessage
    from_template: bool
    kind: str  # "template", "message" or "cap"
    clock_note: str | None = None  # how the sender's clock was corrected (crisiscast.clock)


class TemplateRequest(BaseModel):
    """The JSON shape that asks for a pre-approved template."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    template: str = Field(min_length=1, max_length=80)
    version: int | None = None
    status: Status
    variables: dict[str, Any] = Field(default_factory=dict)
    language: str | None = Field(default=None, max_length=20)
    audiences: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None
    msg_type: MsgType = MsgType.ALERT
    references: tuple[str, ...] = ()
    expires: datetime | None = None


def _first_error(exc: ValidationError, prefix: str = "") -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    where = f"{prefix}{where}" if where else prefix.rstrip(".") or "body"
    return f"{where}: {err['msg']}"


def _check_names(
    channels: tuple[str, ...] | None, audiences: tuple[str, ...] | None, known: Audiences
) -> None:
    for name in channels or ():
        if name not in channel_names():
            raise AlertRejected(f"Unknown channel {name[:40]!r}; use {', '.join(channel_names())}.")
    for name in audiences or ():
        if name not in known:
            raise AlertRejected(
                f"Unknown audience {name[:40]!r}; configured audiences: {', '.join(sorted(known))}."
            )


def _from_template(
    catalog: TemplateCatalog,
    *,
    template_id: str,
    version: int | None,
    variables: Mapping[str, Any],
    status: Status,
    language: str | None,
    msg_type: MsgType,
    references: tuple[str, ...],
    audiences: tuple[str, ...] | None,
    channels: tuple[str, ...] | None,
    expires: datetime | None,
    sender: str,
    identifier: str | None = None,
    sent: datetime | None = None,
) -> CrisisMessage:
    try:
        template = catalog.get(template_id, version)
        if language is not None and language not in template.text:
            language = None  # the template's own main language; every language is sent anyway
        return template.render(
            variables,
            status=status,
            language=language,
            msg_type=msg_type,
            references=references,
            audiences=audiences,
            channels=channels,
            expires=expires,
            sender=sender,
            identifier=identifier,
            sent=sent,
        )
    except UserError as exc:
        raise AlertRejected(str(exc)) from None


def _parse_json(body: bytes, catalog: TemplateCatalog, audiences: Audiences) -> ParsedAlert:
    try:
        data = loads_unique(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise AlertRejected("The body is not UTF-8 text; send JSON encoded as UTF-8.") from None
    except DuplicateKeyError as dup:
        raise AlertRejected(
            f"The body gives the field {dup.key[:40]!r} twice; send each field once."
        ) from None
    except (ValueError, RecursionError) as exc:  # ValueError: also a number too long to convert
        detail = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise AlertRejected(f"The body is not valid JSON{detail}.") from None
    if not isinstance(data, dict):
        raise AlertRejected('The body must be a JSON object with "template" or "message".')
    if "template" in data:
        try:
            req = TemplateRequest.model_validate(data)
        except ValidationError as exc:
            raise AlertRejected(f"The template request is invalid: {_first_error(exc)}.") from None
        _check_names(req.channels, req.audiences, audiences)
        message = _from_template(
            catalog,
            template_id=req.template,
            version=req.version,
            variables=req.variables,
            status=req.status,
            language=req.language,
            msg_type=req.msg_type,
            references=req.references,
            audiences=req.audiences,
            channels=req.channels,
            expires=req.expires,
            sender="webhook",
        )
        return ParsedAlert(message=message, from_template=True, kind="template")
    if "message" in data:
        extra = sorted(set(data) - {"message"})
        if extra:
            raise AlertRejected(f'Unexpected field {extra[0][:40]!r} next to "message"; send only "message".')
        raw = data["message"]
        if not isinstance(raw, dict):
            raise AlertRejected('"message" must be a JSON object with the message fields.')
        try:
            message = CrisisMessage.model_validate(raw)
        except ValidationError as exc:
            raise AlertRejected(f"The message is invalid: {_first_error(exc, 'message.')}.") from None
        if message.template is not None:
            raise AlertRejected(
                'A full message cannot claim a template; send {"template": ID, "variables": {...}} instead.'
            )
        _check_names(message.channels, message.audiences, audiences)
        return ParsedAlert(message=message, from_template=False, kind="message")
    raise AlertRejected(
        'The body must be a JSON object with "template" (a pre-approved template) or "message".'
    )


def _parse_xml(body: bytes, catalog: TemplateCatalog, audiences: Audiences) -> ParsedAlert:
    try:
        alert = parse_cap(body)
    except UserError as exc:
        raise AlertRejected(str(exc)) from None
    _check_names(None, alert.audiences, audiences)
    if alert.template_id is not None:
        message = _from_template(
            catalog,
            template_id=alert.template_id,
            version=alert.template_version,
            variables=alert.variables,
            status=alert.status,
            language=alert.language,
            msg_type=alert.msg_type,
            references=alert.references,
            audiences=alert.audiences,
            channels=None,
            expires=None,
            sender=alert.sender,
            identifier=alert.identifier,
            sent=alert.sent,
        )
        return ParsedAlert(message=message, from_template=True, kind="cap")
    assert alert.message is not None
    return ParsedAlert(message=alert.message, from_template=False, kind="cap")


def parse_alert_body(
    content_type: str, body: bytes, catalog: TemplateCatalog, audiences: Audiences
) -> ParsedAlert:
    """Parse a verified body of type ``content_type``; raises ``AlertRejected`` (422)."""
    if content_type in XML_TYPES:
        return _parse_xml(body, catalog, audiences)
    return _parse_json(body, catalog, audiences)
