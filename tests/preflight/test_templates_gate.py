"""Every shipped template passes the quality gate in every language and wording; a failing one
is refused when it loads."""

from __future__ import annotations

from pathlib import Path

import pytest

from crisiscast.message import MsgType, Status
from crisiscast.preflight import PreflightConfig
from crisiscast.preflight.templates import check_template, template_problem
from crisiscast.templates import TemplateError, load_templates

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "config" / "templates"
CATALOG = load_templates(TEMPLATES_DIR)

# The Hospital Incident Command System incident guides the library covers.
INCIDENT_GUIDES = {
    "security-weapon", "bomb-threat", "chemical-spill", "earthquake", "evacuation", "shelter-in-place",
    "hostage-barricade", "infectious-disease-surge", "it-phone-outage", "medical-mass-casualty",
    "missing-adult", "child-abduction", "radiation", "weather-shelter", "staff-callback", "utility-failure",
    "wildfire-smoke", "ed-diversion", "all-clear", "facility-fire",
}  # fmt: skip


def test_the_library_covers_the_incident_guides() -> None:
    """Each guide has an approved template in English and Spanish."""
    assert set(CATALOG.ids()) >= INCIDENT_GUIDES
    for template_id in INCIDENT_GUIDES:
        template = CATALOG.get(template_id)
        assert {"en", "es"} <= set(template.languages), template_id


@pytest.mark.parametrize("template_id", sorted(INCIDENT_GUIDES))
def test_each_shipped_template_passes_the_gate_in_every_wording(template_id: str) -> None:
    """Alert, Update and all-clear words, English and Spanish: no errors; every element has its sentence."""
    template = CATALOG.get(template_id)
    reports = check_template(template, PreflightConfig())
    for kind, report in reports.items():
        assert report.passed, (kind, [f"{f.language}: {f.detail}" for f in report.errors])
        assert {lang.language for lang in report.languages} == set(template.languages)
        for lang in report.languages:
            assert all(e.present for e in lang.elements), (kind, lang.language)
    assert template_problem(template, PreflightConfig()) is None


@pytest.mark.parametrize("template_id", sorted(INCIDENT_GUIDES - {"all-clear"}))
def test_each_guide_has_its_own_update_and_all_clear_words(template_id: str) -> None:
    """A guide renders a different headline as an Update and as an all-clear (CAP Cancel)."""
    template = CATALOG.get(template_id)
    from crisiscast.preflight.templates import example_values

    values = example_values(template)
    alert = template.render_text("en", values).headline
    update = template.render_text("en", values, msg_type=MsgType.UPDATE).headline
    cancel = template.render_text("en", values, msg_type=MsgType.CANCEL).headline
    assert len({alert, update, cancel}) == 3
    message = template.render(values, status=Status.EXERCISE, msg_type=MsgType.CANCEL, references=("x",))
    assert message.headline == cancel and message.channel_text == {}


def test_ed_diversion_goes_to_the_public_channels_by_default() -> None:
    """The public notice names its channels; a staff alert leaves the choice to the configuration."""
    values = {"hospital": "Riverside General Hospital", "until": "22:00", "reason": "busy"}
    public = CATALOG.get("ed-diversion").render(values, status=Status.EXERCISE)
    assert public.channels == ("twitter", "facebook", "banner")
    staff = CATALOG.get("facility-fire").render({"location": "Building A"}, status=Status.EXERCISE)
    assert staff.channels is None


def test_a_template_that_fails_the_gate_is_refused_at_load(tmp_path: Path) -> None:
    """With the gate's settings, an approved template missing the protective action does not load:
    it is skipped with the gate's finding, and the other templates still load."""
    (tmp_path / "bad.yaml").write_text(
        "id: bad\nversion: 1\napproved_by: x\napproved_at: 2026-01-01T00:00:00Z\nevent: Fire\n"
        "severity: Extreme\nurgency: Immediate\ncertainty: Observed\n"
        "text:\n  en: {headline: 'Hospital alert: fire in Building A now'}\n"
        "  es: {headline: 'Alerta del hospital: incendio en el Edificio A ahora'}\n",
        encoding="utf-8",
    )
    assert len(load_templates(tmp_path)) == 1  # without the gate's settings it loads
    catalog = load_templates(tmp_path, PreflightConfig())
    assert len(catalog) == 0
    [skipped] = catalog.skipped
    expected = f"The template file {tmp_path / 'bad.yaml'} fails the quality gate in alert.en"
    assert skipped.reason.startswith(expected)
    assert "what to do (the protective action)" in skipped.reason
    retired = (tmp_path / "bad.yaml").read_text(encoding="utf-8") + "status: retired\n"
    (tmp_path / "bad.yaml").write_text(retired, encoding="utf-8")
    assert len(load_templates(tmp_path, PreflightConfig())) == 1  # a retired template is never sent


_NO_ACTION = (
    "version: 1\napproved_by: x\napproved_at: 2026-01-01T00:00:00Z\nevent: Fire\n"
    "severity: Extreme\nurgency: Immediate\ncertainty: Observed\n"
    "text:\n  en: {headline: 'Hospital alert: fire in Building A now'}\n"
    "  es: {headline: 'Alerta del hospital: incendio en el Edificio A ahora'}\n"
)


def _copy_shipped(folder: Path, *template_ids: str) -> None:
    for template_id in template_ids:
        (folder / f"{template_id}.yaml").write_bytes((TEMPLATES_DIR / f"{template_id}.yaml").read_bytes())


def test_asking_for_one_template_checks_that_one_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A send asks for one template: the gate reads that template's words, not the whole
    catalog's; listing the catalog then checks the rest and names the failing file."""
    import crisiscast.preflight.templates as gate

    _copy_shipped(tmp_path, "facility-fire", "evacuation")
    (tmp_path / "bad.yaml").write_text("id: bad\n" + _NO_ACTION, encoding="utf-8")
    checked: list[str] = []
    real = gate.template_problem

    def counting(template: object, config: PreflightConfig) -> str | None:
        checked.append(template.id)  # type: ignore[attr-defined]
        return real(template, config)  # type: ignore[arg-type]

    monkeypatch.setattr(gate, "template_problem", counting)
    catalog = load_templates(tmp_path, PreflightConfig())
    assert checked == []
    assert catalog.get("facility-fire").id == "facility-fire"
    assert "facility-fire" in catalog
    assert checked == ["facility-fire"]
    assert "bad" not in catalog
    assert catalog.ids() == ["evacuation", "facility-fire"]
    assert sorted(checked) == ["bad", "evacuation", "facility-fire"]  # each once
    [skipped] = catalog.skipped
    assert skipped.template_id == "bad" and "fails the quality gate" in skipped.reason


def test_a_failing_template_is_not_available_by_its_id(tmp_path: Path) -> None:
    """Asked for first, before anything lists the catalog, a failing template is refused with
    the gate's sentence, as when every template was checked at load."""
    (tmp_path / "bad.yaml").write_text("id: bad\n" + _NO_ACTION, encoding="utf-8")
    catalog = load_templates(tmp_path, PreflightConfig())
    refused = r"'bad' is not available: The template file .* fails the quality gate"
    with pytest.raises(TemplateError, match=refused):
        catalog.get("bad")


def test_a_failing_file_does_not_make_its_id_a_duplicate(tmp_path: Path) -> None:
    """Two files with one id, one of them failing the gate: the passing one is the template (the
    failing one is skipped for the gate, not for the clash); two passing ones are both refused."""
    _copy_shipped(tmp_path, "facility-fire")
    (tmp_path / "fire-draft.yaml").write_text("id: facility-fire\n" + _NO_ACTION, encoding="utf-8")
    catalog = load_templates(tmp_path, PreflightConfig())
    assert catalog.get("facility-fire").source == str(tmp_path / "facility-fire.yaml")
    assert [s.source for s in catalog.skipped] == [str(tmp_path / "fire-draft.yaml")]
    (tmp_path / "fire-copy.yaml").write_bytes((TEMPLATES_DIR / "facility-fire.yaml").read_bytes())
    clash = load_templates(tmp_path, PreflightConfig())
    with pytest.raises(TemplateError, match="Two template files use the id 'facility-fire'"):
        clash.get("facility-fire")
