"""The one small interface the core and the reminder engine call adapters through."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from bot.errors import DeliveryError
from bot.messages import Outbound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Pace:
    """How fast one kind of rate-limit scope may be called: a token bucket, `per_second` on
    average and up to `burst` at once. Adapters declare theirs as `pace = {"slack:post": ...}`
    and name a message's scopes with `scopes(outbound)`; the delivery worker keeps to them."""

    per_second: float
    burst: int


class Adapter(Protocol):
    platform: str

    def send(self, outbound: Outbound) -> None:
        """Deliver one message. Raises DeliveryError (temporary or permanent) on failure."""

    def run(self) -> None:
        """Serve until stopped (blocking)."""

    def stop(self) -> None:
        """Stop serving; safe to call from another thread or a signal handler."""


def deliver_to_peer(peers: Mapping[str, Adapter], outbound: Outbound) -> None:
    """Hand a message for another platform (a DingTalk intake's card for a Slack channel) to
    that platform's adapter; a failure is logged, since the asker's own reply already went."""
    peer = peers.get(outbound.address.platform)
    if peer is None:
        log.warning("no adapter running for %s", outbound.address.platform)
        return
    try:
        peer.send(outbound)
    except DeliveryError as exc:
        log.warning("could not deliver to %s: %s", outbound.address.platform, exc.reason)
