"""Cross-cultural notes: when `/comm new` or `/meeting new` names an audience or partner
abroad, the summary adds one or two notes for that country; at home, none."""

from __future__ import annotations

from handlers.training.tips import regions_in
from tests.support import Chat, build_app


def test_countries_are_read_from_names_as_people_write_them():
    assert regions_in("丰田(日本)") == ["JP"]
    assert regions_in("ACME US Inc.") == ["US"]
    assert regions_in("Siemens Germany", "EU launch") == ["DE", "EU"]
    assert regions_in("USB 供应商") == [] and regions_in("新华社") == []


def test_a_meeting_with_a_japanese_partner(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice('/meeting new partner="丰田通商(日本)" title="季度合作回顾" start="12月1日下午3点"')
    for answer in ("跳过", "@alice", "回顾上季度", "完成", "跳过"):
        summary = alice(answer)
    summary = alice("跳过")
    assert "请确认会议安排" in summary
    assert "跨文化提示:\n• 日本:与日本伙伴沟通时,“这个有点难”往往就是拒绝" in summary


def test_a_communication_with_an_american_audience_in_english(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice("/lang en")
    alice('/comm new audience=media audience_name="Wall Street Journal (US)" '
          'topic="EV launch" goal=publish goal_text="coverage" channel=press_release')
    alice("skip")
    summary = alice("skip")
    assert "Cross-cultural notes:" in summary
    assert "• United States: American customers and media expect direct, short answers" in \
        summary
    assert summary.count("• United States:") == 2  # one or two notes, never more


def test_no_note_at_home(db_url, tmp_path, clock):
    app, _ = build_app(db_url, tmp_path)
    alice = Chat(app, "alice")
    alice('/comm new audience=media audience_name="新华社" topic="新品发布" goal=publish '
          'goal_text="三家媒体报道新品" channel=press_release')
    alice("跳过")
    summary = alice("跳过")
    assert "确认后记录为“已准备”" in summary and "跨文化提示" not in summary
