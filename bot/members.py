"""Members and roles. Admins come from LIAISON_ADMINS and are never stored, so removing a
name from the setting takes the role away; other roles are granted with `/role grant`."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from sqlalchemy import bindparam, event, inspect, update
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select

from bot.cache import Cache
from bot.db import PREPARED, Direct, attached, dialect_insert, loaded
from bot.messages import Inbound
from bot.models import Member, MemberRole, utcnow

IMPLICIT = "staff"

# Built once: on every message, building these cost more than running them (issue 22).
# Prepared on PostgreSQL (bot/db.py): read for nearly every message.
_FIND = select(Member).where(Member.platform == bindparam("platform"),
                             Member.user_id == bindparam("user_id")).execution_options(
    **{PREPARED: True})
_ROLES = select(MemberRole.role).where(MemberRole.member_id == bindparam("member_id")
                                       ).execution_options(**{PREPARED: True})
# The sender's row when the cache does not hold them (bot.db.Direct; `_read_sender`).
_SENDER = Direct(core_select(*Member.__table__.columns).where(
    Member.__table__.c.platform == bindparam("platform"),
    Member.__table__.c.user_id == bindparam("user_id")))
KNOWN = "members"  # session.info key: (platform, user_id) -> Member, loaded ahead (`preload`)
_FIELDS = tuple(Member.__table__.columns.keys())
_CREATED = "members_created"  # session.info: ids of the members this transaction created


@cache
def _create(dialect: str, fields: tuple[str, ...]) -> Direct:
    """INSERT of a new member that stands aside (no row returned) when the member exists:
    another replica created them a moment ago. One statement, where an INSERT that may fail
    needed a SAVEPOINT around it (issue 22); run on the driver (bot.db.Direct: a first
    message's INSERT cost twice as much through SQLAlchemy's execution). `fields`: the
    columns `_first_contact` gives. Built once per dialect, on first use."""
    table = Member.__table__
    insert = dialect_insert(dialect)
    return Direct(insert(table).on_conflict_do_nothing(index_elements=["platform", "user_id"])
                  .returning(table.c.id), list(fields))


def _members(session: Session) -> Cache | None:
    """The senders read on every message, by (platform, user_id): their columns (bot/cache.py:
    dropped when a member is written in this process, kept 15 s at most)."""
    db = session.info.get("database")
    return None if db is None else db.cached(
        "members", (Member,), lambda m: [(m.platform, m.user_id)])


def _roles(session: Session) -> Cache | None:
    """Stored roles by member id (dropped on any /role grant or revoke in this process)."""
    db = session.info.get("database")
    return None if db is None else db.cached(
        "roles", (MemberRole, Member), lambda r: [r.member_id if isinstance(r, MemberRole)
                                                   else r.id])


def _sender(session: Session, platform: str, user_id: str) -> Member | None:
    """`find` for the sender of a message, from the cache when it holds them: a copy of the
    kept row joins this session as if loaded, without a query (`merge(load=False)`)."""
    cache = _members(session)
    if cache is None:
        return find(session, platform, user_id=user_id)
    kept = cache.get((platform, user_id))
    if kept is not None and kept is not _ABSENT:
        present = session.identity_map.get(inspect(kept).key)
        return present if present is not None else session.merge(kept, load=False)
    generation = cache.generation
    member = _read_sender(session, platform, user_id)
    # Not kept from a transaction that created a member: what it reads may be its own
    # uncommitted row (Core INSERT, unseen by the cache), gone if it rolls back.
    if member is not None and cache.unchanged_by(session) and not session.info.get(_CREATED):
        cache.put((platform, user_id), _kept(member), generation)
    return member


def _read_sender(session: Session, platform: str, user_id: str) -> Member | None:
    """`find` for a sender the cache does not hold (a first message, or the first after the
    cache's bound), as the ORM query would answer: the session's own copy when it holds
    the member, else the row joined to the session as if loaded. Read with Core on the
    driver (bot.db.Direct), a quarter of the ORM query's cost, unless the session has
    members to flush first, as the ORM query would (then it is that query)."""
    cache = _members(session)
    if KNOWN in session.info or cache is None or not cache.unchanged_by(session):
        return find(session, platform, user_id=user_id)
    rows = _SENDER.rows(session.connection(), {"platform": platform, "user_id": user_id})
    if not rows:
        return None
    return attached(session, Member, rows[0])


def _kept(member: Member) -> Member:
    """A copy of the member's columns for the cache: never in a session, only copied from."""
    return loaded(Member, {f: getattr(member, f) for f in _FIELDS})


_ABSENT = object()  # in the members cache: no such member (`recipient`)


def recipient(session: Session, platform: str, user_id: str) -> Member | None:
    """The member a message goes to, for their language and zone (`Liaison.member_place`), as
    `find` answers, but from the members cache when it holds them, and kept there when not,
    absence included: the admins told of an unrouted post, a record's owner, on every such
    message (two ORM queries were a fifth of a confirming step, issue 22). A copy that is
    not in the session: read it, never change it. Members a sweep loaded ahead (`preload`)
    are taken from there; a session that writes members reads them as `find` does."""
    known = session.info.get(KNOWN)
    if known is not None and (platform, user_id) in known:
        return known[(platform, user_id)]
    cache = _members(session)
    if cache is None or not cache.unchanged_by(session):
        return find(session, platform, user_id=user_id)
    key = (platform, user_id)
    kept = cache.get(key)
    if kept is not None:
        return None if kept is _ABSENT else kept
    generation = cache.generation
    # No member is new, changed or deleted in this session (unchanged_by): the row is as the
    # session would have it.
    rows = _SENDER.rows(session.connection(), {"platform": platform, "user_id": user_id})
    member = loaded(Member, rows[0]) if rows else None
    # Not kept from a transaction that created a member: it may read its own uncommitted
    # row, or miss a member whose row it has not written yet.
    if not session.info.get(_CREATED):
        cache.put(key, _kept(member) if member is not None else _ABSENT, generation)
    return member


def find(session: Session, platform: str, *, user_id: str) -> Member | None:
    """The member with this platform id, if the bot knows them."""
    known = session.info.get(KNOWN)
    if known is not None and (platform, user_id) in known:
        return known[(platform, user_id)]
    return session.exec(_FIND, params={"platform": platform, "user_id": user_id}).first()


_SLOTS = 20  # the most user ids one `_of_platform` statement takes (a sweep's chunk)


@cache
def _of_platform(n: int) -> Direct:
    """The members of one platform with any of `n` user ids (`:u0` ... `:u<n-1>`), every
    column, run on the driver (bot.db.Direct): built once per count, the same SQL as an
    expanding IN. Through the ORM, that read was a sixth of a many-due sweep (issue 22)."""
    table = Member.__table__
    return Direct(core_select(*table.columns).where(
        table.c.platform == bindparam("platform"),
        table.c.user_id.in_([bindparam(f"u{k}", type_=table.c.user_id.type)
                             for k in range(n)])))


def _writes_members(session: Session) -> bool:
    """Whether the session holds a member or role to write (added, changed or deleted): a
    read then goes through the ORM, which flushes it first (a Direct read does not)."""
    return any(isinstance(row, Member | MemberRole)
               for row in (*session.new, *session.dirty, *session.deleted))


def preload(session: Session, ids: Iterable[tuple[str, str]]) -> None:
    """Load these members in one query for the `find` calls that follow in this session
    (a sweep addresses many reminders; one query each was two thirds of its time). Ids
    not found are remembered as unknown. Read with Core on the driver, in statements of up
    to 20 ids, unless the session has members to flush first (then the ORM query, which
    does). The members found are detached copies unless the session holds them already (a
    sweep's read session, which writes nothing): read them, never change them."""
    wanted = set(ids) - set(session.info.get(KNOWN, {}))
    if not wanted:
        return
    known = session.info.setdefault(KNOWN, {})
    by_platform: dict[str, set[str]] = {}
    for platform, user_id in wanted:
        by_platform.setdefault(platform, set()).add(user_id)
    orm = _writes_members(session)
    held = session.identity_map
    for platform, users in by_platform.items():
        if orm:
            found = session.exec(select(Member).where(
                Member.platform == platform, col(Member.user_id).in_(sorted(users)))).all()
            for member in found:
                known[(member.platform, member.user_id)] = member
            continue
        ordered = sorted(users)
        for at in range(0, len(ordered), _SLOTS):
            part = ordered[at:at + _SLOTS]
            params: dict[str, str] = {f"u{k}": user for k, user in enumerate(part)}
            params["platform"] = platform
            for values in _of_platform(len(part)).rows(session.connection(), params):
                present = held.get(session.identity_key(Member, values["id"])) if held else None
                known[(values["platform"], values["user_id"])] = (
                    present if present is not None else loaded(Member, values))
    for key in wanted:
        known.setdefault(key, None)


def named(session: Session, platform: str, name: str) -> list[Member]:
    """Every member of the platform with this display name (names are not unique)."""
    return list(session.exec(
        select(Member).where(Member.platform == platform, Member.display_name == name)
        .order_by(col(Member.id))
    ).all())


def touch(session: Session, inbound: Inbound) -> Member:
    """The sender as a member, created on first contact. What the platform tells us about the
    name always updates; locale and zone only fill gaps, since `/lang` and `/tz` win."""
    member = _sender(session, inbound.platform, inbound.user)
    if member is None:
        return _first_contact(session, inbound)
    _fill_gaps(session, member, inbound)
    if inbound.user_name and member.display_name != inbound.user_name[:200]:
        member.display_name = inbound.user_name[:200]
        session.add(member)
    return member


def _first_contact(session: Session, inbound: Inbound) -> Member:
    """The member created for the sender of a first message (by a Core INSERT, as
    `_create` says), joined to the session as if loaded."""
    values = {
        "platform": inbound.platform,
        "user_id": inbound.user,
        "display_name": (inbound.user_name or inbound.user)[:200],
        "locale": inbound.locale if inbound.locale in ("zh", "en") else None,
        "timezone": inbound.timezone,
        "created_at": utcnow(),
    }
    session.info["wrote"] = True  # a failure now says "rolled back" (bot/db.py)
    connection = session.connection()
    created = _create(connection.dialect.name, tuple(values)).rows(connection, values)
    new_id = created[0]["id"] if created else None
    cache = _members(session)
    if cache is not None:
        # Whatever this process kept of them (no such member, from `recipient`) is not kept
        # past this transaction, and a read begun before its commit does not keep absence
        # after it (the generation moves at commit): a reply to them then would go out in the
        # default language for up to the cache's lifetime.
        cache.written_by(session, [(inbound.platform, inbound.user)])
    if new_id is None:
        # Another replica created the same member a moment ago.
        member = find(session, inbound.platform, user_id=inbound.user)
        assert member is not None
        return member
    member = loaded(Member, {"id": new_id, **values})
    session.add(member)  # as if loaded: nothing to flush
    session.info.setdefault(_CREATED, set()).add(new_id)
    _keep_once_committed(session, member)
    return member


def _keep_once_committed(session: Session, member: Member) -> None:
    """Once this transaction commits, the caches keep the new member, and that they have no
    roles, as a read of them would: their next message, a moment later, needs no query. As
    for a read, a write in this process in between (the generations) keeps them out."""
    found, stored, db = _members(session), _roles(session), session.info.get("database")
    if found is None or stored is None or db is None:
        return
    key = (member.platform, member.user_id)
    # `_first_contact` said this transaction wrote them (Cache.written_by): its commit moves
    # the members cache's generation once more, before `keep` runs (Database.session runs
    # after-commit work once the commit is done). Any other write in between, here or in
    # another thread, moves it further and keeps them out, as for a read.
    kept, found_at, stored_at = _kept(member), found.generation + 1, stored.generation

    def keep() -> None:
        found.put(key, kept, found_at)
        stored.put(kept.id, frozenset(), stored_at)

    db.after_commit(session, keep)


def _fill_gaps(session: Session, member: Member, inbound: Inbound) -> None:
    """The platform's language and zone, only where the member has none. The copy at hand may
    be one this process kept (up to 15 s old, bot/cache.py) from before a `/lang` or `/tz` on
    another replica, which must win: so each gap is filled by a conditional UPDATE, and the
    member then read back as the database has it."""
    gaps = {}
    if member.locale is None and inbound.locale in ("zh", "en"):
        gaps["locale"] = inbound.locale
    if member.timezone is None and inbound.timezone:
        gaps["timezone"] = inbound.timezone
    if not gaps or member.id is None:
        return
    table = Member.__table__
    session.info["wrote"] = True  # a failure now says "rolled back" (bot/db.py)
    for field, value in gaps.items():
        session.execute(update(table).where(table.c.id == member.id, table.c[field].is_(None))
                        .values({field: value}))
    cache = _members(session)
    if cache is not None:
        cache.written_by(session, [(member.platform, member.user_id)])
    session.refresh(member, attribute_names=list(gaps))


def roles(session: Session, member: Member, admins: Iterable[tuple[str, str]]) -> frozenset[str]:
    cache = _roles(session)
    if cache is not None and not cache.unchanged_by(session):
        cache = None  # this transaction grants or revokes: ask the database
    stored = None if cache is None else cache.get(member.id)
    if stored is None and cache is not None and member.id in session.info.get(_CREATED, ()):
        stored = frozenset()  # created by this transaction, which has granted nothing since
    if stored is None:
        generation = None if cache is None else cache.generation
        stored = frozenset(session.exec(_ROLES, params={"member_id": member.id}).all())
        if cache is not None and member.id is not None:
            cache.put(member.id, stored, generation)
    found = {IMPLICIT, *stored}
    if (member.platform, member.user_id) in (
            admins if isinstance(admins, frozenset | set) else set(admins)):
        found.add("admin")
    return frozenset(found)


def grant(session: Session, member: Member, role: str, by: str) -> bool:
    exists = session.exec(
        select(MemberRole).where(MemberRole.member_id == member.id, MemberRole.role == role)
    ).first()
    if exists:
        return False
    session.add(MemberRole(member_id=member.id, role=role, granted_by=by, granted_at=utcnow()))
    return True


def revoke(session: Session, member: Member, role: str) -> bool:
    row = session.exec(
        select(MemberRole).where(MemberRole.member_id == member.id, MemberRole.role == role)
    ).first()
    if row is None:
        return False
    session.delete(row)
    return True


_WITH_ROLE = "members_with_role"  # session.info: role -> its members, for this session


# The members holding a role (`:role`), in id order, every column (bot.db.Direct).
_WITH = Direct(core_select(*Member.__table__.columns)
               .join(MemberRole.__table__, MemberRole.__table__.c.member_id
                     == Member.__table__.c.id)
               .where(MemberRole.__table__.c.role == bindparam("role"))
               .order_by(Member.__table__.c.id))


def with_role(session: Session, role: str) -> list[Member]:
    """The members holding `role`, read once per session (a sweep renders many reminders that
    name the trainers in one session: one query each was a fifth of it). A write to members
    or roles in the session reads them again. Read with Core on the driver (through the ORM,
    the once-per-chunk read was an eighth of a many-due sweep, issue 22), unless the session
    has members or roles to flush first: then the ORM query, which does."""
    _roles_written(session, None, None)  # a grant not flushed yet counts
    known = session.info.setdefault(_WITH_ROLE, {})
    if role not in known:
        if _writes_members(session):
            query = (
                select(Member)
                .join(MemberRole, col(MemberRole.member_id) == col(Member.id))
                .where(MemberRole.role == role)
                .order_by(col(Member.id))
            )
            known[role] = list(session.exec(query).all())
        else:
            known[role] = [attached(session, Member, values)
                           for values in _WITH.rows(session.connection(), {"role": role})]
    return list(known[role])


@event.listens_for(Session, "before_flush")
def _roles_written(session: Session, _context: object, _instances: object) -> None:
    if session.info.get(_WITH_ROLE) and any(
            isinstance(row, Member | MemberRole)
            for row in (*session.new, *session.dirty, *session.deleted)):
        session.info.pop(_WITH_ROLE, None)
