"""The shared "load by id, lock, check who may" of bot/records.py: the refusal names the record
in the member's language, and nothing is written when the member may not."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from sqlmodel import Session, func, select

from bot import records
from bot.errors import InvalidAnswer, NotFound, PermissionDenied
from bot.models import AuditEntry
from handlers.comm.models import CommRecord
from handlers.comm.rules import IDS
from tests.support import Chat, build_app

REF = "K-2026-0001"


@dataclass
class _Member:
    platform: str
    user_id: str


@dataclass
class _Ctx:
    """What the helper reads of a handler's context: the session, the member, their roles."""

    session: Session
    member: _Member
    roles: frozenset[str] = field(default_factory=frozenset)

    def has_role(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))


def _app_with_a_record(db_url, tmp_path):  # noqa: ANN001, ANN202
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice('/comm new audience=media audience_name="新华社" topic="新品发布" goal=publish '
          'goal_text="三家媒体报道新品" channel=press_release')
    alice("跳过")  # materials
    alice("跳过")  # strategy
    assert REF in alice("确认")
    return app


OWNER = records.Who("comm/not_owner", people=("owner",), roles=("admin",),
                    about=lambda r: {"owner": r.owner_name})


def test_load_allowed_lets_in_who_may_and_refuses_the_rest_naming_the_record(db_url, tmp_path,
                                                                             clock):
    app = _app_with_a_record(db_url, tmp_path)
    with app.db.session() as s:
        def load(user: str, raw: str = "k-2026-1", who: records.Who = OWNER,
                 roles: frozenset[str] = frozenset()) -> CommRecord:
            ctx = _Ctx(s, _Member("console", user), roles)
            return records.load_allowed(ctx, CommRecord, IDS, raw, who,
                                        missing="comm/not_found", lock=True)

        assert load("alice").ref == REF  # the owner, the id as people type it
        assert load("carol", roles=frozenset({"admin"})).ref == REF  # a role that may
        with pytest.raises(PermissionDenied) as refused:
            load("bob")
        assert refused.value.template == "comm/not_owner"
        assert refused.value.params == {"ref": REF, "owner": "alice"}
        # Another platform's member with the same user id is somebody else.
        with pytest.raises(PermissionDenied):
            records.Who("comm/not_owner", people=("owner",)).check(
                _Ctx(s, _Member("slack", "alice")), load("alice"))
        # A rule over the context and the record, for what people and roles do not say.
        ruled = records.Who("comm/not_owner", rule=lambda ctx, r: r.topic == "新品发布")
        assert load("bob", who=ruled).ref == REF
        # Not found comes first, naming what was typed; nobody is refused a missing record.
        with pytest.raises(NotFound) as missing:
            load("bob", raw="K-2026-0099")
        assert missing.value.params == {"ref": "K-2026-0099"}
        # A conversation step asks again instead: the same refusal as an invalid answer.
        with pytest.raises(InvalidAnswer) as again:
            OWNER.check(_Ctx(s, _Member("console", "bob")), load("alice"),
                        InvalidAnswer)
        assert again.value.template == "comm/not_owner" and again.value.params["ref"] == REF


def test_a_refused_change_answers_politely_in_both_languages_and_writes_nothing(db_url, tmp_path,
                                                                               clock):
    app = _app_with_a_record(db_url, tmp_path)

    def snapshot() -> tuple[int, dict]:
        """The audit trail's length and the record as stored."""
        with app.db.session() as s:
            record = s.exec(select(CommRecord).where(CommRecord.ref == REF)).one()
            return s.exec(select(func.count()).select_from(AuditEntry)).one(), record.model_dump()

    before = snapshot()
    bob = Chat(app, "bob")
    out = bob(f"/comm check {REF} contact phone")
    assert f"{REF} 由 alice 负责,只有负责人或管理员可以修改。什么都没有改动。" in out
    assert snapshot() == before
    bob("/lang en")
    before = snapshot()  # /lang writes bob's own setting, nothing of the record
    out = bob(f"/comm check {REF} contact phone")
    assert (f"{REF} belongs to alice; only the owner or an admin may change it. "
            "Nothing was changed.") in out
    assert snapshot() == before
