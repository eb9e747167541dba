"""Signing in to the dashboard without a password.

`/liaison dashboard` hands out a one-time link valid for LINK_VALID (10 minutes): a random
token whose SHA-256 is stored with the member (table `web_login`). The link's page holds a
"sign in" button (a form, no JavaScript); pressing it spends the token in one UPDATE that
checks it is unspent and unexpired, so a link works once even across replicas, and a chat
client's link preview, which only GETs, spends nothing. The session is then a cookie signed
with LIAISON_WEB_SECRET (itsdangerous, which Flask brings) holding the member's id and the
time of sign-in, valid for SESSION_VALID (12 hours): HttpOnly, SameSite=Lax, and Secure when
the public address is https. Roles are read from the database on every request, so a role
revoked in chat takes effect at the next page.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import update
from sqlmodel import Session, select

from bot import members
from bot.models import Member, WebLogin

LINK_VALID = timedelta(minutes=10)
SESSION_VALID = timedelta(hours=12)
COOKIE = "liaison_session"
SALT = "liaison-dashboard-session"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(session: Session, member: Member, now: datetime) -> str:
    """A new one-time token for `member` (the link is PUBLIC_URL/dash/login/<token>)."""
    token = secrets.token_urlsafe(32)
    session.add(WebLogin(token_hash=_hash(token), member_id=member.id, created_at=now,
                         expires_at=now + LINK_VALID))
    return token


def link_is_fresh(session: Session, token: str, now: datetime) -> bool:
    """Whether the token could still be spent (the page with the button says so)."""
    row = session.exec(select(WebLogin).where(WebLogin.token_hash == _hash(token))).first()
    return row is not None and row.used_at is None and row.expires_at > now


def spend(session: Session, token: str, now: datetime) -> int | None:
    """Spend the token: the member's id, or None when it is unknown, used or expired."""
    table = WebLogin.__table__
    result = session.execute(
        update(table)
        .where(table.c.token_hash == _hash(token), table.c.used_at.is_(None),
               table.c.expires_at > now)
        .values(used_at=now)
    )
    if result.rowcount != 1:
        return None
    return session.exec(select(WebLogin.member_id)
                        .where(WebLogin.token_hash == _hash(token))).one()


@dataclass(frozen=True)
class Viewer:
    """Who is looking: the member, their roles now, their locale and time zone."""

    member: Member
    roles: frozenset[str]
    locale: str
    zone: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.member.platform, self.member.user_id)

    def has(self, *roles: str) -> bool:
        return "admin" in self.roles or any(r in self.roles for r in roles)


class Sessions:
    def __init__(self, secret: str) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt=SALT)

    def cookie_for(self, member_id: int) -> str:
        return self.serializer.dumps({"m": member_id})

    def member_id(self, cookie: str | None) -> int | None:
        """The member a cookie signs in, or None (missing, forged, or older than 12 h)."""
        if not cookie:
            return None
        try:
            data = self.serializer.loads(cookie, max_age=int(SESSION_VALID.total_seconds()))
        except BadSignature:  # SignatureExpired is a BadSignature too
            return None
        value = data.get("m") if isinstance(data, dict) else None
        return value if isinstance(value, int) else None


def viewer(session: Session, member_id: int, admins: frozenset[tuple[str, str]],
           default_locale: str, default_zone: str) -> Viewer | None:
    member = session.get(Member, member_id)
    if member is None:
        return None
    return Viewer(member, members.roles(session, member, admins),
                  member.locale or default_locale, member.timezone or default_zone)
