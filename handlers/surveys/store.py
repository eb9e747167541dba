"""What the chat and the survey page share: an invitation found by its link's token, the
answers stored in the transaction that spends the link, the follow-up a low score of a
complaint's survey creates, and the complaint scores recorded in chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Session, col, func, select

from bot import members
from bot.context import Ctx
from bot.messages import Inbound, Reply
from bot.models import Member
from handlers.surveys import rules
from handlers.surveys.models import CLOSED, Survey, SurveyInvitation, SurveyResponse

if TYPE_CHECKING:
    from bot.core import Liaison

FOLLOW_UP_WITHIN = timedelta(days=1)  # the low score's action item is due a day later


@dataclass(frozen=True)
class Link:
    """What a link opens: the invitation and its survey, and whether it may still answer."""

    invitation: SurveyInvitation
    survey: Survey
    state: str  # open | used | expired | closed


def find_link(session: Session, token: str, now: datetime) -> Link | None:
    if not rules.plausible_token(token):
        return None
    invitation = session.exec(select(SurveyInvitation).where(
        SurveyInvitation.token_hash == rules.token_hash(token))).first()
    if invitation is None:
        return None
    survey = session.get(Survey, invitation.survey_id)
    if survey is None:
        return None
    state = ("used" if invitation.used_at is not None else
             "expired" if aware(invitation.expires_at) <= now else
             "closed" if survey.status == CLOSED else "open")
    return Link(invitation, survey, state)


def submit(app: Liaison, session: Session, link: Link, answers: dict[str, Any],
           now: datetime) -> SurveyResponse | None:
    """Store the answers and spend the link, in the caller's transaction: the link is marked
    used by one conditional UPDATE, so of two submissions at once only one writes; None for
    the other (and for a link that expired meanwhile), which then writes nothing."""
    spent = session.execute(
        update(SurveyInvitation)
        .where(col(SurveyInvitation.id) == link.invitation.id,
               col(SurveyInvitation.used_at).is_(None),
               col(SurveyInvitation.expires_at) > now)
        .values(used_at=now)).rowcount
    if spent != 1:
        return None
    response = SurveyResponse(survey_id=link.survey.id, invitation_id=link.invitation.id,
                              answers=answers, submitted_at=now)
    session.add(response)
    session.flush()
    low = rules.low_scores(link.survey.questions, answers)
    if low and link.survey.template == "complaint" and link.invitation.complaint_ref:
        response.action_ref = _follow_up(app, session, link, min(low), now)
        session.add(response)
    return response


def _follow_up(app: Liaison, session: Session, link: Link, score: int, now: datetime) -> str:
    """An action item for the complaint's owner (one per response), and a word to them; for
    the survey's owner when the complaint has none, so a low score is never left alone."""
    from handlers.actions import commands as actions
    from handlers.complaints.models import Complaint
    from handlers.meetings.models import ACTION_IDS

    complaint = session.exec(select(Complaint).where(
        Complaint.ref == link.invitation.complaint_ref)).first()
    if complaint is None:
        return ""
    unowned = not complaint.has_owner
    platform, user_id, name = ((link.survey.owner_platform, link.survey.owner_id,
                                link.survey.owner_name) if unowned else
                               (complaint.owner_platform, complaint.owner_id,
                                complaint.owner_name))
    owner = members.find(session, platform, user_id=user_id)
    locale = app.renderer.locale(owner.locale if owner else None)
    what = app.renderer.label(locale, "surveys.low_score_action").format(
        score=score, ref=complaint.ref, customer=complaint.customer[:60], survey=link.survey.ref)
    ctx = _survey_ctx(app, session, link, locale, now)
    year = now.astimezone(app.settings.zone).year
    entry = {"owner": {"platform": platform, "user_id": user_id, "name": name},
             "what": what[:300], "due": (now + FOLLOW_UP_WITHIN).isoformat()}
    item = actions.create(ctx, None, entry, ACTION_IDS.next(session, year)[1],
                          origin="survey", origin_ref=link.survey.ref)
    from schedules import api

    note = Reply("surveys/low_score", {"ref": complaint.ref, "score": score,
                                       "action": item.ref, "customer": complaint.customer,
                                       "survey": link.survey.ref, "due": item.due_at,
                                       "unowned": unowned})
    api.queue(session, app.to_member(session, note, platform, user_id), now=now)
    return item.ref


def _survey_ctx(app: Liaison, session: Session, link: Link, locale: str, now: datetime) -> Ctx:
    """The context of what a customer's answer does: no chat member acts, the survey link
    does (the audit names it `web:survey-<invitation>`)."""
    actor = f"survey-{link.invitation.id}"
    inbound = Inbound(platform="web", channel="survey", user=actor, text="")
    member = Member(platform="web", user_id=actor, display_name=link.invitation.name or actor)
    return Ctx(app=app, session=session, inbound=inbound, member=member, roles=frozenset(),
               locale=locale, zone=app.settings.zone, now=now)


def chat_scores(session: Session, survey: Survey) -> list[int]:
    """For the complaint follow-up questionnaire: the 1–5 scores recorded on complaints with
    `/complaint satisfaction` in this survey's period (at or after its creation, before its
    close) or on a complaint one of its invitations follows up; so two such surveys, one after
    the other, do not count the same score twice. Not those whose customer answered this
    survey: their own answer counts instead of the score typed for them. A score's time is
    that of its last `satisfaction` entry in the audit log (the complaint's last change when
    it has none, as for imported ones)."""
    if survey.template != "complaint":
        return []
    from bot.models import AuditEntry
    from handlers.complaints.models import Complaint
    from handlers.complaints.store import RECORD as COMPLAINT

    invited = session.exec(select(SurveyInvitation.complaint_ref, SurveyInvitation.used_at)
                           .where(SurveyInvitation.survey_id == survey.id,
                                  SurveyInvitation.complaint_ref != "")).all()
    linked = {ref for ref, _ in invited}
    answered = {ref for ref, used in invited if used is not None}
    recorded = (select(AuditEntry.record_id, func.max(AuditEntry.at).label("at"))
                .where(AuditEntry.record_type == COMPLAINT, AuditEntry.action == "satisfaction")
                .group_by(AuditEntry.record_id).subquery())
    rows = session.exec(
        select(Complaint.ref, Complaint.satisfaction, Complaint.updated_at, recorded.c.at)
        .outerjoin(recorded, recorded.c.record_id == Complaint.ref)
        .where(col(Complaint.satisfaction).is_not(None))
        .order_by(col(Complaint.id))).all()
    start, end = aware(survey.created_at), survey.closed_at and aware(survey.closed_at)
    scores = []
    for ref, score, updated_at, at in rows:
        if ref in answered or score is None or not 1 <= int(score) <= 5:
            continue
        when = aware(at or updated_at)
        if ref in linked or (start <= when and (end is None or when < end)):
            scores.append(int(score))
    return scores


def aware(value: datetime) -> datetime:
    from datetime import UTC

    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
