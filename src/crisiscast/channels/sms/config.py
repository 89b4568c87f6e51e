"""``[channels.sms]``: the Twilio account, sender, contacts file and segment budget."""

from __future__ import annotations

from pydantic import Field

from crisiscast.config import ChannelSection

__all__ = ["SmsConfig"]


class SmsConfig(ChannelSection):
    api_base_url: str = "https://api.twilio.com"
    account_sid: str = ""
    messaging_service_sid: str | None = None
    from_number: str | None = None
    contacts: str = "config/contacts.csv"
    default_region: str = "US"
    validity_period_s: int = Field(default=3600, ge=1, le=36000)
    status_callback_url: str | None = None
    segment_budget: int = Field(default=3, ge=1, le=10)
    price_per_segment: float | None = None
    smart_encoding: bool = True
    max_concurrency: int = Field(default=50, ge=1)
    max_requests_per_s: float | None = Field(default=100.0, gt=0)
    burst: int = Field(default=10, ge=1)
