"""The quality gate's checks, each in English and in Spanish: what passes, what is flagged, and why."""

from __future__ import annotations

import pytest

from crisiscast.message import CrisisMessage, MessageText, Status, TemplateRef
from crisiscast.preflight import (
    PreflightConfig,
    QualityReport,
    Words,
    check_message,
    check_words,
    needs_override,
)

CONFIG = PreflightConfig()

GOOD = {
    "en": Words(
        "en",
        "Facility alert: fire in Building B, floor 3",
        "A fire was reported in Building B at 14:05.",
        "Leave by the stairs now. Do not use the lifts.",
        "https://www.example.org/emergency",
    ),
    "es": Words(
        "es",
        "Alerta de instalación: incendio en el Edificio B, planta 3",
        "Se informó de un incendio a las 14:05.",
        "Salga ahora por la escalera. No use los ascensores.",
        "https://www.example.org/emergency",
    ),
}


def _checks(report: QualityReport, language: str) -> list[str]:
    return [f.check for f in report.findings if f.language == language]


def _one(words: Words, config: PreflightConfig = CONFIG) -> QualityReport:
    return check_words([words], config, [words.language])


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_plain_complete_message_passes_with_each_element_and_its_sentence(language: str) -> None:
    """All five elements are found, each with the sentence that supplies it; nothing is flagged."""
    report = _one(GOOD[language])
    assert report.passed and report.findings == ()
    elements = {e.element: e.sentence for e in report.languages[0].elements}
    assert set(elements) == {"source", "hazard", "location", "protective_action", "time"}
    assert elements["hazard"] == GOOD[language].headline
    assert "14:05" in elements["time"]
    assert elements["protective_action"].startswith(("Leave", "Salga"))


@pytest.mark.parametrize(
    ("words", "missing"),
    [
        (Words("en", "Fire in Building B", "", "Leave now."), "source"),
        (Words("en", "Hospital alert: Building B", "", "Leave now."), "hazard"),
        (Words("en", "Facility alert: fire", "", "Leave now."), "location"),
        (Words("en", "Hospital alert: fire in Building B now"), "protective_action"),
        (Words("en", "Hospital alert: fire in Building B", "", "Leave by the stairs."), "time"),
        (Words("es", "Incendio en el Edificio B", "", "Salga ahora."), "source"),
        (Words("es", "Alerta del hospital: Edificio B", "", "Salga ahora."), "hazard"),
        (Words("es", "Alerta de instalación: incendio", "", "Salga ahora."), "location"),
        (Words("es", "Alerta del hospital: incendio en el Edificio B ahora"), "protective_action"),
        (Words("es", "Alerta del hospital: incendio en el Edificio B", "", "Salga por la escalera."), "time"),
    ],
)
def test_a_missing_element_is_an_error_naming_it(words: Words, missing: str) -> None:
    """Each of the five elements, left out, is one error; the others are still found."""
    report = _one(words)
    hits = {e.element: e.present for e in report.languages[0].elements}
    assert [name for name, present in hits.items() if not present] == [missing]
    assert not report.passed
    assert [f.check for f in report.errors] == ["missing_element"]


@pytest.mark.parametrize("language", ["en", "es"])
def test_readability_grade_above_the_target_is_a_warning(language: str) -> None:
    """The grade is measured with the language's own formula; above ``max_grade`` it is a warning."""
    strict = PreflightConfig(max_grade=1.0)
    report = _one(GOOD[language], strict)
    readability = report.languages[0].readability
    assert readability.formula == {"en": "flesch_kincaid", "es": "crawford"}[language]
    assert readability.grade is not None and readability.grade > 1.0
    assert _checks(report, language) == ["readability"]
    assert report.passed  # a warning does not block


def test_a_language_without_a_formula_gets_counts_and_no_grade() -> None:
    """French has no formula here: the grade is None (never a made-up number), counts still hold."""
    report = _one(Words("fr", "Alerte: incendie", "Il y a un feu.", "Sortez."))
    readability = report.languages[0].readability
    assert (readability.formula, readability.grade, readability.sentences) == ("none", None, 3)


@pytest.mark.parametrize("language", ["en", "es"])
def test_sentence_instruction_and_word_counts_over_their_targets_are_warnings(language: str) -> None:
    """Too many sentences, instruction sentences and words are each one warning."""
    tight = PreflightConfig(max_sentences=2, max_instruction_sentences=1, max_words=5)
    checks = _checks(_one(GOOD[language], tight), language)
    assert checks == ["too_many_sentences", "too_many_instruction_sentences", "too_many_words"]


@pytest.mark.parametrize(
    "words",
    [
        Words("en", "FIRE IN BUILDING B", "Hospital alert at 14:05.", "Leave now."),
        Words("es", "INCENDIO EN EL EDIFICIO B", "Alerta del hospital a las 14:05.", "Salga ahora."),
    ],
)
def test_shouting_in_capitals_is_an_error_quoting_the_sentence(words: Words) -> None:
    """Three capitalised words in a row are shouting; the finding quotes the sentence."""
    report = _one(words)
    shouting = [f for f in report.findings if f.check == "shouting"]
    assert [f.sentence for f in shouting] == [words.headline]
    assert "abbreviation" not in _checks(report, words.language)  # the shouted words are not abbreviations


@pytest.mark.parametrize(
    ("words", "flagged"),
    [
        (Words("en", "Code Silver in Building B", "Hospital alert at 14:05.", "Stay away now."), True),
        (
            Words("en", "Code Silver: person with a weapon in Building B", "Hospital alert now.", "Hide."),
            False,
        ),
        (
            Words(
                "es", "Código plateado en el Edificio B", "Alerta del hospital a las 14:05.", "Aléjese ya."
            ),
            True,
        ),
        (
            Words(
                "es",
                "Código plateado: persona armada en el Edificio B",
                "Alerta del hospital.",
                "Aléjese ya.",
            ),
            False,
        ),
    ],
)
def test_a_colour_code_needs_its_plain_words(words: Words, flagged: bool) -> None:
    """ "Code Silver" alone is an error; beside "weapon" (or "armada") it passes."""
    assert ("colour_code" in _checks(_one(words), words.language)) is flagged


@pytest.mark.parametrize(
    ("language", "sentence", "term"),
    [
        ("en", "Personnel must use the north egress now.", "egress"),
        ("es", "Debe proceder a la salida ahora.", "proceder a"),
    ],
)
def test_jargon_from_the_configured_list_is_a_warning(language: str, sentence: str, term: str) -> None:
    """A term on the list is flagged with its sentence; an empty list flags nothing."""
    words = Words(language, GOOD[language].headline, "", sentence)
    found = [f for f in _one(words).findings if f.check == "jargon"]
    assert any(term in f.detail and f.sentence == sentence for f in found)
    quiet = PreflightConfig(jargon={})
    assert "jargon" not in _checks(_one(words, quiet), language)


@pytest.mark.parametrize("language", ["en", "es"])
def test_a_link_that_is_not_https_is_an_error(language: str) -> None:
    """An http:// link in the text or the web field is an error; https:// passes."""
    good = GOOD[language]
    in_text = Words(language, good.headline, good.description + " http://example.org/fire", good.instruction)
    in_web = Words(language, good.headline, good.description, good.instruction, "http://example.org/fire")
    assert _checks(_one(in_text), language) == ["insecure_link"]
    assert _checks(_one(in_web), language) == ["insecure_link"]
    assert _checks(_one(good), language) == []


@pytest.mark.parametrize(
    ("language", "unexplained", "explained"),
    [
        ("en", "Go to the EOC now.", "Go to the emergency operations center (EOC) now."),
        ("es", "Vaya a la UCI ahora.", "Vaya a la unidad de cuidados intensivos (UCI) ahora."),
    ],
)
def test_an_unexplained_abbreviation_is_a_warning(language: str, unexplained: str, explained: str) -> None:
    """ "EOC" alone is flagged; "words (EOC)" explains it; a configured known abbreviation passes."""
    good = GOOD[language]
    flagged = _one(Words(language, good.headline, good.description, unexplained))
    assert [f.check for f in flagged.findings] == ["abbreviation"]
    assert "abbreviation" not in _checks(
        _one(Words(language, good.headline, good.description, explained)), language
    )
    known = PreflightConfig(known_abbreviations=("EOC", "UCI"))
    assert _checks(_one(Words(language, good.headline, good.description, unexplained), known), language) == []


def _message(translations: dict[str, MessageText], **extra: object) -> CrisisMessage:
    good = GOOD["en"]
    return CrisisMessage.model_validate(
        {
            "status": extra.pop("status", Status.ACTUAL),
            "headline": good.headline,
            "description": good.description,
            "instruction": good.instruction,
            "translations": translations,
            **extra,
        }
    )


SPANISH = MessageText(
    headline=GOOD["es"].headline, description=GOOD["es"].description, instruction=GOOD["es"].instruction
)


def test_every_language_of_the_audience_must_be_covered() -> None:
    """English only, to an audience that reads English and Spanish, is an error for "es"."""
    report = check_message(_message({}), CONFIG)
    assert [(f.check, f.language) for f in report.findings] == [("missing_language", "es")]
    assert check_message(_message({"es": SPANISH}), CONFIG).passed


def test_languages_come_from_the_audience_and_the_contacts() -> None:
    """An audience configured as English only needs no Spanish, unless the contacts read Spanish."""
    english_only = PreflightConfig(audience_languages={"all-staff": ("en",)})
    assert check_message(_message({}), english_only).passed
    report = check_message(_message({}), english_only, also_languages=["es"])
    assert [f.check for f in report.findings] == ["missing_language"]


def test_a_translation_that_copies_the_english_is_an_error() -> None:
    """A "Spanish" text that is the English words is flagged as a copy in "es"."""
    copy = MessageText(
        headline=GOOD["en"].headline, description=GOOD["en"].description, instruction=GOOD["en"].instruction
    )
    report = check_message(_message({"es": copy}), CONFIG)
    assert ("copied_translation", "es") in [(f.check, f.language) for f in report.findings]
    assert not report.passed


def test_only_actual_free_text_that_fails_needs_an_override() -> None:
    """Actual free text with an error needs a recorded reason; a drill or a template does not."""
    failing = _message({})
    report = check_message(failing, CONFIG)
    assert needs_override(failing, report)
    drill = _message({}, status=Status.EXERCISE)
    assert not needs_override(drill, check_message(drill, CONFIG))
    ref = TemplateRef(id="t", version=1, content_hash="0" * 64)
    templated = _message({}, template=ref)
    assert not needs_override(templated, check_message(templated, CONFIG))
    passing = _message({"es": SPANISH})
    assert not needs_override(passing, check_message(passing, CONFIG))


def test_the_report_is_plain_json_with_the_verdict_and_every_finding() -> None:
    """``to_json`` carries passed, a summary sentence, the elements per language and the findings."""
    data = check_message(_message({}), CONFIG).to_json()
    assert data["passed"] is False
    assert data["summary"] == "Quality gate: FAILED with 1 error(s) and 0 warning(s)."
    languages = data["languages"]
    assert isinstance(languages, list) and languages[0]["elements"]["time"]["present"] is True
    assert data["findings"] == [
        {
            "check": "missing_language",
            "level": "error",
            "language": "es",
            "detail": (
                "The audience includes 'es' speakers but the message has no 'es' text; add a translation."
            ),
            "sentence": "",
        }
    ]
