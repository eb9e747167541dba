"""Teams: named groups of members, kept in the core so any domain can give figures per team
(training attendance) or read a team's time zone. Admins manage them with `/team`."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import bindparam
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot.db import Direct
from bot.models import Member, Team, TeamChannel, TeamMember, utcnow

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
    for tied in session.exec(select(TeamChannel).where(TeamChannel.team_id == team.id)).all():
        session.delete(tied)
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


_T, _TM, _M = Team.__table__, TeamMember.__table__, Member.__table__
# One person's team names (/whoami, on every call): built once, run on the driver's cursor.
_NAMES_OF = Direct(
    core_select(_T.c.name)
    .select_from(_T.join(_TM, _TM.c.team_id == _T.c.id).join(_M, _M.c.id == _TM.c.member_id))
    .where(_M.c.platform == bindparam("platform"), _M.c.user_id == bindparam("user_id"))
    .order_by(_T.c.name_key))


def team_names_of(session: Session, platform: str, user_id: str) -> list[str]:
    """The names of one person's teams, by name (as `teams_by_person` lists them): their
    memberships only, not everyone's (a /whoami read every membership of every team, and
    built the query anew: 0.3 of its 1.3 ms of CPU, issue 22)."""
    return [row["name"] for row in _NAMES_OF.rows(
        session.connection(), {"platform": platform, "user_id": user_id})]


def zone_of(team: Team | None, default: ZoneInfo) -> ZoneInfo:
    """The team's own time zone, else the default (the bot's)."""
    if team is None or not team.timezone:
        return default
    try:
        return ZoneInfo(team.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return default


def teams_of(session: Session, platform: str, user_id: str) -> list[Team]:
    """A person's teams, by name: the order that decides which team's calendar or zone is
    theirs when they are in several (the first one by name that has one set)."""
    return list(session.exec(
        select(Team).join(TeamMember, col(TeamMember.team_id) == col(Team.id))
        .join(Member, col(Member.id) == col(TeamMember.member_id))
        .where(Member.platform == platform, Member.user_id == user_id)
        .order_by(col(Team.name_key))).all())


def person_zone(session: Session, platform: str, user_id: str, default: ZoneInfo) -> ZoneInfo:
    """The zone of the person's first team (by name) that has one set, else the default."""
    for team in teams_of(session, platform, user_id):
        if team.timezone:
            return zone_of(team, default)
    return default


# -- channels tied to a team ------------------------------------------------------------------


def channel_row(session: Session, platform: str, channel_id: str) -> TeamChannel | None:
    return session.exec(select(TeamChannel).where(TeamChannel.platform == platform,
                                                  TeamChannel.channel_id == channel_id)).first()


def team_of_channel(session: Session, platform: str, channel_id: str) -> Team | None:
    row = channel_row(session, platform, channel_id)
    return None if row is None else session.get(Team, row.team_id)


def tie_channel(session: Session, team: Team, platform: str, channel_id: str, workspace: str,
                by: str) -> Team | None:
    """Tie the channel to the team (a channel has one team at most); the team it was tied to
    before, if any."""
    row = channel_row(session, platform, channel_id)
    before = None if row is None else session.get(Team, row.team_id)
    if row is None:
        row = TeamChannel(team_id=0, platform=platform, channel_id=channel_id)
    row.team_id, row.workspace, row.tied_by, row.tied_at = team.id or 0, workspace, by, utcnow()
    session.add(row)
    return before


def untie_channel(session: Session, platform: str, channel_id: str) -> Team | None:
    """Untie the channel from its team; the team it was tied to, None when it was not."""
    row = channel_row(session, platform, channel_id)
    if row is None:
        return None
    team = session.get(Team, row.team_id)
    session.delete(row)
    return team


def channels_of(session: Session, team: Team) -> list[TeamChannel]:
    return list(session.exec(select(TeamChannel).where(TeamChannel.team_id == team.id)
                             .order_by(col(TeamChannel.platform),
                                       col(TeamChannel.channel_id))).all())
