"""The LinkedIn token's expiry, said plainly: in the preview and in ``/healthz`` (the probe).

LinkedIn access tokens last 60 days. ``token_notice`` turns the configured expiry date into a
sentence; ``linkedin_probe`` reports a problem (``/healthz`` answers 503, the demo leaves the
channel out) once the production or exercise token is within ``token_warn_days`` of expiry or
past it. A token whose date is not configured is said to be unknown in the preview only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from crisiscast.channels.linkedin.config import LinkedInConfig
from crisiscast.channels.spec import HealthProbe
from crisiscast.config import Secrets

__all__ = ["linkedin_probe", "token_notice", "token_problem"]

RENEW = (
    "re-authorise the LinkedIn app (w_organization_social) and set {var} and [channels.linkedin] {setting}"
)


def _today() -> date:
    return datetime.now(UTC).date()


def token_notice(cfg: LinkedInConfig, *, exercise: bool, today: date | None = None) -> str:
    """One sentence on the token's expiry, for the preview."""
    problem = token_problem(cfg, exercise=exercise, today=today)
    if problem:
        return problem
    expires = cfg.exercise_token_expires_at if exercise else cfg.token_expires_at
    which = "exercise " if exercise else ""
    if expires is None:
        setting = "exercise_token_expires_at" if exercise else "token_expires_at"
        return (
            f"LinkedIn: the {which}access token's expiry is not configured; LinkedIn tokens last 60 days, "
            f"set [channels.linkedin] {setting} to be warned before it stops working."
        )
    days = (expires - (today or _today())).days
    return f"LinkedIn: the {which}access token expires on {expires.isoformat()}, in {days} days."


def token_problem(cfg: LinkedInConfig, *, exercise: bool, today: date | None = None) -> str | None:
    """Why the token needs renewing now (None: it does not, or its date is not configured)."""
    expires = cfg.exercise_token_expires_at if exercise else cfg.token_expires_at
    if expires is None:
        return None
    which = "exercise " if exercise else ""
    setting = "exercise_token_expires_at" if exercise else "token_expires_at"
    var = "CRISISCAST_LINKEDIN_EXERCISE_ACCESS_TOKEN" if exercise else "CRISISCAST_LINKEDIN_ACCESS_TOKEN"
    renew = RENEW.format(var=var, setting=setting)
    days = (expires - (today or _today())).days
    if days < 0:
        return f"LinkedIn: the {which}access token expired on {expires.isoformat()}; {renew}."
    if days <= cfg.token_warn_days:
        when = "today" if days == 0 else f"in {days} day{'s' if days != 1 else ''}"
        return f"LinkedIn: the {which}access token expires on {expires.isoformat()} ({when}); {renew}."
    return None


def linkedin_probe(cfg: LinkedInConfig, secrets: Secrets) -> HealthProbe:
    """``/healthz``: unhealthy once a configured token is near or past its expiry."""

    async def probe() -> str | None:
        problems = [p for p in (token_problem(cfg, exercise=False), token_problem(cfg, exercise=True)) if p]
        return " ".join(problems) or None

    return probe
