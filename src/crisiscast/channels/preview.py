"""What a channel's preview is: the exact text it will send, with its own measures, typed.

Each channel's ``preview`` returns a ``ChannelPreview``: ``to_json()`` for ``--json`` and the
API, ``panels()`` for the terminal (one panel per language or document: title, the parts as
they will be sent, and the channel's measure), ``summary()`` for a closing line (SMS: the
recipients and segments in all), and ``contact_problems`` (rows of a contacts file that the
channel skips). ``DocumentPreview`` serves every channel that publishes a state document
(the banner, signage).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from crisiscast.jsontypes import JsonMapping, json_object

__all__ = ["ChannelPreview", "DocumentPreview", "JsonValue", "PreviewPanel"]

JsonValue = str | int | float | bool | None | list["JsonValue"] | dict[str, "JsonValue"]


@dataclass(frozen=True, slots=True)
class PreviewPanel:
    """One block of the preview as people see it: ``<title> · <language>``, parts, measure."""

    language: str
    parts: tuple[str, ...]
    measure: str


class ChannelPreview(Protocol):
    """What every channel's preview offers."""

    @property
    def contact_problems(self) -> tuple[str, ...]: ...

    def to_json(self) -> dict[str, JsonValue]: ...

    def panels(self) -> Sequence[PreviewPanel]: ...

    def summary(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class DocumentPreview:
    """The preview of a state document (banner, signage): the document as it will be written."""

    document: JsonMapping
    contact_problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, JsonValue]:
        return {"document": json.loads(json.dumps(self.document, default=str))}

    def panels(self) -> Sequence[PreviewPanel]:
        doc = self.document
        lines = [str(doc.get(k)) for k in ("headline", "instruction", "web") if doc.get(k)]
        for lang, words in json_object(doc.get("translations")).items():
            lines.append(f"[{lang}] " + " · ".join(str(v) for v in json_object(words).values() if v))
        size = len(json.dumps(doc, ensure_ascii=False, default=str).encode("utf-8"))
        return [
            PreviewPanel(
                str(doc.get("language", "")),
                ("\n".join(lines),),
                f"{doc.get('severity')} · {size} bytes of JSON",
            )
        ]

    def summary(self) -> str | None:
        return None
