"""`/complaint` (投诉): the handbook's complaint handling. Respond within 24 hours, record the
details with a named owner, propose a solution and follow it through.

Intake is a flow (one question at a time, values given up front are not asked again); the
lifecycle is one command per step. Rules (state machine, clocks, permissions, privacy) live in
rules.py, storage and template values in store.py; this module wires them to
the chat and to the reminder engine.
"""

from __future__ import annotations

import unicodedata
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlmodel import Session, and_, col, func, or_, select

from bot import parsers, records, workcal
from bot.confirm import ask_first, without_confirm
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.db import Direct
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.messages import Audience, Choice, Reply
from bot.router import Args
from bot.routes import routed
from handlers import principles
from handlers.calendar.store import from_spec
from handlers.complaints import DOMAIN, rules, store
from handlers.complaints.models import (
    MAX_CONTACT,
    MAX_CUSTOMER,
    MAX_DETAILS,
    MAX_REASON,
    MAX_SUMMARY,
    MAX_TEXT,
    Complaint,
)
from handlers.glossary import commands as glossary
from handlers.principles.domain import lists as principle_lists
from schedules.models import Reminder

FLOW = "complaint"
RESPOND_FLOW = "complaint_respond"  # a response asked for in the conversation
LIST_LIMIT = 20

CHANNEL_SYNONYMS = {
    "phone": ("tel", "call", "phone call", "电话", "来电", "打电话"),
    "email": ("mail", "e-mail", "邮件", "电子邮件", "邮箱"),
    "social": ("social media", "weibo", "wechat", "社交媒体", "微博", "微信", "社媒"),
    "in_person": ("in person", "in-person", "visit", "当面", "现场", "面对面", "上门"),
    "other": ("其他", "其它"),
}
SEVERITY_SYNONYMS = {
    "low": ("低", "轻微", "minor"),
    "normal": ("medium", "中", "一般", "普通"),
    "high": ("高", "严重", "major"),
    "critical": ("urgent", "紧急", "危急", "非常严重"),
}
# Chinese names for the fields that may be given up front: /投诉 新建 客户=ACME 严重程度=高
FIELD_ALIASES = {
    "客户": "customer", "客户名称": "customer", "联系方式": "contact", "联系人": "contact",
    "渠道": "channel", "来源": "channel", "via": "channel", "摘要": "summary", "概要": "summary",
    "详情": "details", "内容": "details", "严重程度": "severity", "级别": "severity",
    "收到": "received", "接收时间": "received", "时间": "received", "负责人": "owner",
}
FILTERS = {
    "mine": ("mine", "my", "我的"),
    "open": ("open", "未结", "未关闭", "进行中", "处理中"),
    "overdue": ("overdue", "late", "逾期", "超时", "已超时"),
    "all": ("all", "全部", "所有"),
}


@DOMAIN.digest
def overdue_digest(session: Session, now: datetime) -> dict[str, list[dict[str, Any]]]:
    rows = session.exec(
        select(Complaint)
        .where(Complaint.status == "new", col(Complaint.paused_at).is_(None),
               col(Complaint.due_at) < now)
        .order_by(col(Complaint.due_at))
    ).all()
    items = [{"id": c.ref, "title": c.summary, "due": c.due_at,
              "owner": c.owner_name if c.has_owner else ""} for c in rows]
    return {"complaints": items} if items else {}


# -- intake ------------------------------------------------------------------------------------


def _choices(kind: str, values: tuple[str, ...]) -> list[Choice]:
    return [Choice(v, f"complaints.{kind}.{v}") for v in values]


def _default_owner(ctx: Ctx, answers: dict[str, Any]) -> dict[str, str] | None:
    # An agent who files a complaint handles it; anyone else leaves it for the channel to pick.
    if ctx.has_role("agent"):
        return parsers.MemberRef(
            ctx.member.platform, ctx.member.user_id, ctx.member.display_name
        ).as_json()
    return None


def _flow_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {"is_agent": ctx.has_role("agent")}
    severity = answers.get("severity")
    if severity:
        values["sla"] = ctx.settings.complaints.sla_for(severity)
        if answers.get("received"):
            received = datetime.fromisoformat(answers["received"])
            values["due"] = rules.response_due(received, values["sla"],
                                               store.calendar(ctx.session, ctx.settings))
    return values


def _intake_flow() -> Flow:
    channels = _choices("channel", rules.CHANNELS)
    severities = _choices("severity", rules.SEVERITIES)
    return Flow(
        name=FLOW,
        steps=(
            Step("customer", "complaints/ask_customer", parsers.text(MAX_CUSTOMER)),
            Step("contact", "complaints/ask_contact", parsers.text(MAX_CONTACT), optional=True,
                 default=lambda ctx, answers: ""),
            Step("channel", "complaints/ask_channel",
                 parsers.choice(channels, CHANNEL_SYNONYMS), choices=channels),
            Step("summary", "complaints/ask_summary", parsers.text(MAX_SUMMARY)),
            Step("details", "complaints/ask_details",
                 parsers.text(MAX_DETAILS, single_line=False)),
            Step("severity", "complaints/ask_severity",
                 parsers.choice(severities, SEVERITY_SYNONYMS), choices=severities),
            Step("received", "complaints/ask_received", parsers.when(past_only=True), optional=True,
                 default=lambda ctx, answers: ctx.now.isoformat()),
            Step("owner", "complaints/ask_owner", parsers.parse_mention, optional=True,
                 default=_default_owner),
        ),
        summary="complaints/confirm",
        finish=_create,
        values=_flow_values,
    )


def _create(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    settings = ctx.settings
    severity = answers["severity"]
    received = datetime.fromisoformat(answers.get("received") or ctx.now.isoformat())
    year = ctx.now.astimezone(settings.zone).year
    seq, ref = rules.IDS.next(ctx.session, year)
    owner = answers.get("owner")
    cal = store.calendar(ctx.session, settings)
    c = Complaint(
        ref=ref, year=year, seq=seq,
        customer=answers["customer"], contact=answers.get("contact") or "",
        channel=answers["channel"], summary=answers["summary"], details=answers["details"],
        severity=severity, status="new", received_at=received,
        due_at=rules.response_due(received, settings.complaints.sla_for(severity), cal),
        resolve_due_at=workcal.add_working(cal, received,
                                           settings.complaints.resolve_for(severity)),
        run_since=received,
        reporter_platform=ctx.member.platform, reporter_id=ctx.member.user_id,
        reporter_name=ctx.member.display_name,
        owner_platform=owner["platform"] if owner else None,
        owner_id=owner["user_id"] if owner else None,
        owner_name=owner["name"] if owner else "",
        created_at=ctx.now, updated_at=ctx.now,
    )
    ctx.session.add(c)
    ctx.session.flush()
    ctx.audit(store.RECORD, c.ref, "create", {
        "customer": c.customer, "channel": c.channel, "summary": c.summary,
        "severity": c.severity, "received": c.received_at.isoformat(),
        "due": c.due_at.isoformat(), "owner": c.owner_name or None,
        "resolve_due": c.resolve_due_at.isoformat() if c.resolve_due_at else None,
    })
    store.replan(ctx.session, c, settings, ctx.now)
    mention = store.owner_mention(c)
    replies = [
        Reply("complaints/created", {"c": _view(ctx, c, full=False), "owner": mention,
                                     "sla": settings.complaints.sla_for(severity),
                                     "routed": ctx.app.has_route(ctx.session, "complaints")}),
        _card(c, ctx.now, intro="new", cal=cal),
    ]
    if c.has_owner and not rules.is_owner(c, ctx.member.platform, ctx.member.user_id):
        replies.append(_owner_dm(c, ctx.now, intro="assigned", cal=cal))
    return replies


def _view(ctx: Ctx, c: Complaint, *, full: bool) -> dict[str, Any]:
    return store.view(c, ctx.now, full=full, cal=store.calendar(ctx.session, ctx.settings))


def _card(c: Complaint, now: datetime, *, intro: str,
          cal: workcal.Calendar = rules.ALWAYS) -> Reply:
    """The card in the complaints channel; unowned complaints carry a button to take them."""
    take = [] if c.has_owner else [
        Choice(f"/complaint assign {c.ref} me", "complaints.take", style="primary")
    ]
    return Reply("complaints/card",
                 {"c": store.view(c, now, full=True, cal=cal), "owner": store.owner_mention(c),
                  "intro": intro},
                 choices=take, audience=Audience.PURPOSE, purpose="complaints")


def _owner_dm(c: Complaint, now: datetime, *, intro: str,
              cal: workcal.Calendar = rules.ALWAYS) -> Reply:
    assert c.owner_platform and c.owner_id
    return Reply("complaints/card",
                 {"c": store.view(c, now, full=True, cal=cal), "owner": store.owner_mention(c),
                  "intro": intro},
                 audience=Audience.MEMBER, member=(c.owner_platform, c.owner_id))


# -- commands ----------------------------------------------------------------------------------


def _usage(name: str) -> UserError:
    return UserError("complaints/usage", usage=f"complaints.cmd.{name}")


def _load(ctx: Ctx, raw: str | None, command: str, *, for_update: bool = False) -> Complaint:
    ref = rules.IDS.parse(raw)
    if ref is None:
        if raw:
            raise UserError("complaints/bad_id", text=raw[:40], usage=f"complaints.cmd.{command}")
        raise _usage(command)
    return records.load(ctx.session, Complaint, rules.IDS, ref, missing="complaints/not_found",
                        lock=for_update)


CHANGERS = records.Who(
    "complaints/not_allowed",
    rule=lambda ctx, c: rules.can_change(c, ctx.member.platform, ctx.member.user_id, ctx.roles),
    about=lambda c: {"owner": c.owner_name if c.has_owner else ""})


def _check(c: Complaint, action: str, *, has_text: bool = True) -> None:
    try:
        rules.check(action, c, has_text=has_text)
    except rules.Refused as refused:
        raise UserError("complaints/refused", ref=c.ref, action=action, reason=refused.reason,
                        status=c.status) from None


def _text(args: Args, after: int, limit: int, *, command: str, required: bool) -> str:
    value = unicodedata.normalize("NFC", args.text_after(after)).strip()
    if required and not value:
        raise _usage(command)
    if len(value) > limit:
        raise UserError("complaints/too_long", limit=limit, length=len(value))
    return value


def _leave_pause(ctx: Ctx, c: Complaint) -> None:
    """Before a step: the working time of the running clocks is counted. A paused clock ends
    with the stage it paused (answered, followed up, closed); the resolution clock, paused
    with it, runs again from now."""
    now = ctx.now
    cal = store.calendar(ctx.session, ctx.settings)
    if c.paused_at is None:
        rules.stop_stretch(c, cal, now)
        return
    c.paused_seconds += int(rules.resume_shift(c, now).total_seconds())
    c.paused_at = None
    c.pause_reason = ""
    if c.run_since is not None:
        rules.restart_resolution(c, cal, now, ctx.settings.complaints.resolve_for(c.severity))


def _save(ctx: Ctx, c: Complaint, action: str, changes: dict[str, Any]) -> None:
    c.updated_at = ctx.now
    ctx.session.add(c)
    ctx.audit(store.RECORD, c.ref, action, changes)
    store.replan(ctx.session, c, ctx.settings, ctx.now)


def _done(ctx: Ctx, c: Complaint, action: str, **extra: Any) -> Reply:
    return Reply("complaints/updated", {"action": action, "c": _view(ctx, c, full=False),
                                        **extra})


def _sees_full(ctx: Ctx, c: Complaint, place: str) -> bool:
    return rules.sees_full(
        place, owner=rules.is_owner(c, ctx.member.platform, ctx.member.user_id),
        agent=rules.can_take(ctx.roles),
        filer=rules.is_filer(c, ctx.member.platform, ctx.member.user_id),
    )


def _place(ctx: Ctx) -> str:
    inbound = ctx.inbound
    return store.place_of(ctx.session, inbound.platform, inbound.channel, inbound.direct)


@DOMAIN.command("complaint", None, usage="complaints.cmd.main")
def main(ctx: Ctx, args: Args) -> Reply:
    first = args.get(0)
    if first and rules.IDS.parse(first):
        return show(ctx, args)
    return family_menu(ctx, "complaint", first)


@DOMAIN.command("complaint", "new", aliases=("新建", "创建", "add"), usage="complaints.cmd.new")
def new(ctx: Ctx, args: Args) -> list[Reply]:
    prefill = {FIELD_ALIASES.get(k, k): v for k, v in args.keywords.items()}
    return ctx.app.engine.start(ctx, FLOW, prefill)


def _list_queries() -> dict[str, tuple[Direct, Direct]]:
    """Per filter of `/complaint list`: the count and the newest LIST_LIMIT rows, built once
    (building them cost more than running them). Core, and only the columns a listing shows
    (`store.LISTED`): loading twenty whole Complaints through the ORM, a dozen timestamps
    each, was a third of the command. Run as `Direct` statements, compiled once: SQLAlchemy's
    execution of the two (the open statuses' IN list expanded anew each time) cost as much as
    SQLite's (issue 22); the statuses are named parameters for that reason. Parameters: the
    member's `platform` and `user` (mine), `now` (overdue), and the constants (_LIST_PARAMS)."""
    platform, user, now = bindparam("platform"), bindparam("user"), bindparam("now")
    table = Complaint.__table__
    where = {
        # owned or filed by me
        "mine": (or_(and_(Complaint.owner_platform == platform, Complaint.owner_id == user),
                     and_(Complaint.reporter_platform == platform,
                          Complaint.reporter_id == user)),
                 Complaint.status != bindparam("status_closed")),
        "open": (col(Complaint.status).in_([bindparam(name) for name in _OPEN_PARAMS]),),
        "overdue": (Complaint.status == bindparam("status_new"), col(Complaint.paused_at).is_(None),
                    col(Complaint.due_at) < now),
        "all": (),
    }
    return {
        which: (Direct(core_select(func.count().label("n")).select_from(table)
                       .where(*conditions)),
                Direct(core_select(*(table.c[name] for name in store.LISTED)).where(*conditions)
                       .order_by(table.c.created_at.desc(), table.c.id.desc())
                       .limit(bindparam("limit")).offset(bindparam("offset"))))
        for which, conditions in where.items()
    }


_OPEN_PARAMS = {f"status_{n}": status for n, status in enumerate(rules.OPEN_STATUSES)}
# Direct takes every value as a parameter, the constants too.
_LIST_PARAMS = {**_OPEN_PARAMS, "status_closed": "closed", "status_new": "new",
                "limit": LIST_LIMIT, "offset": 0}  # (SQLite's LIMIT comes with an OFFSET)
_LIST_QUERIES = _list_queries()


@DOMAIN.command("complaint", "list", aliases=("列表", "ls"), usage="complaints.cmd.list")
def list_(ctx: Ctx, args: Args) -> Reply:
    word = (args.get(0) or "open").lower()
    which = next((k for k, words in FILTERS.items() if word in words), None)
    if which is None:
        raise _usage("list")
    count, rows_of = _LIST_QUERIES[which]
    params = {"platform": ctx.member.platform, "user": ctx.member.user_id, "now": ctx.now,
              **_LIST_PARAMS}
    # On the session's connection, without the ORM's layer: nothing this command did before
    # changed a complaint, so no flush is owed.
    connection = ctx.session.connection()
    total = count.rows(connection, params)[0]["n"]
    found = [SimpleNamespace(**row) for row in rows_of.rows(connection, params)]
    place = _place(ctx)
    cal = store.calendar(ctx.session, ctx.settings)  # once for the whole list
    rows = [store.listed(c, ctx.now, full=_sees_full(ctx, c, place), cal=cal) for c in found]
    # The next step on the person's own new complaints: answering them (the command asks
    # for the text). The App Home shows these buttons with the list.
    respond = [Choice(f"/complaint respond {c.ref}", "complaints.respond_item", ref=c.ref)
               for c in found if which == "mine" and c.status == "new"]
    return Reply("complaints/list", {"rows": rows, "which": which, "total": total,
                                     "limited": any(not r["full"] for r in rows)},
                 choices=respond)


@DOMAIN.command("complaint", "show", aliases=("查看", "详情"), usage="complaints.cmd.show")
def show(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "show")
    full = _sees_full(ctx, c, _place(ctx))
    return Reply("complaints/show", {
        "c": _view(ctx, c, full=full),
        "owner": store.owner_mention(c) if full else None,
        "timeline": store.timeline(ctx.session, c) if full else [],
    })


@DOMAIN.command("complaint", "assign", aliases=("指派", "分配", "认领", "take"),
     usage="complaints.cmd.assign")
def assign(ctx: Ctx, args: Args) -> list[Reply]:
    c = _load(ctx, args.get(0), "assign", for_update=True)
    who = args.get(1)
    if not who:
        raise _usage("assign")
    CHANGERS.check(ctx, c)
    _check(c, "assign")
    try:
        ref = parsers.parse_mention(who, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None
    values = {"c": _view(ctx, c, full=False), "owner": store.owner_mention(c)}
    if rules.is_owner(c, ref["platform"], ref["user_id"]):
        return [Reply("complaints/assigned", {**values, "unchanged": True})]
    old = c.owner_name if c.has_owner else None
    c.owner_platform, c.owner_id, c.owner_name = ref["platform"], ref["user_id"], ref["name"]
    _save(ctx, c, "assign", {"owner": [old, c.owner_name]})
    replies = [Reply("complaints/assigned", {"c": _view(ctx, c, full=False),
                                             "owner": store.owner_mention(c),
                                             "unchanged": False})]
    if not rules.is_owner(c, ctx.member.platform, ctx.member.user_id):
        replies.append(_owner_dm(c, ctx.now, intro="assigned",
                                 cal=store.calendar(ctx.session, ctx.settings)))
    return replies


@DOMAIN.command("complaint", "respond", aliases=("响应", "回复", "reply"),
                usage="complaints.cmd.respond")
def respond(ctx: Ctx, args: Args) -> Reply | list[Reply]:
    c = _load(ctx, args.get(0), "respond", for_update=True)
    text = _text(args, 1, MAX_TEXT, command="respond", required=False)
    CHANGERS.check(ctx, c)
    _check(c, "respond")
    if not text:  # (the App Home's "respond" button) the response is asked for, then confirmed
        return ctx.app.engine.start(ctx, RESPOND_FLOW, {"complaint": c.ref})
    return _record_response(ctx, c, text)


def _respond_flow() -> Flow:
    return Flow(
        name=RESPOND_FLOW,
        steps=(
            Step("complaint", "complaints/ask_response", _complaint_ref),  # given with the command
            Step("response", "complaints/ask_response", parsers.text(MAX_TEXT, single_line=False)),
        ),
        summary="complaints/confirm_response",
        finish=_responded,
        values=lambda ctx, answers: {"hints": _hints(ctx, answers.get("response") or "")},
    )


def _hints(ctx: Ctx, text: str) -> list[dict[str, Any]]:
    """What the customer is told, checked against the handbook's principles (absolute claims,
    vague or emotional wording, discriminatory terms, the glossary's avoided forms): hints to
    the agent, never a refusal."""
    return [h.as_values() for h in principles.check(text, principle_lists(ctx.session),
                                                    glossary.pairs(ctx.session))]


def _complaint_ref(answer: str, ctx: Ctx) -> str:
    ref = rules.IDS.parse(answer)
    if ref is None:
        raise InvalidAnswer("complaints/usage", usage="complaints.cmd.respond")
    return ref


def _responded(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    c = _load(ctx, answers["complaint"], "respond", for_update=True)
    CHANGERS.check(ctx, c)
    _check(c, "respond")  # (answered meanwhile by someone else: said so, nothing written)
    return [_record_response(ctx, c, answers["response"])]


def _record_response(ctx: Ctx, c: Complaint, text: str) -> Reply:
    _leave_pause(ctx, c)
    on_time = ctx.now <= c.due_at
    taken = ctx.now - c.received_at
    c.status, c.responded_at, c.response = "responded", ctx.now, text
    _save(ctx, c, "respond", {"text": text, "on_time": on_time})
    return _done(ctx, c, "respond", on_time=on_time, taken=taken,
                 late_by=max(ctx.now - c.due_at, timedelta(0)), hints=_hints(ctx, text))


@DOMAIN.command("complaint", "solution", aliases=("方案", "解决方案"),
                usage="complaints.cmd.solution")
def solution(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "solution", for_update=True)
    text = _text(args, 1, MAX_TEXT, command="solution", required=True)
    CHANGERS.check(ctx, c)
    _check(c, "solution")
    revised = c.status == "solution"
    _leave_pause(ctx, c)
    every = ctx.settings.complaints.followup
    c.status, c.solution, c.solution_at = "solution", text, ctx.now
    c.followup_due_at = ctx.now + every
    # A revised solution needs its own follow-up; the earlier one stays in the timeline.
    c.followup, c.followup_at = "", None
    _save(ctx, c, "solution", {"text": text, "revised": revised})
    return _done(ctx, c, "solution", followup_due=c.followup_due_at, revised=revised,
                 hints=_hints(ctx, text))


@DOMAIN.command("complaint", "followup", aliases=("回访", "跟进", "follow-up"),
     usage="complaints.cmd.followup")
def followup(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "followup", for_update=True)
    text = _text(args, 1, MAX_TEXT, command="followup", required=True)
    CHANGERS.check(ctx, c)
    _check(c, "followup")
    _leave_pause(ctx, c)
    c.status, c.followup, c.followup_at, c.followup_due_at = (
        "followed_up", text, ctx.now, None)
    _save(ctx, c, "followup", {"text": text})
    return _done(ctx, c, "followup")


@DOMAIN.command("complaint", "satisfaction", aliases=("满意度", "评分", "csat"),
     usage="complaints.cmd.satisfaction")
def satisfaction(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "satisfaction", for_update=True)
    score_word = parsers.read_number(args.get(1) or "")
    if not score_word.isdigit() or not 1 <= int(score_word) <= 5:
        raise _usage("satisfaction")
    comment = _text(args, 2, MAX_REASON, command="satisfaction", required=False)
    CHANGERS.check(ctx, c)
    _check(c, "satisfaction")
    old = c.satisfaction
    c.satisfaction, c.satisfaction_comment = int(score_word), comment
    _save(ctx, c, "satisfaction", {"score": [old, c.satisfaction], "text": comment})
    return _done(ctx, c, "satisfaction", score=c.satisfaction)


@DOMAIN.command("complaint", "note", aliases=("备注", "记录"), usage="complaints.cmd.note")
def note(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "note", for_update=True)
    text = _text(args, 1, MAX_TEXT, command="note", required=True)
    CHANGERS.check(ctx, c)
    _check(c, "note")
    _save(ctx, c, "note", {"text": text})
    return _done(ctx, c, "note")


@DOMAIN.command("complaint", "resolve", aliases=("解决", "已解决"), usage="complaints.cmd.resolve")
def resolve(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "resolve", for_update=True)
    CHANGERS.check(ctx, c)
    _check(c, "resolve")
    _leave_pause(ctx, c)
    c.status, c.resolved_at = "resolved", ctx.now
    _save(ctx, c, "resolve", {})
    return _done(ctx, c, "resolve")


@DOMAIN.command("complaint", "close", aliases=("关闭", "结案"), usage="complaints.cmd.close")
def close(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "close", for_update=True)
    reason = _text(without_confirm(args), 1, MAX_REASON, command="close", required=False)
    CHANGERS.check(ctx, c)
    _check(c, "close", has_text=bool(reason))
    if ask := ask_first(ctx, args, "complaints/close_ask", {"ref": c.ref, "reason": reason}):
        return ask
    _leave_pause(ctx, c)
    before = c.status
    c.status, c.closed_at, c.close_reason = "closed", ctx.now, reason
    _save(ctx, c, "close", {"text": reason, "from": before})
    reply = _done(ctx, c, "close", survey=_survey_offer(ctx, c))
    if reply.values["survey"]:
        # The owner agreeing sends the customer the follow-up survey (`/survey send C-…`),
        # in the customer's language: the complaint records none, so the owner picks it.
        reply.choices = [Choice(f"/survey send {c.ref} {lang}", f"surveys.send_button_{lang}",
                                style="primary" if lang == ctx.locale else None)
                         for lang in ("zh", "en")]
    return reply


def _survey_offer(ctx: Ctx, c: Complaint) -> str:
    """The customer's e-mail address when the satisfaction survey can be offered: the
    survey pages are served (LIAISON_PUBLIC_URL) and the contact field holds an address;
    else ""."""
    if "survey" not in ctx.app.registry.families or not ctx.settings.web_served("surveys"):
        return ""
    from handlers.surveys.rules import email_in

    return email_in(c.contact)


@DOMAIN.command("complaint", "reopen", aliases=("重开", "重新打开"), usage="complaints.cmd.reopen")
def reopen(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "reopen", for_update=True)
    reason = _text(args, 1, MAX_REASON, command="reopen", required=False)
    CHANGERS.check(ctx, c)
    _check(c, "reopen", has_text=bool(reason))
    before = c.status
    cal = store.calendar(ctx.session, ctx.settings)
    c.run_since = ctx.now
    if c.responded_at is None:
        # Never answered: the response clock starts again from the reopening.
        c.status = "new"
        c.due_at = rules.response_due(ctx.now, ctx.settings.complaints.sla_for(c.severity), cal)
        c.breached_at = None
        c.response_worked, c.escalation_level = 0, 0
    else:
        c.status = "responded"  # answered before; a new solution is needed
    c.closed_at = c.resolved_at = c.followup_at = c.followup_due_at = None
    c.close_reason = ""
    # The resolution clock goes on with what was left of it.
    rules.restart_resolution(c, cal, ctx.now, ctx.settings.complaints.resolve_for(c.severity))
    c.clock_round += 1
    _save(ctx, c, "reopen", {"text": reason, "from": before})
    return _done(ctx, c, "reopen")


@DOMAIN.command("complaint", "pause", aliases=("暂停",), usage="complaints.cmd.pause")
def pause(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "pause", for_update=True)
    reason = _text(args, 1, MAX_REASON, command="pause", required=False)
    CHANGERS.check(ctx, c)
    _check(c, "pause", has_text=bool(reason))
    rules.stop_stretch(c, store.calendar(ctx.session, ctx.settings), ctx.now)
    c.paused_at, c.pause_reason = ctx.now, reason
    _save(ctx, c, "pause", {"text": reason})
    return _done(ctx, c, "pause")


@DOMAIN.command("complaint", "resume", aliases=("恢复", "继续"), usage="complaints.cmd.resume")
def resume(ctx: Ctx, args: Args) -> Reply:
    c = _load(ctx, args.get(0), "resume", for_update=True)
    CHANGERS.check(ctx, c)
    _check(c, "resume")
    shift = rules.resume_shift(c, ctx.now)
    if c.run_since is None:  # paused before the clocks counted working time: as it was
        if c.status == "new":
            c.due_at += shift
    else:
        rules.restart_clocks(c, store.calendar(ctx.session, ctx.settings), ctx.now,
                             ctx.settings.complaints.sla_for(c.severity),
                             ctx.settings.complaints.resolve_for(c.severity))
    if c.status == "solution" and c.followup_due_at is not None:
        c.followup_due_at += shift
    c.paused_seconds += int(shift.total_seconds())
    c.paused_at, c.pause_reason = None, ""
    c.clock_round += 1
    _save(ctx, c, "resume", {"paused_for": int(shift.total_seconds()),
                             "due": c.due_at.isoformat(),
                             "worked": c.response_worked if c.status == "new"
                             else c.resolve_worked})
    return _done(ctx, c, "resume", paused_for=shift)


# -- reminders, read at send time -----------------------------------------------------------------


@DOMAIN.reminder_kind(rules.RESPONSE_DUE)
def due_soon(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    c = store.find(session, reminder.record_id)
    if c is None or c.status != "new" or c.paused_at is not None or c.due_at <= now:
        return None
    take = [] if c.has_owner else [
        Choice(f"/complaint assign {c.ref} me", "complaints.take", style="primary")
    ]
    cal = from_spec(session, reminder.payload.get("calendar"))
    return Reply("complaints/due_soon",
                 {"c": store.view(c, now, full=True, cal=cal), "owner": store.owner_mention(c)},
                 choices=take)


def breach_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    # Locked, so the escalation and its timeline entry are written once, whichever of the
    # two breach reminders (owner, escalations channel) is marked sent first.
    c = store.find(session, reminder.record_id, for_update=True)
    if c is None or c.breached_at is not None or c.due_at > now:
        return
    if c.responded_at is not None and c.responded_at <= c.due_at:
        return  # answered in time, just as the escalation went out: no breach
    c.breached_at = now
    c.escalation_level = max(c.escalation_level, 1)
    session.add(c)
    store.system_audit(session, c, now, "breach", {"due": c.due_at.isoformat()})


@DOMAIN.reminder_kind(rules.BREACH, on_sent=breach_sent)
def breach(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    c = store.find(session, reminder.record_id)
    if c is None or c.status != "new" or c.paused_at is not None or c.due_at > now:
        return None
    # The escalations channel is not the complaints channel: it gets the limited view.
    full = reminder.target_kind == "member"
    return Reply("complaints/breach",
                 {"c": store.view(c, now, full=full), "owner": store.owner_mention(c),
                  "to_owner": full, "escalated": routed(session, "escalations")})


def escalate_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    c = store.find(session, reminder.record_id, for_update=True)
    level = int(reminder.payload.get("level") or 0)
    if c is None or c.status != "new" or level <= c.escalation_level:
        return
    c.escalation_level = level
    session.add(c)
    store.system_audit(session, c, now, "escalate", {"level": level})


@DOMAIN.reminder_kind(rules.ESCALATE, on_sent=escalate_sent)
def escalate(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    """A later escalation level: it stops once the complaint is answered (or paused)."""
    c = store.find(session, reminder.record_id)
    if c is None or c.status != "new" or c.paused_at is not None or c.due_at > now:
        return None
    cal = from_spec(session, reminder.payload.get("calendar"))
    full = reminder.target_kind == "member"
    return Reply("complaints/escalate",
                 {"c": store.view(c, now, full=full, cal=cal), "owner": store.owner_mention(c),
                  "level": int(reminder.payload.get("level") or 2)})


def followup_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    # Until the follow-up is recorded the owner hears again, every interval: one nag
    # counted and the next one planned per reminder actually sent.
    c = store.find(session, reminder.record_id, for_update=True)
    if c is None or c.status != "solution" or c.paused_at is not None:
        return
    every = timedelta(seconds=int(reminder.payload.get("every") or 3 * 86400))
    c.followup_nags += 1
    c.followup_due_at = now + every
    session.add(c)
    for planned in rules.reminder_plan(c, now, [], every):
        store.plan_one(session, c, planned)


@DOMAIN.reminder_kind(rules.FOLLOWUP, on_sent=followup_sent)
def followup_due(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    c = store.find(session, reminder.record_id)
    if c is None or c.status != "solution" or c.paused_at is not None:
        return None
    return Reply("complaints/followup_due",
                 {"c": store.view(c, now, full=True), "owner": store.owner_mention(c),
                  "since": now - (c.solution_at or now), "nag": c.followup_nags + 1})


DOMAIN.flow(_intake_flow())
DOMAIN.flow(_respond_flow())
