"""The one small interface the core and the reminder engine call adapters through."""

from __future__ import annotations

from typing import Protocol

from bot.messages import Outbound


class Adapter(Protocol):
    platform: str

    def send(self, outbound: Outbound) -> None:
        """Deliver one message. Raises DeliveryError (temporary or permanent) on failure."""

    def run(self) -> None:
        """Serve until stopped (blocking)."""

    def stop(self) -> None:
        """Stop serving; safe to call from another thread or a signal handler."""
