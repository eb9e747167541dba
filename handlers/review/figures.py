"""The weekly review's figures (复盘), each from one SQL aggregate over the records, for a
period and the one before it, with period bounds taken in the team's time zone (a week is
Monday 00:00 to Monday 00:00 local time, 167 or 169 hours across a DST change).

Definitions (what the review and the dashboard show):
- received: complaints received in the period;
- answered in time: of those, answered (first response) by their deadline (`due_at`, which
  already moves by the time a complaint spent paused); the share is of those received;
- first response time: response time minus the time paused, median and 90th percentile by
  nearest rank (the value at rank ⌈p·n⌉ in ascending order), computed with window functions
  so that SQLite and PostgreSQL give the same number;
- breaches: received in the period and answered after the deadline, or not answered and the
  deadline passed before the period's end;
- open at the end: received before the end and neither resolved nor closed by then;
- satisfaction: scores recorded (at the follow-up) in the period, their average and count;
- meetings held: not cancelled, starting in the period; minutes in time: minutes recorded by
  their deadline (the meeting's end plus LIAISON_MINUTES_DUE), as a share of those held;
- action items done in the period, and overdue at its end (due before it, not done by then);
- /comm records executed and reviewed in the period, and the average effect score of those
  reviewed;
- talking points whose verification runs out within 30 days after the period;
- press releases published in the period;
- disputes open: there is no dispute record yet, so the figure is absent (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, and_, case, cast, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, col

from handlers.comm.models import CommRecord
from handlers.complaints.models import Complaint
from handlers.meetings.models import ActionItem, Meeting
from handlers.press.models import PressRelease
from handlers.talking_points.models import TalkingPoint

TREND_WEEKS = 8
EXPIRING_WITHIN = timedelta(days=30)
# First-response buckets of the chart, in hours: [0,1), [1,4), [4,8), [8,24), [24,∞)
BUCKETS = (1, 4, 8, 24)


@dataclass(frozen=True)
class Period:
    start: datetime  # aware, UTC-comparable
    end: datetime  # exclusive
    prev_start: datetime
    prev_end: datetime
    first_day: date  # local dates, for showing
    last_day: date
    kind: str  # week | month | range
    zone: str

    @property
    def key(self) -> str:
        return f"{self.first_day.isoformat()}..{self.last_day.isoformat()}"


def _at(day: date, zone: ZoneInfo) -> datetime:
    """Local midnight of `day`, in UTC (so that differences count real hours)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def week_of(day: date, zone: ZoneInfo) -> Period:
    """The week (Monday to Sunday) holding `day`, and the week before."""
    monday = day - timedelta(days=day.weekday())
    before = monday - timedelta(days=7)
    return Period(_at(monday, zone), _at(monday + timedelta(days=7), zone), _at(before, zone),
                  _at(monday, zone), monday, monday + timedelta(days=6), "week", zone.key)


def last_week(now: datetime, zone: ZoneInfo) -> Period:
    return week_of(now.astimezone(zone).date() - timedelta(days=7), zone)


def channel_week(now: datetime, zone: ZoneInfo, at: time) -> tuple[Period, datetime]:
    """The week a channel's Monday review covers, in the channel's zone, and when it goes out.
    The review is planned on Monday in the bot's zone; a zone behind it may still be on Sunday
    there, so the Monday nearest to `now` in the zone is the one the week ends at. The post
    goes out at once, or, when that Monday has not begun there yet, at `at` on it."""
    local = now.astimezone(zone)
    monday = local.date() - timedelta(days=local.weekday())
    if local.weekday() >= 4:  # Friday to Sunday there: the coming Monday is the nearest
        monday += timedelta(days=7)
    due = now if _at(monday, zone) <= now else datetime.combine(monday, at, zone).astimezone(UTC)
    return week_of(monday - timedelta(days=7), zone), due


def last_month(now: datetime, zone: ZoneInfo) -> Period:
    first = now.astimezone(zone).date().replace(day=1)
    start = (first - timedelta(days=1)).replace(day=1)
    before = (start - timedelta(days=1)).replace(day=1)
    return Period(_at(start, zone), _at(first, zone), _at(before, zone), _at(start, zone),
                  start, first - timedelta(days=1), "month", zone.key)


def between(first: date, last: date, zone: ZoneInfo) -> Period:
    """Whole local days `first`..`last`; the period before is as many days just before."""
    days = (last - first).days + 1
    before = first - timedelta(days=days)
    return Period(_at(first, zone), _at(last + timedelta(days=1), zone), _at(before, zone),
                  _at(first, zone), first, last, "range", zone.key)


_DAY = r"(\d{4}-\d{1,2}-\d{1,2})"
_RANGE = re.compile(_DAY + r"\s*(?:\.\.|～|~|–|—|至|到|to|\s)\s*" + _DAY)
MAX_RANGE_DAYS = 366


def period_from(text: str | None, now: datetime, zone: ZoneInfo) -> Period | None:
    """`week` (上周, the default), `month` (上月), or `2026-11-01..2026-11-15`; None when the
    words are none of these or the range is backwards or longer than a year."""
    word = (text or "").strip().lower()
    if word in ("", "week", "周", "上周", "w"):
        return last_week(now, zone)
    if word in ("month", "月", "上月", "m"):
        return last_month(now, zone)
    match = _RANGE.fullmatch(word)
    if not match:
        return None
    try:
        first, last = (date.fromisoformat(_iso(g)) for g in match.groups())
    except ValueError:
        return None
    if last < first or (last - first).days >= MAX_RANGE_DAYS:
        return None
    return between(first, last, zone)


def _iso(text: str) -> str:
    y, m, d = text.split("-")
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


# -- SQL helpers ----------------------------------------------------------------------------

def seconds(session: Session, later: Any, earlier: Any) -> ColumnElement[Any]:  # noqa: ANN401
    """`later - earlier` in seconds, as the database computes it."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", later - earlier)
    # whole seconds (julianday's floating point would add a few microseconds)
    return (cast(func.strftime("%s", later), Integer)
            - cast(func.strftime("%s", earlier), Integer))


def _in(column: Any, start: datetime, end: datetime) -> ColumnElement[bool]:  # noqa: ANN401
    return and_(column >= start, column < end)


def _sum(condition: Any) -> Any:  # noqa: ANN401
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def _avg(value: Any) -> float | None:  # noqa: ANN401
    return None if value is None else round(float(value), 2)


@dataclass
class Figures:
    period: Period
    values: dict[str, Any] = field(default_factory=dict)  # name -> (this, last)


ORDER = ("received", "in_time", "in_time_pct", "first_response_median", "first_response_p90",
         "breaches", "open_at_end", "satisfaction_avg", "satisfaction_count", "meetings_held",
         "minutes_in_time_pct", "actions_done", "actions_overdue", "comm_executed",
         "comm_reviewed", "comm_score_avg", "tp_expiring", "press_published", "disputes_open")


def compute(session: Session, period: Period, settings: Any = None,  # noqa: ANN401
            now: datetime | None = None) -> Figures:
    """Every figure for the period and the one before it: {name: (this, last)}. Each table
    is read once for both periods (conditional aggregates), a dozen queries in all."""
    now = now or period.end
    spans = ((period.start, period.end), (period.prev_start, period.prev_end))
    both = [{}, {}]  # type: list[dict[str, Any]]
    _complaints(session, spans, now, both)
    _meetings(session, spans, both)
    _others(session, spans, both)
    for values in both:
        values["disputes_open"] = None  # no dispute records exist yet
    return Figures(period, {name: (both[0][name], both[1][name]) for name in ORDER})


Spans = tuple[tuple[datetime, datetime], tuple[datetime, datetime]]


def _complaints(session: Session, spans: Spans, now: datetime, out: list[dict]) -> None:
    c = Complaint
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    in_time = and_(col(c.responded_at).is_not(None), col(c.responded_at) <= col(c.due_at))
    aggregates = []
    for start, end in spans:
        received = _in(col(c.received_at), start, end)
        late = or_(col(c.responded_at) > col(c.due_at),
                   and_(col(c.responded_at).is_(None), col(c.due_at) < min(end, now)))
        aggregates += [_sum(received), _sum(and_(received, in_time)),
                       _sum(and_(received, late))]
    row = session.execute(select(*aggregates).select_from(c)
                          .where(_in(col(c.received_at), first, last))).one()
    opened = session.execute(select(*(_sum(and_(
        col(c.received_at) < end,
        or_(col(c.resolved_at).is_(None), col(c.resolved_at) >= end),
        or_(col(c.closed_at).is_(None), col(c.closed_at) >= end))) for _, end in spans))
        .select_from(c)).one()  # one pass over the table (an index on received_at would
    # pick nearly every row, one lookup each: slower than the scan)
    satisfied = [func.avg(case((_in(col(c.followup_at), s, e), col(c.satisfaction))))
                 for s, e in spans]
    satisfied += [func.count(case((_in(col(c.followup_at), s, e), col(c.satisfaction))))
                  for s, e in spans]
    sat = session.execute(select(*satisfied).where(
        col(c.satisfaction).is_not(None), _in(col(c.followup_at), first, last))).one()
    times = _first_response_percentiles(session, spans)
    for k, values in enumerate(out):
        received_n, in_time_n, breaches = (int(v) for v in row[3 * k:3 * k + 3])
        values.update({
            "received": received_n, "in_time": in_time_n, "in_time_pct": _pct(in_time_n,
                                                                              received_n),
            "first_response_median": times[k][0], "first_response_p90": times[k][1],
            "breaches": breaches, "open_at_end": int(opened[k]),
            "satisfaction_avg": _avg(sat[k]), "satisfaction_count": int(sat[2 + k]),
        })


def _first_response_percentiles(session: Session, spans: Spans) -> list[list[float | None]]:
    """Median and 90th percentile of each period's first response times (response minus the
    time paused), nearest rank, in one query: the rows are numbered within their period."""
    c = Complaint
    which = case(*((_in(col(c.received_at), s, e), literal(k)) for k, (s, e) in
                   enumerate(spans)), else_=literal(-1))
    value = seconds(session, col(c.responded_at), col(c.received_at)) - col(c.paused_seconds)
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    inner = (select(which.label("p"), value.label("v"),
                    func.row_number().over(partition_by=which, order_by=value).label("rn"),
                    func.count().over(partition_by=which).label("n"))
             .where(_in(col(c.received_at), first, last), col(c.responded_at).is_not(None))
             .subquery())
    rows = session.execute(
        select(inner.c.p, *(func.min(case((inner.c.rn * 100 >= inner.c.n * p, inner.c.v)))
                            for p in (50, 90)))
        .group_by(inner.c.p)).all()
    found = {int(p): [None if v is None else float(v) for v in rest] for p, *rest in rows}
    return [found.get(k, [None, None]) for k in range(len(spans))]


def _meetings(session: Session, spans: Spans, out: list[dict]) -> None:
    m, a = Meeting, ActionItem
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    minutes_ok = and_(col(m.minutes_at).is_not(None), col(m.minutes_at) <= col(m.minutes_due_at))
    held = session.execute(select(*(x for s, e in spans for x in (
        _sum(_in(col(m.starts_at), s, e)), _sum(and_(_in(col(m.starts_at), s, e), minutes_ok)))))
        .select_from(m).where(_in(col(m.starts_at), first, last),
                              m.status != "cancelled")).one()
    done = session.execute(select(*(_sum(_in(col(a.done_at), s, e)) for s, e in spans))
                           .select_from(a).where(_in(col(a.done_at), first, last))).one()
    overdue = session.execute(select(*(_sum(and_(
        col(a.due_at) < e, or_(col(a.done_at).is_(None), col(a.done_at) >= e)))
        for _, e in spans)).select_from(a).where(col(a.due_at) < last,
                                                  a.status != "cancelled")).one()
    for k, values in enumerate(out):
        held_n, minutes_n = int(held[2 * k]), int(held[2 * k + 1])
        values.update({"meetings_held": held_n, "minutes_in_time": minutes_n,
                       "minutes_in_time_pct": _pct(minutes_n, held_n),
                       "actions_done": int(done[k]), "actions_overdue": int(overdue[k])})


def _others(session: Session, spans: Spans, out: list[dict]) -> None:
    k_, tp, pr = CommRecord, TalkingPoint, PressRelease
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    executed = session.execute(select(*(_sum(_in(col(k_.executed_at), s, e)) for s, e in spans))
                               .select_from(k_).where(_in(col(k_.executed_at), first, last))
                               ).one()
    reviewed = session.execute(select(
        *(_sum(_in(col(k_.reviewed_at), s, e)) for s, e in spans),
        *(func.avg(case((_in(col(k_.reviewed_at), s, e), col(k_.review_score))))
          for s, e in spans)).select_from(k_)
        .where(_in(col(k_.reviewed_at), first, last))).one()
    expiring = session.execute(select(*(_sum(_in(col(tp.verified_until), e,
                                                  e + EXPIRING_WITHIN)) for _, e in spans))
                               .select_from(tp).where(tp.status == "approved")).one()
    published = session.execute(select(*(_sum(_in(col(pr.published_at), s, e))
                                         for s, e in spans)).select_from(pr)
                                .where(_in(col(pr.published_at), first, last))).one()
    for k, values in enumerate(out):
        values.update({"comm_executed": int(executed[k]), "comm_reviewed": int(reviewed[k]),
                       "comm_score_avg": _avg(reviewed[2 + k]),
                       "tp_expiring": int(expiring[k]), "press_published": int(published[k])})


@dataclass
class Trend:
    weeks: list[date]  # each week's Monday, oldest first
    received: list[int]
    in_time_pct: list[float | None]


def trend(session: Session, end: datetime, zone: ZoneInfo, weeks: int = TREND_WEEKS) -> Trend:
    """Complaints received per week, and the share answered in time, for the `weeks` weeks
    before `end` (a Monday 00:00 local), in one GROUP BY over week buckets whose bounds are
    computed in the zone."""
    last_monday = end.astimezone(zone).date()
    last_monday -= timedelta(days=last_monday.weekday())
    if _at(last_monday, zone) >= end:
        last_monday -= timedelta(days=7)
    mondays = [last_monday - timedelta(days=7 * i) for i in range(weeks - 1, -1, -1)]
    bounds = [_at(d, zone) for d in mondays] + [_at(mondays[-1] + timedelta(days=7), zone)]
    c = Complaint
    bucket = case(*((and_(col(c.received_at) >= bounds[i], col(c.received_at) < bounds[i + 1]),
                     literal(i)) for i in range(weeks)), else_=literal(-1))
    in_time = and_(col(c.responded_at).is_not(None), col(c.responded_at) <= col(c.due_at))
    rows = session.execute(
        select(bucket.label("b"), func.count(), func.sum(cast(case((in_time, 1), else_=0),
                                                              Integer)))
        .where(col(c.received_at) >= bounds[0], col(c.received_at) < bounds[-1])
        .group_by(bucket)).all()
    by = {int(b): (int(n), int(k or 0)) for b, n, k in rows}
    received = [by.get(i, (0, 0))[0] for i in range(weeks)]
    pct = [round(100.0 * by[i][1] / by[i][0], 1) if by.get(i, (0, 0))[0] else None
           for i in range(weeks)]
    return Trend(mondays, received, pct)


def response_times(session: Session, period: Period) -> list[int]:
    """How many complaints of the period got their first response within each bucket of
    BUCKETS hours (and beyond the last), one GROUP BY."""
    c = Complaint
    hours = (seconds(session, col(c.responded_at), col(c.received_at))
             - col(c.paused_seconds)) / 3600.0
    bucket = case(*((hours < limit, literal(i)) for i, limit in enumerate(BUCKETS)),
                  else_=literal(len(BUCKETS)))
    rows = session.execute(select(bucket, func.count())
                           .where(_in(col(c.received_at), period.start, period.end),
                                  col(c.responded_at).is_not(None))
                           .group_by(bucket)).all()
    by = {int(b): int(n) for b, n in rows}
    return [by.get(i, 0) for i in range(len(BUCKETS) + 1)]
