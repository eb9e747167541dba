"""One root for every error Liaison raises on purpose.

Driver and SDK errors are translated into these once, at the edge (storage, adapters), so the
rest of the code only ever catches LiaisonError and its few subclasses.
"""

from __future__ import annotations

from typing import Any


class LiaisonError(Exception):
    """Root of Liaison's own errors."""


class ConfigError(LiaisonError):
    """A setting is missing or wrong; start-up stops with one line naming it."""


class DomainLoadError(LiaisonError):
    """A domain's code could not be imported (bot.router.Registry.load): a broken install,
    not a person's mistake. Raised again, without a new try, until the process restarts."""


class UserError(LiaisonError):
    """Something the user can fix. Carries a template name and values, never a sentence:
    the renderer turns it into a polite answer in the user's language."""

    def __init__(self, template: str, **params: Any) -> None:
        super().__init__(template)
        self.template = template
        self.params = params


class InvalidAnswer(UserError):
    """An answer to a conversation step that does not parse; the step is asked again."""


class PermissionDenied(UserError):
    """The member lacks the role for what they asked."""


class NotFound(UserError):
    """The record the user named does not exist."""


class StorageError(LiaisonError):
    """The database failed; the change was rolled back. `unavailable` when the database could
    not be reached or did not answer in time (connect or statement timeout), as opposed to a
    statement it refused; `wrote` when a change had been sent to it (only then is anything
    rolled back from the user's point of view)."""

    def __init__(self, reason: str, *, unavailable: bool = False, wrote: bool = True) -> None:
        super().__init__(reason)
        self.unavailable = unavailable
        self.wrote = wrote


class DeliveryError(LiaisonError):
    """A platform refused or failed to take a message.

    `temporary` failures (timeouts, 5xx, rate limits) are retried, after `retry_after`
    seconds when the platform said so; permanent ones (unknown channel) are not. A rate limit
    names in `scopes` what the platform throttled (`slack:post:C123`, `dingtalk:robot:...`):
    the delivery worker pauses every call in those scopes for `retry_after` seconds."""

    def __init__(
        self,
        reason: str,
        *,
        temporary: bool,
        retry_after: float | None = None,
        scopes: tuple[str, ...] = (),
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.temporary = temporary
        self.retry_after = retry_after
        self.scopes = scopes
