"""What a handler sees: the message, the member, the session, the clock, the settings.

Nothing here knows which platform it serves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlmodel import Session

from bot.errors import PermissionDenied
from bot.messages import Inbound, Mention
from bot.models import AuditEntry, Member

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.core import Liaison


@dataclass
class Ctx:
    app: Liaison
    session: Session
    inbound: Inbound
    member: Member
    roles: frozenset[str]
    locale: str
    zone: ZoneInfo
    now: datetime

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @property
    def actor(self) -> str:
        return f"{self.member.platform}:{self.member.user_id}"

    @property
    def me(self) -> Mention:
        return Mention(self.member.platform, self.member.user_id, self.member.display_name)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    def require_role(self, *roles: str) -> None:
        if not self.has_role(*roles):
            raise PermissionDenied("errors/permission", roles=list(roles))

    def audit(
        self, record_type: str, record_id: str, action: str, changes: dict[str, Any] | None = None
    ) -> AuditEntry:
        from bot.records import audit

        return audit(self.session, self.actor, record_type, record_id, action, changes, self.now)
