"""`/tp` (口径): approved talking points, so that what is said outside is what was agreed inside
(手册: 一致性原则; 媒体采访: 提前准备常见问题及标准回答, 确认前内部协调一致).

`/tp <words>` finds the best approved, in-date answers; expired ones are shown apart and never
as approved. `/tp propose` and `/tp edit ID` put a text to the approvers; `/tp approve`,
`/tp reject`, `/tp retire` decide; `/tp show ID` tells the history. Verification lapses after
LIAISON_TP_REVIEW, and the approver is reminded before it does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import members, parsers
from bot.confirm import ask_first
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.errors import InvalidAnswer, NotFound, PermissionDenied, UserError
from bot.messages import Audience, Choice, Reply
from bot.records import find as find_record
from bot.router import Args
from handlers import principles
from handlers.glossary import commands as glossary
from handlers.principles.domain import lists as principle_lists
from handlers.talking_points import DOMAIN, PURPOSE, records
from handlers.talking_points.io import cli
from handlers.talking_points.models import (
    ANSWER_MAX,
    QUESTION_MAX,
    TOPIC_MAX,
    PointStatus,
    TalkingPoint,
    TalkingPointVersion,
    VersionStatus,
    tag_list,
)
from handlers.talking_points.records import Content, Invalid
from handlers.talking_points.search import search
from schedules.models import Reminder

APPROVERS = ("approver", "admin")
SHARE_WORDS = ("share", "分享", "公开")
LANGUAGE_CHOICES = (Choice("zh", "talking_points.lang.zh"), Choice("en", "talking_points.lang.en"))
PENDING_LIMIT = 20


DOMAIN.cli = cli


@DOMAIN.command("tp", None, usage="talking_points.cmd.main")
def find(ctx: Ctx, args: Args) -> Reply:
    words = [*args.positional, *(f"{k}={v}" for k, v in args.keywords.items())]
    share = len(words) > 1 and (words[-1].lower() in SHARE_WORDS
                                or words[0].lower() in SHARE_WORDS)
    if share:
        words = words[:-1] if words[-1].lower() in SHARE_WORDS else words[1:]
    query = " ".join(words).strip()
    if not query:
        return Reply("talking_points/usage", audience=Audience.USER)
    found = search(ctx.session, query, now=ctx.now, locale=ctx.locale)
    audience = Audience.CONVERSATION if share else Audience.USER
    values = {"query": query[:100], "shared": share,
              "approved": [h.as_values() for h in found.approved],
              "expired": [h.as_values() for h in found.expired]}
    propose = [] if found.approved else [
        Choice("/tp propose", "talking_points.choice.propose")]
    template = "talking_points/results" if found.approved or found.expired else \
        "talking_points/none"
    return Reply(template, values, choices=propose, audience=audience)


@DOMAIN.command("tp", "propose", aliases=("提议", "新建", "new"),
                  usage="talking_points.cmd.propose")
def propose(ctx: Ctx, args: Args) -> list[Reply]:
    return ctx.app.engine.start(ctx, "tp_propose", args.keywords)


@DOMAIN.command("tp", "edit", aliases=("修改", "编辑"), usage="talking_points.cmd.edit")
def edit(ctx: Ctx, args: Args) -> list[Reply]:
    point_id = _point_id(args.get(0), "edit")
    return ctx.app.engine.start(ctx, "tp_edit", {"point": str(point_id), **args.keywords})


@DOMAIN.command("tp", "approve", aliases=("批准", "通过"), roles=APPROVERS,
                  usage="talking_points.cmd.approve")
def approve(ctx: Ctx, args: Args) -> list[Reply]:
    point = _load(ctx, args.get(0), "approve", lock=True)
    _not_retired(point)
    review = ctx.settings.talking_points.review
    version = records.pending_version(ctx.session, point.id)
    if version is not None:
        _not_own(ctx, version)
        found = records.placeholders(version.answer)
        if found and (ask := ask_first(ctx, args, "talking_points/approve_placeholders",
                                       {"id": point.id, "found": found})):
            return [ask]
        records.approve(ctx.session, point, version, actor=ctx.actor,
                        name=ctx.member.display_name, now=ctx.now, review=review)
        values = {"id": point.id, "number": version.number, "topic": point.topic,
                  "until": point.verified_until, "approver": ctx.member.display_name}
        return [Reply("talking_points/approved", values),
                *_tell_proposer(ctx, version, "talking_points/approved_notice", values)]
    if point.status != PointStatus.APPROVED:
        raise UserError("talking_points/nothing_pending", id=point.id)
    live = records.live_version(ctx.session, point)
    if live is not None:
        _not_own(ctx, live)
    old = point.verified_until
    records.reverify(ctx.session, point, actor=ctx.actor, name=ctx.member.display_name,
                     now=ctx.now, review=review)
    return [Reply("talking_points/reverified",
                  {"id": point.id, "topic": point.topic, "until": point.verified_until,
                   "was_expired": old is not None and old <= ctx.now})]


@DOMAIN.command("tp", "reject", aliases=("驳回", "拒绝"), roles=APPROVERS,
                  usage="talking_points.cmd.reject")
def reject(ctx: Ctx, args: Args) -> list[Reply]:
    point = _load(ctx, args.get(0), "reject", lock=True)
    _not_retired(point)
    version = records.pending_version(ctx.session, point.id)
    if version is None:
        raise UserError("talking_points/nothing_pending", id=point.id)
    reason_text = args.text_after(1)
    if not reason_text:
        raise UserError("talking_points/reject_usage", id=point.id)
    try:
        reason = records.clean_text(reason_text, 500)
    except Invalid as exc:
        raise UserError("errors/answer_too_long", **exc.params) from None
    records.reject(ctx.session, point, version, actor=ctx.actor,
                   name=ctx.member.display_name, now=ctx.now, reason=reason)
    values = {"id": point.id, "number": version.number, "topic": version.topic,
              "reason": reason, "approver": ctx.member.display_name,
              "still_serving": point.status == PointStatus.APPROVED}
    return [Reply("talking_points/rejected", values),
            *_tell_proposer(ctx, version, "talking_points/rejected_notice", values)]


@DOMAIN.command("tp", "retire", aliases=("停用", "下线"), roles=APPROVERS,
                  usage="talking_points.cmd.retire")
def retire(ctx: Ctx, args: Args) -> Reply:
    point = _load(ctx, args.get(0), "retire", lock=True)
    _not_retired(point)
    topic = point.topic or records.latest_content(ctx.session, point).topic
    if ask := ask_first(ctx, args, "talking_points/retire_ask", {"id": point.id,
                                                                 "topic": topic}):
        return ask
    records.retire(ctx.session, point, actor=ctx.actor, now=ctx.now)
    return Reply("talking_points/retired", {"id": point.id, "topic": topic})


@DOMAIN.command("tp", "show", aliases=("查看", "详情"), usage="talking_points.cmd.show")
def show(ctx: Ctx, args: Args) -> Reply:
    point = _load(ctx, args.get(0), "show")
    rows = [_version_values(v) for v in records.versions(ctx.session, point.id)]
    values = {"id": point.id, "status": point.status, "live": point.live_version,
              "topic": point.topic, "question": point.question, "answer": point.answer,
              "tags": tag_list(point.tags), "language": point.language,
              "approved_by": point.verified_by_name, "until": point.verified_until,
              "in_date": point.in_date(ctx.now), "versions": rows}
    return Reply("talking_points/show", values, audience=Audience.USER)


@DOMAIN.command("tp", "pending", aliases=("待审",), roles=APPROVERS,
                  usage="talking_points.cmd.pending")
def pending(ctx: Ctx, args: Args) -> Reply:
    rows = ctx.session.exec(
        select(TalkingPointVersion).join(
            TalkingPoint, col(TalkingPoint.id) == col(TalkingPointVersion.point_id))
        .where(TalkingPointVersion.status == VersionStatus.PENDING,
               TalkingPoint.status != PointStatus.RETIRED)
        .order_by(col(TalkingPointVersion.proposed_at)).limit(PENDING_LIMIT)
    ).all()
    return Reply("talking_points/pending", {"rows": [_version_values(v) for v in rows]},
                 audience=Audience.USER)


@DOMAIN.reminder_kind(records.KIND_REVERIFY)
def reverify_due(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    point = records.still_due(session, reminder.record_id, reminder.payload)
    if point is None or point.verified_until <= now:
        return None
    return Reply("talking_points/reverify_reminder",
                 {"id": point.id, "topic": point.topic, "until": point.verified_until},
                 choices=[Choice(f"/tp approve {point.id}", "talking_points.choice.reverify",
                                 style="primary")])


@DOMAIN.reminder_kind(records.KIND_EXPIRED)
def expired_now(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    point = records.still_due(session, reminder.record_id, reminder.payload)
    if point is None or point.verified_until > now:
        return None
    return Reply("talking_points/expired_reminder",
                 {"id": point.id, "topic": point.topic, "until": point.verified_until},
                 choices=[Choice(f"/tp approve {point.id}", "talking_points.choice.reverify",
                                 style="primary")])


# -- the propose / edit conversation -----------------------------------------------------------

def _tags(answer: str, ctx: Ctx) -> list[str]:
    try:
        return records.parse_tags(answer)
    except Invalid as exc:
        raise InvalidAnswer(f"talking_points/bad_{exc.code}", **exc.params) from None


def _editable(answer: str, ctx: Ctx) -> int:
    point_id = _point_id(answer, "edit")
    point = ctx.session.get(TalkingPoint, point_id)
    if point is None:
        raise InvalidAnswer("talking_points/not_found", id=point_id)
    if point.status == PointStatus.RETIRED:
        raise InvalidAnswer("talking_points/is_retired", id=point_id)
    return point_id


def _current(field: str):  # noqa: ANN202
    def default(ctx: Ctx, answers: dict[str, Any]) -> Any:  # noqa: ANN401
        return _base(ctx, answers)[field]

    return default


def _steps(*, editing: bool) -> tuple[Step, ...]:
    keep = {"optional": True} if editing else {}
    steps = [
        Step("topic", "talking_points/ask_topic", parsers.text(TOPIC_MAX),
             default=_current("topic") if editing else None, **keep),
        Step("question", "talking_points/ask_question", parsers.text(QUESTION_MAX),
             default=_current("question") if editing else None, **keep),
        Step("answer", "talking_points/ask_answer",
             parsers.text(ANSWER_MAX, single_line=False),
             default=_current("answer") if editing else None, **keep),
        Step("tags", "talking_points/ask_tags", _tags, optional=True,
             default=_current("tags") if editing else (lambda ctx, answers: [])),
        Step("language", "talking_points/ask_language", choices=LANGUAGE_CHOICES,
             default=_current("language") if editing else None, **keep),
    ]
    if editing:
        # Filled from `/tp edit ID`, never asked.
        steps.insert(0, Step("point", "talking_points/ask_topic", _editable,
                             when=lambda answers: "point" not in answers))
    return tuple(steps)


def _base(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    point = ctx.session.get(TalkingPoint, int(answers["point"]))
    if point is None:
        raise NotFound("talking_points/not_found", id=answers["point"])
    return records.latest_content(ctx.session, point).as_dict()


def _flow_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    # The handbook's principles, checked on the proposed text: hints on the summary only.
    text = "\n".join(str(answers.get(k) or "") for k in ("topic", "question", "answer"))
    hints = [h.as_values() for h in principles.check(
        text, principle_lists(ctx.session), glossary.pairs(ctx.session))]
    if "point" not in answers:
        return {"editing": False, "current": {}, "point_id": None, "hints": hints}
    return {"editing": True, "current": _base(ctx, answers), "point_id": answers["point"],
            "hints": hints}


def _content(answers: dict[str, Any]) -> Content:
    return Content(answers["topic"], answers["question"], answers["answer"],
                   list(answers.get("tags") or []), answers["language"])


def _finish_propose(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    content = _content(answers)
    duplicate = records.duplicate_of(ctx.session, content)
    if duplicate is not None:
        raise UserError("talking_points/duplicate", id=duplicate)
    point, version = records.propose(ctx.session, content, actor=ctx.actor,
                                     name=ctx.member.display_name, now=ctx.now)
    return [Reply("talking_points/submitted", {"id": point.id, "number": 1, "editing": False,
                                               "reach": _reach(ctx)}),
            *_ask_approvers(ctx, point, version)]


def _finish_edit(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    point = ctx.session.get(TalkingPoint, int(answers["point"]))
    if point is None or point.status == PointStatus.RETIRED:
        raise UserError("talking_points/is_retired", id=answers["point"])
    content = _content(answers)
    if content == records.latest_content(ctx.session, point):
        raise UserError("talking_points/unchanged", id=point.id)
    version = records.edit(ctx.session, point, content, actor=ctx.actor,
                           name=ctx.member.display_name, now=ctx.now)
    serving = point.status == PointStatus.APPROVED
    return [Reply("talking_points/submitted",
                  {"id": point.id, "number": version.number, "editing": True,
                   "serving": serving, "reach": _reach(ctx)}),
            *_ask_approvers(ctx, point, version)]


# -- telling people ----------------------------------------------------------------------------

def _ask_approvers(ctx: Ctx, point: TalkingPoint, version: TalkingPointVersion) -> list[Reply]:
    """The approvers' channel and each approver (but the proposer) get the text with approve
    and reject buttons; a press arrives as the command text."""
    values = {"id": point.id, "number": version.number, "topic": version.topic,
              "question": version.question, "answer": version.answer,
              "tags": tag_list(version.tags), "language": version.language,
              "proposer": ctx.member.display_name,
              "current_answer": point.answer if point.status == PointStatus.APPROVED else "",
              "placeholders": records.placeholders(version.answer)}
    choices = [Choice(f"/tp approve {point.id}", "talking_points.choice.approve",
                      style="primary"),
               Choice(f"/tp reject {point.id}", "talking_points.choice.reject", style="danger")]
    if _reach(ctx) != "approvers":  # nobody else approves: the admins decide, told why
        return [Reply("talking_points/review_request", {**values, "to_admin": True},
                      choices=list(choices), audience=Audience.MEMBER, member=admin)
                for admin in ctx.app.admins_except(ctx.member.platform, ctx.member.user_id)]
    replies = [Reply("talking_points/review_request", dict(values), choices=list(choices),
                     audience=Audience.PURPOSE, purpose=PURPOSE)]
    for approver in _other_approvers(ctx):
        replies.append(Reply("talking_points/review_request", dict(values),
                             choices=list(choices), audience=Audience.MEMBER,
                             member=(approver.platform, approver.user_id)))
    return replies


def _other_approvers(ctx: Ctx) -> list[Any]:
    me = (ctx.member.platform, ctx.member.user_id)
    return [a for a in members.with_role(ctx.session, "approver") if (a.platform, a.user_id) != me]


def _reach(ctx: Ctx) -> str:
    """Who a proposal reaches: approvers (a channel or another approver), else the admins,
    else nobody; the proposer is told which."""
    if _other_approvers(ctx) or ctx.app.has_route(ctx.session, PURPOSE):
        return "approvers"
    return "admins" if ctx.app.admins_except(ctx.member.platform, ctx.member.user_id) else "nobody"


def _tell_proposer(ctx: Ctx, version: TalkingPointVersion, template: str,
                   values: dict[str, Any]) -> list[Reply]:
    platform, _, user = version.proposed_by.partition(":")
    if not user or version.proposed_by == ctx.actor:
        return []
    return [Reply(template, dict(values), audience=Audience.MEMBER, member=(platform, user))]


# -- small helpers -----------------------------------------------------------------------------

def _point_id(raw: str | None, command: str) -> int:
    word = (raw or "").strip().lower().lstrip("#")
    word = word.removeprefix("tp-").removeprefix("tp")
    if not word.isdigit() or len(word) > 9:
        raise UserError("talking_points/id_usage", command=command)
    return int(word)


def _load(ctx: Ctx, raw: str | None, command: str, *, lock: bool = False) -> TalkingPoint:
    point_id = _point_id(raw, command)
    # Locked: two approvers pressing the same button at once decide one after the other.
    point = find_record(ctx.session, TalkingPoint, point_id, lock=lock, column="id")
    if point is None:
        raise NotFound("talking_points/not_found", id=point_id)
    return point


def _not_retired(point: TalkingPoint) -> None:
    if point.status == PointStatus.RETIRED:
        raise UserError("talking_points/is_retired", id=point.id)


def _not_own(ctx: Ctx, version: TalkingPointVersion) -> None:
    if version.proposed_by == ctx.actor:
        raise PermissionDenied("talking_points/own_proposal", id=version.point_id,
                               number=version.number)


def _version_values(v: TalkingPointVersion) -> dict[str, Any]:
    return {"id": v.point_id, "number": v.number, "status": v.status, "topic": v.topic,
            "language": v.language, "proposer": v.proposed_by_name or v.proposed_by,
            "proposed_at": v.proposed_at, "decider": v.decided_by_name or v.decided_by,
            "decided_at": v.decided_at, "reason": v.reason, "source": v.source}


DOMAIN.flow(Flow("tp_propose", _steps(editing=False), "talking_points/summary",
                 _finish_propose, values=_flow_values))
DOMAIN.flow(Flow("tp_edit", _steps(editing=True), "talking_points/summary",
                 _finish_edit, values=_flow_values))
