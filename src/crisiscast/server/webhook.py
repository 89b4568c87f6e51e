"""Standard Webhooks verification for the inbound alert API.

The sender signs ``"{webhook-id}.{webhook-timestamp}.{raw body}"`` with HMAC-SHA256 and
sends ``webhook-signature: v1,<base64>`` (several space-separated signatures are allowed, so
a sender can sign with the old and the new secret during a rotation). We accept a request
when ANY ``v1`` signature matches ANY configured secret and the timestamp is within
``tolerance_s`` of our clock, in either direction.

Secrets come from ``CRISISCAST_WEBHOOK_SECRETS``: comma-separated ``whsec_<base64>`` values
(two active during a rotation). Every comparison is ``hmac.compare_digest`` and every
candidate pair is compared, so the time taken does not depend on which one matched.

Failure: ``WebhookRejected`` with a plain reason that never contains a secret or the
expected signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from pydantic import SecretStr

from crisiscast.errors import ConfigError

__all__ = ["VerifiedWebhook", "WebhookRejected", "WebhookVerifier", "parse_secrets"]

_PREFIX = "whsec_"
_MAX_ID_CHARS = 256
_MAX_SIGNATURES = 10


class WebhookRejected(Exception):
    """The request is not an authentic, fresh Standard Webhooks delivery (answered 401)."""


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """What a verified delivery told us about itself."""

    webhook_id: str
    timestamp_s: int


def parse_secrets(value: SecretStr | None) -> list[bytes]:
    """Decode ``whsec_…`` secrets; raises ``ConfigError`` for a malformed one (never echoing it)."""
    if value is None:
        return []
    keys: list[bytes] = []
    for position, raw in enumerate(value.get_secret_value().split(","), start=1):
        item = raw.strip()
        if not item:
            continue
        encoded = item.removeprefix(_PREFIX)
        try:
            key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) < 16:
            raise ConfigError(
                f"Webhook secret number {position} in CRISISCAST_WEBHOOK_SECRETS is not a whsec_ "
                "base64 secret of at least 16 bytes; generate a new one."
            )
        keys.append(key)
    return keys


def _sign(key: bytes, webhook_id: str, timestamp: str, body: bytes) -> bytes:
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return hmac.new(key, signed, hashlib.sha256).digest()


class WebhookVerifier:
    """Verifies Standard Webhooks headers against one or more secrets."""

    def __init__(self, keys: Sequence[bytes], *, tolerance_s: int = 300) -> None:
        self._keys = list(keys)
        self.tolerance_s = tolerance_s

    @property
    def configured(self) -> bool:
        return bool(self._keys)

    def verify(
        self, headers: Mapping[str, str], body: bytes, *, now_s: float | None = None
    ) -> VerifiedWebhook:
        """Return the verified id and timestamp, or raise ``WebhookRejected``."""
        if not self._keys:
            raise WebhookRejected(
                "This server has no webhook secret configured; set CRISISCAST_WEBHOOK_SECRETS."
            )
        webhook_id = headers.get("webhook-id", "")
        timestamp = headers.get("webhook-timestamp", "")
        signature_header = headers.get("webhook-signature", "")
        missing = [
            name
            for name, value in (
                ("webhook-id", webhook_id),
                ("webhook-timestamp", timestamp),
                ("webhook-signature", signature_header),
            )
            if not value
        ]
        if missing:
            raise WebhookRejected(
                f"The request lacks the {', '.join(missing)} header; sign it with Standard Webhooks."
            )
        if len(webhook_id) > _MAX_ID_CHARS or not webhook_id.isprintable():
            raise WebhookRejected(f"The webhook-id must be printable and at most {_MAX_ID_CHARS} characters.")
        if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
            raise WebhookRejected("The webhook-timestamp must be whole Unix seconds.")
        now = time.time() if now_s is None else now_s
        if abs(now - int(timestamp)) > self.tolerance_s:
            raise WebhookRejected(
                f"The webhook-timestamp is more than {self.tolerance_s} s from this server's clock; "
                "check the sender's clock and sign each attempt afresh."
            )
        candidates = self._candidates(signature_header)
        if not candidates:
            raise WebhookRejected("The webhook-signature holds no v1 signature.")
        matched = False
        for key in self._keys:
            expected = _sign(key, webhook_id, timestamp, body)
            for candidate in candidates:
                # No early exit: every pair is compared, in constant time.
                matched |= hmac.compare_digest(expected, candidate)
        if not matched:
            raise WebhookRejected("The webhook signature does not match; check the signing secret.")
        return VerifiedWebhook(webhook_id=webhook_id, timestamp_s=int(timestamp))

    @staticmethod
    def _candidates(header: str) -> list[bytes]:
        out: list[bytes] = []
        for part in header.split()[:_MAX_SIGNATURES]:
            version, _, value = part.partition(",")
            if version != "v1" or not value:
                continue
            try:
                out.append(base64.b64decode(value, validate=True))
            except (binascii.Error, ValueError):
                continue
        return out
