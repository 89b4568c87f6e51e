"""Who is operating crisiscast: the identity recorded as author, approver and sender.

The identity is ``$CRISISCAST_OPERATOR`` when set (for shared ops hosts where people log in
under one account, or for a service account naming the person behind it), else the OS user
running the command. It is only as strong as the host's logins: the two-person rule relies
on people approving from their own accounts.

Identities are compared by ``identity_key``: Unicode compatibility forms folded (NFKC, so
full-width ``ａｌｉｃｅ`` is ``alice``), case-insensitively, with runs of spaces as one. An identity
holding a character that does not print (zero-width, direction marks, non-breaking spaces)
is refused, so an invisible difference never makes one person look like two.
"""

from __future__ import annotations

import getpass
import os
import re
import unicodedata

from crisiscast.errors import ConfigError

__all__ = ["OPERATOR_ENV", "check_identity", "identity_key", "operator_identity", "same_person"]

OPERATOR_ENV = "CRISISCAST_OPERATOR"
MAX_IDENTITY_CHARS = 64
_IDENTITY = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def check_identity(value: str, *, where: str = OPERATOR_ENV) -> str:
    """``value`` stripped; ``ConfigError`` when it is empty, too long or holds a non-printing character."""
    identity = value.strip()
    if not _IDENTITY.fullmatch(identity) or not identity.isprintable():
        raise ConfigError(
            f"{where} must name one person in at most {MAX_IDENTITY_CHARS} printable characters."
        )
    return identity


def operator_identity() -> str:
    """``$CRISISCAST_OPERATOR``, else the OS user (``getpass.getuser``), else ``uid-N``."""
    configured = os.environ.get(OPERATOR_ENV)
    if configured is not None:
        return check_identity(configured)
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return os.environ.get("USER") or f"uid-{os.getuid()}"


def identity_key(identity: str) -> str:
    """The form identities are compared in: NFKC, case-folded, runs of spaces as one, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", identity).casefold().split())


def same_person(a: str, b: str) -> bool:
    """True when two identities name the same person (see ``identity_key``)."""
    return identity_key(a) == identity_key(b)
