"""Pure text metrics: X's weighted post length, SMS encoding and segments, safe splitting."""

from crisiscast.text.sms import SmsSegments, is_gsm7, smart_encode, sms_segments
from crisiscast.text.split import graphemes, sentences, words
from crisiscast.text.tweet import TWEET_MAX_WEIGHTED, tweet_length, tweet_urls

__all__ = [
    "TWEET_MAX_WEIGHTED",
    "SmsSegments",
    "graphemes",
    "is_gsm7",
    "sentences",
    "smart_encode",
    "sms_segments",
    "tweet_length",
    "tweet_urls",
    "words",
]
