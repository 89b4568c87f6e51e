"""A ``CrisisMessage`` as a CAP 1.2 ``<alert>`` (OASIS Common Alerting Protocol), pure.

What goes in: ``identifier``, ``sender``, ``sent``, ``status``, ``msgType``, ``scope``
Public, ``references`` (each earlier message of the lineage as ``sender,identifier,sent``),
and one ``<info>`` per language (the main one, then each translation) with ``category``,
``event``, ``urgency``, ``severity``, ``certainty``, ``expires``, ``senderName``,
``headline`` (with the Exercise/Test marker), ``description``, ``instruction``, ``web``
and, when configured, one ``<area>``. Times are written as the schema demands: seconds and a numeric offset
(``2026-12-03T20:55:31+00:00``, never ``Z``).

What never goes in: audiences, contact groups, approvers, operators, per-channel words or
anything else about the hospital's staff — the feed is public.
"""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree.ElementTree import Element, SubElement, tostring

from crisiscast.adapt.labels import label_for
from crisiscast.adapt.languages import text_for
from crisiscast.channels.cap_feed.config import CapConfig
from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage

__all__ = ["CAP_NS", "cap_references", "cap_time", "cap_xml"]

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"


def cap_time(when: datetime) -> str:
    """``when`` as CAP writes times: to the second, with a numeric UTC offset."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.replace(microsecond=0).isoformat()


def cap_references(message: CrisisMessage) -> str:
    """The ``references`` value: each ``sender,identifier,sent`` with CAP's time format.

    An entry that is not such a triple (an identifier alone) cannot be referenced in CAP and
    is left out.
    """
    out: list[str] = []
    for ref in message.references:
        sender, _, rest = ref.partition(",")
        identifier, _, sent = rest.partition(",")
        try:
            when = datetime.fromisoformat(sent.strip())
        except ValueError:
            continue
        if sender and identifier:
            out.append(f"{sender.strip()},{identifier.strip()},{cap_time(when)}")
    return " ".join(out)


def cap_xml(message: CrisisMessage, config: CapConfig, policy: PolicyConfig) -> str:
    """The CAP 1.2 document of ``message`` (UTF-8 XML text with its declaration).

    An Exercise or Test says so twice: in ``status`` and, for people reading the headline
    alone, with the configured marker in front of each headline.
    """
    label = label_for(message, policy)
    alert = Element("alert", {"xmlns": CAP_NS})

    def add(parent: Element, tag: str, text: str | None) -> None:
        if text:
            SubElement(parent, tag).text = text

    add(alert, "identifier", message.identifier)
    add(alert, "sender", message.sender)
    add(alert, "sent", cap_time(message.sent))
    add(alert, "status", message.status.value)
    add(alert, "msgType", message.msg_type.value)
    add(alert, "scope", "Public")
    add(alert, "references", cap_references(message))
    for language in message.languages:
        words = text_for(message, language)  # the message's own words, no channel's
        info = SubElement(alert, "info")
        add(info, "language", language)
        add(info, "category", config.category)
        add(info, "event", message.event or words.headline)
        add(info, "urgency", message.urgency.value)
        add(info, "severity", message.severity.value)
        add(info, "certainty", message.certainty.value)
        if message.expires is not None:
            add(info, "expires", cap_time(message.expires))
        add(info, "senderName", config.sender_name)
        add(info, "headline", label.apply(words.headline))
        add(info, "description", words.description)
        add(info, "instruction", words.instruction)
        add(info, "web", words.web)
        if config.area_desc:
            area = SubElement(info, "area")
            add(area, "areaDesc", config.area_desc)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + tostring(alert, encoding="unicode")
