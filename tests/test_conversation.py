"""The conversation engine, driven like a chat: one question at a time, stored in the
database, with cancel / back / skip / status at every step and a confirmation at the end."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlmodel import select

from bot.models import AuditEntry, Conversation
from tests.support import Chat, build_app


def _start(db_url, tmp_path, **overrides):  # noqa: ANN001, ANN202
    app, saved = build_app(db_url, tmp_path, **overrides)
    Chat(app, "bob", name="bob")("/whoami")  # bob has talked to the bot, so he can be named
    return app, saved, Chat(app, "alice")


def test_a_flow_asks_one_question_at_a_time_and_saves_only_on_confirm(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    assert "拜访谁" in chat("/visit new")
    assert "对方是哪一类" in chat("ACME 公司")
    reply = chat.say("2")[0].message
    assert "重要程度" in reply.text
    assert "(3/6 · 可回复“跳过”" in reply.text
    assert "谁负责" in chat("4")
    assert "什么时候" in chat("@bob")
    assert "话题" in chat("明天下午3点")
    assert "共 2 项" in chat("价格\n交期")
    summary = chat.say("完成")[0].message
    assert summary.title == "请确认"
    assert "2026年11月27日 周五 15:00 (Asia/Shanghai)" in summary.body
    assert [c.value for c in summary.choices] == ["yes", "cancel"]
    assert saved == []
    assert "已保存拜访 ACME 公司" in chat("确认")
    assert saved == [{
        "who": "ACME 公司", "kind": "customer", "score": 4,
        "owner": {"platform": "console", "user_id": "bob", "name": "bob"},
        "at": "2026-11-27T07:00:00+00:00", "topics": ["价格", "交期"],
    }]
    with app.db.session() as s:
        assert s.exec(select(Conversation)).all() == []
        assert s.exec(select(AuditEntry).where(AuditEntry.record_type == "visit")).one().actor \
            == "console:alice"




def test_prefilled_values_are_not_asked_again(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    out = chat('/visit new who="ACME Ltd" kind=media')
    assert "重要程度" in out and "拜访谁" not in out
    chat("跳过")
    chat("我")
    chat("tomorrow 3pm")
    chat("done")
    assert "已保存" in chat("1")  # option 1 of the confirmation is "confirm"
    assert saved[0]["who"] == "ACME Ltd" and saved[0]["score"] is None
    assert saved[0]["topics"] == []


def test_a_bad_prefilled_value_is_asked_for_in_its_turn(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    out = chat("/visit new who=ACME kind=robot")
    assert "kind" in out and "请从选项中选择" in out  # said at once, with the reason
    assert out.endswith("对方是哪一类?")  # and asked in its turn, who=ACME kept
    chat("取消")
    out = chat("/visit new colour=red")  # an unknown field: nothing starts
    assert "没有 “colour” 这一项" in out
    with app.db.session() as s:
        assert s.exec(select(Conversation)).all() == []


def test_invalid_answers_are_asked_again_with_the_reason(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    chat("/visit new")
    out = chat("x" * 51)
    assert "太长了(51 个字符),最多 50 个字符" in out and "拜访谁" in out
    chat("ACME")
    out = chat("robot")
    assert "请从选项中选择一个:回复编号 1 到 2" in out and "对方是哪一类" in out
    chat("客户")  # the label in the member's language works too
    assert "1 到 5 之间" in chat("9")
    chat("5")
    assert "请 @ 一位成员" in chat("nobody here")
    assert "我还不认识 @carol" in chat("@carol")
    chat("@bob")
    assert "我读不懂时间 “下下下”" in chat("下下下")
    chat("2026-12-01 15:00")
    out = chat("ok\n" + "y" * 41)
    assert "太长了" in out
    assert "共 1 项" in chat("only this")  # the rejected message added nothing


def test_back_skip_status_and_cancel_work_at_every_step(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    assert "已经是第一步了" in chat("/visit new") + chat("上一步")
    chat("ACME")
    assert "拜访谁" in chat("back")  # back to the first question, its answer forgotten
    chat("Globex")
    assert "必填" in chat("skip")  # kind is required
    chat("媒体")
    assert "谁负责" in chat("跳过")  # score is optional
    assert "已完成 3/6 项" in chat("状态")
    assert "取消" in chat("取消") and saved == []
    assert "没有进行中的对话" in chat("cancel")


def test_confirmation_accepts_only_confirm_cancel_or_back(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    chat("/visit new who=ACME kind=media score=3 owner=me at=now")
    assert "请确认" in chat("done")
    assert "请回复“确认”保存" in chat("maybe")
    assert "话题" in chat("上一步")
    chat("完成")
    assert "已取消" in chat("否") and saved == []


def test_two_quick_answers_never_both_answer_one_question(db_url, tmp_path):
    """The second answer waits for the first's transaction (PostgreSQL: the row lock of the
    conversation's read; SQLite: the write lock), then answers the question after it."""
    app, _saved, chat = _start(db_url, tmp_path)
    chat("/visit new")
    answered, release = threading.Event(), threading.Event()
    answer = app.engine.answer

    def slow_first(ctx, conv, text):  # noqa: ANN001, ANN202
        replies = answer(ctx, conv, text)
        if text == "ACME 公司":  # written, not yet committed
            answered.set()
            release.wait(5)
        return replies

    app.engine.answer = slow_first
    first = threading.Thread(target=chat.say, args=("ACME 公司",))
    first.start()
    assert answered.wait(5)
    second = threading.Thread(target=chat.say, args=("2",))
    second.start()
    second.join(0.2)  # were it not to wait for the first's lock, it would be done by now
    assert second.is_alive()
    release.set()
    first.join(5)
    second.join(5)
    with app.db.session() as s:
        conv = s.exec(select(Conversation)).one()
        assert conv.history == ["who", "kind"] and conv.step == "score"
        assert conv.answers["who"] == "ACME 公司" and conv.answers["kind"] == "customer"


def test_a_conversation_survives_a_restart(db_url, tmp_path, clock):
    first, saved_first, chat = _start(db_url, tmp_path)
    chat("/visit new")
    chat("ACME")
    first.db.dispose()
    # A new process over the same database continues at the same step.
    second, saved_second = build_app(db_url, tmp_path / "second")
    chat2 = Chat(second, "alice")
    assert "重要程度" in chat2("媒体")
    chat2("3")
    chat2("我")
    chat2("明天上午10点")
    chat2("完成")
    assert "已保存拜访 ACME" in chat2("确认")
    assert saved_second[0]["who"] == "ACME" and saved_first == []


def test_an_inactive_conversation_expires(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path, conversation_timeout=timedelta(hours=2))
    chat("/visit new")
    clock.shift(timedelta(hours=1, minutes=59))
    assert "对方是哪一类" in chat("ACME")  # an answer renews the timeout
    clock.shift(timedelta(hours=2, minutes=1))
    out = chat("媒体")
    assert "已过期" in out and "没看懂" in out
    with app.db.session() as s:
        assert s.exec(select(Conversation)).all() == []


def test_a_step_the_database_refuses_is_rolled_back_and_asked_again(db_url, tmp_path, clock):
    # The step's read and write run on the driver's cursor (bot.db.Direct): a refusal there
    # must still say "rolled back" and leave the conversation where it was.
    app, saved, chat = _start(db_url, tmp_path)
    chat("/visit new")
    postgres = app.db.dialect == "postgresql"
    refuse = ([
        "CREATE FUNCTION refuse_step() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN RAISE EXCEPTION 'refused'; END $$",
        "CREATE TRIGGER refuse_step BEFORE UPDATE ON conversation "
        "FOR EACH ROW EXECUTE FUNCTION refuse_step()",
    ] if postgres else [
        "CREATE TRIGGER refuse_step BEFORE UPDATE ON conversation "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END",
    ])
    with app.db.engine.begin() as conn:
        for sql in refuse:
            conn.exec_driver_sql(sql)
    try:
        out = chat("ACME")
    finally:
        with app.db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_step" + (" ON conversation" if postgres
                                                               else ""))
            if postgres:
                conn.exec_driver_sql("DROP FUNCTION refuse_step()")
    assert "撤回" in out and "对方是哪一类" not in out
    status = chat("状态")
    assert "已完成 0/" in status and "拜访谁" in status  # nothing of the answer was kept
    assert "对方是哪一类" in chat("ACME")
    assert "已完成 1/" in chat("状态")


def test_conversations_are_per_user_and_channel(db_url, tmp_path, clock):
    app, saved, alice = _start(db_url, tmp_path)
    bob = Chat(app, "bob")
    alice("/visit new")
    assert "没看懂" in bob("ACME")  # bob has no conversation; alice's answer is hers
    alice_elsewhere = Chat(app, "alice", channel="C2", direct=False)
    assert "没看懂" in alice_elsewhere("ACME")
    assert "对方是哪一类" in alice("ACME")


def test_a_command_mid_flow_runs_and_the_flow_waits(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    chat("/visit new")
    assert "Asia/Shanghai" in chat("/tz")
    assert "对方是哪一类" in chat("ACME")
    assert "之前未完成的对话已放弃" in chat("/visit new")


def test_the_card_goes_to_the_bound_channel_or_the_user_is_told(db_url, tmp_path, clock):
    app, saved, chat = _start(db_url, tmp_path)
    chat("/visit new who=ACME kind=media score=1 owner=me at=now")
    out = chat.say("完成") and chat.say("确认")
    assert any("还没有频道绑定为投诉频道" in o.message.text for o in out)
    admin = Chat(app, "admin", channel="C-complaints", direct=False)
    assert "投诉频道" in admin("/route complaints here")
    chat("/visit new who=Globex kind=media score=1 owner=me at=now")
    chat("done")
    out = chat.say("confirm")
    card = [o for o in out if not o.address.in_reply]
    assert len(card) == 1
    assert card[0].address.channel == "C-complaints" and card[0].address.purpose == "complaints"
    assert card[0].message.body == "新拜访:Globex"


def test_a_hostile_customer_name_pings_nobody_anywhere(db_url, tmp_path, clock):
    app, saved = build_app(db_url, tmp_path)
    Chat(app, "UADMIN", platform="slack", channel="C-CMP", direct=False)(
        "/route complaints here")
    slack = Chat(app, "U1", platform="slack", channel="D1")
    slack("/visit new kind=media score=1 owner=me at=now")
    slack("<!channel> {{ 7*7 }} <@U999>")
    slack("done")
    out = slack.say("confirm")
    card = next(o for o in out if o.address.channel == "C-CMP")
    assert card.message.body == "新拜访:&lt;!channel&gt; {{ 7*7 }} &lt;@U999&gt;"
    assert saved[0]["who"] == "<!channel> {{ 7*7 }} <@U999>"  # stored as typed
