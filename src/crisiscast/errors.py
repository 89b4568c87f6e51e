"""The crisiscast exception tree, in one place.

::

    CrisiscastError                    base of everything crisiscast raises on purpose
    ├── UserError                      the user can fix it; the CLI prints str(err), exit 2
    │   ├── MessageFileError           a message file that cannot be read or is invalid
    │   ├── ConfigError                configuration or a secret is missing or wrong
    │   └── PolicyError                approval / exercise / PHI / budget policy refuses
    ├── StoreError                     the audit store is unreachable or corrupt
    └── DeliveryError                  one attempt at one delivery failed (raised by Channel.send)
        ├── Transient                  safe to retry; may carry retry_after_s
        │   ├── RateLimited            the provider throttled us; retry_after_s usually set
        │   └── Unanswered             the provider worked but nobody took it (a busy line): try later
        ├── Permanent                  retrying cannot help (bad request, auth, opted out)
        │   └── Duplicate              the provider already has identical content (X 403, Graph 506)
        └── Ambiguous                  the request may have reached the provider (timeout after
                                       send, reset mid-response): never retried blindly;
                                       the delivery becomes ``in_doubt`` and is reconciled

``CannotReconcile`` is raised by ``Channel.reconcile`` when the provider cannot be asked.

Messages are plain sentences for people under stress. No error text ever contains a secret:
channels build messages from provider codes and reasons, never from request headers.
"""

from __future__ import annotations

__all__ = [
    "Ambiguous",
    "CannotReconcile",
    "ConfigError",
    "CrisiscastError",
    "DeliveryError",
    "Duplicate",
    "MessageFileError",
    "Permanent",
    "PolicyError",
    "RateLimited",
    "StoreError",
    "Transient",
    "Unanswered",
    "UserError",
]


class CrisiscastError(Exception):
    """Base of every error crisiscast raises on purpose."""


class UserError(CrisiscastError):
    """Something the user can fix; ``str(err)`` is one plain sentence saying what and how."""


class MessageFileError(UserError):
    """A message file that cannot be read, parsed or validated."""


class ConfigError(UserError):
    """Configuration or a secret is missing or wrong."""


class PolicyError(UserError):
    """A safety policy refuses the request (approvals, exercise isolation, PHI, SMS budget)."""


class StoreError(CrisiscastError):
    """The audit store cannot be reached or is inconsistent."""


class CannotReconcile(CrisiscastError):
    """The provider cannot be asked whether an in-doubt delivery arrived.

    ``never_resend`` marks a channel with no read-back that promises at most once (staff
    webhooks): the in-doubt policy does not apply and the delivery stays in doubt.
    """

    def __init__(self, reason: str = "", *, never_resend: bool = False) -> None:
        super().__init__(reason)
        self.never_resend = never_resend


class DeliveryError(CrisiscastError):
    """One attempt at one delivery failed.

    ``code`` is the provider's error code (``"21610"``, ``"190"``, ``"http_503"``) and
    ``status`` the HTTP status when there was one. ``str(err)`` is a short plain reason.
    """

    kind = "error"

    def __init__(self, reason: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.status = status


class Transient(DeliveryError):
    """A failure that may pass: retried with back-off, honouring ``retry_after_s``."""

    kind = "transient"

    def __init__(
        self,
        reason: str,
        *,
        code: str | None = None,
        status: int | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(reason, code=code, status=status)
        self.retry_after_s = retry_after_s


class RateLimited(Transient):
    """The provider throttled the account; wait ``retry_after_s`` before the next request."""

    kind = "rate_limited"


class Unanswered(Transient):
    """The provider did its part but the recipient did not take it (a busy line, no answer):
    tried again after ``retry_after_s``; the provider is healthy, so its circuit is not touched."""

    kind = "unanswered"


class Permanent(DeliveryError):
    """Retrying cannot help: exactly one attempt is made and the code is recorded."""

    kind = "permanent"


class Duplicate(Permanent):
    """The provider refuses identical content it already has (X 403 duplicate, Graph 506).

    After an in-doubt attempt of the same delivery this means the earlier attempt arrived:
    the dispatcher records it delivered, provider id unknown. Otherwise it is a permanent
    failure (another post with the same words).
    """

    kind = "duplicate"


class Ambiguous(DeliveryError):
    """The request may have been accepted; the delivery is in doubt until reconciled."""

    kind = "ambiguous"
