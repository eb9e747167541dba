"""The complaint settings: response times per severity, reminder leads, follow-up interval."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field, field_validator

from bot.config import Period, Section, env, parse_setting_duration


class ComplaintSettings(Section):
    sla: Period = Field(timedelta(hours=24), validation_alias=env("LIAISON_COMPLAINT_SLA"))
    sla_low: Period | None = Field(None, validation_alias=env("LIAISON_COMPLAINT_SLA_LOW"))
    sla_normal: Period | None = Field(None, validation_alias=env("LIAISON_COMPLAINT_SLA_NORMAL"))
    sla_high: Period | None = Field(None, validation_alias=env("LIAISON_COMPLAINT_SLA_HIGH"))
    # A critical complaint cannot wait a day: 4 hours unless set otherwise.
    sla_critical: Period | None = Field(
        timedelta(hours=4), validation_alias=env("LIAISON_COMPLAINT_SLA_CRITICAL"))
    reminders: str = Field("4h,1h", validation_alias=env("LIAISON_COMPLAINT_REMINDERS"))
    followup: Period = Field(timedelta(days=3), validation_alias=env("LIAISON_COMPLAINT_FOLLOWUP"))

    @field_validator("reminders")
    @classmethod
    def _duration_list(cls, value: str) -> str:
        for part in filter(None, (p.strip() for p in value.split(","))):
            parse_setting_duration(part)
        return value

    @property
    def reminder_leads(self) -> list[timedelta]:
        parts = (p.strip() for p in self.reminders.split(","))
        return sorted((parse_setting_duration(p) for p in parts if p), reverse=True)

    def sla_for(self, severity: str) -> timedelta:
        override = getattr(self, f"sla_{severity}", None)
        return override or self.sla
