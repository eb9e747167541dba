"""`/comm`: the handbook's 外部关系沟通流程 as a conversation. Every external communication is
prepared (`/comm new`), carried out against a four-step checklist (`/comm run`, `/comm check`)
and reviewed (`/comm review`); reviewed records are the case library (`/comm cases`).

The rules (states, the checklist, what is due when) are in rules.py; this module is the
chat around them: commands, the three flows, and how the two reminders read when they fire.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot import parsers, records
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Choice, Reply
from bot.models import AuditEntry, Member
from bot.router import Args
from handlers.actions import commands as actions
from handlers.comm import DOMAIN, rules
from handlers.comm.export import cli
from handlers.comm.models import CommRecord
from handlers.comm.rules import State
from handlers.meetings.models import ACTION_IDS
from handlers.reports import commands as reports
from handlers.training import tips
from schedules import api
from schedules.api import Target
from schedules.models import Reminder

RECORD = "comm"
NEW_FLOW, RUN_FLOW, REVIEW_FLOW = "comm.new", "comm.run", "comm.review"
FOLLOWUP_KIND, REVIEW_KIND = "comm.followup", "comm.review"
ANSWER_KIND = "comm.answer"
LIST_LIMIT = 20
LESSONS_SHOWN = 2  # 优化改进: the last two "what to change next time" of the audience
LESSON_DUE = timedelta(days=7)  # an action item from a lesson, when no due time is given


def _choices(group: str, values: tuple[str, ...]) -> list[Choice]:
    return [Choice(v, f"comm.{group}.{v}") for v in values]


AUDIENCE_CHOICES = _choices("audience", rules.AUDIENCES)
GOAL_CHOICES = _choices("goal", rules.GOALS)
CHANNEL_CHOICES = _choices("channel", rules.CHANNELS)
CONTACT_CHOICES = _choices("contact_how", rules.CONTACT_HOW)
FOLLOWUP_CHOICES = _choices("followup_how", rules.FOLLOWUP_HOW)
PROBLEM_CHOICES = _choices("problem", rules.PROBLEMS)
# A button that sends the skip word: "not yet" on platforms with buttons.
NOT_YET = Choice("skip", "comm.not_yet")
SCORE_CHOICES = [Choice(str(n), str(n), literal=True) for n in range(1, 6)]


DOMAIN.cli = cli


@DOMAIN.command("comm", None, usage="comm.cmd.main")
def comm_main(ctx: Ctx, args: Args) -> Reply:
    word = args.get(0)
    if word and rules.IDS.parse(word):
        return _show(ctx, _load(ctx, word, "comm/show_usage"))
    return family_menu(ctx, "comm", word)


@DOMAIN.command("comm", "new", aliases=("新建",), usage="comm.cmd.new")
def comm_new(ctx: Ctx, args: Args) -> list[Reply]:
    return ctx.app.engine.start(ctx, NEW_FLOW, args.keywords)


@DOMAIN.command("comm", "run", aliases=("执行",), usage="comm.cmd.run")
def comm_run(ctx: Ctx, args: Args) -> list[Reply]:
    record = _load_own(ctx, args.get(0), "comm/run_usage")
    _require_runnable(record)
    return ctx.app.engine.start(ctx, RUN_FLOW, {"record": record.ref})


@DOMAIN.command("comm", "check", aliases=("勾选", "打勾"), usage="comm.cmd.check")
def comm_check(ctx: Ctx, args: Args) -> Reply:
    record = _load_own(ctx, args.get(0), "comm/check_usage", lock=True)
    number = rules.question_of(args.get(1))
    if number is not None:
        return _answer(ctx, record, number, args)
    step = rules.step_of(args.get(1))
    if step is None:
        raise UserError("comm/check_usage", ref=record.ref)
    if not rules.may_tick(rules.state_of(record)):
        raise UserError("comm/closed", ref=record.ref)
    before = rules.state_of(record)
    changes = _tick(ctx, record, step, args)
    ctx.audit(RECORD, record.ref, "check", {"step": step, **changes})
    _settle(ctx, record, before)
    return Reply("comm/checked", {"step": step, **_card(ctx, record)})


@DOMAIN.command("comm", "show", aliases=("查看",), usage="comm.cmd.show")
def comm_show(ctx: Ctx, args: Args) -> Reply:
    return _show(ctx, _load(ctx, args.get(0), "comm/show_usage"))


@DOMAIN.command("comm", "review", aliases=("复盘",), usage="comm.cmd.review")
def comm_review(ctx: Ctx, args: Args) -> list[Reply]:
    record = _load_own(ctx, args.get(0), "comm/review_usage")
    _require_reviewable(record)
    return ctx.app.engine.start(ctx, REVIEW_FLOW, {"record": record.ref})


@DOMAIN.command("comm", "list", aliases=("列表",), usage="comm.cmd.list")
def comm_list(ctx: Ctx, args: Args) -> Reply:
    found = rules.list_filter_of(args.get(0))
    if found is None:
        raise UserError("comm/list_usage", word=(args.get(0) or "")[:40])
    name, audience = found
    query = select(CommRecord)
    if name == "mine":
        query = query.where(CommRecord.owner_platform == ctx.member.platform,
                            CommRecord.owner_id == ctx.member.user_id)
    elif name == "open":
        query = query.where(CommRecord.state != State.REVIEWED)
    else:
        query = query.where(CommRecord.audience == audience)
    rows, more = _page(ctx.session, query.order_by(col(CommRecord.id).desc()))
    return Reply("comm/list", {"filter": name, "audience": audience, "more": more,
                               "rows": [_row(r) for r in rows]}, audience=Audience.USER)


@DOMAIN.command("comm", "cases", aliases=("案例",), usage="comm.cmd.cases")
def comm_cases(ctx: Ctx, args: Args) -> Reply:
    audience = None
    if args.get(0):
        audience = rules.audience_of(args.get(0))
        if audience is None:
            raise UserError("comm/cases_usage", word=(args.get(0) or "")[:40])
    query = select(CommRecord).where(CommRecord.state == State.REVIEWED)
    if audience:
        query = query.where(CommRecord.audience == audience)
    rows, more = _page(ctx.session, query.order_by(col(CommRecord.reviewed_at).desc(),
                                                   col(CommRecord.id).desc()))
    return Reply("comm/cases", {"audience": audience, "more": more,
                                "rows": [_row(r) for r in rows]}, audience=Audience.USER)


@DOMAIN.command("comm", "export", aliases=("导出",), usage="comm.cmd.export")
def comm_export(ctx: Ctx, args: Args) -> Reply:
    # A chat platform cannot take a file through the Reply model, so the export is a CLI
    # command on the bot's host; the chat says how many records it holds and how to get it.
    total = ctx.session.exec(select(func.count()).select_from(CommRecord)).one()
    return Reply("comm/export", {"count": total}, audience=Audience.USER)


@DOMAIN.command("comm", "lesson", aliases=("改进",), usage="comm.cmd.lesson")
def comm_lesson(ctx: Ctx, args: Args) -> Reply:
    """`/comm lesson K-… [due]`: a reviewed record's "what to change next time" becomes an
    action item of the member who asks, due in a week unless a time is given (优化改进)."""
    record = _load(ctx, args.get(0), "comm/lesson_usage")
    if record.reviewed_at is None or not record.review_improve:
        raise UserError("comm/no_lesson", ref=record.ref)
    raw = rules.unquote(args.text_after(1))
    due = (_read(parsers.when(future_only=True), raw, ctx) if raw
           else (ctx.now + LESSON_DUE).isoformat())
    year = ctx.now.astimezone(ctx.settings.zone).year
    entry = {"what": record.review_improve[:300], "due": due,
             "owner": {"platform": ctx.member.platform, "user_id": ctx.member.user_id,
                       "name": ctx.member.display_name}}
    item = actions.create(ctx, None, entry, ACTION_IDS.next(ctx.session, year)[1],
                          origin=RECORD, origin_ref=record.ref)
    return Reply("comm/lesson_action", {"ref": record.ref, "action": item.ref,
                                        "what": item.what, "due": item.due_at})


def lessons(session: Session, audience: str | None) -> list[dict[str, Any]]:
    """The last reviewed records of this audience that say what to change next time."""
    if not audience:
        return []
    rows = session.exec(
        select(CommRecord)
        .where(CommRecord.audience == audience, CommRecord.state == State.REVIEWED,
               CommRecord.review_improve != "")
        .order_by(col(CommRecord.reviewed_at).desc(), col(CommRecord.id).desc())
        .limit(LESSONS_SHOWN)).all()
    return [{"ref": r.ref, "improve": r.review_improve, "reviewed": r.reviewed_at,
             "subject": rules.title_of(r.audience_name, r.topic)} for r in rows]


def _audience_name(answer: str, ctx: Ctx) -> str:
    # A lesson's option picked by its number (console, DingTalk) arrives here as its command:
    # it is not a name; say how to send it.
    if answer.strip().startswith("/comm lesson"):
        raise InvalidAnswer("comm/lesson_typed", command=answer.strip()[:60])
    return parsers.text(max_len=100)(answer, ctx)


def _lesson_choices(ctx: Ctx, answers: dict[str, Any]) -> list[Choice]:
    # Pressing one sends the command: the action item is made and this draft goes on.
    return [Choice(f"/comm lesson {x['ref']}", "comm.lesson.make",
                   ref=x["ref"])
            for x in lessons(ctx.session, answers.get("audience"))]


@DOMAIN.reminder_kind(FOLLOWUP_KIND)
def remind_followup(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    record = _by_ref(session, reminder.record_id)
    if record is None or not rules.followup_still_open(record):
        return None
    ref = record.ref
    return Reply(
        "comm/remind_followup",
        {"ref": ref, "subject": rules.title_of(record.audience_name, record.topic),
         "started": record.started_at, "open": rules.open_steps(record)},
        choices=[Choice(f"/comm check {ref} followup email", "comm.remind.followup_email"),
                 Choice(f"/comm check {ref} followup call", "comm.remind.followup_call"),
                 Choice(f"/comm show {ref}", "comm.remind.show")],
    )


@DOMAIN.reminder_kind(ANSWER_KIND)
def remind_answer(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    record = _by_ref(session, reminder.record_id)
    number = int(reminder.payload.get("q", 0))
    if record is None or record.reviewed_at is not None:
        return None
    if not 0 < number <= len(record.feedback):
        return None
    item = record.feedback[number - 1]
    if not rules.question_open(item):
        return None
    ref = record.ref
    return Reply(
        "comm/remind_answer",
        {"ref": ref, "q": number, "text": item.get("text", ""), "asked": _at(item.get("at")),
         "subject": rules.title_of(record.audience_name, record.topic)},
        choices=[Choice(f"/comm show {ref}", "comm.remind.show")],
    )


@DOMAIN.reminder_kind(REVIEW_KIND)
def remind_review(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    record = _by_ref(session, reminder.record_id)
    if record is None or not rules.review_still_open(record):
        return None
    return Reply(
        "comm/remind_review",
        {"ref": record.ref, "subject": rules.title_of(record.audience_name, record.topic),
         "executed": record.executed_at},
        choices=[Choice(f"/comm review {record.ref}", "comm.remind.review_now")],
    )


# -- the three flows ---------------------------------------------------------------------------


def _new_flow() -> Flow:
    def customer(a: dict[str, Any]) -> bool:
        return a.get("audience") == "customer"

    return Flow(
        name=NEW_FLOW,
        steps=(
            Step("audience", "comm/ask_audience", choices=AUDIENCE_CHOICES),
            Step("audience_name", "comm/ask_audience_name", _audience_name,
                 choices=_lesson_choices),
            Step("complaint", "comm/ask_complaint", _complaint_answer, choices=_complaint_choices,
                 when=customer),
            Step("topic", "comm/ask_topic", parsers.text(max_len=80)),
            Step("goal", "comm/ask_goal", choices=GOAL_CHOICES),
            Step("goal_text", "comm/ask_goal_text", parsers.text(max_len=300)),
            Step("materials", "comm/ask_materials", parsers.text(max_len=500), collect=True,
                 optional=True, default=lambda ctx, a: []),
            Step("channel", "comm/ask_channel", choices=CHANNEL_CHOICES),
            Step("strategy", "comm/ask_strategy", parsers.text(max_len=300), optional=True,
                 default=lambda ctx, a: ""),
        ),
        summary="comm/new_summary",
        finish=_finish_new,
        values=lambda ctx, a: {
            "complaint_command": _complaint_command(a),
            # The materials step (收集与整理资料) offers the library's matching reports.
            "reports": [] if "materials" in a else reports.offered(
                ctx.session, a.get("audience_name", ""), a.get("topic", ""),
                a.get("goal_text", "")),
            # Where the audience is abroad, a note or two on how to talk to it.
            "cultural": tips.cultural_notes(a.get("audience_name", ""), a.get("topic", "")),
            # 优化改进: what earlier communications with this audience said to change.
            "lessons": lessons(ctx.session, a.get("audience")),
        },
    )


def _complaint_command(answers: dict[str, Any]) -> str:
    name = rules.command_safe(str(answers.get("audience_name", "")))
    return f'/complaint new customer="{name}"'


def _complaint_choices(ctx: Ctx, answers: dict[str, Any]) -> list[Choice]:
    # Pressing the first sends the command itself: the complaint flow replaces this one.
    return [Choice(_complaint_command(answers), "comm.complaint.switch"),
            Choice("no", "comm.complaint.stay")]


def _complaint_answer(answer: str, ctx: Ctx) -> str:
    word = answer.strip().lower()
    names = {"no", "n", "否", "不", "不是", "继续", "continue"}
    names |= {ctx.app.renderer.label(loc, "comm.complaint.stay").lower() for loc in ("zh", "en")}
    if word in names:
        return "no"
    # Typed rather than pressed (console, DingTalk): say which command opens the complaint.
    raise InvalidAnswer("comm/complaint_switch", command=_complaint_command(_current_answers(ctx)))


def _current_answers(ctx: Ctx) -> dict[str, Any]:
    conv = ctx.app.engine.current(ctx)
    return dict(conv.answers) if conv is not None else {}


def _record_step(purpose: str) -> Step:
    def parse(answer: str, ctx: Ctx) -> dict[str, Any]:
        ref = rules.IDS.parse(answer)
        record = _by_ref(ctx.session, ref) if ref else None
        if record is None:
            raise InvalidAnswer("comm/not_found", ref=answer.strip()[:40])
        OWNER.check(ctx, record, InvalidAnswer)
        state = rules.state_of(record)
        if purpose == "run" and not rules.may_run(state):
            raise InvalidAnswer("comm/not_runnable", ref=record.ref, state=str(state))
        if purpose == "review" and not rules.may_review(state):
            raise InvalidAnswer("comm/not_executed", ref=record.ref, state=str(state),
                                open=rules.open_steps(record))
        return {"ref": record.ref, "done": rules.done_steps(record),
                "subject": rules.title_of(record.audience_name, record.topic)}

    return Step("record", "comm/ask_record", parse)


def _open(step: str):  # noqa: ANN202
    def when(answers: dict[str, Any]) -> bool:
        return step not in answers.get("record", {}).get("done", [])

    return when


def _run_flow() -> Flow:
    contact_open = _open("contact")
    return Flow(
        name=RUN_FLOW,
        steps=(
            _record_step("run"),
            Step("contact_how", "comm/ask_contact_how", choices=[*CONTACT_CHOICES, NOT_YET],
                 parse=parsers.choice(CONTACT_CHOICES), optional=True, when=contact_open),
            Step("contact_at", "comm/ask_contact_at", parsers.when(past_only=True),
                 when=lambda a: contact_open(a) and a.get("contact_how") is not None),
            Step("message", "comm/ask_message", parsers.text(max_len=500), optional=True,
                 when=_open("message")),
            Step("feedback", "comm/ask_feedback", parsers.text(max_len=300), collect=True,
                 optional=True, when=_open("feedback")),
            Step("followup", "comm/ask_followup", choices=[*FOLLOWUP_CHOICES, NOT_YET],
                 parse=parsers.choice(FOLLOWUP_CHOICES), optional=True,
                 when=_open("followup")),
        ),
        summary="comm/run_summary",
        finish=_finish_run,
    )


def _review_flow() -> Flow:
    return Flow(
        name=REVIEW_FLOW,
        steps=(
            _record_step("review"),
            Step("score", "comm/ask_score", parsers.number(1, 5), choices=SCORE_CHOICES),
            Step("measure", "comm/ask_measure", parsers.text(max_len=300)),
            Step("problem", "comm/ask_problem", choices=PROBLEM_CHOICES),
            Step("problems", "comm/ask_problems", parsers.text(max_len=300), collect=True,
                 optional=True, default=lambda ctx, a: [],
                 when=lambda a: a.get("problem") not in (None, "none")),
            Step("improve", "comm/ask_improve", parsers.text(max_len=500)),
        ),
        summary="comm/review_summary",
        finish=_finish_review,
    )


# -- finishing: the only places that write ----------------------------------------------------


def _finish_new(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    year = ctx.now.astimezone(ctx.settings.zone).year
    seq, ref = rules.IDS.next(ctx.session, year)
    record = CommRecord(
        ref=ref, year=year, seq=seq, state=State.PREPARED,
        owner_platform=ctx.member.platform, owner_id=ctx.member.user_id,
        owner_name=ctx.member.display_name,
        audience=answers["audience"], audience_name=answers["audience_name"],
        topic=answers["topic"], goal=answers["goal"], goal_text=answers["goal_text"],
        materials=_as_list(answers.get("materials")), channel=answers["channel"],
        strategy=answers.get("strategy") or "", created_at=ctx.now, updated_at=ctx.now,
    )
    ctx.session.add(record)
    ctx.session.flush()
    plan = {k: answers.get(k) for k in ("audience", "audience_name", "topic", "goal",
                                         "goal_text", "materials", "channel", "strategy")}
    ctx.audit(RECORD, record.ref, "create", plan)
    replies = [Reply("comm/created", _card(ctx, record))]
    if record.audience == "media":
        # Quoted, so a topic that starts with a /tp subcommand word ("new ...") is searched.
        command = f'/tp "{rules.command_safe(record.topic)}"'
        replies.append(Reply("comm/hint_media", {"ref": record.ref, "command": command},
                             choices=[Choice(command, "comm.hint.tp")]))
    return replies


def _finish_run(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    record = _load_own(ctx, answers["record"]["ref"], "comm/run_usage", lock=True)
    if not rules.may_tick(rules.state_of(record)):
        raise UserError("comm/closed", ref=record.ref)
    before = rules.state_of(record)
    changes: dict[str, Any] = {}
    if answers.get("contact_how") and record.contact_at is None:
        record.contact_at = datetime.fromisoformat(answers["contact_at"])
        record.contact_how = answers["contact_how"]
        changes["contact"] = {"how": record.contact_how, "at": answers["contact_at"]}
    if answers.get("message") and record.message_at is None:
        record.message_at, record.message_text = ctx.now, answers["message"]
        changes["message"] = record.message_text
    if answers.get("feedback") is not None:
        items = _as_list(answers["feedback"])
        _add_feedback(ctx, record, items)
        changes["feedback"] = items
    if answers.get("followup") and record.followup_at is None:
        record.followup_at, record.followup_how = ctx.now, answers["followup"]
        changes["followup"] = record.followup_how
    if not changes:
        return [Reply("comm/run_nothing", _card(ctx, record))]
    ctx.audit(RECORD, record.ref, "run", changes)
    _settle(ctx, record, before)
    return [Reply("comm/run_done", {"ticked": list(changes), **_card(ctx, record)})]


def _finish_review(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    record = _load_own(ctx, answers["record"]["ref"], "comm/review_usage", lock=True)
    _require_reviewable(record)
    before = rules.state_of(record)
    record.review_score = int(answers["score"])
    record.review_measure = answers["measure"]
    record.review_problem = answers["problem"]
    record.review_problems = _as_list(answers.get("problems"))
    record.review_improve = answers["improve"]
    record.reviewed_at = ctx.now
    ctx.audit(RECORD, record.ref, "review", {
        k: answers.get(k) for k in ("score", "measure", "problem", "problems", "improve")})
    _settle(ctx, record, before)
    return [Reply("comm/reviewed", _card(ctx, record))]


def _as_list(value: Any) -> list[str]:
    # A list step prefilled from the command line (`materials=...`) holds one string.
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


# -- ticking the checklist ---------------------------------------------------------------------


def _tick(ctx: Ctx, record: CommRecord, step: str, args: Args) -> dict[str, Any]:
    """Tick one step from `/comm check ID step ...`; returns what changed, for the audit."""
    text = rules.unquote(args.text_after(2))
    if step == "feedback":
        if not text and record.feedback_done_at is not None:
            raise UserError("comm/already_done", ref=record.ref, step=step)
        items = [_read(parsers.text(max_len=300), text, ctx)] if text else []
        _add_feedback(ctx, record, items)
        return {"feedback": items}
    if rules.step_done(record, step):
        raise UserError("comm/already_done", ref=record.ref, step=step)
    if step == "contact":
        parts = rules.split_contact(args.text_after(2))
        if parts is None:
            raise UserError("comm/check_usage", ref=record.ref)
        how, at = parts
        record.contact_how = _read(parsers.choice(CONTACT_CHOICES), how, ctx) if how else "other"
        record.contact_at = (
            datetime.fromisoformat(_read(parsers.when(past_only=True), at, ctx)) if at
            else ctx.now
        )
        return {"how": record.contact_how, "at": record.contact_at.isoformat()}
    if step == "message":
        record.message_text = _read(parsers.text(max_len=500), text, ctx) if text else ""
        record.message_at = ctx.now
        return {"message": record.message_text}
    how = args.get(2)
    record.followup_how = _read(parsers.choice(FOLLOWUP_CHOICES), how, ctx) if how else ""
    record.followup_at = ctx.now
    return {"how": record.followup_how}


def _read(parse: parsers.Parser, text: str, ctx: Ctx) -> Any:
    try:
        return parse(text, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None


def _add_feedback(ctx: Ctx, record: CommRecord, items: list[str]) -> None:
    """Each question or suggestion is an open item (互动反馈) owned by the record's owner,
    numbered q1, q2… in the order recorded; it reminds its owner until it is answered."""
    owner = {"platform": record.owner_platform, "id": record.owner_id,
             "name": record.owner_name}
    entries = [{"at": ctx.now.isoformat(), "text": t, "by": ctx.member.display_name,
                "owner": owner} for t in items]
    first = len(record.feedback) + 1
    # A new list, so the JSON column is seen as changed.
    record.feedback = [*record.feedback, *entries]
    if record.feedback_done_at is None:
        record.feedback_done_at = ctx.now
    for number, entry in enumerate(entries, start=first):
        api.plan(ctx.session, key=rules.answer_key(record.ref, number), kind=ANSWER_KIND,
                 due=ctx.now + ctx.settings.comm.answer,
                 target=Target.member(owner["platform"], owner["id"]),
                 record_type=RECORD, record_id=record.ref,
                 payload={"q": number, "title": f"q{number} {entry['text'][:60]}"})


def _answer(ctx: Ctx, record: CommRecord, number: int, args: Args) -> Reply:
    """`/comm check ID q2 answered <how>`: closes the question's open item."""
    if not rules.may_tick(rules.state_of(record)):
        raise UserError("comm/closed", ref=record.ref)
    if not 0 < number <= len(record.feedback):
        raise UserError("comm/no_question", ref=record.ref, q=number,
                        count=len(record.feedback))
    item = dict(record.feedback[number - 1])
    if not rules.question_open(item):
        raise UserError("comm/question_answered", ref=record.ref, q=number,
                        at=_at(item.get("answered_at")))
    words = args.text_after(2).strip()
    first, _, rest = words.partition(" ")
    if rules.answered_word(first):
        words = rest
    elif words:
        raise UserError("comm/answer_usage", ref=record.ref, q=number)
    text = _read(parsers.text(max_len=300), rules.unquote(words), ctx) if words.strip() else ""
    item.update(answered_at=ctx.now.isoformat(), answer=text,
                answered_by=ctx.member.display_name)
    feedback = list(record.feedback)
    feedback[number - 1] = item
    record.feedback = feedback
    record.updated_at = ctx.now
    ctx.session.add(record)
    api.cancel(ctx.session, key=rules.answer_key(record.ref, number))
    ctx.audit(RECORD, record.ref, "answer", {"q": number, "answer": text})
    return Reply("comm/answered", {"q": number, "question": item.get("text", ""),
                                   "answer": text, **_card(ctx, record)})


def _at(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _settle(ctx: Ctx, record: CommRecord, before: State) -> None:
    """After any change: the state that follows from the checklist, and the reminders that
    belong to it (planned when a state is entered, cancelled when it no longer applies)."""
    after = rules.state_of(record)
    record.state, record.updated_at = after, ctx.now
    keys = rules.reminder_keys(record.ref)
    owner = Target.member(record.owner_platform, record.owner_id)
    title = rules.title_of(record.audience_name, record.topic)
    if before == State.PREPARED and after != State.PREPARED:
        record.started_at = ctx.now
        if record.followup_at is None:
            api.plan(ctx.session, key=keys["followup"], kind=FOLLOWUP_KIND,
                     due=rules.followup_due(ctx.now, ctx.settings.comm.followup),
                     target=owner, record_type=RECORD, record_id=record.ref,
                     payload={"title": title})
    if record.followup_at is not None:
        api.cancel(ctx.session, key=keys["followup"])
    if after == State.EXECUTED and before != State.EXECUTED:
        record.executed_at = ctx.now
        api.plan(ctx.session, key=keys["review"], kind=REVIEW_KIND,
                 due=rules.review_due(ctx.now, ctx.settings.comm.review),
                 target=owner, record_type=RECORD, record_id=record.ref,
                 payload={"title": title})
    if after == State.REVIEWED:
        api.cancel(ctx.session, record_type=RECORD, record_id=record.ref)
    ctx.session.add(record)


# -- finding records ---------------------------------------------------------------------------


def _by_ref(session: Session, ref: str | None, lock: bool = False) -> CommRecord | None:
    # Locked: two people ticking the same record at once must not both read it unticked.
    return records.find(session, CommRecord, ref, lock=lock) if ref else None


def _load(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> CommRecord:
    return records.load(ctx.session, CommRecord, rules.IDS, raw, missing="comm/not_found",
                        lock=lock, usage=usage)


OWNER = records.Who("comm/not_owner", people=("owner",), roles=("admin",),
                    about=lambda record: {"owner": record.owner_name})


def _load_own(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> CommRecord:
    return records.load_allowed(ctx, CommRecord, rules.IDS, raw, OWNER, missing="comm/not_found",
                                lock=lock, usage=usage)


def _require_runnable(record: CommRecord) -> None:
    state = rules.state_of(record)
    if not rules.may_run(state):
        raise UserError("comm/not_runnable", ref=record.ref, state=str(state))


def _require_reviewable(record: CommRecord) -> None:
    state = rules.state_of(record)
    if state == State.REVIEWED:
        raise UserError("comm/closed", ref=record.ref)
    if not rules.may_review(state):
        raise UserError("comm/not_executed", ref=record.ref, state=str(state),
                        open=rules.open_steps(record))


def _page(session: Session, query) -> tuple[list[CommRecord], bool]:  # noqa: ANN001
    rows = list(session.exec(query.limit(LIST_LIMIT + 1)).all())
    return rows[:LIST_LIMIT], len(rows) > LIST_LIMIT


# -- what the member sees ----------------------------------------------------------------------


def _row(r: CommRecord) -> dict[str, Any]:
    return {
        "ref": r.ref, "state": r.state, "audience": r.audience, "audience_name": r.audience_name,
        "topic": r.topic, "owner": r.owner_name, "created": r.created_at,
        "reviewed": r.reviewed_at, "score": r.review_score, "improve": r.review_improve,
        "problem": r.review_problem, "problems": list(r.review_problems),
        "measure": r.review_measure, **rules.progress(r),
    }


def _checklist(r: CommRecord) -> list[dict[str, Any]]:
    details = {
        "contact": {"at": r.contact_at, "how": r.contact_how},
        "message": {"at": r.message_at, "text": r.message_text},
        "feedback": {"at": r.feedback_done_at, "items": _questions(r)},
        "followup": {"at": r.followup_at, "how": r.followup_how},
    }
    return [{"step": s, "done": rules.step_done(r, s), **details[s]} for s in rules.STEPS]


def _questions(r: CommRecord) -> list[dict[str, Any]]:
    return [{**f, "q": n, "open": rules.question_open(f), "answered": _at(f.get("answered_at")),
             "owner_name": (f.get("owner") or {}).get("name") or r.owner_name}
            for n, f in enumerate(r.feedback, start=1)]


def _card(ctx: Ctx, r: CommRecord) -> dict[str, Any]:
    plan = {"audience": r.audience, "audience_name": r.audience_name, "topic": r.topic,
            "goal": r.goal, "goal_text": r.goal_text, "materials": list(r.materials),
            "channel": r.channel, "strategy": r.strategy}
    return {
        **_row(r), "plan": plan,
        "goal": r.goal, "goal_text": r.goal_text, "materials": list(r.materials),
        "channel": r.channel, "strategy": r.strategy, "checklist": _checklist(r),
        "started": r.started_at, "executed": r.executed_at,
        "open": rules.open_steps(r), "timeline": [],
        "followup_after": ctx.settings.comm.followup, "review_after": ctx.settings.comm.review,
    }


def _show(ctx: Ctx, record: CommRecord) -> Reply:
    entries = ctx.session.exec(
        select(AuditEntry)
        .where(AuditEntry.record_type == RECORD, AuditEntry.record_id == record.ref)
        .order_by(col(AuditEntry.at), col(AuditEntry.id))
    ).all()
    names = _actor_names(ctx.session, {e.actor for e in entries})
    timeline = [{"at": e.at, "who": names.get(e.actor, e.actor), "action": e.action,
                 "step": str(e.changes.get("step", ""))} for e in entries]
    return Reply("comm/card", {**_card(ctx, record), "timeline": timeline})


def _actor_names(session: Session, actors: set[str]) -> dict[str, str]:
    names: dict[str, str] = {}
    for actor in actors:
        platform, _, user_id = actor.partition(":")
        member = session.exec(
            select(Member).where(Member.platform == platform, Member.user_id == user_id)
        ).first()
        if member is not None:
            names[actor] = member.display_name
    return names


DOMAIN.flow(_new_flow())
DOMAIN.flow(_run_flow())
DOMAIN.flow(_review_flow())
