"""A schedule published at a URL, fetched with aiohttp within a timeout.

A failure is ``ScheduleUnavailable`` with one plain sentence (the address, what went wrong,
what to do); the address is shown without its query string, which may carry a token.
"""

from __future__ import annotations

from yarl import URL

from crisiscast.errors import ConfigError

__all__ = ["MAX_SCHEDULE_BYTES", "ScheduleUnavailable", "fetch_schedule_text", "shown_url"]

MAX_SCHEDULE_BYTES = 5_000_000


class ScheduleUnavailable(ConfigError):
    """The on-call schedule could not be fetched (one sentence)."""


def shown_url(url: str) -> str:
    """``url`` without its query and credentials, safe to print."""
    parsed = URL(url)
    return str(parsed.with_query(None).with_fragment(None).with_user(None).with_password(None))


async def fetch_schedule_text(url: str, *, timeout_s: float) -> str:
    """The text at ``url``; ``ScheduleUnavailable`` when it cannot be had within ``timeout_s``."""
    import aiohttp  # here, not at import: a command that never fetches does not pay for it

    where = shown_url(url)
    try:
        timeout = aiohttp.ClientTimeout(total=timeout_s)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(url) as response:
            if response.status != 200:
                raise ScheduleUnavailable(
                    f"The on-call schedule at {where} answered HTTP {response.status}; "
                    "check roster.schedule and that the calendar is published."
                )
            body = await response.content.read(MAX_SCHEDULE_BYTES + 1)
    except TimeoutError:
        raise ScheduleUnavailable(
            f"The on-call schedule at {where} did not answer within {timeout_s:g} s; "
            "check the address or raise roster.fetch_timeout_s."
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise ScheduleUnavailable(
            f"The on-call schedule at {where} could not be fetched ({type(exc).__name__}); "
            "check roster.schedule and the network."
        ) from None
    if len(body) > MAX_SCHEDULE_BYTES:
        raise ScheduleUnavailable(
            f"The on-call schedule at {where} is larger than {MAX_SCHEDULE_BYTES} bytes; "
            "publish a shorter one."
        )
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ScheduleUnavailable(f"The on-call schedule at {where} is not UTF-8 text.") from None
