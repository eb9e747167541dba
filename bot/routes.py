"""Which purposes have a channel: what a message may claim was posted, and where."""

from __future__ import annotations

from sqlmodel import Session, select

from bot.models import ChannelRoute


def routed(session: Session, purpose: str) -> bool:
    """A channel is bound to `purpose` (on any platform)."""
    found = select(ChannelRoute.id).where(ChannelRoute.purpose == purpose)
    return session.exec(found).first() is not None
