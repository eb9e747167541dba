"""`/review [week|month|from..to]` (复盘): the figures of last week (or month, or a range of
days) beside the period before, privately; every Monday at LIAISON_REVIEW_TIME the same for
last week in each channel routed for complaints, meetings or pr (one outbox row per channel
and week, so replicas post it once). `/liaison dashboard` (看板): a one-time sign-in link to
the web dashboard, privately.

The figures are SQL aggregates (handlers/review/figures.py) with period bounds in the team's
time zone: a channel tied to a team (`/team channel NAME`) counts weeks in that team's zone,
`/review` in the asker's team's (the first of their teams by name with a zone set), and
otherwise LIAISON_TIMEZONE. The dashboard's review page shows the same numbers with the chart.
"""

from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from bot import teams
from bot.context import Ctx
from bot.errors import UserError
from bot.messages import Attachment, Audience, Reply
from bot.models import ChannelRoute
from bot.render import templates_root
from bot.router import Args
from handlers.review import DOMAIN, chart, figures
from schedules import api
from schedules.api import Target

WEEKLY = "review.weekly"
PURPOSES = ("complaints", "meetings", "pr")


@lru_cache(maxsize=4)
def chart_words(locale: str) -> dict[str, str]:
    """The chart's labels (templates/<locale>/review/labels.yaml, `chart`)."""
    import yaml  # on first use, not at start-up

    path = templates_root() / locale / "review" / "labels.yaml"
    return yaml.safe_load(path.read_text(encoding="utf-8"))["chart"]


def chart_file(session: Session, period: figures.Period, locale: str) -> Attachment:
    """The review's chart as a PNG file for the chat (a file on Slack, a file message on
    DingTalk, a file in the console's folder)."""
    zone = ZoneInfo(period.zone)
    png = chart.render(figures.trend(session, period.end, zone),
                       figures.response_times(session, period), chart_words(locale))
    title = chart_words(locale)["title"].format(first=period.first_day.isoformat(),
                                                last=period.last_day.isoformat())
    return Attachment(f"review-{period.first_day.isoformat()}.png", png, title=title,
                      mime="image/png")


def values(result: figures.Figures, public_url: str = "", dashboard: bool = False
           ) -> dict[str, Any]:
    p = result.period
    link = ""
    if dashboard and public_url:
        link = f"{public_url.rstrip('/')}/dash/review?period={p.key}"
    return {"first": p.first_day.isoformat(), "last": p.last_day.isoformat(), "kind": p.kind,
            "zone": p.zone, "f": result.values, "link": link}


def review_reply(session: Session, period: figures.Period, settings: Any,  # noqa: ANN401
                 now: datetime, **reply: Any) -> Reply:
    result = figures.compute(session, period, settings, now=min(now, period.end))
    return Reply("review/figures", values(result, settings.public_url, settings.dashboard),
                 **reply)


@DOMAIN.command("review", None, usage="review.cmd.main")
def review(ctx: Ctx, args: Args) -> Reply:
    text = " ".join(args.positional)
    zone = teams.person_zone(ctx.session, ctx.member.platform, ctx.member.user_id,
                             ctx.settings.zone)
    period = figures.period_from(text, ctx.now, zone)
    if period is None:
        raise UserError("review/usage", given=text[:40])
    return review_reply(ctx.session, period, ctx.settings, ctx.now, audience=Audience.USER,
                        files=(chart_file(ctx.session, period, ctx.locale),))


@DOMAIN.command("dashboard", None, usage="review.cmd.dashboard")
def dashboard(ctx: Ctx, args: Args) -> Reply:
    from bot.web import auth

    if not ctx.settings.dashboard:
        raise UserError("review/dashboard_off")
    token = auth.issue_link(ctx.session, ctx.member, ctx.now)
    url = f"{ctx.settings.public_url.rstrip('/')}/dash/login/{token}"
    return Reply("review/dashboard_link",
                 {"url": url, "minutes": int(auth.LINK_VALID.total_seconds() // 60)},
                 audience=Audience.USER)


@DOMAIN.reminder_kind(WEEKLY)
def render_weekly(session: Session, reminder: Any, now: datetime) -> Reply | None:  # noqa: ANN401
    """The week and the team's zone were fixed when it was planned (the payload)."""
    zone = ZoneInfo(reminder.payload["zone"])
    period = figures.week_of(date.fromisoformat(reminder.payload["first"]), zone)
    result = figures.compute(session, period, now=min(now, period.end))
    shown = values(result)
    shown["link"] = reminder.payload.get("link", "")
    locale = reminder.payload.get("locale", "zh")
    return Reply("review/figures", shown, locale=locale,
                 files=(chart_file(session, period, locale),))


def plan_weekly(session: Session, settings: Any, now: datetime) -> list[str]:  # noqa: ANN401
    """Last week's review for each channel routed for complaints, meetings or pr: one row per
    (channel, week), keyed so that a second replica or a second run plans nothing more."""
    routes = session.exec(select(ChannelRoute).where(
        ChannelRoute.purpose.in_(PURPOSES))).all()  # type: ignore[attr-defined]
    review = getattr(settings, "review", None)
    at = time.fromisoformat((review.time if review else "09:30").zfill(5))
    keys: list[str] = []
    for platform, channel in sorted({(r.platform, r.channel_id) for r in routes}):
        # The week in the zone of the channel's team (`/team channel`), else the bot's.
        zone = teams.zone_of(teams.team_of_channel(session, platform, channel), settings.zone)
        period, due = figures.channel_week(now, zone, at)
        key = f"review:{period.first_day.isoformat()}:{platform}:{channel}"
        link = values(figures.Figures(period), settings.public_url, settings.dashboard)["link"]
        api.plan(session, key=key, kind=WEEKLY, due=due,
                 target=Target.channel(platform, channel),
                 payload={"first": period.first_day.isoformat(), "zone": zone.key,
                          "link": link, "locale": settings.default_locale}, snoozable=False)
        keys.append(key)
    return keys


__all__ = ["DOMAIN", "plan_weekly"]
