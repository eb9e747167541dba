"""Teams: named groups of members, kept in the core so any domain can give figures per team
(training attendance) or read a team's time zone. Admins manage them with `/team`."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.models import Member, Team, TeamMember, utcnow

NAME_MAX = 64


def name_key(name: str) -> str:
    """`PR`, `pr`, `ＰＲ` and `P R` with odd spacing are one team."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())[:NAME_MAX]


def find(session: Session, name: str) -> Team | None:
    return session.exec(select(Team).where(Team.name_key == name_key(name))).first()


def all_teams(session: Session) -> list[Team]:
    return list(session.exec(select(Team).order_by(col(Team.name_key))).all())


def ensure(session: Session, name: str, by: str) -> tuple[Team, bool]:
    """The team of this name, created when missing; True when it was created."""
    team = find(session, name)
    if team is not None:
        return team, False
    team = Team(name=name, name_key=name_key(name), created_by=by, created_at=utcnow())
    try:
        with session.begin_nested():
            session.add(team)
    except IntegrityError:
        # Another admin (or replica) created it a moment ago.
        found = find(session, name)
        assert found is not None
        return found, False
    return team, True


def members_of(session: Session, team: Team) -> list[Member]:
    return list(session.exec(
        select(Member).join(TeamMember, col(TeamMember.member_id) == col(Member.id))
        .where(TeamMember.team_id == team.id).order_by(col(Member.display_name),
                                                        col(Member.id))).all())


def add(session: Session, team: Team, member: Member, by: str) -> bool:
    """Put the member in the team; False when already there."""
    exists = session.exec(select(TeamMember).where(
        TeamMember.team_id == team.id, TeamMember.member_id == member.id)).first()
    if exists is not None:
        return False
    try:
        with session.begin_nested():
            session.add(TeamMember(team_id=team.id, member_id=member.id, added_by=by,
                                   added_at=utcnow()))
    except IntegrityError:
        return False  # added meanwhile by someone else
    return True


def remove(session: Session, team: Team, member: Member) -> bool:
    row = session.exec(select(TeamMember).where(
        TeamMember.team_id == team.id, TeamMember.member_id == member.id)).first()
    if row is None:
        return False
    session.delete(row)
    return True


def delete(session: Session, team: Team) -> None:
    for row in session.exec(select(TeamMember).where(TeamMember.team_id == team.id)).all():
        session.delete(row)
    session.flush()
    session.delete(team)


def teams_by_person(session: Session) -> dict[tuple[str, str], list[str]]:
    """(platform, user id) -> the names of that person's teams, for figures per team."""
    rows = session.exec(
        select(Member.platform, Member.user_id, Team.name)
        .join(TeamMember, col(TeamMember.member_id) == col(Member.id))
        .join(Team, col(Team.id) == col(TeamMember.team_id))
        .order_by(col(Team.name_key))).all()
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    for platform, user_id, team in rows:
        found[(platform, user_id)].append(team)
    return dict(found)


def zone_of(team: Team | None, default: ZoneInfo) -> ZoneInfo:
    """The team's own time zone, else the default (the bot's)."""
    if team is None or not team.timezone:
        return default
    try:
        return ZoneInfo(team.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return default
