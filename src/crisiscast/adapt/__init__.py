"""Per-channel adaptation: the exact text each channel sends, in each language.

Every function is pure (no I/O) and deterministic. All raise ``crisiscast.errors.PolicyError``
when a policy refuses (a text too long for the budget, PHI on a public channel, a blank
Exercise/Test marker). Every rendering of an Exercise or Test message starts with the marker.
"""

from crisiscast.adapt.labels import Label, label_for
from crisiscast.adapt.model import Adapted
from crisiscast.adapt.phi import check_phi, find_phi
from crisiscast.adapt.post import adapt_facebook
from crisiscast.adapt.sms import DROP_ORDER, adapt_sms, strip_tracking
from crisiscast.adapt.state import adapt_banner, adapt_mqtt, cleared_document, state_document
from crisiscast.adapt.x import adapt_x

__all__ = [
    "DROP_ORDER",
    "Adapted",
    "Label",
    "adapt_banner",
    "adapt_facebook",
    "adapt_mqtt",
    "adapt_sms",
    "adapt_x",
    "check_phi",
    "cleared_document",
    "find_phi",
    "label_for",
    "state_document",
    "strip_tracking",
]
