"""The core as a member meets it: help, language, zone, roles, routes, de-duplication, bad
input, and a failed write leaving nothing behind."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlmodel import func, select

from bot.messages import Reply
from bot.models import AuditEntry, ChannelRoute, InboundEvent, Member, MemberRole
from tests.support import Chat, build_app


def _count(app, model) -> int:  # noqa: ANN001
    with app.db.session() as s:
        return s.exec(select(func.count()).select_from(model)).one()


@pytest.mark.sqlite_only
def test_help_is_in_my_language_and_shows_only_what_i_may_use(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice, admin = Chat(app, "alice"), Chat(app, "admin")
    zh = alice("/help")
    assert "Liaison 可用命令" in zh and "/whoami" in zh
    assert "/role grant" not in zh  # admins only
    assert "/role grant" in admin("/help")
    alice("/lang en")
    en = alice("帮助")  # Chinese alias, no slash
    assert "Liaison commands" in en and "/role grant" not in en
    assert "grant a role" not in alice("/help role")
    assert "/role list — who has which role" in alice("/help role")


@pytest.mark.sqlite_only
def test_unknown_commands_get_suggestions_in_my_language(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "没有 “/hlep” 这个命令" not in alice("/hlep")
    assert "你是不是想用:/help" in alice("/hlep")
    alice("/lang en")
    assert "Did you mean /whoami?" in alice("/whoam")
    assert "“role give” is not a command I know" in alice("/role give @bob agent")


def test_language_and_zone_are_mine_and_kept(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert "Done: I'll talk to you in English" in alice("/lang en")
    assert "There is no time zone “Mars/Base”" in alice("/tz Mars/Base")
    out = alice("/tz America/New_York")
    assert "Wed 25 Nov 2026, 21:00 (America/New_York)" in out
    assert "用法:/lang zh 或 /lang en" not in alice("/lang")
    assert "Usage: /lang zh or /lang en" in alice("/lang fr")
    with app.db.session() as s:
        me = s.exec(select(Member).where(Member.user_id == "alice")).one()
        assert (me.locale, me.timezone) == ("en", "America/New_York")
        actions = s.exec(select(AuditEntry.action).where(AuditEntry.record_type == "member"))
        assert sorted(actions.all()) == ["locale", "timezone"]


@pytest.mark.sqlite_only
def test_platform_locale_fills_gaps_but_my_choice_wins(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    slack = Chat(app, "U1", platform="slack", channel="D1")
    assert "Hello! I'm Liaison" in slack("", locale="en", timezone="Europe/London")
    slack("/lang zh")
    assert "你好" in slack("", locale="en")


def test_a_language_chosen_on_another_replica_is_not_overwritten_by_the_platforms(
        db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    here = Chat(app, "U1", platform="slack", channel="D1")
    here("/whoami")
    here("/whoami")  # U1, with no language yet, is now kept by this process
    # Another replica (another process: this one's caches do not hear of it) runs `/lang en`.
    other = create_engine(db_url)
    with other.begin() as conn:
        conn.execute(text("UPDATE member SET locale = 'en' WHERE user_id = 'U1'"))
    other.dispose()
    # Slack says U1's client is in Chinese; the copy kept here still has no language.
    assert "Language: English" in here("/whoami", locale="zh", timezone="Asia/Shanghai")
    with app.db.session() as s:
        me = s.exec(select(Member).where(Member.user_id == "U1")).one()
        assert (me.locale, me.timezone) == ("en", "Asia/Shanghai")  # the zone's gap filled


def test_only_admins_grant_roles(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice, bob, admin = Chat(app, "alice"), Chat(app, "bob"), Chat(app, "admin")
    bob("/whoami")
    out = alice("/role grant @bob approver")
    assert "没有权限" in out and "管理员" in out
    assert _count(app, MemberRole) == 0
    assert "已授予 bob 审批人角色" in admin("/role grant @bob approver")
    assert "bob 已经是审批人" in admin("/role grant @bob approver")
    assert "审批人" in bob("/whoami")
    assert "用法:/role grant" in admin("/role grant @bob king")
    assert "已撤销 bob 的审批人角色" in admin("/role revoke @bob approver")
    assert "审批人" not in bob("/whoami")


def test_a_role_granted_on_another_replica_counts_here_within_the_cache_bound(
        db_url, tmp_path, clock, monkeypatch):
    from bot import cache

    app, _ = build_app(db_url, tmp_path / "a")
    replica, _ = build_app(db_url, tmp_path / "b")  # another process on the same database
    bob = Chat(app, "bob")
    assert "审批人" not in bob("/whoami")  # bob and his roles are now kept by this process
    assert "已授予 bob 审批人角色" in Chat(replica, "admin")("/role grant @bob approver")
    later = cache._clock() + cache.TTL + 1
    monkeypatch.setattr(cache, "_clock", lambda: later)
    assert "审批人" in bob("/whoami")
    assert "已撤销 bob 的审批人角色" in Chat(app, "admin")("/role revoke @bob approver")
    assert "审批人" not in bob("/whoami")  # revoked here: at once


def test_two_members_of_one_name_are_told_apart_by_their_platform_id(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path, admins="dingtalk:manager")
    for user in ("zw1", "zw2"):
        Chat(app, user, platform="dingtalk", channel=f"dm:{user}", name="张伟")("/whoami")
    manager = Chat(app, "manager", platform="dingtalk", channel="G1", direct=False, name="王经理")

    # DingTalk sends the id of the person picked from the @ list (atUsers -> mentions).
    assert "已授予 张伟 审批人角色" in manager("/role grant @张伟 approver", mentions=("zw2",))
    assert _roles(app) == {("zw2", "approver")}

    # Typed, without an id: both are listed with their ids, and nothing changes.
    out = manager("/role grant @张伟 agent")
    assert "有 2 位成员都叫 @张伟,我没有改动任何内容" in out
    assert "张伟(ID:zw1)" in out and "张伟(ID:zw2)" in out
    assert _roles(app) == {("zw2", "approver")}
    assert "已授予 张伟 客服专员角色" in manager("/role grant @zw1 agent")
    assert _roles(app) == {("zw2", "approver"), ("zw1", "agent")}
    manager("/lang en")
    assert "2 members are called @张伟, so I changed nothing" in manager("/role revoke @张伟 agent")


def _roles(app) -> set[tuple[str, str]]:  # noqa: ANN001
    with app.db.session() as s:
        rows = s.exec(select(Member.user_id, MemberRole.role).join(
            MemberRole, MemberRole.member_id == Member.id)).all()
        return {(user, role) for user, role in rows}


def test_a_route_bound_on_another_replica_counts_here_within_the_cache_bound(
        db_url, tmp_path, clock, monkeypatch):
    from bot import cache
    from bot.routes import channel_of

    app, _ = build_app(db_url, tmp_path / "a")
    replica, _ = build_app(db_url, tmp_path / "b")
    with app.db.session() as s:
        assert channel_of(s, "complaints", "console") is None  # now kept by this process
    Chat(replica, "admin", channel="C1", direct=False)("/route complaints here")
    later = cache._clock() + cache.TTL + 1
    monkeypatch.setattr(cache, "_clock", lambda: later)
    with app.db.session() as s:
        assert channel_of(s, "complaints", "console") == "C1"
    Chat(app, "admin", channel="C1", direct=False)("/route complaints off")
    with app.db.session() as s:  # unbound here: at once
        assert channel_of(s, "complaints", "console") is None


def test_routes_bind_the_current_channel_admin_only(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice", channel="C1", direct=False)
    admin = Chat(app, "admin", platform="console", channel="C1", direct=False)
    assert "没有权限" in alice("/route complaints here")
    assert "这个频道现在是投诉频道" in admin("/route 投诉 here")
    assert "投诉频道 → 控制台 C1" in alice("/route list")
    assert "用法" in admin("/route nowhere here")
    assert "已解除投诉频道的绑定" in admin("/route complaints off")
    assert _count(app, ChannelRoute) == 0


def test_a_redelivered_event_is_acknowledged_and_ignored(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    assert alice("/lang en", event_id="Ev1")
    assert alice.say("/lang zh", event_id="Ev1") == []  # the same event again: nothing
    assert "Hello! I'm Liaison" in alice("")  # still English
    assert _count(app, InboundEvent) == 1


def test_bad_input_gets_a_clear_answer_and_stores_nothing(db_url, tmp_path, clock):
    app, saved = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    out = alice.say("/visit new who=" + "x" * 4000)
    assert len(out) == 1 and "消息太长了(4015 个字符)" in out[0].message.text
    assert out[0].address.ephemeral_to is None  # a DM: the whole conversation is private
    assert "引号好像没有配对" in alice('/visit new who="ACME')
    assert _count(app, Member) == 0  # not even the member was kept from failed messages
    alice("/lang en")
    assert "a quote seems to be unclosed" in alice('/visit new who="ACME')


def test_a_failed_write_rolls_back_everything_and_says_so(db_url, tmp_path, clock, caplog):
    app, _ = build_app(db_url, tmp_path)

    @app.registry.command("visit", "break")
    def broken(ctx, args):  # noqa: ANN001, ANN202
        ctx.audit("visit", "1", "create", {"who": "ACME"})
        ctx.session.add(Member(platform="console", user_id="alice"))  # duplicate key
        return Reply("test/saved", {"answers": {"who": "ACME"}})

    alice = Chat(app, "alice")
    alice("/whoami")
    out = alice("/visit break")
    assert "保存时出错了,这次的操作已全部撤回" in out and "已保存" not in out
    assert _count(app, AuditEntry) == 0
    assert "database error, change rolled back" in caplog.text


def test_channel_errors_are_private_to_the_asker(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice", platform="slack", channel="C1", direct=False)
    out = alice.say("/nope")
    assert out[0].address.ephemeral_to == "alice"


def test_housekeeping_forgets_old_event_ids_and_expired_conversations(db_url, tmp_path, clock):
    from datetime import UTC, datetime, timedelta

    from bot.models import Conversation

    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/visit new", event_id="E1")
    clock.shift(timedelta(days=8))
    app.purge(datetime.now(UTC))
    assert _count(app, InboundEvent) == 0 and _count(app, Conversation) == 0
    assert "alice" in alice("/whoami", event_id="E1")  # the id is free again


def test_a_failed_read_says_the_database_is_unavailable(db_url, tmp_path, clock, caplog):
    from sqlalchemy import create_engine

    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/lang en")
    healthy = app.db.engine
    # Nothing listens on port 1: every statement fails to connect, as in an outage.
    app.db.engine = create_engine("postgresql+psycopg://x@127.0.0.1:1/x",
                                  connect_args={"connect_timeout": 1})
    try:
        out = alice("/whoami")
    finally:
        app.db.engine.dispose()
        app.db.engine = healthy
    assert "数据库暂时无法访问" in out and "撤回" not in out  # the default locale: not read
    assert "database unavailable" in caplog.text and "Traceback" not in caplog.text


def test_a_second_yes_to_a_saved_summary_says_already_saved(db_url, tmp_path, clock):
    from datetime import timedelta

    app, saved = build_app(db_url, tmp_path)
    Chat(app, "bob", name="bob")("/whoami")
    alice = Chat(app, "alice")
    alice("/visit new who=ACME kind=media score=3 owner=@bob")
    alice("明天下午3点")
    alice("跳过")
    assert "已保存拜访 ACME" in alice.say("yes", is_action=True)[0].message.text
    again = alice("yes", is_action=True)  # the Confirm button clicked twice
    assert "已经保存为 1" in again and len(saved) == 1
    clock.shift(timedelta(minutes=11))
    assert "没看懂" in alice("yes")
