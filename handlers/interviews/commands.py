"""`/interview` (采访): the handbook's 媒体采访应对 as a conversation.

`/interview new` records who is asking (outlet, journalist), about what, when, in which form,
who speaks for the company, and the questions received in advance. The preparation card (to
the spokesperson and the PR channel) lists the approved talking points that match the topic
and the questions, the questions with no approved answer yet (each a button to propose one),
and the handbook's reminders for the room. The interview is confirmed once PR, and legal
where chosen, have signed the content off (确认采访内容前,内部协调一致); until then they are
reminded 48 and 24 hours before. An hour before, the spokesperson gets the card again; after
it, a debrief asks what came up unprepared, which becomes talking-point proposals, and opens
the interview's `/comm` record for the review (复盘): first contact and message are the
interview itself, the feedback is what the debrief brought. A statement to correct is a
follow-up owed to the outlet, so that step stays open and /comm reminds it; with nothing to
correct the record is executed and its review is open at once (and reminded as /comm does).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from bot import parsers, records
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Choice, Reply
from bot.records import RecordIds
from bot.router import Args
from handlers import principles
from handlers.comm import rules as comm_rules
from handlers.comm.commands import RECORD as COMM_RECORD
from handlers.comm.commands import _settle as settle_comm
from handlers.comm.models import CommRecord
from handlers.comm.rules import command_safe
from handlers.glossary import commands as glossary
from handlers.interviews import DOMAIN
from handlers.interviews.models import Interview
from handlers.principles.domain import lists as principle_lists
from handlers.talking_points.models import TalkingPoint
from handlers.talking_points.search import search
from schedules import api
from schedules.api import Target
from schedules.models import Reminder

RECORD = "interview"
IDS = RecordIds("I")
NEW_FLOW, DEBRIEF_FLOW = "interview.new", "interview.debrief"
SIGNOFF_KIND, PREP_KIND, DEBRIEF_KIND = "interview.signoff", "interview.prep", "interview.debrief"
SIGNOFF_BEFORE = (timedelta(hours=48), timedelta(hours=24))
PREP_BEFORE, DEBRIEF_AFTER = timedelta(hours=1), timedelta(hours=1)
TOP_POINTS = 5
FORMATS = ("phone", "video", "in_person", "written")
# How each interview format reads on the /comm checklist: its channel and first contact.
COMM_CHANNEL = {"phone": "phone", "video": "video", "in_person": "meeting", "written": "email"}
FORMAT_CHOICES = [Choice(f, f"interviews.format.{f}") for f in FORMATS]
LEGAL_CHOICES = [Choice("yes", "interviews.legal.yes"), Choice("no", "interviews.legal.no")]
YES_NO = {"yes": ("是", "要", "需要", "y"), "no": ("否", "不", "不要", "不需要", "n")}
LIST_LIMIT = 20


@DOMAIN.command("interview", None, usage="interviews.cmd.main")
def interview_main(ctx: Ctx, args: Args) -> Reply:
    word = args.get(0)
    if word and IDS.parse(word):
        return _show(ctx, _load(ctx, word, "interviews/show_usage"))
    return family_menu(ctx, "interview", word)


@DOMAIN.command("interview", "new", aliases=("新建",), usage="interviews.cmd.new")
def interview_new(ctx: Ctx, args: Args) -> list[Reply]:
    return ctx.app.engine.start(ctx, NEW_FLOW, args.keywords)


@DOMAIN.command("interview", "show", aliases=("查看", "准备"), usage="interviews.cmd.show")
def interview_show(ctx: Ctx, args: Args) -> Reply:
    return _show(ctx, _load(ctx, args.get(0), "interviews/show_usage"))


@DOMAIN.command("interview", "signoff", aliases=("确认", "签发"), roles=("pr", "legal"),
                usage="interviews.cmd.signoff")
def interview_signoff(ctx: Ctx, args: Args) -> list[Reply]:
    iv = _load(ctx, args.get(0), "interviews/signoff_usage", lock=True)
    if iv.state != "planned":
        raise UserError("interviews/not_planned", ref=iv.ref, state=iv.state)
    missing = _missing(iv)
    mine = [s for s in ("pr", "legal") if s in ctx.roles and s in missing]
    if not mine:
        raise UserError("interviews/nothing_to_sign", ref=iv.ref, missing=missing)
    iv.signoffs = [*iv.signoffs, *({"side": s, "by": ctx.actor, "name": ctx.member.display_name,
                                    "at": ctx.now.isoformat()} for s in mine)]
    missing = _missing(iv)
    ctx.audit(RECORD, iv.ref, "signoff", {"sides": mine})
    for row in api.pending(ctx.session, RECORD, iv.ref):
        if row.kind == SIGNOFF_KIND and row.payload.get("side") in mine:
            api.cancel(ctx.session, key=row.key)
    values = {"ref": iv.ref, "sides": mine, "missing": missing, "topic": iv.topic,
              "outlet": iv.outlet, "at": iv.at}
    replies = [Reply("interviews/signed", values)]
    if not missing:
        iv.state, iv.confirmed_at = "confirmed", ctx.now
        replies.append(Reply("interviews/confirmed_notice", values, audience=Audience.MEMBER,
                             member=(iv.spokesperson_platform, iv.spokesperson_id)))
    iv.updated_at = ctx.now
    ctx.session.add(iv)
    return replies


@DOMAIN.command("interview", "debrief", aliases=("复盘",), usage="interviews.cmd.debrief")
def interview_debrief(ctx: Ctx, args: Args) -> list[Reply]:
    iv = _load(ctx, args.get(0), "interviews/debrief_usage")
    _may_debrief(ctx, iv)
    return ctx.app.engine.start(ctx, DEBRIEF_FLOW, {"record": iv.ref})


@DOMAIN.command("interview", "list", aliases=("列表",), usage="interviews.cmd.list")
def interview_list(ctx: Ctx, args: Args) -> Reply:
    rows = list(ctx.session.exec(select(Interview).order_by(col(Interview.at).desc())
                                 .limit(LIST_LIMIT)).all())
    return Reply("interviews/list", {"rows": [_row(r) for r in rows]}, audience=Audience.USER)


# -- reminders ----------------------------------------------------------------------------------


@DOMAIN.reminder_kind(SIGNOFF_KIND)
def remind_signoff(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    iv = records.find(session, Interview, reminder.record_id)
    if iv is None or iv.state != "planned" or reminder.payload.get("side") not in _missing(iv):
        return None
    return Reply("interviews/remind_signoff", {**_row(iv), "side": reminder.payload["side"]},
                 choices=[Choice(f"/interview signoff {iv.ref}", "interviews.choice.signoff",
                                 style="primary")])


@DOMAIN.reminder_kind(PREP_KIND)
def remind_prep(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    iv = records.find(session, Interview, reminder.record_id)
    if iv is None or iv.debriefed_at is not None or _aware(iv.at) <= now:
        return None
    values, choices = _prep(session, iv, now)
    return Reply("interviews/prep", {**values, "soon": True}, choices=choices)


@DOMAIN.reminder_kind(DEBRIEF_KIND)
def remind_debrief(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    iv = records.find(session, Interview, reminder.record_id)
    if iv is None or iv.debriefed_at is not None:
        return None
    return Reply("interviews/remind_debrief", _row(iv),
                 choices=[Choice(f"/interview debrief {iv.ref}", "interviews.choice.debrief",
                                 style="primary")])


# -- the conversations --------------------------------------------------------------------------


def _new_flow() -> Flow:
    return Flow(
        name=NEW_FLOW,
        steps=(
            Step("outlet", "interviews/ask_outlet", parsers.text(100)),
            Step("journalist", "interviews/ask_journalist", parsers.text(100)),
            Step("topic", "interviews/ask_topic", parsers.text(120)),
            Step("at", "interviews/ask_at", parsers.when(future_only=True)),
            Step("format", "interviews/ask_format", choices=FORMAT_CHOICES),
            Step("spokesperson", "interviews/ask_spokesperson", parsers.parse_mention),
            Step("questions", "interviews/ask_questions", parsers.text(300), collect=True,
                 optional=True, default=lambda ctx, a: []),
            Step("legal", "interviews/ask_legal", parsers.choice(LEGAL_CHOICES, YES_NO),
                 choices=LEGAL_CHOICES, optional=True,
                 default=lambda ctx, a: "no"),
        ),
        summary="interviews/new_summary",
        finish=_finish_new,
    )


def _debrief_record(answer: str, ctx: Ctx) -> str:
    ref = IDS.parse(answer)
    iv = records.find(ctx.session, Interview, ref) if ref else None
    if iv is None:
        raise InvalidAnswer("interviews/not_found", ref=answer.strip()[:40])
    if iv.debriefed_at is not None:
        raise InvalidAnswer("interviews/already_debriefed", ref=iv.ref)
    return iv.ref


def _debrief_flow() -> Flow:
    return Flow(
        name=DEBRIEF_FLOW,
        steps=(
            Step("record", "interviews/ask_unprepared", _debrief_record,
                 when=lambda a: "record" not in a),
            Step("unprepared", "interviews/ask_unprepared", parsers.text(300), collect=True,
                 optional=True, default=lambda ctx, a: []),
            Step("correction", "interviews/ask_correction",
                 parsers.text(1000, single_line=False), optional=True,
                 default=lambda ctx, a: ""),
        ),
        summary="interviews/debrief_summary",
        finish=_finish_debrief,
        values=_debrief_values,
    )


def _debrief_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    # The statement to correct is checked against the handbook's principles: hints only.
    text = str(answers.get("correction") or "")
    return {"hints": [h.as_values() for h in principles.check(
        text, principle_lists(ctx.session), glossary.pairs(ctx.session))]}


def _finish_new(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    year = ctx.now.astimezone(ctx.settings.zone).year
    seq, ref = IDS.next(ctx.session, year)
    speaker = answers["spokesperson"]
    iv = Interview(
        ref=ref, year=year, seq=seq, state="planned",
        owner_platform=ctx.member.platform, owner_id=ctx.member.user_id,
        owner_name=ctx.member.display_name, outlet=answers["outlet"],
        journalist=answers["journalist"], topic=answers["topic"],
        at=datetime.fromisoformat(answers["at"]), format=answers["format"],
        spokesperson_platform=speaker["platform"], spokesperson_id=speaker["user_id"],
        spokesperson_name=speaker["name"], questions=_as_list(answers.get("questions")),
        legal=answers.get("legal") == "yes", created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(iv)
    ctx.session.flush()
    ctx.audit(RECORD, ref, "create", {k: answers.get(k) for k in (
        "outlet", "journalist", "topic", "at", "format", "questions", "legal")})
    planned = _plan(ctx, iv)
    values, choices = _prep(ctx.session, iv, ctx.now)
    replies = [Reply("interviews/created", {**values, "sides": _missing(iv),
                                            "planned": planned})]
    signoff = [Choice(f"/interview signoff {ref}", "interviews.choice.signoff",
                      style="primary")]
    for side in _missing(iv):
        replies.append(Reply("interviews/prep", {**values, "side": side},
                             choices=[*signoff, *choices], audience=Audience.PURPOSE,
                             purpose=side))
    if (iv.spokesperson_platform, iv.spokesperson_id) != (ctx.member.platform,
                                                          ctx.member.user_id):
        replies.append(Reply("interviews/prep", values, choices=choices,
                             audience=Audience.MEMBER,
                             member=(iv.spokesperson_platform, iv.spokesperson_id)))
    return replies


def _finish_debrief(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    iv = records.find(ctx.session, Interview, answers["record"], lock=True)
    if iv is None or iv.debriefed_at is not None:
        raise UserError("interviews/already_debriefed", ref=answers["record"])
    _may_debrief(ctx, iv)
    iv.unprepared = _as_list(answers.get("unprepared"))
    iv.correction = answers.get("correction") or ""
    iv.debriefed_at, iv.state, iv.updated_at = ctx.now, "debriefed", ctx.now
    ctx.session.add(iv)
    ctx.audit(RECORD, iv.ref, "debrief", {"unprepared": iv.unprepared,
                                          "correction": iv.correction})
    api.cancel(ctx.session, record_type=RECORD, record_id=iv.ref)
    comm = _open_comm(ctx, iv)
    review_open = comm.state == comm_rules.State.EXECUTED
    owner = (iv.owner_platform, iv.owner_id)
    choices = [_propose_choice(iv, q) for q in iv.unprepared]
    if review_open and owner == (ctx.member.platform, ctx.member.user_id):
        choices.append(Choice(f"/comm review {comm.ref}", "interviews.choice.review"))
    values = {**_row(iv), "unprepared": iv.unprepared, "correction": iv.correction,
              "comm": comm.ref, "review_open": review_open,
              "review_after": ctx.settings.comm.review, "owner": iv.owner_name,
              "owner_is_me": owner == (ctx.member.platform, ctx.member.user_id)}
    replies = [Reply("interviews/debriefed", values, choices=choices)]
    if owner != (ctx.member.platform, ctx.member.user_id):
        replies.append(Reply(
            "interviews/debriefed_owner", {**values, "by": ctx.member.display_name},
            choices=[Choice(f"/comm review {comm.ref}", "interviews.choice.review")]
            if review_open else [Choice(f"/comm show {comm.ref}", "interviews.choice.comm")],
            audience=Audience.MEMBER, member=owner))
    return replies


def _open_comm(ctx: Ctx, iv: Interview) -> CommRecord:
    """The interview as a /comm record for the media, owned by whoever organised it: contact
    and message at the interview's time, the debrief's unprepared questions and correction as
    its feedback, the follow-up done unless there is a statement to correct."""
    year = ctx.now.astimezone(ctx.settings.zone).year
    seq, ref = comm_rules.IDS.next(ctx.session, year)
    at = _aware(iv.at)
    channel = COMM_CHANNEL.get(iv.format, "phone")
    record = CommRecord(
        ref=ref, year=year, seq=seq, state=comm_rules.State.PREPARED,
        owner_platform=iv.owner_platform, owner_id=iv.owner_id, owner_name=iv.owner_name,
        audience="media", audience_name=iv.outlet[:100], topic=iv.topic[:80], goal="publish",
        goal_text=f"{iv.journalist}: {iv.topic}"[:300], materials=[iv.ref], channel=channel,
        contact_at=at, contact_how=channel, message_at=at, message_text=iv.topic[:500],
        created_at=ctx.now, updated_at=ctx.now)
    items = [*iv.unprepared, *([iv.correction] if iv.correction else [])]
    record.feedback = [{"at": ctx.now.isoformat(), "text": text, "by": ctx.member.display_name}
                       for text in items]
    record.feedback_done_at = ctx.now
    if not iv.correction:
        record.followup_at = ctx.now
    ctx.session.add(record)
    ctx.session.flush()
    ctx.audit(COMM_RECORD, ref, "create", {"interview": iv.ref, "audience": "media",
                                           "audience_name": iv.outlet, "feedback": items})
    settle_comm(ctx, record, comm_rules.State.PREPARED)
    return record


# -- helpers ------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:  # noqa: ANN401
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; they are stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _missing(iv: Interview) -> list[str]:
    signed = {s["side"] for s in iv.signoffs}
    return [s for s in (("pr", "legal") if iv.legal else ("pr",)) if s not in signed]


def _plan(ctx: Ctx, iv: Interview) -> dict[str, Any]:
    """Sign-off reminders 48 h and 24 h before, the card again an hour before, the debrief
    after; times already past are left out. Returns what was planned, for the answer to name
    only that: {"signoff": [hours…], "prep": bool}."""
    at = _aware(iv.at)
    planned: dict[str, Any] = {"signoff": [], "prep": False}
    for side in _missing(iv):
        for before in SIGNOFF_BEFORE:
            if at - before > ctx.now:
                hours = int(before.total_seconds() // 3600)
                api.plan(ctx.session, key=f"interview:{iv.ref}:signoff:{side}:{hours}h",
                         kind=SIGNOFF_KIND, due=at - before, target=Target.purpose(side),
                         record_type=RECORD, record_id=iv.ref, payload={"side": side})
                if hours not in planned["signoff"]:
                    planned["signoff"].append(hours)
    speaker = Target.member(iv.spokesperson_platform, iv.spokesperson_id)
    if at - PREP_BEFORE > ctx.now:
        api.plan(ctx.session, key=f"interview:{iv.ref}:prep", kind=PREP_KIND,
                 due=at - PREP_BEFORE, target=speaker, record_type=RECORD, record_id=iv.ref)
        planned["prep"] = True
    api.plan(ctx.session, key=f"interview:{iv.ref}:debrief", kind=DEBRIEF_KIND,
             due=at + DEBRIEF_AFTER, target=speaker, record_type=RECORD, record_id=iv.ref)
    return planned


def _propose_choice(iv: Interview, question: str) -> Choice:
    return Choice(f'/tp propose topic="{command_safe(iv.topic)}" '
                  f'question="{command_safe(question, 300)}"', "interviews.choice.propose")


def _prep(session: Session, iv: Interview, now: datetime) -> tuple[dict[str, Any], list[Choice]]:
    """The preparation card: the best approved points for the topic and each question, the
    questions no approved point answers, and a button to propose an answer to each."""
    points: dict[int, dict[str, Any]] = {}
    for hit in search(session, iv.topic, now=now, limit=TOP_POINTS).approved:
        points.setdefault(hit.id, hit.as_values())
    unanswered = []
    for question in iv.questions:
        hits = search(session, question, now=now, limit=1).approved
        if not hits:
            unanswered.append(question)
        for hit in hits:
            points.setdefault(hit.id, hit.as_values())
    top = list(points.values())[:TOP_POINTS]
    for p in top:
        point = session.get(TalkingPoint, p["id"])
        p["version"] = point.live_version if point is not None else None
    values = {**_row(iv), "points": top, "unanswered": unanswered,
              "questions": list(iv.questions), "soon": False, "side": ""}
    return values, [_propose_choice(iv, q) for q in unanswered]


def _row(iv: Interview) -> dict[str, Any]:
    return {"ref": iv.ref, "state": iv.state, "outlet": iv.outlet, "journalist": iv.journalist,
            "topic": iv.topic, "at": _aware(iv.at), "format": iv.format,
            "spokesperson": iv.spokesperson_name, "owner": iv.owner_name,
            "signoffs": [{"side": s["side"], "name": s["name"]} for s in iv.signoffs],
            "missing": _missing(iv)}


def _load(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> Interview:
    return records.load(ctx.session, Interview, IDS, raw, missing="interviews/not_found",
                        lock=lock, usage=usage)


DEBRIEFERS = records.Who("interviews/not_yours", people=("spokesperson", "owner"),
                         roles=("admin",))


def _may_debrief(ctx: Ctx, iv: Interview) -> None:
    DEBRIEFERS.check(ctx, iv)
    if iv.debriefed_at is not None:
        raise UserError("interviews/already_debriefed", ref=iv.ref)


def _show(ctx: Ctx, iv: Interview) -> Reply:
    values, choices = _prep(ctx.session, iv, ctx.now)
    return Reply("interviews/prep", values, choices=choices, audience=Audience.USER)


DOMAIN.flow(_new_flow())
DOMAIN.flow(_debrief_flow())
