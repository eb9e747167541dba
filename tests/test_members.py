"""Members as the core finds and creates them on each message: one row per platform id even
when two replicas meet a newcomer at once, roles read for the member that exists, and a
notice in the language its recipient has now."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from bot import members
from bot.models import Member
from tests.support import Chat, build_app

SCRIPT = ["/visit new", "ACME 公司", "2", "4", "我", "明天下午3点", "完成", "确认"]


def _notice_to(app, user: str, chat: Chat) -> str:  # noqa: ANN001
    """Walk `chat` through the test flow; the notice its confirmation sends to `user`."""
    for text in SCRIPT:
        out = chat.say(text)
    return next(o.message.text for o in out
                if o.address.user == user and o.message.template == "system/no_route_admin")


def test_a_member_another_replica_made_a_moment_ago_is_found_not_made_twice(
        db_url, tmp_path, clock, monkeypatch):
    app, _ = build_app(db_url, tmp_path)
    Chat(app, "bob")("/whoami")
    assert "已授予 bob 审批人角色" in Chat(app, "admin")("/role grant @bob approver")
    # This replica looked bob up before the other's insert was committed: it finds no one,
    # and tries to create him.
    monkeypatch.setattr(members, "_sender", lambda session, platform, user_id: None)
    out = Chat(app, "bob")("/whoami")
    assert "审批人" in out  # the bob that exists, with his role: not a newcomer
    with app.db.session() as s:
        assert s.exec(select(func.count()).select_from(Member)).one() == 2  # bob, admin


def test_a_notice_is_in_the_language_its_recipient_chose_a_moment_ago(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    # The admin has never written: the notice is in the default language.
    assert "还没有频道绑定" in _notice_to(app, "admin", Chat(app, "alice"))
    assert "还没有频道绑定" in _notice_to(app, "admin", Chat(app, "carol"))
    # The admin writes for the first time, from a client in English: the next notice
    # follows at once.
    assert "Language: English" in Chat(app, "admin")("/whoami", locale="en")
    assert "no channel is bound" in _notice_to(app, "admin", Chat(app, "bob"))
    # And their own choice, later, as well.
    Chat(app, "admin")("/lang zh")
    assert "还没有频道绑定" in _notice_to(app, "admin", Chat(app, "dave"))


def test_a_first_message_rolled_back_leaves_no_member_behind(db_url, tmp_path, clock):
    """A newcomer's first message creates them, then fails: nothing of them is kept, so their
    next message creates them again and nobody else's roles come with an id reused."""
    from bot.errors import UserError
    from bot.messages import Reply

    app, _ = build_app(db_url, tmp_path)

    @app.registry.command("visit", "selfnote")
    def selfnote(ctx, args):  # noqa: ANN001, ANN202
        # Read themselves again in this transaction (as a notice to oneself does), then fail.
        members.touch(ctx.session, ctx.inbound)
        ctx.app.to_member(ctx.session, Reply("help/hint"), ctx.member.platform,
                          ctx.member.user_id)
        raise UserError("errors/too_long", limit=1, length=2)

    Chat(app, "newbie")("/visit selfnote")
    with app.db.session() as s:
        assert s.exec(select(Member)).all() == []  # rolled back
    Chat(app, "bob")("/whoami")
    assert "已授予 bob 审批人角色" in Chat(app, "admin")("/role grant @bob approver")
    assert "审批人" not in Chat(app, "newbie")("/whoami")
    with app.db.session() as s:
        assert s.exec(select(Member).where(Member.user_id == "newbie")).first() is not None


def test_no_such_member_is_not_kept_over_a_member_this_process_created_meanwhile(
        db_url, tmp_path, clock):
    """A notice's recipient looked up (and found absent) while that person's first message
    commits in another thread: the absence is not kept, so the next notice is in their
    language. PostgreSQL only: on SQLite the process's lock runs the two one after the other."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the two sessions overlap on PostgreSQL only (SQLite's process lock)")
    app, _ = build_app(db_url, tmp_path)
    real, fired = members._SENDER, []

    class Interleaved:
        def rows(self, connection, params):  # noqa: ANN001, ANN202
            found = real.rows(connection, params)
            if params["user_id"] == "admin" and not found and not fired:
                fired.append(1)  # the admin's first message commits in between
                assert "Language: English" in Chat(app, "admin")("/whoami", locale="en")
            return found

    members._SENDER = Interleaved()
    try:
        assert "还没有频道绑定" in _notice_to(app, "admin", Chat(app, "alice"))
    finally:
        members._SENDER = real
    assert fired
    with app.db.session() as s:
        assert s.exec(select(Member).where(Member.user_id == "admin")).one().locale == "en"
    assert "no channel is bound" in _notice_to(app, "admin", Chat(app, "bob"))


def test_a_newcomer_is_kept_once_their_first_message_commits(db_url, tmp_path, clock):
    """Their next message, a moment later, reads them from the cache, not the database."""
    app, _ = build_app(db_url, tmp_path)
    chat = Chat(app, "newbie")
    chat("/whoami")
    real, reads = members._SENDER, []

    class Counted:
        def rows(self, connection, params):  # noqa: ANN001, ANN202
            reads.append(params["user_id"])
            return real.rows(connection, params)

    members._SENDER = Counted()
    try:
        assert "newbie" in chat("/whoami")
    finally:
        members._SENDER = real
    assert "newbie" not in reads


def test_members_read_ahead_are_found_past_twenty_on_each_platform(db_url, tmp_path):
    """A sweep reads its recipients ahead, twenty ids a statement: more than that on one
    platform, several platforms, and ids nobody has are each answered as `find` would."""
    from datetime import UTC, datetime

    app, _ = build_app(db_url, tmp_path)
    now = datetime.now(UTC)
    with app.db.session() as s:
        for i in range(25):
            s.add(Member(platform="console", user_id=f"u{i}", display_name=f"U {i}",
                         locale=("zh", "en")[i % 2], created_at=now))
        s.add(Member(platform="slack", user_id="u3", display_name="Slack 3", created_at=now))
    wanted = [("console", f"u{i}") for i in range(25)] + [("slack", "u3"), ("slack", "u4"),
                                                         ("console", "nobody")]
    with app.db.read_session() as s:
        members.preload(s, wanted)
        found = {key: members.find(s, key[0], user_id=key[1]) for key in wanted}
    assert [(m.display_name, m.locale) for key, m in found.items() if key[0] == "console"
            and m is not None] == [(f"U {i}", ("zh", "en")[i % 2]) for i in range(25)]
    assert found[("slack", "u3")].display_name == "Slack 3"
    assert found[("slack", "u4")] is None and found[("console", "nobody")] is None


def test_the_holders_of_a_role_include_a_grant_not_written_yet_and_the_sessions_own_rows(
        db_url, tmp_path):
    """`with_role` in a transaction that grants: the grant counts before it is flushed, and a
    member the transaction holds is that very object (a change to it is not lost)."""
    from datetime import UTC, datetime

    app, _ = build_app(db_url, tmp_path)
    now = datetime.now(UTC)
    with app.db.session() as s:
        for name in ("alice", "bob"):
            s.add(Member(platform="console", user_id=name, display_name=name, created_at=now))
    with app.db.session() as s:
        alice = members.find(s, "console", user_id="alice")
        assert members.with_role(s, "trainer") == []
        assert members.grant(s, alice, "trainer", by="admin")
        (holder,) = members.with_role(s, "trainer")
        assert holder is alice
        bob = members.find(s, "console", user_id="bob")
        members.grant(s, bob, "trainer", by="admin")
        s.flush()
        assert [m.user_id for m in members.with_role(s, "trainer")] == ["alice", "bob"]
    with app.db.session() as s:
        holders = members.with_role(s, "trainer")
        assert [m.user_id for m in holders] == ["alice", "bob"]
        assert holders[0] is members.find(s, "console", user_id="alice")
