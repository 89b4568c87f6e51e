"""The Twilio transport's form encoding: byte-identical to ``urlencode(data, doseq=True)``."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st

from crisiscast.channels.sms.twilio import encode_form

_scalar = st.one_of(st.text(), st.integers(), st.booleans(), st.binary())
_value = st.one_of(_scalar, st.lists(st.text(), max_size=3), st.tuples(st.text(), st.integers()))


@given(st.dictionaries(st.text(min_size=1), _value, max_size=6))
def test_encode_form_matches_urlencode(data: dict[str, object]) -> None:
    """Any form (text with reserved and non-ASCII characters, numbers, flags, bytes, repeated
    values) encodes exactly as the standard library's ``urlencode(..., doseq=True)``."""
    assert encode_form(data) == urlencode(data, doseq=True).encode()


def test_encode_form_repeated_body_stays_identical() -> None:
    """The cached quoting of a body sent to many numbers gives the same bytes every time."""
    body = "Fire in Building B: evacuate now. Évacuez. 🔥 & = + % ?"
    for number in ("+16172000001", "+16172000002", "+16172000001"):
        form = {"To": number, "Body": body, "ValidityPeriod": 3600, "SmartEncoded": "true"}
        assert encode_form(form) == urlencode(form, doseq=True).encode()


@given(st.text(alphabet="+-._~aZ09 %/:é\n"), st.from_regex(r"\+[0-9]{6,15}", fullmatch=True))
def test_encode_form_of_numbers_and_near_plain_text(text: str, number: str) -> None:
    """Phone numbers and text of (almost) only unreserved characters, which skip the quoting
    cache, encode exactly as ``urlencode`` too."""
    form = {"To": number, "From": text, text or "k": number}
    assert encode_form(form) == urlencode(form, doseq=True).encode()
