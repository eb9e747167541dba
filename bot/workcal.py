"""Working calendars and the arithmetic of working time, as pure functions.

A calendar is working hours per weekday plus days off (public holidays, company days) and
make-up workdays (China's 调休 Saturdays). Three sources:

- `24x7`: every instant is working time; a deadline is the wall clock plus the duration, which
  is exactly how every deadline ran before calendars existed.
- `cn`: China's public holidays and make-up workdays from the `chinesecalendar` package
  (updated by upgrading it; for a year it does not know yet, weekends only).
- a country code (`us`, `gb`, `de`, ...): public holidays from the `holidays` package.

Working periods are half-open, [open, close): at 18:00 sharp a 09:00-18:00 day is over.
Nothing here reads the database or the settings; bot/calendars.py builds calendars from them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

ALWAYS = "24x7"
CHINA = "cn"
CHINA_ZONE = ZoneInfo("Asia/Shanghai")
DEFAULT_HOURS = "09:00-18:00"
# How far ahead a search for working time looks before giving up (a calendar with no
# working day at all would otherwise loop for ever).
HORIZON_DAYS = 3 * 366
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_ZH = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})$")

Hours = tuple[tuple[time, time] | None, ...]  # per weekday, Monday first; None: closed


class CalendarError(ValueError):
    """A calendar name or working-hours text that cannot be read; `reason` names the case."""

    def __init__(self, reason: str, text: str = "") -> None:
        super().__init__(f"{reason}: {text}")
        self.reason = reason
        self.text = text


@dataclass(frozen=True)
class Calendar:
    name: str  # "24x7", "cn", or a country code
    zone: ZoneInfo
    hours: Hours = ()
    # The source's verdict on a day: True a working day (a make-up workday included), False a
    # day off, None when it has no opinion (then the weekday's hours decide).
    source: Callable[[date], bool | None] = field(default=lambda day: None, compare=False)
    days_off: Mapping[date, str] = field(default_factory=dict)  # company days off, by name
    holiday_name: Callable[[date], str] = field(default=lambda day: "", compare=False)

    @property
    def always(self) -> bool:
        return self.name == ALWAYS

    @property
    def hours_text(self) -> str:
        return format_hours(self.hours)

    def period(self, day: date) -> tuple[datetime, datetime] | None:
        """The working period of a day, in the calendar's zone; None on a day off."""
        if self.always:
            start = datetime.combine(day, time(0), self.zone)
            return start, datetime.combine(day + timedelta(days=1), time(0), self.zone)
        if day in self.days_off:
            return None
        verdict = self.source(day)
        span = self.hours[day.weekday()]
        if verdict is False:
            return None
        if verdict is True and span is None:  # a make-up workday on a weekend
            span = _weekday_span(self.hours)
        if span is None:
            return None
        return datetime.combine(day, span[0], self.zone), datetime.combine(day, span[1], self.zone)

    def is_working_day(self, day: date) -> bool:
        return self.period(day) is not None

    def why_off(self, day: date) -> str:
        """A day off's name: the company's, the public holiday's, or "" for a weekend."""
        return self.days_off.get(day) or self.holiday_name(day)


def _weekday_span(hours: Hours) -> tuple[time, time] | None:
    return next((span for span in hours[:5] if span is not None), None) or next(
        (span for span in hours if span is not None), None)


# -- reading hours ---------------------------------------------------------------------------


def parse_hours(text: str) -> Hours:
    """`09:00-18:00` (Monday to Friday), or per weekday: `mon-fri 09:00-18:00, sat 10:00-14:00`
    (周一-周五 also reads)."""
    spec = " ".join((text or "").replace("，", ",").split())
    if not spec:
        raise CalendarError("bad_hours", text)
    hours: list[tuple[time, time] | None] = [None] * 7
    for part in filter(None, (p.strip() for p in spec.split(","))):
        days, _, span = part.rpartition(" ")
        which = _days(days) if days else range(5)
        found = _RANGE.match(span)
        if not found:
            raise CalendarError("bad_hours", text)
        h1, m1, h2, m2 = (int(x) for x in found.groups())
        if h1 > 23 or h2 > 24 or m1 > 59 or m2 > 59 or (h2 == 24 and m2):
            raise CalendarError("bad_hours", text)
        start = time(h1, m1)
        end = time(23, 59, 59, 999999) if h2 == 24 else time(h2, m2)
        if end <= start:
            raise CalendarError("bad_hours", text)
        for day in which:
            hours[day] = (start, end)
    return tuple(hours)


def _days(text: str) -> range | list[int]:
    words = text.lower().replace("周", "").replace("星期", "").replace("–", "-")
    first, _, last = words.partition("-")
    a, b = _day(first.strip(), text), _day((last or first).strip(), text)
    if b < a:
        raise CalendarError("bad_hours", text)
    return range(a, b + 1)


def _day(word: str, text: str) -> int:
    if word[:3] in WEEKDAYS:
        return WEEKDAYS.index(word[:3])
    if word in _WEEKDAY_ZH:
        return _WEEKDAY_ZH[word]
    raise CalendarError("bad_hours", text)


def format_hours(hours: Hours) -> str:
    """The inverse of parse_hours, grouping equal consecutive weekdays."""
    if not hours:
        return ""
    parts: list[str] = []
    i = 0
    while i < 7:
        span = hours[i]
        j = i
        while j + 1 < 7 and hours[j + 1] == span:
            j += 1
        if span is not None:
            end = "24:00" if span[1] == time(23, 59, 59, 999999) else span[1].strftime("%H:%M")
            days = WEEKDAYS[i] if i == j else f"{WEEKDAYS[i]}-{WEEKDAYS[j]}"
            parts.append(f"{days} {span[0].strftime('%H:%M')}-{end}")
        i = j + 1
    return ", ".join(parts)


# -- building calendars ------------------------------------------------------------------------


def build(name: str, zone: ZoneInfo, hours: str = "",
          days_off: Mapping[date, str] | None = None) -> Calendar:
    """The calendar `name` (`24x7`, `cn`, or a country code) with these working hours (default
    09:00-18:00 Monday to Friday) and company days off."""
    key = (name or ALWAYS).strip().lower()
    off = dict(days_off or {})
    if key in (ALWAYS, "24/7", "always"):
        return Calendar(ALWAYS, zone)
    span = parse_hours(hours or DEFAULT_HOURS)
    if key == CHINA:
        return Calendar(CHINA, CHINA_ZONE, span, source=_china, days_off=off,
                        holiday_name=_china_name)
    return _country(key, zone, span, off)


def _china(day: date) -> bool | None:
    import chinese_calendar  # the maintained list of holidays and 调休 workdays

    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the installed package does not know yet
        return None


def _china_name(day: date) -> str:
    import chinese_calendar

    try:
        holiday, name = chinese_calendar.get_holiday_detail(day)
    except NotImplementedError:
        return ""
    return str(name or "") if holiday else ""


def _country(code: str, zone: ZoneInfo, span: Hours, off: dict[date, str]) -> Calendar:
    import holidays

    try:
        public = holidays.country_holidays(code.upper())
    except NotImplementedError:
        raise CalendarError("unknown_calendar", code) from None

    def source(day: date) -> bool | None:
        return False if day in public else None

    return Calendar(code, zone, span, source=source, days_off=off,
                    holiday_name=lambda day: str(public.get(day) or ""))


def known(name: str) -> bool:
    try:
        build(name, ZoneInfo("UTC"))
    except CalendarError:
        return False
    return True


# -- working-time arithmetic ------------------------------------------------------------------


def periods(cal: Calendar, start: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working periods from `start` on, the first one cut to begin no earlier than it."""
    day = start.astimezone(cal.zone).date() - timedelta(days=1)  # a period may span midnight
    for _ in range(HORIZON_DAYS):
        found = cal.period(day)
        day += timedelta(days=1)
        if found is None or found[1] <= start:
            continue
        yield max(found[0], start), found[1]
    raise CalendarError("no_working_time", cal.name)


def add_working(cal: Calendar, start: datetime, duration: timedelta) -> datetime:
    """The instant at which `duration` of working time, counted from `start`, is used up."""
    if cal.always or duration <= timedelta(0):
        return start + max(duration, timedelta(0))
    left = duration
    for opens, closes in periods(cal, start):
        if left <= closes - opens:
            return opens + left
        left -= closes - opens
    raise AssertionError("unreachable")  # periods() raises past its horizon


def periods_before(cal: Calendar, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The working periods before `end`, latest first, the first one cut to end by it."""
    day = end.astimezone(cal.zone).date() + timedelta(days=1)
    for _ in range(HORIZON_DAYS):
        found = cal.period(day)
        day -= timedelta(days=1)
        if found is None or found[0] >= end:
            continue
        yield found[0], min(found[1], end)
    raise CalendarError("no_working_time", cal.name)


def subtract_working(cal: Calendar, end: datetime, duration: timedelta) -> datetime:
    """The instant from which `duration` of working time runs out at `end`."""
    if cal.always or duration <= timedelta(0):
        return end - max(duration, timedelta(0))
    left = duration
    for opens, closes in periods_before(cal, end):
        if left <= closes - opens:
            return closes - left
        left -= closes - opens
    raise AssertionError("unreachable")


def working_between(cal: Calendar, start: datetime, end: datetime) -> timedelta:
    """The working time between two instants (zero when `end` is not after `start`)."""
    if end <= start:
        return timedelta(0)
    if cal.always:
        return end - start
    total = timedelta(0)
    for opens, closes in periods(cal, start):
        if opens >= end:
            break
        total += min(closes, end) - opens
    return total


def is_working(cal: Calendar, at: datetime) -> bool:
    if cal.always:
        return True
    found = cal.period(at.astimezone(cal.zone).date())
    return found is not None and found[0] <= at < found[1]


def next_working_start(cal: Calendar, at: datetime) -> datetime:
    """`at` itself when it is working time, else the start of the next working period."""
    if cal.always:
        return at
    return next(periods(cal, at))[0]


def in_working_time(cal: Calendar, at: datetime, deadline: datetime) -> datetime:
    """When a warning meant for `at` goes out: in working time, moved to the next working
    start, unless the deadline itself comes before that (then it stays where it was)."""
    moved = next_working_start(cal, at)
    return moved if moved <= deadline else at


# What people type for "the next working day" (compared lower-cased, with hyphens and runs of
# spaces as one space): in a conversation's time answer and in `/remind snooze`.
NEXT_WORKDAY_WORDS = frozenset({"next workday", "next working day", "workday",
                                "下个工作日", "下一个工作日", "下一工作日", "工作日"})


def says_next_workday(text: str) -> bool:
    return " ".join(text.lower().replace("-", " ").split()) in NEXT_WORKDAY_WORDS


def weekday_morning_after(local: datetime) -> datetime:
    """09:00 of the next Monday-to-Friday day after `local`'s day, in its zone."""
    day = local + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.replace(hour=9, minute=0, second=0, microsecond=0)


def next_workday(cal: Calendar, at: datetime, zone: ZoneInfo | None = None) -> datetime:
    """The start of the first working day after the day of `at`. Under `24x7`, which has no
    working days to speak of, the next Monday-to-Friday day at 09:00 in `zone` (what "next
    workday" always meant)."""
    if cal.always:
        return weekday_morning_after(at.astimezone(zone or cal.zone))
    local_day = at.astimezone(cal.zone).date()
    midnight = datetime.combine(local_day + timedelta(days=1), time(0), cal.zone)
    return next_working_start(cal, midnight)


def end_of_next_workday(cal: Calendar, at: datetime, zone: ZoneInfo | None = None) -> datetime:
    """The close of the first working day after the day of `at` (18:00 under `24x7`)."""
    start = next_workday(cal, at, zone)
    if cal.always:
        return start.replace(hour=18)
    found = cal.period(start.astimezone(cal.zone).date())
    assert found is not None
    return found[1]


def days(cal: Calendar, first: date, count: int) -> list[tuple[date, bool, str]]:
    """`count` days from `first`: (day, working, why not)."""
    out = []
    for i in range(count):
        day = first + timedelta(days=i)
        working = cal.is_working_day(day) if not cal.always else True
        out.append((day, working, "" if working else cal.why_off(day)))
    return out
