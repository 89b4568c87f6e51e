"""Language policy: which languages a channel renders, and the texts it renders them from.

``policy.language_policy``:

* ``per_language``: one rendering per language (main language first, then translations);
* ``bilingual_if_fits`` (default): one rendering holding every language, main first, when it
  fits the channel (one X post; Facebook always fits), else one rendering per language.

SMS is personal: each contact gets their own language, falling back to the main language.
A translation without its own link uses the main link. A channel with its own words in a
language (``message.channel_text``) renders those instead of the shared text.
"""

from __future__ import annotations

from crisiscast.config import PolicyConfig
from crisiscast.message import CrisisMessage, MessageText

__all__ = ["bilingual_code", "contact_language", "text_for", "wants_bilingual"]


def text_for(message: CrisisMessage, language: str, channel: str | None = None) -> MessageText:
    """The words of ``message`` in ``language`` (main language if it has no such translation),
    ``channel``'s own words when the message has them in that language.

    A translation without a link borrows the main message's link.
    """
    lang = language if language in message.translations else message.language
    own = message.channel_text.get(channel, {}) if channel is not None else {}
    text = own.get(lang) or message.text(lang)
    if text.web is None and message.web is not None:
        return text.model_copy(update={"web": message.web})
    return text


def contact_language(message: CrisisMessage, language: str | None) -> str:
    """The language an SMS to a contact who reads ``language`` is written in."""
    if language:
        if language in message.languages:
            return language
        base = language.split("-", 1)[0].lower()
        for candidate in message.languages:
            if candidate.split("-", 1)[0].lower() == base:
                return candidate
    return message.language


def wants_bilingual(message: CrisisMessage, policy: PolicyConfig) -> bool:
    """True when the policy asks for one bilingual rendering and there is more than one language."""
    return policy.language_policy == "bilingual_if_fits" and len(message.languages) > 1


def bilingual_code(message: CrisisMessage) -> str:
    """The ``language`` of a bilingual rendering: the codes joined by ``+`` (``"en+es"``)."""
    return "+".join(message.languages)
