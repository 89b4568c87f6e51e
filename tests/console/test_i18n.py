"""The console's words: both languages have every key, and every word a page asks for exists."""

from __future__ import annotations

import re
from pathlib import Path

from crisiscast.console import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_both_languages_have_the_same_words() -> None:
    """English and Spanish define the same keys, none empty."""
    assert set(i18n.TEXT["en"]) == set(i18n.TEXT["es"])
    assert all(v.strip() for words in i18n.TEXT.values() for v in words.values())


def test_every_word_a_template_uses_exists_and_no_key_shadows_a_dict_method() -> None:
    """``t.name`` in a template is a key of TEXT, and no key is a dict attribute (``t.update`` would
    render the dict's method instead of the word)."""
    used = {m for f in TEMPLATES.glob("*.html") for m in re.findall(r"\bt\.(\w+)", f.read_text())}
    used |= {
        m for f in TEMPLATES.glob("*.html") for m in re.findall(r"\bt\[(?:key|'(\w+)')\]", f.read_text()) if m
    }
    assert used and used <= set(i18n.TEXT["en"])
    assert not set(i18n.TEXT["en"]) & set(dir(dict))
