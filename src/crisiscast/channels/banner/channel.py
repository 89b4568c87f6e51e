"""Website banner channel: the current banner as a JSON state document, written atomically.

The banner is *state*, not an event: the file at ``[channels.banner] path`` always holds the
one current banner document (``crisiscast.adapt.adapt_banner``), or a cleared document after
a Cancel (``crisiscast.adapt.cleared_document``). ``crisiscast serve`` publishes it as
``/banner.json`` and the embeddable ``/banner.js`` shows it on the hospital's pages; any web
server can serve the file directly as well. Optionally the same JSON is ``PUT`` to a CMS
(``cms_url``), one request per attempt.

Writing is atomic (a temporary file in the same directory, ``fsync``, ``os.replace``, then an
``fsync`` of the directory), so a reader never sees half a document and a crash leaves either
the old or the new banner. Writers take an exclusive ``flock`` on ``<path>.lock``, and a
document never replaces one that was *issued later* (a late retry of an alert cannot undo its
all-clear): that write is skipped and the receipt says ``superseded``.

Failure modes of one ``send``: the directory cannot be written (permission, not a directory)
→ ``Permanent``; any other file-system error (disk full, I/O error) → ``Transient``; the CMS
answers 5xx/408 → ``Transient``, 429 → ``RateLimited``, other 4xx → ``Permanent``; the CMS
cannot be reached or the answer is lost → ``Transient`` (a ``PUT`` of state is idempotent, so
sending it again cannot duplicate anything; for the same reason aiohttp may replay the PUT
once on a keep-alive connection the CMS closed, as RFC 9112 §9.3.1 allows). Re-publishing is
idempotent, so ``reconcile`` re-writes the document and returns a receipt.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from crisiscast.adapt.state import cleared_document
from crisiscast.channels.banner import SPEC
from crisiscast.channels.banner.adapt import adapt_banner
from crisiscast.channels.banner.config import BannerConfig
from crisiscast.channels.base import (
    BaseChannel,
    ChannelLimits,
    ChannelUnavailable,
    RenderContext,
    classify_http_status,
    parse_retry_after_s,
)
from crisiscast.channels.http import SessionHolder, request
from crisiscast.config import PolicyConfig, Secrets, Settings
from crisiscast.delivery import Delivery, Receipt
from crisiscast.errors import Ambiguous, DeliveryError, Permanent, PolicyError, Transient
from crisiscast.jsontypes import JsonMapping, JsonObject
from crisiscast.message import CrisisMessage, MsgType, Status

__all__ = [
    "BannerChannel",
    "WriteResult",
    "build",
    "current_banner",
    "write_state_atomically",
]

log = structlog.get_logger(__name__)

# Errors that no retry can fix: the operator must change the path or its permissions.
_PERMANENT_ERRNOS = frozenset(
    {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EISDIR, errno.EEXIST}
)


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a state write did: ``written`` False when a later-issued document was kept."""

    written: bool
    sha256: str


def _issued_at(document: JsonMapping) -> datetime | None:
    value = document.get("issued_at")
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _read_json(path: Path) -> JsonObject | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def encode_document(document: JsonMapping) -> bytes:
    """The canonical bytes of a banner document (UTF-8 JSON, sorted keys, trailing newline)."""
    return (json.dumps(document, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


def write_state_atomically(path: Path, document: JsonMapping) -> WriteResult:
    """Replace the state file at ``path`` with ``document``, atomically and durably (blocking).

    Keeps the current file when it holds a document issued later than ``document``. Raises
    ``OSError`` when the directory cannot be created or written.
    """
    data = encode_document(document)
    digest = hashlib.sha256(data).hexdigest()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        current = _read_json(path)
        ours, theirs = _issued_at(document), _issued_at(current or {})
        if ours is not None and theirs is not None and theirs > ours:
            return WriteResult(written=False, sha256=digest)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as tmp:
                tmp.write(data)
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp_name, 0o644)  # mkstemp makes 0600; a web server must be able to read it
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return WriteResult(written=True, sha256=digest)


def current_banner(path: Path, *, now: datetime | None = None) -> JsonObject:
    """The banner to show now: the state document, ``{"status": "none"}`` when there is none.

    An active document whose ``expires_at`` has passed is returned as cleared
    (``{"id", "status": "cleared", "reason": "expired", "exercise"}``), so a banner never
    outlives its message even when nobody sends the all-clear.
    """
    document = _read_json(path)
    if document is None:
        return {"status": "none"}
    expires = document.get("expires_at")
    if document.get("status") == "active" and isinstance(expires, str):
        try:
            when = datetime.fromisoformat(expires)
        except ValueError:
            return document
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if when <= (now or datetime.now(UTC)):
            return {
                "id": document.get("id"),
                "status": "cleared",
                "reason": "expired",
                "exercise": bool(document.get("exercise", False)),
            }
    return document


def _summary(document: JsonMapping) -> str:
    if document.get("status") != "active":
        return "Banner cleared."
    lines = [str(document.get(k) or "") for k in ("headline", "instruction", "web")]
    return "\n".join(line for line in lines if line)


class BannerChannel(BaseChannel):
    """Publishes the banner state file (and optionally PUTs it to a CMS)."""

    name = "banner"
    public = True

    def __init__(
        self,
        path: Path,
        policy: PolicyConfig,
        *,
        exercise: bool = False,
        cms_url: str | None = None,
        request_timeout_s: float = 10.0,
        limits: ChannelLimits | None = None,
    ) -> None:
        self.path = path
        self.policy = policy
        self.exercise = exercise
        self.cms_url = cms_url
        self.account = f"banner:{path}"
        # One writer at a time keeps the file's history in plan order; the file is cheap to write.
        self.limits = limits or ChannelLimits.from_config(BannerConfig())
        self._http = SessionHolder(timeout_s=request_timeout_s, pool_key="banner")
        self._cms_host = (urlsplit(cms_url).hostname or "?") if cms_url else None

    def render(self, message: CrisisMessage, ctx: RenderContext) -> Sequence[Delivery]:
        """One delivery: the banner document (or the cleared document for a Cancel)."""
        if message.status is not Status.ACTUAL and not self.exercise:
            raise PolicyError(
                f"An {message.status.value} message cannot go to the public banner; "
                "configure [channels.banner] exercise_path."
            )
        if message.msg_type is MsgType.CANCEL:
            document = dict(cleared_document(message, self.policy, issued_at=ctx.now))
        else:
            document = dict(adapt_banner(message, self.policy, issued_at=ctx.now))
        delivery = Delivery(
            dispatch_id=ctx.dispatch_id,
            channel=self.name,
            target=str(self.path),
            part=0,
            body=_summary(document),
            language=str(document.get("language") or message.language),
            payload=document,
        )
        return [delivery]

    async def send(self, delivery: Delivery, previous: Receipt | None) -> Receipt:
        """Write the state file atomically, then PUT it to the CMS when one is configured."""
        bound = log.bind(dispatch_id=delivery.dispatch_id, channel=self.name, delivery=delivery.key)
        document = dict(delivery.payload)
        try:
            result = await asyncio.to_thread(write_state_atomically, self.path, document)
        except OSError as exc:
            raise self._file_error(exc) from None
        if not result.written:
            bound.warning("banner_superseded", path=str(self.path))
        cms_status = await self._put_cms(document) if self.cms_url else None
        bound.info("banner_published", path=str(self.path), written=result.written, cms_status=cms_status)
        detail: JsonObject = {"path": str(self.path), "sha256": result.sha256}
        if cms_status is not None:
            detail["cms_status"] = cms_status
        return Receipt(
            provider_id=f"{self.path.name}@{result.sha256[:12]}",
            status="published" if result.written else "superseded",
            detail=detail,
        )

    async def reconcile(self, delivery: Delivery) -> Receipt | None:
        """Re-publish (idempotent) and return the receipt: the banner then surely holds it."""
        return await self.send(delivery, None)

    async def aclose(self) -> None:
        await self._http.aclose()

    def _file_error(self, exc: OSError) -> DeliveryError:
        why = os.strerror(exc.errno).lower() if exc.errno else type(exc).__name__
        if exc.errno in _PERMANENT_ERRNOS:
            return Permanent(
                f"Cannot write the banner file {self.path} ({why}); fix the path or its permissions.",
                code="banner_unwritable",
            )
        return Transient(f"Writing the banner file {self.path} failed ({why}).", code="banner_write_failed")

    async def _put_cms(self, document: JsonMapping) -> int:
        assert self.cms_url is not None
        provider = f"the CMS at {self._cms_host}"
        try:
            resp = await request(self._http.get(), "PUT", self.cms_url, provider=provider, json=document)
        except Ambiguous as exc:
            # A PUT of the whole state is idempotent: sending it again cannot duplicate anything.
            raise Transient(exc.reason, code=exc.code) from None
        if resp.status >= 400:
            raise classify_http_status(
                resp.status,
                f"The CMS at {self._cms_host} refused the banner (HTTP {resp.status}).",
                retry_after_s=parse_retry_after_s(resp.headers.get("Retry-After")),
            )
        return resp.status


def build(settings: Settings, secrets: Secrets, *, exercise: bool) -> BannerChannel:
    """The banner channel for production or, with ``exercise``, for the exercise banner.

    Raises ``ChannelUnavailable`` when the channel is disabled or no exercise path is set.
    The CMS is only used for production banners unless ``exercise_cms_url`` is configured.
    """
    del secrets  # the banner needs no secret
    config = SPEC.config(settings)
    if not config.enabled:
        raise ChannelUnavailable("The banner channel is disabled in the configuration.")
    if exercise:
        if not config.exercise_path:
            raise ChannelUnavailable(
                "No exercise banner is configured; set [channels.banner] exercise_path to drill the banner."
            )
        path, cms_url = config.exercise_path, config.exercise_cms_url
    else:
        path, cms_url = config.path, config.cms_url
    return BannerChannel(
        settings.resolve(path),
        settings.policy,
        exercise=exercise,
        cms_url=cms_url,
        request_timeout_s=config.request_timeout_s,
    )
