"""E-mailing survey invitations: an outbox of its own, outside every chat transaction.

`/survey invite` and `/survey send` only store the invitations as QUEUED (models.py) in the
command's transaction and ask for this job to run once it is committed; an invitation whose
command was rolled back was never queued, so nobody gets a link that does not work. The job
(`MailSender.run`, also run every LIAISON_REMINDER_SWEEP by the reminder scheduler):

- claims due invitations in a short transaction of its own, like the reminder worker: on
  PostgreSQL `FOR UPDATE SKIP LOCKED`, on SQLite inside BEGIN IMMEDIATE, and each row by a
  conditional UPDATE, so two senders never take the same one. A claim is a lease (LEASE,
  renewed while the batch goes out); a sender that dies loses its rows when the lease expires
  and the next sender takes them over. The claim gives the invitation its link token,
  HMAC(LIAISON_WEB_SECRET, id + a random nonce stored at queueing; only the token's hash is
  stored): the same link on every try, so a retry after a slow server had taken the e-mail
  after all mails a second copy that works, not a dead first link.
- sends each e-mail with no transaction open and no database lock held;
- records each outcome in its own transaction: SENT with sent_at; a temporary failure (a
  4xx reply, a refused or timed-out connection) QUEUED again after a backoff, up to
  LIAISON_SURVEY_MAIL_ATTEMPTS tries; a permanent one (a 5xx refusal: 550 no such mailbox,
  535 wrong login) FAILED at once;
- when the last invitation of a command's batch is final, plans in that same transaction a
  reminder due now (REPORT) to the person who invited: the chat outbox tells them who was
  sent and who failed and why, in their language. Its render only reads, so retrying that
  message never e-mails anybody again.

A crash between an e-mail going out and its outcome being written repeats that one e-mail
(with the same link); an outcome that cannot be written because the
database is down is kept in memory and written first on the next run.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import uuid
import weakref
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.errors import StorageError
from bot.messages import Reply
from handlers.surveys import MAIL_JOB as JOB
from handlers.surveys import rules
from handlers.surveys.models import (
    CANCELLED,
    FAILED,
    OPEN,
    QUEUED,
    SENDING,
    SENT,
    Survey,
    SurveyInvitation,
)
from schedules import api
from schedules.api import Target

if TYPE_CHECKING:
    from bot import mail
    from bot.core import Liaison
    from schedules.models import Reminder

log = logging.getLogger(__name__)

REPORT = "surveys.mail_report"  # the reminder kind that tells the inviter how it went
CLAIM_BATCH = 10  # invitations claimed at once (one SMTP connection)
LEASE = timedelta(minutes=15)  # > one message's longest wait (3 replies of 60 s, 600 s after
# the data, bot/mail.py), renewed before each message: a slow relay is never taken over
RENEW_EVERY = timedelta(minutes=1)  # so a message starts with 14 minutes of lease left
BACKOFF_BASE = timedelta(minutes=1)  # after a temporary failure: 1, 2, 4 … minutes
BACKOFF_CAP = timedelta(hours=1)
STOPPED = "the sender stopped while sending it"  # its last try, outcome unknown
SETUP = "[setup] "  # send_error's mark: TLS, AUTH or HELO do not fit LIAISON_SMTP_URL
UNSENDABLE = "[message] "  # send_error's mark: this e-mail could not be written or sent
SENDER = "[sender] "  # send_error's mark: the server refused LIAISON_SMTP_FROM
_CODE = re.compile(r"\b([245]\d\d)\b")


@dataclass
class _Claimed:
    id: int
    batch: str
    token: str
    subject: str = ""
    body: str = ""
    to: str = ""
    name: str = ""
    problem: str = ""  # why its e-mail could not be written


@dataclass
class MailRun:
    sent: int = 0
    retried: int = 0  # temporary failures, queued again
    failed: int = 0
    reported: list[str] = field(default_factory=list)  # batches whose report was planned


class MailSender:
    def __init__(self, app: Liaison, *, owner: str | None = None,
                 batch: int = CLAIM_BATCH) -> None:
        self.app = app
        self.owner = owner or f"mail-{uuid.uuid4().hex[:12]}"
        self.batch = batch
        self._renewed_at: datetime | None = None
        # Outcomes of e-mails that went out while the database was away: id -> outcome.
        self._unwritten: dict[int, tuple[str, mail.MailError | None, datetime]] = {}

    # -- the run ----------------------------------------------------------------------------

    def run(self, now: datetime | None = None) -> MailRun:
        """Send every invitation due now, batch by batch, until none is left."""
        result = MailRun()
        settings = self.app.settings.surveys
        if not settings.smtp_url:
            return result  # queued ones wait for LIAISON_SMTP_URL
        if not self.app.settings.public_url.startswith(("http://", "https://")):
            log.warning("survey e-mails wait: LIAISON_PUBLIC_URL, where their links point, "
                        "is not set")
            return result
        for rid, (batch, error, at) in list(self._unwritten.items()):
            self._unwritten.pop(rid, None)
            self._record(rid, batch, error, at, result)  # kept again if still away
        while True:
            given_up = result.failed
            claimed = self.claim(_now(now), result)
            if not claimed and result.failed == given_up:
                return result
            if claimed:
                self._send(claimed, now, result)

    def claim(self, now: datetime, result: MailRun | None = None) -> list[_Claimed]:
        """Take up to `batch` due invitations (queued and due, or claimed by a sender whose
        lease expired), each with its link token (the same on every try). One whose tries
        are used up (its sender died on the last one) fails here instead."""
        result = result if result is not None else MailRun()
        limit = self.app.settings.surveys.mail_attempts
        c = SurveyInvitation.__table__.c
        open_surveys = core_select(Survey.__table__.c.id).where(
            Survey.__table__.c.status == OPEN)
        due = and_(or_(and_(c.mail_status == QUEUED, c.mail_due_at <= now),
                       and_(c.mail_status == SENDING, c.lease_until < now)),
                   c.survey_id.in_(open_surveys))  # a closed survey's e-mails wait no more
        pick = (core_select(c.id, c.batch, c.mail_status, c.mail_attempts, c.lease_owner,
                            c.token_nonce)
                .where(due).order_by(c.mail_due_at, c.id).limit(self.batch))
        if self.app.db.dialect == "postgresql":
            pick = pick.with_for_update(skip_locked=True)
        claimed: list[_Claimed] = []
        exhausted: list[tuple[int, str]] = []
        with self.app.db.session() as session:
            for row in session.execute(pick).all():
                if row.mail_status == SENDING:
                    log.warning("survey invitation %s: taking over from %s, whose lease "
                                "expired", row.id, row.lease_owner)
                if row.mail_attempts >= limit:
                    exhausted.append((row.id, row.batch))
                    continue
                token = rules.mail_token(self.app.settings.surveys.link_secret, row.id,
                                         row.token_nonce)
                taken = session.execute(
                    update(SurveyInvitation.__table__)
                    .where(c.id == row.id, due)
                    .values(mail_status=SENDING, lease_owner=self.owner,
                            lease_until=now + LEASE, mail_attempts=c.mail_attempts + 1,
                            token_hash=rules.token_hash(token))).rowcount
                if taken == 1:
                    claimed.append(_Claimed(row.id, row.batch, token))
        self._renewed_at = now
        for rid, batch in exhausted:  # after the claim: locks are taken in one order
            self._give_up(rid, batch, now, result)
        return claimed

    def _give_up(self, rid: int, batch: str, now: datetime, result: MailRun) -> None:
        """An invitation whose sender died during its last try: failed, not tried again."""
        with self.app.db.session() as session:
            self._lock_batch(session, batch)
            invitation = session.get(SurveyInvitation, rid)
            if (invitation is None or invitation.mail_status != SENDING
                    or invitation.lease_until is None or _aware(invitation.lease_until) >= now):
                return  # another sender got there first
            invitation.mail_status = FAILED
            invitation.send_error = STOPPED
            invitation.lease_owner = invitation.lease_until = None
            session.add(invitation)
            session.flush()
            result.failed += 1
            self._report_if_done(session, batch, now, result)

    def _send(self, claimed: list[_Claimed], now: datetime | None, result: MailRun) -> None:
        """Write the e-mails (one read), then send them with no transaction open. After a
        temporary failure (a 421 closes the connection) the rest go on a new connection."""
        from bot import mail  # smtplib and the e-mail package: when there is mail to send

        settings = self.app.settings.surveys
        server = replace(mail.parse_url(settings.smtp_url), ca_file=settings.smtp_ca_file)
        sender = settings.smtp_from
        self._write(claimed)
        pending = list(claimed)
        while pending:
            try:
                with mail.Mailer(server) as mailer:
                    while pending:
                        item = pending.pop(0)
                        self._renew_if_due()
                        try:
                            if item.problem:
                                raise mail.MailError(item.problem, kind=mail.MailError.MESSAGE)
                            mailer.send(mail.message(sender, item.to, item.subject, item.body,
                                                     item.name))
                        except mail.MailError as exc:
                            self._record(item.id, item.batch, exc, _now(now), result)
                            if exc.temporary:
                                break
                        except Exception as exc:  # noqa: BLE001 (this one fails, not the batch)
                            log.exception("survey invitation %s: not sendable", item.id)
                            self._record(item.id, item.batch, mail.MailError(
                                f"{type(exc).__name__}: {exc}"[:250], kind=mail.MailError.MESSAGE),
                                _now(now), result)
                        else:
                            self._record(item.id, item.batch, None, _now(now), result)
            except mail.MailError as exc:  # no connection, or the login was refused: all
                for item in pending:
                    self._record(item.id, item.batch, exc, _now(now), result)
                return

    def _write(self, claimed: list[_Claimed]) -> None:
        base = self.app.settings.public_url.rstrip("/")
        ids = [c.id for c in claimed]
        with self.app.db.session() as session:
            rows = {i.id: i for i in session.exec(
                select(SurveyInvitation).where(col(SurveyInvitation.id).in_(ids))).all()}
            surveys = {s.id: s for s in session.exec(select(Survey).where(
                col(Survey.id).in_({i.survey_id for i in rows.values()}))).all()}
        for item in claimed:
            invitation = rows[item.id]
            item.to, item.name = invitation.email, invitation.name
            try:
                rendered = self.app.renderer.render(
                    Reply("surveys/mail_invite", message_values(
                        surveys[invitation.survey_id], invitation, f"{base}/s/{item.token}")),
                    locale=invitation.locale, platform="console", zone=self.app.settings.zone)
            except Exception as exc:  # noqa: BLE001 (this one fails when sent, not the batch)
                log.exception("survey invitation %s: its e-mail could not be written", item.id)
                item.problem = f"{type(exc).__name__}: {exc}"[:250]
                continue
            item.subject, item.body = rendered.title, rendered.body

    # -- outcomes ---------------------------------------------------------------------------

    def _record(self, rid: int, batch: str, error: mail.MailError | None, now: datetime,
                result: MailRun) -> None:
        """One e-mail's outcome, in its own transaction (see the module's docstring)."""
        from bot import mail

        try:
            with self.app.db.session() as session:
                self._lock_batch(session, batch)
                invitation = session.get(SurveyInvitation, rid)
                if (invitation is None or invitation.mail_status != SENDING
                        or invitation.lease_owner != self.owner):
                    log.warning("survey invitation %s: outcome not written, another sender "
                                "took it over", rid)
                    return
                limit = self.app.settings.surveys.mail_attempts
                invitation.lease_owner = invitation.lease_until = None
                if error is None:
                    invitation.mail_status, invitation.sent_at = SENT, now
                    invitation.send_error = ""
                    result.sent += 1
                else:
                    mark = {mail.MailError.SETUP: SETUP, mail.MailError.MESSAGE: UNSENDABLE,
                            mail.MailError.SENDER: SENDER}
                    invitation.send_error = (mark.get(error.kind, "") + str(error))[:300]
                    if error.temporary and invitation.mail_attempts < limit:
                        invitation.mail_status = QUEUED
                        invitation.mail_due_at = now + backoff(invitation.mail_attempts)
                        result.retried += 1
                    else:
                        invitation.mail_status = FAILED
                        result.failed += 1
                    log.warning("survey invitation %s: %s (try %s, %s)", rid,
                                invitation.send_error, invitation.mail_attempts,
                                invitation.mail_status)
                session.add(invitation)
                session.flush()
                if invitation.mail_status in (SENT, FAILED):
                    self._report_if_done(session, batch, now, result)
        except StorageError as exc:
            if not exc.unavailable:
                raise
            self._unwritten[rid] = (batch, error, now)
            log.warning("survey invitation %s: outcome kept until the database is back", rid)

    @staticmethod
    def _lock_batch(session: Session, batch: str) -> None:
        """Lock the rows of one batch, in id order: of two senders finishing its last two
        invitations at once, the second sees the first's outcome and plans the report. (Every
        lock that waits is taken in id order, and a claim skips locked rows: no deadlock.)"""
        session.execute(core_select(SurveyInvitation.__table__.c.id)
                        .where(SurveyInvitation.__table__.c.batch == batch)
                        .order_by(SurveyInvitation.__table__.c.id).with_for_update()).all()

    def _report_if_done(self, session: Session, batch: str, now: datetime,
                        result: MailRun) -> None:
        rows = session.exec(select(SurveyInvitation).where(
            SurveyInvitation.batch == batch).order_by(col(SurveyInvitation.id))).all()
        if not rows or any(r.mail_status in (QUEUED, SENDING) for r in rows):
            return
        platform, _, user_id = rows[0].invited_by.partition(":")
        survey = session.get(Survey, rows[0].survey_id)
        if not user_id or survey is None:
            return
        api.plan(session, key=f"{REPORT}:{batch}", kind=REPORT, due=now,
                 target=Target.member(platform, user_id), record_type="survey",
                 record_id=survey.ref, payload={"batch": batch}, snoozable=False)
        result.reported.append(batch)

    # -- the lease --------------------------------------------------------------------------

    def _renew_if_due(self) -> None:
        now = datetime.now(UTC)
        if self._renewed_at is not None and now - self._renewed_at < RENEW_EVERY:
            return
        c = SurveyInvitation.__table__.c
        with self.app.db.session() as session:
            mine = session.execute(core_select(c.id).where(
                c.mail_status == SENDING, c.lease_owner == self.owner)
                .order_by(c.id).with_for_update()).scalars().all()
            if mine:
                session.execute(update(SurveyInvitation.__table__)
                                .where(c.id.in_(mine), c.lease_owner == self.owner)
                                .values(lease_until=now + LEASE))
        self._renewed_at = now


def backoff(attempts: int) -> timedelta:
    """How long a temporary failure waits after its `attempts`-th try."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, attempts - 1))


def message_values(survey: Survey, invitation: SurveyInvitation, link: str) -> dict[str, Any]:
    """What an invitation's e-mail or SMS text says, in the invitation's language."""
    title = survey.title
    if survey.template in rules.TEMPLATES:
        title = rules.shipped(survey.template)["title"][invitation.locale]
    return {"name": invitation.name, "survey_title": title, "link": link,
            "expires": invitation.expires_at, "complaint": invitation.complaint_ref,
            "questions": len(survey.questions)}


def cancel(session: Session, survey: Survey) -> int:
    """When a survey closes: its e-mails still queued are never sent. How many."""
    c = SurveyInvitation.__table__.c
    return int(session.execute(
        update(SurveyInvitation.__table__)
        .where(c.survey_id == survey.id, c.mail_status == QUEUED)
        .values(mail_status=CANCELLED, mail_due_at=None)).rowcount or 0)


def queue(session: Session, invitations: list[SurveyInvitation], now: datetime) -> str:
    """Queue e-mail invitations (in the command's transaction) as one batch, and run the
    sender once it is committed. Returns the batch."""
    batch = uuid.uuid4().hex
    for invitation in invitations:
        invitation.mail_status, invitation.mail_due_at, invitation.batch = QUEUED, now, batch
        invitation.token_nonce = secrets.token_hex(16)  # its link: see rules.mail_token
        session.add(invitation)
    if invitations:
        api.run_job_after_commit(session, JOB)
    return batch


_SENDERS: weakref.WeakKeyDictionary[Liaison, MailSender] = weakref.WeakKeyDictionary()
_SENDERS_LOCK = threading.Lock()


def run(app: Liaison) -> None:
    """The domain job: one sender per app, kept across runs (its unwritten outcomes)."""
    with _SENDERS_LOCK:
        sender = _SENDERS.get(app)
        if sender is None:
            sender = _SENDERS[app] = MailSender(app)
    sender.run()


# -- the report -------------------------------------------------------------------------------


def why(invitation: SurveyInvitation) -> str:
    """The kind of failure, for the report's wording: stopped, setup, unsendable, login,
    mailbox, refused or gave_up."""
    if invitation.send_error == STOPPED:
        return "stopped"
    if invitation.send_error.startswith(SETUP):
        return "setup"
    if invitation.send_error.startswith(UNSENDABLE):
        return "unsendable"
    if invitation.send_error.startswith(SENDER):
        return "sender"
    found = _CODE.search(invitation.send_error)
    code = int(found.group(1)) if found else None
    if code in (530, 534, 535):
        return "login"
    if code in (550, 551, 553):
        return "mailbox"
    if code is not None and code >= 500:
        return "refused"
    return "gave_up"


def render_report(session: Session, reminder: Reminder, now: datetime) -> Reply | None:
    """Who of one command's e-mail invitations was sent and who not, and why (only reads)."""
    rows = session.exec(select(SurveyInvitation).where(
        SurveyInvitation.batch == str(reminder.payload.get("batch") or "-"))
        .order_by(col(SurveyInvitation.id))).all()
    if not rows:
        return None
    survey = session.get(Survey, rows[0].survey_id)
    if survey is None:
        return None
    return Reply("surveys/mail_report", {
        "ref": survey.ref, "title": survey.title,
        "complaint": next((r.complaint_ref for r in rows if r.complaint_ref), ""),
        "sent": [{"name": r.name, "email": r.email} for r in rows if r.mail_status == SENT],
        "failed": [{"name": r.name, "email": r.email, "why": why(r),
                    "error": _unmarked(r.send_error),
                    "tries": r.mail_attempts} for r in rows if r.mail_status == FAILED],
    })


def _unmarked(error: str) -> str:
    for mark in (SETUP, UNSENDABLE, SENDER):
        error = error.removeprefix(mark)
    return error


def _now(value: datetime | None) -> datetime:
    return value if value is not None else datetime.now(UTC)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
