"""What happens to a talking point, shared by the chat commands and `liaison tp import`:
proposing, editing, approving, re-verifying, rejecting, retiring, and the re-verification
reminders. Permission checks and messages stay with the callers."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, func, select

from bot.models import AuditEntry
from handlers.talking_points.models import (
    ANSWER_MAX,
    LANGUAGES,
    QUESTION_MAX,
    TAG_MAX,
    TAGS_MAX,
    TOPIC_MAX,
    PointStatus,
    TalkingPoint,
    TalkingPointVersion,
    VersionStatus,
    fold,
    tag_list,
)
from schedules import api
from schedules.api import Target

RECORD = "talking_point"
KIND_REVERIFY = "tp.reverify"
KIND_EXPIRED = "tp.expired"
REMIND_BEFORE = timedelta(days=7)
IMPORTER = "import"
_TAG_SPLIT = re.compile(r"[,，、;；\n]+")


class Invalid(ValueError):
    """A field that does not pass: `code` names what is wrong (templates and the importer
    word it), `params` fill in the details."""

    def __init__(self, code: str, **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


@dataclass(frozen=True)
class Content:
    topic: str
    question: str
    answer: str
    tags: list[str]
    language: str

    @classmethod
    def of(cls, row: TalkingPoint | TalkingPointVersion) -> Content:
        return cls(row.topic, row.question, row.answer, tag_list(row.tags), row.language)

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "question": self.question, "answer": self.answer,
                "tags": list(self.tags), "language": self.language}


def clean_text(value: Any, max_len: int, *, single_line: bool = True) -> str:  # noqa: ANN401
    text = unicodedata.normalize("NFC", "" if value is None else str(value)).strip()
    if single_line:
        text = " ".join(text.split())
    if not text:
        raise Invalid("empty")
    if len(text) > max_len:
        raise Invalid("too_long", limit=max_len, length=len(text))
    return text


def parse_tags(value: Any) -> list[str]:  # noqa: ANN401
    """`退款, 投诉、refund`: commas of either width, 、 and semicolons separate tags."""
    if isinstance(value, list | tuple):
        parts = [str(v) for v in value]
    else:
        parts = _TAG_SPLIT.split("" if value is None else str(value))
    tags: list[str] = []
    for part in parts:
        tag = " ".join(unicodedata.normalize("NFC", part).split())
        if not tag:
            continue
        if len(tag) > TAG_MAX:
            raise Invalid("tag_too_long", tag=tag[:40], limit=TAG_MAX)
        if fold(tag) not in (fold(t) for t in tags):
            tags.append(tag)
    if len(tags) > TAGS_MAX:
        raise Invalid("too_many_tags", limit=TAGS_MAX)
    return tags


def parse_language(value: Any) -> str:  # noqa: ANN401
    word = fold(str(value or "")).strip()
    names = {"zh": "zh", "cn": "zh", "中文": "zh", "chinese": "zh", "zh-cn": "zh",
             "en": "en", "english": "en", "英文": "en", "英语": "en"}
    if word not in names:
        raise Invalid("language", languages=list(LANGUAGES))
    return names[word]


# Draft markers left in a text meant to be said outside: `[报告链接]`, `【日期】`, `{name}`, TBD.
_PLACEHOLDER = re.compile(
    r"\[[^\[\]\n]{1,40}\]|【[^【】\n]{1,40}】|\{\{?[^{}\n]{1,40}\}?\}"
    r"|\b(?:TBD|TODO|XXX+)\b|待定|待补充|待确认")


def placeholders(text: str) -> list[str]:
    """The placeholders in a text, each once, in order."""
    return list(dict.fromkeys(m.group(0) for m in _PLACEHOLDER.finditer(text)))


def content_from(raw: dict[str, Any]) -> Content:
    """A row of an import file as a Content; Invalid names the field (`field` param)."""
    fields = (("topic", lambda v: clean_text(v, TOPIC_MAX)),
              ("question", lambda v: clean_text(v, QUESTION_MAX)),
              ("answer", lambda v: clean_text(v, ANSWER_MAX, single_line=False)),
              ("tags", parse_tags), ("language", parse_language))
    values: dict[str, Any] = {}
    for name, parse in fields:
        try:
            values[name] = parse(raw.get(name))
        except Invalid as exc:
            raise Invalid(exc.code, field=name, **exc.params) from None
    return Content(**values)


def audit(session: Session, now: datetime, actor: str, point_id: int, action: str,
          changes: dict[str, Any] | None = None) -> None:
    session.add(AuditEntry(at=now, actor=actor, record_type=RECORD, record_id=str(point_id),
                           action=action, changes=changes or {}))


# -- reading ----------------------------------------------------------------------------------

def get(session: Session, point_id: int) -> TalkingPoint | None:
    return session.get(TalkingPoint, point_id)


def versions(session: Session, point_id: int) -> list[TalkingPointVersion]:
    return list(session.exec(
        select(TalkingPointVersion).where(TalkingPointVersion.point_id == point_id)
        .order_by(col(TalkingPointVersion.number))
    ).all())


def pending_version(session: Session, point_id: int) -> TalkingPointVersion | None:
    return session.exec(
        select(TalkingPointVersion).where(
            TalkingPointVersion.point_id == point_id,
            TalkingPointVersion.status == VersionStatus.PENDING,
        ).order_by(col(TalkingPointVersion.number).desc())
    ).first()


def live_version(session: Session, point: TalkingPoint) -> TalkingPointVersion | None:
    if point.live_version is None:
        return None
    return session.exec(
        select(TalkingPointVersion).where(
            TalkingPointVersion.point_id == point.id,
            TalkingPointVersion.number == point.live_version,
        )
    ).first()


def latest_content(session: Session, point: TalkingPoint) -> Content:
    """What an edit starts from: the pending proposal if there is one, else the served copy,
    else the last version proposed."""
    found = pending_version(session, point.id) or live_version(session, point)
    if found is None:
        found = versions(session, point.id)[-1]
    return Content.of(found)


def live_keys(session: Session, language: str | None = None,
              question: str | None = None) -> dict[tuple[str, str, str], int]:
    """(topic, question, language), folded, of every text a point not retired or rejected
    stands for (its approved copy and its pending proposal), to its point id."""
    query = (
        select(TalkingPointVersion.point_id, TalkingPointVersion.topic,
               TalkingPointVersion.question, TalkingPointVersion.language)
        .join(TalkingPoint, col(TalkingPoint.id) == col(TalkingPointVersion.point_id))
        .where(col(TalkingPointVersion.status).in_(
                   (VersionStatus.PENDING, VersionStatus.APPROVED)),
               col(TalkingPoint.status).in_((PointStatus.PENDING, PointStatus.APPROVED)))
    )
    if language is not None:
        query = query.where(TalkingPointVersion.language == language)
    if question is not None:  # narrows by SQL; the folded comparison below decides
        query = query.where(func.lower(TalkingPointVersion.question) == question.lower())
    return {(fold(topic), fold(q), lang): point_id
            for point_id, topic, q, lang in session.exec(query).all()}


def key_of(content: Content) -> tuple[str, str, str]:
    return fold(content.topic), fold(content.question), content.language


def duplicate_of(session: Session, content: Content) -> int | None:
    """A point, not retired or rejected, that already answers this question in this language."""
    keys = live_keys(session, content.language, content.question)
    return keys.get(key_of(content))


# -- changing ---------------------------------------------------------------------------------

def propose(session: Session, content: Content, *, actor: str, name: str, now: datetime,
            source: str = "chat") -> tuple[TalkingPoint, TalkingPointVersion]:
    point = TalkingPoint(status=PointStatus.PENDING, language=content.language,
                         created_by=actor, created_at=now, updated_at=now)
    session.add(point)
    session.flush()
    version = _version(point, 1, content, actor=actor, name=name, now=now, source=source)
    session.add(version)
    session.flush()
    audit(session, now, actor, point.id, "propose", {"version": 1, **content.as_dict()})
    return point, version


def edit(session: Session, point: TalkingPoint, content: Content, *, actor: str, name: str,
         now: datetime) -> TalkingPointVersion:
    """A new pending version. The approved copy keeps serving until this one is approved; an
    older proposal still waiting is withdrawn, so approvers decide on one text at a time."""
    withdrawn = []
    for old in session.exec(select(TalkingPointVersion).where(
            TalkingPointVersion.point_id == point.id,
            TalkingPointVersion.status == VersionStatus.PENDING)).all():
        old.status, old.decided_at = VersionStatus.WITHDRAWN, now
        session.add(old)
        withdrawn.append(old.number)
    number = (session.exec(select(func.max(TalkingPointVersion.number)).where(
        TalkingPointVersion.point_id == point.id)).one() or 0) + 1
    version = _version(point, number, content, actor=actor, name=name, now=now, source="chat")
    session.add(version)
    if point.status == PointStatus.REJECTED:
        point.status = PointStatus.PENDING
    point.updated_at = now
    session.add(point)
    session.flush()
    audit(session, now, actor, point.id, "edit",
          {"version": number, "withdrawn": withdrawn, **content.as_dict()})
    return version


def approve(session: Session, point: TalkingPoint, version: TalkingPointVersion, *, actor: str,
            name: str, now: datetime, review: timedelta) -> None:
    previous = live_version(session, point)
    if previous is not None and previous.id != version.id:
        previous.status = VersionStatus.SUPERSEDED
        session.add(previous)
    version.status = VersionStatus.APPROVED
    version.decided_by, version.decided_by_name, version.decided_at = actor, name, now
    session.add(version)
    point.serve(version)
    point.status = PointStatus.APPROVED
    _verify(session, point, actor=actor, name=name, now=now, review=review)
    audit(session, now, actor, point.id, "approve",
          {"version": version.number, "verified_until": point.verified_until.isoformat()})


def reverify(session: Session, point: TalkingPoint, *, actor: str, name: str, now: datetime,
             review: timedelta) -> None:
    old = point.verified_until
    _verify(session, point, actor=actor, name=name, now=now, review=review)
    audit(session, now, actor, point.id, "reverify",
          {"version": point.live_version,
           "verified_until": [old.isoformat() if old else None,
                              point.verified_until.isoformat()]})


def reject(session: Session, point: TalkingPoint, version: TalkingPointVersion, *, actor: str,
           name: str, now: datetime, reason: str) -> None:
    version.status = VersionStatus.REJECTED
    version.decided_by, version.decided_by_name, version.decided_at = actor, name, now
    version.reason = reason
    session.add(version)
    if point.status == PointStatus.PENDING:
        point.status = PointStatus.REJECTED
    point.updated_at = now
    session.add(point)
    audit(session, now, actor, point.id, "reject", {"version": version.number, "reason": reason})


def retire(session: Session, point: TalkingPoint, *, actor: str, now: datetime) -> None:
    old = point.status
    point.status, point.updated_at = PointStatus.RETIRED, now
    session.add(point)
    for waiting in session.exec(select(TalkingPointVersion).where(
            TalkingPointVersion.point_id == point.id,
            TalkingPointVersion.status == VersionStatus.PENDING)).all():
        waiting.status, waiting.decided_at = VersionStatus.WITHDRAWN, now
        session.add(waiting)
    api.cancel(session, record_type=RECORD, record_id=str(point.id),
               kinds=[KIND_REVERIFY, KIND_EXPIRED])
    audit(session, now, actor, point.id, "retire", {"status": [old, PointStatus.RETIRED]})


def _version(point: TalkingPoint, number: int, content: Content, *, actor: str, name: str,
             now: datetime, source: str) -> TalkingPointVersion:
    return TalkingPointVersion(
        point_id=point.id, number=number, status=VersionStatus.PENDING, topic=content.topic,
        question=content.question, answer=content.answer, tags=",".join(content.tags),
        language=content.language, source=source, proposed_by=actor, proposed_by_name=name,
        proposed_at=now,
    )


def _verify(session: Session, point: TalkingPoint, *, actor: str, name: str, now: datetime,
            review: timedelta) -> None:
    point.verified_by, point.verified_by_name = actor, name
    point.verified_at, point.verified_until = now, now + review
    point.updated_at = now
    session.add(point)
    session.flush()
    plan_reminders(session, point, now)


def plan_reminders(session: Session, point: TalkingPoint, now: datetime) -> None:
    """The approver who verified last hears 7 days before the verification lapses (halfway,
    when the review period is shorter), and again when it lapses and the answer stops being
    served. Keys carry the expiry, so a re-verification plans fresh reminders even when the
    earlier ones were already sent."""
    api.cancel(session, record_type=RECORD, record_id=str(point.id),
               kinds=[KIND_REVERIFY, KIND_EXPIRED])
    platform, _, user = point.verified_by.partition(":")
    until = point.verified_until
    if not user or until is None:
        return
    stamp = until.strftime("%Y%m%dT%H%M%S")
    payload = {"title": point.topic[:80], "until": until.isoformat()}
    target = Target.member(platform, user)
    lead = min(REMIND_BEFORE, (until - now) / 2)
    api.plan(session, key=f"{KIND_REVERIFY}:{point.id}:{stamp}", kind=KIND_REVERIFY,
             due=until - lead, target=target, record_type=RECORD, record_id=str(point.id),
             payload=payload)
    api.plan(session, key=f"{KIND_EXPIRED}:{point.id}:{stamp}", kind=KIND_EXPIRED, due=until,
             target=target, record_type=RECORD, record_id=str(point.id), payload=payload,
             snoozable=False)


def still_due(session: Session, point_id: str, payload: dict[str, Any]) -> TalkingPoint | None:
    """The point a re-verification reminder is about, if that verification is still the
    current one (not re-verified, edited into a new approval, or retired since)."""
    point = session.get(TalkingPoint, int(point_id)) if str(point_id).isdigit() else None
    if point is None or point.status != PointStatus.APPROVED or point.verified_until is None:
        return None
    if point.verified_until.isoformat() != payload.get("until"):
        return None
    return point
