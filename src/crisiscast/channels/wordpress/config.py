"""``[channels.wordpress]``: the hospital's own site (its REST API), the user, the category.

The application password is a secret (``CRISISCAST_WORDPRESS_APP_PASSWORD``); the site and
the user are not. A site address must be HTTPS — the password travels in every request's
``Authorization`` header — except on this machine (127.0.0.1, localhost), where the sandbox
runs; the section is refused at load time otherwise.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator

from crisiscast.config import ChannelSection

__all__ = ["LOCAL_HOSTS", "WordPressConfig", "https_problem"]

LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def https_problem(url: str, setting: str) -> str | None:
    """Why ``url`` may not carry the application password (None: it may)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return None
    if parts.scheme == "http" and parts.hostname in LOCAL_HOSTS:
        return None
    return (
        f"[channels.wordpress] {setting} = {url!r} is not an https:// address; the application "
        "password would travel unencrypted. Use the site's https:// address."
    )


class WordPressConfig(ChannelSection):
    site_url: str = "https://www.example-hospital.org"
    username: str = ""
    category_id: int = Field(default=1, ge=1)
    exercise_site_url: str | None = None  # a staging copy of the site for drills
    exercise_username: str | None = None  # None: the same user name as production
    exercise_category_id: int | None = Field(default=None, ge=1)  # None: category_id

    @field_validator("site_url", "exercise_site_url")
    @classmethod
    def _https_only(cls, value: str | None, info: object) -> str | None:
        if value is None:
            return None
        problem = https_problem(value, str(getattr(info, "field_name", "site_url")))
        if problem:
            raise ValueError(problem)
        return value.rstrip("/")
