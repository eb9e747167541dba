"""`/survey` (满意度调查): the handbook's 客户 满意度调查 — design a questionnaire, invite
customers by e-mail or SMS, improve from the feedback.

A survey `S-2026-0001` is a questionnaire (title and questions: rating 1–5, single choice,
free text), walked in chat or taken from a shipped one (complaint follow-up, partners; both
languages). `/survey invite` makes one private link per recipient, e-mails it (LIAISON_SMTP_URL)
or writes the SMS text for the team's SMS tool; the customer answers on the bot's own web page
(handlers/surveys/web.py); `/survey results` shows the figures. A closed complaint with an e-mail on
file offers its customer the follow-up survey (`/survey send C-…`, the close message's
button). The rules are in rules.py, storage shared with the web page in store.py."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from sqlmodel import col, func, select

from bot import parsers, records
from bot.context import Ctx
from bot.conversation import Flow, Step
from bot.domain import family_menu
from bot.errors import InvalidAnswer, UserError
from bot.export import csv_bytes
from bot.messages import Attachment, Audience, Choice, Reply
from bot.router import Args
from handlers.surveys import DOMAIN, mailer, rules, store
from handlers.surveys.models import (
    CLOSED,
    FAILED,
    OPEN,
    QUEUED,
    SENDING,
    SENT,
    Survey,
    SurveyInvitation,
    SurveyResponse,
)

RECORD = "survey"
NEW_FLOW = "survey.new"
LIST_LIMIT = 20
CSV_MIME = "text/csv; charset=utf-8"


# Who may invite to, close or read the results of a survey: its owner, the surveys role, admins.
KEEPERS = records.Who("surveys/not_allowed", people=("owner",), roles=("surveys", "admin"),
                      about=lambda s: {"owner": s.owner_name})


# Who may send a closed complaint's customer the survey: the complaint's owner agreeing (the
# button on the close message), survey managers, admins.
SENDERS = records.Who("surveys/send_not_owner", people=("owner",), roles=("surveys", "admin"),
                      about=lambda c: {"owner": c.owner_name})


# -- commands ----------------------------------------------------------------------------------


@DOMAIN.command("survey", None, usage="surveys.cmd.main")
def survey_main(ctx: Ctx, args: Args) -> Reply:
    word = args.get(0)
    if word and rules.IDS.parse(word):
        return _show(ctx, _load(ctx, word, "surveys/usage_show"))
    return family_menu(ctx, "survey", word)


@DOMAIN.command("survey", "new", aliases=("新建",), usage="surveys.cmd.new")
def survey_new(ctx: Ctx, args: Args) -> list[Reply]:
    prefill = dict(args.keywords)
    if args.positional:
        prefill.setdefault("template", args.positional[0])
    return ctx.app.engine.start(ctx, NEW_FLOW, prefill)


@DOMAIN.command("survey", "show", aliases=("查看",), usage="surveys.cmd.show")
def survey_show(ctx: Ctx, args: Args) -> Reply:
    return _show(ctx, _load(ctx, args.get(0), "surveys/usage_show"))


@DOMAIN.command("survey", "list", aliases=("列表",), usage="surveys.cmd.list")
def survey_list(ctx: Ctx, args: Args) -> Reply:
    rows = ctx.session.exec(select(Survey).order_by(col(Survey.id).desc())
                            .limit(LIST_LIMIT)).all()
    return Reply("surveys/list", {"rows": [_row(ctx, s) for s in rows]}, audience=Audience.USER)


@DOMAIN.command("survey", "invite", aliases=("邀请", "发送邀请"), usage="surveys.cmd.invite")
def survey_invite(ctx: Ctx, args: Args) -> Reply:
    """`invite ID` then one recipient a line (name, e-mail or mobile, zh|en), or a CSV file
    sent with the command."""
    survey = _writable(ctx, args.get(0), "surveys/usage_invite")
    recipients = _recipients(ctx, args.text_after(1))
    if not recipients:
        raise UserError("surveys/usage_invite", ref=survey.ref)
    return _invite(ctx, survey, recipients)


@DOMAIN.command("survey", "send", aliases=("回访",), usage="surveys.cmd.send")
def survey_send(ctx: Ctx, args: Args) -> Reply:
    """`send C-2026-0001 [zh|en]`: the complaint follow-up survey to the complaint's customer
    (the button on a closed complaint's message runs this)."""
    from handlers.complaints.models import Complaint
    from handlers.complaints.rules import IDS as COMPLAINT_IDS

    complaint = records.load(ctx.session, Complaint, COMPLAINT_IDS, args.get(0),
                             missing="surveys/no_complaint", lock=True,
                             usage="surveys/usage_send")
    SENDERS.check(ctx, complaint)
    if complaint.status != "closed":
        raise UserError("surveys/send_not_closed", ref=complaint.ref)
    email = rules.email_in(complaint.contact)
    if not email:
        raise UserError("surveys/send_no_email", ref=complaint.ref)
    sent = ctx.session.exec(select(SurveyInvitation).where(
        SurveyInvitation.complaint_ref == complaint.ref)).first()
    if sent is not None:
        raise UserError("surveys/send_already", ref=complaint.ref, at=sent.created_at)
    survey = ctx.session.exec(select(Survey).where(Survey.template == "complaint",
                                                   Survey.status == OPEN)
                              .order_by(col(Survey.id).desc())).first()
    if survey is None:
        survey = _create(ctx, "complaint", "", [])
    locale = rules.lang_of(args.get(1)) or ctx.locale
    if args.get(1) and not rules.lang_of(args.get(1)):
        raise UserError("surveys/bad_lang", value=args.get(1)[:20])
    who = rules.Recipient(name=complaint.customer[:rules.MAX_NAME], email=email, locale=locale)
    return _invite(ctx, survey, [who], complaint_ref=complaint.ref)


@DOMAIN.command("survey", "results", aliases=("结果", "统计"), usage="surveys.cmd.results")
def survey_results(ctx: Ctx, args: Args) -> Reply:
    survey = _load(ctx, args.get(0), "surveys/usage_results")
    KEEPERS.check(ctx, survey)
    invited = _count(ctx, SurveyInvitation, survey)
    responses = list(ctx.session.exec(select(SurveyResponse).where(
        SurveyResponse.survey_id == survey.id).order_by(col(SurveyResponse.id))).all())
    chat = store.chat_scores(ctx.session, survey)
    figures = rules.figures(survey.questions, [r.answers for r in responses], chat)
    for row in figures:
        row["text"] = rules.said(row["text"], ctx.locale)
        for option in row.get("options", []):
            option["label"] = rules.said(option["label"], ctx.locale)
        if "texts" in row:  # the latest few here, every answer in the CSV file
            row["more"] = max(0, len(row["texts"]) - SHOWN_TEXTS)
            row["texts"] = row["texts"][-SHOWN_TEXTS:][::-1]
    files = (Attachment(f"{survey.ref}-answers.csv", _answers_csv(ctx, survey, responses),
                        title=f"{survey.ref} answers", mime=CSV_MIME),) if responses else ()
    reach = _reach(ctx, survey)
    return Reply("surveys/results", {
        "s": _row(ctx, survey), "invited": invited, "answered": len(responses), **reach,
        "rate": round(100 * len(responses) / reach["reached"]) if reach["reached"] else None,
        "figures": figures, "chat": len(chat),
        "actions": [r.action_ref for r in responses if r.action_ref],
    }, audience=Audience.USER, files=files)


SHOWN_TEXTS = 10  # free-text answers shown in the chat's results, the latest first


def _answers_csv(ctx: Ctx, survey: Survey, responses: list[SurveyResponse]) -> bytes:
    """Every response, one a row: when, then each question's answer as the customer gave
    it (a choice by its label, in the reader's language)."""
    questions = survey.questions
    header = [ctx.app.renderer.label(ctx.locale, "surveys.csv_submitted")] + [
        rules.said(q["text"], ctx.locale) for q in questions]
    rows = []
    for r in responses:
        when = store.aware(r.submitted_at).astimezone(ctx.zone)
        row: list[Any] = [when.strftime("%Y-%m-%d %H:%M")]
        for q in questions:
            value = r.answers.get(q["id"])
            if q["type"] == "choice" and isinstance(value, int) and 0 <= value < len(
                    q["options"]):
                value = rules.said(q["options"][value], ctx.locale)
            row.append("" if value is None else value)
        rows.append(row)
    return csv_bytes(header, rows)


@DOMAIN.command("survey", "close", aliases=("关闭", "结束"), usage="surveys.cmd.close")
def survey_close(ctx: Ctx, args: Args) -> Reply:
    survey = _load(ctx, args.get(0), "surveys/usage_close", lock=True)
    KEEPERS.check(ctx, survey)
    if survey.status == CLOSED:
        raise UserError("surveys/already_closed", ref=survey.ref, at=survey.closed_at)
    survey.status, survey.closed_at = CLOSED, ctx.now
    ctx.session.add(survey)
    ctx.session.flush()
    cancelled = mailer.cancel(ctx.session, survey)
    ctx.audit(RECORD, survey.ref, "close", {"cancelled": cancelled})
    return Reply("surveys/closed", {"s": _row(ctx, survey), "cancelled": cancelled})


# E-mailing the invitations, outside the command's transaction, and telling the inviter.
DOMAIN.reminder_kind(mailer.REPORT)(mailer.render_report)


# -- the walk ----------------------------------------------------------------------------------

TEMPLATE_CHOICES = [Choice(t, f"surveys.template.{t}") for t in (*rules.TEMPLATES, "custom")]


def _question(answer: str, ctx: Ctx) -> dict[str, Any]:
    try:
        return rules.parse_question(answer)
    except rules.Invalid as exc:
        if exc.key == "too_long":
            raise InvalidAnswer("errors/answer_too_long", **exc.params) from None
        raise InvalidAnswer(f"surveys/{exc.key}", **exc.params) from None


def _new_values(ctx: Ctx, answers: dict[str, Any]) -> dict[str, Any]:
    template = answers.get("template")
    if template in rules.TEMPLATES:
        data = rules.shipped(template)
        title, questions = rules.said(data["title"], ctx.locale), data["questions"]
    else:
        title, questions = answers.get("title") or "", answers.get("questions") or []
    return {"survey_title": title, "questions": _questions(questions, ctx.locale)}


def _finish_new(ctx: Ctx, answers: dict[str, Any]) -> list[Reply]:
    survey = _create(ctx, answers["template"], answers.get("title") or "",
                     answers.get("questions") or [])
    return [Reply("surveys/created", {"s": _row(ctx, survey),
                                      "questions": _questions(survey.questions, ctx.locale)})]


DOMAIN.flow(Flow(
    name=NEW_FLOW,
    steps=(
        Step("template", "surveys/ask_template",
             parsers.choice(TEMPLATE_CHOICES, rules.TEMPLATE_WORDS), choices=TEMPLATE_CHOICES),
        Step("title", "surveys/ask_title", parsers.text(max_len=200),
             when=lambda a: a.get("template") == "custom"),
        Step("questions", "surveys/ask_questions", _question, collect=True,
             max_items=rules.MAX_QUESTIONS, collected="surveys/collected_questions",
             empty="surveys/no_questions", kept="surveys/kept_questions",
             when=lambda a: a.get("template") == "custom"),
    ),
    summary="surveys/confirm_new",
    finish=_finish_new,
    values=_new_values,
))


# -- writing -----------------------------------------------------------------------------------


def _create(ctx: Ctx, template: str, title: str, questions: list[dict[str, Any]]) -> Survey:
    if template in rules.TEMPLATES:
        data = rules.shipped(template)
        title, questions = rules.said(data["title"], ctx.locale), data["questions"]
    year = ctx.now.astimezone(ctx.settings.zone).year
    survey = Survey(ref=rules.IDS.next(ctx.session, year)[1], title=title, template=template,
                    questions=rules.numbered(questions), owner_platform=ctx.member.platform,
                    owner_id=ctx.member.user_id, owner_name=ctx.member.display_name,
                    created_at=ctx.now)
    ctx.session.add(survey)
    ctx.session.flush()
    ctx.audit(RECORD, survey.ref, "create", {"title": title, "template": template,
                                            "questions": len(survey.questions)})
    return survey


def _recipients(ctx: Ctx, text: str) -> list[rules.Recipient]:
    """The recipients typed one a line and those of CSV files sent with the command; one
    that does not do refuses them all, naming its line."""
    rows: list[tuple[str, int, str | tuple[list[str], tuple[str, ...]]]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            rows.append(("", number, line))
    for upload in ctx.inbound.files:
        if upload.problem:
            raise UserError("surveys/file_problem", name=upload.filename[:80],
                            problem=upload.problem)
        if PurePath(upload.filename).suffix.lower() not in (".csv", ".txt"):
            raise UserError("surveys/file_not_csv", name=upload.filename[:80])
        try:
            rows.extend((upload.filename[:80], n, (cells, columns))
                        for n, cells, columns in rules.recipients_csv(upload.data))
        except rules.Invalid as exc:
            raise UserError(f"surveys/{exc.key}", name=upload.filename[:80]) from None
    if len(rows) > rules.MAX_RECIPIENTS:
        raise UserError("surveys/too_many", limit=rules.MAX_RECIPIENTS, count=len(rows))
    found: list[rules.Recipient] = []
    seen: set[str] = set()
    for source, number, row in rows:
        try:
            who = rules.recipient_line(row) if isinstance(row, str) else rules.recipient(*row)
        except rules.Invalid as exc:
            raise UserError("surveys/bad_recipient", source=source, line=number,
                            why=exc.key, **exc.params) from None
        key = (who.email or who.mobile).lower()
        if key in seen:
            raise UserError("surveys/duplicate", source=source, line=number, address=key)
        seen.add(key)
        found.append(who)
    return found


def _invite(ctx: Ctx, survey: Survey, recipients: list[rules.Recipient],
            complaint_ref: str = "") -> Reply:
    base = ctx.settings.public_url.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise UserError("surveys/no_public_url")
    settings = ctx.settings.surveys
    _check_complaints(ctx, survey, recipients)
    recipients, skipped = _not_yet_invited(ctx, survey, recipients, complaint_ref)
    rows: list[tuple[SurveyInvitation, str]] = []
    for who in recipients:
        # (When e-mailed, the sender gives the invitation its own token as it writes the
        # e-mail, rules.mail_token, so this one is never seen.)
        token = rules.new_token()
        invitation = SurveyInvitation(
            survey_id=survey.id, token_hash=rules.token_hash(token), name=who.name,
            email=who.email, mobile=who.mobile, locale=who.locale or ctx.locale,
            channel=who.channel, complaint_ref=who.complaint or complaint_ref,
            invited_by=ctx.actor,
            expires_at=ctx.now + settings.ttl, created_at=ctx.now)
        ctx.session.add(invitation)
        rows.append((invitation, f"{base}/s/{token}"))
    emails = [(i, link) for i, link in rows if i.channel == "email"]
    if settings.smtp_url:
        # E-mailed in the background once this is committed (mailer.py), each with a link
        # of its own made then; the inviter hears in chat how it went.
        mailer.queue(ctx.session, [i for i, _ in emails], ctx.now)
    ctx.session.flush()
    mailed = [{"name": i.name, "email": i.email, "link": link} for i, link in emails]
    texts = [{"name": i.name, "mobile": i.mobile, "locale": i.locale,
              "text": _sms(ctx, survey, i, link)} for i, link in rows if i.channel == "sms"]
    files: tuple[Attachment, ...] = ()
    if texts:
        body = csv_bytes(["name", "mobile", "language", "text"],
                         [[t["name"], t["mobile"], t["locale"], t["text"]] for t in texts],
                         verbatim=(1,))  # rules.recipient: ^\+?\d{7,15}$, as the SMS tool reads it
        files = (Attachment(f"{survey.ref}-sms.csv", body, title=f"{survey.ref} SMS",
                            mime=CSV_MIME),)
    ctx.audit(RECORD, survey.ref, "invite", {
        "emails": len(emails), "sms": len(texts), "complaint": complaint_ref,
        "mailed": bool(emails and settings.smtp_url)})
    return Reply("surveys/invited", {
        "s": _row(ctx, survey), "mailed": mailed, "texts": texts, "ttl": settings.ttl,
        "smtp": bool(settings.smtp_url), "complaint": complaint_ref, "skipped": skipped,
        "expires": ctx.now + settings.ttl}, audience=Audience.USER, files=files)


def _not_yet_invited(ctx: Ctx, survey: Survey, recipients: list[rules.Recipient],
                     complaint_ref: str) -> tuple[list[rules.Recipient], list[dict[str, Any]]]:
    """The recipients without a live invitation to this survey (unused, unexpired, the same
    e-mail, mobile or complaint), and those left out, with when they were invited. An earlier
    invitation whose e-mail failed does not count: it is retired and replaced."""
    live = ctx.session.exec(select(SurveyInvitation).where(
        SurveyInvitation.survey_id == survey.id, col(SurveyInvitation.used_at).is_(None),
        col(SurveyInvitation.expires_at) > ctx.now)
        .order_by(col(SurveyInvitation.id))).all()
    fresh: list[rules.Recipient] = []
    skipped: list[dict[str, Any]] = []
    for who in recipients:
        complaint = who.complaint or complaint_ref
        earlier = [i for i in live if (
            (who.email and i.email.lower() == who.email.lower())
            or (who.mobile and i.mobile == who.mobile)
            or (complaint and i.complaint_ref == complaint))]
        blocking = [i for i in earlier if i.mail_status != FAILED]
        if blocking:
            skipped.append({"name": who.name, "address": who.email or who.mobile or complaint,
                            "at": blocking[0].created_at})
            continue
        for failed in earlier:  # its e-mail never arrived: this invitation replaces it
            failed.expires_at = ctx.now
            ctx.session.add(failed)
        fresh.append(who)
    return fresh, skipped


def _check_complaints(ctx: Ctx, survey: Survey, recipients: list[rules.Recipient]) -> None:
    """A complaint named on a recipient's line exists, and only the complaint follow-up
    questionnaire follows one up."""
    from handlers.complaints.models import Complaint

    for who in recipients:
        if not who.complaint:
            continue
        if survey.template != "complaint":
            raise UserError("surveys/not_complaint_survey", ref=survey.ref,
                            complaint=who.complaint)
        if records.find(ctx.session, Complaint, who.complaint) is None:
            raise UserError("surveys/no_complaint", ref=who.complaint)


def _sms(ctx: Ctx, survey: Survey, invitation: SurveyInvitation, link: str) -> str:
    rendered = ctx.app.renderer.render(
        Reply("surveys/sms", mailer.message_values(survey, invitation, link)),
        locale=invitation.locale, platform="console", zone=ctx.zone)
    return " ".join(rendered.body.split())


# -- reading -----------------------------------------------------------------------------------


def _load(ctx: Ctx, raw: str | None, usage: str, lock: bool = False) -> Survey:
    return records.load(ctx.session, Survey, rules.IDS, raw, missing="surveys/not_found",
                        lock=lock, usage=usage)


def _writable(ctx: Ctx, raw: str | None, usage: str) -> Survey:
    survey = _load(ctx, raw, usage, lock=True)
    KEEPERS.check(ctx, survey)
    if survey.status == CLOSED:
        raise UserError("surveys/is_closed", ref=survey.ref)
    return survey


def _reach(ctx: Ctx, survey: Survey) -> dict[str, int | bool]:
    """Who the invitations reached, the response rate's base: e-mails the server took, SMS
    texts and links handed out by hand (the team sent them), and any that was answered; not
    e-mails that failed, were cancelled or are still on their way."""
    rows = ctx.session.exec(select(SurveyInvitation.mail_status, SurveyInvitation.channel,
                                   SurveyInvitation.used_at)
                            .where(SurveyInvitation.survey_id == survey.id)).all()
    delivered = sum(1 for status, _, _ in rows if status == SENT)
    failed = sum(1 for status, _, used in rows if status == FAILED and used is None)
    waiting = sum(1 for status, _, used in rows if status in (QUEUED, SENDING) and used is None)
    reached = sum(1 for status, channel, used in rows
                  if used is not None or status == SENT or (channel == "sms" or status == ""))
    return {"reached": reached, "delivered": delivered, "failed": failed, "waiting": waiting,
            # E-mails queued, sent, failed or cancelled; none: the links were handed out by
            # hand (or by SMS), and the results leave the mail figures out.
            "mailed": sum(1 for status, channel, _ in rows if channel == "email" and status),
            "smtp": bool(ctx.settings.surveys.smtp_url)}


def _count(ctx: Ctx, model: Any, survey: Survey) -> int:  # noqa: ANN401 (two tables)
    return int(ctx.session.exec(select(func.count()).select_from(model)
                                .where(model.survey_id == survey.id)).one())


def _questions(questions: list[dict[str, Any]], locale: str) -> list[dict[str, Any]]:
    return [{"type": q["type"], "text": rules.said(q["text"], locale), "required": q["required"],
             "options": [rules.said(o, locale) for o in q.get("options", [])],
             "chat_scores": q.get("chat_scores", False)} for q in questions]


def _row(ctx: Ctx, s: Survey) -> dict[str, Any]:
    return {"ref": s.ref, "title": s.title, "template": s.template, "status": s.status,
            "owner": s.owner_name or s.owner_id, "created": s.created_at,
            "questions": len(s.questions), "invited": _count(ctx, SurveyInvitation, s),
            "answered": _count(ctx, SurveyResponse, s)}


def _show(ctx: Ctx, survey: Survey) -> Reply:
    return Reply("surveys/show", {"s": _row(ctx, survey),
                                  "questions": _questions(survey.questions, ctx.locale)},
                 audience=Audience.USER)
