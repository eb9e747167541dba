"""Per-process caches of rows read on every message and written rarely (members, their roles,
calendars), so that a message does not pay a query for each.

A cache belongs to one `Database` (`Database.cached`): a test's fresh database, or another
tenant's, never sees another's rows. A row written through the ORM in this process, in any
session, drops what a cache holds for it when the session flushes, and again when it commits
(so a reader that loaded the old row meanwhile cannot put it back for long). Each value is
kept at most `ttl` seconds: that bounds how long a change made elsewhere (another replica, the
CLI in another process) goes unseen here. Core statements (`update(Member.__table__)`) are
not seen: whoever writes a cached table with one says so (`Cache.written_by`).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import monotonic
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_clock = monotonic  # the tests move it past TTL

TTL = 15.0  # seconds; what another replica's change may stay unseen here at most
MAX_ENTRIES = 10_000  # bounded: cleared whole when full

_MISSING = object()
_CACHES: weakref.WeakSet[Cache] = weakref.WeakSet()
_lock = threading.Lock()  # for copying _CACHES while another thread adds to it
_PENDING = "cache_forget"  # session.info: (cache, keys) dropped at flush, dropped again at commit


# The generation of each cache when this thread's snapshot read began (`snapshot`).
_SNAPSHOT: ContextVar[dict[Cache, int] | None] = ContextVar("cache_snapshot", default=None)


@contextmanager
def snapshot() -> Iterator[None]:
    """A read of one snapshot that may begin before a write this process commits meanwhile
    (bot.db.Database.read_session, which holds no lock): the values it loads are put back
    only when no write has touched their cache since it began. Without it, a value read
    from the snapshot, with the generation read after that write, went in stale."""
    with _lock:
        held = {cache: cache._generation for cache in _CACHES}
    token = _SNAPSHOT.set(held)
    try:
        yield
    finally:
        _SNAPSHOT.reset(token)


class Cache:
    """Values by key for at most `ttl` seconds. `watches`: the models whose ORM writes drop
    entries; `keys_of(row)` names the keys a written row drops (None: everything)."""

    def __init__(self, watches: tuple[type, ...],
                 keys_of: Callable[[Any], Iterable[Hashable]] | None = None,
                 ttl: float = TTL) -> None:
        self.watches = watches
        self.keys_of = keys_of
        self.ttl = ttl
        self._data: dict[Hashable, tuple[float, Any]] = {}
        self._generation = 0
        self._lock = threading.Lock()
        with _lock:
            _CACHES.add(self)

    @property
    def generation(self) -> int:
        """Read before loading a value, handed to `put`: a change in between keeps it out. In
        a snapshot read (`snapshot`), the generation when it began: a change committed since
        is one the snapshot may not see."""
        held = _SNAPSHOT.get()
        if held is None:
            return self._generation
        return held.get(self, -1)  # a cache made during the read: nothing is put

    def get(self, key: Hashable, default: Any = None) -> Any:  # noqa: ANN401
        found = self._data.get(key, _MISSING)
        if found is _MISSING or _clock() - found[0] > self.ttl:
            return default
        return found[1]

    def put(self, key: Hashable, value: Any, generation: int) -> None:  # noqa: ANN401
        with self._lock:
            if generation != self._generation:
                return  # something was written since the value was read
            if len(self._data) >= MAX_ENTRIES:
                self._data.clear()
            self._data[key] = (_clock(), value)

    def forget(self, keys: Iterable[Hashable] | None = None) -> None:
        with self._lock:
            self._generation += 1
            if keys is None:
                self._data.clear()
            else:
                for key in keys:
                    self._data.pop(key, None)

    def written_by(self, session: Session, keys: Iterable[Hashable]) -> None:
        """`session` wrote these keys' rows with a Core statement, which the cache cannot see:
        dropped now and again when it commits, as for a write through the ORM."""
        keys = list(keys)
        self.forget(keys)
        session.info.setdefault(_PENDING, []).append((self, keys))

    def unchanged_by(self, session: Session) -> bool:
        """Whether `session` has written (or is about to write) no row this cache watches:
        only then may it use what is kept, or keep what it reads (which might not be
        committed)."""
        if any(cache is self for cache, _ in session.info.get(_PENDING, ())):
            return False
        return not any(isinstance(row, self.watches)
                       for row in (*session.new, *session.dirty, *session.deleted))

    def _written(self, row: Any) -> list[Hashable] | None:  # noqa: ANN401
        return None if self.keys_of is None else list(self.keys_of(row))


def _dropped(session: Session) -> list[tuple[Cache, list[Hashable] | None]]:
    found: list[tuple[Cache, list[Hashable] | None]] = []
    caches = list(_CACHES)
    if not caches:
        return found
    for row in (*session.new, *session.dirty, *session.deleted):
        for cache in caches:
            if isinstance(row, cache.watches):
                found.append((cache, cache._written(row)))
    return found


@event.listens_for(Session, "before_flush")
def _forget_on_flush(session: Session, _context: object, _instances: object) -> None:
    for cache, keys in _dropped(session):
        cache.forget(keys)
        session.info.setdefault(_PENDING, []).append((cache, keys))


@event.listens_for(Session, "after_commit")
def _forget_on_commit(session: Session) -> None:
    for cache, keys in session.info.pop(_PENDING, ()):
        cache.forget(keys)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    for cache, keys in session.info.pop(_PENDING, ()):
        cache.forget(keys)
