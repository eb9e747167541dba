"""Which purposes have a channel: what a message may claim was posted, and where.

Routes change rarely (`/route`) and are read on many messages, so they are kept per process
(bot/cache.py): a change in this process shows at once, another replica's within 15 s."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from bot.models import ChannelRoute


@dataclass(frozen=True)
class Route:
    purpose: str
    platform: str
    channel_id: str
    workspace: str = ""


def all_routes(session: Session) -> tuple[Route, ...]:
    """Every route, by platform then id."""
    db = session.info.get("database")
    cache = None if db is None else db.cached("routes", (ChannelRoute,))
    if cache is not None and not cache.unchanged_by(session):
        cache = None  # this transaction changes routes: ask the database
    if cache is not None and (found := cache.get("all")) is not None:
        return found
    generation = None if cache is None else cache.generation
    found = tuple(
        Route(r.purpose, r.platform, r.channel_id, r.workspace or "")
        for r in session.exec(select(ChannelRoute).order_by(
            col(ChannelRoute.platform), col(ChannelRoute.id))))
    if cache is not None:
        cache.put("all", found, generation)
    return found


def routed(session: Session, purpose: str) -> bool:
    """A channel is bound to `purpose` (on any platform)."""
    return any(r.purpose == purpose for r in all_routes(session))


def routes_for(session: Session, purpose: str) -> list[Route]:
    """The channels serving `purpose`, by platform."""
    return [r for r in all_routes(session) if r.purpose == purpose]


def channel_of(session: Session, purpose: str, platform: str) -> str | None:
    """The channel serving `purpose` on `platform`, if one does."""
    return next((r.channel_id for r in all_routes(session)
                 if r.purpose == purpose and r.platform == platform), None)
