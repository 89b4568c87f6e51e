"""Pre-approved message templates: the only text a webhook or one operator may send alone.

A template is a YAML file in ``config/templates/`` (``Settings.templates_dir``) that was
reviewed and approved once, by name and date, before any crisis. It carries the CAP fields
(event, severity, urgency, certainty), the words per language with ``{variable}``
placeholders, optional per-channel overrides, and the variables with their constraints
(type, pattern, maximum length, choices, required or a default)::

    id: facility-fire
    version: 3
    approved_by: "Dana Whitfield, Emergency Management"
    approved_at: 2026-01-12T09:30:00Z
    status: approved            # or "retired": a retired template is never rendered
    event: Fire
    severity: Extreme
    urgency: Immediate
    certainty: Observed
    variables:
      location: {type: string, required: true, max_length: 60, description: "Building, floor, area"}
    text:
      en: {headline: "Facility alert: fire in {location}", instruction: "...", web: "https://..."}
      es: {headline: "Alerta de instalación: incendio en {location}", instruction: "..."}
    channels:                   # optional: different words for one channel
      sms:
        en: {headline: "FIRE {location}"}
    default_channels: [twitter, facebook, banner]   # optional: where it goes unless told otherwise
    update:                     # optional: the words of a CAP Update sent from this template
      en: {headline: "Update – facility alert: fire in {location}", instruction: "..."}
    all_clear:                  # optional: the words of its all-clear (CAP Cancel)
      en: {headline: "All clear: the fire in {location} is out", instruction: "..."}
    poll:                       # optional: the question staff answer by reply (crisiscast.rollcall)
      deadline_min: 30
      answers:                  # a label in every language of text
        - {code: "1", label: {en: I am safe, es: Estoy a salvo}, words: [safe, salvo]}

``update`` and ``all_clear``, when present, cover every language of ``text`` and are used
when the template is rendered as an Update or a Cancel (``crisiscast update`` and
``crisiscast cancel --template``). A ``poll`` goes with the alert and its Updates, never with
the all-clear. A variable's ``example`` is the value the quality gate
(``crisiscast.preflight``) fills in when it checks the template at load.

A per-channel entry replaces the fields it names for that channel and language; the rendered
message carries it as ``CrisisMessage.channel_text`` and the channel's adaptation uses it
(markers, budgets and the PHI guard apply to it as to the shared text).

Rendering checks every variable against its constraints and fails with a ``TemplateError``
that names the template, the variable and what is wrong. The resulting ``CrisisMessage``
carries ``TemplateRef(id, version, content_hash, approved_by)``; ``content_hash`` is the
SHA-256 of the template file's bytes (line endings normalised to ``\\n``), so an auditor can
recompute it from the file with ``sha256sum`` and tell exactly which wording was approved.
"""

from __future__ import annotations

import hashlib
import re
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crisiscast.channels.registry import names as channel_names
from crisiscast.errors import ConfigError, UserError
from crisiscast.escalation.policy import EscalationStep, policy_problem
from crisiscast.message import (
    Certainty,
    CrisisMessage,
    MessageText,
    MsgType,
    Severity,
    Status,
    TemplateRef,
    Urgency,
)
from crisiscast.rollcall.poll import Poll
from crisiscast.safe_text import problem

if TYPE_CHECKING:
    from crisiscast.preflight.settings import PreflightConfig

__all__ = [
    "SkippedTemplate",
    "Template",
    "TemplateCatalog",
    "TemplateError",
    "TemplateText",
    "Variable",
    "load_templates",
]

_SPACES = re.compile(r"[ \t]{2,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_TEXT_FIELDS = ("headline", "description", "instruction", "web")


class TemplateError(UserError):
    """A template cannot be rendered with the given values (unknown, retired, bad variable).

    ``str(err)`` names the template and the variable and says what to change.
    """


class Variable(BaseModel):
    """One ``{placeholder}`` and the values it accepts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["string", "integer", "choice"] = "string"
    description: str = ""
    required: bool = True
    default: str | int | None = None
    max_length: int = Field(default=80, ge=1, le=500)
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    minimum: int | None = None
    maximum: int | None = None
    labels: dict[str, dict[str, str]] = Field(default_factory=dict)  # language -> choice -> words
    example: str | None = None  # what the quality gate fills in when it checks the template

    @model_validator(mode="after")
    def _consistent(self) -> Variable:
        if self.type == "choice" and not self.choices:
            raise ValueError("a choice variable needs choices")
        for lang, labels in self.labels.items():
            stray = set(labels) - set(self.choices)
            if stray:
                raise ValueError(f"labels.{lang} names {sorted(stray)[0]!r} which is not one of the choices")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from None
        return self


class TemplateText(BaseModel):
    """The words of a template in one language, with ``{variable}`` placeholders."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headline: str = Field(min_length=1)
    description: str = ""
    instruction: str = ""
    web: str | None = None


class ChannelText(BaseModel):
    """A per-channel override: any field left out keeps the shared text."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    headline: str | None = None
    description: str | None = None
    instruction: str | None = None
    web: str | None = None


class Template(BaseModel):
    """One approved template, as read from its file (plus the file's content hash)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    version: int = Field(ge=1)
    approved_by: str = Field(min_length=1)
    approved_at: datetime
    status: Literal["approved", "retired"] = "approved"
    title: str = ""
    event: str = Field(min_length=1, max_length=120)
    severity: Severity
    urgency: Urgency
    certainty: Certainty
    audiences: tuple[str, ...] = ("all-staff",)
    default_channels: tuple[str, ...] | None = None  # None: every enabled channel
    expires_in_s: int | None = Field(default=None, ge=60)
    variables: dict[str, Variable] = Field(default_factory=dict)
    escalation: tuple[EscalationStep, ...] = ()  # for who has not answered the poll (crisiscast.escalation)
    text: dict[str, TemplateText]
    channels: dict[str, dict[str, ChannelText]] = Field(default_factory=dict)
    update: dict[str, TemplateText] = Field(default_factory=dict)  # words of an Update, per language
    all_clear: dict[str, TemplateText] = Field(default_factory=dict)  # words of the all-clear
    poll: Poll | None = None  # the question staff answer (an alert and its Updates; not the all-clear)
    content_hash: str = ""
    source: str = ""

    @field_validator("text")
    @classmethod
    def _has_text(cls, value: dict[str, TemplateText]) -> dict[str, TemplateText]:
        if not value:
            raise ValueError("a template needs text in at least one language")
        for lang in value:
            if not re.fullmatch(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*", lang):
                raise ValueError(f"{lang!r} is not a language code such as 'en' or 'es'")
        return value

    @model_validator(mode="after")
    def _escalation_has_poll(self) -> Template:
        poll = getattr(self, "poll", None)  # a template's poll, where templates carry one
        reason = policy_problem(
            self.escalation, has_poll=poll is not None, deadline_min=getattr(poll, "deadline_min", None)
        )
        if reason is not None:
            raise ValueError(reason)
        return self

    @model_validator(mode="after")
    def _placeholders_declared(self) -> Template:
        texts: list[tuple[str, str]] = []
        for lang, t in self.text.items():
            texts.extend((f"text.{lang}.{f}", getattr(t, f) or "") for f in _TEXT_FIELDS)
        for kind, wording in (("update", self.update), ("all_clear", self.all_clear)):
            if wording and set(wording) != set(self.text):
                languages = ", ".join(self.text)
                raise ValueError(f"{kind} must have words in the same languages as text: {languages}")
            for lang, t in wording.items():
                texts.extend((f"{kind}.{lang}.{f}", getattr(t, f) or "") for f in _TEXT_FIELDS)
        for channel in self.default_channels or ():
            if channel not in channel_names():
                raise ValueError(f"default_channels names {channel!r}; use {', '.join(channel_names())}")
        for channel, per_lang in self.channels.items():
            if channel not in channel_names():
                raise ValueError(f"channels.{channel} is not a channel; use {', '.join(channel_names())}")
            for lang, c in per_lang.items():
                if lang not in self.text:
                    raise ValueError(f"channels.{channel} has text in {lang!r} but the template has none")
                texts.extend((f"channels.{channel}.{lang}.{f}", getattr(c, f) or "") for f in _TEXT_FIELDS)
        for answer in self.poll.answers if self.poll is not None else ():
            missing = [lang for lang in self.text if lang not in answer.label]
            if missing:
                raise ValueError(f"poll answer {answer.code} has no label in {', '.join(missing)}")
        for where, text in texts:
            for name in _placeholders(text, where):
                if name not in self.variables:
                    raise ValueError(f"{where} uses {{{name}}} which is not declared under variables")
        return self

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.text)

    @property
    def ref(self) -> TemplateRef:
        return TemplateRef(
            id=self.id, version=self.version, content_hash=self.content_hash, approved_by=self.approved_by
        )

    def check_variables(self, values: Mapping[str, Any]) -> dict[str, str]:
        """Validate ``values`` against the declared variables; return them as strings.

        Raises ``TemplateError`` naming the first problem (unknown, missing, wrong type,
        too long, not matching the pattern, not one of the choices).
        """
        unknown = sorted(set(values) - set(self.variables))
        if unknown:
            raise TemplateError(
                f"Template {self.id!r} has no variable {unknown[0]!r}; "
                f"it takes: {', '.join(sorted(self.variables)) or 'no variables'}."
            )
        out: dict[str, str] = {}
        for name, var in self.variables.items():
            raw = values.get(name)
            if raw is None or raw == "":
                if var.default is not None:
                    raw = var.default
                elif var.required:
                    hint = f" ({var.description})" if var.description else ""
                    raise TemplateError(f"Template {self.id!r} needs the variable {name!r}{hint}.")
                else:
                    out[name] = ""
                    continue
            out[name] = self._check_one(name, var, raw)
        return out

    def _check_one(self, name: str, var: Variable, raw: Any) -> str:
        where = f"Variable {name!r} of template {self.id!r}"
        if isinstance(raw, bool) or not isinstance(raw, str | int | float):
            raise TemplateError(f"{where} must be a single value, not {type(raw).__name__}.")
        if var.type == "integer":
            try:
                number = int(str(raw).strip())
            except ValueError:
                raise TemplateError(f"{where} must be a whole number, got {str(raw)[:40]!r}.") from None
            if var.minimum is not None and number < var.minimum:
                raise TemplateError(f"{where} must be at least {var.minimum}, got {number}.")
            if var.maximum is not None and number > var.maximum:
                raise TemplateError(f"{where} must be at most {var.maximum}, got {number}.")
            return str(number)
        value = str(raw).strip()
        if _CONTROL.search(value) or "\n" in value:
            raise TemplateError(f"{where} must be one line of plain text without control characters.")
        unsafe = problem(value)
        if unsafe is not None:
            raise TemplateError(f"{where} cannot be used: {unsafe}.")
        if len(value) > var.max_length:
            raise TemplateError(
                f"{where} is too long: {len(value)} characters, at most {var.max_length} allowed."
            )
        if var.type == "choice" and value not in var.choices:
            raise TemplateError(f"{where} must be one of: {', '.join(var.choices)}; got {value[:40]!r}.")
        if var.pattern is not None and not re.fullmatch(var.pattern, value):
            hint = f" ({var.description})" if var.description else ""
            raise TemplateError(f"{where} has characters or a form that is not allowed{hint}.")
        return value

    def wording(self, msg_type: MsgType = MsgType.ALERT) -> dict[str, TemplateText]:
        """The words for ``msg_type``: ``update``/``all_clear`` when the template has them, else ``text``."""
        if msg_type is MsgType.UPDATE and self.update:
            return self.update
        if msg_type is MsgType.CANCEL and self.all_clear:
            return self.all_clear
        return self.text

    def render_text(
        self,
        language: str,
        values: Mapping[str, str],
        channel: str | None = None,
        msg_type: MsgType = MsgType.ALERT,
    ) -> MessageText:
        """The words in ``language`` (optionally with a channel's override) with values filled in.

        A choice variable is shown by its label in ``language`` when one is declared. An
        Update or a Cancel uses the template's ``update``/``all_clear`` words when it has them
        (a channel's override then applies to the alert only).
        """
        base = self.wording(msg_type)[language]
        if base is not self.text[language]:
            channel = None
        values = {
            name: self.variables[name].labels.get(language, {}).get(value, value)
            if name in self.variables
            else value
            for name, value in values.items()
        }
        override = self.channels.get(channel or "", {}).get(language)
        fields: dict[str, str | None] = {}
        for f in _TEXT_FIELDS:
            chosen = getattr(override, f) if override is not None else None
            text = chosen if chosen is not None else getattr(base, f)
            # An empty optional variable must not leave a double space behind.
            fields[f] = None if text is None else _SPACES.sub(" ", text.format_map(values)).strip()
        try:
            return MessageText.model_validate(fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise TemplateError(
                f"Template {self.id!r} in {language!r} renders an invalid {err['loc'][0]}: "
                f"{err['msg']}; shorten the variables."
            ) from None

    def render(
        self,
        variables: Mapping[str, Any],
        *,
        status: Status,
        language: str | None = None,
        msg_type: MsgType = MsgType.ALERT,
        references: Sequence[str] = (),
        audiences: Sequence[str] | None = None,
        channels: Sequence[str] | None = None,
        expires: datetime | None = None,
        sent: datetime | None = None,
        sender: str = "crisiscast",
        identifier: str | None = None,
    ) -> CrisisMessage:
        """Render into a ``CrisisMessage`` in every language of the template.

        ``language`` picks the main language (default: the template's first); the others
        become translations. Raises ``TemplateError`` for a retired template, an unknown
        language or a variable that breaks its constraints.
        """
        if self.status != "approved":
            raise TemplateError(
                f"Template {self.id!r} is {self.status} and cannot be sent; use a current one."
            )
        main = language or self.languages[0]
        if main not in self.text:
            raise TemplateError(
                f"Template {self.id!r} has no {main!r} text; it has: {', '.join(self.languages)}."
            )
        values = self.check_variables(variables)
        main_text = self.render_text(main, values, msg_type=msg_type)
        translations = {
            lang: self.render_text(lang, values, msg_type=msg_type) for lang in self.languages if lang != main
        }
        own_words = self.wording(msg_type) is not self.text
        channel_text = {
            channel: {lang: self.render_text(lang, values, channel) for lang in per_lang}
            for channel, per_lang in self.channels.items()
            if not own_words
        }
        now = sent or datetime.now(UTC)
        if expires is None and self.expires_in_s is not None:
            try:
                expires = datetime.fromtimestamp(now.timestamp() + self.expires_in_s, UTC)
            except (ValueError, OverflowError, OSError):  # a sent time at the edge of year 1 or 9999
                raise TemplateError(
                    f"Template {self.id!r} cannot be rendered: the sent time {now.isoformat()[:40]} is "
                    "outside the dates crisiscast can handle; send the current time."
                ) from None
        extra: dict[str, str] = {} if identifier is None else {"identifier": identifier}
        try:
            return CrisisMessage(
                sender=sender,
                sent=now,
                status=status,
                msg_type=msg_type,
                references=tuple(references),
                event=self.event,
                severity=self.severity,
                urgency=self.urgency,
                certainty=self.certainty,
                language=main,
                headline=main_text.headline,
                escalation=self.escalation if msg_type is MsgType.ALERT else (),
                description=main_text.description,
                instruction=main_text.instruction,
                web=main_text.web,
                translations=translations,
                channel_text=channel_text,
                audiences=tuple(audiences) if audiences else self.audiences,
                channels=tuple(channels) if channels is not None else self.default_channels,
                expires=expires,
                template=self.ref,
                poll=self.poll if msg_type is not MsgType.CANCEL else None,
                **extra,
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "message"
            raise TemplateError(f"Template {self.id!r} cannot be rendered: {where}: {err['msg']}.") from None


def _placeholders(text: str, where: str) -> list[str]:
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"{where} has unbalanced braces: {exc}") from None
    names: list[str] = []
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if not field.isidentifier() or spec or conversion:
            raise ValueError(f"{where} has placeholder {{{field}}}; use plain {{name}} placeholders")
        names.append(field)
    return names


def content_hash(raw: bytes) -> str:
    """SHA-256 (hex) of a template file, line endings normalised to ``\\n``."""
    return hashlib.sha256(raw.replace(b"\r\n", b"\n")).hexdigest()


# libyaml's safe loader when PyYAML was built with it (≈ 10× faster on the 20 shipped files)
_SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_template(raw: bytes, source: str) -> Template:
    """Parse one template file; a problem is a ``ConfigError`` naming the file and the field."""
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 (a safe loader)
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"The template file {source} is not valid YAML: {exc}.") from None
    if not isinstance(data, dict):
        raise ConfigError(f"The template file {source} must be a mapping of fields (id, version, text …).")
    data = {**data, "content_hash": content_hash(raw), "source": source}
    try:
        return Template.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "template"
        raise ConfigError(f"The template file {source} is invalid: {where}: {err['msg']}.") from None


@dataclass(frozen=True, slots=True)
class SkippedTemplate:
    """A template file that was not loaded, and the sentence saying why."""

    source: str
    reason: str
    template_id: str | None = None  # the id it declares, when it got that far


class TemplateCatalog:
    """The approved templates by id, and the files that were skipped (``skipped``).

    Two files declaring the same id are both skipped: neither wording can be told to be the
    approved one. With a ``gate`` (the quality gate, ``load_templates``), a template is
    checked when its id is first looked up, not when the catalog is read: a send asks for
    one template and checks that one; ``skipped``, ``ids``, ``all`` and ``len`` check every
    template first, so what they say is the same as if all had been checked at once.
    """

    def __init__(
        self,
        templates: Sequence[Template] = (),
        skipped: Sequence[SkippedTemplate] = (),
        gate: Callable[[Template], str | None] | None = None,
    ) -> None:
        self._candidates: dict[str, list[Template]] = {}
        for t in templates:
            self._candidates.setdefault(t.id, []).append(t)
        self._gate = gate
        self._by_id: dict[str, Template | None] = {}  # ids looked up so far; None: none usable
        self._skipped: list[SkippedTemplate] = list(skipped)
        self._all_resolved = False

    def _resolve(self, template_id: str) -> Template | None:
        """The one usable template of ``template_id`` (gated once), or None."""
        if template_id in self._by_id:
            return self._by_id[template_id]
        passing: list[Template] = []
        for t in self._candidates.get(template_id, ()):
            problem = self._gate(t) if self._gate is not None else None
            if problem is None:
                passing.append(t)
            else:
                self._skipped.append(SkippedTemplate(t.source, problem, t.id))
        chosen = passing[0] if len(passing) == 1 else None
        if len(passing) > 1:
            files = " and ".join(t.source for t in passing)
            reason = (
                f"Two template files use the id {template_id!r} ({files}); give each template "
                "its own id. Neither is used until then."
            )
            self._skipped.extend(SkippedTemplate(t.source, reason, template_id) for t in passing)
        self._by_id[template_id] = chosen
        return chosen

    def _resolve_all(self) -> None:
        if not self._all_resolved:
            for template_id in self._candidates:
                self._resolve(template_id)
            self._all_resolved = True

    @property
    def skipped(self) -> tuple[SkippedTemplate, ...]:
        self._resolve_all()
        return tuple(sorted(self._skipped, key=lambda s: s.source))

    def __contains__(self, template_id: object) -> bool:
        return isinstance(template_id, str) and self._resolve(template_id) is not None

    def __len__(self) -> int:
        return len(self.ids())

    def ids(self) -> list[str]:
        self._resolve_all()
        return sorted(i for i, t in self._by_id.items() if t is not None)

    def all(self) -> list[Template]:
        return [t for i in self.ids() if (t := self._by_id[i]) is not None]

    def get(self, template_id: str, version: int | None = None) -> Template:
        """The template ``template_id``; raises ``TemplateError`` when unknown or not ``version``."""
        template = self._resolve(template_id)
        if template is None:
            for skip in self.skipped:
                if template_id in (skip.template_id, Path(skip.source).stem):
                    raise TemplateError(f"Template {template_id[:80]!r} is not available: {skip.reason}")
            known = ", ".join(self.ids()) or "none are installed"
            raise TemplateError(
                f"There is no approved template {template_id[:80]!r}; known templates: {known}."
            )
        if version is not None and version != template.version:
            raise TemplateError(
                f"Template {template_id!r} is at version {template.version}, not {version}; "
                "check the template with the alerting team and send the current version."
            )
        return template


def load_templates(directory: str | Path, preflight: PreflightConfig | None = None) -> TemplateCatalog:
    """Read every ``*.yaml``/``*.yml`` in ``directory``; a missing directory is an empty catalog.

    A file that cannot be used (unreadable, not a regular file, over 1 MB, invalid) is skipped
    and listed in ``TemplateCatalog.skipped`` with the reason; the other templates load. With
    ``preflight``, an approved template must also pass the quality gate
    (``crisiscast.preflight``) in each of its languages and wordings; one that fails is skipped
    the same way, with the gate's finding. The gate runs when a template is first asked for
    (``TemplateCatalog``), once per process for a file unchanged on disk under the same settings.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return TemplateCatalog()
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    templates: list[Template] = []
    skipped: list[SkippedTemplate] = []
    versions: dict[str, tuple[int, int, int, int] | None] = {}
    for file in files:
        version = versions[str(file)] = _file_version(file)
        cached = _READ.get(str(file))
        if cached is not None and version is not None and cached[0] == version:
            outcome = cached[1]
        else:
            outcome = _read_one(file)
            if version is not None and _settled(version):
                _READ[str(file)] = (version, outcome)
        if isinstance(outcome, SkippedTemplate):
            skipped.append(outcome)
        else:
            templates.append(outcome)
    if preflight is None:
        return TemplateCatalog(templates, skipped)
    settings = preflight.model_dump_json()

    def gate(template: Template) -> str | None:
        version = versions.get(template.source)
        key = (template.source, settings)
        cached = _GATED.get(key)
        if cached is not None and version is not None and cached[0] == version:
            return cached[1]
        problem = _quality_problem(template, preflight)
        if version is not None and _settled(version):
            _GATED[key] = (version, problem)
        return problem

    return TemplateCatalog(templates, skipped, gate)


# load_templates' memos: a file unchanged on disk (same inode, size, mtime and ctime) is read
# and parsed once per process, and checked by the quality gate once per process under the same
# gate settings (a send reads the catalog to render and again to check the draft; serve reads it
# for every request).
_READ: dict[str, tuple[tuple[int, int, int, int], Template | SkippedTemplate]] = {}
_GATED: dict[tuple[str, str], tuple[tuple[int, int, int, int], str | None]] = {}
_SETTLED_NS = 2_000_000_000  # file timestamps can be coarse (a few ms): a fresher file is re-read


def _settled(version: tuple[int, int, int, int]) -> bool:
    return time.time_ns() - version[2] > _SETTLED_NS


def _file_version(file: Path) -> tuple[int, int, int, int] | None:
    try:
        st = file.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_one(file: Path) -> Template | SkippedTemplate:
    try:
        return _load_one(file)
    except ConfigError as exc:
        return SkippedTemplate(str(file), str(exc), _declared_id(file))


def _quality_problem(template: Template, preflight: PreflightConfig) -> str | None:
    """The sentence that skips ``template`` (the gate's first error), or None when it passes."""
    from crisiscast.preflight.templates import template_problem

    problem = template_problem(template, preflight)
    return None if problem is None else f"{problem} Reword it, or set its status to retired."


MAX_TEMPLATE_BYTES = 1_000_000


def _load_one(file: Path) -> Template:
    try:
        if not file.is_file():
            raise ConfigError(f"The template file {file} is not a regular file.")
        if file.stat().st_size > MAX_TEMPLATE_BYTES:
            raise ConfigError(f"The template file {file} is larger than 1 MB.")
        raw = file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"Cannot read the template file {file}: {exc.strerror or exc}.") from None
    try:
        return parse_template(raw, str(file))
    except (RecursionError, ValueError, TypeError, AttributeError) as exc:  # YAML that cannot be built
        raise ConfigError(f"The template file {file} cannot be read ({type(exc).__name__}).") from None


def _declared_id(file: Path) -> str | None:
    """The ``id:`` line of a file that failed to load, so a request for it can say why."""
    try:
        head = file.read_bytes()[:4096].decode("utf-8", errors="replace") if file.is_file() else ""
    except OSError:
        return None
    match = re.search(r"^id:\s*['\"]?([A-Za-z0-9._-]{1,80})", head, re.MULTILINE)
    return match.group(1) if match else None
