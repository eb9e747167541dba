"""The complaint settings: response and resolution times per severity, warnings, escalation
levels, follow-up interval. Every duration counts in working time of the complaints
calendar (see handlers/calendar/); under the default 24x7 calendar that is the wall clock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

from pydantic import AliasChoices, Field, field_validator

from bot.config import Period, Section, env, parse_setting_duration

RESOLVE_DEFAULT = "high=3d,medium=5d,low=10d"
# Names a severity has in LIAISON_COMPLAINT_RESOLVE, beside the ones complaints use.
SEVERITY_NAMES = {"medium": "normal", "urgent": "critical"}
_LEVEL = re.compile(r"^\+\s*([0-9.smhdw ]+?)\s*[:：]\s*(\S.*)$")
_TARGET = re.compile(r"^@?[\w.\-:\u4e00-\u9fff]{1,128}$")


@dataclass(frozen=True)
class Warning:
    """A warning before the response deadline: `lead` before it, or at `share` of it."""

    lead: timedelta | None = None
    share: float | None = None

    def used_at(self, budget: timedelta) -> timedelta:
        """How much of the clock is used when this warning is due."""
        if self.share is not None:
            return budget * self.share
        assert self.lead is not None
        return budget - self.lead

    @property
    def label(self) -> str:
        if self.share is not None:
            return f"{round(self.share * 100)}pct"
        assert self.lead is not None
        minutes = int(self.lead.total_seconds()) // 60
        return f"{minutes // 60}h" if minutes % 60 == 0 else f"{minutes}m"


@dataclass(frozen=True)
class Level:
    """A later escalation level: `after` the breach (working time), to `targets`: `@name`,
    `platform:user_id`, or a role (everyone holding it)."""

    after: timedelta
    targets: tuple[str, ...]


def parse_warnings(value: str) -> list[Warning]:
    out: list[Warning] = []
    for part in filter(None, (p.strip() for p in value.split(","))):
        if part.endswith("%"):
            share = float(part[:-1])
            if not 0 < share < 100:
                raise ValueError(f"{part!r}: a share must be between 0% and 100%")
            out.append(Warning(share=share / 100))
        else:
            out.append(Warning(lead=parse_setting_duration(part)))
    return out


def parse_levels(value: str) -> list[Level]:
    out: list[Level] = []
    for part in filter(None, (p.strip() for p in value.replace("，", ",").split(","))):
        found = _LEVEL.match(part)
        if not found:
            raise ValueError(f"{part!r} is not a level such as '+2h: @lead' or '+1d: manager'")
        after = parse_setting_duration(found.group(1).replace(" ", ""))
        targets = tuple(t for t in found.group(2).split() if t)
        if after <= timedelta(0) or not all(_TARGET.match(t) for t in targets):
            raise ValueError(f"{part!r} is not a level such as '+2h: @lead' or '+1d: manager'")
        out.append(Level(after, targets))
    return sorted(out, key=lambda level: level.after)


def parse_resolve(value: str) -> dict[str, timedelta]:
    out: dict[str, timedelta] = {}
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, sep, raw = part.partition("=")
        name = SEVERITY_NAMES.get(name.strip().lower(), name.strip().lower())
        if not sep or name not in ("low", "normal", "high", "critical"):
            raise ValueError(f"{part!r} is not severity=duration, e.g. high=3d")
        period = parse_setting_duration(raw)
        if period <= timedelta(0):
            raise ValueError(f"{part!r}: must be longer than zero")
        out[name] = period
    return out


class ComplaintSettings(Section):
    sla: Period = Field(timedelta(hours=24), validation_alias=env("LIAISON_COMPLAINT_SLA"))
    sla_low: Period | None = Field(None, validation_alias=env("LIAISON_COMPLAINT_SLA_LOW"))
    sla_normal: Period | None = Field(None, validation_alias=env("LIAISON_COMPLAINT_SLA_NORMAL"))
    sla_high: Period | None = Field(None, validation_alias=env("LIAISON_COMPLAINT_SLA_HIGH"))
    # A critical complaint cannot wait a day: 4 hours unless set otherwise.
    sla_critical: Period | None = Field(
        timedelta(hours=4), validation_alias=env("LIAISON_COMPLAINT_SLA_CRITICAL"))
    # Warnings before the response deadline: durations before it (4h,1h) or shares of it
    # (75%,90%). LIAISON_COMPLAINT_REMINDERS is the older name.
    reminders: str = Field("4h,1h", validation_alias=AliasChoices(
        "LIAISON_COMPLAINT_WARN", "LIAISON_COMPLAINT_REMINDERS"))
    resolve: str = Field(RESOLVE_DEFAULT, validation_alias=env("LIAISON_COMPLAINT_RESOLVE"))
    escalate: str = Field("", validation_alias=env("LIAISON_COMPLAINT_ESCALATE"))
    followup: Period = Field(timedelta(days=3), validation_alias=env("LIAISON_COMPLAINT_FOLLOWUP"))

    @field_validator("reminders")
    @classmethod
    def _warnings(cls, value: str) -> str:
        parse_warnings(value)
        return value

    @field_validator("resolve")
    @classmethod
    def _resolve(cls, value: str) -> str:
        parse_resolve(value)
        return value

    @field_validator("escalate")
    @classmethod
    def _levels(cls, value: str) -> str:
        parse_levels(value)
        return value

    @property
    def reminder_leads(self) -> list[timedelta]:
        """The warnings given as durations (the shares have no fixed lead)."""
        return sorted((w.lead for w in self.warnings if w.lead is not None), reverse=True)

    @property
    def warnings(self) -> list[Warning]:
        return parse_warnings(self.reminders)

    @property
    def levels(self) -> list[Level]:
        return parse_levels(self.escalate)

    def sla_for(self, severity: str) -> timedelta:
        override = getattr(self, f"sla_{severity}", None)
        return override or self.sla

    def resolve_for(self, severity: str) -> timedelta:
        """The resolution time of a severity; critical falls back to high's, any other
        severity left out to the longest given."""
        table = parse_resolve(self.resolve)
        if severity in table:
            return table[severity]
        if severity == "critical" and "high" in table:
            return table["high"]
        return max(table.values(), default=timedelta(days=10))
