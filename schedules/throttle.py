"""Rate limits, kept by the delivery worker rather than by sleeping threads.

A scope names one thing a platform limits: `slack:post:C123` (chat.postMessage to one
channel), `slack:method:conversations.open` (one method's tier), `dingtalk:robot:<code>`,
`dingtalk:group:<id>`. Adapters say which scopes a message touches (`scopes(outbound)`) and
how fast each kind of scope may go (`pace`); a platform's 429 or throttle pauses the scopes
it names (DeliveryError.scopes) for its Retry-After, counted from the response. The worker
asks `blocked_until` before each send: a message whose scope is paused, or whose pace is
used up, is released to the outbox for that time instead of being sent, and nobody sleeps.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from bot.adapters.base import Pace


def kind_of(scope: str) -> str:
    """`slack:post:C123` -> `slack:post`: the kind a Pace is declared for."""
    return scope.rsplit(":", 1)[0]


class Throttle:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paused: dict[str, datetime] = {}
        self._tokens: dict[str, tuple[float, datetime]] = {}

    def pause(self, scopes: Iterable[str], until: datetime) -> None:
        with self._lock:
            for scope in scopes:
                self._paused[scope] = max(until, self._paused.get(scope, until))

    def blocked_until(
        self, scopes: Iterable[str], paces: Mapping[str, Pace], now: datetime
    ) -> datetime | None:
        """None when a call in these scopes may go now (and takes its tokens); else the time
        it may go."""
        scopes = list(scopes)
        with self._lock:
            latest = max((self._paused.get(s) for s in scopes if s in self._paused),
                         default=None)
            if latest is not None and latest > now:
                return latest
            waits = []
            for scope in scopes:
                pace = paces.get(kind_of(scope))
                if pace is None:
                    continue
                tokens = self._refill(scope, pace, now)
                if tokens < 1:
                    waits.append(now + timedelta(seconds=(1 - tokens) / pace.per_second))
            if waits:
                return max(waits)
            for scope in scopes:
                pace = paces.get(kind_of(scope))
                if pace is not None:
                    self._tokens[scope] = (self._refill(scope, pace, now) - 1, now)
            return None

    def _refill(self, scope: str, pace: Pace, now: datetime) -> float:
        tokens, at = self._tokens.get(scope, (float(pace.burst), now))
        elapsed = max(0.0, (now - at).total_seconds())
        return min(float(pace.burst), tokens + elapsed * pace.per_second)
