"""The Slack staff alert: Block Kit blocks in an attachment whose bar is the severity colour.

``slack_payload(message, policy)`` is pure. The notification text (``text``, what phones and
the channel list show) and the header start with the exercise marker for a drill, and a first
section says in bold that it is a drill; the header holds the headline (Slack allows 150
characters), then the instruction, the description, a "More information" button for the link
and a context line with the severity. Words are escaped for mrkdwn (``&``, ``<``, ``>``), so a
message can never mention ``@channel`` or make a link by accident. Each further language is a
section of its own.
"""

from __future__ import annotations

from crisiscast.adapt.labels import label_for
from crisiscast.adapt.languages import text_for
from crisiscast.config import PolicyConfig
from crisiscast.jsontypes import JsonObject
from crisiscast.message import CrisisMessage, Severity

__all__ = ["HEADER_MAX_CHARS", "SECTION_MAX_CHARS", "SEVERITY_COLOURS", "mrkdwn_escape", "slack_payload"]

NAME = "slack"
HEADER_MAX_CHARS = 150
SECTION_MAX_CHARS = 3000
SEVERITY_COLOURS = {
    Severity.EXTREME: "#B00020",
    Severity.SEVERE: "#E53935",
    Severity.MODERATE: "#FB8C00",
    Severity.MINOR: "#FDD835",
    Severity.UNKNOWN: "#757575",
}
EXERCISE_COLOUR = "#1E88E5"  # a drill is never red: blue, and the marker says why


def mrkdwn_escape(text: str) -> str:
    """``text`` safe in Slack mrkdwn: the three control characters as entities."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> JsonObject:
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, SECTION_MAX_CHARS)}}


def slack_payload(message: CrisisMessage, policy: PolicyConfig) -> JsonObject:
    """The webhook body for ``message``: ``text`` and one coloured attachment of blocks."""
    label = label_for(message, policy)
    main = text_for(message, message.language, NAME)
    headline = label.apply(main.headline)
    blocks: list[JsonObject] = []
    if label.marker:
        blocks.append(_section(f"*{mrkdwn_escape(label.marker)} — this is a drill, not a real alert.*"))
    blocks.append(
        {"type": "header", "text": {"type": "plain_text", "text": _cut(headline, HEADER_MAX_CHARS)}}
    )
    if main.instruction:
        blocks.append(_section(f"*{mrkdwn_escape(main.instruction)}*"))
    if main.description:
        blocks.append(_section(mrkdwn_escape(main.description)))
    for language in message.languages[1:]:
        other = text_for(message, language, NAME)
        words = [
            f"*{mrkdwn_escape(other.headline)}*",
            mrkdwn_escape(other.instruction),
            mrkdwn_escape(other.description),
        ]
        blocks.append(_section("\n".join(w for w in words if w)))
    if main.web:
        button: JsonObject = {
            "type": "button",
            "text": {"type": "plain_text", "text": "More information"},
            "url": str(main.web),
        }
        blocks.append({"type": "actions", "elements": [button]})
    context = f"Severity: {message.severity.value} · {message.msg_type.value} · sent by crisiscast"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn_escape(context)}]})
    colour = EXERCISE_COLOUR if label.marker else SEVERITY_COLOURS[message.severity]
    return {"text": headline, "attachments": [{"color": colour, "blocks": blocks}]}
