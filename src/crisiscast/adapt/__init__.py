"""Adaptation shared by every channel: labels, languages, composition, the PHI guard, state documents.

Every function is pure (no I/O) and deterministic and raises ``crisiscast.errors.PolicyError``
when a policy refuses. Each channel's own adaptation lives in its package
(``crisiscast.channels.<name>.adapt``).
"""

from crisiscast.adapt.labels import Label, label_for
from crisiscast.adapt.model import Adapted
from crisiscast.adapt.phi import check_phi, find_phi
from crisiscast.adapt.state import cleared_document, state_document

__all__ = ["Adapted", "Label", "check_phi", "cleared_document", "find_phi", "label_for", "state_document"]
