"""Language policy on public channels: per language, or one bilingual rendering when it fits."""

from __future__ import annotations

from crisiscast.channels.facebook.adapt import adapt_facebook
from crisiscast.channels.twitter.adapt import adapt_x
from crisiscast.channels.twitter.text import tweet_length
from crisiscast.config import PolicyConfig
from crisiscast.message import MessageText
from tests.adapt.factory import WEB, message

BILINGUAL = PolicyConfig(language_policy="bilingual_if_fits")
PER_LANGUAGE = PolicyConfig(language_policy="per_language")
SPANISH = MessageText(headline="Incendio en el Edificio B", instruction="Use las escaleras del este.")


def test_bilingual_post_when_it_fits() -> None:
    """Both languages in one X post, main language first, the shared link once."""
    m = message(instruction="Use the east stairs.", web=WEB, translations={"es": SPANISH})
    [rendering] = adapt_x(m, BILINGUAL, max_parts=4)
    assert rendering.language == "en+es"
    text = rendering.parts[0]
    assert text.index("Fire in Building B") < text.index("Incendio en el Edificio B")
    assert text.count(WEB) == 1
    assert tweet_length(text) <= 280


def test_per_language_when_bilingual_does_not_fit() -> None:
    """Too long together: one rendering per language, main language first."""
    m = message(instruction="Use the east stairs. " * 12, translations={"es": SPANISH})
    renderings = adapt_x(m, BILINGUAL, max_parts=4)
    assert [r.language for r in renderings] == ["en", "es"]


def test_per_language_policy() -> None:
    """per_language: always one rendering per language, even when a bilingual one would fit."""
    m = message(translations={"es": SPANISH})
    assert [r.language for r in adapt_x(m, PER_LANGUAGE, max_parts=4)] == ["en", "es"]
    assert [r.language for r in adapt_facebook(m, PER_LANGUAGE)] == ["en", "es"]


def test_facebook_bilingual_always_fits() -> None:
    """Facebook takes a bilingual post of any realistic length."""
    m = message(description="Long description. " * 200, translations={"es": SPANISH})
    [rendering] = adapt_facebook(m, BILINGUAL)
    assert rendering.language == "en+es"
    assert rendering.metrics == {"characters": len(rendering.parts[0])}


def test_single_language_message_is_never_bilingual() -> None:
    """Without translations the rendering is in the main language."""
    assert adapt_facebook(message(language="es"), BILINGUAL)[0].language == "es"
