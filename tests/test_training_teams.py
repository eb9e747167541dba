"""What issue 21 still missed, as the team meets it: teams (kept in the core, managed by
admins with `/team`, members named by platform id) and the training report's attendance per
team; the first-Monday quarterly message naming the organisers; and the training's follow-up
actions as action items, marked done with `/action done` like a meeting's."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import select

from bot import teams
from bot.models import AuditEntry, Team
from handlers.meetings.models import ActionItem
from schedules.models import Reminder, Status
from schedules.scheduler import ReminderScheduler
from tests.support import Chat, build_app, recording_adapters, run_due
from tests.test_training import _plan, _team


def _team_rows(app) -> dict[str, list[str]]:  # noqa: ANN001
    with app.db.session() as s:
        return {t.name: [m.user_id for m in teams.members_of(s, t)]
                for t in teams.all_teams(s)}


# -- teams -----------------------------------------------------------------------------------


def test_admins_put_members_in_teams(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    assert "已新建团队 公关部。已把 bob、carol 加入团队 公关部。" in admin(
        "/team add 公关部 @bob @carol")
    assert "bob 已在团队 公关部 中,无需改动" in admin("/团队 添加 公关部 @bob")
    assert "已把 admin 加入团队 客服部" in admin("/team add 客服部 我")
    assert _team_rows(app) == {"公关部": ["bob", "carol"], "客服部": ["admin"]}
    assert bob("/whoami").endswith("团队:公关部")
    with app.db.session() as s:  # who changed which team, by platform id
        audit = s.exec(select(AuditEntry).where(AuditEntry.record_type == "team")
                       .order_by(AuditEntry.id)).all()
        assert [(a.record_id, a.action, a.changes.get("members")) for a in audit][:3] == [
            ("公关部", "create", None), ("公关部", "add", ["console:bob", "console:carol"]),
            ("客服部", "create", None)]
    listed = admin("/team list")
    assert "• 公关部:bob、carol" in listed and "• 客服部:admin" in listed
    # The same name, otherwise written, is the same team.
    assert "已在团队 公关部 中" in admin("/team add ＰＲ部 @bob".replace("ＰＲ部", "公关部"))
    assert "已在团队 PR 中" not in admin("/team add PR @bob")
    assert "bob 已在团队 PR 中" in admin("/team add pr @bob")

    assert "团队 公关部 的时区设为 Europe/Berlin" in admin("/team tz 公关部 Europe/Berlin")
    assert "• 公关部(Europe/Berlin):bob、carol" in admin("/team list")
    with app.db.session() as s:  # what figures per team read their times in
        assert teams.zone_of(teams.find(s, "公关部"), app.settings.zone).key == "Europe/Berlin"
        assert teams.zone_of(teams.find(s, "客服部"), app.settings.zone).key == "Asia/Shanghai"
    assert "使用默认时区 Asia/Shanghai" in admin("/team tz 公关部 off")
    assert "已把 carol 移出团队 公关部" in admin("/team remove 公关部 @carol")
    assert "carol 不在团队 公关部 中" in admin("/team remove 公关部 @carol")
    assert "已删除团队 PR(原有 1 名成员" in admin("/team delete PR")
    assert _team_rows(app) == {"公关部": ["bob"], "客服部": ["admin"]}


def test_bad_team_commands_change_nothing(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    assert "你没有权限" in bob("/team add 公关部 @bob")
    assert "用法:/team add 团队名 @成员" in admin("/team add")
    assert "用法:/team add 团队名 @成员" in admin("/team add 公关部")
    assert "用法:/team add 团队名 @成员" in admin("/team add @bob")
    # A name typed without its @ is refused, not silently left out; nothing is half-written.
    assert "请 @ 一位成员" in admin("/team add 公关部 @bob carol")
    assert "我还不认识 @dave" in admin("/team add 公关部 @bob @dave")
    assert _team_rows(app) == {}
    assert "团队名最多 64 个字符" in admin("/team add " + "长" * 65 + " @bob")
    assert "没有名为 “销售部” 的团队" in admin("/team remove 销售部 @bob")
    admin("/team add 公关部 @bob")
    assert "现有团队:公关部" in admin("/team tz 销售部 Asia/Tokyo")
    assert "没有 “Mars/Base” 这个时区" in admin("/team tz 公关部 Mars/Base")
    assert "/team list — 各团队及其成员、时区" in bob("/help team")
    assert "/team add" not in bob("/help team")  # admins only
    # User text stays text: a would-be broadcast is shown as typed, never as markup.
    assert "<!channel>" not in admin("/team list")
    with app.db.session() as s:
        assert s.exec(select(Team)).all()[0].timezone is None


def test_team_members_are_told_apart_by_their_platform_id(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path, admins="dingtalk:manager")
    for user in ("zw1", "zw2"):
        Chat(app, user, platform="dingtalk", channel=f"dm:{user}", name="张伟")("/whoami")
    manager = Chat(app, "manager", platform="dingtalk", channel="G1", direct=False, name="王经理")
    # DingTalk sends the id of the person picked from the @ list.
    assert "已把 张伟 加入团队 公关部" in manager("/team add 公关部 @张伟", mentions=("zw2",))
    assert _team_rows(app) == {"公关部": ["zw2"]}
    out = manager("/team add 公关部 @张伟")  # typed: both listed, nothing changed
    assert "有 2 位成员都叫 @张伟,我没有改动任何内容" in out
    assert _team_rows(app) == {"公关部": ["zw2"]}
    # Slack's markup carries the ids; the same name on two platforms is two people.
    app.settings.admins = "dingtalk:manager,slack:UADMIN"
    for user in ("UZW", "UCAROL"):
        Chat(app, user, platform="slack", channel=f"D{user}", name="张伟")("/whoami")
    slack = Chat(app, "UADMIN", platform="slack", channel="CPR", direct=False, name="Ann")
    assert "已把 张伟、张伟 加入团队 公关部" in slack("/team add 公关部 <@UZW> <@UCAROL|张伟>")
    assert _team_rows(app) == {"公关部": ["zw2", "UZW", "UCAROL"]}


def test_whoami_names_only_ones_own_teams_by_name(db_url, tmp_path, clock):
    """/whoami reads the asker's memberships (teams.team_names_of), as teams_by_person lists
    them: by name, nobody else's, and not those of the same id on another platform."""
    app, admin, bob, carol = _team(db_url, tmp_path)
    admin("/team add 客服部 @bob")
    admin("/team add 公关部 @bob @carol")
    admin("/team add 法务部 @carol")
    Chat(app, "bob", platform="slack", channel="Dbob")("/whoami")
    with app.db.session() as s:
        by_person = teams.teams_by_person(s)
        assert teams.team_names_of(s, "console", "bob") == by_person[("console", "bob")]
        assert teams.team_names_of(s, "slack", "bob") == []
    assert bob("/whoami").endswith("团队:" + "、".join(by_person[("console", "bob")]))
    assert len(by_person[("console", "bob")]) == 2


def test_teams_in_english(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    admin("/lang en")
    assert "Team PR created. Added bob, carol to team PR." in admin("/team add PR @bob @carol")
    assert "bob was already in team PR; nothing changed for them." in admin("/team add PR @bob")
    assert "• PR: bob, carol" in admin("/team list")
    bob("/lang en")
    assert bob("/whoami").endswith("Teams: PR")
    assert "Team PR now uses the time zone Europe/London" in admin("/team tz PR Europe/London")
    assert "There is no team called “Sales”. Teams: PR. Nothing was changed." in admin(
        "/team remove Sales @bob")
    assert "Removed carol from team PR." in admin("/team remove PR @carol")
    assert "Usage: /team add NAME @member" in admin("/team add PR")
    assert "Team PR deleted (it had 1 member;" in admin("/team delete pr")
    assert "There are no teams yet" in admin("/team list")


# -- attendance per team ---------------------------------------------------------------------


def _held_with_teams(db_url, tmp_path, clock):  # noqa: ANN001, ANN202
    app, admin, bob, carol = _team(db_url, tmp_path)
    dave = Chat(app, "dave")
    dave("/whoami")
    _plan(admin)
    admin("/team add 公关部 @bob @carol")
    admin("/team add 客服部 @dave")
    clock.move_to(datetime(2027, 1, 20, 6, 30, tzinfo=UTC))
    bob("/training attend T-2027-0001")
    dave("/training attend T-2027-0001")  # came without an invitation
    return app, admin, bob, carol, dave


def test_the_report_shows_attendance_per_team(db_url, tmp_path, clock):
    app, admin, bob, carol, dave = _held_with_teams(db_url, tmp_path, clock)
    report = admin("/training report 2027")
    assert "按团队:\n公关部(2 人):出席 1/2 人次(50%)\n客服部(1 人):出席 1/1 人次(100%)" \
        in report
    # A second session: only carol of 公关部 comes.
    clock.move_to(datetime(2027, 1, 21, 2, 0, tzinfo=UTC))
    admin("/training plan")
    for line in ("2027-04-15 14:00", "线上会议", "@bob", "1", "跳过", "@bob, @carol", "确认"):
        admin(line)
    clock.move_to(datetime(2027, 4, 15, 6, 10, tzinfo=UTC))
    carol("/training attend T-2027-0002")
    report = admin("/training report")
    assert "公关部(2 人):出席 2/4 人次(50%)" in report
    assert "客服部(1 人):出席 1/2 人次(50%)" in report


def test_without_teams_the_report_says_how_to_get_them(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    _plan(admin)
    clock.move_to(datetime(2027, 1, 20, 6, 30, tzinfo=UTC))
    report = admin("/training report 2027")
    assert "用 /team add 团队名 @成员 设置团队后,这里会按团队统计出席情况" in report
    assert "按团队:" not in report


def test_attendance_per_team_in_english(db_url, tmp_path, clock):
    app, admin, bob, carol, dave = _held_with_teams(db_url, tmp_path, clock)
    admin("/lang en")
    report = admin("/training report 2027")
    assert "By team:\n公关部 (2 members): 1 of 2 possible attendances (50%)\n" \
        "客服部 (1 member): 1 of 1 possible attendances (100%)" in report


# -- the quarterly message names the organisers ----------------------------------------------


def _quarterly(app):  # noqa: ANN001, ANN202
    ReminderScheduler(app, recording_adapters()).plan_training()
    return [o for o in run_due(app) if o.message.title.startswith(("本季度", "This quarter"))]


def test_the_quarterly_call_to_plan_names_the_trainers(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    admin("/role grant @bob trainer")
    admin("/role grant @carol trainer")
    sent = _quarterly(app)
    assert [o.address.channel for o in sent] == ["C-TRAIN"]
    assert sent[0].message.title == "本季度外部沟通培训(2026-Q4)尚未安排"
    assert sent[0].message.body.startswith("@bob @carol:请安排本季度的培训。")
    assert "/training plan 2026-Q4" in sent[0].message.text


def test_without_trainers_the_admins_are_named(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    sent = _quarterly(app)
    # LIAISON_ADMINS names console:admin and slack:UADMIN; the console channel names its own.
    assert sent[0].message.body.startswith("@admin:请安排本季度的培训。")
    assert "UADMIN" not in sent[0].message.text


def test_each_platform_names_its_own_organisers(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    Chat(app, "UADMIN", platform="slack", channel="CTRAIN", direct=False,
         name="Ann")("/route training here")
    admin("/role grant @bob trainer")
    sent = {o.address.platform: o.message.body for o in _quarterly(app)}
    assert sent["console"].startswith("@bob:请安排本季度的培训。")
    # No trainer on Slack: its admin is mentioned for real there, and no console name leaks.
    assert sent["slack"].startswith("<@UADMIN>:请安排本季度的培训。")
    assert "bob" not in sent["slack"]


def test_a_planned_quarter_is_announced_without_the_call(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    _plan(admin)
    clock.move_to(datetime(2027, 1, 4, 2, 0, tzinfo=UTC))
    sent = _quarterly(app)
    assert sent[0].message.title == "本季度外部沟通培训(2027-Q1):T-2027-0001"
    assert "请安排" not in sent[0].message.text


def test_the_quarterly_call_in_english(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    admin("/role grant @bob trainer")
    app.settings.default_locale = "en"
    sent = _quarterly(app)
    assert sent[0].message.title == \
        "This quarter's communication training (2026-Q4) is not planned yet"
    assert sent[0].message.body.startswith("@bob: please plan this quarter's training.")


# -- follow-up actions are action items ------------------------------------------------------


def _logged(db_url, tmp_path, clock):  # noqa: ANN001, ANN202
    app, admin, bob, carol = _team(db_url, tmp_path)
    _plan(admin)
    clock.move_to(datetime(2027, 1, 20, 8, 0, tzinfo=UTC))
    admin("/training log T-2027-0001")
    admin("讲解了召回说明的措辞问题。")
    admin("1")
    admin("整理召回口径 @bob 2027-01-27 17:00")
    admin("更新客服话术 @carol 2027-01-29 17:00")
    admin("完成")
    logged = admin("确认")
    return app, admin, bob, carol, logged


def test_follow_up_actions_are_marked_done_like_meeting_actions(db_url, tmp_path, clock):
    app, admin, bob, carol, logged = _logged(db_url, tmp_path, clock)
    assert "• A-2027-0001 整理召回口径 · 负责人 @bob · 截止 2027年1月27日 周三 17:00" in logged
    assert "• A-2027-0002 更新客服话术 · 负责人 @carol" in logged
    assert "完成后发送 /action done 编号" in logged
    mine = bob("/action list mine")
    assert "A-2027-0001 整理召回口径 · 负责人 @bob · 截止 2027年1月27日 周三 17:00 " \
        "(Asia/Shanghai) · 培训 T-2027-0001" in mine
    assert [c.value for c in bob.seen[-1].message.choices] == ["/action done A-2027-0001"]

    # A day before: the owner, as for a meeting's action item.
    clock.move_to(datetime(2027, 1, 26, 9, 0, tzinfo=UTC))
    sent = run_due(app)
    assert [(o.address.user, o.message.title) for o in sent] == [
        ("bob", "培训后续行动快到期了:整理召回口径")]
    assert "完成后发送 /action done A-2027-0001" in sent[0].message.text

    # Someone else's may not be marked done; the owner's may, and the organiser is told.
    assert "只有 A-2027-0001 的负责人、会议或培训的组织者、管理员可以修改它" in carol(
        "/action done A-2027-0001")
    out = bob.say("/action done A-2027-0001 口径已发给客服")
    assert "已完成:A-2027-0001 整理召回口径(备注:口径已发给客服)。相关提醒已取消。" in \
        out[0].message.text
    assert [(o.address.user, o.message.title) for o in out[1:]] == [("admin", "行动项已完成")]
    assert "bob 完成了 A-2027-0001 整理召回口径(培训 T-2027-0001)" in \
        out[1].message.text.replace("@bob", "bob")
    assert "已于" in bob("/action done A-2027-0001")  # done once
    clock.move_to(datetime(2027, 1, 28, 9, 0, tzinfo=UTC))
    sent = run_due(app)  # carol's is due tomorrow; nothing more for bob's
    assert [(o.address.user, o.message.title) for o in sent] == [
        ("carol", "培训后续行动快到期了:更新客服话术")]
    with app.db.session() as s:
        pending = s.exec(select(Reminder).where(Reminder.record_id == "A-2027-0001",
                                                Reminder.status == Status.PENDING)).all()
        assert pending == []

    # The training's organiser may close carol's too; her overdue ones then stop.
    clock.move_to(datetime(2027, 1, 29, 9, 30, tzinfo=UTC))
    sent = run_due(app)
    assert [(o.address.user, o.message.title) for o in sent] == [
        ("carol", "培训后续行动到期:更新客服话术")]
    assert "已完成:A-2027-0002" in admin("/action done A-2027-0002")
    with app.db.session() as s:
        items = s.exec(select(ActionItem).order_by(ActionItem.id)).all()
        assert [(i.ref, i.status, i.origin, i.origin_ref, i.meeting_id) for i in items] == [
            ("A-2027-0001", "done", "training", "T-2027-0001", None),
            ("A-2027-0002", "done", "training", "T-2027-0001", None)]


def test_an_overdue_follow_up_nags_daily_until_done(db_url, tmp_path, clock):
    app, admin, bob, carol, logged = _logged(db_url, tmp_path, clock)
    clock.move_to(datetime(2027, 1, 28, 9, 0, tzinfo=UTC))
    sent = [o for o in run_due(app) if o.address.user == "bob"]
    assert [o.message.title for o in sent] == ["培训后续行动已逾期:整理召回口径"]
    clock.move_to(datetime(2027, 1, 29, 9, 0, tzinfo=UTC))
    sent = [o for o in run_due(app) if o.address.user == "bob"]
    assert [o.message.title for o in sent] == ["培训后续行动已逾期:整理召回口径"]
    bob("/action done A-2027-0001")
    clock.move_to(datetime(2027, 1, 30, 9, 0, tzinfo=UTC))
    assert [o for o in run_due(app) if o.address.user == "bob"] == []


def test_follow_up_actions_in_english(db_url, tmp_path, clock):
    app, admin, bob, carol = _team(db_url, tmp_path)
    admin("/lang en")
    bob("/lang en")
    _plan_en(admin)
    clock.move_to(datetime(2027, 1, 20, 8, 0, tzinfo=UTC))
    admin("/training log T-2027-0001")
    admin("Walked through the recall wording.")
    admin("skip")
    admin("Rewrite the recall lines @bob 2027-01-27 17:00")
    admin("done")
    logged = admin("yes")
    assert "• A-2027-0001 Rewrite the recall lines · owner @bob" in logged
    assert "when done, send /action done ID" in logged
    assert "· training T-2027-0001" in bob("/action list mine")
    clock.move_to(datetime(2027, 1, 27, 9, 0, tzinfo=UTC))
    sent = run_due(app)
    assert [(o.address.user, o.message.title) for o in sent] == [
        ("bob", "Training follow-up due: Rewrite the recall lines")]
    out = bob.say("/action done A-2027-0001")
    assert "A-2027-0001" in out[0].message.text
    assert [(o.address.user, o.message.title) for o in out[1:]] == [("admin", "Action item done")]
    assert "(training T-2027-0001)" in out[1].message.text


def _plan_en(admin: Chat) -> None:
    admin("/training plan 2027-Q1")
    for line in ("2027-01-20 14:00", "Room 301", "Prof. Wang", "language", "skip", "@bob",
                 "yes"):
        admin(line)


# -- storage ---------------------------------------------------------------------------------


def test_a_team_is_one_row_per_name_and_a_member_is_in_it_once(db_url, tmp_path, clock):
    """A second session naming the same team finds it, and adding a member already in it
    changes nothing (sequential, not a race: the unique constraints back both up)."""
    app, admin, bob, carol = _team(db_url, tmp_path)
    with app.db.session() as first, app.db.session() as second:
        from bot import members

        one, created_one = teams.ensure(first, "公关部", by="console:admin")
        bob_row = members.find(first, "console", user_id="bob")
        assert teams.add(first, one, bob_row, by="console:admin")
        first.commit()
        two, created_two = teams.ensure(second, "公关部", by="console:other")
        assert (created_one, created_two) == (True, False) and one.id == two.id
        bob_again = members.find(second, "console", user_id="bob")
        assert not teams.add(second, two, bob_again, by="console:other")
        second.commit()
    assert _team_rows(app) == {"公关部": ["bob"]}
    with app.db.session() as s:
        assert teams.teams_by_person(s) == {("console", "bob"): ["公关部"]}
