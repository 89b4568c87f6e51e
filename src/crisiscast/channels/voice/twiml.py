"""TwiML for a call, built with the twilio SDK's ``VoiceResponse`` (pure, no I/O).

- ``call_twiml(script, gather_url)``: the call a person answers — the message twice, then
  ``<Gather numDigits="1">`` "press 1 to confirm" whose key press Twilio POSTs (signed) to
  ``gather_url``; without a URL (no public address for ``crisiscast serve``) there is no
  ``<Gather>``. The marker is in the first and the last ``<Say>``.
- ``voicemail_twiml(script)``: the short version an answering machine records.
- ``thanks_twiml(script)``: the answer to the key press, then ``<Hangup/>``.

Each ``<Say>`` carries its ``voice`` and ``language`` (``Polly.Lupe-Neural``, ``es-US``).
TwiML is written without the XML declaration, as Twilio's ``Twiml`` parameter takes it.
"""

from __future__ import annotations

from twilio.twiml.voice_response import Gather, VoiceResponse

from crisiscast.channels.voice.adapt import VoiceScript
from crisiscast.channels.voice.speech import SayVoice

__all__ = ["call_twiml", "thanks_twiml", "twiml_size", "voicemail_twiml"]

_LONGEST_URL = "https://" + "x" * 120  # the size check assumes a callback URL this long


def _say(parent: VoiceResponse | Gather, text: str, voice: SayVoice) -> None:
    if text:
        parent.say(text, voice=voice.voice, language=voice.language)


def call_twiml(script: VoiceScript, gather_url: str | None, *, gather_timeout_s: int = 8) -> str:
    """The TwiML of the call (see the module docstring)."""
    response = VoiceResponse()
    _say(response, script.opening, script.phrase_voice)
    _say(response, script.message, script.voice)
    response.pause(length=1)
    _say(response, script.repeat, script.phrase_voice)
    _say(response, script.message, script.voice)
    if gather_url:
        gather = Gather(
            input="dtmf",
            num_digits=1,
            timeout=gather_timeout_s,
            action=gather_url,
            method="POST",
            action_on_empty_result=False,
        )
        _say(gather, script.prompt, script.phrase_voice)
        response.append(gather)
    _say(response, script.closing, script.phrase_voice)
    return str(response.to_xml(xml_declaration=False))


def voicemail_twiml(script: VoiceScript) -> str:
    """The short voicemail version, said once, then hang up."""
    response = VoiceResponse()
    _say(response, script.voicemail, script.voice)
    response.hangup()
    return str(response.to_xml(xml_declaration=False))


def thanks_twiml(script: VoiceScript) -> str:
    """What the caller hears after pressing a key: thanks (and the marker), then hang up."""
    response = VoiceResponse()
    _say(response, script.thanks, script.phrase_voice)
    response.hangup()
    return str(response.to_xml(xml_declaration=False))


def twiml_size(script: VoiceScript) -> int:
    """The characters of the call's TwiML with a long callback URL (for Twilio's 4,000 limit)."""
    return max(len(call_twiml(script, _LONGEST_URL)), len(voicemail_twiml(script)))
