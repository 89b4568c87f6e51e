"""``[channels.linkedin]``: the REST API, its version, the organization and the token's expiry.

LinkedIn access tokens live 60 days (refresh tokens are for approved partners only), and
LinkedIn does not say when a token will stop working until it has. ``token_expires_at`` is the
date LinkedIn gave when the token was made; crisiscast says how long is left in every preview
and turns ``/healthz`` unhealthy ``token_warn_days`` before it, so the token is renewed
before an incident, not during one.
"""

from __future__ import annotations

from datetime import date

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["LinkedInConfig"]


class LinkedInConfig(ChannelSection):
    api_base_url: str = "https://api.linkedin.com"
    api_version: str = Field(default="202511", pattern=r"^\d{6}$")  # the Linkedin-Version header, YYYYMM
    organization_id: str = ""
    exercise_organization_id: str | None = None  # a test Page (or showcase page) for drills
    token_expires_at: date | None = None
    exercise_token_expires_at: date | None = None
    token_warn_days: int = Field(default=14, ge=1)
