"""`/training` (培训): the quarterly communication training the handbook asks for (五(一)):
planned with a speaker, topics from the four skills (五(二)) and cases from the team's own
reviewed communications and closed complaints; announced and reminded; attended; reported.

The first-Monday quarterly message (`training:2027-Q1`, planned by the scheduler) is read
here: the announcement of the quarter's session when one is planned, else a call to plan it."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, event
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot import members, parsers, records, teams
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.db import Direct, attached
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Choice, Mention, Reply
from bot.router import Args
from handlers.actions import commands as actions
from handlers.comm.models import CommRecord
from handlers.complaints.models import Complaint
from handlers.meetings.commands import parse_action, parse_attendees, person
from handlers.meetings.models import ACTION_IDS
from handlers.training import DOMAIN
from handlers.training.models import (
    ANNOUNCE,
    INVITEES_BEFORE,
    SKILLS,
    SPEAKER_CHECK,
    TRAINING_IDS,
    TrainingAttendance,
    TrainingSession,
    quarter_of,
)
from handlers.training.tips import cli, tip_for
from schedules import api
from schedules.api import Target
from schedules.models import Reminder
from schedules.scheduler import TIP, TRAINING

PURPOSE = "training"
ORGANISERS = ("trainer", "admin")
SPEAKER_DUE = "training.speaker"
ANNOUNCEMENT = "training.announce"
STARTING = "training.starting"
ACTION_DUE = "training.action"
CASE_CHOICES = 9  # the pick list: the most recent reviewed communications and closed complaints
QUARTER = re.compile(r"^(\d{4})-?Q([1-4])$", re.I)
SKILL_WORDS = {
    "language": ("语言表达", "语言", "表达", "language"),
    "emotion": ("情绪管理", "情绪", "emotion", "emotions"),
    "cross_cultural": ("跨文化沟通", "跨文化", "cross-cultural", "cross_cultural", "culture"),
    "new_media": ("新媒体运营", "技术工具应用", "新媒体", "new-media", "new_media", "media"),
}
_PIECES = re.compile(r"[\s,，、;；]+")


# -- parsers ---------------------------------------------------------------------------------


def parse_quarter(answer: str, ctx: Ctx) -> str:
    match = QUARTER.match(unicodedata.normalize("NFKC", answer).strip())
    if not match:
        raise InvalidAnswer("training/bad_quarter", text=answer.strip()[:20])
    quarter = f"{match[1]}-Q{match[2]}"
    if quarter < quarter_of(ctx.now.astimezone(ctx.zone)):
        raise InvalidAnswer("training/past_quarter", quarter=quarter)
    return quarter


def parse_start(answer: str, ctx: Ctx) -> str:
    """A time in the future, and in the quarter `plan QUARTER` named."""
    start = parsers.when(future_only=True)(answer, ctx)
    conv = ctx.app.engine.current(ctx)
    wanted = conv.answers.get("quarter") if conv is not None else None
    got = quarter_of(datetime.fromisoformat(start).astimezone(ctx.zone))
    if wanted and got != wanted:
        raise InvalidAnswer("training/not_in_quarter", quarter=wanted, at=start)
    return start


def parse_topics(answer: str, ctx: Ctx) -> list[str]:
    """`1 3`, `语言表达、情绪管理`, `language, emotion`: one or more of the four skills."""
    picked: list[str] = []
    for word in _PIECES.split(unicodedata.normalize("NFKC", answer).strip().lower()):
        if not word:
            continue
        skill = SKILLS[int(word) - 1] if word.isdigit() and 1 <= int(word) <= len(SKILLS) \
            else next((s for s, names in SKILL_WORDS.items() if word in names), None)
        if skill is None:
            raise InvalidAnswer("training/bad_topic", text=word[:20])
        if skill not in picked:
            picked.append(skill)
    if not picked:
        raise InvalidAnswer("errors/answer_empty")
    return picked


def case_candidates(session: Session) -> list[dict[str, Any]]:
    """Reviewed communications (with their effect score and problem type) and closed
    complaints, the most recent first."""
    comms = session.exec(select(CommRecord).where(col(CommRecord.reviewed_at).is_not(None))
                         .order_by(col(CommRecord.reviewed_at).desc()).limit(CASE_CHOICES)).all()
    closed = session.exec(select(Complaint).where(Complaint.status == "closed")
                          .order_by(col(Complaint.closed_at).desc()).limit(CASE_CHOICES)).all()
    found = [(c.reviewed_at, {"ref": c.ref, "kind": "comm", "title": c.topic,
                              "score": c.review_score, "problem": c.review_problem})
             for c in comms]
    found += [(c.closed_at, {"ref": c.ref, "kind": "complaint", "title": c.summary,
                             "score": c.satisfaction, "problem": ""}) for c in closed]
    found.sort(key=lambda f: _aware(f[0]), reverse=True)
    return [f[1] for f in found[:CASE_CHOICES]]


def _aware(value: datetime | None) -> datetime:
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_cases(answer: str, ctx: Ctx) -> list[dict[str, Any]]:
    """Numbers from the pick list, or the records' ids (`K-2026-0003`, `C-2026-0001`)."""
    candidates = case_candidates(ctx.session)
    by_ref = {c["ref"].upper(): c for c in candidates}
    picked: list[dict[str, Any]] = []
    for word in _PIECES.split(unicodedata.normalize("NFKC", answer).strip()):
        if not word:
            continue
        if word.isdigit() and 1 <= int(word) <= len(candidates):
            case = candidates[int(word) - 1]
        elif word.upper() in by_ref:
            case = by_ref[word.upper()]
        else:
            raise InvalidAnswer("training/bad_case", text=word[:20], count=len(candidates))
        if case not in picked:
            picked.append(case)
    if not picked:
        raise InvalidAnswer("errors/answer_empty")
    return picked


# -- the plan --------------------------------------------------------------------------------


def plan_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    return {"skills": list(SKILLS), "candidates": case_candidates(ctx.session)}


def create(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    start = datetime.fromisoformat(answers["start"])
    year = start.astimezone(ctx.zone).year
    _, ref = TRAINING_IDS.next(ctx.session, year)
    row = TrainingSession(
        ref=ref, quarter=quarter_of(start.astimezone(ctx.zone)), starts_at=start,
        place=answers["place"], speaker=answers["speaker"], topics=answers["topics"],
        cases=answers.get("cases") or [], invitees=answers.get("invitees") or [],
        organiser_platform=ctx.member.platform, organiser_id=ctx.member.user_id,
        organiser_name=ctx.member.display_name, created_at=ctx.now)
    ctx.session.add(row)
    ctx.session.flush()
    ctx.audit("training", ref, "plan", {"start": answers["start"], "speaker": row.speaker})
    planned = plan_reminders(ctx.session, row, ctx.now, ctx.zone.key)
    return [Reply("training/planned", {"s": view(row), "planned": planned},
                  audience=Audience.USER)]


PLAN_FLOW = Flow(
    name="training_plan",
    steps=(
        Step("quarter", "training/ask_start", parse_quarter, when=lambda answers: False),
        Step("start", "training/ask_start", parse_start),
        Step("place", "training/ask_place", parsers.text(max_len=300)),
        Step("speaker", "training/ask_speaker", parsers.text(max_len=300)),
        Step("topics", "training/ask_topics", parse_topics),
        Step("cases", "training/ask_cases", parse_cases, optional=True,
             default=lambda ctx, answers: []),
        Step("invitees", "training/ask_invitees", parse_attendees, optional=True,
             default=lambda ctx, answers: []),
    ),
    summary="training/confirm_plan",
    finish=create,
    values=plan_values,
)


def plan_reminders(session: Session, row: TrainingSession, now: datetime,
                   zone: str) -> dict[str, Any]:
    """The organiser 21 days before (only while the speaker is unconfirmed: the render reads
    that), the training channel 7 days and 1 day before, each member invited 1 hour before.
    Times already past are left out. Returns what was planned, for the answer to name only
    that: {"speaker": bool, "announce": [days…], "invitees": how many}."""
    planned: dict[str, Any] = {"speaker": False, "announce": [], "invitees": 0}
    base = f"training:{row.ref}"
    record = {"record_type": "training", "record_id": row.ref}
    payload = {"zone": zone}
    due = row.starts_at - SPEAKER_CHECK
    if due > now and row.speaker_confirmed_at is None:
        api.plan(session, key=f"{base}:speaker", kind=SPEAKER_DUE, due=due,
                 target=Target.member(row.organiser_platform, row.organiser_id),
                 payload=payload, **record)
        planned["speaker"] = True
    for before in ANNOUNCE:
        due = row.starts_at - before
        if due > now:
            api.plan(session, key=f"{base}:announce:{before.days}d", kind=ANNOUNCEMENT,
                     due=due, target=Target.purpose(PURPOSE),
                     payload={**payload, "days": before.days}, snoozable=False, **record)
            planned["announce"].append(before.days)
    due = row.starts_at - INVITEES_BEFORE
    if due > now:
        for invitee in row.invitees:
            if invitee.get("user_id"):
                api.plan(session, key=f"{base}:starting:{invitee['platform']}:"
                         f"{invitee['user_id']}", kind=STARTING, due=due,
                         target=Target.member(invitee["platform"], invitee["user_id"]),
                         payload=payload, **record)
                planned["invitees"] += 1
    return planned


def view(row: TrainingSession) -> dict[str, Any]:
    return {"ref": row.ref, "quarter": row.quarter, "start": row.starts_at, "place": row.place,
            "speaker": row.speaker, "confirmed": row.speaker_confirmed_at is not None,
            "topics": list(row.topics), "cases": list(row.cases),
            "invitees": [person(i) for i in row.invitees], "organiser": row.organiser,
            "notes": row.notes or "", "discussed": list(row.discussed),
            "actions": [{**a, "owner": person(a["owner"])} for a in row.actions],
            "logged": row.logged_at is not None}


def find(session: Session, raw: str | None) -> TrainingSession:
    return records.load(session, TrainingSession, TRAINING_IDS, raw, missing="training/not_found")


ORGANISER = records.Who("training/not_organiser", people=("organiser",), roles=ORGANISERS)


def attendees(session: Session, row: TrainingSession) -> list[TrainingAttendance]:
    return list(session.exec(select(TrainingAttendance)
                             .where(TrainingAttendance.session_id == row.id)
                             .order_by(col(TrainingAttendance.id))).all())


# -- after the session -----------------------------------------------------------------------


def check_log_allowed(ctx: Ctx, row: TrainingSession) -> None:
    ORGANISER.check(ctx, row)
    if row.starts_at > ctx.now:
        raise UserError("training/not_held", ref=row.ref, start=row.starts_at)
    if row.logged_at is not None:
        raise UserError("training/already_logged", ref=row.ref, at=row.logged_at)


def parse_log_session(answer: str, ctx: Ctx) -> str:
    try:
        row = find(ctx.session, answer)
        check_log_allowed(ctx, row)
    except UserError as exc:
        raise InvalidAnswer(exc.template, **exc.params) from None
    return row.ref


def parse_discussed(answer: str, ctx: Ctx) -> list[dict[str, Any]]:
    """Numbers of the planned cases (as the announcement listed them)."""
    conv = ctx.app.engine.current(ctx)
    ref = conv.answers.get("session") if conv is not None else None
    row = find(ctx.session, ref) if ref else None
    planned = list(row.cases) if row is not None else []
    picked: list[dict[str, Any]] = []
    for word in _PIECES.split(unicodedata.normalize("NFKC", answer).strip()):
        if not (word.isdigit() and 1 <= int(word) <= len(planned)):
            raise InvalidAnswer("training/bad_case", text=word[:20], count=len(planned))
        if planned[int(word) - 1] not in picked:
            picked.append(planned[int(word) - 1])
    return picked


def log_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    ref = answers.get("session")
    row = find(ctx.session, ref) if ref else None
    return {"s": view(row) if row is not None else None}


def record_log(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    row = find(ctx.session, answers["session"])
    check_log_allowed(ctx, row)  # someone may have logged it meanwhile
    row.notes = answers["notes"]
    row.discussed = list(answers.get("discussed") or [])
    # Each follow-up is an action item like a meeting's (`/action done`, `/action list`, the
    # reminders before, at and after its due time); the session keeps a copy with its id.
    year = ctx.now.astimezone(ctx.zone).year
    row.actions = []
    for entry in answers.get("actions") or []:
        item = actions.create(ctx, None, entry, ACTION_IDS.next(ctx.session, year)[1],
                              origin="training", origin_ref=row.ref)
        row.actions.append({"ref": item.ref, "what": entry["what"],
                            "owner": dict(entry["owner"]), "due": entry["due"]})
    row.logged_at = ctx.now
    ctx.session.add(row)
    ctx.audit("training", row.ref, "log", {"notes": row.notes, "actions": row.actions})
    return [Reply("training/logged", {"s": view(row)}, audience=Audience.USER)]


LOG_FLOW = Flow(
    name="training_log",
    steps=(
        Step("session", "training/ask_session", parse_log_session),
        Step("notes", "training/ask_notes", parsers.text(max_len=2000, single_line=False)),
        Step("discussed", "training/ask_discussed", parse_discussed, optional=True,
             default=lambda ctx, answers: []),
        Step("actions", "meetings/ask_actions", parse_action, collect=True, optional=True,
             default=lambda ctx, answers: [], collected="meetings/action_added"),
    ),
    summary="training/confirm_log",
    finish=record_log,
    values=log_values,
)


# -- commands --------------------------------------------------------------------------------


DOMAIN.cli = cli
DOMAIN.flow(PLAN_FLOW)
DOMAIN.flow(LOG_FLOW)


@DOMAIN.command("training", None, usage="training.cmd.main")
def training_menu(ctx: Ctx, args: Args) -> Reply:
    return family_menu(ctx, "training", args.get(0))


@DOMAIN.command("training", "plan", aliases=("计划", "安排"), roles=ORGANISERS,
                usage="training.cmd.plan")
def training_plan(ctx: Ctx, args: Args) -> list[Reply]:
    quarter = args.get(0)
    if quarter is None:  # the next quarter
        local = ctx.now.astimezone(ctx.zone)
        year, number = local.year, (local.month - 1) // 3 + 2
        quarter = f"{year + (number > 4)}-Q{(number - 1) % 4 + 1}"
    # Checked here, not left to the flow: it never asks for the quarter, so a bad one could
    # not wait for its turn there.
    quarter = parse_quarter(quarter, ctx)
    return ctx.app.engine.start(ctx, PLAN_FLOW.name, {"quarter": quarter})


@DOMAIN.command("training", "confirm", aliases=("确认",), usage="training.cmd.confirm")
def training_confirm(ctx: Ctx, args: Args) -> Reply:
    row = records.load_allowed(ctx, TrainingSession, TRAINING_IDS, args.get(0), ORGANISER,
                               missing="training/not_found")
    if row.speaker_confirmed_at is None:
        row.speaker_confirmed_at = ctx.now
        ctx.session.add(row)
        ctx.audit("training", row.ref, "confirm_speaker", {"speaker": row.speaker})
        api.cancel(ctx.session, record_type="training", record_id=row.ref, kinds=[SPEAKER_DUE])
    return Reply("training/confirmed", {"s": view(row)}, audience=Audience.USER)


@DOMAIN.command("training", "attend", aliases=("签到", "出席"), usage="training.cmd.attend")
def training_attend(ctx: Ctx, args: Args) -> Reply:
    row = find(ctx.session, args.get(0))
    if ctx.now < row.starts_at - INVITEES_BEFORE:
        raise UserError("training/too_early", ref=row.ref, start=row.starts_at)
    key = (TrainingAttendance.session_id == row.id,
           TrainingAttendance.platform == ctx.member.platform,
           TrainingAttendance.user_id == ctx.member.user_id)
    if ctx.session.exec(select(TrainingAttendance).where(*key)).first() is None:
        ctx.session.add(TrainingAttendance(session_id=row.id, platform=ctx.member.platform,
                                           user_id=ctx.member.user_id,
                                           name=ctx.member.display_name, at=ctx.now))
        ctx.audit("training", row.ref, "attend", {})
    return Reply("training/attended", {"s": view(row)}, audience=Audience.USER)


@DOMAIN.command("training", "log", aliases=("记录", "纪要"), usage="training.cmd.log")
def training_log(ctx: Ctx, args: Args) -> list[Reply]:
    prefill = {"session": args.get(0)} if args.get(0) else {}
    return ctx.app.engine.start(ctx, LOG_FLOW.name, prefill)


@DOMAIN.command("training", "report", aliases=("报告", "统计"), usage="training.cmd.report")
def training_report(ctx: Ctx, args: Args) -> Reply:
    raw = args.get(0)
    year = ctx.now.astimezone(ctx.zone).year
    if raw is not None:
        if not (raw.isdigit() and len(raw) == 4):
            raise UserError("training/report_usage", text=raw[:20])
        year = int(raw)
    rows = ctx.session.exec(
        select(TrainingSession).where(col(TrainingSession.quarter).startswith(f"{year}-"),
                                      TrainingSession.starts_at <= ctx.now)
        .order_by(col(TrainingSession.starts_at))).all()
    quarters = {f"{year}-Q{q}": [] for q in range(1, 5)}
    people: dict[str, dict[str, Any]] = {}
    streak: dict[str, int] = {}
    for row in rows:
        came = {(a.platform, a.user_id) for a in attendees(ctx.session, row)}
        quarters[row.quarter].append({"ref": row.ref, "start": row.starts_at,
                                      "count": len(came), "invited": len(row.invitees)})
        for invitee in row.invitees:
            if not invitee.get("user_id"):
                continue
            who = f"{invitee['platform']}:{invitee['user_id']}"
            entry = people.setdefault(who, {**person(invitee), "came": 0, "invited": 0,
                                            "missed_in_a_row": False})
            entry["invited"] += 1
            if (invitee["platform"], invitee["user_id"]) in came:
                entry["came"] += 1
                streak[who] = 0
            else:
                streak[who] = streak.get(who, 0) + 1
                entry["missed_in_a_row"] |= streak[who] >= 2
    return Reply("training/report", {
        "year": year, "quarters": quarters, "people": list(people.values()),
        "missed": [p for p in people.values() if p["missed_in_a_row"]],
        "teams": team_attendance(ctx.session, list(rows)), "held": len(rows)},
        audience=Audience.USER)


def team_attendance(session: Session, rows: list[TrainingSession]) -> list[dict[str, Any]]:
    """Per team (as it is today): its members, and how many of the sessions held each
    attended, out of members × sessions."""
    came = {(a.session_id, a.platform, a.user_id)
            for row in rows for a in attendees(session, row)}
    found = []
    for team in teams.all_teams(session):
        people = teams.members_of(session, team)
        attended = sum((row.id, m.platform, m.user_id) in came for row in rows for m in people)
        possible = len(people) * len(rows)
        found.append({"name": team.name, "size": len(people), "came": attended,
                      "possible": possible,
                      "percent": round(100 * attended / possible) if possible else None})
    return found


# -- reminders -------------------------------------------------------------------------------


def _session_of(session: Session, reminder: Reminder) -> TrainingSession | None:
    return _read_once(session, ("ref", reminder.record_id),
                      lambda: records.find(session, TrainingSession, reminder.record_id))


def _speaker_nag(session: Session, reminder: Reminder, now: datetime) -> None:
    """Sent and still unconfirmed: once more a week later, while that is before the day."""
    row = _session_of(session, reminder)
    if row is None or row.speaker_confirmed_at is not None:
        return
    n = int(reminder.payload.get("n", 0)) + 1
    due = now + ANNOUNCE[0]
    if due < row.starts_at - ANNOUNCE[1]:
        api.plan(session, key=f"training:{row.ref}:speaker:{n}", kind=SPEAKER_DUE, due=due,
                 target=Target.member(row.organiser_platform, row.organiser_id),
                 record_type="training", record_id=row.ref, payload={**reminder.payload, "n": n})


@DOMAIN.reminder_kind(SPEAKER_DUE, on_sent=_speaker_nag)
def remind_speaker(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    row = _session_of(session, reminder)
    if row is None or row.speaker_confirmed_at is not None or row.starts_at <= now:
        return None
    return Reply("training/speaker_reminder", {"s": view(row)},
                 choices=[Choice(f"/training confirm {row.ref}", "training.choice.confirm")])


@DOMAIN.reminder_kind(ANNOUNCEMENT)
def announce(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    row = _session_of(session, reminder)
    if row is None or row.starts_at <= now:
        return None
    return Reply("training/announcement", {"s": view(row), "days": reminder.payload.get("days")},
                 choices=[Choice(f"/training attend {row.ref}", "training.choice.attend")])


@DOMAIN.reminder_kind(STARTING)
def starting(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    row = _session_of(session, reminder)
    if row is None or row.starts_at <= now:
        return None
    return Reply("training/starting", {"s": view(row)},
                 choices=[Choice(f"/training attend {row.ref}", "training.choice.attend")])


# Follow-ups logged before they became action items were reminded by this kind; rows of it
# may still be pending.
@DOMAIN.reminder_kind(ACTION_DUE)
def action_due(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    row = _session_of(session, reminder)
    n = int(reminder.payload.get("n", -1))
    if row is None or not 0 <= n < len(row.actions):
        return None
    return Reply("training/action_due", {"s": view(row), "a": row.actions[n]})


@DOMAIN.reminder_kind(TIP)
def tip(session: Session, reminder: Reminder, now: datetime) -> Reply:
    return Reply("training/tip", {"tip": tip_for(int(reminder.payload.get("period", 0)))})


@DOMAIN.reminder_kind(TRAINING)
def quarterly(session: Session, reminder: Reminder, now: datetime) -> Reply:
    """The first Monday of the quarter: the quarter's session, or a call to plan one."""
    quarter = str(reminder.payload.get("quarter", ""))
    row = _quarter_session(session, quarter)
    if row is not None:
        return Reply("training/quarter_planned", {"quarter": quarter, "s": view(row)})
    return Reply("reminders/training", {
        "quarter": quarter, "organisers": organisers(session, reminder.payload.get("admins"))})


_READ = "training.read"  # training sessions read in a database session, by question


def _read_once(session: Session, key: tuple[str, str],
               load: Callable[[], TrainingSession | None]) -> TrainingSession | None:
    """A training session read once per database session: a sweep renders one reminder per
    member (the quarterly call, each invitee's "starting") in one read, and one query each
    was a third of its CPU (issue 22). A session that has written a training session reads
    again."""
    known = session.info.setdefault(_READ, {})
    if _writes_training(session):
        known.clear()
    if key not in known:
        known[key] = load()
    return known[key]


_QUARTER = Direct(core_select(*TrainingSession.__table__.columns)
                  .where(TrainingSession.__table__.c.quarter == bindparam("quarter"))
                  .order_by(TrainingSession.__table__.c.starts_at))


def _quarter_session(session: Session, quarter: str) -> TrainingSession | None:
    """The quarter's first session."""
    return _read_once(session, ("quarter", quarter), lambda: _first_of_quarter(session, quarter))


def _first_of_quarter(session: Session, quarter: str) -> TrainingSession | None:
    """Read with Core on the driver (bot.db.Direct; through the ORM, this once-per-chunk read
    was a sixteenth of a many-due sweep, issue 22), as the ORM query would answer: the
    session's own copy when it holds the row, else the row joined to the session as if
    loaded; or, when the session has a training session to flush, the ORM query (which
    flushes it first: Direct does not)."""
    if _writes_training(session):
        return session.exec(select(TrainingSession).where(TrainingSession.quarter == quarter)
                            .order_by(col(TrainingSession.starts_at))).first()
    rows = _QUARTER.rows(session.connection(), {"quarter": quarter})
    if not rows:
        return None
    return attached(session, TrainingSession, rows[0])


@event.listens_for(Session, "before_flush")
def _training_written(session: Session, _context: object, _instances: object) -> None:
    # After a flush its writes are no longer in session.new/dirty: forget what was read.
    if session.info.get(_READ) and _writes_training(session):
        session.info.pop(_READ, None)


def _writes_training(session: Session) -> bool:
    """Whether the session holds a training session to write (added, changed or deleted)."""
    return any(isinstance(row, TrainingSession)
               for row in (*session.new, *session.dirty, *session.deleted))


def organisers(session: Session, admins: Any) -> dict[str, list[Mention]]:
    """Who is asked to plan, per platform (a message names people of its own platform): the
    members with the trainer role, or where there are none, the admins."""
    trainers: dict[str, list[Mention]] = {}
    for member in members.with_role(session, "trainer"):
        trainers.setdefault(member.platform, []).append(
            Mention(member.platform, member.user_id, member.display_name))
    found: dict[str, list[Mention]] = {}
    for entry in admins if isinstance(admins, list) else []:
        platform, _, user_id = str(entry).partition(":")
        if user_id and platform not in trainers:
            known = members.find(session, platform, user_id=user_id)
            found.setdefault(platform, []).append(
                Mention(platform, user_id, known.display_name if known else user_id))
    found.update(trainers)
    return found

