"""The quality gate applied to a template: its alert, Update and all-clear words, every language.

A template is checked with its variables' ``example`` values (else the default, the first
choice, the minimum, or the variable's name), so "fire in {location}" is read as "fire in
Building A, floor 3". ``template_problem`` is the sentence ``load_templates`` raises when an
approved template fails the gate: a shipped template must pass.
"""

from __future__ import annotations

from crisiscast.message import MsgType
from crisiscast.preflight.findings import QualityReport
from crisiscast.preflight.gate import check_words
from crisiscast.preflight.settings import PreflightConfig
from crisiscast.preflight.text import Words
from crisiscast.templates import Template, TemplateError

__all__ = ["check_template", "example_values", "template_problem"]

_KINDS = {"alert": MsgType.ALERT, "update": MsgType.UPDATE, "all_clear": MsgType.CANCEL}


def example_values(template: Template) -> dict[str, str]:
    """One plausible value per variable, for checking the words."""
    values: dict[str, str] = {}
    for name, var in template.variables.items():
        if var.example is not None:
            values[name] = var.example
        elif var.default is not None:
            values[name] = str(var.default)
        elif var.type == "choice":
            values[name] = var.choices[0]
        elif var.type == "integer":
            values[name] = str(var.minimum if var.minimum is not None else 1)
        else:
            values[name] = "" if not var.required else name.replace("_", " ")
    return values


def check_template(
    template: Template, config: PreflightConfig, *, grade: bool = True
) -> dict[str, QualityReport]:
    """The gate's report for each wording the template has ("alert", "update", "all_clear")."""
    values = example_values(template)
    needed = config.languages_for(template.audiences)
    reports: dict[str, QualityReport] = {}
    for kind, msg_type in _KINDS.items():
        if kind != "alert" and template.wording(msg_type) is template.text:
            continue
        words = []
        for language in template.languages:
            try:
                t = template.render_text(language, values, msg_type=msg_type)
            except TemplateError:
                continue  # too long with the example values: the variables' limits say so at send
            words.append(Words(language, t.headline, t.description, t.instruction, t.web))
        reports[kind] = check_words(words, config, needed, grade=grade)
    return reports


def template_problem(template: Template, config: PreflightConfig) -> str | None:
    """One sentence naming the first error in an approved template's words, or None when it passes."""
    if template.status != "approved":
        return None
    # Only errors refuse a template; the reading grade is a warning, so it is not computed here.
    for kind, report in check_template(template, config, grade=False).items():
        for finding in report.errors:
            where = f"{kind}.{finding.language}" if finding.language else kind
            quoted = f" ({finding.sentence[:80]!r})" if finding.sentence else ""
            return (
                f"The template file {template.source} fails the quality gate in {where}{quoted}: "
                f"{finding.detail}"
            )
    return None
