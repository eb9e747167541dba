"""`/press` (新闻稿): the handbook's 新闻稿发布 as a conversation and a review.

`/press new` walks the release: a short strong headline, the three sections (background,
facts, contact), the logo and high-resolution images, the planned release time, and whether
legal must review it. Every version is kept (`edit` makes a new one and shows what changed);
`submit` puts the current version to the PR channel, and to the legal channel when legal
review is needed, with Approve / Request changes buttons. Nobody approves their own draft; a
release is approved when every side it needs approved its current version, and an edit after
that asks them again. `publish` (PR) records where it went and opens a `/comm` record for the
media, so its follow-up and review are reminded as every communication's are. Every draft is
checked against the handbook's principles (handlers.principles): hints, never a refusal.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, delete, select

from bot import parsers, records
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.domain import family_menu
from bot.errors import InvalidAnswer, PermissionDenied, UserError
from bot.export import DOCX_MIME, MARKDOWN_MIME
from bot.messages import Attachment, Audience, Choice, Reply
from bot.router import Args
from handlers import principles
from handlers.comm import rules as comm_rules
from handlers.comm.commands import RECORD as COMM_RECORD
from handlers.comm.commands import _settle as settle_comm
from handlers.comm.models import CommRecord
from handlers.glossary import commands as glossary
from handlers.press import DOMAIN, export, rules
from handlers.press.models import (
    BACKGROUND_MAX,
    FACT_MAX,
    HEADLINE_MAX,
    PressDecision,
    PressRelease,
    PressUpload,
    PressVersion,
)
from handlers.press.rules import State
from handlers.principles.domain import lists as principle_lists
from schedules import api
from schedules.api import Target
from schedules.models import Reminder
from schedules.scheduler import next_workday

RECORD = "press"
NEW_FLOW = "press.new"
REVIEW_KIND, DUE_KIND = "press.review", "press.due"
LIST_LIMIT = 20
LEGAL_CHOICES = [Choice("yes", "press.legal.yes"), Choice("no", "press.legal.no")]
YES_NO = {"yes": ("是", "要", "需要", "y"), "no": ("否", "不", "不要", "不需要", "n")}
_SPLIT_LINES = re.compile(r"[\n;；]+")


# -- reading what people type -------------------------------------------------------------------


def _contact(answer: str, ctx: Ctx) -> dict[str, str]:
    found = rules.contact_of(parsers.text(200)(answer, ctx))
    if found is None:
        raise InvalidAnswer("press/bad_contact")
    return {"name": found[0], "way": found[1]}


def _link(answer: str, ctx: Ctx) -> str:
    link = rules.link_of(parsers.text(500)(answer, ctx))
    if link is None:
        raise InvalidAnswer("press/bad_link", text=answer.strip()[:80])
    return link


def _logo(answer: str, ctx: Ctx) -> str | dict[str, Any]:
    """The logo step: a link, or one image file sent with the message (PNG or JPEG, kept in
    press_upload at once; the answer then names the row). Anything else is refused, unkept."""
    files = ctx.inbound.files
    if not files:
        return _link(answer, ctx)
    if len(files) > 1:
        raise InvalidAnswer("press/one_logo", count=len(files))
    return _store_images(ctx)[0]


def _image(answer: str, ctx: Ctx) -> str | list[dict[str, Any]]:
    """The images step: a link a line, or the image files sent with the message (all of
    them, kept at once; or none, when one is not a PNG or JPEG within the limit)."""
    return _store_images(ctx) if ctx.inbound.files else _link(answer, ctx)


def _store_images(ctx: Ctx) -> list[dict[str, Any]]:
    checked = []
    for upload in ctx.inbound.files:
        name = upload.filename.replace("\n", " ").strip()[:200] or "image"
        if upload.problem == "too_large":
            mb = 1024 * 1024
            raise InvalidAnswer("press/upload_too_large", name=name,
                                size_mb=f"{upload.size / mb:.1f}",
                                limit_mb=f"{ctx.settings.upload_max_bytes / mb:g}")
        if upload.problem or not upload.data:
            raise InvalidAnswer("press/upload_unavailable", name=name)
        mime = export.image_type(upload.data)
        if mime is None:
            raise InvalidAnswer("press/logo_not_image", name=name)
        checked.append(PressUpload(filename=name, mime=mime, size=len(upload.data),
                                   data=upload.data, uploaded_by=ctx.actor,
                                   created_at=ctx.now))
    for row in checked:  # only once every file is fine: nothing half-kept
        ctx.session.add(row)
    ctx.session.flush()
    return [_logo_file(row.id, row.filename, row.size) for row in checked]


@DOMAIN.purge
def forget_unused_logos(session: Session, now: datetime, settings: Any) -> None:  # noqa: ANN401
    """A logo uploaded during a draft that was cancelled or expired, or replaced by another
    answer, belongs to no version: it goes once no conversation could still save it."""
    cutoff = now - settings.conversation_timeout - timedelta(days=1)
    old = set(session.exec(select(PressUpload.id).where(col(PressUpload.created_at) < cutoff)))
    if not old:
        return
    used = set(session.exec(select(PressVersion.logo_file_id).where(
        col(PressVersion.logo_file_id).is_not(None))))
    for images in session.exec(select(PressVersion.images)):
        used |= {i.get("id") for i in images or [] if isinstance(i, dict)}
    if old - used:
        session.exec(delete(PressUpload).where(col(PressUpload.id).in_(old - used)))


def _logo_file(row_id: int | None, name: str, size: int) -> dict[str, Any]:
    return {"id": row_id, "name": name, "size": size, "kb": max(1, round(size / 1024))}


def _legal(answer: str, ctx: Ctx) -> bool:
    return parsers.choice(LEGAL_CHOICES, YES_NO)(answer, ctx) == "yes"


def _lines(parse: parsers.Parser) -> parsers.Parser:
    def read(answer: str, ctx: Ctx) -> list[Any]:
        items = [parse(line, ctx) for line in _SPLIT_LINES.split(answer) if line.strip()]
        if not items:
            raise InvalidAnswer("errors/answer_empty")
        return items

    return read


# How `/press edit ID field value` reads each field's new value.
FIELD_PARSERS: dict[str, parsers.Parser] = {
    "headline": parsers.text(HEADLINE_MAX),
    "background": parsers.text(BACKGROUND_MAX, single_line=False),
    "facts": _lines(parsers.text(FACT_MAX)),
    "contact": _contact,
    "logo": _link,
    "images": lambda answer, ctx: _lines(_link)(" \n".join(answer.split()), ctx),
    "planned": parsers.when(future_only=True),
    "legal": _legal,
}


# -- commands -----------------------------------------------------------------------------------


@DOMAIN.command("press", None, usage="press.cmd.main")
def press_main(ctx: Ctx, args: Args) -> Reply:
    word = args.get(0)
    if word and rules.IDS.parse(word):
        return _show(ctx, _load(ctx, word, "press/show_usage"), None)
    return family_menu(ctx, "press", word)


@DOMAIN.command("press", "new", aliases=("新建",), usage="press.cmd.new")
def press_new(ctx: Ctx, args: Args) -> list[Reply]:
    return ctx.app.engine.start(ctx, NEW_FLOW, args.keywords)


@DOMAIN.command("press", "show", aliases=("查看",), usage="press.cmd.show")
def press_show(ctx: Ctx, args: Args) -> Reply:
    release = _load(ctx, args.get(0), "press/show_usage")
    number = None
    if args.get(1):
        word = args.get(1, "").lower().lstrip("v")
        if not word.isdigit() or not 1 <= int(word) <= release.version:
            raise UserError("press/no_version", ref=release.ref, last=release.version)
        number = int(word)
    return _show(ctx, release, number)


@DOMAIN.command("press", "edit", aliases=("修改", "编辑"), usage="press.cmd.edit")
def press_edit(ctx: Ctx, args: Args) -> list[Reply]:
    release = _load_own(ctx, args.get(0), "press/edit_usage", lock=True)
    if release.state == State.PUBLISHED:
        raise UserError("press/published_locked", ref=release.ref)
    field = rules.field_of(args.get(1))
    value = args.text_after(2)
    if field is None or not value:
        raise UserError("press/edit_usage", ref=release.ref)
    try:
        parsed = FIELD_PARSERS[field](value, ctx)
    except InvalidAnswer as exc:
        raise UserError(exc.template, **exc.params) from None
    current = _version(ctx.session, release)
    before = _content(current)
    after = dict(before)
    after[field] = _content_value(field, parsed)
    if field == "logo":
        after["logo_file"] = None  # a logo link given in an edit replaces an uploaded logo
    diff = rules.changes(before, after)
    if not diff:
        raise UserError("press/unchanged", ref=release.ref, field=field)
    version = _new_version(ctx, release, current.number + 1, after)
    again = release.state in (State.REVIEW, State.APPROVED)
    release.version, release.updated_at = version.number, ctx.now
    if again:
        release.state = State.REVIEW
    ctx.session.add(release)
    ctx.session.flush()
    ctx.audit(RECORD, release.ref, "edit", {"version": version.number,
                                           "fields": [d["field"] for d in diff]})
    _plan_due(ctx, release, version)
    replies = [Reply("press/edited", {"ref": release.ref, "version": version.number,
                                      "changes": diff, "again": again,
                                      "hints": _hints(ctx.session, after)})]
    if again:
        _cancel_review(ctx.session, release.ref)
        replies += _ask_reviewers(ctx, release, version)
    return replies


@DOMAIN.command("press", "submit", aliases=("提交", "送审"), usage="press.cmd.submit")
def press_submit(ctx: Ctx, args: Args) -> list[Reply]:
    release = _load_own(ctx, args.get(0), "press/submit_usage", lock=True)
    if release.state != State.DRAFT:
        raise UserError("press/not_draft", ref=release.ref, state=str(release.state))
    version = _version(ctx.session, release)
    if not version.logo and version.logo_file_id is None:
        raise UserError("press/no_logo", ref=release.ref)
    release.state, release.updated_at = State.REVIEW, ctx.now
    ctx.session.add(release)
    ctx.audit(RECORD, release.ref, "submit", {"version": version.number})
    sides = list(rules.sides_needed(version.legal))
    return [Reply("press/submitted", {"ref": release.ref, "version": version.number,
                                      "sides": sides}),
            *_ask_reviewers(ctx, release, version)]


@DOMAIN.command("press", "approve", aliases=("批准", "通过"), roles=("pr", "legal"),
                usage="press.cmd.approve")
def press_approve(ctx: Ctx, args: Args) -> list[Reply]:
    release, version = _under_review(ctx, args.get(0), "press/approve_usage")
    done = _approved_sides(ctx.session, release.ref, version.number)
    missing = rules.sides_missing(version.legal, done)
    mine = [s for s in rules.sides_of(ctx.roles) if s in missing]
    if not mine:
        raise UserError("press/nothing_to_approve", ref=release.ref, version=version.number,
                        done=done, missing=missing)
    for side in mine:
        ctx.session.add(_decision(ctx, release, version, side, "approved", ""))
    missing = [s for s in missing if s not in mine]
    ctx.audit(RECORD, release.ref, "approve", {"version": version.number, "sides": mine})
    _cancel_review(ctx.session, release.ref, mine)
    values = {"ref": release.ref, "version": version.number, "sides": mine,
              "missing": missing, "headline": version.headline,
              "reviewer": ctx.member.display_name}
    replies = [Reply("press/approved", values)]
    if not missing:
        release.state, release.updated_at = State.APPROVED, ctx.now
        ctx.session.add(release)
        replies.append(_to_author(release, "press/approved_notice", values,
                                  [Choice(f"/press publish {release.ref}",
                                          "press.choice.publish", style="primary")]))
    return replies


@DOMAIN.command("press", "changes", aliases=("修改意见", "退回"), roles=("pr", "legal"),
                usage="press.cmd.changes")
def press_changes(ctx: Ctx, args: Args) -> list[Reply]:
    release, version = _under_review(ctx, args.get(0), "press/changes_usage")
    mine = [s for s in rules.sides_of(ctx.roles) if s in rules.sides_needed(version.legal)]
    if not mine:
        raise UserError("press/nothing_to_approve", ref=release.ref, version=version.number,
                        done=[], missing=list(rules.sides_needed(version.legal)))
    note = args.text_after(1)
    if len(note) > 500:
        raise UserError("errors/answer_too_long", limit=500, length=len(note))
    for side in mine:
        ctx.session.add(_decision(ctx, release, version, side, "changes", note))
    release.state, release.updated_at = State.DRAFT, ctx.now
    ctx.session.add(release)
    ctx.audit(RECORD, release.ref, "changes", {"version": version.number, "sides": mine,
                                              "note": note})
    _cancel_review(ctx.session, release.ref)
    values = {"ref": release.ref, "version": version.number, "sides": mine, "note": note,
              "headline": version.headline, "reviewer": ctx.member.display_name}
    return [Reply("press/changes_requested", values),
            _to_author(release, "press/changes_notice", values, [])]


@DOMAIN.command("press", "publish", aliases=("发布",), roles=("pr",), usage="press.cmd.publish")
def press_publish(ctx: Ctx, args: Args) -> list[Reply]:
    release = _load(ctx, args.get(0), "press/publish_usage", lock=True)
    outlets = " ".join(args.text_after(1).split())
    if not outlets:
        raise UserError("press/publish_usage")
    if len(outlets) > 100:
        raise UserError("errors/answer_too_long", limit=100, length=len(outlets))
    if release.state != State.APPROVED:
        raise UserError("press/not_approved", ref=release.ref, state=str(release.state))
    version = _version(ctx.session, release)
    comm = _open_comm(ctx, release, version, outlets)
    release.state, release.published_at = State.PUBLISHED, ctx.now
    release.published_by, release.published_to = ctx.member.display_name, outlets
    release.comm_ref, release.updated_at = comm.ref, ctx.now
    ctx.session.add(release)
    api.cancel(ctx.session, record_type=RECORD, record_id=release.ref)
    ctx.audit(RECORD, release.ref, "publish", {"version": version.number, "to": outlets,
                                              "comm": comm.ref})
    return [Reply("press/published", {"ref": release.ref, "version": version.number,
                                      "to": outlets, "comm": comm.ref,
                                      "followup_after": ctx.settings.comm.followup})]


@DOMAIN.command("press", "export", aliases=("导出",), usage="press.cmd.export")
def press_export(ctx: Ctx, args: Args) -> Reply:
    release = _load(ctx, args.get(0), "press/export_usage")
    version = _version(ctx.session, release)
    labels = {key: ctx.app.renderer.label(ctx.locale, f"press.export.{key}")
              for key in export.LABELS}
    content, planned = _content(version), _local(ctx, version.planned_at)
    stem = f"{release.ref}-v{version.number}"
    title = ctx.app.renderer.label(ctx.locale, "press.export.title").format(
        ref=release.ref, version=version.number)
    files = (
        Attachment(f"{stem}.docx", export.docx_bytes(content, labels, planned,
                                                     _logo_bytes(ctx, version),
                                                     _pictures(ctx, version)),
                   title=title, mime=DOCX_MIME),
        Attachment(f"{stem}.md", export.markdown(content, labels, planned).encode("utf-8"),
                   title=title, mime=MARKDOWN_MIME),
    )
    return Reply("press/exported", {"ref": release.ref, "version": version.number,
                                    "files": [f.filename for f in files]},
                 audience=Audience.USER, files=files)


def _logo_bytes(ctx: Ctx, version: PressVersion) -> Any:  # noqa: ANN401
    """The picture at the top of the Word export: the release's uploaded logo, else the
    company logo (LIAISON_PRESS_LOGO), else none."""
    if version.logo_file_id is not None:
        row = ctx.session.get(PressUpload, version.logo_file_id)
        if row is not None:
            return bytes(row.data)
    return ctx.settings.press.logo_path


def _pictures(ctx: Ctx, version: PressVersion) -> dict[int, bytes]:
    """The uploaded high-resolution images of a version, by id."""
    ids = [i["id"] for i in version.images if isinstance(i, dict)]
    if not ids:
        return {}
    return {row.id: bytes(row.data) for row in ctx.session.exec(
        select(PressUpload).where(col(PressUpload.id).in_(ids))) if row.id is not None}


@DOMAIN.command("press", "list", aliases=("列表",), usage="press.cmd.list")
def press_list(ctx: Ctx, args: Args) -> Reply:
    word = (args.get(0) or "").lower()
    state = next((s for s in State if word in (s.value, *(
        ctx.app.renderer.label(loc, f"press.state.{s.value}").lower() for loc in ("zh", "en")))),
        None)
    if word and state is None:
        raise UserError("press/list_usage", word=word[:40])
    query = select(PressRelease)
    if state is not None:
        query = query.where(PressRelease.state == state)
    rows = list(ctx.session.exec(
        query.order_by(col(PressRelease.id).desc()).limit(LIST_LIMIT + 1)).all())
    items = [{"ref": r.ref, "state": r.state, "version": r.version, "author": r.author_name,
              "headline": _version(ctx.session, r).headline} for r in rows[:LIST_LIMIT]]
    return Reply("press/list", {"rows": items, "state": state, "more": len(rows) > LIST_LIMIT},
                 audience=Audience.USER)


# -- reminders ----------------------------------------------------------------------------------


def _review_open(session: Session, reminder: Reminder) -> tuple[PressRelease, PressVersion] | None:
    release = records.find(session, PressRelease, reminder.record_id)
    if release is None or release.state != State.REVIEW:
        return None
    if release.version != reminder.payload.get("version"):
        return None
    version = _version(session, release)
    side = reminder.payload.get("side")
    if side not in rules.sides_missing(version.legal,
                                       _approved_sides(session, release.ref, version.number)):
        return None
    return release, version


def working_morning(local: datetime) -> datetime:
    """The next 09:00 on a weekday: this morning's when it is still ahead."""
    morning = local.replace(hour=9, minute=0, second=0, microsecond=0)
    return morning if local < morning and local.weekday() < 5 else next_workday(local)


def review_sent(session: Session, reminder: Reminder, now: datetime) -> None:
    """Until the side decides, its channel hears again each working morning."""
    if _review_open(session, reminder) is None:
        return
    due = working_morning(now.astimezone(ZoneInfo(reminder.payload.get("zone") or "UTC")))
    api.plan(session, key=rules.reminder_key(reminder.record_id,
                                             f"review:{reminder.payload['side']}:{due.date()}"),
             kind=REVIEW_KIND, due=due, target=Target.purpose(reminder.payload["side"]),
             record_type=RECORD, record_id=reminder.record_id, payload=dict(reminder.payload))


@DOMAIN.reminder_kind(REVIEW_KIND, on_sent=review_sent)
def remind_review(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    found = _review_open(session, reminder)
    if found is None:
        return None
    release, version = found
    return Reply("press/remind_review",
                 {"ref": release.ref, "version": version.number, "headline": version.headline,
                  "side": reminder.payload["side"], "author": release.author_name},
                 choices=_review_choices(release.ref))


@DOMAIN.reminder_kind(DUE_KIND)
def remind_due(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    release = records.find(session, PressRelease, reminder.record_id)
    if release is None or release.state in (State.APPROVED, State.PUBLISHED):
        return None
    version = _version(session, release)
    planned = version.planned_at
    if planned is None or _aware(planned).isoformat() != reminder.payload.get("planned"):
        return None
    return Reply("press/remind_due", {"ref": release.ref, "headline": version.headline,
                                      "state": release.state, "planned": _aware(planned)},
                 choices=[Choice(f"/press show {release.ref}", "press.choice.show")])


def _plan_due(ctx: Ctx, release: PressRelease, version: PressVersion) -> None:
    key = rules.reminder_key(release.ref, "due")
    api.cancel(ctx.session, key=key)
    if version.planned_at is None:
        return
    planned = _aware(version.planned_at)
    due = planned - timedelta(hours=24)
    if due <= ctx.now:
        return
    api.plan(ctx.session, key=key, kind=DUE_KIND, due=due,
             target=Target.member(release.author_platform, release.author_id),
             record_type=RECORD, record_id=release.ref,
             payload={"planned": planned.isoformat()})


def _cancel_review(session: Session, ref: str, sides: list[str] | None = None) -> None:
    for row in api.pending(session, RECORD, ref):
        if row.kind == REVIEW_KIND and (sides is None or row.payload.get("side") in sides):
            api.cancel(session, key=row.key)


# -- the new-release conversation ---------------------------------------------------------------


def _new_flow() -> Flow:
    return Flow(
        name=NEW_FLOW,
        steps=(
            Step("headline", "press/ask_headline", FIELD_PARSERS["headline"]),
            Step("background", "press/ask_background", FIELD_PARSERS["background"]),
            Step("facts", "press/ask_facts", parsers.text(FACT_MAX), collect=True),
            Step("contact", "press/ask_contact", _contact),
            Step("logo", "press/ask_logo", _logo, optional=True, default=lambda ctx, a: "",
                 files=True),
            Step("images", "press/ask_images", _image, collect=True, optional=True,
                 default=lambda ctx, a: [], files=True, collected="press/collected_images"),
            Step("planned", "press/ask_planned", FIELD_PARSERS["planned"], optional=True,
                 default=lambda ctx, a: None),
            Step("legal", "press/ask_legal", parsers.choice(LEGAL_CHOICES, YES_NO),
                 choices=LEGAL_CHOICES, optional=True,
                 default=lambda ctx, a: "yes" if _legal_default(a) else "no"),
        ),
        summary="press/new_summary",
        finish=_finish_new,
        values=_flow_values,
    )


def _legal_default(answers: dict[str, Any]) -> bool:
    return rules.legal_suggested(_as_list(answers.get("facts")))


def _flow_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    content = _answers_content(answers)
    return {"legal_suggested": _legal_default(answers), "content": content,
            "upload_max_mb": f"{ctx.settings.upload_max_bytes / (1024 * 1024):g}",
            "hints": _hints(ctx.session, content), "long_headline":
            rules.headline_too_long(answers.get("headline") or "")}


def _answers_content(answers: dict[str, Any]) -> dict[str, Any]:
    contact = answers.get("contact") or {}
    legal = answers.get("legal")
    logo = answers.get("logo") or ""
    return {
        "headline": answers.get("headline") or "",
        "background": answers.get("background") or "",
        "facts": _as_list(answers.get("facts")),
        "contact": f"{contact['name']} {contact['way']}" if contact else "",
        "logo": logo if isinstance(logo, str) else "",
        "logo_file": logo if isinstance(logo, dict) else None,
        "images": _as_list(answers.get("images")),
        "planned": answers.get("planned"),
        "legal": _legal_default(answers) if legal is None else legal == "yes",
    }


def _finish_new(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    year = ctx.now.astimezone(ctx.settings.zone).year
    seq, ref = rules.IDS.next(ctx.session, year)
    release = PressRelease(
        ref=ref, year=year, seq=seq, state=State.DRAFT,
        author_platform=ctx.member.platform, author_id=ctx.member.user_id,
        author_name=ctx.member.display_name, version=1, created_at=ctx.now, updated_at=ctx.now)
    ctx.session.add(release)
    content = _answers_content(answers)
    version = _new_version(ctx, release, 1, content)
    ctx.session.flush()
    ctx.audit(RECORD, ref, "create", {"version": 1, "headline": version.headline})
    _plan_due(ctx, release, version)
    return [Reply("press/created", {**_card(ctx, release, version),
                                           "hints": _hints(ctx.session, content)})]


# -- records ------------------------------------------------------------------------------------


def _as_list(value: Any) -> list[str]:  # noqa: ANN401
    if value is None:
        return []
    return [value] if isinstance(value, str) else list(value)


def _aware(value: datetime) -> datetime:
    # SQLite hands datetimes back naive; they are stored in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=ZoneInfo("UTC"))


def _local(ctx: Ctx, value: datetime | None) -> datetime | None:
    return _aware(value).astimezone(ctx.zone) if value is not None else None


def _content_value(field: str, parsed: Any) -> Any:  # noqa: ANN401
    if field == "contact":
        return f"{parsed['name']} {parsed['way']}"
    return parsed


def _content(v: PressVersion) -> dict[str, Any]:
    logo_file = None
    session = object_session(v)
    if v.logo_file_id is not None and session is not None:
        found = session.exec(select(PressUpload.filename, PressUpload.size).where(
            PressUpload.id == v.logo_file_id)).first()
        if found is not None:
            logo_file = _logo_file(v.logo_file_id, found[0], found[1])
    return {"headline": v.headline, "background": v.background, "facts": list(v.facts),
            "contact": f"{v.contact_name} {v.contact_way}", "logo": v.logo,
            "logo_file": logo_file,
            "images": list(v.images),
            "planned": _aware(v.planned_at).isoformat() if v.planned_at else None,
            "legal": v.legal}


def _new_version(ctx: Ctx, release: PressRelease, number: int,
                 content: dict[str, Any]) -> PressVersion:
    name, way = rules.contact_of(content["contact"]) or (content["contact"], "")
    version = PressVersion(
        release_ref=release.ref, number=number, headline=content["headline"],
        background=content["background"], facts=list(content["facts"]),
        contact_name=name, contact_way=way, logo=content["logo"],
        logo_file_id=(content.get("logo_file") or {}).get("id"),
        images=list(content["images"]),
        planned_at=datetime.fromisoformat(content["planned"]) if content["planned"] else None,
        legal=bool(content["legal"]), created_by=ctx.actor,
        created_by_name=ctx.member.display_name, created_at=ctx.now)
    ctx.session.add(version)
    return version


def _version(session: Session, release: PressRelease, number: int | None = None) -> PressVersion:
    return session.exec(select(PressVersion).where(
        PressVersion.release_ref == release.ref,
        PressVersion.number == (number or release.version))).one()


def _decisions(session: Session, ref: str, number: int) -> list[PressDecision]:
    return list(session.exec(select(PressDecision).where(
        PressDecision.release_ref == ref, PressDecision.version == number)
        .order_by(col(PressDecision.at), col(PressDecision.id))).all())


def _approved_sides(session: Session, ref: str, number: int) -> list[str]:
    return list(dict.fromkeys(d.side for d in _decisions(session, ref, number)
                              if d.decision == "approved"))


def _decision(ctx: Ctx, release: PressRelease, version: PressVersion, side: str,
              decision: str, note: str) -> PressDecision:
    return PressDecision(release_ref=release.ref, version=version.number, side=side,
                         decision=decision, by=ctx.actor, by_name=ctx.member.display_name,
                         note=note, at=ctx.now)


def _load(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> PressRelease:
    return records.load(ctx.session, PressRelease, rules.IDS, raw, missing="press/not_found",
                        lock=lock, usage=usage)


AUTHOR = records.Who("press/not_author", people=("author",), roles=("admin",),
                     about=lambda release: {"author": release.author_name})


def _load_own(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> PressRelease:
    return records.load_allowed(ctx, PressRelease, rules.IDS, raw, AUTHOR,
                                missing="press/not_found", lock=lock, usage=usage)


def _under_review(ctx: Ctx, raw: str | None, usage: str) -> tuple[PressRelease, PressVersion]:
    release = _load(ctx, raw, usage, lock=True)
    if release.state != State.REVIEW:
        raise UserError("press/not_in_review", ref=release.ref, state=str(release.state))
    version = _version(ctx.session, release)
    author = f"{release.author_platform}:{release.author_id}"
    if ctx.actor in (author, version.created_by):
        raise PermissionDenied("press/own_draft", ref=release.ref)
    return release, version


# -- telling people -----------------------------------------------------------------------------


def _review_choices(ref: str) -> list[Choice]:
    return [Choice(f"/press approve {ref}", "press.choice.approve", style="primary"),
            Choice(f"/press changes {ref}", "press.choice.changes", style="danger")]


def _ask_reviewers(ctx: Ctx, release: PressRelease, version: PressVersion) -> list[Reply]:
    """Each side's channel gets the version with the two buttons, and a reminder after
    LIAISON_PRESS_REVIEW, then each working morning, until it decides."""
    card = _card(ctx, release, version)
    replies = []
    for side in rules.sides_needed(version.legal):
        replies.append(Reply("press/review_request", {**card, "side": side},
                             choices=_review_choices(release.ref),
                             audience=Audience.PURPOSE, purpose=side))
        api.plan(ctx.session, key=rules.reminder_key(release.ref,
                                                     f"review:{side}:v{version.number}"),
                 kind=REVIEW_KIND, due=ctx.now + ctx.settings.press.review,
                 target=Target.purpose(side), record_type=RECORD, record_id=release.ref,
                 payload={"side": side, "version": version.number,
                          "zone": ctx.settings.timezone})
    return replies


def _to_author(release: PressRelease, template: str, values: dict[str, Any],
               choices: list[Choice]) -> Reply:
    return Reply(template, dict(values), choices=choices, audience=Audience.MEMBER,
                 member=(release.author_platform, release.author_id))


def _hints(session: Session, content: dict[str, Any]) -> list[dict[str, Any]]:
    text = "\n".join([content["headline"], content["background"], *content["facts"]])
    hints = [h.as_values() for h in principles.check(text, principle_lists(session),
                                                       glossary.pairs(session))]
    if rules.headline_too_long(content["headline"]):
        hints.insert(0, {"category": "headline", "principle": "professionalism", "words": [],
                         "preferred": ""})
    return hints


def _card(ctx: Ctx, release: PressRelease, version: PressVersion) -> dict[str, Any]:
    content = _content(version)
    return {"ref": release.ref, "state": release.state, "version": version.number,
            "current": release.version, "author": release.author_name, "content": content,
            "planned": _local(ctx, version.planned_at),
            "sides": list(rules.sides_needed(version.legal))}


def _show(ctx: Ctx, release: PressRelease, number: int | None) -> Reply:
    version = _version(ctx.session, release, number)
    decisions = [{"side": d.side, "decision": d.decision, "by": d.by_name, "at": d.at,
                  "note": d.note} for d in _decisions(ctx.session, release.ref, version.number)]
    return Reply("press/card", {**_card(ctx, release, version), "decisions": decisions,
                                "hints": _hints(ctx.session, _content(version)),
                                "published": release.published_at,
                                "published_to": release.published_to,
                                "comm": release.comm_ref}, audience=Audience.USER)


def _open_comm(ctx: Ctx, release: PressRelease, version: PressVersion,
               outlets: str) -> CommRecord:
    """The /comm record of the media communication the release starts: its message is
    delivered, so its follow-up and then its review are reminded as /comm plans them."""
    year = ctx.now.astimezone(ctx.settings.zone).year
    seq, ref = comm_rules.IDS.next(ctx.session, year)
    record = CommRecord(
        ref=ref, year=year, seq=seq, state=comm_rules.State.PREPARED,
        owner_platform=ctx.member.platform, owner_id=ctx.member.user_id,
        owner_name=ctx.member.display_name, audience="media", audience_name=outlets,
        topic=version.headline[:80], goal="publish", goal_text=version.headline[:300],
        materials=[release.ref, *([version.logo] if version.logo else []),
                   *(i["name"] if isinstance(i, dict) else i for i in version.images)],
        channel="press_release", created_at=ctx.now, updated_at=ctx.now)
    record.message_at, record.message_text = ctx.now, version.headline[:500]
    ctx.session.add(record)
    ctx.session.flush()
    ctx.audit(COMM_RECORD, ref, "create", {"press": release.ref, "audience": "media",
                                           "audience_name": outlets})
    settle_comm(ctx, record, comm_rules.State.PREPARED)
    return record


DOMAIN.flow(_new_flow())
