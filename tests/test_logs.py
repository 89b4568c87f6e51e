"""Logging: JSON lines or console text, bound context, and no secret ever written."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from pydantic import SecretStr

from crisiscast.config import Secrets, load_secrets
from crisiscast.logs import REDACTED, SecretRedactor, bound, close_log_file, configure_logging, is_secret_key

CANARIES = {
    "CRISISCAST_TWILIO_AUTH_TOKEN": "canary-twilio-7f3a9",
    "CRISISCAST_FACEBOOK_PAGE_TOKEN": "canary-graph-EAAB1234",
    "CRISISCAST_TWITTER_CONSUMER_SECRET": "canary-x-secret-55aa",
    "CRISISCAST_WEBHOOK_SECRETS": "whsec_canaryOne111,whsec_canaryTwo222",
    "CRISISCAST_DB_PASSWORD": "canary-db-pw-9",
}


@pytest.fixture
def canary_secrets(monkeypatch: pytest.MonkeyPatch) -> Secrets:
    for name, value in CANARIES.items():
        monkeypatch.setenv(name, value)
    return load_secrets()


@pytest.fixture
def reset_logging() -> Iterator[None]:
    yield
    close_log_file()
    structlog.reset_defaults()
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_crisiscast", False):
            root.removeHandler(handler)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def _assert_no_canary(text: str) -> None:
    for value in CANARIES.values():
        for piece in value.split(","):
            assert piece not in text


@pytest.mark.usefixtures("reset_logging")
def test_secrets_are_redacted_everywhere_in_json_lines(canary_secrets: Secrets) -> None:
    """Secret values vanish from messages, nested values, lists, exceptions and stdlib logs."""
    out = io.StringIO()
    configure_logging(json_output=True, stream=out, secret_values=canary_secrets.all_values())
    log = structlog.get_logger("test")
    log.info("posting", url="https://api.example/x?token=canary-twilio-7f3a9")
    log.info("nested", request={"body": ["a", {"deep": "Bearer canary-graph-EAAB1234"}]})
    log.warning("canary-x-secret-55aa in the event itself")
    log.info("one webhook secret", value="whsec_canaryTwo222")
    try:
        raise RuntimeError("failed with canary-db-pw-9")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("aiohttp.client").warning("retrying with %s", "canary-twilio-7f3a9")
    text = out.getvalue()
    _assert_no_canary(text)
    assert text.count(REDACTED) >= 6
    lines = _lines(out)
    assert lines[0]["url"] == f"https://api.example/x?token={REDACTED}"
    assert lines[-1]["logger"] == "aiohttp.client"


@pytest.mark.usefixtures("reset_logging")
def test_secret_bearing_keys_are_blanked_whatever_their_value() -> None:
    """Authorization, password, token, signature… keys never show their values."""
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    structlog.get_logger().info(
        "request",
        headers={"Authorization": "Basic QUM6c2VjcmV0", "X-Twilio-Signature": "abc=", "Accept": "json"},
        password="hunter2",
        access_token="EAAnotinsecrets",
        token_count=3,
        secret=SecretStr("x"),
    )
    (line,) = _lines(out)
    assert line["headers"] == {"Authorization": REDACTED, "X-Twilio-Signature": REDACTED, "Accept": "json"}
    assert line["password"] == REDACTED
    assert line["access_token"] == REDACTED
    assert line["token_count"] == 3
    assert line["secret"] == REDACTED


@pytest.mark.usefixtures("reset_logging")
def test_context_is_bound_to_every_line_inside_bound() -> None:
    """dispatch_id / channel / delivery bound once appear on every line, and only inside."""
    out = io.StringIO()
    configure_logging(json_output=True, stream=out)
    log = structlog.get_logger()
    with bound(dispatch_id="d-1", channel="sms"), bound(delivery="d-1:sms:+16175550101:0"):
        log.info("attempt")
    log.info("after")
    first, second = _lines(out)
    assert (first["dispatch_id"], first["channel"], first["delivery"]) == (
        "d-1",
        "sms",
        "d-1:sms:+16175550101:0",
    )
    assert "dispatch_id" not in second
    assert first["level"] == "info" and first["timestamp"].endswith("Z")


@pytest.mark.usefixtures("reset_logging")
def test_console_output_is_readable_text_and_still_redacted(canary_secrets: Secrets) -> None:
    """Console rendering is not JSON, shows the event and keys, and redacts too."""
    out = io.StringIO()
    configure_logging(json_output=False, stream=out, secret_values=canary_secrets.all_values())
    structlog.get_logger().warning("channel failed", channel="facebook", reason="token canary-graph-EAAB1234")
    text = out.getvalue()
    assert "channel failed" in text and "channel=facebook" in text
    assert not text.lstrip().startswith("{")
    _assert_no_canary(text)


@pytest.mark.usefixtures("reset_logging")
def test_log_file_gets_json_lines(tmp_path: Path, canary_secrets: Secrets) -> None:
    """--log-file appends JSON lines to the file (creating its directory)."""
    path = tmp_path / "logs" / "crisiscast.log"
    configure_logging(file=path, secret_values=canary_secrets.all_values())
    structlog.get_logger().info("first", token_hint="canary-x-secret-55aa")
    configure_logging(file=path, secret_values=canary_secrets.all_values())
    structlog.get_logger().info("second")
    lines = [json.loads(line) for line in path.read_text("utf-8").splitlines()]
    assert [line["event"] for line in lines] == ["first", "second"]
    _assert_no_canary(path.read_text("utf-8"))


@pytest.mark.usefixtures("reset_logging")
def test_level_filters_lower_levels() -> None:
    """At level warning, info lines are not written."""
    out = io.StringIO()
    configure_logging(json_output=True, stream=out, level="warning")
    structlog.get_logger().info("quiet")
    structlog.get_logger().error("loud")
    assert [line["event"] for line in _lines(out)] == ["loud"]


def test_redactor_handles_objects_whose_text_holds_a_secret() -> None:
    """An arbitrary object whose str() contains a secret is replaced by its redacted text."""

    class Holder:
        def __str__(self) -> str:
            return "holder(canary-twilio-7f3a9)"

    redactor = SecretRedactor(["canary-twilio-7f3a9", "abc"])
    event = redactor(None, "info", {"event": "x", "obj": Holder(), "raw": b"canary-twilio-7f3a9", "n": 1.5})
    assert event == {"event": "x", "obj": f"holder({REDACTED})", "raw": REDACTED, "n": 1.5}
    assert redactor.redact_text("abc stays: too short to redact") == "abc stays: too short to redact"


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("Authorization", True),
        ("auth_token", True),
        ("X-Twilio-Signature", True),
        ("db_password", True),
        ("cookie", True),
        ("dispatch_id", False),
        ("channel", False),
        ("token_count", False),
    ],
)
def test_is_secret_key(key: str, secret: bool) -> None:
    """Keys that usually carry secrets are recognised; ordinary keys are not."""
    assert is_secret_key(key) is secret
