"""The spoken script of a call, per language: pure, no I/O.

A call says, in order (each line one ``<Say>``)::

    Exercise, exercise, exercise. This is an urgent message from <caller_name>.
    <the message, adapted for speech>
    I repeat.
    <the message again>
    Press 1 to confirm you received this message.          (inside <Gather>, when callbacks can reach us)
    Goodbye. Exercise, exercise, exercise.

The exercise marker (``policy.exercise_marker`` / ``test_marker``, said as words) is spoken
first and last, also in the voicemail version and in the answer to a key press. The message
is headline, instruction, description and link (spoken as "the website example dot org");
when the call's TwiML would exceed Twilio's limit (``voice.twiml_max_chars``) the description
and then the link are dropped; if headline and instruction alone are too long: ``PolicyError``.

The voicemail version (for an answering machine) is short: marker, who calls, headline and
instruction once, "details were also sent by text message", marker.

The fixed phrases exist in English, Spanish, French and Portuguese; a contact in another
language hears them in US English and the message itself in their language's voice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from crisiscast.adapt.compose import compose
from crisiscast.adapt.labels import Label, label_for
from crisiscast.adapt.languages import contact_language, text_for
from crisiscast.channels.voice.config import VoiceConfig
from crisiscast.channels.voice.speech import SayVoice, speak, spoken_marker, voice_for
from crisiscast.config import PolicyConfig
from crisiscast.errors import PolicyError
from crisiscast.message import CrisisMessage

__all__ = ["DROP_ORDER", "Phrases", "VoiceScript", "adapt_voice", "phrases_for"]

DROP_ORDER = ("description", "link")


@dataclass(frozen=True, slots=True)
class Phrases:
    language: str
    intro: str  # "{caller}" is replaced by voice.caller_name
    repeat: str
    prompt: str
    goodbye: str
    thanks: str
    voicemail_tail: str


_PHRASES: dict[str, Phrases] = {
    "en": Phrases(
        "en",
        "This is an urgent message from {caller}.",
        "I repeat.",
        "Press 1 to confirm you received this message.",
        "Goodbye.",
        "Thank you. Your confirmation was recorded.",
        "Details were also sent by text message.",
    ),
    "es": Phrases(
        "es",
        "Este es un mensaje urgente de {caller}.",
        "Repito.",
        "Presione 1 para confirmar que recibió este mensaje.",
        "Adiós.",
        "Gracias. Su confirmación quedó registrada.",
        "Los detalles también se enviaron por mensaje de texto.",
    ),
    "fr": Phrases(
        "fr",
        "Ceci est un message urgent de {caller}.",
        "Je répète.",
        "Appuyez sur 1 pour confirmer la réception de ce message.",
        "Au revoir.",
        "Merci. Votre confirmation a été enregistrée.",
        "Les détails ont aussi été envoyés par SMS.",
    ),
    "pt": Phrases(
        "pt",
        "Esta é uma mensagem urgente de {caller}.",
        "Repito.",
        "Pressione 1 para confirmar que recebeu esta mensagem.",
        "Adeus.",
        "Obrigado. A sua confirmação foi registrada.",
        "Os detalhes também foram enviados por mensagem de texto.",
    ),
}


def phrases_for(language: str) -> Phrases:
    """The fixed phrases in ``language`` (English when there are none in it)."""
    return _PHRASES.get(language.lower().split("-", 1)[0], _PHRASES["en"])


@dataclass(frozen=True, slots=True)
class VoiceScript:
    """What one call says, in one language; ``lines()`` is the transcript, in order."""

    language: str  # the message language rendered ("es")
    voice: SayVoice  # the message's voice
    phrase_voice: SayVoice  # the fixed phrases' voice (the same unless the phrases fell back)
    marker: str  # spoken marker ("Exercise, exercise, exercise.") or ""
    opening: str
    message: str
    repeat: str
    prompt: str
    closing: str
    thanks: str
    voicemail: str
    dropped: tuple[str, ...] = ()

    def lines(self, *, gather: bool = True) -> list[str]:
        """The transcript of a call answered by a person (without the prompt when no
        callback URL can receive the key press)."""
        out = [self.opening, self.message, self.repeat, self.message]
        if gather:
            out.append(self.prompt)
        out.append(self.closing)
        return out

    def to_payload(self) -> dict[str, object]:
        """The script as plain data (kept in the delivery, so a resumed call says the same)."""
        return {
            "language": self.language,
            "voice": [self.voice.language, self.voice.voice],
            "phrase_voice": [self.phrase_voice.language, self.phrase_voice.voice],
            "marker": self.marker,
            "opening": self.opening,
            "message": self.message,
            "repeat": self.repeat,
            "prompt": self.prompt,
            "closing": self.closing,
            "thanks": self.thanks,
            "voicemail": self.voicemail,
            "dropped": list(self.dropped),
        }

    @classmethod
    def from_payload(cls, data: dict[str, object]) -> VoiceScript:
        def text(key: str) -> str:
            value = data.get(key)
            return value if isinstance(value, str) else ""

        def voice(key: str) -> SayVoice:
            value = data.get(key)
            if isinstance(value, list) and len(value) == 2:
                return SayVoice(str(value[0]), str(value[1]))
            return voice_for(text("language") or "en")

        dropped = data.get("dropped")
        return cls(
            language=text("language"),
            voice=voice("voice"),
            phrase_voice=voice("phrase_voice"),
            marker=text("marker"),
            opening=text("opening"),
            message=text("message"),
            repeat=text("repeat"),
            prompt=text("prompt"),
            closing=text("closing"),
            thanks=text("thanks"),
            voicemail=text("voicemail"),
            dropped=tuple(str(d) for d in dropped) if isinstance(dropped, list) else (),
        )


def _with_marker(label: Label, text: str, *, last: bool = False) -> str:
    if not label.marker:
        return text
    return f"{text} {label.marker}" if last else label.apply(text)


def adapt_voice(
    message: CrisisMessage,
    language: str,
    voice: VoiceConfig,
    policy: PolicyConfig,
    *,
    size_of: Callable[[VoiceScript], int],
) -> VoiceScript:
    """The script for a contact who understands ``language``; ``size_of`` measures the TwiML
    a script makes (``crisiscast.channels.voice.twiml.twiml_size``)."""
    lang = contact_language(message, language)
    text = text_for(message, lang, "voice")
    label = Label(spoken_marker(label_for(message, policy).marker))
    words = phrases_for(lang)
    message_voice = voice_for(lang)
    phrase_voice = voice_for(words.language) if words.language != lang.split("-", 1)[0] else message_voice
    opening = _with_marker(label, words.intro.format(caller=voice.caller_name))
    short = speak(compose(text, separator="\n", description=False, include_web=False), lang)
    voicemail = _with_marker(
        label, f"{words.intro.format(caller=voice.caller_name)} {short} {words.voicemail_tail}"
    )
    voicemail = _with_marker(label, voicemail, last=True)
    candidates = [
        ((), compose(text, separator="\n")),
        (DROP_ORDER[:1], compose(text, separator="\n", description=False)),
        (DROP_ORDER[:2], compose(text, separator="\n", description=False, include_web=False)),
    ]
    size = 0
    for dropped, body in candidates:
        script = VoiceScript(
            language=lang,
            voice=message_voice,
            phrase_voice=phrase_voice,
            marker=label.marker,
            opening=opening,
            message=speak(body, lang),
            repeat=words.repeat,
            prompt=words.prompt,
            closing=_with_marker(label, words.goodbye, last=True),
            thanks=_with_marker(label, words.thanks, last=True),
            voicemail=voicemail,
            dropped=tuple(d for d in dropped if (text.web if d == "link" else text.description)),
        )
        size = size_of(script)
        if size <= voice.twiml_max_chars:
            return script
    where = f" ({lang})" if len(message.languages) > 1 else ""
    raise PolicyError(
        f"The call's script{where} needs {size} characters of TwiML but Twilio takes "
        f"{voice.twiml_max_chars}; shorten the headline or instruction."
    )
