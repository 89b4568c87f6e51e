"""Who is operating crisiscast: the identity recorded as author, approver and sender.

On the command line the identity is bound to the **OS account** running the command: its
name is read from the account database by uid (``pwd.getpwuid``), never from ``$USER`` or
``$LOGNAME``, which anyone can set. The two-person rule therefore needs two accounts: an
approval from the author's own account never counts.

``$CRISISCAST_OPERATOR`` is only a **label** for a shared console account — one login used by
several people at an ops desk — and only on accounts listed in ``[policy]
shared_console_accounts``. There it names the person; the audit then records
``identity_basis: "shared-console-label"`` next to the real account, so a reviewer can see the
rule rested on a self-declared name. On any other account a label that names someone else
is refused (a label equal to the account's own name is accepted). Every record also keeps
``os_user`` and ``os_uid``: who really ran the command. Through the API the identity is the
holder of the ``name=token`` API token (``identity_basis: "api-token"``).

Identities are compared by ``identity_key``: Unicode compatibility forms folded (NFKC, so
full-width ``ａｌｉｃｅ`` is ``alice``), case-insensitively, with runs of spaces as one, and
letters that look like Latin ones (Cyrillic ``а``, Greek ``ο``) mapped to them (a confusable
skeleton, from the Unicode confusables data in ``confusable-homoglyphs``). An identity holding
a character that does not print (zero-width, direction marks, non-breaking spaces), or mixing
alphabets with look-alike letters (``аlice`` with a Cyrillic ``а``), is refused, so neither
an invisible nor a look-alike difference makes one person look like two.
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache

from confusable_homoglyphs import confusables

from crisiscast.errors import ConfigError
from crisiscast.jsontypes import JsonObject

__all__ = [
    "OPERATOR_ENV",
    "Operator",
    "acting",
    "acting_fields",
    "check_identity",
    "cli_operator",
    "identity_key",
    "operator_identity",
    "os_account",
    "same_person",
    "set_acting",
]

OPERATOR_ENV = "CRISISCAST_OPERATOR"
MAX_IDENTITY_CHARS = 64
_IDENTITY = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")


def check_identity(value: str, *, where: str = OPERATOR_ENV) -> str:
    """``value`` stripped; ``ConfigError`` when it is empty, too long, holds a non-printing
    character or mixes alphabets with look-alike letters."""
    identity = value.strip()
    if not _IDENTITY.fullmatch(identity) or not identity.isprintable():
        raise ConfigError(
            f"{where} must name one person in at most {MAX_IDENTITY_CHARS} printable characters."
        )
    if confusables.is_dangerous(identity):
        raise ConfigError(
            f"{where} mixes alphabets with letters that look alike (such as a Cyrillic а among "
            "Latin letters); write the name in one alphabet."
        )
    return identity


@dataclass(frozen=True, slots=True)
class Operator:
    """The person acting, what their identity rests on, and the OS account that ran the command."""

    name: str
    basis: str  # "os-account", "shared-console-label" or "api-token"
    os_user: str
    os_uid: int

    def audit_fields(self) -> JsonObject:
        """What every record of this person's action keeps besides their name."""
        return {"identity_basis": self.basis, "os_user": self.os_user, "os_uid": self.os_uid}


def os_account() -> tuple[str, int]:
    """The name and uid of the account running this process, from the account database."""
    uid = os.getuid()
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name, uid
    except (ImportError, KeyError):
        return f"uid-{uid}", uid


def cli_operator(shared_console_accounts: Collection[str] = ()) -> Operator:
    """The person running this command (see the module docstring); ``ConfigError`` when
    ``$CRISISCAST_OPERATOR`` names someone else on an account the policy does not list."""
    user, uid = os_account()
    label = os.environ.get(OPERATOR_ENV)
    if label is None or not label.strip():
        return Operator(user, "os-account", user, uid)
    name = check_identity(label)
    if same_person(name, user):
        return Operator(user, "os-account", user, uid)
    if any(same_person(user, shared) for shared in shared_console_accounts):
        return Operator(name, "shared-console-label", user, uid)
    raise ConfigError(
        f"{OPERATOR_ENV} says {name}, but this command runs as the OS account {user}, which is not "
        "a shared console account ([policy] shared_console_accounts); unset "
        f"{OPERATOR_ENV} to act as {user}, or run the command from {name}'s own account."
    )


def operator_identity(shared_console_accounts: Collection[str] = ()) -> str:
    """The name of ``cli_operator``, which is also made the acting person for audit records."""
    operator = cli_operator(shared_console_accounts)
    _ACTING.set(operator.audit_fields())
    return operator.name


_ACTING: ContextVar[JsonObject | None] = ContextVar("crisiscast_acting", default=None)


def acting_fields() -> JsonObject:
    """The audit fields of the person acting in this context (empty when none was set)."""
    return dict(_ACTING.get() or {})


def set_acting(fields: JsonObject) -> None:
    """From now on in this context (one request's task), records carry ``fields``."""
    _ACTING.set(dict(fields))


@contextmanager
def acting(fields: JsonObject) -> Iterator[None]:
    """Within the block, records carry ``fields`` as the acting person's (e.g. an API token holder)."""
    token = _ACTING.set(dict(fields))
    try:
        yield
    finally:
        _ACTING.reset(token)


@lru_cache(maxsize=4096)
def _latin_look_alike(ch: str) -> str:
    """The ASCII letter or digit ``ch`` looks like (``ch`` itself when none)."""
    found = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=False)
    if not found:
        return ch
    for glyph in found[0]["homoglyphs"]:
        candidate = str(glyph["c"])
        if len(candidate) == 1 and candidate.isascii() and candidate.isalnum():
            return candidate
    return ch


def identity_key(identity: str) -> str:
    """The form identities are compared in: NFKC, case-folded, runs of spaces as one, trimmed,
    and look-alike letters of other alphabets mapped to the Latin letter they imitate."""
    folded = unicodedata.normalize("NFKC", identity)
    if not folded.isascii():  # the skeleton before case folding: Greek capital Α is Latin A
        folded = "".join(ch if ch.isascii() else _latin_look_alike(ch) for ch in folded)
    return " ".join(folded.casefold().split())


def same_person(a: str, b: str) -> bool:
    """True when two identities name the same person (see ``identity_key``)."""
    return identity_key(a) == identity_key(b)
