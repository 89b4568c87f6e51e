"""Pure text helpers shared by channels: grapheme-safe splitting into sentences and words.

Each channel's own text metrics live in its package (X's weighted length in
``crisiscast.channels.twitter.text``, SMS segments in ``crisiscast.channels.sms.segments``).
"""

from crisiscast.text.split import graphemes, sentences, words

__all__ = ["graphemes", "sentences", "words"]
