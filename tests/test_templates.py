"""Pre-approved templates: the shipped hospital set, constraints and the audit reference."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from crisiscast.channels.sms.adapt import adapt_sms
from crisiscast.channels.sms.config import SmsConfig
from crisiscast.config import PolicyConfig
from crisiscast.errors import ConfigError
from crisiscast.message import MsgType, Status
from crisiscast.templates import Template, TemplateCatalog, TemplateError, load_templates, parse_template

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "config" / "templates"

# Values that satisfy every shipped template's variables.
SAMPLE_VALUES: dict[str, dict[str, Any]] = {
    "facility-fire": {"location": "Building A, floor 3, east wing", "details": "smoke in the kitchen"},
    "security-weapon": {"location": "Main lobby", "action": "evacuate"},
    "medical-mass-casualty": {"incident": "Bus crash on Route 9", "patients": 25},
    "child-abduction": {"age_group": "infant", "last_seen": "Maternity, floor 4"},
    "it-phone-outage": {"system": "phones"},
    "weather-shelter": {"hazard": "tornado", "until": "16:30"},
    "all-clear": {"alert": "Facility alert: fire in Building A"},
    "bomb-threat": {"location": "Building B", "action": "evacuate"},
    "chemical-spill": {"location": "Lab, floor 2"},
    "earthquake": {"area": "All buildings"},
    "evacuation": {"location": "Building C", "scope": "partial", "reason": "smoke", "assembly": "Lot C"},
    "shelter-in-place": {"location": "All buildings", "reason": "air"},
    "hostage-barricade": {"location": "Unit 5 North"},
    "infectious-disease-surge": {"disease": "measles", "location": "the emergency department"},
    "missing-adult": {"last_seen": "Unit 4 West", "since": "14:05", "person": "older man in a blue gown"},
    "radiation": {"location": "Nuclear medicine, floor 1"},
    "staff-callback": {"count": 12, "role": "nurses", "report_to": "the Labor Pool, Building A"},
    "utility-failure": {"utility": "oxygen", "location": "Building A, floors 2 to 4"},
    "wildfire-smoke": {"until": "18:00"},
    "ed-diversion": {"hospital": "Riverside General Hospital", "until": "22:00", "reason": "busy"},
}

HOSPITAL_SET = set(SAMPLE_VALUES)


@pytest.fixture(scope="module")
def catalog() -> TemplateCatalog:
    return load_templates(TEMPLATES_DIR)


def test_shipped_set_is_complete(catalog: TemplateCatalog) -> None:
    """The shipped catalogue holds the plain-language hospital set, all approved, in English and Spanish."""
    assert set(catalog.ids()) >= HOSPITAL_SET
    for template in catalog.all():
        assert template.status == "approved"
        assert {"en", "es"} <= set(template.languages), template.id
        assert template.approved_by and template.approved_at.tzinfo is not None


@pytest.mark.parametrize("template_id", sorted(HOSPITAL_SET))
@pytest.mark.parametrize("language", ["en", "es"])
def test_each_template_renders_in_both_languages(
    catalog: TemplateCatalog, template_id: str, language: str
) -> None:
    """Every shipped template renders with its main language chosen and the other as a translation,
    with every placeholder filled in."""
    template = catalog.get(template_id)
    message = template.render(SAMPLE_VALUES[template_id], status=Status.ACTUAL, language=language)
    assert message.language == language
    other = "es" if language == "en" else "en"
    assert other in message.translations
    for text in (message.text(language), message.text(other)):
        for field in (text.headline, text.description, text.instruction):
            assert "{" not in field and "}" not in field
        assert text.headline
    assert message.event == template.event
    assert message.expires is not None


def _longest_values(template: Template) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, var in template.variables.items():
        if var.type == "choice":

            def label_length(choice: str, labels: dict[str, dict[str, str]] = var.labels) -> int:
                return max(
                    (len(by_choice.get(choice, choice)) for by_choice in labels.values()), default=len(choice)
                )

            values[name] = max(var.choices, key=label_length)
        elif var.type == "integer":
            values[name] = var.maximum if var.maximum is not None else 10**6
        else:
            values[name] = SAMPLE_VALUES[template.id].get(name, "W")
            if var.pattern is None or "A-Za-z" in var.pattern:
                values[name] = "W" * var.max_length
    return values


@pytest.mark.parametrize("template_id", sorted(HOSPITAL_SET))
@pytest.mark.parametrize("status", [Status.ACTUAL, Status.EXERCISE])
def test_each_template_fits_the_sms_budget_in_both_languages(
    catalog: TemplateCatalog, template_id: str, status: Status
) -> None:
    """With every variable at its longest, each shipped template's SMS (with the exercise marker
    when it is a drill) fits the default segment budget in English and in Spanish."""
    template = catalog.get(template_id)
    values = _longest_values(template)
    if template_id in ("weather-shelter", "wildfire-smoke", "ed-diversion"):
        values["until"] = "12:30 PM"
    if template_id == "missing-adult":
        values["since"] = "12:30 PM"
    message = template.render(values, status=status)
    for language in ("en", "es"):
        adapted = adapt_sms(message, language, SmsConfig(), PolicyConfig())
        assert adapted.metrics["segments"] <= SmsConfig().segment_budget


def test_render_records_id_version_hash_and_approver(catalog: TemplateCatalog) -> None:
    """The message names the template by id, version, approver and the SHA-256 of the file."""
    template = catalog.get("facility-fire")
    message = template.render(SAMPLE_VALUES["facility-fire"], status=Status.EXERCISE)
    assert message.template is not None
    raw = (TEMPLATES_DIR / "facility-fire.yaml").read_bytes().replace(b"\r\n", b"\n")
    assert message.template.content_hash == hashlib.sha256(raw).hexdigest()
    assert message.template.id == "facility-fire"
    assert message.template.version == template.version
    assert message.template.approved_by == template.approved_by
    assert message.status is Status.EXERCISE


def test_choice_labels_are_translated(catalog: TemplateCatalog) -> None:
    """A choice variable appears in each language's own words."""
    message = catalog.get("it-phone-outage").render({"system": "ehr"}, status=Status.ACTUAL)
    assert "electronic health record" in message.headline
    assert "historia clínica electrónica" in message.translations["es"].headline


def test_defaults_fill_optional_variables(catalog: TemplateCatalog) -> None:
    """An optional variable with a default uses it; one without a default renders as nothing."""
    message = catalog.get("medical-mass-casualty").render(
        {"incident": "Train derailment", "patients": "40"}, status=Status.ACTUAL
    )
    assert "the Labor Pool" in message.instruction
    fire = catalog.get("facility-fire").render({"location": "Building C"}, status=Status.ACTUAL)
    assert fire.description.startswith("A fire has been reported in Building C. Staff")


@pytest.mark.parametrize(
    ("template_id", "values", "expected"),
    [
        ("facility-fire", {}, "needs the variable 'location'"),
        ("facility-fire", {"location": "x" * 41}, "too long: 41 characters, at most 40"),
        ("facility-fire", {"location": "<script>"}, "not allowed"),
        ("facility-fire", {"location": "A", "floor": "3"}, "has no variable 'floor'"),
        ("facility-fire", {"location": "line one\nline two"}, "one line of plain text"),
        ("facility-fire", {"location": ["A"]}, "must be a single value"),
        ("medical-mass-casualty", {"incident": "Crash", "patients": "many"}, "must be a whole number"),
        ("medical-mass-casualty", {"incident": "Crash", "patients": 0}, "must be at least 1"),
        ("medical-mass-casualty", {"incident": "Crash", "patients": 10000}, "must be at most 9999"),
        ("child-abduction", {"age_group": "teen", "last_seen": "Lobby"}, "must be one of: infant, child"),
        ("weather-shelter", {"hazard": "tornado", "until": "soon"}, "'until'"),
    ],
)
def test_constraint_violations_are_precise(
    catalog: TemplateCatalog, template_id: str, values: dict[str, Any], expected: str
) -> None:
    """Each broken constraint fails with a sentence naming the template, the variable and the rule."""
    with pytest.raises(TemplateError) as info:
        catalog.get(template_id).render(values, status=Status.ACTUAL)
    assert expected in str(info.value)
    assert template_id in str(info.value)


def test_unknown_template_and_wrong_version(catalog: TemplateCatalog) -> None:
    """An unknown id lists the known ones; a version pin that does not match is refused."""
    with pytest.raises(TemplateError, match=r"no approved template 'code-red'.*facility-fire"):
        catalog.get("code-red")
    with pytest.raises(TemplateError, match="version 1, not 7"):
        catalog.get("facility-fire", version=7)


def test_unknown_language_is_refused(catalog: TemplateCatalog) -> None:
    """Asking for a language the template lacks names the languages it has."""
    with pytest.raises(TemplateError, match="no 'fr' text; it has: en, es"):
        catalog.get("all-clear").render(SAMPLE_VALUES["all-clear"], status=Status.ACTUAL, language="fr")


def test_cancel_needs_references(catalog: TemplateCatalog) -> None:
    """Rendering as a CAP Cancel without references is refused; with them it works."""
    template = catalog.get("all-clear")
    with pytest.raises(TemplateError, match="references"):
        template.render(SAMPLE_VALUES["all-clear"], status=Status.ACTUAL, msg_type=MsgType.CANCEL)
    message = template.render(
        SAMPLE_VALUES["all-clear"], status=Status.ACTUAL, msg_type=MsgType.CANCEL, references=("d-1",)
    )
    assert message.references == ("d-1",)


_MINIMAL = b"""
id: t1
version: 2
approved_by: Someone
approved_at: 2026-01-01T00:00:00Z
event: Test
severity: Minor
urgency: Future
certainty: Possible
variables:
  where: {max_length: 10}
text:
  en: {headline: "Drill in {where}"}
"""


def test_retired_template_is_not_rendered() -> None:
    """A retired template stays in the catalogue (for the audit) but cannot be sent."""
    template = parse_template(_MINIMAL.replace(b"version: 2", b"version: 2\nstatus: retired"), "t1.yaml")
    with pytest.raises(TemplateError, match="retired"):
        template.render({"where": "ICU"}, status=Status.ACTUAL)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ((b"Drill in {where}", b"Drill in {room}"), "uses {room} which is not declared"),
        ((b"Drill in {where}", b"Drill in {where.__class__}"), "plain {name} placeholders"),
        ((b"version: 2", b"version: 0"), "version"),
        ((b"text:\n  en:", b"text:\n  english:"), "not a language code"),
        ((b"id: t1", b"id: [t1"), "not valid YAML"),
    ],
)
def test_invalid_template_files_are_config_errors(change: tuple[bytes, bytes], expected: str) -> None:
    """A broken template file fails at load time with the file name and the problem."""
    with pytest.raises(ConfigError) as info:
        parse_template(_MINIMAL.replace(*change), "config/templates/t1.yaml")
    assert expected in str(info.value)
    assert "t1.yaml" in str(info.value)


def test_duplicate_ids_are_both_skipped(tmp_path: Path) -> None:
    """Two files with the same id are both skipped, each reported naming both files; the id is
    not served (neither wording can be told to be the approved one)."""
    (tmp_path / "a.yaml").write_bytes(_MINIMAL)
    (tmp_path / "b.yaml").write_bytes(_MINIMAL)
    catalog = load_templates(tmp_path)
    assert "t1" not in catalog
    assert [Path(s.source).name for s in catalog.skipped] == ["a.yaml", "b.yaml"]
    assert all(re.search(r"a\.yaml and .*b\.yaml", s.reason) for s in catalog.skipped)
    with pytest.raises(TemplateError, match=r"'t1' is not available: Two template files use the id"):
        catalog.get("t1")


def test_content_hash_changes_with_wording() -> None:
    """Any change in the approved wording changes the content hash; line endings do not."""
    a = parse_template(_MINIMAL, "t1.yaml")
    b = parse_template(_MINIMAL.replace(b"Drill in", b"Exercise in"), "t1.yaml")
    c = parse_template(_MINIMAL.replace(b"\n", b"\r\n"), "t1.yaml")
    assert a.content_hash != b.content_hash
    assert a.content_hash == c.content_hash


def test_channel_override_replaces_only_named_fields() -> None:
    """A per-channel override changes the fields it names and keeps the shared text for the rest."""
    raw = _MINIMAL + b'channels:\n  sms:\n    en: {headline: "DRILL {where}"}\n'
    template = parse_template(raw, "t1.yaml")
    values = template.check_variables({"where": "ICU"})
    assert template.render_text("en", values, channel="sms").headline == "DRILL ICU"
    assert template.render_text("en", values).headline == "Drill in ICU"
    assert template.render_text("en", values, channel="twitter").headline == "Drill in ICU"
