"""`/dispute` (纠纷): the handbook's 合作伙伴 纠纷处理 — every disputed point in writing, a third
party to mediate, the communication records kept. A dispute `D-2026-0001` is an append-only
file: each point, each side's position, proposal, agreement, log line, attachment link,
mediator and next step is an entry with who and when; an entry is never changed, a later one
supersedes it and both are shown. Closing it with the outcome makes the file read-only.

The rules (ids, words, what supersedes what, a point's status) are in rules.py; the Word and
Markdown export in export.py; this module is the chat around them and the reminders."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot import parsers, records
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.export import DOCX_MIME, MARKDOWN_MIME
from bot.messages import Attachment, Audience, Choice, Reply
from bot.router import Args
from handlers.disputes import DOMAIN, export, rules
from handlers.disputes.models import CLOSED, OPEN, Dispute, DisputeEntry
from handlers.meetings.models import partner_key  # one folding: a dispute finds its meetings by it
from schedules import api
from schedules.api import Target
from schedules.models import Reminder

RECORD = "dispute"
NEW_FLOW = "dispute.new"
NEXT_KIND, MEDIATION_KIND, STALE_KIND = "dispute.next", "dispute.mediation", "dispute.stale"
LIST_LIMIT = 20


# Who may add to a file: its owner, the disputes role, admins.
WRITERS = records.Who("disputes/not_allowed", people=("owner",), roles=("disputes", "admin"),
                      about=lambda d: {"owner": d.owner_name})


# -- commands ----------------------------------------------------------------------------------


@DOMAIN.command("dispute", None, usage="disputes.cmd.main")
def dispute_main(ctx: Ctx, args: Args) -> Reply:
    word = args.get(0)
    if word and rules.IDS.parse(word):
        return _show(ctx, _load(ctx, word, "disputes/usage_show"))
    return family_menu(ctx, "dispute", word)


@DOMAIN.command("dispute", "new", aliases=("新建",), usage="disputes.cmd.new")
def dispute_new(ctx: Ctx, args: Args) -> list[Reply]:
    prefill = dict(args.keywords)
    if args.positional:
        prefill.setdefault("partner", " ".join(args.positional))
    return ctx.app.engine.start(ctx, NEW_FLOW, prefill)


@DOMAIN.command("dispute", "show", aliases=("查看",), usage="disputes.cmd.show")
def dispute_show(ctx: Ctx, args: Args) -> Reply:
    return _show(ctx, _load(ctx, args.get(0), "disputes/usage_show"))


@DOMAIN.command("dispute", "list", aliases=("列表",), usage="disputes.cmd.list")
def dispute_list(ctx: Ctx, args: Args) -> Reply:
    which = rules.list_filter(args.get(0))
    if which is None:
        raise UserError("disputes/usage_list", word=(args.get(0) or "")[:40])
    query = select(Dispute)
    if which in ("open", "closed"):
        query = query.where(Dispute.status == which)
    elif which == "mine":
        query = query.where(Dispute.owner_platform == ctx.member.platform,
                            Dispute.owner_id == ctx.member.user_id)
    rows = ctx.session.exec(query.order_by(col(Dispute.id).desc()).limit(LIST_LIMIT)).all()
    return Reply("disputes/list", {"which": which, "rows": [_row(d) for d in rows]},
                 audience=Audience.USER)


@DOMAIN.command("dispute", "point", aliases=("要点", "争议点"), usage="disputes.cmd.point")
def dispute_point(ctx: Ctx, args: Args) -> Reply:
    """`point ID add TEXT [ours=…] [theirs=…]`; `point ID agree|escalate P2 [text]`;
    `point ID ours|theirs P2 TEXT` (a side's position, superseding its last one);
    `point ID propose P2 [ours|theirs] TEXT`."""
    dispute = _writable(ctx, args.get(0), "disputes/usage_point")
    action = rules.point_action(args.get(1))
    if action is None:
        raise UserError("disputes/usage_point", ref=dispute.ref)
    entries = _entries(ctx.session, dispute)
    if action == "add":
        text = _text(_strip_keywords(args.text_after(2)), 300, dispute, "disputes/usage_point")
        number = len(rules.point_numbers(entries)) + 1
        if number > rules.MAX_POINTS:
            raise UserError("disputes/too_many_points", limit=rules.MAX_POINTS)
        added = [_add(ctx, dispute, entries, "point", text, point=number)]
        for side in rules.SIDES:
            given = _side_keyword(args.keywords, side)
            if given:
                added.append(_add(ctx, dispute, entries, "position",
                                  _read(parsers.text(max_len=1000), given, ctx),
                                  point=number, side=side))
        return _added(ctx, dispute, added)
    point = rules.point_of(args.get(2))
    if point is None or point not in rules.point_numbers(entries):
        raise UserError("disputes/no_point", ref=dispute.ref, point=args.get(2) or "",
                        count=len(rules.point_numbers(entries)))
    rest = args.text_after(3)
    if action in ("ours", "theirs"):
        text = _text(rest, 1000, dispute, "disputes/usage_point")
        return _added(ctx, dispute, [_add(ctx, dispute, entries, "position", text, point=point,
                                          side=action)])
    if action == "propose":
        side = rules.side_of(args.get(3))
        if side is not None:
            rest = args.text_after(4)
        text = _text(rest, 1000, dispute, "disputes/usage_point")
        return _added(ctx, dispute, [_add(ctx, dispute, entries, "proposal", text, point=point,
                                          side=side or "ours")])
    if action == "agree":
        text = _text(rest, 1000, dispute, "disputes/usage_point")
        return _added(ctx, dispute, [_add(ctx, dispute, entries, "agreement", text,
                                          point=point)])
    reason = _read(parsers.text(max_len=500), rest, ctx) if rest else ""
    return _added(ctx, dispute, [_add(ctx, dispute, entries, "escalation", reason, point=point)])


@DOMAIN.command("dispute", "log", aliases=("记录", "日志"), usage="disputes.cmd.log")
def dispute_log(ctx: Ctx, args: Args) -> Reply:
    dispute = _writable(ctx, args.get(0), "disputes/usage_log")
    text = _text(args.text_after(1), 2000, dispute, "disputes/usage_log", single_line=False)
    entries = _entries(ctx.session, dispute)
    return _added(ctx, dispute, [_add(ctx, dispute, entries, "log", text)])


@DOMAIN.command("dispute", "attach", aliases=("附件",), usage="disputes.cmd.attach")
def dispute_attach(ctx: Ctx, args: Args) -> Reply:
    dispute = _writable(ctx, args.get(0), "disputes/usage_attach")
    link = (args.get(1) or "").strip("<>")
    if not rules.is_link(link):
        raise UserError("disputes/usage_attach", ref=dispute.ref)
    note = args.text_after(2)
    note = _read(parsers.text(max_len=300), note, ctx) if note else ""
    entries = _entries(ctx.session, dispute)
    return _added(ctx, dispute, [_add(ctx, dispute, entries, "attachment", link,
                                      extra={"note": note})])


@DOMAIN.command("dispute", "next", aliases=("下一步",), usage="disputes.cmd.next")
def dispute_next(ctx: Ctx, args: Args) -> Reply:
    """`next ID TEXT at=TIME`: the next step and its date (the owner is reminded then)."""
    dispute = _writable(ctx, args.get(0), "disputes/usage_next")
    at = _keyword(args.keywords, ("at", "date", "when", "时间", "日期"))
    text = _strip_keywords(args.text_after(1))
    if not text or not at:
        raise UserError("disputes/usage_next", ref=dispute.ref)
    text = _read(parsers.text(max_len=300), text, ctx)
    when = _read(parsers.when(future_only=True), at, ctx)
    entries = _entries(ctx.session, dispute)
    entry = _add(ctx, dispute, entries, "next_step", text, extra={"at": when})
    _set_next(ctx, dispute, entry, text, datetime.fromisoformat(when))
    return _added(ctx, dispute, [entry])


@DOMAIN.command("dispute", "mediator", aliases=("调解", "调解人"), usage="disputes.cmd.mediator")
def dispute_mediator(ctx: Ctx, args: Args) -> Reply:
    """`mediator ID NAME ORG [contact] date=TIME`: the third party and the date both sides
    agreed; a reminder a day before and the outcome question after."""
    dispute = _writable(ctx, args.get(0), "disputes/usage_mediator")
    name, org = args.get(1), args.get(2)
    if not name or not org:
        raise UserError("disputes/usage_mediator", ref=dispute.ref)
    contact = " ".join(args.positional[3:])
    at = _keyword(args.keywords, ("date", "at", "when", "日期", "时间"))
    mediator = {"name": _read(parsers.text(max_len=100), name, ctx),
                "org": _read(parsers.text(max_len=200), org, ctx),
                "contact": _read(parsers.text(max_len=200), contact, ctx) if contact else ""}
    when = _read(parsers.when(future_only=True), at, ctx) if at else None
    entries = _entries(ctx.session, dispute)
    text = " · ".join(v for v in mediator.values() if v)
    entry = _add(ctx, dispute, entries, "mediator", text, extra={**mediator, "at": when})
    dispute.mediator = mediator
    dispute.mediation_at = datetime.fromisoformat(when) if when else None
    ctx.session.add(dispute)
    api.cancel(ctx.session, record_type=RECORD, record_id=dispute.ref, kinds=[MEDIATION_KIND])
    if dispute.mediation_at is not None:
        owner = _owner(dispute)
        payload = {"at": when, "title": f"{dispute.partner} · {dispute.subject[:60]}"}
        before = dispute.mediation_at - rules.MEDIATION_NOTICE
        if before > ctx.now:
            api.plan(ctx.session, key=f"dispute:{dispute.ref}:mediation:{entry.n}:before",
                     kind=MEDIATION_KIND, due=before, target=owner, record_type=RECORD,
                     record_id=dispute.ref, payload={**payload, "stage": "before"})
        api.plan(ctx.session, key=f"dispute:{dispute.ref}:mediation:{entry.n}:outcome",
                 kind=MEDIATION_KIND, due=dispute.mediation_at + rules.OUTCOME_AFTER,
                 target=owner, record_type=RECORD, record_id=dispute.ref,
                 payload={**payload, "stage": "outcome"})
    return _added(ctx, dispute, [entry])


@DOMAIN.command("dispute", "link", aliases=("关联",), usage="disputes.cmd.link")
def dispute_link(ctx: Ctx, args: Args) -> Reply:
    dispute = _writable(ctx, args.get(0), "disputes/usage_link")
    found = _other_record(ctx.session, args.get(1))
    if found is None:
        raise UserError("disputes/no_record", ref=dispute.ref, other=(args.get(1) or "")[:40])
    entries = _entries(ctx.session, dispute)
    if any(e.kind == "link" and e.text == found["ref"] for e in entries):
        raise UserError("disputes/already_linked", ref=dispute.ref, other=found["ref"])
    return _added(ctx, dispute, [_add(ctx, dispute, entries, "link", found["ref"],
                                      extra={"type": found["type"]})])


@DOMAIN.command("dispute", "export", aliases=("导出",), usage="disputes.cmd.export")
def dispute_export(ctx: Ctx, args: Args) -> Reply:
    dispute = _load(ctx, args.get(0), "disputes/usage_export")
    data = _file(ctx, dispute)
    label = ctx.app.renderer.label
    labels = {key: label(ctx.locale, f"disputes.export.{key}") for key in export.LABELS}
    kinds = {k: label(ctx.locale, f"disputes.kind.{k}") for k in export.KINDS}
    statuses = {s: label(ctx.locale, f"disputes.point_status.{s}")
                for s in ("open", "agreed", "escalated")}
    sides = {s: label(ctx.locale, f"disputes.side.{s}") for s in rules.SIDES}
    words = {"labels": labels, "kinds": kinds, "statuses": statuses, "sides": sides,
             "dispute_status": label(ctx.locale, f"disputes.status.{dispute.status}")}
    title = labels["title"].format(ref=dispute.ref)
    files = (
        Attachment(f"{dispute.ref}.docx", export.docx_bytes(data, words, ctx.zone),
                   title=title, mime=DOCX_MIME),
        Attachment(f"{dispute.ref}.md", export.markdown(data, words, ctx.zone).encode("utf-8"),
                   title=title, mime=MARKDOWN_MIME),
    )
    return Reply("disputes/exported", {"ref": dispute.ref, "files": [f.filename for f in files],
                                       "entries": len(data["entries"])},
                 audience=Audience.USER, files=files)


@DOMAIN.command("dispute", "close", aliases=("结案", "关闭"), usage="disputes.cmd.close")
def dispute_close(ctx: Ctx, args: Args) -> Reply:
    dispute = _writable(ctx, args.get(0), "disputes/usage_close")
    outcome = _text(args.text_after(1), 2000, dispute, "disputes/usage_close", single_line=False)
    entries = _entries(ctx.session, dispute)
    entry = _add(ctx, dispute, entries, "close", outcome, audit=False)  # one entry, below
    dispute.status, dispute.outcome, dispute.closed_at = CLOSED, outcome, ctx.now
    ctx.session.add(dispute)
    api.cancel(ctx.session, record_type=RECORD, record_id=dispute.ref)
    ctx.audit(RECORD, dispute.ref, "close", {"outcome": outcome, "entry": entry.n})
    return Reply("disputes/closed_now", {"d": _row(dispute)})


# -- the walk ----------------------------------------------------------------------------------


def _current_answers(ctx: Ctx) -> dict[str, Any]:
    conv = ctx.app.engine.current(ctx)
    return dict(conv.answers) if conv is not None else {}


def _positions(answer: str, ctx: Ctx) -> list[str]:
    """Each side's position on every point: one line per point, in the points' order."""
    points = _current_answers(ctx).get("points") or []
    lines = [" ".join(line.split()) for line in answer.splitlines() if line.strip()]
    if len(lines) != len(points):
        raise InvalidAnswer("disputes/positions_count", want=len(points), got=len(lines))
    for line in lines:
        if len(line) > 1000:
            raise InvalidAnswer("errors/answer_too_long", limit=1000, length=len(line))
    return lines


def _new_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    points = answers.get("points") or []
    if isinstance(points, str):
        points = [points]
    return {"points": points, "linked": _linked(ctx.session, answers.get("partner") or "", [])
            if answers.get("partner") else {}}


def _finish_new(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    year = ctx.now.astimezone(ctx.settings.zone).year
    ref = rules.IDS.next(ctx.session, year)[1]
    owner = answers.get("owner") or {"platform": ctx.member.platform,
                                     "user_id": ctx.member.user_id,
                                     "name": ctx.member.display_name}
    dispute = Dispute(
        ref=ref, partner=answers["partner"], partner_key=partner_key(answers["partner"]),
        subject=answers["subject"], stake=answers.get("stake") or "",
        owner_platform=owner["platform"], owner_id=owner["user_id"],
        owner_name=owner.get("name", ""), status=OPEN, last_entry_at=ctx.now,
        created_at=ctx.now,
    )
    ctx.session.add(dispute)
    ctx.session.flush()
    entries: list[DisputeEntry] = []
    points = answers["points"] if isinstance(answers["points"], list) else [answers["points"]]
    for i, text in enumerate(points, start=1):
        _add(ctx, dispute, entries, "point", text, point=i, audit=False)
        _add(ctx, dispute, entries, "position", answers["ours"][i - 1], point=i, side="ours",
             audit=False)
        _add(ctx, dispute, entries, "position", answers["theirs"][i - 1], point=i,
             side="theirs", audit=False)
    entry = _add(ctx, dispute, entries, "next_step", answers["next_step"],
                 extra={"at": answers["next_at"]}, audit=False)
    _set_next(ctx, dispute, entry, answers["next_step"],
              datetime.fromisoformat(answers["next_at"]))
    _plan_stale(ctx, dispute)
    ctx.audit(RECORD, ref, "create", {"partner": dispute.partner, "subject": dispute.subject,
                                      "points": points, "stake": dispute.stake,
                                      "owner": f"{owner['platform']}:{owner['user_id']}"})
    return [Reply("disputes/created", {"d": _row(dispute), **_file(ctx, dispute),
                                       "stale": ctx.settings.disputes.stale})]


DOMAIN.flow(Flow(
    name=NEW_FLOW,
    steps=(
        Step("partner", "disputes/ask_partner", parsers.text(max_len=200)),
        Step("subject", "disputes/ask_subject", parsers.text(max_len=300)),
        Step("points", "disputes/ask_points", parsers.text(max_len=300), collect=True,
             max_items=rules.MAX_POINTS),
        Step("ours", "disputes/ask_ours", _positions),
        Step("theirs", "disputes/ask_theirs", _positions),
        Step("stake", "disputes/ask_stake", parsers.text(max_len=200), optional=True,
             default=lambda ctx, a: ""),
        Step("owner", "disputes/ask_owner", parsers.parse_mention, optional=True,
             default=lambda ctx, a: parsers.parse_mention("me", ctx)),
        Step("next_step", "disputes/ask_next_step", parsers.text(max_len=300)),
        Step("next_at", "disputes/ask_next_at", parsers.when(future_only=True)),
    ),
    summary="disputes/confirm_new",
    finish=_finish_new,
    values=_new_values,
))


# -- reminders ---------------------------------------------------------------------------------


def _reminded(session: Session, reminder: Reminder) -> Dispute | None:
    dispute = records.find(session, Dispute, reminder.record_id)
    return dispute if dispute is not None and dispute.status == OPEN else None


@DOMAIN.reminder_kind(NEXT_KIND)
def remind_next(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    dispute = _reminded(session, reminder)
    if dispute is None or dispute.next_at is None:
        return None
    if dispute.next_at.isoformat() != reminder.payload.get("at"):
        return None  # a later next step took its place
    return Reply("disputes/remind_next", {"d": _row(dispute)},
                 choices=[Choice(f"/dispute show {dispute.ref}", "disputes.show_button")])


@DOMAIN.reminder_kind(MEDIATION_KIND)
def remind_mediation(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    dispute = _reminded(session, reminder)
    if dispute is None or dispute.mediation_at is None:
        return None
    if dispute.mediation_at.isoformat() != reminder.payload.get("at"):
        return None  # moved: the new date has its own reminders
    return Reply("disputes/remind_mediation", {"d": _row(dispute),
                                               "stage": reminder.payload.get("stage")},
                 choices=[Choice(f"/dispute show {dispute.ref}", "disputes.show_button")])


def _stale_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    """Weekly while nothing is added: the next one is planned as this one goes out."""
    dispute = _reminded(session, reminder)
    if dispute is None or dispute.entries != reminder.payload.get("entries"):
        return
    k = int(reminder.payload.get("k", 0)) + 1
    api.plan(session, key=f"dispute:{dispute.ref}:stale:{dispute.entries}:{k}", kind=STALE_KIND,
             due=now + rules.STALE_REPEAT, target=_owner(dispute), record_type=RECORD,
             record_id=dispute.ref, payload={**reminder.payload, "k": k})


@DOMAIN.reminder_kind(STALE_KIND, on_sent=_stale_sent)
def remind_stale(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    dispute = _reminded(session, reminder)
    if dispute is None or dispute.entries != reminder.payload.get("entries"):
        return None  # something was added since: that entry planned its own
    return Reply("disputes/remind_stale", {"d": _row(dispute),
                                           "quiet": now - dispute.last_entry_at},
                 choices=[Choice(f"/dispute show {dispute.ref}", "disputes.show_button")])


# -- writing entries ---------------------------------------------------------------------------


def _add(ctx: Ctx, dispute: Dispute, entries: list[DisputeEntry], kind: str, text: str, *,
         point: int | None = None, side: str = "", extra: dict[str, Any] | None = None,
         audit: bool = True) -> DisputeEntry:
    """One more entry in the file; the one it supersedes stays as it was."""
    dispute.entries += 1
    entry = DisputeEntry(
        dispute_id=dispute.id, n=dispute.entries, kind=kind, point=point, side=side, text=text,
        extra=extra or {}, supersedes=rules.superseded_entry(entries, kind, point, side),
        by_platform=ctx.member.platform, by_id=ctx.member.user_id,
        by_name=ctx.member.display_name, at=ctx.now,
    )
    ctx.session.add(entry)
    entries.append(entry)
    dispute.last_entry_at = ctx.now
    ctx.session.add(dispute)
    if audit:
        ctx.audit(RECORD, dispute.ref, kind, {"n": entry.n, "point": point, "side": side,
                                               "text": text, "supersedes": entry.supersedes})
    return entry


def _plan_stale(ctx: Ctx, dispute: Dispute) -> None:
    """Quiet for LIAISON_DISPUTE_STALE from the last entry on: the owner hears."""
    api.cancel(ctx.session, record_type=RECORD, record_id=dispute.ref, kinds=[STALE_KIND])
    api.plan(ctx.session, key=f"dispute:{dispute.ref}:stale:{dispute.entries}:0",
             kind=STALE_KIND, due=ctx.now + ctx.settings.disputes.stale, target=_owner(dispute),
             record_type=RECORD, record_id=dispute.ref,
             payload={"entries": dispute.entries, "k": 0,
                      "title": f"{dispute.partner} · {dispute.subject[:60]}"})


def _set_next(ctx: Ctx, dispute: Dispute, entry: DisputeEntry, text: str, at: datetime) -> None:
    dispute.next_step, dispute.next_at = text, at
    ctx.session.add(dispute)
    api.cancel(ctx.session, record_type=RECORD, record_id=dispute.ref, kinds=[NEXT_KIND])
    api.plan(ctx.session, key=f"dispute:{dispute.ref}:next:{entry.n}", kind=NEXT_KIND, due=at,
             target=_owner(dispute), record_type=RECORD, record_id=dispute.ref,
             payload={"at": at.isoformat(), "title": text[:80]})


def _added(ctx: Ctx, dispute: Dispute, added: list[DisputeEntry]) -> Reply:
    _plan_stale(ctx, dispute)
    ctx.session.flush()
    return Reply("disputes/added", {"d": _row(dispute), "added": [_entry(e) for e in added]})


def _owner(dispute: Dispute) -> Target:
    return Target.member(dispute.owner_platform, dispute.owner_id)


# -- reading -----------------------------------------------------------------------------------


def _load(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> Dispute:
    return records.load(ctx.session, Dispute, rules.IDS, raw, missing="disputes/not_found",
                        lock=lock, usage=usage)


def _writable(ctx: Ctx, raw: str | None, usage: str) -> Dispute:
    dispute = _load(ctx, raw, usage, lock=True)
    WRITERS.check(ctx, dispute)
    if dispute.status == CLOSED:
        raise UserError("disputes/read_only", ref=dispute.ref, at=dispute.closed_at)
    return dispute


def _entries(session: Session, dispute: Dispute) -> list[DisputeEntry]:
    return list(session.exec(select(DisputeEntry).where(DisputeEntry.dispute_id == dispute.id)
                             .order_by(col(DisputeEntry.n))).all())


def _read(parse: parsers.Parser, text: str, ctx: Ctx) -> Any:
    try:
        return parse(text, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None


def _text(raw: str, limit: int, dispute: Dispute, usage: str, single_line: bool = True) -> str:
    text = raw.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if not text:
        raise UserError(usage, ref=dispute.ref)
    if len(text) > limit:
        raise UserError("errors/answer_too_long", limit=limit, length=len(text))
    return text if not single_line else " ".join(text.split())


_KEYWORD_NAMES = {"ours": ("ours", "我方"), "theirs": ("theirs", "对方")}


def _keyword(keywords: dict[str, str], names: tuple[str, ...]) -> str:
    return next((v for k, v in keywords.items() if k.lower() in names), "")


def _side_keyword(keywords: dict[str, str], side: str) -> str:
    return _keyword(keywords, _KEYWORD_NAMES[side])


def _strip_keywords(text: str) -> str:
    """The free text before the first `key=value` pair."""
    match = re.search(r"(?:^|\s)[^\s=＝]+[=＝]", text)
    return (text[:match.start()] if match else text).strip()


def _other_record(session: Session, raw: str | None) -> dict[str, Any] | None:
    """A meeting, communication record or complaint by its id."""
    from handlers.comm.models import CommRecord
    from handlers.comm.rules import IDS as COMM_IDS
    from handlers.complaints.models import Complaint
    from handlers.complaints.rules import IDS as COMPLAINT_IDS
    from handlers.meetings.models import MEETING_IDS, Meeting

    for kind, model, ids in (("meeting", Meeting, MEETING_IDS), ("comm", CommRecord, COMM_IDS),
                             ("complaint", Complaint, COMPLAINT_IDS)):
        ref = ids.parse(raw)
        if ref:
            row = records.find(session, model, ref)
            return _linked_row(kind, row) if row is not None else None
    return None


def _linked_row(kind: str, row: Any) -> dict[str, Any]:  # noqa: ANN401 (three record types)
    if kind == "meeting":
        return {"type": kind, "ref": row.ref, "title": row.title, "at": row.starts_at,
                "status": row.status}
    if kind == "comm":
        return {"type": kind, "ref": row.ref, "title": row.topic, "at": row.created_at,
                "status": row.state}
    return {"type": kind, "ref": row.ref, "title": row.summary, "at": row.received_at,
            "status": row.status}


def _linked(session: Session, partner: str, refs: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The partner's meetings, communication records and complaints found by its name (folded
    the same way), and the records linked by hand; each once."""
    from sqlalchemy import func

    from handlers.comm.models import CommRecord
    from handlers.complaints.models import Complaint
    from handlers.meetings.models import Meeting

    key = partner_key(partner)
    found: dict[str, dict[str, Any]] = {}
    for m in session.exec(select(Meeting).where(Meeting.partner_key == key)
                          .order_by(col(Meeting.starts_at))).all():
        found[m.ref] = {**_linked_row("meeting", m), "how": "auto"}
    # Candidates share the name's longest word (an index-friendly filter); the folded names
    # are compared here, so width, case and spacing do not matter.
    word = max(key.split(), key=len, default="")
    for kind, model, column in (("comm", CommRecord, CommRecord.audience_name),
                                ("complaint", Complaint, Complaint.customer)):
        if not word:
            break
        rows = session.exec(select(model).where(func.lower(column).contains(word, autoescape=True))
                            .order_by(col(model.id)).limit(500)).all()
        for row in rows:
            if partner_key(getattr(row, column.key)) == key:
                found[row.ref] = {**_linked_row(kind, row), "how": "auto"}
    for ref in refs:
        if ref not in found:
            row = _other_record(session, ref)
            if row is not None:
                found[ref] = {**row, "how": "hand"}
    out: dict[str, list[dict[str, Any]]] = {"meeting": [], "comm": [], "complaint": []}
    for row in found.values():
        out[row["type"]].append(row)
    return out


def _entry(e: DisputeEntry, replaced_by: dict[int, int] | None = None) -> dict[str, Any]:
    return {"n": e.n, "kind": e.kind, "point": e.point, "side": e.side, "text": e.text,
            "extra": dict(e.extra), "supersedes": e.supersedes,
            "superseded_by": (replaced_by or {}).get(e.n), "by": e.by_name or e.by_id,
            "at": e.at}


def _row(d: Dispute) -> dict[str, Any]:
    return {"ref": d.ref, "partner": d.partner, "subject": d.subject, "stake": d.stake,
            "owner": d.owner_name or d.owner_id, "status": d.status, "next_step": d.next_step,
            "next_at": d.next_at, "mediator": dict(d.mediator), "mediation_at": d.mediation_at,
            "outcome": d.outcome or "", "closed_at": d.closed_at, "entries": d.entries,
            "created": d.created_at, "last_entry_at": d.last_entry_at}


def _file(ctx: Ctx, dispute: Dispute) -> dict[str, Any]:
    """The whole file as templates and the export read it."""
    entries = _entries(ctx.session, dispute)
    replaced = rules.superseded_by(entries)
    views = [_entry(e, replaced) for e in entries]
    points = []
    for e in entries:
        if e.kind != "point":
            continue
        about = [v for v in views if v["point"] == e.point and v["kind"] != "point"]
        points.append({
            "n": e.point, "text": e.text, "entry": e.n,
            "status": rules.point_status(entries, e.point),
            "ours": [v for v in about if v["kind"] == "position" and v["side"] == "ours"],
            "theirs": [v for v in about if v["kind"] == "position" and v["side"] == "theirs"],
            "proposals": [v for v in about if v["kind"] == "proposal"],
            "agreements": [v for v in about if v["kind"] == "agreement"],
            "escalations": [v for v in about if v["kind"] == "escalation"],
        })
    refs = [e.text for e in entries if e.kind == "link"]
    return {"d": _row(dispute), "points": points, "entries": views,
            "log": [v for v in views if v["kind"] in ("log", "attachment")],
            "mediators": [v for v in views if v["kind"] == "mediator"],
            "linked": _linked(ctx.session, dispute.partner, refs)}


def _show(ctx: Ctx, dispute: Dispute) -> Reply:
    return Reply("disputes/show", _file(ctx, dispute), audience=Audience.USER)
