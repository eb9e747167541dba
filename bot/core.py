"""The core: one inbound message in, rendered outbound messages out.

adapter -> Liaison.handle -> router -> handler (-> conversation engine) -> replies -> renderer
-> outbound messages, which the adapter (or, for another platform, the runtime) delivers.
Everything a message changes is written in one transaction, and the replies are released only
after it commits, so nobody is told about a record that was not stored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, col, delete, select

from bot import logs, members, metrics
from bot.config import Settings
from bot.context import Ctx
from bot.conversation import Engine, tapped, word_of
from bot.db import Database, Direct, dialect_insert, safe_url
from bot.errors import (
    DomainLoadError,
    LiaisonError,
    PermissionDenied,
    StorageError,
    UserError,
)
from bot.messages import Address, Audience, Inbound, Outbound, Reply
from bot.models import AuditEntry, Conversation, InboundEvent, Member, WebLogin
from bot.render import Renderer
from bot.router import MAX_MESSAGE, Registry, clean, command_form
from bot.routes import routed, routes_for

log = logging.getLogger(__name__)

JUST_SAVED = timedelta(minutes=10)  # a second "yes" this soon after a save is a double click


@cache
def _remember(dialect: str) -> Direct:
    """INSERT of an inbound event id returning its row id, or nothing when the id is there
    already. It replaced a SELECT, then an INSERT in a SAVEPOINT for the race (four
    statements, issue 22). Built once per dialect, on first use."""
    table = InboundEvent.__table__
    insert = dialect_insert(dialect)
    return Direct(insert(table).on_conflict_do_nothing(index_elements=["platform", "event_id"])
                  .returning(table.c.id), ["platform", "event_id", "received_at"])


def zone_of(name: str | None, fallback: ZoneInfo) -> ZoneInfo:
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return fallback


@dataclass(frozen=True)
class Place:
    """Where a reply goes and how it is written there: the one addressing rule for replies
    sent now (`to_member`, `purpose_places`, `to_channel`) and for reminders, which the sweep
    renders after its transaction (schedules/worker.py)."""

    address: Address
    locale: str
    zone: ZoneInfo
    direct: bool = False


class Liaison:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        renderer: Renderer | None = None,
        registry: Registry | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.renderer = renderer or Renderer(settings.default_locale,
                                             bot_names=settings.bot_names)
        if registry is None:
            import handlers

            registry = Registry()
            handlers.register_all(registry)
        self.registry = registry
        self.renderer.use_commands(registry.slack_commands, registry.app_command)
        self.engine = Engine(registry)

    # -- inbound ----------------------------------------------------------------------------

    def handle(
        self,
        inbound: Inbound,
        *,
        queue: bool = False,
        keep: Callable[[Outbound], bool] | None = None,
        prepare: Callable[[Session, Inbound, list[Outbound]], list[Outbound]] | None = None,
    ) -> list[Outbound]:
        """Handle one message; returns the rendered answers. With `queue` (how the platform
        adapters call it) every answer is written to the outbox in the same transaction as
        the change it reports, for the delivery worker; only those `keep` selects (a slash
        command's private answer, for the HTTP ack) are returned. `prepare` lets the adapter
        add what it needs to deliver them later (Outbound.meta), inside the transaction."""
        # One request id per inbound, carried by the answers it queues (bot/logs.py).
        with logs.request(inbound.platform, logs.current_request_id()), \
                metrics.handling(inbound.platform):
            outbounds = self._handle(inbound, queue=queue, keep=keep, prepare=prepare)
            log.info("handled a message from %s in %s", inbound.user, inbound.channel)
            if not queue:
                return outbounds
            kept = [o for o in outbounds if keep is not None and keep(o)]
            rest = [o for o in outbounds if not (keep is not None and keep(o))]
            return kept + self.queue(rest, inbound, prepare)

    def queue(
        self,
        outbounds: list[Outbound],
        inbound: Inbound | None = None,
        prepare: Callable[[Session, Inbound, list[Outbound]], list[Outbound]] | None = None,
    ) -> list[Outbound]:
        """Queue messages in a transaction of their own (an error answer, prepared as `handle`
        prepares answers, or a private answer that missed the ack). Returns those that could
        not be queued (the database is away): the caller may still try them once directly."""
        if not outbounds:
            return []
        from schedules import api

        try:
            with self.db.session() as session:
                if prepare is not None and inbound is not None:
                    outbounds = prepare(session, inbound, outbounds)
                for outbound in outbounds:
                    api.queue(session, outbound)
        except StorageError:
            return outbounds
        return []

    def _handle(self, inbound, *, queue, keep, prepare) -> list[Outbound]:  # noqa: ANN001
        now = datetime.now(UTC)
        locale = self.renderer.locale(inbound.locale)
        zone = zone_of(inbound.timezone, self.settings.zone)
        try:
            # The domains' code, on the first message: imported before the transaction, which
            # on SQLite holds the process's write lock (a no-op once it is in).
            self.registry.load()
            with self.db.session() as session:
                if inbound.event_id and self._seen(session, inbound, now):
                    return []
                ctx = self._context(session, inbound, now)
                locale, zone = ctx.locale, ctx.zone
                replies = self._dispatch(ctx)
                if queue or prepare is not None:
                    # The outbox rows, written with the change, hold the answers rendered (and
                    # the adapter prepares them): rendered here, in the transaction.
                    return self._resolved(session, ctx, replies, queue=queue, keep=keep,
                                          prepare=prepare)
                # Who gets what, and in which language, read in the transaction; rendered once
                # it has committed (below).
                places = self.places(ctx, replies)
                wrote = bool(session.info.get("wrote") or session.new or session.dirty
                             or session.deleted)  # as Database.session reads it
        except UserError as exc:
            reply = Reply(exc.template, exc.params, audience=Audience.USER)
        except StorageError as exc:
            # "Rolled back" only when a change was on its way; a failed read just says wait.
            template = "errors/storage" if exc.wrote else "errors/unavailable"
            reply = Reply(template, audience=Audience.USER)
        except DomainLoadError as exc:  # its traceback was logged once, when the load failed
            log.error("could not handle a message: %s", exc)
            reply = Reply("errors/internal", audience=Audience.USER)
        except LiaisonError:
            log.exception("could not handle a message")
            reply = Reply("errors/internal", audience=Audience.USER)
        except Exception:
            log.exception("bug while handling a message")
            reply = Reply("errors/internal", audience=Audience.USER)
        else:
            return self._rendered(inbound, places, locale, zone, wrote=wrote)
        # Nothing was committed: the answer is queued (or returned) by `handle`.
        return [self._to_asker(inbound, reply, locale, zone)]

    def _rendered(self, inbound: Inbound, places: list[tuple[Reply, Place]], locale: str,
                  zone: ZoneInfo, *, wrote: bool) -> list[Outbound]:
        """The answers to a message whose change has committed, rendered outside the SQLite
        lock: other threads' writes (a Slack ack's, the DingTalk inbox's) do not wait on Jinja
        (issue 22). A reply's values are what the transaction read (its session keeps them
        loaded after the commit). A template that fails then (a bug) cannot undo the change:
        a message that wrote tells the member its change was saved but its answer failed (the
        apology for a bug says nothing changed, which is then true only of one that wrote
        nothing), and the log says which."""
        try:
            return [self.render_at(reply, place) for reply, place in places]
        except Exception:
            log.exception("bug while rendering the answers to a message (%s)",
                          "its change committed" if wrote else "it changed nothing")
            template = "errors/answer_failed" if wrote else "errors/internal"
            return [self._to_asker(inbound, Reply(template, audience=Audience.USER), locale,
                                   zone)]

    def _resolved(self, session: Session, ctx: Ctx, replies: list[Reply], *, queue: bool,
                  keep: Callable[[Outbound], bool] | None,
                  prepare: Callable[[Session, Inbound, list[Outbound]], list[Outbound]] | None,
                  ) -> list[Outbound]:
        """The answers rendered in the transaction, prepared by the adapter and, with `queue`,
        written to the outbox but for those `keep` selects, which are returned."""
        outbounds = self.resolve(ctx, replies)
        if prepare is not None:
            outbounds = prepare(session, ctx.inbound, outbounds)
        if not queue:
            return outbounds
        from schedules import api

        kept = [o for o in outbounds if keep is not None and keep(o)]
        for outbound in outbounds:
            if not any(outbound is k for k in kept):
                api.queue(session, outbound, now=ctx.now)
        return kept

    def _context(self, session: Session, inbound: Inbound, now: datetime) -> Ctx:
        member = members.touch(session, inbound)
        return Ctx(
            app=self,
            session=session,
            inbound=inbound,
            member=member,
            roles=members.roles(session, member, self.settings.admin_ids),
            locale=self.renderer.locale(
                inbound.session_locale or member.locale or inbound.locale),
            zone=zone_of(member.timezone or inbound.timezone, self.settings.zone),
            now=now,
        )

    def greet(self, inbound: Inbound, *, banner: bool = True) -> list[Outbound]:
        """What a chat that opens says first (the console): one line on who you are, your
        roles, the database and how to leave; and an unfinished draft, with its question
        again, so the next line is not taken as its answer unawares."""
        with self.db.session() as session:
            ctx = self._context(session, inbound, datetime.now(UTC))
            replies: list[Reply] = []
            if banner:
                replies.append(Reply("system/greeting", {
                    "name": ctx.member.display_name, "roles": sorted(ctx.roles),
                    "database": safe_url(self.settings.database_url)}))
            conv = self.engine.current(ctx)
            if conv is not None and conv.expires_at > ctx.now:
                replies += self.engine.resume(ctx, conv)
            return self.resolve(ctx, replies)

    def _seen(self, session: Session, inbound: Inbound, now: datetime) -> bool:
        """Whether this event was handled already; if not, it is noted as handled, in the
        message's transaction (rolled back with it, so a failed message is handled again when
        redelivered). One statement: an INSERT that stands aside when the id is there, or is
        being written by a copy of the event that arrived at the same moment."""
        connection = session.connection()
        if not _remember(connection.dialect.name).rows(connection, {
                "platform": inbound.platform, "event_id": inbound.event_id, "received_at": now}):
            return True
        session.info["wrote"] = True  # a failure from here on says "rolled back" (bot/db.py)
        return False

    def _dispatch(self, ctx: Ctx) -> list[Reply]:
        text = clean(ctx.inbound.text).strip()
        if len(text) > MAX_MESSAGE:
            raise UserError("errors/too_long", limit=MAX_MESSAGE, length=len(text))
        replies: list[Reply] = []
        conv = self.engine.current(ctx)
        if conv is not None:
            replies += self.engine.expire_if_stale(ctx, conv)
            if replies:
                conv = None
        if conv is not None and not command_form(text).startswith("/"):
            metrics.command(f"flow:{conv.flow}")
            return replies + self.engine.answer(ctx, conv, text)
        if not text:
            return replies + [Reply("help/hint")]
        if self.registry.looks_like_command(text):
            parsed = self.registry.parse(text)
            metrics.command(parsed.command.key)
            if not parsed.command.allowed(ctx.roles):
                raise PermissionDenied("errors/permission", roles=sorted(parsed.command.roles))
            result = parsed.command.handler(ctx, parsed.args)
            if isinstance(result, Reply):
                result = [result]
            return replies + list(result or [])
        if word_of(text) == "cancel":
            return replies + [Reply("flow/nothing_to_cancel")]
        if word_of(text) == "yes" and (saved := self._just_saved(ctx)):
            # A second "yes" (a double-clicked Confirm) to a summary already saved.
            return replies + [Reply("flow/already_saved", {"id": saved})]
        if tapped(text)[1] is not None:  # a choice link of a conversation that has ended
            return replies + [Reply("flow/already_answered")]
        return replies + [Reply("errors/not_understood", {"text": text[:80]})]

    def _just_saved(self, ctx: Ctx) -> str | None:
        """The record this member created in the last few minutes, if any."""
        return ctx.session.exec(
            select(AuditEntry.record_id)
            .where(AuditEntry.actor == ctx.actor, AuditEntry.action == "create",
                   col(AuditEntry.at) >= ctx.now - JUST_SAVED)
            .order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
        ).first()

    # -- outbound ---------------------------------------------------------------------------

    def resolve(self, ctx: Ctx, replies: list[Reply]) -> list[Outbound]:
        """Render each reply for whoever receives it, in their language and zone."""
        return [self.render_at(reply, place) for reply, place in self.places(ctx, replies)]

    def places(self, ctx: Ctx, replies: list[Reply]) -> list[tuple[Reply, Place]]:
        """Each reply with where it goes and how it is written there (`resolve` without the
        rendering): what the database says of its recipients, read in the transaction."""
        out: list[tuple[Reply, Place]] = []
        for reply in replies:
            if reply.audience in (Audience.CONVERSATION, Audience.USER):
                out.append((reply, self._asker_place(ctx.inbound, reply, ctx.locale, ctx.zone)))
            elif reply.audience is Audience.MEMBER and reply.member:
                out.append((reply, self.member_place(ctx.session, *reply.member)))
            elif reply.audience is Audience.PURPOSE and reply.purpose:
                found = [(reply, place) for place in
                         self.purpose_places(ctx.session, reply, reply.purpose)]
                out.extend(found or self._unrouted(ctx, reply.purpose))
        return out

    def _unrouted(self, ctx: Ctx, purpose: str) -> list[tuple[Reply, Place]]:
        """A post for a purpose no channel serves reached nobody: the asker is told so, and
        each admin how to fix it (`/route <purpose> here`), rather than a silent drop."""
        admins = self.admins_except(ctx.member.platform, ctx.member.user_id)
        notice = Reply("errors/no_route", {"purpose": purpose, "admins_told": bool(admins)})
        fix = Reply("system/no_route_admin", {"purpose": purpose, "who": ctx.member.display_name})
        return [(notice, self._asker_place(ctx.inbound, notice, ctx.locale, ctx.zone)),
                *((fix, self.member_place(ctx.session, *admin)) for admin in admins)]

    def has_route(self, session: Session, purpose: str) -> bool:
        return routed(session, purpose)

    def admins_except(self, platform: str, user_id: str) -> list[tuple[str, str]]:
        """The admins (LIAISON_ADMINS) other than this member, in a stable order."""
        return sorted(a for a in self.settings.admin_ids if a != (platform, user_id))

    def _to_asker(self, inbound: Inbound, reply: Reply, locale: str, zone: ZoneInfo) -> Outbound:
        return self.render_at(reply, self._asker_place(inbound, reply, locale, zone))

    @staticmethod
    def _asker_place(inbound: Inbound, reply: Reply, locale: str, zone: ZoneInfo) -> Place:
        """The answer to the message, where it was said (a private one only to its sender)."""
        private = reply.audience is Audience.USER
        address = Address(
            platform=inbound.platform,
            channel=inbound.channel,
            user=inbound.user,
            thread=inbound.thread,
            ephemeral_to=inbound.user if private and not inbound.direct else None,
            in_reply=True,
        )
        return Place(address, locale, zone, direct=inbound.direct)

    def to_member(self, session: Session, reply: Reply, platform: str, user_id: str) -> Outbound:
        return self.render_at(reply, self.member_place(session, platform, user_id))

    def to_channel(self, reply: Reply, platform: str, channel_id: str) -> Outbound:
        return self.render_at(reply, self.channel_place(reply, platform, channel_id))

    def member_place(self, session: Session, platform: str, user_id: str) -> Place:
        """A member's DM, in their language and zone (the defaults when unknown)."""
        member = members.recipient(session, platform, user_id)
        locale = (member.locale if member else None) or self.settings.default_locale
        return Place(Address(platform=platform, user=user_id), locale, self.member_zone(member),
                     direct=True)

    def purpose_places(self, session: Session, reply: Reply, purpose: str) -> list[Place]:
        """The channels bound to a purpose, in the reply's language and the team's zone."""
        return [Place(Address(platform=r.platform, channel=r.channel_id, purpose=purpose),
                      reply.locale or self.settings.default_locale, self.settings.zone)
                for r in routes_for(session, purpose)]

    def channel_place(self, reply: Reply, platform: str, channel_id: str) -> Place:
        """A channel, in the reply's language and the team's zone."""
        return Place(Address(platform=platform, channel=channel_id),
                     reply.locale or self.settings.default_locale, self.settings.zone)

    def render_at(self, reply: Reply, place: Place) -> Outbound:
        message = self.renderer.render(reply, locale=place.locale, platform=place.address.platform,
                                       zone=place.zone, direct=place.direct)
        return Outbound(place.address, message)

    def member_zone(self, member: Member | None) -> ZoneInfo:
        return zone_of(member.timezone if member else None, self.settings.zone)

    # -- housekeeping ------------------------------------------------------------------------

    def purge(self, now: datetime, keep_events: timedelta = timedelta(days=7)) -> None:
        """Forget old inbound event ids and expired conversations, and what each domain's
        purges forget. The domains' code is imported first, outside the transaction; should it
        fail (logged when it did), the core's own purges still run."""
        try:
            purges = [forget for domain in self.registry.domains for forget in domain.purges]
        except DomainLoadError as exc:
            log.error("the domains' purges wait for their code: %s", exc)
            purges = []
        with self.db.session() as session:
            old = col(InboundEvent.received_at) < now - keep_events
            session.exec(delete(InboundEvent).where(old))
            session.exec(delete(Conversation).where(col(Conversation.expires_at) < now))
            # dashboard sign-in links a day past their expiry
            session.exec(delete(WebLogin).where(
                col(WebLogin.expires_at) < now - timedelta(days=1)))
            for forget in purges:
                forget(session, now, self.settings)
