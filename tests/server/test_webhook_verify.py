"""Standard Webhooks verification, checked against signatures made by the reference library."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from standardwebhooks import Webhook

from crisiscast.errors import ConfigError
from crisiscast.server.webhook import WebhookRejected, WebhookVerifier, parse_secrets
from tests.server.helpers import SECRET_A, SECRET_B

BODY = b'{"template":"all-clear"}'
NOW_S = 1_800_000_000


def headers(
    secret: str = SECRET_A, *, msg_id: str = "msg_1", at_s: int = NOW_S, body: bytes = BODY
) -> dict[str, str]:
    when = datetime.fromtimestamp(at_s, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at_s),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body.decode()),
    }


def verifier(*secrets: str, tolerance_s: int = 300) -> WebhookVerifier:
    return WebhookVerifier(parse_secrets(SecretStr(",".join(secrets))), tolerance_s=tolerance_s)


def test_reference_signature_verifies() -> None:
    """A request signed by the standardwebhooks library verifies and yields its id."""
    verified = verifier(SECRET_A).verify(headers(), BODY, now_s=NOW_S)
    assert verified.webhook_id == "msg_1" and verified.timestamp_s == NOW_S


def test_both_rotation_secrets_verify() -> None:
    """With two secrets configured, a request signed with either verifies."""
    v = verifier(SECRET_A, SECRET_B)
    v.verify(headers(SECRET_A), BODY, now_s=NOW_S)
    v.verify(headers(SECRET_B), BODY, now_s=NOW_S)


def test_one_matching_signature_among_several_is_enough() -> None:
    """A sender mid-rotation sends several signatures; one match suffices, other versions are skipped."""
    h = headers(SECRET_B)
    h["webhook-signature"] = "v1a,AAAA v1,bm90LWEtc2ln " + h["webhook-signature"]
    verifier(SECRET_B).verify(h, BODY, now_s=NOW_S)


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"template":"facility-fire"}'},
        {"msg_id": "msg_2"},
        {"signature": "v1,"},
        {"signature": "v2," + base64.b64encode(b"x" * 32).decode()},
        {"signature": "v1,not base64!!"},
        {"secret": "whsec_" + base64.b64encode(b"an-entirely-different-secret-32b").decode()},
    ],
)
def test_tampering_is_rejected(change: dict[str, object]) -> None:
    """Another body, id, secret, version or a garbled signature never verifies."""
    h = headers(str(change.get("secret", SECRET_A)))
    if "msg_id" in change:
        h["webhook-id"] = str(change["msg_id"])
    if "signature" in change:
        h["webhook-signature"] = str(change["signature"])
    body = change.get("body", BODY)
    assert isinstance(body, bytes)
    with pytest.raises(WebhookRejected):
        verifier(SECRET_A).verify(h, body, now_s=NOW_S)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_named(missing: str) -> None:
    """Each missing header is named in the rejection."""
    h = headers()
    del h[missing]
    with pytest.raises(WebhookRejected, match=missing):
        verifier(SECRET_A).verify(h, BODY, now_s=NOW_S)


@pytest.mark.parametrize(
    ("offset_s", "ok"), [(-300, True), (300, True), (-301, False), (301, False), (-86400, False)]
)
def test_timestamp_tolerance_both_ways(offset_s: int, ok: bool) -> None:
    """Timestamps within ±300 s verify; older or newer ones are refused even with a valid signature."""
    h = headers(at_s=NOW_S + offset_s)
    if ok:
        verifier(SECRET_A).verify(h, BODY, now_s=NOW_S)
    else:
        with pytest.raises(WebhookRejected, match="300 s"):
            verifier(SECRET_A).verify(h, BODY, now_s=NOW_S)


@pytest.mark.parametrize("stamp", ["12.5", "-5", "1e9", "١٢٣", "9" * 40])
def test_malformed_timestamp_is_rejected(stamp: str) -> None:
    """Only whole Unix seconds are accepted as a timestamp."""
    h = headers()
    h["webhook-timestamp"] = stamp
    with pytest.raises(WebhookRejected):
        verifier(SECRET_A).verify(h, BODY, now_s=NOW_S)


def test_no_secret_configured_rejects_everything() -> None:
    """Without CRISISCAST_WEBHOOK_SECRETS nothing is accepted."""
    with pytest.raises(WebhookRejected, match="CRISISCAST_WEBHOOK_SECRETS"):
        WebhookVerifier([]).verify(headers(), BODY, now_s=time.time())


def test_malformed_secret_is_a_config_error_without_echo() -> None:
    """A secret that is not whsec_ base64 of 16+ bytes is a ConfigError that does not repeat it."""
    with pytest.raises(ConfigError) as info:
        parse_secrets(SecretStr(f"{SECRET_A},whsec_c2hvcnQ="))
    assert "number 2" in str(info.value)
    assert "c2hvcnQ" not in str(info.value)
    assert parse_secrets(None) == []
    assert len(parse_secrets(SecretStr(f" {SECRET_A} , ,{SECRET_B}"))) == 2
