"""Record plumbing every domain shares: `C-2026-0001` style ids (a number per prefix and
year, handed out in the creating transaction), reading such an id back as people type it,
loading a record by it (locked for a change, with the domain's polite "not found"), who may
change it (with the domain's polite refusal naming it), and the audit entry."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import insert
from sqlmodel import Session, SQLModel, select

from bot.db import Direct, dialect_insert, loaded
from bot.errors import NotFound, PermissionDenied, UserError
from bot.models import AuditEntry, RecordCounter, utcnow

if TYPE_CHECKING:
    from bot.context import Ctx

Record = TypeVar("Record", bound=SQLModel)


@dataclass(frozen=True)
class RecordIds:
    """The ids of one record type: `prefix`-year-number, four digits at least."""

    prefix: str

    def format(self, year: int, seq: int) -> str:
        return f"{self.prefix}-{year}-{seq:04d}"

    def parse(self, text: str | None) -> str | None:
        """`C-2026-0001`, `c-2026-1`, `#C20260001`, full-width: the canonical id, or None."""
        word = unicodedata.normalize("NFKC", text or "").strip().lstrip("#").upper()
        match = re.fullmatch(rf"{re.escape(self.prefix)}-?(\d{{4}})-?(\d{{1,6}})", word)
        if not match:
            return None
        return self.format(int(match.group(1)), int(match.group(2)))

    def next(self, session: Session, year: int) -> tuple[int, str]:
        """The next number of `year` and its id, in one statement: an upsert that creates the
        year's counter or bumps it and returns the new value. The row stays locked until the
        creating transaction ends (PostgreSQL's row lock; SQLite serialises writers anyway),
        so two records created at once get different numbers, and a creation rolled back
        leaves no gap. A unique constraint on the record's id is the backstop."""
        table = RecordCounter.__table__
        stmt = (
            dialect_insert(session.get_bind().dialect.name)(table)
            .values(prefix=self.prefix, year=year, last=1)
            .on_conflict_do_update(
                index_elements=[table.c.prefix, table.c.year], set_={"last": table.c.last + 1}
            )
            .returning(table.c.last)
        )
        seq = int(session.execute(stmt).scalar_one())
        return seq, self.format(year, seq)


def find(session: Session, model: type[Record], ref: str | int, *, lock: bool = False,
         column: str = "ref") -> Record | None:
    """The record whose id is `ref`. Locked: two changes to one record at once apply one after
    the other (PostgreSQL row lock; SQLite's BEGIN IMMEDIATE serialises writers already)."""
    field: Any = getattr(model, column)
    query = select(model).where(field == ref)
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    return session.exec(query).first()


def load(session: Session, model: type[Record], ids: RecordIds, raw: str | None, *,
         missing: str, lock: bool = False, usage: str | None = None) -> Record:
    """The record `raw` names, as people type ids; else NotFound(`missing`, ref=...), the
    domain's answer naming the id (as typed when it is not one). With no id typed at all,
    the command's `usage` when one is given."""
    if not raw and usage:
        raise UserError(usage)
    ref = ids.parse(raw)
    record = find(session, model, ref, lock=lock) if ref else None
    if record is None:
        raise NotFound(missing, ref=ref or (raw or "")[:40])
    return record


@dataclass(frozen=True)
class Who:
    """Who may change a domain's records, and the domain's refusal when the member may not.

    `people`: the record's member columns by their prefix (`"owner"` reads `owner_platform`
    and `owner_id`); `roles`: roles that may anyway; `rule`: a predicate over the context and
    the record for what these do not say. Anyone any of them lets in may. `refusal` is the
    template of the answer, given `ref=` the record's id and whatever `about(record)` adds."""

    refusal: str
    people: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    rule: Callable[[Ctx, Any], bool] | None = None
    about: Callable[[Any], dict[str, Any]] | None = None

    def allows(self, ctx: Ctx, record: Any) -> bool:  # noqa: ANN401 (any domain's record)
        me = (ctx.member.platform, ctx.member.user_id)
        if any((getattr(record, f"{person}_platform"), getattr(record, f"{person}_id")) == me
               for person in self.people):
            return True
        if self.roles and ctx.has_role(*self.roles):
            return True
        return self.rule is not None and self.rule(ctx, record)

    def check(self, ctx: Ctx, record: Any,  # noqa: ANN401 (any domain's record)
              error: type[UserError] = PermissionDenied) -> None:
        """Raise the polite refusal naming the record unless the member may. `error`: the
        kind of answer (a conversation step asks again on InvalidAnswer)."""
        if not self.allows(ctx, record):
            raise error(self.refusal, ref=record.ref, **(self.about(record) if self.about else {}))


def load_allowed(ctx: Ctx, model: type[Record], ids: RecordIds, raw: str | None, who: Who, *,
                 missing: str, lock: bool = False, usage: str | None = None) -> Record:
    """Load by id (locked for a change), then check who may: the record, else the polite "not
    found" or refusal, both naming the id; nothing is written before either."""
    record = load(ctx.session, model, ids, raw, missing=missing, lock=lock, usage=usage)
    who.check(ctx, record)
    return record


# Written with one INSERT on the session's connection, at once (bot.db.Direct): an entry is
# never read back nor changed in the transaction that writes it, and the ORM flush that
# wrote it cost about 0.3 ms of a confirming step (issue 22).
_AUDIT_COLUMNS = ["at", "actor", "record_type", "record_id", "action", "changes"]
_AUDIT = Direct(insert(AuditEntry.__table__).returning(AuditEntry.__table__.c.id),
                _AUDIT_COLUMNS)


def audit(session: Session, actor: str, record_type: str, record_id: str, action: str,
          changes: dict[str, Any] | None, at: Any) -> AuditEntry:  # noqa: ANN401 (a datetime)
    """One entry of the audit trail: who (`platform:user_id`, or the bot itself), when, what.
    Written now, in the session's transaction (rolled back with it); returned detached."""
    values = {"at": at if at is not None else utcnow(), "actor": actor,
              "record_type": record_type, "record_id": str(record_id), "action": action,
              "changes": changes or {}}
    session.info["wrote"] = True  # a failure now says "rolled back" (bot/db.py)
    new_id = _AUDIT.rows(session.connection(), values)[0]["id"]
    return loaded(AuditEntry, {"id": new_id, **values})
