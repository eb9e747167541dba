"""`/meeting`: partner meetings as the handbook runs them: the agenda and materials go out
beforehand, the minutes with clear action items go out afterwards, and reminders make sure
of both. Action items themselves are in handlers/actions/; the tables and the small rules
in handlers/meetings/models.py."""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot import parsers, records
from bot.confirm import ask_first
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Choice, Mention, Reply
from bot.router import Args
from handlers.actions import commands as actions
from handlers.meetings import DOMAIN, PURPOSE
from handlers.meetings.models import (
    ACTION_IDS,
    AGENDA_LAST_CALL,
    CANCELLED,
    MEETING_IDS,
    MINUTES_ESCALATE_AFTER,
    OPEN,
    SCHEDULED,
    ActionItem,
    Meeting,
    agenda_reminder_times,
    agenda_timing,
    minutes_missing,
    next_daily,
    partner_key,
    video_link_of,
)
from schedules import api
from schedules.api import Target

AGENDA_DUE = "meeting.agenda_due"
MINUTES_DUE = "meeting.minutes_due"
TIME_UP = "meeting.time_up"  # 会中高效: at the planned end, "time is up; record the minutes"
POST = "meeting.post"  # a post to a meeting's own channel when it is not where the asker is
LIST_LIMIT = 20
MAX_ATTENDEES = 50

# A Slack mention, or @name starting a word (so jane@acme.com stays an external name).
MENTION = re.compile(r"<@[UW][A-Z0-9]+(?:\|[^>]*)?>|(?<!\S)@[\w.\-\u4e00-\u9fff]{1,64}")
_PIECES = re.compile(r"[\n,，、;；]+")
_ME = ("me", "myself", "我", "我自己")
_DUE_PREFIX = re.compile(r"^(?:due|by|截止(?:时间|日期)?|到期)\s*[:：]?\s*", re.I)
_DUE_SUFFIX = re.compile(r"(?:之前|以前|前)$")
_TRIM = " -—–:：,，;；"

# Chinese names of the /meeting new fields given up front: `会议 新建 伙伴=ACME 时间=明天下午3点`
NEW_KEYS = {"伙伴": "partner", "合作伙伴": "partner", "主题": "title", "标题": "title",
            "时间": "start", "开始": "start", "时长": "duration", "参会人": "attendees",
            "议程": "agenda", "资料": "materials", "频道": "channel", "视频": "video",
            "视频会议": "video", "链接": "video"}
CHANNELS = (Choice("meetings", "meetings.channel.purpose"), Choice("here", "meetings.channel.here"))


# -- parsers ---------------------------------------------------------------------------------


def parse_attendees(answer: str, ctx: Ctx) -> list[dict[str, str]]:
    """Members by mention (they get DMs), anyone else by name, kept as text. Separated by
    lines, commas or 、; several mentions may share a line."""
    people: list[dict[str, str]] = []
    seen: set[str] = set()
    for piece in _PIECES.split(unicodedata.normalize("NFC", answer)):
        piece = " ".join(piece.split())
        if not piece:
            continue
        if piece.lower() in _ME:
            refs, rest = [parsers.parse_mention(piece, ctx)], ""
        else:
            refs = [parsers.parse_mention(m.group(0), ctx) for m in MENTION.finditer(piece)]
            rest = " ".join(MENTION.sub(" ", piece).split())
        for ref in refs:
            key = f"{ref['platform']}:{ref['user_id']}"
            if key not in seen:
                seen.add(key)
                people.append(ref)
        if rest:
            if len(rest) > 100:
                raise InvalidAnswer("errors/answer_too_long", limit=100, length=len(rest))
            if rest.casefold() not in seen:
                seen.add(rest.casefold())
                people.append({"name": rest})
    if not people:
        raise InvalidAnswer("errors/answer_empty")
    if len(people) > MAX_ATTENDEES:
        raise InvalidAnswer("meetings/too_many_attendees", limit=MAX_ATTENDEES)
    return people


def parse_length(answer: str, ctx: Ctx) -> int:
    """Minutes: `90`, `1h`, `1h30m`, `一个半小时`, `45分钟`."""
    from bot.timeparse import TimeParseError, parse_duration  # on first use, not at start-up

    word = unicodedata.normalize("NFKC", answer).strip()
    try:
        minutes = int(word) if word.isdigit() else int(parse_duration(word).total_seconds() // 60)
    except TimeParseError:
        raise InvalidAnswer("meetings/bad_duration", text=word[:40]) from None
    if not 5 <= minutes <= 12 * 60:
        raise InvalidAnswer("meetings/bad_duration", text=word[:40])
    return minutes


def parse_action(answer: str, ctx: Ctx) -> dict[str, Any]:
    """One action item a line: `what @owner due`, e.g. `Send the quote @bob friday 5pm`."""
    line = " ".join(unicodedata.normalize("NFC", answer).split())
    found = list(MENTION.finditer(line))
    if len(found) != 1:
        raise InvalidAnswer("meetings/action_format")
    mark = found[0]
    what = line[: mark.start()].strip(_TRIM)
    due_text = _DUE_SUFFIX.sub("", _DUE_PREFIX.sub("", line[mark.end():].strip(_TRIM))).strip()
    if not what or not due_text:
        raise InvalidAnswer("meetings/action_format")
    if len(what) > 300:
        raise InvalidAnswer("errors/answer_too_long", limit=300, length=len(what))
    token = mark.group(0)
    owner = parsers.parse_mention("me" if token.lower() in ("@me", "@我") else token, ctx)
    due = parsers.when(future_only=True)(due_text, ctx)
    return {"what": what, "owner": owner, "due": due}


def parse_video(answer: str, ctx: Ctx) -> str:
    """A video-meeting link: any http(s) link, given as `video=` (视频=) or `/meeting video`."""
    text = unicodedata.normalize("NFKC", answer).strip()
    link = video_link_of(text) or video_link_of(f"video: {text}")
    if link is None:
        raise InvalidAnswer("meetings/bad_video", text=text[:60])
    return link


def split_video(answers: dict[str, Any]) -> tuple[str, list[str]]:
    """The video link (given up front, or the first video-service link among the materials)
    and the materials without it."""
    materials = list(answers.get("materials") or [])
    if isinstance(answers.get("materials"), str):
        materials = [answers["materials"]]
    video = answers.get("video") or ""
    if not video:
        for i, line in enumerate(materials):
            link = video_link_of(line)
            if link:
                video = link
                del materials[i]
                break
    return video, materials


def parse_minutes_meeting(answer: str, ctx: Ctx) -> str:
    try:
        meeting = find(ctx.session, answer)
        check_minutes_allowed(ctx, meeting)
    except InvalidAnswer:
        raise
    except UserError as exc:
        raise InvalidAnswer(exc.template, **exc.params) from None
    return meeting.ref


# -- lookups and rules -----------------------------------------------------------------------


def find(session: Session, raw: str | None, *, lock: bool = False) -> Meeting:
    # Locked: two people recording minutes at once, one wins.
    return records.load(session, Meeting, MEETING_IDS, raw, missing="meetings/not_found",
                        lock=lock)


# The organiser and admins move or cancel a meeting.
EDITORS = records.Who("meetings/not_allowed", people=("organiser",), roles=("admin",))
# Sending the agenda and taking minutes: the organiser, an attendee, or an admin.
RUNNERS = records.Who("meetings/not_allowed", roles=("admin",),
                      rule=lambda ctx, m: m.involves(ctx.member.platform, ctx.member.user_id))


def check_minutes_allowed(ctx: Ctx, meeting: Meeting) -> None:
    RUNNERS.check(ctx, meeting)
    if meeting.status == CANCELLED:
        raise UserError("meetings/is_cancelled", ref=meeting.ref)
    if meeting.minutes_at is not None:
        raise UserError("meetings/minutes_exist", ref=meeting.ref, at=meeting.minutes_at)
    if meeting.starts_at > ctx.now:
        raise UserError("meetings/not_started", ref=meeting.ref, start=meeting.starts_at)


def open_items_of_partner(
    session: Session, key: str, exclude: int | None = None
) -> list[ActionItem]:
    query = (
        select(ActionItem)
        .join(Meeting, col(Meeting.id) == col(ActionItem.meeting_id))
        .where(Meeting.partner_key == key, ActionItem.status == OPEN)
        .order_by(col(ActionItem.due_at), col(ActionItem.id))
    )
    if exclude is not None:
        query = query.where(col(Meeting.id) != exclude)
    return list(session.exec(query).all())


# -- what templates see ----------------------------------------------------------------------


def person(entry: dict[str, Any]) -> dict[str, Any]:
    """An attendee for a template: a real mention for a member, the name for anyone else."""
    if entry.get("user_id"):
        mention = Mention(entry["platform"], entry["user_id"], entry.get("name", ""))
        return {"mention": mention, "name": entry.get("name", "")}
    return {"mention": None, "name": entry.get("name", "")}


def view(meeting: Meeting) -> dict[str, Any]:
    return {
        "ref": meeting.ref, "partner": meeting.partner, "title": meeting.title,
        "start": meeting.starts_at, "end": meeting.ends_at,
        "duration": timedelta(minutes=meeting.duration_minutes),
        "organiser": meeting.organiser,
        "attendees": [person(a) for a in meeting.attendees],
        "agenda": list(meeting.agenda), "materials": list(meeting.materials),
        "status": meeting.status, "agenda_sent_at": meeting.agenda_sent_at,
        "minutes_at": meeting.minutes_at, "minutes_due_at": meeting.minutes_due_at,
        "summary": meeting.summary or "", "decisions": list(meeting.decisions),
        "channel": meeting.channel_kind, "video": meeting.video_url,
        "timing": agenda_timing(list(meeting.agenda), meeting.duration_minutes),
    }


def items_of(session: Session, meeting: Meeting) -> list[ActionItem]:
    return list(session.exec(
        select(ActionItem).where(ActionItem.meeting_id == meeting.id)
        .order_by(col(ActionItem.id))
    ).all())


def agenda_values(session: Session, meeting: Meeting) -> dict[str, Any]:
    carry = open_items_of_partner(session, meeting.partner_key, exclude=meeting.id)
    return {"m": view(meeting), "carry": [actions.view(session, i) for i in carry]}


def minutes_values(session: Session, meeting: Meeting) -> dict[str, Any]:
    return {"m": view(meeting), "items": [actions.view(session, i)
                                          for i in items_of(session, meeting)]}


POST_VALUES = {"meetings/agenda": agenda_values, "meetings/minutes": minutes_values}


# -- delivery --------------------------------------------------------------------------------


def to_channel(ctx: Ctx, meeting: Meeting, template: str) -> list[Reply]:
    """The meeting's channel: the meetings purpose, the channel the asker is in, or, when it
    is another channel, through the outbox at once (a reply can only go where the asker is)."""
    values = POST_VALUES[template](ctx.session, meeting)
    if meeting.channel_kind == "purpose":
        return [Reply(template, values, audience=Audience.PURPOSE, purpose=PURPOSE)]
    if (meeting.channel_platform, meeting.channel_id) == (ctx.inbound.platform,
                                                           ctx.inbound.channel):
        return [Reply(template, values)]
    api.plan(
        ctx.session,
        key=f"meeting:{meeting.ref}:post:{template}:{ctx.now.isoformat()}",
        kind=POST, due=ctx.now,
        target=Target.channel(meeting.channel_platform, meeting.channel_id),
        record_type="meeting", record_id=meeting.ref,
        payload={"template": template, "title": meeting.title}, snoozable=False,
    )
    return []


def to_people(
    ctx: Ctx, people: list[dict[str, Any]], template: str, values: dict[str, Any]
) -> list[Reply]:
    """A DM each, in their own language and zone; not to the asker, who is answered anyway."""
    out, seen = [], {(ctx.member.platform, ctx.member.user_id)}
    for entry in people:
        key = (entry.get("platform", ""), entry.get("user_id", ""))
        if not key[1] or key in seen:
            continue
        seen.add(key)
        out.append(Reply(template, values, audience=Audience.MEMBER, member=key))
    return out


# -- reminders -------------------------------------------------------------------------------


def reminder_title(meeting: Meeting) -> str:
    return f"{meeting.partner} · {meeting.title}"


def plan_reminders(ctx: Ctx, meeting: Meeting) -> None:
    """(Re)plan the agenda and minutes reminders for the meeting as it is now. Keys carry the
    meeting's revision, so after a reschedule the new ones are new rows, never the sent ones."""
    session = ctx.session
    api.cancel(session, record_type="meeting", record_id=meeting.ref,
               kinds=[AGENDA_DUE, MINUTES_DUE, TIME_UP])
    if meeting.status != SCHEDULED or meeting.minutes_at is not None:
        return
    organiser = Target.member(meeting.organiser_platform, meeting.organiser_id)
    base = f"meeting:{meeting.ref}:r{meeting.rev}"
    payload = {"rev": meeting.rev, "title": reminder_title(meeting), "zone": ctx.zone.key}
    if meeting.agenda_sent_at is None:
        times = agenda_reminder_times(meeting.starts_at, ctx.settings.meetings.agenda_lead, ctx.now)
        for i, due in enumerate(times):
            api.plan(session, key=f"{base}:agenda:{i}", kind=AGENDA_DUE, due=due,
                     target=organiser, record_type="meeting", record_id=meeting.ref,
                     payload={**payload, api.DEADLINE: meeting.starts_at.isoformat()})
    api.plan(session, key=f"{base}:minutes:0", kind=MINUTES_DUE, due=meeting.minutes_due_at,
             target=organiser, record_type="meeting", record_id=meeting.ref,
             payload={**payload, "n": 0})
    # Kept to time (会中高效): the organiser hears at the planned end that time is up.
    if meeting.ends_at < meeting.minutes_due_at:
        api.plan(session, key=f"{base}:time_up", kind=TIME_UP, due=meeting.ends_at,
                 target=organiser, record_type="meeting", record_id=meeting.ref,
                 payload=payload, snoozable=False)


def _current(session: Session, reminder: Any) -> Meeting | None:
    """The meeting a reminder is about, if the reminder still applies to it."""
    meeting = session.exec(select(Meeting).where(Meeting.ref == reminder.record_id)).first()
    if meeting is None or meeting.status != SCHEDULED:
        return None
    if reminder.payload.get("rev", meeting.rev) != meeting.rev:
        return None
    return meeting


def render_agenda_due(session: Session, reminder: Any, now: datetime) -> Reply | None:
    meeting = _current(session, reminder)
    if meeting is None or meeting.agenda_sent_at is not None or meeting.starts_at <= now:
        return None
    last_call = meeting.starts_at - AGENDA_LAST_CALL
    if reminder.planned_at < last_call <= now:
        return None  # the lead-time one, sent late: the last call says it, once
    return Reply("meetings/agenda_due", {"m": view(meeting),
                                         "left": meeting.starts_at - now})


def render_time_up(session: Session, reminder: Any, now: datetime) -> Reply | None:
    """At the planned end: time is up, and the minutes are the next thing to do."""
    meeting = _current(session, reminder)
    if meeting is None or meeting.minutes_at is not None:
        return None
    return Reply("meetings/time_up", {"m": view(meeting)},
                 choices=[Choice(f"/meeting minutes {meeting.ref}", "meetings.record_minutes")])


def render_minutes_due(session: Session, reminder: Any, now: datetime) -> Reply | None:
    """The organiser daily until minutes are recorded; the day MINUTES_ESCALATE_AFTER comes,
    the meetings channel too (once: from then on its daily digest lists the meeting)."""
    meeting = _current(session, reminder)
    if meeting is None or meeting.minutes_at is not None:
        return None
    return Reply("meetings/minutes_due", {
        "m": view(meeting), "since_end": now - meeting.ends_at,
        "escalated": reminder.target_kind != "member",
    })


def minutes_due_sent(session: Session, reminder: Any, now: datetime) -> None:
    """The next one is planned as this one goes out, so there is only ever one waiting."""
    meeting = _current(session, reminder)
    if meeting is None or meeting.minutes_at is not None or reminder.target_kind != "member":
        return
    n = int(reminder.payload.get("n", 0))
    zone = actions.zone_named(reminder.payload.get("zone"))
    nxt = next_daily(reminder.planned_at, now, zone)
    base = f"meeting:{meeting.ref}:r{meeting.rev}:minutes:{n + 1}"
    payload = {**reminder.payload, "n": n + 1}
    target = Target(reminder.target_kind, reminder.target_id, reminder.target_platform)
    api.plan(session, key=base, kind=MINUTES_DUE, due=nxt, target=target,
             record_type="meeting", record_id=meeting.ref, payload=payload)
    if n + 1 == MINUTES_ESCALATE_AFTER:
        api.plan(session, key=f"{base}:channel", kind=MINUTES_DUE, due=nxt,
                 target=Target.purpose(PURPOSE), record_type="meeting",
                 record_id=meeting.ref, payload=payload, snoozable=False)


def render_post(session: Session, reminder: Any, now: datetime) -> Reply | None:
    meeting = session.exec(select(Meeting).where(Meeting.ref == reminder.record_id)).first()
    template = reminder.payload.get("template")
    if meeting is None or meeting.status != SCHEDULED or template not in POST_VALUES:
        return None
    return Reply(template, POST_VALUES[template](session, meeting))


def missing_minutes(session: Session, now: datetime) -> dict[str, list[dict[str, Any]]]:
    rows = session.exec(
        select(Meeting).where(
            Meeting.status == SCHEDULED, col(Meeting.minutes_at).is_(None),
            col(Meeting.minutes_due_at) <= now,
        ).order_by(col(Meeting.minutes_due_at))
    ).all()
    items = [
        {"id": m.ref, "title": reminder_title(m), "due": m.minutes_due_at,
         "owner": m.organiser_name}
        for m in rows if minutes_missing(m, now)
    ]
    return {PURPOSE: items} if items else {}


# -- flows -----------------------------------------------------------------------------------


def new_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    carry: list[dict[str, Any]] = []
    if answers.get("partner"):
        found = open_items_of_partner(ctx.session, partner_key(answers["partner"]))
        carry = [actions.view(ctx.session, i) for i in found]
    # A partner abroad: a cross-cultural note or two in the summary. (Imported here: the
    # training domain reads meetings' parsers, so importing it at the top would be circular.)
    from handlers.training import tips

    video, materials = split_video(answers)
    return {"carry": carry, "cultural": tips.cultural_notes(answers.get("partner", ""),
                                                            answers.get("title", "")),
            "video": video, "materials": materials,
            "timing": agenda_timing(list(answers.get("agenda") or []),
                                    int(answers.get("duration") or 60))}


def minutes_due_after(ctx: Ctx, ends: datetime) -> datetime:
    """LIAISON_MINUTES_DUE after the meeting, or with LIAISON_MINUTES_BY=next-workday by the
    end of the next working day of the meetings calendar."""
    if ctx.settings.meetings.minutes_by == "next-workday":
        from bot import workcal

        cal = ctx.app.registry.calendar(ctx.session, ctx.settings, "meetings")
        return workcal.end_of_next_workday(cal, ends, ctx.settings.zone)
    return ends + ctx.settings.meetings.minutes_due


def create(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    start = datetime.fromisoformat(answers["start"])
    if start <= ctx.now:  # confirmed after the time went by
        raise UserError("errors/answer_when_past", at=answers["start"])
    year = ctx.now.astimezone(ctx.settings.zone).year
    here = answers.get("channel") == "here"
    minutes = int(answers.get("duration") or 60)
    video, materials = split_video(answers)
    meeting = Meeting(
        ref=MEETING_IDS.next(ctx.session, year)[1],
        partner=answers["partner"], partner_key=partner_key(answers["partner"]),
        title=answers["title"], starts_at=start, duration_minutes=minutes,
        minutes_due_at=minutes_due_after(ctx, start + timedelta(minutes=minutes)),
        organiser_platform=ctx.member.platform, organiser_id=ctx.member.user_id,
        organiser_name=ctx.member.display_name,
        attendees=list(answers["attendees"]), agenda=list(answers["agenda"]),
        materials=materials, video_url=video,
        channel_kind="channel" if here else "purpose",
        channel_platform=ctx.inbound.platform if here else "",
        channel_id=ctx.inbound.channel if here else "",
        created_at=ctx.now, updated_at=ctx.now,
    )
    ctx.session.add(meeting)
    ctx.session.flush()
    plan_reminders(ctx, meeting)
    ctx.audit("meeting", meeting.ref, "create", {
        "partner": meeting.partner, "title": meeting.title, "start": answers["start"],
        "duration": minutes, "attendees": meeting.attendees, "agenda": meeting.agenda,
        "materials": meeting.materials, "channel": meeting.channel_kind,
        "video": meeting.video_url,
    })
    carry = open_items_of_partner(ctx.session, meeting.partner_key, exclude=meeting.id)
    return [Reply("meetings/created", {
        "m": view(meeting), "carry": [actions.view(ctx.session, i) for i in carry],
        "lead": ctx.settings.meetings.agenda_lead, "left": meeting.starts_at - ctx.now,
    })]


def minutes_flow_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    ref = answers.get("meeting")
    meeting = ctx.session.exec(select(Meeting).where(Meeting.ref == ref)).first() if ref else None
    return {"m": view(meeting) if meeting else None}


def record_minutes(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    meeting = find(ctx.session, answers["meeting"], lock=True)
    check_minutes_allowed(ctx, meeting)  # someone else may have recorded them meanwhile
    meeting.summary = answers["summary"]
    meeting.decisions = list(answers.get("decisions") or [])
    meeting.minutes_at, meeting.minutes_by, meeting.updated_at = ctx.now, ctx.actor, ctx.now
    ctx.session.add(meeting)
    api.cancel(ctx.session, record_type="meeting", record_id=meeting.ref,
               kinds=[AGENDA_DUE, MINUTES_DUE, TIME_UP])
    ctx.audit("meeting", meeting.ref, "minutes", {
        "summary": meeting.summary, "decisions": meeting.decisions,
    })
    year = ctx.now.astimezone(ctx.settings.zone).year
    owners = []
    for entry in answers.get("actions") or []:
        item = actions.create(ctx, meeting, entry, ACTION_IDS.next(ctx.session, year)[1])
        owners.append({"platform": item.owner_platform, "user_id": item.owner_id})
    ctx.session.flush()
    values = minutes_values(ctx.session, meeting)
    return [
        Reply("meetings/minutes_recorded", {**values, "channel": meeting.channel_kind}),
        *to_channel(ctx, meeting, "meetings/minutes"),
        *to_people(ctx, meeting.members() + owners, "meetings/minutes", values),
    ]


NEW_FLOW = Flow(
    name="meeting_new",
    steps=(
        Step("partner", "meetings/ask_partner", parsers.text(max_len=200)),
        Step("title", "meetings/ask_title", parsers.text(max_len=200)),
        Step("start", "meetings/ask_start", parsers.when(future_only=True)),
        Step("duration", "meetings/ask_duration", parse_length, optional=True,
             default=lambda ctx, answers: 60),
        Step("attendees", "meetings/ask_attendees", parse_attendees),
        Step("agenda", "meetings/ask_agenda", parsers.text(max_len=200), collect=True),
        Step("materials", "meetings/ask_materials", parsers.text(max_len=500), collect=True,
             optional=True, default=lambda ctx, answers: [], max_items=10),
        Step("channel", "meetings/ask_channel", choices=CHANNELS, optional=True,
             default=lambda ctx, answers: "meetings"),
        # Given up front (`video=`, `视频=`) or found among the materials: never asked.
        Step("video", "meetings/ask_materials", parse_video, when=lambda answers: False),
    ),
    summary="meetings/confirm_new",
    finish=create,
    values=new_values,
)

MINUTES_FLOW = Flow(
    name="meeting_minutes",
    steps=(
        Step("meeting", "meetings/ask_meeting", parse_minutes_meeting),
        Step("summary", "meetings/ask_summary", parsers.text(max_len=2000, single_line=False)),
        Step("decisions", "meetings/ask_decisions", parsers.text(max_len=300), collect=True,
             optional=True, default=lambda ctx, answers: []),
        Step("actions", "meetings/ask_actions", parse_action, collect=True, optional=True,
             default=lambda ctx, answers: [], collected="meetings/action_added"),
    ),
    summary="meetings/confirm_minutes",
    finish=record_minutes,
    values=minutes_flow_values,
)


# -- commands --------------------------------------------------------------------------------


DOMAIN.flow(NEW_FLOW)
DOMAIN.flow(MINUTES_FLOW)


@DOMAIN.command("meeting", "new", aliases=("新建",), usage="meetings.cmd.new")
def meeting_new(ctx: Ctx, args: Args) -> list[Reply]:
    prefill = {NEW_KEYS.get(key, key): value for key, value in args.keywords.items()}
    return ctx.app.engine.start(ctx, NEW_FLOW.name, prefill)


@DOMAIN.command("meeting", "agenda", aliases=("议程",), usage="meetings.cmd.agenda")
def meeting_agenda(ctx: Ctx, args: Args) -> list[Reply]:
    meeting = _usable(ctx, args, "meetings/usage_agenda")
    RUNNERS.check(ctx, meeting)
    again = meeting.agenda_sent_at is not None
    meeting.agenda_sent_at = meeting.updated_at = ctx.now
    ctx.session.add(meeting)
    api.cancel(ctx.session, record_type="meeting", record_id=meeting.ref, kinds=[AGENDA_DUE])
    ctx.audit("meeting", meeting.ref, "agenda_sent", {"again": again})
    values = agenda_values(ctx.session, meeting)
    dms = to_people(ctx, meeting.members(), "meetings/agenda", values)
    return [
        Reply("meetings/agenda_sent", {"m": view(meeting), "again": again,
                                       "dms": len(dms)}),
        *to_channel(ctx, meeting, "meetings/agenda"),
        *dms,
    ]


@DOMAIN.command("meeting", "minutes", aliases=("纪要",), usage="meetings.cmd.minutes")
def meeting_minutes(ctx: Ctx, args: Args) -> list[Reply]:
    prefill = {"meeting": args.get(0)} if args.get(0) else {}
    return ctx.app.engine.start(ctx, MINUTES_FLOW.name, prefill)


@DOMAIN.command("meeting", "list", aliases=("列表",), usage="meetings.cmd.list")
def meeting_list(ctx: Ctx, args: Args) -> Reply:
    word = (args.get(0) or "upcoming").lower()
    query = select(Meeting)
    if word in ("upcoming", "即将", "未来", "将来"):
        which = "upcoming"
        query = query.where(col(Meeting.starts_at) >= ctx.now, Meeting.status == SCHEDULED)
        query = query.order_by(col(Meeting.starts_at))
    elif word in ("past", "过去", "以往", "已结束"):
        which = "past"
        query = query.where(col(Meeting.starts_at) < ctx.now).order_by(
            col(Meeting.starts_at).desc())
    else:
        words = args.text_after(1) if word in ("partner", "伙伴", "合作伙伴") else args.rest
        if not words.strip():
            raise UserError("meetings/usage_list")
        which = "partner"
        query = query.where(Meeting.partner_key == partner_key(words)).order_by(
            col(Meeting.starts_at).desc())
    rows = ctx.session.exec(query.limit(LIST_LIMIT)).all()
    return Reply("meetings/list", {"which": which, "rows": [view(m) for m in rows],
                                   "limit": LIST_LIMIT}, audience=Audience.USER)


@DOMAIN.command("meeting", "show", aliases=("查看", "详情"), usage="meetings.cmd.show")
def meeting_show(ctx: Ctx, args: Args) -> Reply:
    if not args.get(0):
        raise UserError("meetings/usage_show")
    meeting = find(ctx.session, args.get(0))
    return Reply("meetings/show", minutes_values(ctx.session, meeting),
                 audience=Audience.USER)


@DOMAIN.command("meeting", "reschedule", aliases=("改期",),
                  usage="meetings.cmd.reschedule")
def meeting_reschedule(ctx: Ctx, args: Args) -> list[Reply]:
    meeting = _usable(ctx, args, "meetings/usage_reschedule", edit=True)
    text = args.text_after(1)
    if not text:
        raise UserError("meetings/usage_reschedule")
    if meeting.minutes_at is not None:
        raise UserError("meetings/minutes_exist", ref=meeting.ref, at=meeting.minutes_at)
    start = datetime.fromisoformat(parsers.when(future_only=True)(text, ctx))
    old = meeting.starts_at
    meeting.starts_at = start
    meeting.minutes_due_at = minutes_due_after(ctx, meeting.ends_at)
    meeting.rev += 1
    meeting.updated_at = ctx.now
    ctx.session.add(meeting)
    plan_reminders(ctx, meeting)
    ctx.audit("meeting", meeting.ref, "reschedule",
              {"start": [old.isoformat(), start.isoformat()]})
    values = {"m": view(meeting), "old": old}
    return [Reply("meetings/rescheduled", values),
            *to_people(ctx, meeting.members(), "meetings/rescheduled_note", values)]


@DOMAIN.command("meeting", "video", aliases=("视频",), usage="meetings.cmd.video")
def meeting_video(ctx: Ctx, args: Args) -> list[Reply]:
    """`/meeting video M-… LINK`: set or change the video-meeting link (organiser or admin);
    the attendees hear of it."""
    meeting = _usable(ctx, args, "meetings/usage_video", edit=True)
    text = args.text_after(1)
    if not text:
        raise UserError("meetings/usage_video")
    try:
        link = parse_video(text, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None
    old = meeting.video_url
    meeting.video_url, meeting.updated_at = link, ctx.now
    ctx.session.add(meeting)
    ctx.audit("meeting", meeting.ref, "video", {"video": [old, link]})
    values = {"m": view(meeting)}
    return [Reply("meetings/video_set", values),
            *to_people(ctx, meeting.members(), "meetings/video_note", values)]


@DOMAIN.command("meeting", "cancel", aliases=("取消",), usage="meetings.cmd.cancel")
def meeting_cancel(ctx: Ctx, args: Args) -> list[Reply]:
    meeting = _usable(ctx, args, "meetings/usage_cancel", edit=True)
    if meeting.minutes_at is not None:
        raise UserError("meetings/minutes_exist", ref=meeting.ref, at=meeting.minutes_at)
    if ask := ask_first(ctx, args, "meetings/cancel_ask", {"m": view(meeting)}):
        return [ask]
    meeting.status, meeting.updated_at = CANCELLED, ctx.now
    ctx.session.add(meeting)
    dropped = api.cancel(ctx.session, record_type="meeting", record_id=meeting.ref)
    ctx.audit("meeting", meeting.ref, "cancel", {"status": [SCHEDULED, CANCELLED]})
    values = {"m": view(meeting), "dropped": dropped}
    return [Reply("meetings/cancelled", values),
            *to_people(ctx, meeting.members(), "meetings/cancelled_note", values)]

DOMAIN.reminder_kind(AGENDA_DUE)(render_agenda_due)
DOMAIN.reminder_kind(MINUTES_DUE, on_sent=minutes_due_sent)(render_minutes_due)
DOMAIN.reminder_kind(POST)(render_post)
DOMAIN.reminder_kind(TIME_UP)(render_time_up)
DOMAIN.digest(missing_minutes)


def _usable(ctx: Ctx, args: Args, usage: str, *, edit: bool = False) -> Meeting:
    if not args.get(0):
        raise UserError(usage)
    if edit:
        meeting = records.load_allowed(ctx, Meeting, MEETING_IDS, args.get(0), EDITORS,
                                       missing="meetings/not_found")
    else:
        meeting = find(ctx.session, args.get(0))
    if meeting.status == CANCELLED:
        raise UserError("meetings/is_cancelled", ref=meeting.ref)
    return meeting
